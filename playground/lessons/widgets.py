"""Live widgets the lessons embed with ``{{ widget: NAME key=value ... }}``.

:data:`WIDGETS` maps each name to a builder and the keyword arguments it accepts. Every app of
``playground.apps.registry`` is one, built by the registry's function (a lesson may start five of
them at a chosen state, :data:`AT_STATE`); ``digits-draw`` is the digits app cut down to Train
and the drawing pad; three are small widgets of their own for lessons 2 and 8: ``line-fit``,
``backend`` and ``save-model``.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from importlib import import_module
from typing import Callable

import numpy as np

from playground.apps.registry import APPS

DIGITS_KEYS = {"model_kind", "layers", "width", "dropout", "activation", "optimizer", "lr",
               "batch_size", "epochs", "augment", "schedule", "seed"}
PLAYGROUND2D_KEYS = {"problem", "dataset", "noise", "ratio", "features", "hidden", "activations",
                     "dropout", "l1", "l2", "loss", "optimizer", "lr", "batch_size", "seed"}


@dataclass
class Widget:
    name: str
    build: Callable
    params: set = field(default_factory=set)
    blurb: str = ""


class NoLocation:
    """Stands in for ``pn.state.location`` so an embedded playground doesn't rewrite the lesson's URL."""

    def sync(self, *args, **kwargs):
        return None


def app_builder(app):
    """The registry's function that builds ``app`` (imported when first called)."""
    return getattr(import_module(app.module), app.func)


# ---------------------------------------------------------------- apps at a chosen state
# each takes the app's builder (app_builder) first, then the lesson's key=value arguments

def digits(build, **kw):
    return build(**kw)  # digits_app takes its starting state as keywords


def playground2d(build, **kw):
    layout = build(location=NoLocation())
    if kw:
        import param
        setup = layout.controls["setup"]
        kw = {k: str(v) if isinstance(setup.param[k], param.String) else v for k, v in kw.items()}
        setup.param.update(**kw)
    return layout


def autograd(build, expr=None):
    layout = build()
    if expr:
        layout.controls["expr"].value = expr
    return layout


def lines(build, max_lines=None):
    layout = build()
    if max_lines:
        layout.controls["max_lines"].value = int(max_lines)
    return layout


def names(build, model=None):
    layout = build()
    if model:
        layout.controls["kind"].value = model
        layout.controls["trainer"].reset()
    return layout


def gpt(build, pretrained=False):
    return build(pretrained=pretrained is True)  # {{ widget: gpt pretrained=true }}: sample first


# slug -> (setter, the arguments a lesson may give); an app not here is embedded as it opens
AT_STATE = {"digits": (digits, DIGITS_KEYS), "playground2d": (playground2d, PLAYGROUND2D_KEYS),
            "autograd": (autograd, {"expr"}), "lines": (lines, {"max_lines"}), "names": (names, {"model"}),
            "gpt": (gpt, {"pretrained"})}


def app_widget(app):
    setter, params = AT_STATE.get(app.slug, (lambda build: build(), set()))
    return Widget(app.slug, lambda **kw: setter(app_builder(app), **kw), params, app.title)


def digits_draw(**kw):
    """The top-down version: Train, the accuracy curve, the drawing pad and the model's guess."""
    import panel as pn
    from playground.apps.digits.app import DigitsApp
    app = DigitsApp(**kw)
    bk = pn.pane.Bokeh
    v, p = app.views, app.plots
    layout = pn.Column(v.controls, pn.Row(bk(p.loss_fig), bk(p.acc_fig)),
                       pn.Row(v.canvas, bk(p.prob_fig), bk(p.seen_fig)),
                       sizing_mode="stretch_width")
    layout.app = app
    return layout


# ---------------------------------------------------------------- lesson 2: fit a line

