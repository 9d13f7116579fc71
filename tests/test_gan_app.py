"""GAN studio: the losses move, the sample grid changes, the controls do what they say."""
import numpy as np
import pytest

pytest.importorskip("panel")
from engine.data import load_mnist  # noqa: E402
from playground.apps.gan.anatomy import Gan2D  # noqa: E402
from playground.apps.gan.app import gan_app  # noqa: E402
from playground.apps.gan.run import MnistGAN, judge, tile  # noqa: E402
from playground.training.assets import load_classifier, train_classifier  # noqa: E402


@pytest.fixture(scope="module")
def data():
    (x, y), (xv, yv) = load_mnist()
    return (x[:3000], y[:3000]), (xv[:500], yv[:500])


@pytest.fixture(scope="module")
def classifier(data):
    """The shipped judge when built (python -m playground.training.assets), else a quick one."""
    clf = load_classifier()
    if clf is None:
        clf, _, _ = train_classifier(epochs=1, data=data, log=lambda *a: None)
    return clf


def test_mnist_gan_trains_losses_move_and_grid_changes(data, classifier):
    app = gan_app(data=data, classifier=classifier)
    c = app.controls
    grid0 = c["grid"].data["image"][0].copy()
    interp0 = c["interp_img"].data["image"][0].copy()
    c["trainer"].run_steps(60)
    losses = c["losses"].data
    assert len(losses["step"]) >= 2 and losses["step"][-1] == 60
    assert max(losses["d_loss"]) - min(losses["d_loss"]) > 1e-3
    assert max(losses["g_loss"]) - min(losses["g_loss"]) > 1e-3
    assert all(0 <= v <= 1 for v in losses["d_real"] + losses["d_fake"])
    grid1 = c["grid"].data["image"][0]
    assert grid1.shape == grid0.shape == (289, 289)
    assert np.abs(grid1 - grid0).mean() > 0.01
    assert np.abs(c["interp_img"].data["image"][0] - interp0).mean() > 0.01
    c["trainer"].step_once()  # the trainer's on_stop refreshes the judge
    assert sum(c["hist"].data["count"]) == 200
    assert "classes present" in c["judge_md"].object


def test_gan_controls(data, classifier):
    app = gan_app(data=data, classifier=classifier)
    c = app.controls
    row = c["interp_img"].data["image"][0].copy()
    c["interp"].value = 0.0
    assert np.abs(c["interp_img"].data["image"][0] - row).max() > 0.01
    c["conditional"].value = False
    assert not c["gan"]["m"].conditional and c["gan"]["m"].D[0].weight.shape == (512, 784)
    c["digit"].value = 3
    m = c["gan"]["m"]
    assert m.digit == 3 and set(m.y.tolist()) == {3}
    c["lr"].value = 1e-3
    assert m.opt_g.lr == m.opt_d.lr == 1e-3
    c["trainer"].run_steps(3)
    assert m.steps == 3
    c["trainer"].reset()
    assert c["gan"]["m"] is not m and c["gan"]["m"].steps == 0 and c["losses"].data["step"] == []


def test_judge_and_conditional_sampling(classifier, data):
    (_, _), (xv, yv) = data
    j = judge(classifier, xv[:200], yv[:200])
    assert j["classes"] == 10 and j["mean_max_prob"] > 0.8 and j["agreement"] > 0.85
    j1 = judge(classifier, np.repeat(xv[:1], 50, 0))
    assert j1["classes"] == 1 and j1["spread"] == 0.0  # the look of mode collapse
    m = MnistGAN(data=data)
    imgs, wanted = m.sample(20, seed=0)
    assert imgs.shape == (20, 1, 28, 28) and 0 <= imgs.min() and imgs.max() <= 1
    assert wanted.tolist() == [k % 10 for k in range(20)]
    assert tile(imgs[:, 0], 2, 10).shape == (2 * 29 - 1, 10 * 29 - 1)


def test_2d_gan_anatomy_steps_heatmap_and_arrows():
    app = gan_app(data=((np.zeros((20, 1, 28, 28), np.float32), np.arange(20) % 10), None), classifier=None)
    c = app.controls
    heat0 = c["heat"].data["image"][0].copy()
    fake0 = list(c["fake"].data["x"])
    c["d_step"].clicks += 1
    m = c["gan2d"]["m"]
    assert (m.d_steps, m.g_steps) == (1, 0)
    assert np.abs(c["heat"].data["image"][0] - heat0).max() > 1e-4
    assert c["fake"].data["x"] == fake0  # a D step does not move the fakes
    c["g_step"].clicks += 1
    assert (m.d_steps, m.g_steps) == (1, 1)
    assert c["fake"].data["x"] != fake0  # a G step does
    assert len(c["arrows"].data["x0"]) == len(fake0)
    c["show_arrows"].value = False
    assert c["arrows"].data["x0"] == []
    c["trainer2d"].run_steps(30)
    assert len(c["losses2d"].data["step"]) >= 1
    real0 = list(c["real"].data["x"])
    c["dist"].value = "two moons"  # after training: the run is kept until Reset
    assert c["gan2d"]["m"].dist == "ring" and "press Reset" in c["trainer2d"].status
    c["trainer2d"].reset()
    assert c["gan2d"]["m"].dist == "two moons" and c["real"].data["x"] != real0


def test_2d_gan_arrows_point_uphill_on_d():
    g = Gan2D("gaussian mixture", seed=1)
    for _ in range(50):
        g.step()
    pts, push = g.arrows()
    eps = 1e-3
    from engine import Tensor, no_grad
    with no_grad():
        before = g.D(Tensor(pts)).data
        after = g.D(Tensor(pts + eps * push / (np.linalg.norm(push, axis=1, keepdims=True) + 1e-12))).data
    assert (after >= before - 1e-6).mean() > 0.9  # moving along the arrow raises D(x)


def test_snapshot_brings_back_weights_optimiser_and_step_but_keeps_the_learning_rate(data):
    m = MnistGAN(data=data, seed=1)
    for _ in range(3):
        m.step()
    s = m.state()
    grid = m.grid()
    m.set_lr(0.5)
    for _ in range(3):
        m.step()
    assert not np.allclose(m.grid(), grid)
    m.load_state(s)
    assert m.steps == 3 and np.allclose(m.grid(), grid) and m.opt_g.lr == m.opt_d.lr == 0.5
    assert m.opt_g.state_dict()["state"][0]["exp_avg"].tolist() == s["opt_g"]["state"][0]["exp_avg"].tolist()


def test_a_divergence_is_marked_and_the_grid_shows_the_restored_generator(data):
    app = gan_app(data=data, classifier=None)
    c = app.controls
    t = c["trainer"]
    t.run_steps(20)
    for _ in range(2):  # the second time like the first
        c["gan"]["m"].set_lr(1e20)
        t.run_steps(100)
        assert t.status.startswith("Stopped:") and "Restored" in t.status, t.status
        ys = np.array(c["losses"].data["d_loss"] + c["losses"].data["g_loss"])
        assert np.isfinite(ys).all() and ys.max() <= 2.5 * max(c["losses"].data["d_loss"][0],
                                                                c["losses"].data["g_loss"][0]) + 1e-9
        assert len(c["spikes"].data["step"]) >= 1
        m = c["gan"]["m"]
        assert m.steps == t.step
        assert np.allclose(c["grid"].data["image"][0], m.grid()[::-1])
