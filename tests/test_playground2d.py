"""The 2-D playground: controls, the boundary, URL round-trips, CSV errors, code export."""
import asyncio
import os
import pathlib
import subprocess
import sys

import numpy as np
import pytest

pytest.importorskip("panel")
from panel.io.location import Location  # noqa: E402

from playground.apps.playground2d.app import playground2d_app  # noqa: E402
from playground.apps.playground2d.data import CSVError, parse_csv  # noqa: E402
from playground.apps.playground2d.export import export_code  # noqa: E402
from playground.apps.playground2d.run import Playground, Setup  # noqa: E402

ROOT = pathlib.Path(__file__).resolve().parent.parent


def test_training_changes_the_boundary_and_lowers_the_loss():
    app = playground2d_app(location=Location())
    c = app.controls
    before = c["heat"].data["image"][0].copy()
    neurons_before = c["neurons"].data["image"][0].copy()
    tr0, _ = c["playground"].evaluate()
    c["trainer"].run_steps(400)
    after = c["heat"].data["image"][0]
    assert np.abs(after - before).max() > 0.2
    assert np.nanmax(np.abs(c["neurons"].data["image"][0] - neurons_before)) > 0.05
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
    assert [col.shape[2] for col in pg.maps()[1]] == [7, 4, 2] and c["neurons"].data["image"][0].shape == (7 * 31 - 6, 3 * 31 - 6)
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
    c["upload"].choose(b"x,y,label\n0.1,0.2,1\nbroken line\n", "broken.csv")
    assert c["upload_msg"].visible and c["upload_msg"].object.startswith("broken.csv: line 3")
    rng = np.random.default_rng(0)
    pts = rng.uniform(-1, 1, (60, 2))
    lines = "\n".join(f"{a:.3f},{b:.3f},{int(a > b)}" for a, b in pts)
    c["upload"].choose(("x,y,label\n" + lines).encode(), "mine.csv")
    assert c["setup"].dataset == "custom" and c["upload_msg"].object == "Loaded 60 points from mine.csv."
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
    s = Setup(problem="regression", dataset="hills", dropout=0.1, l1=0.01)
    pg = Playground(s)
    code = export_code(s, "torch", 2, pg.data())
    compile(code, "x.py", "exec")
    assert "dataset: hills" in code and "nn.Dropout(0.1)" in code and "p.abs()" in code and "mse_loss" in code
    # the page's own points are in the file: nothing but torch and numpy is imported
    imports = [line for line in code.splitlines() if line.startswith(("import ", "from "))]
    assert all(line.split()[1].split(".")[0] in ("numpy", "torch") for line in imports), imports
    assert str(np.float32(pg.Xtr[0, 0])) in code and str(np.float32(pg.yte[-1])) in code


def test_too_few_points_and_changes_after_training_keep_the_run():
    app = playground2d_app(location=Location())
    c = app.controls
    t, s = c["trainer"], c["setup"]
    c["upload"].choose(b"0,0,1\n1,1,0\n0,1,1\n1,0,0\n", "few.csv")  # too few to split: a message, no crash
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


def test_each_upload_is_judged_on_its_own_name_and_bytes():
    app = playground2d_app(location=Location())
    c = app.controls
    up, msg = c["upload"], c["upload_msg"]
    up.choose(b"", "empty.csv")  # an empty first upload says so
    assert msg.visible and msg.object.startswith("empty.csv: the file is empty") and msg.alert_type == "danger"
    good = "".join(f"{k / 20:.2f},{(k % 7) / 7:.2f},{k % 2}\n" for k in range(20)).encode()
    up.choose(good, "good.csv")
    assert msg.object == "Loaded 20 points from good.csv." and c["setup"].dataset == "custom"
    up.choose(b"", "empty.csv")
    assert msg.object.startswith("empty.csv: the file is empty")
    assert len(c["train_points"].data["x"]) + len(c["test_points"].data["x"]) == 20  # the good points stay
    up.choose(good, "again.csv")  # the same bytes under another name
    assert msg.object == "Loaded 20 points from again.csv."
    up.choose(good, "again.csv")  # the very same file twice: judged again
    assert msg.object == "Loaded 20 points from again.csv."
    up.choose(b"x,y,label\n0.5,0.5,1\n", "one.csv")
    assert msg.object.startswith("one.csv: the file has 1 data line;")
    up.choose(b"x,y,label\n", "header.csv")
    assert msg.object.startswith("header.csv: the file has no data lines")


