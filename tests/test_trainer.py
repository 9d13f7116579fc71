"""playground.trainer: chunked asyncio training, pause/step/reset, queued changes, and the
non-finite-loss stop that restores the last good weights."""
import asyncio
import math

import numpy as np
import pytest

import engine
from engine import nn, optim
from playground.trainer import Trainer, progress_text, trainer_controls


class Counter:
    """A fake 'model': a number that grows by lr each step; loss = 1/(1+w)."""

    def __init__(self):
        self.w, self.lr, self.calls = 0.0, 0.1, 0

    def step(self):
        self.calls += 1
        self.w += self.lr
        loss = 1 / (1 + self.w) if self.lr < 10 else float("nan")
        return {"loss": loss, "samples": 32}


def make(c=None, **kw):
    c = c or Counter()
    got = []
    t = Trainer(c.step, chunk=kw.pop("chunk", 5), on_chunk=got.append,
                snapshot=lambda: c.w, restore=lambda w: setattr(c, "w", w), **kw)
    return t, c, got


def test_start_runs_in_chunks_and_pause_stops():
    t, c, got = make(max_steps=1000, chunk_seconds=None)

    async def main():
        t.start()
        assert t.running
        for _ in range(3):
            await asyncio.sleep(0)
        t.pause()
        await t._task
    asyncio.run(main())
    assert not t.running and "Paused" in t.status
    assert all(len(m) == 5 for m in got) and t.step == 5 * len(got) > 0
    assert got[0][0]["step"] == 1 and got[-1][-1]["step"] == t.step
    assert t.progress["step"] == t.step and t.progress["samples"] == 32 * t.step


def test_runs_to_max_steps_and_calls_on_finish():
    finished = []
    t, c, got = make(max_steps=23, steps_per_epoch=10, on_finish=finished.append)
    asyncio.run(t.run())
    assert t.step == 23 and t.finished and finished == [t]
    assert "Finished" in t.status and not t.running
    assert t.progress["epoch"] == 2 and math.isclose(t.progress["epoch_float"], 2.3)
    assert t.start() is None and "Finished" in t.status  # nothing left to do


def test_max_steps_callable_can_grow():
    limit = {"n": 10}
    t, c, _ = make(max_steps=lambda: limit["n"])
    t.run_steps(50)
    assert t.step == 10
    limit["n"] = 15
    t.run_steps(50)
    assert t.step == 15


def test_step_once_and_reset():
    seeds = []
    t, c, got = make(on_reset=seeds.append)
    m = t.step_once()
    assert t.step == 1 and got == [[m]] and m["loss"] == pytest.approx(1 / 1.1)
    t.reset(seed=7)
    assert seeds == [7] and t.seed == 7 and t.step == 0 and t.progress["step"] == 0
    assert "Ready" in t.status


def test_queue_applies_between_chunks_when_running_now_when_idle():
    t, c, got = make(max_steps=100, chunk_seconds=None)
    t.queue(lambda: setattr(c, "lr", 0.5), "lr")
    assert c.lr == 0.5  # idle: at once

    async def main():
        t.start()
        await asyncio.sleep(0)           # one chunk ran
        t.queue(lambda: setattr(c, "lr", 0.25), "lr 0.25")
        assert c.lr == 0.5 and "next chunk" in t.status
        await asyncio.sleep(0)           # the next chunk applies it first
        assert c.lr == 0.25
        assert "next chunk" not in t.status and "lr 0.25: applied at step" in t.status
        t.pause()
        await t._task
    asyncio.run(main())


def test_rebuild_resets_an_untrained_run_and_asks_for_reset_otherwise():
    resets = []
    t, c, got = make(max_steps=100, chunk_seconds=None, on_reset=resets.append)
    t.rebuild("dataset → xor")           # nothing trained: rebuild at once
    assert resets == [0] and not t.pending_reset
    t.run_steps(5)
    t.rebuild("dataset → xor")
    t.rebuild("noise → 0.3")             # both reasons are kept, the run too
    assert resets == [0] and t.step == 5
    assert t.pending_reset == "dataset → xor; noise → 0.3" and "press Reset" in t.status
    assert t.start() is None and "Reset first" in t.status
    t.reset()
    assert resets == [0, 0] and not t.pending_reset and t.step == 0


