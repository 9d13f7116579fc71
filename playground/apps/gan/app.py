"""GAN studio: an MNIST GAN you watch learn, and a 2-D GAN you can take apart.

MNIST GAN (MLP). The default recipe is a *conditional* GAN with an auxiliary classifier
head on the discriminator (AC-GAN style) and one-sided label smoothing: the generator gets
the wanted digit as a one-hot next to its noise, the discriminator sees the digit too and
also has to say which digit an image is, and the generator is rewarded when its images
are recognised as the digit it was asked for. That makes samples recognisable much sooner
than the vanilla recipe (see ``playground/bench/gan_bench.py``). Untick "conditional" for
the vanilla GAN, or pick one digit to train on just that class.

2-D anatomy (in the spirit of GAN Lab): a real 2-D distribution, generated points moving,
the discriminator's opinion as a heat-map, and arrows showing where the generator's
gradient pushes each fake point; train continuously or one D step / G step at a time.

``gan_app(view="grid")`` is the compact page the site embeds in blog posts
(``embed/gan-grid.html``): the MNIST GAN's trainer, its sample grid and small loss curves.
"""
from __future__ import annotations

import math
import time

import numpy as np

from engine import Tensor, cat, manual_seed, nn, no_grad, optim
from engine.nn import functional as F
from playground.ui.palettes import PURPLE_GREEN

VIEWS = (None, "grid")  # gan_app(view=...): the whole studio, or the embed's part
Z_DIM = 64
GRID_ROWS = GRID_COLS = 10
EYE = np.eye(10, dtype=np.float32)


# ---------------------------------------------------------------------------- MNIST GAN

