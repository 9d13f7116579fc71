"""One trainer for every app: training as an asyncio task, in chunks, that never blocks.

Why: in Pyodide's Web Worker there are no threads, so a long loop would freeze the page.
The Trainer runs a few steps (a *chunk*), hands their metrics to the app (which streams them
into Bokeh sources in one go), then ``await asyncio.sleep(0)`` so the browser can breathe.
The same code runs under ``panel serve`` (Tornado's asyncio loop), in Jupyter and in Pyodide.

Usage::

    from playground.training.trainer import Trainer

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
    trainer.rebuild("dataset → xor")  # reset now if untrained, else keep it in pending_reset
    await trainer.run()    # or run the loop yourself (tests); trainer.run_steps(n) is sync

The page's side is elsewhere: ``trainer_controls(trainer)`` (playground/ui/trainer_controls.py)
makes Train / Pause / Step / Reset, the seed and the progress line, and hands the trainer a
``session`` (playground/ui/session.py) that runs each chunk under `panel serve`'s document
lock; the default ``session`` just runs it (tests, scripts, Pyodide).

State (``param`` parameters, so Panel can watch them): ``running``, ``status`` (plain text
for the learner), ``progress`` (dict: step, epoch, epoch_float, samples, samples_per_s,
unit, elapsed_s, backend, backend_reason), ``error`` (last stop message or ""), ``seed``,
``pending_reset`` (the changes waiting for a new model, or "").

A diverging run stops, restores the last good snapshot and says so in ``status``, the same
way every time: a non-finite loss (``engine.NonFiniteLossError`` from ``loss.backward()``, or
a NaN/inf float in the metrics), or a finite loss that exploded (``guard.py`` says when, and
which points are safe to come back to); the failed chunk never reaches ``on_chunk``;
``diverged`` says where it happened and which step the run went back to. Other exceptions
from ``step_fn`` also stop the run with their message (the traceback is kept in
``trainer.exception``).

A change that needs a new model while a run exists (``rebuild``) is kept in
``pending_reset``: ``apply_pending()`` (the "Apply (new model)" button) or ``start()``
(Train) applies it, i.e. resets, and Train then trains the new model.
"""
from __future__ import annotations

import asyncio
import time
from typing import Any, Callable

import param

from engine import NonFiniteLossError
from playground.training.guard import Guard, stop_message
from playground.training.progress import progress, value

APPLY_HINT = ("Apply (new model) or Train starts a new model with it (or press Reset); "
              "the current run is kept until then.")


