"""playground.training.trainer: chunked asyncio training, pause/step/reset, queued changes, and the
non-finite-loss stop that restores the last good weights."""
import asyncio
import math

import numpy as np
import pytest

import engine
from engine import nn, optim
from playground.training.trainer import Trainer
from playground.ui.trainer_controls import backend_badge, progress_text, trainer_controls


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
    assert "Apply (new model)" in t.status
    t.apply_pending()                    # the Apply button: a new model, the same seed
    assert resets == [0, 0] and not t.pending_reset and t.step == 0
    assert t.status.startswith("Applied: dataset → xor; noise → 0.3.")
    t.apply_pending()                    # nothing pending: nothing happens
    assert resets == [0, 0]


def test_a_change_needing_reset_mid_run_says_so_after_the_pause():
    t, c, got = make(max_steps=1000, chunk_seconds=None)

    async def main():
        t.start()
        await asyncio.sleep(0)
        t.rebuild("width → 64")          # running: pause and ask, keep the run
        await t._task
    asyncio.run(main())
    assert not t.running and t.step > 0
    assert t.status.startswith("Paused at step") and "width → 64: Apply (new model)" in t.status and "press Reset" in t.status


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
    first = t.error
    for _ in range(2):                  # again and again: the same stop, the same weights
        t.run_steps(60)
        assert t.error == first and t.step == 6
        for k, v in model.state_dict().items():
            np.testing.assert_array_equal(v, good[k])


def test_exception_in_step_stops_with_message():
    def step():
        raise ValueError("bad batch shape (3, 4)")
    t = Trainer(step)
    t.run_steps(3)
    assert not t.running and "ValueError: bad batch shape" in t.error
    assert isinstance(t.exception, ValueError)


def test_train_with_a_pending_change_applies_it_and_trains_the_new_model():
    resets = []
    t, c, _ = make(on_reset=resets.append, max_steps=1000, chunk_seconds=None)
    t.step_once()
    t.needs_reset("Model changed (layers → 3)")
    assert "Reset" in t.status and t.pending_reset and t.step == 1

    async def main():
        task = t.start()                 # Train: applies the change (a reset), then trains
        assert task is not None and resets == [0] and not t.pending_reset
        await asyncio.sleep(0)
        t.pause()
        await task
    asyncio.run(main())
    assert t.step > 0 and t.status.startswith("Paused at step")
    t.needs_reset("width → 8")
    assert t.step_once() is not None and resets == [0, 0] and t.step == 1  # Step applies it too


def test_controls_offer_apply_while_a_change_waits():
    resets = []
    t, c, _ = make(on_reset=resets.append)
    ui = trainer_controls(t)
    assert not ui.apply_button.visible
    t.step_once()
    t.rebuild("model → CNN")
    assert ui.apply_button.visible and ui.status_alert.alert_type == "warning"
    ui.apply_button.clicks += 1
    assert resets == [0] and t.step == 0 and not ui.apply_button.visible
    assert "Applied: model → CNN" in ui.status_alert.object


def test_progress_reports_backend_and_speed():
    t, c, _ = make()
    t.run_steps(10)
    p = t.progress
    assert p["backend"] == engine.backend.status()["backend"] and p["backend_reason"]
    assert p["samples_per_s"] > 0
    text = progress_text(p)
    assert "samples/s" in text and p["backend_reason"] not in text  # the reason: one click away
    assert not text.startswith("epoch")  # no steps_per_epoch, no "epoch" in metrics: unknown
    ui = trainer_controls(t)
    assert backend_badge(p)[0] in ui.badge.object and "<details" in ui.badge.object


def test_progress_and_the_finished_message_name_the_apps_own_units():
    t, c, _ = make(max_steps=3, unit="tokens", limit="the iterations")
    asyncio.run(t.run())
    assert t.progress["unit"] == "tokens" and "tokens/s" in progress_text(t.progress)
    assert "samples" not in progress_text(t.progress)
    assert t.start() is None and t.status == "Finished. Raise the iterations or press Reset to train again."
    d, _, _ = make(max_steps=3)  # the default stays: samples, epochs
    asyncio.run(d.run())
    assert "samples/s" in progress_text(d.progress) and d.start() is None and "Raise the epochs" in d.status