def test_a_change_needing_reset_mid_run_says_so_after_the_pause():
    t, c, got = make(max_steps=1000, chunk_seconds=None)

    async def main():
        t.start()
        await asyncio.sleep(0)
        t.rebuild("width → 64")          # running: pause and ask, keep the run
        await t._task
    asyncio.run(main())
    assert not t.running and t.step > 0
    assert t.status.startswith("Paused at step") and "width → 64: press Reset" in t.status


def test_non_finite_metric_stops_and_restores_last_good():
    t, c, got = make(chunk=4)
    t.run_steps(8)                      # two good chunks: snapshot w = 0.8
    good = c.w
    c.lr = 100.0                        # the next step reports NaN
    t.run_steps(4)
    assert not t.running and t.error and "not a finite number" in t.status
    assert "lower learning rate" in t.status and "Restored" in t.status
    assert c.w == pytest.approx(good) and t.step == 8


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
def test_engine_nan_loss_keeps_last_good_weights():
    engine.manual_seed(0)
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(64, 20)).astype(np.float32), rng.integers(0, 3, 64)
    model = nn.Sequential(nn.Linear(20, 32), nn.ReLU(), nn.Linear(32, 3))
    opt = optim.SGD(model.parameters(), lr=0.01)

    def step():
        loss = nn.functional.cross_entropy(model(engine.Tensor(x)), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        return {"loss": loss.item(), "samples": len(x)}

    t = Trainer(step, chunk=3, snapshot=model.state_dict, restore=model.load_state_dict)
    t.run_steps(6)
    good = {k: v.copy() for k, v in model.state_dict().items()}
    opt.lr = 1e12                       # diverges within a few steps
    t.run_steps(60)
    assert t.error and "not a finite number" in t.error
    for k, v in model.state_dict().items():
        assert np.isfinite(v).all()
        np.testing.assert_array_equal(v, good[k])


def test_exception_in_step_stops_with_message():
    def step():
        raise ValueError("bad batch shape (3, 4)")
    t = Trainer(step)
    t.run_steps(3)
    assert not t.running and "ValueError: bad batch shape" in t.error
    assert isinstance(t.exception, ValueError)


def test_needs_reset_blocks_start_until_reset():
    t, c, _ = make()
    t.step_once()
    t.needs_reset("Model changed (layers → 3)")
    assert "Reset" in t.status and t.pending_reset
    assert t.start() is None and t.step_once() is None and t.step == 1
    t.reset()
    assert not t.pending_reset and t.step_once() is not None


def test_progress_reports_backend_and_speed():
    t, c, _ = make()
    t.run_steps(10)
    p = t.progress
    assert p["backend"] == engine.backend.status()["backend"] and p["backend_reason"]
    assert p["samples_per_s"] > 0
    text = progress_text(p)
    assert "samples/s" in text and "matmul" in text
    assert not text.startswith("epoch")  # no steps_per_epoch, no "epoch" in metrics: unknown


def test_progress_takes_the_epoch_from_the_metrics_when_it_has_no_steps_per_epoch():
    epoch = {"v": 0.0}

    def step():
        epoch["v"] += 0.25
        return {"loss": 1.0, "samples": 8, "epoch": epoch["v"]}
    t = Trainer(step, chunk=3, progress_every=0)
    t.run_steps(6)
    assert t.progress["epoch_float"] == 1.5 and progress_text(t.progress).startswith("epoch 1.50 · step 6")


def test_controls_drive_the_trainer():
    seeds = []
    t, c, got = make(on_reset=seeds.append, max_steps=100)
    ui = trainer_controls(t)
    ui.step_button.clicks += 1
    assert t.step == 1 and "step 1" in ui.info.object
    ui.seed_input.value = 3
    ui.reset_button.clicks += 1
    assert seeds == [3] and t.step == 0
    t.running = True                     # what start() sets: the button turns into Pause
    assert ui.train_button.label == "Pause"
    t.running = False
    assert ui.train_button.label == "Train"
    c.lr = 100.0
    ui.step_button.clicks += 1
    assert ui.status_alert.alert_type == "danger" and "finite" in ui.status_alert.object
