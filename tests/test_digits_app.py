"""The Digits app's objects: every control changes what it should, a short run learns,
a diverging run stops and keeps its last good weights, bad model files are refused."""
import os
import subprocess
import sys

import numpy as np
import pytest

from engine import nn, optim
from engine import data as edata

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture(scope="module")
def mnist():
    if not edata.DEFAULT_MNIST_PATH.is_file() and not os.environ.get("DESCENT_MNIST"):
        r = subprocess.run([sys.executable, "-m", "engine.data", "build-mnist"], cwd=ROOT,
                           capture_output=True, text=True)
        if r.returncode:
            pytest.skip(f"MNIST npz missing and the build failed: {r.stderr[-300:]}")
    return edata.load_mnist()


@pytest.fixture(scope="module")
def small(mnist):
    """2,000 train / 500 held-out digits: enough to check wiring quickly."""
    (xtr, ytr), (xte, yte) = mnist
    return (xtr[:2000], ytr[:2000]), (xte[:500], yte[:500])


def tiny_app(data, **state):
    from playground.apps.digits.app import DigitsApp
    state = {"model_kind": "mlp", "layers": 1, "width": 32, "dropout": 0.0, "augment": False,
             **state}
    return DigitsApp(data=data, **state)


def weights(app):
    return {k: v.copy() for k, v in app.run.model.state_dict().items()}


def test_digits_app_returns_a_panel_object(small):
    import panel as pn
    from playground.apps.digits.app import digits_app
    view = digits_app(data=small, model_kind="softmax")
    assert isinstance(view, pn.viewable.Viewable)
    app = view.app
    assert app.run.model_kind == "softmax" and "784-10" in app.views.model_info.object
    assert "KB on disk" in app.views.model_info.object and "ms per digit" in app.views.model_info.object


def test_model_controls_rebuild_the_model(small):
    app = tiny_app(small)
    from playground.apps.digits.run import describe
    assert describe(app.run.model) == "784-32-10"
    app.run.layers = 2
    assert describe(app.run.model) == "784-32-16-10"
    app.run.width = 64
    assert describe(app.run.model) == "784-64-32-10"
    app.run.activation = "tanh"
    assert any(isinstance(m, nn.Tanh) for m in app.run.model)
    app.run.dropout = 0.25
    assert any(isinstance(m, nn.Dropout) and m.p == 0.25 for m in app.run.model)
    app.run.model_kind = "softmax"
    assert describe(app.run.model) == "784-10"
    app.run.model_kind = "cnn"
    assert any(isinstance(m, nn.Conv2d) for m in app.run.model)
    assert not app.views.mlp_box.visible
    assert app.plots.hist_figs == []      # "Inside the model" is built when shown ...
    app.show_inside()
    assert len(app.plots.hist_figs) == 4  # ... two convs, two linears
    app.run.model_kind = "softmax"      # and follows the model from then on
    assert len(app.plots.hist_figs) == 1


def test_structural_change_mid_run_asks_for_reset(small):
    app = tiny_app(small)
    app.trainer.run_steps(3)
    before = weights(app)
    app.run.width = 64
    assert app.trainer.pending_reset and "Reset" in app.trainer.status
    assert all(np.array_equal(before[k], v) for k, v in app.run.model.state_dict().items())
    app.trainer.reset()
    from playground.apps.digits.run import describe
    assert describe(app.run.model) == "784-64-10" and app.trainer.step == 0


def test_training_controls_apply(small, monkeypatch):
    app = tiny_app(small, schedule="constant")
    app.run.optimizer = "sgd"
    assert isinstance(app.run.opt, optim.SGD)
    app.run.optimizer = "adamw"
    assert isinstance(app.run.opt, optim.AdamW)
    app.run.lr = 3e-3
    assert app.run.opt.lr == pytest.approx(3e-3)
    app.run.batch_size = 32
    assert app.trainer.step_once()["samples"] == 32
    calls = []
    real = edata.augment
    monkeypatch.setattr(edata, "augment", lambda x, *a, **k: calls.append(len(x)) or real(x, *a, **k))
    app.run.augment = True
    app.trainer.step_once()
    assert calls == [32]
    before = app.trainer.progress["max_steps"]
    app.run.epochs = app.run.epochs + 2
    assert app.trainer.progress["max_steps"] == before + 2 * 2000 // 32
    app.run.schedule = "cosine"
    app.run.samples_seen = app.run.epochs * app.run.n_train // 2     # half way: cosine at about half
    assert app.run.lr_now() == pytest.approx(3e-3 * (0.02 + 0.98 * 0.5), rel=1e-6)


def test_seed_makes_runs_repeatable(small):
    app = tiny_app(small)
    app.trainer.reset(seed=5)
    app.trainer.run_steps(5)
    a = weights(app)
    app.trainer.reset(seed=5)
    app.trainer.run_steps(5)
    b = weights(app)
    app.trainer.reset(seed=6)
    c = weights(app)
    assert all(np.array_equal(a[k], b[k]) for k in a)
    assert not all(np.array_equal(a[k], c[k]) for k in a)