class MnistGAN:
    """Generator and discriminator MLPs and one training step (no Panel: testable).

    G: [z (64) | one-hot (10)] -> 256 -> 512 -> 784, LeakyReLU(0.2), tanh out (pixels in [-1, 1]).
    D: [image (784) | one-hot (10)] -> 512 -> 256 -> 1 real/fake logit (+ 10 class logits).
    Adam(lr, betas=(0.5, 0.999)) for both, batch 64, real label 0.9 (one-sided smoothing).
    """

    def __init__(self, conditional=True, digit=None, lr=5e-4, batch_size=64, smooth=0.9,
                 aux_classifier=True, seed=0, data=None):
        from engine.data import load_mnist
        self.conditional, self.digit = bool(conditional), digit
        self.aux = bool(aux_classifier) and self.conditional
        self.lr, self.batch_size, self.smooth, self.seed = lr, int(batch_size), smooth, seed
        (x, y), _ = data if data is not None else load_mnist()
        x = x.reshape(len(x), -1) * 2 - 1
        if digit is not None:
            keep = y == int(digit)
            x, y = x[keep], y[keep]
        self.x, self.y = x.astype(np.float32), y
        manual_seed(seed)
        self.rng = np.random.default_rng(seed)
        c = 10 if self.conditional else 0
        self.G = nn.Sequential(nn.Linear(Z_DIM + c, 256), nn.LeakyReLU(0.2),
                               nn.Linear(256, 512), nn.LeakyReLU(0.2),
                               nn.Linear(512, 784), nn.Tanh())
        self.D = nn.Sequential(nn.Linear(784 + c, 512), nn.LeakyReLU(0.2),
                               nn.Linear(512, 256), nn.LeakyReLU(0.2),
                               nn.Linear(256, 1 + (10 if self.aux else 0)))
        self.opt_g = optim.Adam(self.G.parameters(), lr=lr, betas=(0.5, 0.999))
        self.opt_d = optim.Adam(self.D.parameters(), lr=lr, betas=(0.5, 0.999))
        fixed = np.random.default_rng(1000 + seed)
        self.fixed_z = fixed.standard_normal((GRID_ROWS * GRID_COLS, Z_DIM)).astype(np.float32)
        self.fixed_y = self._labels_for(np.repeat(np.arange(GRID_ROWS), GRID_COLS))
        self.interp_z = fixed.standard_normal((2, Z_DIM)).astype(np.float32)
        self.steps = 0

    def _labels_for(self, wanted):
        return np.full(len(wanted), int(self.digit)) if self.digit is not None else wanted

    def _g_in(self, z, y):
        z = Tensor(z)
        return cat([z, Tensor(EYE[y])], 1) if self.conditional else z

    def _d_in(self, x, y):
        if not self.conditional:
            return x
        return cat([x, Tensor(EYE[y])], 1) if isinstance(x, Tensor) else Tensor(np.concatenate([x, EYE[y]], 1))

    def set_lr(self, lr):
        self.lr = self.opt_g.lr = self.opt_d.lr = lr

    def step(self):
        """One D step and one G step on a fresh batch; returns plain-float metrics."""
        B, rng = self.batch_size, self.rng
        idx = rng.integers(0, len(self.x), B)
        xr, yr = self.x[idx], self.y[idx]
        yf = self._labels_for(rng.integers(0, 10, B))
        z = rng.standard_normal((B, Z_DIM), dtype=np.float32)
        fake = self.G(self._g_in(z, yf))
        # D: real (label smoothed) and fake in one batch; fake is treated as a constant
        out = self.D(self._d_in(np.concatenate([xr, fake.data]), np.concatenate([yr, yf])))
        target = np.concatenate([np.full((B, 1), self.smooth), np.zeros((B, 1))]).astype(np.float32)
        loss_d = F.binary_cross_entropy_with_logits(out[:, :1], Tensor(target))
        if self.aux:  # D must also tell which digit each image shows
            loss_d = loss_d + F.cross_entropy(out[:, 1:], np.concatenate([yr, yf]))
        self.opt_d.zero_grad()
        loss_d.backward()
        self.opt_d.step()
        d_prob = 1 / (1 + np.exp(-out.data[:, 0]))
        # G: make D call the fakes real (and recognise the asked-for digit)
        out_g = self.D(self._d_in(fake, yf))
        loss_g = F.binary_cross_entropy_with_logits(out_g[:, :1], Tensor(np.ones((B, 1), np.float32)))
        if self.aux:
            loss_g = loss_g + F.cross_entropy(out_g[:, 1:], yf)
        self.opt_g.zero_grad()
        loss_g.backward()
        self.opt_g.step()
        self.steps += 1
        return {"d_loss": loss_d.item(), "g_loss": loss_g.item(), "d_real": float(d_prob[:B].mean()),
                "d_fake": float(d_prob[B:].mean()), "samples": B}

    def generate(self, z, y=None):
        """Images (n, 1, 28, 28) in [0, 1] from noise z (n, 64) and digits y (n,)."""
        y = self._labels_for(np.zeros(len(z), int) if y is None else np.asarray(y))
        self.G.eval()
        with no_grad():
            out = self.G(self._g_in(np.asarray(z, np.float32), y)).data
        self.G.train()
        return ((out + 1) / 2).reshape(-1, 1, 28, 28)

    def sample(self, n, seed=None):
        """n images from random noise; classes balanced (0..9 repeating) when conditional."""
        rng = np.random.default_rng(seed)
        y = np.arange(n) % 10
        return self.generate(rng.standard_normal((n, Z_DIM)).astype(np.float32), y), self._labels_for(y)

    def grid(self):
        """The fixed-noise sample grid as one (280, 280) image in [0, 1] (row k = digit k
        when conditional)."""
        return tile(self.generate(self.fixed_z, self.fixed_y)[:, 0], GRID_ROWS, GRID_COLS)

    def interpolate(self, t, n=10):
        """A row of n images from z = (1-t) z0 + t z1, one per digit when conditional."""
        z = ((1 - t) * self.interp_z[0] + t * self.interp_z[1])[None].repeat(n, 0)
        return tile(self.generate(z, np.arange(n) % 10)[:, 0], 1, n)

    def state(self):
        return snapshot(self)

    def load_state(self, s):
        restore(self, s)
        self.steps = s["steps"]


def snapshot(gan):
    """What a diverged run goes back to: both networks, both optimisers' moments."""
    return {"G": gan.G.state_dict(), "D": gan.D.state_dict(), "opt_g": gan.opt_g.state_dict(),
            "opt_d": gan.opt_d.state_dict(), "steps": getattr(gan, "steps", 0),
            "d_steps": getattr(gan, "d_steps", 0), "g_steps": getattr(gan, "g_steps", 0)}


