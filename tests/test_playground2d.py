"""The 2-D playground: controls, the boundary, URL round-trips, CSV errors, code export."""
import os
import pathlib
import subprocess
import sys

import numpy as np
import pytest

pytest.importorskip("panel")
from panel.io.location import Location  # noqa: E402

from playground.apps.playground2d import (CSVError, Playground, Setup, export_code,  # noqa: E402
                                          parse_csv, playground2d_app)

ROOT = pathlib.Path(__file__).resolve().parent.parent


def test_training_changes_the_boundary_and_lowers_the_loss():
    app = playground2d_app(location=Location())
    c = app.controls
    before = c["heat"].data["image"][0].copy()
    neurons_before = [m.copy() for m in c["neurons"].data["image"]]
    tr0, _ = c["playground"].evaluate()
    c["trainer"].run_steps(400)
    after = c["heat"].data["image"][0]
    assert np.abs(after - before).max() > 0.2
    assert any(np.abs(a - b).max() > 0.05 for a, b in zip(c["neurons"].data["image"], neurons_before))
    assert c["loss"].data["train"][-1] < tr0 - 0.1
    assert len(c["loss"].data["epoch"]) >= 2


def test_controls_change_what_they_should():
    app = playground2d_app(location=Location())
    c = app.controls
    s, pg, w = c["setup"], c["playground"], c["widgets"]
    pts = list(c["train_points"].data["x"])
    w["dataset"].value = "xor"
    assert s.dataset == "xor" and c["train_points"].data["x"] != pts
    w["noise"].value = 0.3
    assert pg.setup.noise == 0.3
    n_train = len(c["train_points"].data["x"])
    w["ratio"].value = 0.8
    assert len(c["train_points"].data["x"]) > n_train
    w["features"].value = ["x", "y", "x2", "y2", "xy", "sinx", "siny"]
    assert s.features == "x,y,x2,y2,xy,sinx,siny" and pg.Ftr.shape[1] == 7
    assert pg.model[0].weight.shape == (4, 7)
    assert len(c["neurons"].data["image"]) == 7 + 4 + 2
    c["add_layer"].clicks += 1
    assert s.hidden == "4,2,4" and len(c["layers"].objects) == 3
    c["remove_layer"].clicks += 1
    c["remove_layer"].clicks += 1
    assert s.hidden == "4" and len(c["layers"].objects) == 1
    neurons, act = c["layers"].objects[0].objects
    neurons.value = 6
    act.value = "relu"
    assert s.hidden == "6" and s.activations == "relu"
    assert pg.model[0].weight.shape == (6, 7) and type(pg.model[1]).__name__ == "ReLU"
    w["dropout"].value = 0.2
    assert any(type(m).__name__ == "Dropout" for m in pg.model)
    w["lr"].value = 0.1
    assert pg.opt.lr == pytest.approx(0.1)
    w["batch_size"].value = 25
    assert pg.loader.batch_size == 25
    w["l2"].value = 0.01
    w["loss"].value = "squared"
    assert s.l2 == 0.01 and s.loss == "squared"
    w["optimizer"].value = "sgd"
    assert type(pg.opt).__name__ == "SGD"
    w["problem"].value = "regression"
    assert s.dataset == "plane" and pg.ytr.dtype == np.float32
    c["trainer"].run_steps(50)
    assert np.isfinite(c["loss"].data["train"][-1])


def test_url_state_round_trips():
    loc = Location()
    app = playground2d_app(location=loc)
    c = app.controls
    c["widgets"]["dataset"].value = "spiral"
    c["widgets"]["noise"].value = 0.25
    c["widgets"]["features"].value = ["x", "y", "sinx"]
    c["add_layer"].clicks += 1
    c["widgets"]["lr"].value = 0.01
    c["widgets"]["l1"].value = 0.001
    search = loc.search
    assert "spiral" in search and "sinx" in search
    loc2 = Location(search=search)
    app2 = playground2d_app(location=loc2)
    s1, s2 = c["setup"], app2.controls["setup"]
    for k in s1.param:
        if k != "name":
            assert getattr(s1, k) == getattr(s2, k), k
    w2 = app2.controls["widgets"]
    assert w2["dataset"].value == "spiral" and w2["lr"].value == 0.01 and w2["l1"].value == 0.001
    assert w2["features"].value == ["x", "y", "sinx"]
    assert len(app2.controls["layers"].objects) == 3
    assert app2.controls["playground"].Ftr.shape[1] == 3