def test_views_update_while_training(small):
    app = tiny_app(small, epochs=1)
    app.show_inside()
    w0 = app.plots.w_src.data["image"][0].copy()
    app.trainer.run_steps(40)  # 40 x 64 = 1.3 epochs of 2,000 -> at least one evaluation
    app.refresh_views(force=True)
    assert len(app.plots.train_src.data["loss"]) > 0
    assert len(app.plots.test_src.data["acc"]) >= 2          # the initial point and later ones
    assert int(np.sum(app.plots.conf_src.data["count"])) == 500
    wrong = int((app.run.last_eval["pred"] != app.run.yte).sum())
    assert len(app.plots.mistake_lbl.data["text"]) == min(24, wrong)
    assert "→" in app.plots.mistake_lbl.data["text"][0]
    assert not np.allclose(app.plots.w_src.data["image"][0], w0, equal_nan=True)
    (fa, sa), (fg, sg) = app.plots.hist_figs[0]
    assert sum(sa.data["top"]) > 0 and sum(sg.data["top"]) > 0
    assert "dead units" in fa.title.text
    assert "held-out" in app.plots.acc_fig.title.text


def test_drawing_gives_probabilities(small):
    from playground.ui.components import DrawingCanvas
    app = tiny_app(small)
    img = np.zeros((112, 112), np.float32)
    img[15:97, 52:60] = 1.0                       # a vertical stroke
    app.views.canvas.image = DrawingCanvas.encode(img)
    p = np.array(app.plots.prob_src.data["p"])
    assert p.shape == (10,) and p.sum() == pytest.approx(1, abs=1e-5)
    seen = np.flipud(app.plots.seen_src.data["image"][0])
    np.testing.assert_allclose(seen, edata.preprocess_drawing(img), atol=1e-6)
    assert "guess" in app.plots.prob_fig.title.text
    app.views.canvas.image = ""                          # Clear
    assert sum(app.plots.prob_src.data["p"]) == 0 and app.drawing_probs is None


def test_short_run_beats_90_percent_and_is_recorded(mnist):
    app = tiny_app(mnist, width=256, lr=1e-3, epochs=2, schedule="cosine")
    acc0 = app.run.test_accuracy
    app.trainer.run_steps(10_000)                 # stops after 2 epochs
    assert app.trainer.finished
    app.trainer._set_stopped("Finished.")         # what the async loop does at the end
    assert acc0 < 0.5 < 0.9 < app.run.test_accuracy
    runs = app.views.store.items
    assert len(runs) == 1 and runs[0]["acc"] == pytest.approx(app.run.test_accuracy, abs=1e-4)
    assert runs[0]["arch"] == "784-256-10" and runs[0]["lr"] == 1e-3
    assert "★ best" in app.views.runs_pane.object and "Forget" in app.views.clear_runs.label
    app.views.clear_runs.clicks += 1
    assert app.views.store.items == [] and "No runs yet" in app.views.runs_pane.object


def test_runs_from_the_browser_are_shown_best_first(small):
    app = tiny_app(small)
    app.views.store.items = [{"id": "a", "acc": 0.91, "model": "MLP"}, {"id": "b", "acc": 0.97, "model": "CNN"}]
    html = app.views.runs_pane.object
    assert html.index("97.00%") < html.index("91.00%") and "★ best" in html


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
def test_huge_learning_rate_stops_and_keeps_last_good_weights(small):
    app = tiny_app(small, optimizer="sgd", lr=1e-3, schedule="constant", layers=2, width=256)
    app.trainer.run_steps(4)                      # one good chunk: the snapshot
    good = weights(app)
    app.run.lr = 100.0
    app.trainer.run_steps(200)
    assert app.trainer.error, "a learning rate of 100 should blow up"
    assert "Training diverged — try a lower learning rate" in app.trainer.status
    assert "Restored the last good weights (step 4)" in app.trainer.status
    assert all(np.array_equal(good[k], v) for k, v in app.run.model.state_dict().items())
    assert np.isfinite(app.run.test_accuracy) and not app.trainer.running and app.trainer.step == 4
    first = app.trainer.status
    for _ in range(2):                            # again: the same stop, the same weights
        app.trainer.run_steps(200)
        assert app.trainer.status == first
        assert all(np.array_equal(good[k], v) for k, v in app.run.model.state_dict().items())
    assert len(app.plots.diverged_src.data["epoch"]) == 3  # each marked on the loss plot
    assert max(app.plots.train_src.data["epoch"]) <= app.run.epoch  # no point of the undone steps
    assert max(app.plots.train_src.data["loss"]) <= 2 * np.log(10)