class LineFit:
    """Gradient descent on y ≈ w·x + b, one visible step at a time."""

    def __init__(self, lr=0.1, batch=0, seed=0, n=40):
        rng = np.random.default_rng(seed)
        self.x = rng.uniform(-1, 1, n)
        self.y = 2.0 * self.x - 0.5 + 0.25 * rng.normal(size=n)
        self.lr, self.batch, self.rng = lr, batch, np.random.default_rng(seed + 1)
        self.reset()

    def reset(self):
        self.w, self.b, self.steps = -1.0, 1.0, 0
        self.history = [self.loss()]

    def loss(self):
        return float(np.mean((self.w * self.x + self.b - self.y) ** 2))

    def step(self):
        idx = (self.rng.choice(len(self.x), self.batch, replace=False) if 0 < self.batch < len(self.x)
               else slice(None))
        x, y = self.x[idx], self.y[idx]
        r = self.w * x + self.b - y
        self.w -= self.lr * float(np.mean(2 * r * x))
        self.b -= self.lr * float(np.mean(2 * r))
        self.steps += 1
        loss = self.loss()
        self.history.append(loss if np.isfinite(loss) else float("nan"))
        return loss


def line_fit(lr=0.1, batch=0):
    import panel as pn
    from bokeh.models import ColumnDataSource
    from playground.ui.plots import figure

    fit = LineFit(lr=float(lr), batch=int(batch))
    lr_w = pn.widgets.Select(label="Learning rate", options=[0.01, 0.1, 0.5, 1.05], value=float(lr), width=130)
    batch_w = pn.widgets.Select(label="Points per step", options={"all 40 (full batch)": 0, "8 (mini-batch)": 8,
                                                                  "1 (pure SGD)": 1}, value=int(batch), width=170)
    step_b = pn.widgets.Button(label="Step", color="primary", width=80)
    run_b = pn.widgets.Button(label="20 steps", width=90)
    reset_b = pn.widgets.Button(label="Reset", width=80)
    info = pn.pane.Markdown("", margin=(0, 10))
    pts = ColumnDataSource(dict(x=fit.x, y=fit.y))
    line = ColumnDataSource(dict(x=[-1.2, 1.2], y=[0, 0]))
    curve = ColumnDataSource(dict(step=[], loss=[]))
    f1 = figure(width=330, height=260, toolbar_location=None, title="Data and the current line",
                x_range=(-1.2, 1.2), y_range=(-3.5, 2.5))
    f1.scatter("x", "y", source=pts, size=6, color="#4c72b0")
    f1.line("x", "y", source=line, color="#d62728", line_width=3)
    f2 = figure(width=330, height=260, toolbar_location=None, title="Loss (mean squared error)",
                x_axis_label="step", y_axis_type="log")
    f2.line("step", "loss", source=curve, color="#333", line_width=2)

    def redraw():
        line.data = dict(x=[-1.2, 1.2], y=[fit.b - 1.2 * fit.w, fit.b + 1.2 * fit.w])
        h = [min(v, 1e6) if np.isfinite(v) else 1e6 for v in fit.history]
        curve.data = dict(step=list(range(len(h))), loss=h)
        loss = fit.loss()
        note = ("" if np.isfinite(loss) and loss <= fit.history[0] else
                " — **diverging**: every step overshoots. Lower the learning rate and Reset.")
        info.object = f"step {fit.steps} · w = {fit.w:.3g}, b = {fit.b:.3g} · loss {loss:.4g}{note}"

    def do(n):
        for _ in range(n):
            fit.step()
        redraw()

    step_b.on_click(lambda e: do(1))
    run_b.on_click(lambda e: do(20))
    reset_b.on_click(lambda e: (fit.reset(), redraw()))
    lr_w.param.watch(lambda e: setattr(fit, "lr", float(e.new)), "value")
    batch_w.param.watch(lambda e: setattr(fit, "batch", int(e.new)), "value")
    redraw()
    layout = pn.Column(pn.Row(lr_w, batch_w, step_b, run_b, reset_b), info,
                       pn.Row(pn.pane.Bokeh(f1), pn.pane.Bokeh(f2)))
    layout.controls = dict(fit=fit, lr=lr_w, batch=batch_w, step=step_b, run=run_b, reset=reset_b, info=info)
    return layout


# ---------------------------------------------------------------- lesson 8: backends, saving