def restore(gan, s):
    """Load a ``snapshot``; the learning rate stays the one chosen now."""
    gan.G.load_state_dict(s["G"])
    gan.D.load_state_dict(s["D"])
    for opt, k in ((gan.opt_g, "opt_g"), (gan.opt_d, "opt_d")):
        lr = opt.lr
        opt.load_state_dict(s[k])
        opt.lr = lr


def tile(images, rows, cols, pad=1):
    """(n, h, w) -> one (rows*(h+pad)-pad, cols*(w+pad)-pad) image."""
    n, h, w = images.shape
    out = np.full((rows * (h + pad) - pad, cols * (w + pad) - pad), 0.25, np.float32)
    for k in range(min(n, rows * cols)):
        r, c = divmod(k, cols)
        out[r * (h + pad):r * (h + pad) + h, c * (w + pad):c * (w + pad) + w] = images[k]
    return out


def judge(classifier, images, wanted=None):
    """What the digits classifier thinks of generated images: class histogram, mean
    max-probability, classes present, normalised entropy of the class spread (1 = all ten
    equally, 0 = one class: mode collapse), agreement with the asked-for digits."""
    from playground.training.assets import predict_proba
    p = predict_proba(classifier, images)
    pred = p.argmax(1)
    hist = np.bincount(pred, minlength=10)
    frac = hist / max(hist.sum(), 1)
    nz = frac[frac > 0]
    spread = float(-(nz * np.log(nz)).sum() / math.log(10))
    out = {"hist": hist, "mean_max_prob": float(p.max(1).mean()), "classes": int((hist > 0).sum()),
           "spread": max(0.0, spread)}
    if wanted is not None:
        out["agreement"] = float((pred == np.asarray(wanted)).mean())
    return out


# ---------------------------------------------------------------------------- 2-D GAN

REAL_2D = ("ring", "two moons", "gaussian mixture")


def sample_real_2d(name, n, seed):
    from engine.data import sample_gaussian_mixture, sample_ring, sample_two_moons
    fn = {"ring": sample_ring, "two moons": sample_two_moons,
          "gaussian mixture": sample_gaussian_mixture}.get(name)
    if fn is None:
        raise ValueError(f"unknown distribution {name!r}; choose one of {REAL_2D}")
    return fn(n, seed=seed)