def test_csv_parsing_and_errors():
    more = "".join(f"0.{k},-0.{k},{k % 2}\n" for k in range(6))  # 10 points at least
    X, y = parse_csv("x,y,label\n0.1,0.2,1\n-0.5,0.3,0\n# a comment\n\n0.9,-0.9,1\n0,0,0\n" + more)
    assert X.shape == (10, 2) and y.tolist()[:4] == [1, 0, 1, 0]
    X, y = parse_csv(b"10,0,1\n-20,5,0\n3,3,1\n1,1,-1\n" + more.encode())
    assert np.abs(X).max() == pytest.approx(1.0) and y.tolist()[:4] == [1, 0, 1, 0]
    bad = {
        "x,y,label\n0.1,0.2,1\n0.3,0.4\n": "Line 3",
        "0.1,0.2,1\n0.1,abc,0\n": "Line 2",
        "0.1,0.2,1\n0.1,0.3,0\n0,0,7\n": "Line 3",
        "0.1,0.2,1\n0.1,nan,0\n": "Line 2",
        "0.1,0.2,1\n": "at least 10",
        "".join(f"{k},{k},1\n" for k in range(10)): "same label",
        "0,0,1\n1,1,0\n0,1,1\n1,0,0\n": "at least 10",  # too few to split into train and test
    }
    for text, words in bad.items():
        with pytest.raises(CSVError, match=words):
            parse_csv(text)
    with pytest.raises(CSVError, match="UTF-8"):
        parse_csv(b"\xff\xfe\x00garbage")


def test_csv_upload_in_the_app():
    app = playground2d_app(location=Location())
    c = app.controls
    c["upload"].value = b"x,y,label\n0.1,0.2,1\nbroken line\n"
    assert c["upload_msg"].visible and "Line 3" in c["upload_msg"].object
    rng = np.random.default_rng(0)
    pts = rng.uniform(-1, 1, (60, 2))
    lines = "\n".join(f"{a:.3f},{b:.3f},{int(a > b)}" for a, b in pts)
    c["upload"].value = ("x,y,label\n" + lines).encode()
    assert c["setup"].dataset == "custom" and "Loaded 60 points" in c["upload_msg"].object
    assert len(c["train_points"].data["x"]) + len(c["test_points"].data["x"]) == 60


def _run(code, tmp_path, name):
    path = tmp_path / name
    path.write_text(code)
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}
    out = subprocess.run([sys.executable, str(path)], capture_output=True, text=True, env=env,
                         timeout=240, cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    return float(out.stdout.split("test loss:")[1].split()[0])


def test_exported_code_runs_in_engine_and_pytorch_alike(tmp_path):
    pytest.importorskip("torch")
    setup = Setup(dataset="xor", features="x,y,xy", hidden="4", activations="tanh", l2=0.001,
                  batch_size=20, lr=0.03)
    pg = Playground(setup)
    pg.epoch = 30.0  # the page "has trained" 30 epochs: the export reproduces that run
    eng, tor = pg.export("engine"), pg.export("torch")
    assert "import torch" in tor and "import torch" not in eng and "range(30)" in eng
    compile(eng, "engine.py", "exec")
    loss_e = _run(eng, tmp_path, "export_engine.py")
    loss_t = _run(tor, tmp_path, "export_torch.py")
    for _ in range(int(30 * len(pg.Ftr) / 20) + 1):  # the page's own run
        pg.step()
    _, loss_page = pg.evaluate()
    assert loss_e < 0.3 and loss_t < 0.3, (loss_e, loss_t)
    assert abs(loss_e - loss_t) < 0.15 and abs(loss_e - loss_page) < 0.1, (loss_e, loss_t, loss_page)


def test_export_code_for_custom_and_regression_is_valid_python():
    s = Setup(problem="regression", dataset="hills", loss="squared", dropout=0.1, l1=0.01)
    code = export_code(s, "torch", 2)
    compile(code, "x.py", "exec")
    assert "make_regression('hills'" in code and "nn.Dropout(0.1)" in code and "p.abs()" in code


def test_too_few_points_and_changes_after_training_keep_the_run():
    app = playground2d_app(location=Location())
    c = app.controls
    t, s = c["trainer"], c["setup"]
    c["upload"].value = b"0,0,1\n1,1,0\n0,1,1\n1,0,0\n"  # too few to split: a message, no crash
    assert c["upload_msg"].visible and "at least 10" in c["upload_msg"].object
    assert s.dataset != "custom"
    t.run_steps(40)
    weights = [p.data.copy() for p in c["playground"].model.parameters()]
    s.dataset = "xor"          # after training: asks for Reset, keeps the trained model
    s.noise = 0.3
    assert t.pending_reset == "dataset → xor; noise → 0.3" and "press Reset" in t.status
    assert all(np.array_equal(a, p.data) for a, p in zip(weights, c["playground"].model.parameters()))
    assert t.step == 40
    t.reset()
    assert t.step == 0 and not t.pending_reset and len(c["train_points"].data["x"]) > 0