def test_the_loss_menu_follows_the_problem():
    s = Setup()
    assert s.loss == "cross_entropy"
    s.problem = "regression"
    assert s.loss == "squared" and s.effective_loss() == "squared"
    s.problem = "classification"
    assert s.loss == "cross_entropy"
    assert Setup(problem="regression", loss="cross_entropy").loss == "squared"  # an old link
    assert Setup(loss="squared").loss == "squared"  # classification keeps the link's choice
    app = playground2d_app(location=Location())
    w = app.controls["widgets"]
    w["problem"].value = "regression"
    assert w["loss"].value == "squared" and w["loss"].disabled


def test_a_divergence_restores_what_the_page_shows():
    app = playground2d_app(location=Location())
    c = app.controls
    c["setup"].param.update(problem="regression", optimizer="sgd", lr=10.0)
    t = c["trainer"]
    for _ in range(2):  # a second divergence in a row behaves like the first
        t.run_steps(200)
        assert "Restored the last good weights" in t.status
        tr, te = c["playground"].evaluate()
        assert np.isfinite(tr) and f"train loss {tr:.3f}" in c["summary"].object
        loss = c["loss"].data
        assert np.isfinite(loss["train"]).all() and loss["train"][-1] == tr
        assert loss["epoch"][-1] == c["playground"].epoch
        image = c["heat"].data["image"][0]
        assert np.isfinite(image).all() and image.shape == (100, 100)
    assert len(c["diverged"].data["epoch"]) == 2


def test_the_code_follows_every_change_once_shown():
    app = playground2d_app(location=Location())
    c = app.controls
    assert c["code_torch"].value == "" and not c["code"].visible
    c["show_code"].clicks += 1
    assert c["code"].visible and "dataset: circle" in c["code_torch"].value and c["show_code"].label == "Hide the code"
    c["widgets"]["dataset"].value = "xor"
    assert "dataset: xor" in c["code_torch"].value and "dataset: xor" in c["code_engine"].value
    c["widgets"]["lr"].value = 0.1
    assert "lr=0.1)" in c["code_torch"].value
    c["add_layer"].clicks += 1
    assert "nn.Linear(2, 4)" in c["code_engine"].value and c["code_engine"].value.count("nn.Linear") == 4
    assert "range(100)" in c["code_engine"].value  # before training: 100 epochs
    asyncio.run(c["trainer"].run(max_chunks=3))  # 60 steps of 10 out of 200 points: 3 epochs
    assert c["trainer"].status.startswith("Paused") and "range(3)" in c["code_engine"].value
    c["show_code"].clicks += 1  # the same button hides it again
    assert not c["code"].visible and c["show_code"].label == "Show me the code"


def test_the_boundary_is_fine_and_one_pass_draws_every_map():
    pg = Playground(Setup(features="x,y,xy", hidden="3,2"))
    for _ in range(300):
        pg.step()
    out, cols = pg.maps()
    assert out.shape == (100, 100) and out.dtype == np.float32 and np.abs(out).max() <= 1
    assert [c.shape for c in cols] == [(25, 25, 3), (25, 25, 3), (25, 25, 2)]
    # the first hidden neuron's map is that neuron's activation on the grid
    from engine import Tensor
    h = pg.model[1](pg.model[0](Tensor(pg.Fgrid[100]))).data[:, 0].reshape(100, 100)[::4, ::4]
    assert np.allclose(cols[1][:, :, 0], h, atol=1e-6)
    # the mosaic: neuron 0 of layer 1 at the top of the second column, on its own scale
    m = pg.mosaic(cols)
    assert m.shape == (3 * 31 - 6, 3 * 31 - 6) and np.isnan(m[:, 25:31]).all()
    assert np.allclose(m[-25:, 31:56], h / np.abs(h).max(), atol=1e-6)
    # while training: the coarse grid, interpolated, draws nearly the same map
    coarse, cols2 = pg.maps(exact=False)
    assert coarse.shape == (100, 100) and [c.shape for c in cols2] == [c.shape for c in cols]
    assert np.abs(coarse - out).max() < 0.05 and np.abs(coarse - out).mean() < 0.005
    assert np.abs(coarse - out).max() > 0  # not the exact map by another name


def test_upsample_is_bilinear_on_the_same_square():
    from playground.apps.playground2d.run import grid, upsample
    plane = lambda p: 0.3 * p[:, 0] - 0.7 * p[:, 1] + 0.1  # noqa: E731  (exact under bilinear)
    a = plane(grid(50)).reshape(50, 50)
    assert np.allclose(upsample(a, 100), plane(grid(100)).reshape(100, 100), atol=1e-5)