def test_backend_badge_is_short_and_keeps_the_reason():
    wasm = "wasm (WebAssembly SIMD, zero-copy): products of >= 32768 multiply-adds (calibrated: 16³ numpy 5 µs / wasm 12 µs)"
    assert backend_badge({"backend": "wasm", "backend_reason": wasm}) == ("fast path: WebAssembly SIMD", wasm)
    assert backend_badge({"backend": "webgpu", "backend_reason": "webgpu on x"})[0] == "fast path: WebGPU"
    assert backend_badge({"backend": "numpy", "backend_reason": "default: numpy (no other backend selected)"})[0] \
        == "numpy (no other backend selected)"
    short, reason = backend_badge({"backend": "numpy", "backend_reason":
                                   "numpy: WebAssembly kernels unavailable: fetch failed (404)"})
    assert short == "numpy (WebAssembly kernels unavailable)" and reason.endswith("(404)")
    assert len(backend_badge({"backend": "numpy", "backend_reason": "numpy: " + "x" * 200})[0]) < 60


def test_step_once_shows_the_step_it_names_at_once():
    t, c, _ = make(progress_every=10.0)  # progress normally refreshes rarely
    for n in (1, 2, 3):
        t.step_once()
        assert t.status == f"Stepped: step {n}." and t.progress["step"] == n


class Exploding:
    """A fake model whose finite loss explodes once lr is large (Adam at lr 100: millions)."""

    def __init__(self):
        self.w, self.lr, self.seen = 0.0, 0.1, []

    def step(self):
        self.w += self.lr
        loss = 2.3 / (1 + self.w) if self.lr < 10 else 2.3 * 10 ** min(self.w, 30)
        self.seen.append(loss)
        return {"loss": loss, "samples": 8}


def test_a_finite_loss_that_explodes_stops_restores_and_undoes_the_chunk():
    c = Exploding()
    got = []
    t = Trainer(c.step, chunk=20, chunk_seconds=None, on_chunk=got.append,
                snapshot=lambda: c.w, restore=lambda w: setattr(c, "w", w))
    t.run_steps(40)
    good, shown = c.w, sum(len(m) for m in got)
    c.lr = 100.0
    msgs = []
    for _ in range(3):                   # a second and third divergence: exactly like the first
        t.run_steps(40)
        msgs.append(t.status)
        assert c.w == good and t.step == 40 and t.samples == 8 * 40
        assert sum(len(m) for m in got) == shown  # the exploded steps never reached the plots
    assert msgs[0] == msgs[1] == msgs[2], msgs
    assert msgs[0].startswith("Stopped: the loss exploded at step 45 (its median over the last 10")
    assert "Training diverged — try a lower learning rate" in msgs[0]
    assert msgs[0].endswith("Restored the last good weights (step 40).")
    assert t.error == msgs[0] and t.diverged == {"step": 45, "restored": 40}
    c.lr = 0.1                           # a sane rate trains on from the restored weights
    t.run_steps(10)
    assert t.step == 50 and not t.error


def test_short_chunks_take_no_snapshot_of_weights_on_their_way_up():
    """In the page chunks end on time, often before the window is full: a snapshot taken
    there would keep exploding weights, and the next run would fail elsewhere."""
    w = {"v": 0.0}

    def step():                          # the loss of the weights before this step's update
        loss = 2.3 * 10 ** min(w["v"], 30)
        w["v"] += 1.0
        return {"loss": loss, "samples": 4}
    t = Trainer(step, chunk=3, chunk_seconds=None, snapshot=lambda: w["v"],
                restore=lambda v: w.update(v=v))
    msgs = []
    for _ in range(3):
        t.run_steps(30)
        msgs.append(t.error)
        assert w["v"] == 0.0 and t.step == 0 and t.samples == 0
    assert msgs[0] == msgs[1] == msgs[2] and "Restored the last good weights (step 0)" in msgs[0]


def test_later_divergences_go_back_to_the_same_step_whatever_the_chunks():
    w = {"v": 0}

    def step():                          # five sane steps, then a loss of a million
        loss = 2.3 if w["v"] < 5 else 1e6
        w["v"] += 1
        return {"loss": loss, "samples": 1}
    t = Trainer(step, chunk=4, chunk_seconds=None, snapshot=lambda: w["v"],
                restore=lambda v: w.update(v=v))
    t.run_steps(30)
    first = t.error
    assert "exploded at step 10" in first and first.endswith("(step 4).")
    t.chunk = 1                          # the clock ends chunks elsewhere: step 5 looks fine
    t.run_steps(30)
    assert t.error == first and w["v"] == 4


def test_a_loss_that_stays_near_where_it_started_is_not_a_divergence():
    losses = iter([2.3, 2.5, 9.0, 30.0, 2.0] + [1.5, 20.0] * 30)  # spikes, but a sane median
    t = Trainer(lambda: {"loss": next(losses)}, chunk=7, chunk_seconds=None)
    t.run_steps(60)
    assert t.step == 60 and not t.error
    t = Trainer(lambda: {"loss": 5.0}, chunk=7, chunk_seconds=None, explode=None)
    t.guard.first_loss = 0.1             # off: never checked
    t.run_steps(20)
    assert not t.error


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