class Gan2D:
    """A tiny GAN on 2-D points: G maps 2-D uniform noise to points, D scores points."""

    def __init__(self, dist="ring", lr=0.01, batch_size=128, hidden=32, seed=0, n_shown=200):
        self.dist, self.lr, self.batch_size, self.seed = dist, lr, batch_size, seed
        manual_seed(seed)
        self.rng = np.random.default_rng(seed)
        self.G = nn.Sequential(nn.Linear(2, hidden), nn.LeakyReLU(0.2), nn.Linear(hidden, hidden),
                               nn.LeakyReLU(0.2), nn.Linear(hidden, 2))
        self.D = nn.Sequential(nn.Linear(2, hidden), nn.LeakyReLU(0.2), nn.Linear(hidden, hidden),
                               nn.LeakyReLU(0.2), nn.Linear(hidden, 1))
        self.opt_g = optim.Adam(self.G.parameters(), lr=lr, betas=(0.5, 0.999))
        self.opt_d = optim.Adam(self.D.parameters(), lr=lr, betas=(0.5, 0.999))
        self.real_shown = sample_real_2d(dist, n_shown, seed + 1)
        self.z_shown = np.random.default_rng(seed + 2).uniform(-1, 1, (n_shown, 2)).astype(np.float32)
        self.d_steps = self.g_steps = 0
        self.last = {"d_loss": float("nan"), "g_loss": float("nan")}

    def _noise(self, n):
        return self.rng.uniform(-1, 1, (n, 2)).astype(np.float32)

    def d_step(self):
        B = self.batch_size
        real = sample_real_2d(self.dist, B, int(self.rng.integers(1 << 30)))
        with no_grad():
            fake = self.G(Tensor(self._noise(B))).data
        out = self.D(Tensor(np.concatenate([real, fake])))
        target = np.concatenate([np.ones((B, 1)), np.zeros((B, 1))]).astype(np.float32)
        loss = F.binary_cross_entropy_with_logits(out, Tensor(target))
        self.opt_d.zero_grad()
        loss.backward()
        self.opt_d.step()
        self.d_steps += 1
        self.last["d_loss"] = loss.item()
        return loss.item()

    def g_step(self):
        B = self.batch_size
        out = self.D(self.G(Tensor(self._noise(B))))
        loss = F.binary_cross_entropy_with_logits(out, Tensor(np.ones((B, 1), np.float32)))
        self.opt_g.zero_grad()
        self.D.zero_grad()
        loss.backward()
        self.opt_g.step()
        self.D.zero_grad()
        self.g_steps += 1
        self.last["g_loss"] = loss.item()
        return loss.item()

    def step(self):
        d, g = self.d_step(), self.g_step()
        return {"d_loss": d, "g_loss": g, "samples": self.batch_size}

    def fake_points(self):
        with no_grad():
            return self.G(Tensor(self.z_shown)).data

    def arrows(self):
        """Each shown fake point and the direction the generator's loss pushes it
        (minus the gradient of G's loss with respect to the point)."""
        pts = Tensor(self.fake_points(), requires_grad=True)
        loss = F.binary_cross_entropy_with_logits(self.D(pts), Tensor(np.ones((len(pts.data), 1), np.float32)),
                                                  reduction="sum")
        loss.backward()
        self.D.zero_grad()
        return pts.data, -pts.grad

    def heatmap(self, n=60, lim=1.2):
        """D's probability that a point is real over [-lim, lim]^2, (n, n), row 0 = bottom."""
        g = np.linspace(-lim, lim, n, dtype=np.float32)
        xx, yy = np.meshgrid(g, g)
        with no_grad():
            out = self.D(Tensor(np.stack([xx.ravel(), yy.ravel()], 1))).data
        return (1 / (1 + np.exp(-out))).reshape(n, n).astype(np.float32)

    def state(self):
        return snapshot(self)

    def load_state(self, s):
        restore(self, s)
        self.d_steps, self.g_steps = s["d_steps"], s["g_steps"]


# ---------------------------------------------------------------------------- the app