def test_the_steps_a_divergence_undoes_leave_no_point_on_the_curves(small, monkeypatch):
    from playground.apps.digits import app as digits, run as digits_run
    monkeypatch.setattr(digits, "STREAM_EVERY_S", 1e9)  # points wait for the stop, as between flushes
    monkeypatch.setattr(digits_run, "EVAL_EVERY", 100.0)  # (an evaluation flushes them too)
    app = tiny_app(small, lr=1e-3)
    app.trainer.chunk = 2                       # short chunks, as the clock makes them in the page
    app.trainer.run_steps(12)
    app.run.lr = 100.0
    app.trainer.run_steps(100)
    assert "Training diverged" in app.trainer.error
    restored = app.run.epoch
    assert app.plots.train_src.data["epoch"] and max(app.plots.train_src.data["epoch"]) <= restored
    assert app.plots.diverged_src.data["epoch"] == [restored]


def test_a_loss_spike_is_drawn_at_the_cap_and_marked(small):
    app = tiny_app(small)
    app.plots.stream_point(app.plots.train_src, 0.1, 7e35, 0.1, rollover=10)
    app.plots.stream_point(app.plots.train_src, 0.2, 0.5, 0.8, rollover=10)
    assert app.plots.train_src.data["loss"] == [pytest.approx(2 * np.log(10)), 0.5]
    assert app.plots.spike_src.data["epoch"] == [0.1]
    app.trainer.reset()                           # a new run: none of it is left
    assert not app.plots.train_src.data["loss"] and not app.plots.spike_src.data["epoch"]


def test_adam_at_a_huge_rate_stops_although_its_loss_stays_finite(small):
    app = tiny_app(small, optimizer="adam", lr=100.0)
    good = weights(app)
    app.trainer.run_steps(200)
    assert "Stopped: the loss exploded at step" in app.trainer.error
    assert "Restored the last good weights (step 0)" in app.trainer.error
    assert all(np.array_equal(good[k], v) for k, v in app.run.model.state_dict().items())


def test_save_and_load_round_trip(small):
    app = tiny_app(small)
    app.trainer.run_steps(5)
    raw = app.run.save_bytes()
    other = tiny_app(small, width=64)             # another architecture: loading replaces it
    assert other.load_bytes(raw, "mine.npz")
    assert other.views.file_msg.alert_type == "success"
    np.testing.assert_allclose(other.run.predict_logits(small[1][0][:20]),
                               app.run.predict_logits(small[1][0][:20]), rtol=1e-5, atol=1e-5)
    assert "loaded from mine.npz" in other.views.model_info.object
    assert other.views.download.callback().getvalue()[:2] == b"PK"


@pytest.mark.parametrize("bad", [b"not a model at all", b"PK\x03\x04truncated", "truncate"])
def test_bad_model_file_is_refused_and_model_kept(small, bad):
    app = tiny_app(small)
    if bad == "truncate":
        bad = app.run.save_bytes()[:300]
    before = weights(app)
    assert not app.load_bytes(bad, "broken.npz")
    assert app.views.file_msg.alert_type == "danger" and "unchanged" in app.views.file_msg.object
    assert "broken.npz" in app.views.file_msg.object
    assert all(np.array_equal(before[k], v) for k, v in app.run.model.state_dict().items())


def test_upload_widget_loads(small):
    app = tiny_app(small)
    app.views.upload.choose(b"junk", "junk.npz")
    assert app.views.file_msg.visible and "junk.npz" in app.views.file_msg.object


def test_each_upload_is_judged_on_its_own_bytes_and_name(small):
    """Name and bytes arrive together (components.FilePicker): nothing of the previous file."""
    app = tiny_app(small)
    good = app.run.save_bytes()
    app.views.upload.choose(b"", "empty.npz")           # an empty file first
    assert app.views.file_msg.object.startswith("Could not load empty.npz: the file is empty — ")
    app.views.upload.choose(good[:300], "broken.npz")
    assert "Could not load broken.npz:" in app.views.file_msg.object and "unchanged" in app.views.file_msg.object
    app.views.upload.choose(b"", "empty.npz")
    assert app.views.file_msg.object.startswith("Could not load empty.npz: the file is empty — ")
    app.views.upload.choose(good, "mine.npz")
    assert app.views.file_msg.alert_type == "success" and "Loaded mine.npz" in app.views.file_msg.object
    assert "loaded from mine.npz" in app.views.model_info.object
    app.views.upload.choose(b"", "empty.npz")           # not the previous file's bytes
    assert app.views.file_msg.object.startswith("Could not load empty.npz: the file is empty — ")
    assert "loaded from mine.npz" in app.views.model_info.object
    app.trainer.step_once()
    app.views.upload.choose(good, "mine.npz")           # the same file again: loaded again
    assert app.trainer.step == 0 and "Loaded mine.npz" in app.views.file_msg.object
    app.trainer.reset()                           # a fresh model: the message no longer applies
    assert not app.views.file_msg.visible