class Direct:
    """A Trainer's ``session`` with no document to keep in step: code just runs."""

    async def locked(self, fn, *args):
        return fn(*args)

    def call(self, fn, *args):
        return fn(*args)

    def serving(self) -> bool:
        return False


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
                 explode: float | None = 10.0, window: int = 10, unit: str = "samples",
                 limit: str = "the epochs", **params):
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
        self.unit, self.limit = unit, limit  # "1,234 samples/s"; "Finished. Raise the epochs..."
        self.exception: BaseException | None = None
        self.guard = Guard(explode, window)
        self.session = Direct()  # ui.session.Document under `panel serve` (see the docstring)
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
        self._epoch_hint = None
        self.guard.reset()
        self.diverged = None
        self.update_progress()

    def _clear_stop(self):
        """A new go: the last stop's error and divergence no longer apply."""
        self.error, self.diverged = "", None

    def update_progress(self):
        """Refresh ``progress`` now (e.g. when the run's length changed)."""
        self.progress = progress(self.step, self.samples, self._rate, self.train_seconds,
                                 value(self.steps_per_epoch), value(self.max_steps), self._epoch_hint,
                                 self.unit)

    @property
    def finished(self) -> bool:
        limit = value(self.max_steps)
        return limit is not None and self.step >= limit

    # -- controls ----------------------------------------------------------------------
    def start(self):
        """Start (or resume) training as an asyncio task; returns the task."""
        if self.running and self._task is not None and not self._task.done():
            return self._task
        if self.pending_reset:  # Train with a change waiting: apply it (a new model), then train
            self.apply_pending()
        if self.finished:
            self.status = f"Finished. Raise {self.limit} or press Reset to train again."
            return None
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # no loop running (plain script): the task waits for one
            loop = asyncio.get_event_loop()
        self._pause_requested = False
        self.running = True
        self._clear_stop()
        self.status = "Training…"
        self._task = loop.create_task(self.run())
        return self._task

    def pause(self):
        """Stop after the current step; ``start()`` carries on from there."""
        if self.running:
            self._pause_requested = True

    def toggle(self):
        self.pause() if self.running else self.start()

    def step_once(self) -> dict | None:
        """Train exactly one step now (pausing a run first); returns its metrics."""
        return self.session.call(self._step_once)

    def _step_once(self):
        if self.running:
            self._stop_task()
            self._set_stopped("Paused.")
        if self.pending_reset:
            self.apply_pending()
        self._apply_queue()
        self._clear_stop()
        if self.guard.good is None:
            self._take_snapshot()
        out = self._run_chunk(1)
        if out is not None:
            self.update_progress()  # the progress line names the same step
            self.status = f"Stepped: step {self.step}."
        return out[-1] if out else None

    def reset(self, seed: int | None = None):
        """Stop, rebuild through ``on_reset(seed)`` and zero the counters."""
        self.session.call(self._reset, seed)

    def _reset(self, seed):
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
        if self.guard.good is None:
            self._take_snapshot()
        chunks = 0
        try:
            while not self._pause_requested and not self.finished:
                if await self.session.locked(self._chunk_with_queue) is None:
                    return
                chunks += 1
                if max_chunks is not None and chunks >= max_chunks:
                    break
                await asyncio.sleep(self._gap())
            await self.session.locked(self._end_of_run)
        except asyncio.CancelledError:
            self.running = False
            raise
        except Exception as e:  # a failing callback (on_chunk, snapshot...): stop and say so
            self.exception = e
            await self.session.locked(self._set_stopped, f"Stopped by an error at step {self.step}: "
                          f"{type(e).__name__}: {e}", True)

    def _gap(self) -> float:
        """How long to leave the event loop to others between two chunks: ``server_gap``
        under a server (``ui.session.Document.serving`` says why), else nothing."""
        return self.server_gap if self.session.serving() else 0

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
        self._clear_stop()
        if self.guard.good is None:
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
        spe = value(self.steps_per_epoch)
        for _ in range(n):
            if self.finished or (self._pause_requested and metrics):
                break
            try:
                m = dict(self.step_fn() or {})
            except NonFiniteLossError as e:
                self._diverged(str(e), False, metrics, t0)
                return None
            except Exception as e:  # a bug or bad input: stop cleanly, keep the message
                self.exception = e
                self._flush(metrics, t0)
                self._set_stopped(f"Stopped by an error at step {self.step + 1}: "
                                  f"{type(e).__name__}: {e}", error=True)
                return None
            bad = self.guard.check(m)
            if bad:
                self._diverged(*bad, metrics, t0)
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
        if self.guard.settled(self.step):  # weights on their way up are no place to come back to
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
            self.update_progress()
        if metrics and self.on_chunk is not None:
            self.on_chunk(metrics)

    def _diverged(self, why, finite, metrics, t0):
        """Stop, undo the steps since the last good snapshot, say why."""
        failed_at, g = self.step + 1, self.guard
        restored = ""
        if self._restore_fn is not None and g.good is not None:
            self.train_seconds += time.perf_counter() - t0
            self.samples = g.good_samples
            self._restore_fn(g.good)
            self.step, g.recent = g.good_step, list(g.good_recent)
            restored = f" Restored the last good weights (step {g.good_step})."
        else:  # nothing to go back to: the good steps of this chunk still count
            self._flush(metrics, t0)
        self.diverged = {"step": failed_at, "restored": self.step}
        self.guard.hold(failed_at)
        self._set_stopped(stop_message(why, failed_at, finite, restored), error=True)

    def _take_snapshot(self):
        if self._snapshot_fn is not None:
            self.guard.keep(self._snapshot_fn(), self.step, self.samples)

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
        self.update_progress()
        self.running = False
        self._pause_requested = False
        self.status = message
        if error:
            self.error = message
        if self.on_stop is not None:
            self.on_stop(self)