def gan_app(data=None, classifier="default", view=None):
    """The GAN studio page. ``data``: MNIST arrays to use instead of loading them;
    ``classifier``: the judge model, None for none, "default" for the shipped one;
    ``view``: None for the whole studio, "grid" for the compact embed (trainer controls, the
    live sample grid and small loss curves; no judge, no 2-D tab)."""
    if view not in VIEWS:
        raise ValueError(f"unknown view {view!r}; choose one of {VIEWS}")
    grid_only = view == "grid"
    import panel as pn
    from bokeh.models import ColumnDataSource, LinearColorMapper, Range1d
    from playground.ui.curves import Capped, add_marks, column, legend_above, pane, wrap
    from playground.ui.plots import figure
    from playground.training.assets import load_classifier
    from playground.training.trainer import Trainer
    from playground.ui.trainer_controls import trainer_controls

    pn.extension()
    from engine.data import load_mnist
    data = data if data is not None else load_mnist()
    judge_model = {"model": None if grid_only else
                   load_classifier() if classifier == "default" else classifier}

    # -- MNIST tab -------------------------------------------------------------------------
    conditional = pn.widgets.Checkbox(label="conditional (G and D are told the digit)", value=True)
    digit = pn.widgets.Select(label="Train on", options={"all digits": -1, **{str(d): d for d in range(10)}},
                              value=-1, width=120)
    lr = pn.widgets.Select(label="Learning rate", options=[1e-4, 2e-4, 5e-4, 1e-3], value=5e-4, width=120)
    interp = pn.widgets.FloatSlider(label="Latent interpolation z₀ → z₁", start=0, end=1, step=0.02, value=0.5,
                                    sizing_mode="stretch_width", max_width=380)
    gan = {"m": None}

    gray = LinearColorMapper(palette=[f"#{v:02x}{v:02x}{v:02x}" for v in range(255, -1, -4)], low=0, high=1)
    grid_src = ColumnDataSource(dict(image=[np.zeros((289, 289), np.float32)]))
    grid_fig = figure(width=380, height=400, x_range=Range1d(0, 1), y_range=Range1d(0, 1),
                      toolbar_location=None, title="Samples from fixed noise",
                      x_axis_location=None, y_axis_location=None)
    grid_fig.image("image", source=grid_src, x=0, y=0, dw=1, dh=1, color_mapper=gray)
    interp_src = ColumnDataSource(dict(image=[np.zeros((28, 289), np.float32)]))
    interp_fig = figure(width=380, height=48, x_range=Range1d(0, 1), y_range=Range1d(0, 1),
                        toolbar_location=None, x_axis_location=None, y_axis_location=None,
                        min_border=0)
    interp_fig.image("image", source=interp_src, x=0, y=0, dw=1, dh=1, color_mapper=gray)
    loss_src = ColumnDataSource(dict(step=[], d_loss=[], g_loss=[], d_real=[], d_fake=[]))
    spikes = ColumnDataSource(dict(step=[], y=[]))
    loss_fig = figure(width=440, height=210, toolbar_location=None, title="Losses", x_axis_label="step")
    loss_fig.line("step", "d_loss", source=loss_src, color="#d62728", legend_label="D loss", line_width=2)
    loss_fig.line("step", "g_loss", source=loss_src, color="#1f77b4", legend_label="G loss", line_width=2)
    add_marks(loss_fig, spikes)
    capped = Capped(loss_src, spikes)
    prob_fig = figure(width=440, height=210, toolbar_location=None, title="D's verdicts",
                      x_axis_label="step", y_range=(0, 1))
    prob_fig.line("step", "d_real", source=loss_src, color="#2ca02c", legend_label="D(real)", line_width=2)
    prob_fig.line("step", "d_fake", source=loss_src, color="#9467bd", legend_label="D(fake)", line_width=2)
    for f in (loss_fig, prob_fig):
        legend_above(f)
    hist_src = ColumnDataSource(dict(digit=[str(d) for d in range(10)], count=[0] * 10))
    hist_fig = figure(width=440, height=200, toolbar_location=None, x_range=[str(d) for d in range(10)],
                      title="Mode collapse? The digits a classifier sees in 200 samples")
    hist_fig.vbar(x="digit", top="count", source=hist_src, width=0.8, color="#8c564b")
    judge_md = pn.pane.Markdown("", sizing_mode="stretch_width")

    def build_gan(seed=0):
        d = None if digit.value == -1 else int(digit.value)
        gan["m"] = MnistGAN(conditional=conditional.value, digit=d, lr=lr.value, seed=seed, data=data)
        capped.reset(d_loss=[], g_loss=[], d_real=[], d_fake=[])
        refresh_images()
        refresh_judge()

    def refresh_images():
        m = gan["m"]
        grid_src.data = dict(image=[m.grid()[::-1].copy()])
        interp_src.data = dict(image=[m.interpolate(interp.value)[::-1].copy()])

    def refresh_judge():
        if grid_only:  # the embed shows no judge: skip its 200 samples
            return
        m, clf = gan["m"], judge_model["model"]
        if clf is None:
            judge_md.object = ("*No digits classifier: build it with* `python -m playground.training.assets` "
                               "*to see the class spread.*")
            return
        imgs, wanted = m.sample(200, seed=7)
        j = judge(clf, imgs, wanted if m.conditional else None)
        hist_src.data = dict(digit=[str(d) for d in range(10)], count=j["hist"].tolist())
        verdict = ("looks collapsed onto few digits" if j["spread"] < 0.6 and m.digit is None
                   else "healthy spread" if m.digit is None else f"training on {m.digit} only")
        agree = f" · asked-for digit recognised {j['agreement']:.0%}" if "agreement" in j else ""
        judge_md.object = (f"classes present **{j['classes']}/10** · spread {j['spread']:.2f} ({verdict}) · "
                           f"mean max-probability **{j['mean_max_prob']:.2f}**{agree}")
        gan["judge"] = j

    chunk_count = {"last": 0.0, "cost": 0.0}

    def on_chunk(metrics):
        m = gan["m"]
        mean = {k: float(np.mean([x[k] for x in metrics])) for k in ("d_loss", "g_loss", "d_real", "d_fake")}
        capped.stream(dict(step=[m.steps], **{k: [v] for k, v in mean.items()}), ys=("d_loss", "g_loss"))
        refresh_images()
        now = time.perf_counter()  # judging 200 samples costs time: at most ~1/4 of it
        if now - chunk_count["last"] >= 3 * chunk_count["cost"]:
            refresh_judge()
            chunk_count.update(last=time.perf_counter(), cost=time.perf_counter() - now)

    def on_stop(t):
        if t.error:  # diverged: mark where; the weights were restored, show them
            capped.diverged(t, gan["m"].steps)
            refresh_images()
        refresh_judge()

    trainer = Trainer(lambda: gan["m"].step(), chunk=10, chunk_seconds=0.25, on_chunk=on_chunk,
                      snapshot=lambda: gan["m"].state(), restore=lambda s: gan["m"].load_state(s),
                      on_reset=build_gan, on_stop=on_stop)
    conditional.param.watch(lambda e: trainer.rebuild(f"conditional → {e.new}"), "value")
    digit.param.watch(lambda e: trainer.rebuild(f"train on → {'all digits' if e.new == -1 else e.new}"),
                      "value")
    lr.param.watch(lambda e: trainer.queue(lambda: gan["m"].set_lr(e.new), f"learning rate {e.new}"), "value")
    interp.param.watch(lambda e: refresh_images(), "value")
    build_gan()

    if grid_only:
        for f in (loss_fig, prob_fig):
            f.width, f.height = 320, 190
            f.title.text_font_size = "9pt"
        layout = wrap(
            column(trainer_controls(trainer), wrap(digit, lr), conditional),
            pane(grid_fig), column(pane(loss_fig), pane(prob_fig), max_width=330),
            sizing_mode="stretch_width")
        layout.controls = dict(trainer=trainer, gan=gan, conditional=conditional, digit=digit, lr=lr,
                               grid=grid_src, losses=loss_src, spikes=spikes)
        return layout

    mnist_tab = wrap(
        column(trainer_controls(trainer), wrap(digit, lr), conditional, judge_md),
        column(pane(grid_fig), interp, pane(interp_fig)),
        column(pane(loss_fig), pane(prob_fig), pane(hist_fig), max_width=450),
        sizing_mode="stretch_width")

    # -- 2-D tab ---------------------------------------------------------------------------
    dist = pn.widgets.RadioButtonGroup(label="Real distribution", options=list(REAL_2D), value="ring")
    d_btn = pn.widgets.Button(label="D step", width=80)
    g_btn = pn.widgets.Button(label="G step", width=80)
    show_arrows = pn.widgets.Checkbox(label="gradient arrows on fake points", value=True)
    g2 = {"m": None}
    heat_map = LinearColorMapper(palette=PURPLE_GREEN, low=0, high=1)
    heat_src = ColumnDataSource(dict(image=[np.zeros((60, 60), np.float32)]))
    real_src = ColumnDataSource(dict(x=[], y=[]))
    fake_src = ColumnDataSource(dict(x=[], y=[]))
    arrow_src = ColumnDataSource(dict(x0=[], y0=[], x1=[], y1=[]))
    curve2_src = ColumnDataSource(dict(step=[], d_loss=[], g_loss=[]))
    spikes2 = ColumnDataSource(dict(step=[], y=[]))
    fig2 = figure(width=460, height=480, x_range=Range1d(-1.2, 1.2), y_range=Range1d(-1.2, 1.2),
                  toolbar_location=None, title="D(x): green = 'real', purple = 'fake'")
    fig2.image("image", source=heat_src, x=-1.2, y=-1.2, dw=2.4, dh=2.4, color_mapper=heat_map, alpha=0.6)
    fig2.scatter("x", "y", source=real_src, color="#2ca02c", size=5, legend_label="real")
    fig2.scatter("x", "y", source=fake_src, color="#7b3294", size=5, legend_label="generated")
    fig2.segment("x0", "y0", "x1", "y1", source=arrow_src, color="#444", line_width=1)
    curve2 = figure(width=440, height=260, toolbar_location=None, title="Losses", x_axis_label="step")
    curve2.line("step", "d_loss", source=curve2_src, color="#d62728", legend_label="D loss", line_width=2)
    curve2.line("step", "g_loss", source=curve2_src, color="#1f77b4", legend_label="G loss", line_width=2)
    add_marks(curve2, spikes2)
    capped2 = Capped(curve2_src, spikes2)
    for f in (fig2, curve2):
        legend_above(f)
    step_md = pn.pane.Markdown("", sizing_mode="stretch_width")

    def build_2d(seed=0):
        g2["m"] = Gan2D(dist.value, seed=seed)
        capped2.reset(d_loss=[], g_loss=[])
        real_src.data = dict(x=g2["m"].real_shown[:, 0].tolist(), y=g2["m"].real_shown[:, 1].tolist())
        draw_2d()

    def draw_2d():
        m = g2["m"]
        heat_src.data = dict(image=[m.heatmap()])
        pts, push = m.arrows()
        fake_src.data = dict(x=pts[:, 0].tolist(), y=pts[:, 1].tolist())
        if show_arrows.value:
            norm = np.linalg.norm(push, axis=1, keepdims=True)
            scale = 0.12 / max(float(np.percentile(norm, 90)), 1e-8)
            end = pts + np.clip(push * scale, -0.2, 0.2)
            arrow_src.data = dict(x0=pts[:, 0].tolist(), y0=pts[:, 1].tolist(),
                                  x1=end[:, 0].tolist(), y1=end[:, 1].tolist())
        else:
            arrow_src.data = dict(x0=[], y0=[], x1=[], y1=[])
        def last(k):  # "—" until that network has taken a step
            return "—" if math.isnan(m.last[k]) else f"{m.last[k]:.3f}"
        step_md.object = (f"D steps {m.d_steps} · G steps {m.g_steps} · last D loss {last('d_loss')} · "
                          f"last G loss {last('g_loss')}")

    def on_chunk_2d(metrics):
        m = g2["m"]
        capped2.stream(dict(step=[m.g_steps], d_loss=[metrics[-1]["d_loss"]], g_loss=[metrics[-1]["g_loss"]]),
                       ys=("d_loss", "g_loss"))
        draw_2d()

    def on_stop_2d(t):
        if t.error:
            capped2.diverged(t, g2["m"].g_steps)
            draw_2d()

    trainer2 = Trainer(lambda: g2["m"].step(), chunk=10, chunk_seconds=0.2, on_chunk=on_chunk_2d,
                       snapshot=lambda: g2["m"].state(), restore=lambda s: g2["m"].load_state(s),
                       on_reset=build_2d, on_stop=on_stop_2d)

    def manual(kind):
        if trainer2.running:
            trainer2.pause()
        (g2["m"].d_step if kind == "d" else g2["m"].g_step)()
        draw_2d()

    d_btn.on_click(lambda e: manual("d"))
    g_btn.on_click(lambda e: manual("g"))
    dist.param.watch(lambda e: trainer2.rebuild(f"real distribution → {e.new}"), "value")
    show_arrows.param.watch(lambda e: draw_2d(), "value")
    build_2d()

    anatomy_tab = wrap(
        column(trainer_controls(trainer2, seed=True), dist,
                  pn.Row(pn.pane.Markdown("**Step by step:**"), d_btn, g_btn), show_arrows, step_md,
                  pn.pane.Markdown("The arrows show **−∂(G's loss)/∂x** at each generated point: where "
                                   "the generator's next step will push it, uphill on D's heat-map.",
                                   sizing_mode="stretch_width")),
        pane(fig2), pane(curve2), sizing_mode="stretch_width")

    layout = pn.Column("## GAN studio",
                       pn.Tabs(("MNIST GAN", mnist_tab), ("2-D anatomy", anatomy_tab), dynamic=False,
                               sizing_mode="stretch_width"),
                       sizing_mode="stretch_width")
    layout.controls = dict(trainer=trainer, gan=gan, conditional=conditional, digit=digit, lr=lr,
                           interp=interp, grid=grid_src, interp_img=interp_src, losses=loss_src,
                           hist=hist_src, judge_md=judge_md, judge_model=judge_model,
                           trainer2d=trainer2, gan2d=g2, dist=dist, d_step=d_btn, g_step=g_btn,
                           show_arrows=show_arrows, heat=heat_src, real=real_src, fake=fake_src,
                           arrows=arrow_src, losses2d=curve2_src, step_md=step_md, spikes=spikes,
                           spikes2d=spikes2)
    return layout
