"""The trainer's controls for the apps: Train/Pause, Step, Reset, the seed, a progress bar,
the progress line with a short backend badge (its full reason one click away), the status,
and "Apply (new model)" while a change waits for a new model (``Trainer.apply_pending``).
"""
from __future__ import annotations

import html
from typing import TYPE_CHECKING

from playground.ui.session import Document, server_doc

if TYPE_CHECKING:  # the name only, for the annotations
    from playground.training.trainer import Trainer

__all__ = ["trainer_controls", "progress_text", "backend_badge"]


def progress_text(p: dict) -> str:
    """One line for the learner: epoch, step and speed (the backend: ``backend_badge``)."""
    if not p:
        return ""
    total = f"/{p['max_steps']}" if p.get("max_steps") else ""
    epoch = f"epoch {p.get('epoch_float', 0):.2f} · " if p.get("epoch_known", True) else ""
    rate = f"{p.get('samples_per_s', 0):,.0f} {p.get('unit', 'samples')}/s"
    return f"{epoch}step {p.get('step', 0)}{total} · {rate}"


FAST_PATHS = {"wasm": "WebAssembly SIMD", "webgpu": "WebGPU"}


def backend_badge(p: dict) -> tuple[str, str]:
    """(short badge, the backend's full reason): "fast path: WebAssembly SIMD", or
    "numpy" with the gist of why no faster backend runs."""
    name, reason = p.get("backend", "numpy"), p.get("backend_reason", "")
    if name in FAST_PATHS:
        return f"fast path: {FAST_PATHS[name]}", reason
    why = reason.removeprefix("default: numpy (").removeprefix("numpy: ")
    for stop in (" (", ": ", "; ", ")"):
        why = why.split(stop)[0]
    why = why if len(why) <= 48 else why[:47] + "…"
    return (f"{name} ({why})" if why else name), reason


def trainer_controls(trainer: Trainer, *, seed: bool = True, width: int | None = None):
    """Train/Pause, Step, Reset, seed, a progress bar and the status line, bound to ``trainer``
    (which from now on runs its chunks under the page's document lock: ``session.Document``)."""
    import panel as pn

    trainer.session = Document()

    train = pn.widgets.Button(label="Train", color="primary", width=90)
    step = pn.widgets.Button(label="Step", width=70)
    reset = pn.widgets.Button(label="Reset", color="warning", width=70)
    seed_in = pn.widgets.IntInput(label="Seed", value=trainer.seed, start=0, width=80)
    bar = pn.indicators.Progress(value=0, max=100, width=180, height=14, bar_color="primary",
                                 sizing_mode="fixed", align="center")
    info = pn.pane.Markdown("", styles={"font-size": "11px", "color": "#555"}, margin=(0, 5),
                            sizing_mode="stretch_width")
    # its own pane: it changes only with the backend, so an opened <details> stays open
    badge = pn.pane.HTML("", styles={"font-size": "11px", "color": "#555"}, margin=(0, 5),
                         sizing_mode="stretch_width")
    status = pn.pane.Alert(trainer.status, alert_type="light", margin=(4, 5), min_height=40,
                           sizing_mode="stretch_width")
    apply = pn.widgets.Button(label="Apply (new model)", color="warning", width=150,
                              visible=False, margin=(0, 5))

    def sync(*_):
        train.label = "Pause" if trainer.running else "Train"
        train.color = "default" if trainer.running else "primary"
        p = trainer.progress
        limit = p.get("max_steps")
        bar.value = int(min(100, 100 * p.get("step", 0) / limit)) if limit else (
            -1 if trainer.running else 0)
        info.object = progress_text(p)
        short, reason = backend_badge(p)
        badge.object = (f"<details class='descent-fastpath' title='{html.escape(reason, True)}'>"
                        f"<summary style='cursor:pointer'>{html.escape(short)}</summary>"
                        f"<div style='margin-left:1em'>{html.escape(reason)}</div></details>")
        status.object = trainer.status
        status.alert_type = "danger" if trainer.error else (
            "warning" if trainer.pending_reset else "light")
        apply.visible = bool(trainer.pending_reset)

    trainer.param.watch(sync, ["running", "progress", "status", "error", "pending_reset"])
    train.on_click(lambda e: trainer.toggle())
    step.on_click(lambda e: trainer.step_once())
    reset.on_click(lambda e: trainer.reset(seed=seed_in.value))
    apply.on_click(lambda e: trainer.apply_pending())
    sync()
    if server_doc() is not None:  # a closed browser tab: stop its training task
        pn.state.on_session_destroyed(lambda ctx: trainer.stop())
    col = pn.Column(pn.Row(train, step, reset), pn.Row(*([seed_in] if seed else []), bar),
                    info, badge, status, apply,
                    **({"width": width} if width else {"sizing_mode": "stretch_width"}))
    # handy for tests and apps that want to reach the widgets
    col.train_button, col.step_button, col.reset_button = train, step, reset
    col.seed_input, col.progress_bar, col.info, col.status_alert = seed_in, bar, info, status
    col.badge, col.apply_button = badge, apply
    return col
