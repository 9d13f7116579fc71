"""Count the lines: training improves per-count accuracy; the gallery shows real mistakes."""
import numpy as np
import pytest

pytest.importorskip("panel")
from playground.apps.lines.app import lines_app  # noqa: E402
from playground.apps.lines.lab import LinesLab  # noqa: E402


def test_lines_training_raises_accuracy_and_fills_the_charts():
    app = lines_app()
    c = app.controls
    lab = c["lab"]["m"]
    acc0 = lab.evaluate()["acc"]
    c["trainer"].run_steps(150)
    c["refresh"]()  # the app evaluates every few chunks; make sure the last state is shown
    ev = c["lab"]["eval"]
    assert ev["acc"] > acc0 + 0.15
    assert c["bars"].data["count"] == [1, 2, 3, 4, 5]
    assert all(0 <= a <= 1 for a in c["bars"].data["acc"])
    assert len(c["curve"].data["epoch"]) >= 1
    wrong = ev["wrong"]
    n_shown = min(len(wrong), 24)
    assert len(c["captions"].data["text"]) == n_shown
    for text, i in zip(c["captions"].data["text"], wrong):
        true, guess = (int(s) for s in text.split(" → "))
        assert true == lab.yt[i] and guess == ev["pred"][i] and true != guess
    assert c["gallery"].data["image"][0].max() > 0.5


def test_lines_controls():
    app = lines_app()
    c = app.controls
    c["max_lines"].value = 3
    m = c["lab"]["m"]
    assert m.max_lines == 3 and m.y.max() == 3 and c["bars"].data["count"] == [1, 2, 3]
    assert m.model[-1].weight.shape[0] == 3
    c["n_train"].value = 1000
    assert len(c["lab"]["m"].x) == 1000
    c["lr"].value = 5e-3
    assert c["lab"]["m"].opt.lr == 5e-3


def test_lines_lab_per_count_accuracy_is_consistent():
    lab = LinesLab(max_lines=4, n_train=200, n_test=100, seed=3)
    ev = lab.evaluate()
    pred = ev["pred"]
    for k, a in enumerate(ev["per_count"], 1):
        assert a == pytest.approx(float((pred[lab.yt == k] == k).mean()))
    assert set(np.unique(pred)) <= {1, 2, 3, 4}


def test_a_data_change_after_training_asks_for_reset():
    from playground.apps.lines.app import lines_app
    app = lines_app()
    c = app.controls
    c["trainer"].run_steps(5)
    model = c["lab"]["m"]
    c["max_lines"].value = 3
    assert c["lab"]["m"] is model and "press Reset" in c["trainer"].status
    c["trainer"].reset()
    assert c["lab"]["m"].max_lines == 3 and len(c["bars"].data["count"]) == 3


def test_lines_divergence_restores_marks_and_shows_the_restored_model():
    app = lines_app()
    c = app.controls
    t = c["trainer"]
    t.run_steps(20)
    for _ in range(2):
        c["lab"]["m"].opt.lr = 1e6
        t.run_steps(300)
        assert t.status.startswith("Stopped:") and "Restored" in t.status, t.status
        m = c["lab"]["m"]
        assert m.steps == t.step and m.opt.lr == 1e6
        assert len(c["spikes"].data["step"]) >= 1
        assert (c["lab"]["eval"]["pred"] == m.predict(m.xt)).all()