def matmul_benchmark(sizes=(64, 128, 256, 512), repeats=3):
    """GFLOP/s of engine.backend.matmul at n×n×n for each size (float32), and which backend ran."""
    from engine import backend
    rows = []
    for n in sizes:
        a = np.random.default_rng(n).standard_normal((n, n), dtype=np.float32)
        before = {k: v["calls"] for k, v in backend.status()["stats"].items()}
        best = float("inf")
        for _ in range(repeats):
            t = time.perf_counter()
            backend.matmul(a, a)
            best = min(best, time.perf_counter() - t)
        after = backend.status()["stats"]
        ran = [k for k, v in after.items() if v["calls"] > before.get(k, 0)]
        rows.append(dict(n=n, ms=best * 1e3, gflops=2 * n ** 3 / best / 1e9, backend="+".join(ran)))
    return rows


def backend_widget():
    import panel as pn
    from engine import backend
    status = pn.pane.Markdown("")
    table = pn.pane.Markdown("")
    go = pn.widgets.Button(label="Benchmark matmul on this machine", color="primary")

    def show_status():
        s = backend.status()
        calls = ", ".join(f"{k}: {v['calls']} calls, {v['seconds'] * 1e3:.0f} ms"
                          for k, v in s["stats"].items()) or "none yet"
        status.object = f"**Active backend: `{s['backend']}`** — {s['reason']}.  \nProducts so far: {calls}."

    def run(_=None):
        rows = matmul_benchmark()
        table.object = ("| n × n × n | time | GFLOP/s | ran on |\n|---:|---:|---:|:--|\n" +
                        "\n".join(f"| {r['n']} | {r['ms']:.2f} ms | {r['gflops']:.1f} | {r['backend']} |"
                                  for r in rows))
        show_status()

    go.on_click(run)
    show_status()
    layout = pn.Column(status, go, table)
    layout.controls = dict(run=run, table=table, status=status, button=go)
    return layout


def save_model_widget():
    from io import BytesIO

    import panel as pn
    from engine import io as eio
    from engine import nn
    from engine.tensor import Tensor

    def build():
        return nn.Sequential(nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 128), nn.ReLU(),
                             nn.Linear(128, 10))

    model = {"m": build()}
    out = pn.pane.Markdown("")
    save_b = pn.widgets.Button(label="Save, reload, time it", color="primary")

    def file_bytes():
        return eio.dumps(model["m"])

    def run(_=None):
        raw = file_bytes()
        t = time.perf_counter()
        loaded = eio.load(raw)
        t_load = time.perf_counter() - t
        x = Tensor(np.random.default_rng(0).random((1, 784), dtype=np.float32))
        loaded(x)
        t = time.perf_counter()
        for _ in range(20):
            loaded(x)
        per = (time.perf_counter() - t) / 20
        with np.load(BytesIO(raw), allow_pickle=False) as z:
            arrays = [(k, z[k].shape) for k in z.files if not k.startswith("__")]
        lines = "\n".join(f"| `{k}` | {tuple(s)} |" for k, s in arrays)
        out.object = (f"**File: {len(raw) / 1e3:.0f} kB** ({eio.FORMAT}: a zip of `.npy` arrays + the "
                      f"architecture as JSON, no pickle) · loaded in {t_load * 1e3:.1f} ms · "
                      f"inference {per * 1e3:.2f} ms per digit.\n\n| array | shape |\n|:--|:--|\n{lines}")
        return raw

    save_b.on_click(run)
    download = pn.widgets.FileDownload(callback=lambda: BytesIO(file_bytes()), filename="digits-mlp.npz",
                                       label="Download the file")
    layout = pn.Column(save_b, download, out)
    layout.controls = dict(run=run, out=out, model=model)
    return layout


WIDGETS: dict[str, Widget] = {w.name: w for w in [
    *map(app_widget, APPS),
    Widget("digits-draw", digits_draw, DIGITS_KEYS, "Train, then draw a digit."),
    Widget("line-fit", line_fit, {"lr", "batch"}, "Gradient descent on a line, step by step."),
    Widget("backend", backend_widget, set(), "Which matmul backend runs, and a benchmark."),
    Widget("save-model", save_model_widget, set(), "Save, reload and time a model file."),
]}


def build_widget(name, **kwargs):
    w = WIDGETS.get(name)
    if w is None:
        raise KeyError(f"unknown widget {name!r}; known: {sorted(WIDGETS)}")
    bad = set(kwargs) - w.params
    if bad:
        raise TypeError(f"widget {name!r} takes {sorted(w.params) or 'no arguments'}, not {sorted(bad)}")
    return w.build(**kwargs)
