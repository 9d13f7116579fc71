"""One trainer for every app: training as an asyncio task, in chunks, that never blocks.

Why: in Pyodide's Web Worker there are no threads, so a long loop would freeze the page.
The Trainer runs a few steps (a *chunk*), hands their metrics to the app (which streams them
into Bokeh sources in one go), then ``await asyncio.sleep(0)`` so the browser can breathe.
The same code runs under ``panel serve`` (Tornado's asyncio loop), in Jupyter and in Pyodide.

Usage::

    from playground.training.trainer import Trainer, trainer_controls

    def step():                         # trains ONE batch, returns plain floats
        xb, yb = next(batches)
        loss = F.cross_entropy(model(Tensor(xb)), Tensor(yb))
        opt.zero_grad(); loss.backward(); opt.step()
        return {"loss": loss.item(), "samples": len(xb)}   # "samples" feeds samples/s

    def on_chunk(metrics):              # a list of the dicts above, one per step
        source.stream({"step": [...], "loss": [m["loss"] for m in metrics]}, rollover=2000)

    trainer = Trainer(step, chunk=5, on_chunk=on_chunk,
                      snapshot=lambda: model.state_dict(),      # taken after each good chunk
                      restore=model.load_state_dict,            # used when the loss blows up
                      on_reset=lambda seed: build(seed),        # Reset button: fresh model
                      steps_per_epoch=len(loader), max_steps=lambda: epochs * len(loader))
    trainer.start()        # schedules the asyncio task (applies a pending model change first)
    trainer.pause()        # stops after the current step; start() resumes
    trainer.step_once()    # one step now (pauses a run first); on_chunk gets [metrics]
    trainer.reset(seed=3)  # stops, calls on_reset(3), zeroes the counters
    trainer.queue(lambda: setattr(opt, "lr", 0.01), "learning rate 0.01")  # at next chunk
    trainer.needs_reset("model shape changed")   # say so instead of corrupting the run
    trainer.rebuild("dataset → xor")             # reset now if untrained, else needs_reset
    trainer.apply_pending()                      # "Apply (new model)": reset with the change
    await trainer.run()    # or run the loop yourself (tests); trainer.run_steps(n) is sync

    pn.Column(trainer_controls(trainer), ...)   # Train / Pause / Step / Reset / seed + progress
                                                # (playground/ui/trainer_controls.py)

State (``param`` parameters, so Panel can watch them): ``running``, ``status`` (plain text
for the learner), ``progress`` (dict: step, epoch, epoch_float, samples, samples_per_s,
elapsed_s, backend, backend_reason), ``error`` (last stop message or ""), ``seed``,
``pending_reset`` (the changes waiting for a new model, or "").

A diverging run stops, restores the last good snapshot and says so in ``status``, the same
way every time: a non-finite loss (``engine.NonFiniteLossError`` from ``loss.backward()``, or
a NaN/inf float in the metrics), or a finite ``"loss"`` whose median over the last ``window``
steps sits ``explode`` times above the run's first loss (Adam at a huge learning rate keeps
a finite loss of millions). No snapshot is taken while a loss of the window is above that
line, nor again before the step that diverged; the failed chunk never reaches ``on_chunk``;
``diverged`` says where it happened and which step the run went back to. Other exceptions from ``step_fn`` also stop
the run with their message (the traceback is kept in ``trainer.exception``).

A change that needs a new model while a run exists (``rebuild``) is kept in
``pending_reset``: ``apply_pending()`` (the "Apply (new model)" button) or ``start()``
(Train) applies it, i.e. resets, and Train then trains the new model.
"""
from __future__ import annotations

import asyncio
import math
import statistics
import time
from typing import Any, Callable

import param

from playground.ui.session import document_safe, locked, server_doc

try:
    from engine import NonFiniteLossError
except ImportError:  # pragma: no cover - the engine always ships with the playground
    class NonFiniteLossError(FloatingPointError):
        pass

APPLY_HINT = ("Apply (new model) or Train starts a new model with it (or press Reset); "
              "the current run is kept until then.")


def _backend_status() -> dict:
    try:
        from engine import backend
        return backend.status()
    except Exception as e:  # pragma: no cover - defensive: the UI must still render
        return {"backend": "numpy", "reason": f"backend status unavailable: {e}", "stats": {}}


def _value(x):
    """An int, or a callable returning one (so epochs can change mid-run)."""
    return x() if callable(x) else x


def _non_finite(metrics: dict) -> str | None:
    for k, v in metrics.items():
        if isinstance(v, float) and not math.isfinite(v):
            return k
    return None


class Trainer(param.Parameterized):
    """Run ``step_fn`` in chunks inside an asyncio task. See the module docstring."""

    running = param.Boolean(default=False, doc="True while the training task runs.")
    status = param.String(default="Ready: press Train.", doc="Plain-language state.")
    progress = param.Dict(default={}, doc="step, epoch, samples/s, backend and why.")
    error = param.String(default="", doc="Why the last run stopped, if it stopped badly.")
    seed = param.Integer(default=0, bounds=(0, None), doc="Seed passed to on_reset.")
    pending_reset = param.String(default="", doc="Set when a change needs Reset to apply.")

    def __init__(self, step_fn: Callable[[], dict], *, chunk: int = 5,
                 on_chunk: Callable[[list], Any] | None = None,
                 snapshot: Callable[[], Any] | None = None,
                 restore: Callable[[Any], Any] | None = None,
                 on_reset: Callable[[int], Any] | None = None,
                 on_finish: Callable[["Trainer"], Any] | None = None,
                 on_stop: Callable[["Trainer"], Any] | None = None,
                 steps_per_epoch: int | Callable[[], int] | None = None,
                 max_steps: int | Callable[[], int | None] | None = None,
                 chunk_seconds: float | None = 0.25, progress_every: float = 0.3,
                 server_gap: float = 0.04, seed: int = 0,
                 explode: float | None = 10.0, window: int = 10, **params):
        super().__init__(seed=seed, **params)
        self.step_fn = step_fn
        self.chunk = max(1, int(chunk))
        self.chunk_seconds = chunk_seconds
        self.progress_every = progress_every  # seconds between `progress` updates while running
        self.server_gap = server_gap  # idle seconds between chunks under `panel serve` (see run)
        self._progress_at = 0.0
        self.on_chunk, self.on_finish, self.on_stop = on_chunk, on_finish, on_stop
        self._snapshot_fn, self._restore_fn, self._on_reset = snapshot, restore, on_reset
        self.steps_per_epoch, self.max_steps = steps_per_epoch, max_steps
        self.exception: BaseException | None = None
        self.explode, self.window = explode, max(1, int(window))
        self.diverged: dict | None = None  # {"step": where it failed, "restored": step kept}
        self._task: asyncio.Task | None = None
        self._pause_requested = False
        self._queue: list[tuple[Callable[[], Any], str]] = []
        self._zero_counters()

    # -- counters ----------------------------------------------------------------------
    def _zero_counters(self):
        self.step = 0
        self.samples = 0
        self.train_seconds = 0.0
        self._rate = 0.0
        self._last_good = None
        self._last_good_step = 0
        self._epoch_hint = None
        self._first_loss = None  # the run's first loss: what "exploded" is measured against
        self._recent = []        # the last `window` losses
        self._last_good_recent = []
        self._last_good_samples = 0
        self._hold_until = 0     # no snapshot before this step (the last divergence)
        self.diverged = None
        self._update_progress()

    def _update_progress(self, epoch_hint=None):
        spe = _value(self.steps_per_epoch)
        epoch_float = (self.step / spe) if spe else (epoch_hint or 0.0)
        st = _backend_status()
        self.progress = {
            "step": self.step, "epoch": int(epoch_float), "epoch_float": epoch_float,
            "epoch_known": bool(spe) or epoch_hint is not None,  # a GAN has no epochs
            "max_steps": _value(self.max_steps), "samples": self.samples,
            "samples_per_s": self._rate, "elapsed_s": self.train_seconds,
            "backend": st.get("backend", "numpy"), "backend_reason": st.get("reason", ""),
        }

    @property
    def finished(self) -> bool:
        limit = _value(self.max_steps)
        return limit is not None and self.step >= limit

    # -- controls ----------------------------------------------------------------------
    def start(self):
        """Start (or resume) training as an asyncio task; returns the task."""
        if self.running and self._task is not None and not self._task.done():
            return self._task
        if self.pending_reset:  # Train with a change waiting: apply it (a new model), then train
            self.apply_pending()
        if self.finished:
            self.status = "Finished. Raise the epochs or press Reset to train again."
            return None
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # no loop running (plain script): the task waits for one
            loop = asyncio.get_event_loop()
        self._pause_requested = False
        self.running = True
        self.error, self.diverged = "", None
        self.status = "Training…"
        self._task = loop.create_task(self.run())
        return self._task

    def pause(self):
        """Stop after the current step; ``start()`` carries on from there."""
        if self.running:
            self._pause_requested = True

    def toggle(self):
        self.pause() if self.running else self.start()

    @document_safe
    def step_once(self) -> dict | None:
        """Train exactly one step now (pausing a run first); returns its metrics."""
        if self.running:
            self._stop_task()
            self._set_stopped("Paused.")
        if self.pending_reset:
            self.apply_pending()
        self._apply_queue()
        self.error, self.diverged = "", None
        if self._last_good is None:
            self._take_snapshot()
        out = self._run_chunk(1)
        if out is not None:
            self._update_progress(self._epoch_hint)  # the progress line names the same step
            self.status = f"Stepped: step {self.step}."
        return out[-1] if out else None

    @document_safe
    def reset(self, seed: int | None = None):
        """Stop, rebuild through ``on_reset(seed)`` and zero the counters."""
        if seed is not None:
            self.seed = int(seed)
        self._stop_task()
        self.running = False
        self._queue.clear()
        self.pending_reset = ""
        self.error = ""
        if self._on_reset is not None:
            self._on_reset(self.seed)
        self._zero_counters()
        self.status = "Ready: press Train."

    def queue(self, fn: Callable[[], Any], label: str = "change"):
        """Apply ``fn()`` between chunks: now if idle, else before the next chunk."""
        if self.running:
            self._queue.append((fn, label))
            self.status = f"Training… ({label}: applies at the next chunk)"
        else:
            fn()

    def needs_reset(self, why: str):
        """A change that cannot apply to the running model: pause, keep the run, and offer a
        new model (``apply_pending``: the Apply button, or Train)."""
        self.pause()
        reasons = [r for r in self.pending_reset.split("; ") if r]
        self.pending_reset = "; ".join(reasons + ([why] if why not in reasons else []))
        self.status = f"{self.pending_reset}: {APPLY_HINT}"

    def apply_pending(self):
        """Apply the changes waiting in ``pending_reset``: a new model (``reset``), same seed."""
        if self.pending_reset:
            applied = self.pending_reset
            self.reset()
            self.status = f"Applied: {applied}. Ready: press Train."

    def rebuild(self, why: str):
        """A change that needs a fresh model (new data, new architecture): rebuild now if
        nothing has been trained yet, else keep the run and ask for Reset (``needs_reset``)."""
        if self.step == 0 and not self.running:
            self.reset()
        else:
            self.needs_reset(why)

    # -- the loop ----------------------------------------------------------------------
    async def run(self, max_chunks: int | None = None):
        """The training loop (what ``start()`` schedules). Yields after every chunk."""
        self.running = True
        self._pause_requested = False
        if self._last_good is None:
            self._take_snapshot()
        chunks = 0
        try:
            while not self._pause_requested and not self.finished:
                if await locked(self._chunk_with_queue) is None:
                    return
                chunks += 1
                if max_chunks is not None and chunks >= max_chunks:
                    break
                await asyncio.sleep(self._gap())
            await locked(self._end_of_run)
        except asyncio.CancelledError:
            self.running = False
            raise
        except Exception as e:  # a failing callback (on_chunk, snapshot...): stop and say so
            self.exception = e
            await locked(self._set_stopped, f"Stopped by an error at step {self.step}: "
                          f"{type(e).__name__}: {e}", True)

    def _gap(self) -> float:
        """How long to leave the event loop to others between two chunks.

        Under `panel serve` the browser talks back after every chunk: every plot whose
        ``DataRange1d`` follows streamed data sends its new start/end, and clicks (Pause!)
        queue behind those. Tornado reads one websocket message at a time, and each needs
        the document lock and a few loop turns, so a bare ``sleep(0)`` lets about one
        message through per chunk: the backlog grows without bound, text and Pause lag
        ever further behind. A short idle gap drains it every time. (In Pyodide each
        message is its own JavaScript task, so ``sleep(0)`` is enough there.)"""
        return self.server_gap if server_doc() is not None else 0

    def _chunk_with_queue(self):
        if self._pause_requested:  # pressed while this chunk was waiting for its turn
            return []
        self._apply_queue()
        return self._run_chunk(self.chunk)

    def _end_of_run(self):
        if self.finished:
            self._set_stopped(f"Finished: {self.step} steps.")
            if self.on_finish is not None:
                self.on_finish(self)
        elif self.running:
            ask = f" {self.pending_reset}: {APPLY_HINT}" if self.pending_reset else ""
            self._set_stopped(f"Paused at step {self.step}.{ask}")

    def run_steps(self, n: int) -> list:
        """Synchronously train ``n`` steps in chunks (tests, scripts); returns all metrics."""
        self._apply_queue()
        self.error, self.diverged = "", None
        if self._last_good is None:
            self._take_snapshot()
        out = []
        while len(out) < n and not self.finished:
            got = self._run_chunk(min(self.chunk, n - len(out)))
            if got is None:
                break
            out.extend(got)
        return out

    def _run_chunk(self, n: int) -> list | None:
        """Run up to ``n`` steps; stream, snapshot. None when the run had to stop."""
        metrics, t0 = [], time.perf_counter()
        spe = _value(self.steps_per_epoch)
        for _ in range(n):
            if self.finished or (self._pause_requested and metrics):
                break
            try:
                m = dict(self.step_fn() or {})
            except NonFiniteLossError as e:
                self._diverged(str(e), metrics, t0)
                return None
            except Exception as e:  # a bug or bad input: stop cleanly, keep the message
                self.exception = e
                self._flush(metrics, t0)
                self._set_stopped(f"Stopped by an error at step {self.step + 1}: "
                                  f"{type(e).__name__}: {e}", error=True)
                return None
            bad = _non_finite(m)
            if bad is not None:
                self._diverged(f"{bad} became {m[bad]}", metrics, t0)
                return None
            why = self._exploded(m.get("loss"))
            if why:
                self._diverged(why, metrics, t0, finite=True)
                return None
            self.step += 1
            self.samples += int(m.get("samples", 0))
            m.setdefault("step", self.step)
            if spe:
                m.setdefault("epoch", self.step / spe)
            metrics.append(m)
            if self.chunk_seconds and time.perf_counter() - t0 > self.chunk_seconds:
                break
        self._flush(metrics, t0)
        if self._settled():  # weights on their way up are no place to come back to
            self._take_snapshot()
        return metrics

    def _flush(self, metrics, t0):
        dt = time.perf_counter() - t0
        self.train_seconds += dt
        n = sum(int(m.get("samples", 0)) for m in metrics)
        if dt > 0 and n:
            rate = n / dt
            self._rate = rate if self._rate == 0 else 0.7 * self._rate + 0.3 * rate
        now = time.perf_counter()
        if metrics:  # the step function's own epoch count, when it keeps one
            self._epoch_hint = metrics[-1].get("epoch")
        if now - self._progress_at >= self.progress_every or self.finished:
            self._progress_at = now
            self._update_progress(self._epoch_hint)
        if metrics and self.on_chunk is not None:
            self.on_chunk(metrics)

    def _exploded(self, loss) -> str | None:
        """Why the run counts as diverged although its loss is finite, or None."""
        if self.explode is None or not isinstance(loss, (int, float)):
            return None
        if self._first_loss is None:
            self._first_loss = abs(float(loss))
        self._recent = (self._recent + [float(loss)])[-self.window:]
        typical = statistics.median(self._recent)
        if len(self._recent) < self.window or typical <= self.explode * self._first_loss or not self._first_loss:
            return None
        return (f"its median over the last {self.window} steps is {typical:.3g}, "
                f"{typical / self._first_loss:.3g}× the first loss {self._first_loss:.3g}")

    def _settled(self) -> bool:
        """May this point be the one a divergence goes back to? Not while a loss of the
        window is above the `explode` line, nor before the step that last diverged: where
        a chunk ends depends on the clock, and the next divergence must go back to the
        same step as the last one."""
        if self.step < self._hold_until:
            return False
        return not (self.explode and self._first_loss and
                    max(self._recent, default=0) > self.explode * self._first_loss)

    def _diverged(self, why, metrics, t0, finite=False):
        """Stop, undo the steps since the last good snapshot, say why."""
        failed_at = self.step + 1
        restored = ""
        if self._restore_fn is not None and self._last_good is not None:
            self.train_seconds += time.perf_counter() - t0
            self.samples = self._last_good_samples
            self._restore_fn(self._last_good)
            self.step, self._recent = self._last_good_step, list(self._last_good_recent)
            restored = f" Restored the last good weights (step {self._last_good_step})."
        else:  # nothing to go back to: the good steps of this chunk still count
            self._flush(metrics, t0)
        self.diverged = {"step": failed_at, "restored": self.step}
        self._hold_until = max(self._hold_until, failed_at)
        what = (f"the loss exploded at step {failed_at} ({why})" if finite else
                f"the loss is not a finite number at step {failed_at} ({why.split(':')[0]})")
        self._set_stopped(f"Stopped: {what}. Training diverged — try a lower learning rate "
                          f"(e.g. 10× smaller) or gradient clipping.{restored}", error=True)

    def _take_snapshot(self):
        if self._snapshot_fn is not None:
            self._last_good = self._snapshot_fn()
            self._last_good_step, self._last_good_recent = self.step, list(self._recent)
            self._last_good_samples = self.samples

    def _apply_queue(self):
        applied = []
        while self._queue:
            fn, label = self._queue.pop(0)
            fn()
            applied.append(label)
        if applied and self.running:  # replace "…: applies at the next chunk"
            self.status = f"Training… ({', '.join(applied)}: applied at step {self.step})"

    def stop(self):
        """Cancel the training task now (a closed browser tab); ``start()`` carries on later."""
        self._stop_task()
        self.running = False

    def _stop_task(self):
        task, self._task = self._task, None
        if task is not None and not task.done():
            try:
                current = asyncio.current_task()
            except RuntimeError:
                current = None
            if task is not current:
                task.cancel()
        self._pause_requested = False

    def _set_stopped(self, message: str, error: bool = False):
        self._update_progress(self._epoch_hint)
        self.running = False
        self._pause_requested = False
        self.status = message
        if error:
            self.error = message
        if self.on_stop is not None:
            self.on_stop(self)
