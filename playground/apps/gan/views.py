"""The GAN studio's two tabs as thin views over their states (``run.MnistGAN``,
``anatomy.Gan2D``): each makes its widgets, plots and trainer, redraws on every chunk, and
hands the page its layout."""
from __future__ import annotations

import math

import numpy as np
import panel as pn
from bokeh.models import ColumnDataSource, LinearColorMapper, Range1d

from playground.apps.gan.anatomy import REAL_2D, Gan2D
from playground.apps.gan.run import MnistGAN, judge
from playground.training.trainer import Trainer
from playground.ui.curves import Capped, add_marks, legend_above
from playground.ui.layout import column, pane, wrap
from playground.ui.pacing import Paced
from playground.ui.palettes import PURPLE_GREEN
from playground.ui.plots import figure
from playground.ui.trainer_controls import trainer_controls

GRAY = [f"#{v:02x}{v:02x}{v:02x}" for v in range(255, -1, -4)]
DIGITS = [str(d) for d in range(10)]


def loss_figure(source, title="Losses", width=440, height=210):
    """D's and G's losses against the step."""
    fig = figure(width=width, height=height, toolbar_location=None, title=title, x_axis_label="step")
    fig.line("step", "d_loss", source=source, color="#d62728", legend_label="D loss", line_width=2)
    fig.line("step", "g_loss", source=source, color="#1f77b4", legend_label="G loss", line_width=2)
    return fig


def image_figure(source, width, height, **kw):
    """A gray image filling the unit square, no axes."""
    fig = figure(width=width, height=height, x_range=Range1d(0, 1), y_range=Range1d(0, 1),
                 toolbar_location=None, x_axis_location=None, y_axis_location=None, **kw)
    fig.image("image", source=source, x=0, y=0, dw=1, dh=1,
              color_mapper=LinearColorMapper(palette=GRAY, low=0, high=1))
    return fig


class MnistView:
    """The MNIST GAN tab: conditional / digit / learning-rate controls, the fixed-noise grid,
    a latent interpolation, losses, D's verdicts and (``judging``) the classifier's verdict."""

    def __init__(self, data, judge_model, judging=True):
        self.data, self.judge_model, self.judging = data, judge_model, judging
        self.gan = {"m": None}  # the current MnistGAN (replaced on Reset)
        self.conditional = pn.widgets.Checkbox(label="conditional (G and D are told the digit)", value=True)
        self.digit = pn.widgets.Select(label="Train on", value=-1, width=120,
                                       options={"all digits": -1, **{str(d): d for d in range(10)}})
        self.lr = pn.widgets.Select(label="Learning rate", options=[1e-4, 2e-4, 5e-4, 1e-3], value=5e-4,
                                    width=120)
        self.interp = pn.widgets.FloatSlider(label="Latent interpolation z₀ → z₁", start=0, end=1, step=0.02,
                                             value=0.5, sizing_mode="stretch_width", max_width=380)
        self.judge_md = pn.pane.Markdown("", sizing_mode="stretch_width")

        self.grid = ColumnDataSource(dict(image=[np.zeros((289, 289), np.float32)]))
        self.grid_fig = image_figure(self.grid, 380, 400, title="Samples from fixed noise")
        self.interp_img = ColumnDataSource(dict(image=[np.zeros((28, 289), np.float32)]))
        self.interp_fig = image_figure(self.interp_img, 380, 48, min_border=0)
        self.losses = ColumnDataSource(dict(step=[], d_loss=[], g_loss=[], d_real=[], d_fake=[]))
        self.spikes = ColumnDataSource(dict(step=[], y=[]))
        self.loss_fig = loss_figure(self.losses)
        add_marks(self.loss_fig, self.spikes)
        self.capped = Capped(self.losses, self.spikes)
        self.prob_fig = figure(width=440, height=210, toolbar_location=None, title="D's verdicts",
                               x_axis_label="step", y_range=(0, 1))
        self.prob_fig.line("step", "d_real", source=self.losses, color="#2ca02c", legend_label="D(real)",
                           line_width=2)
        self.prob_fig.line("step", "d_fake", source=self.losses, color="#9467bd", legend_label="D(fake)",
                           line_width=2)
        for f in (self.loss_fig, self.prob_fig):
            legend_above(f)
        self.hist = ColumnDataSource(dict(digit=DIGITS, count=[0] * 10))
        self.hist_fig = figure(width=440, height=200, toolbar_location=None, x_range=DIGITS,
                               title="Mode collapse? The digits a classifier sees in 200 samples")
        self.hist_fig.vbar(x="digit", top="count", source=self.hist, width=0.8, color="#8c564b")

        self.judge_paced = Paced(self.refresh_judge)  # judging 200 samples costs time: ~1/4 of it
        self.trainer = Trainer(lambda: self.gan["m"].step(), chunk=10, chunk_seconds=0.25,
                               on_chunk=self.on_chunk, snapshot=lambda: self.gan["m"].state(),
                               restore=lambda s: self.gan["m"].load_state(s), on_reset=self.build,
                               on_stop=self.on_stop)
        t = self.trainer
        self.conditional.param.watch(lambda e: t.rebuild(f"conditional → {e.new}"), "value")
        self.digit.param.watch(lambda e: t.rebuild(
            f"train on → {'all digits' if e.new == -1 else e.new}"), "value")
        self.lr.param.watch(lambda e: t.queue(lambda: self.gan["m"].set_lr(e.new), f"learning rate {e.new}"),
                            "value")
        self.interp.param.watch(lambda e: self.refresh_images(), "value")
        self.build()

    def build(self, seed=0):
        d = None if self.digit.value == -1 else int(self.digit.value)
        self.gan["m"] = MnistGAN(conditional=self.conditional.value, digit=d, lr=self.lr.value, seed=seed,
                                 data=self.data)
        self.capped.reset(d_loss=[], g_loss=[], d_real=[], d_fake=[])
        self.refresh_images()
        self.refresh_judge()

    def refresh_images(self):
        m = self.gan["m"]
        self.grid.data = dict(image=[m.grid()[::-1].copy()])
        self.interp_img.data = dict(image=[m.interpolate(self.interp.value)[::-1].copy()])

    def refresh_judge(self):
        if not self.judging:  # the embed shows no judge: skip its 200 samples
            return
        m, clf = self.gan["m"], self.judge_model["model"]
        if clf is None:
            self.judge_md.object = ("*No digits classifier: build it with* `python -m playground.training.assets` "
                                    "*to see the class spread.*")
            return
        imgs, wanted = m.sample(200, seed=7)
        j = judge(clf, imgs, wanted if m.conditional else None)
        self.hist.data = dict(digit=DIGITS, count=j["hist"].tolist())
        verdict = ("looks collapsed onto few digits" if j["spread"] < 0.6 and m.digit is None
                   else "healthy spread" if m.digit is None else f"training on {m.digit} only")
        agree = f" · asked-for digit recognised {j['agreement']:.0%}" if "agreement" in j else ""
        self.judge_md.object = (f"classes present **{j['classes']}/10** · spread {j['spread']:.2f} ({verdict}) · "
                                f"mean max-probability **{j['mean_max_prob']:.2f}**{agree}")
        self.gan["judge"] = j

    def on_chunk(self, metrics):
        m = self.gan["m"]
        mean = {k: float(np.mean([x[k] for x in metrics])) for k in ("d_loss", "g_loss", "d_real", "d_fake")}
        self.capped.stream(dict(step=[m.steps], **{k: [v] for k, v in mean.items()}), ys=("d_loss", "g_loss"))
        self.refresh_images()
        self.judge_paced()

    def on_stop(self, t):
        if t.error:  # diverged: mark where; the weights were restored, show them
            self.capped.diverged(t, self.gan["m"].steps)
            self.refresh_images()
        self.refresh_judge()

    def grid_layout(self):
        """The embed: trainer controls, the live grid and small loss curves."""
        for f in (self.loss_fig, self.prob_fig):
            f.width, f.height = 320, 190
            f.title.text_font_size = "9pt"
        return wrap(column(trainer_controls(self.trainer), wrap(self.digit, self.lr), self.conditional),
                    pane(self.grid_fig), column(pane(self.loss_fig), pane(self.prob_fig), max_width=330),
                    sizing_mode="stretch_width")

    def layout(self):
        return wrap(
            column(trainer_controls(self.trainer), wrap(self.digit, self.lr), self.conditional, self.judge_md),
            column(pane(self.grid_fig), self.interp, pane(self.interp_fig)),
            column(pane(self.loss_fig), pane(self.prob_fig), pane(self.hist_fig), max_width=450),
            sizing_mode="stretch_width")

    def controls(self):
        c = dict(trainer=self.trainer, gan=self.gan, conditional=self.conditional, digit=self.digit,
                 lr=self.lr, grid=self.grid, losses=self.losses, spikes=self.spikes)
        if self.judging:
            c.update(interp=self.interp, interp_img=self.interp_img, hist=self.hist, judge_md=self.judge_md,
                     judge_model=self.judge_model)
        return c


class AnatomyView:
    """The 2-D tab: D's heat-map, real and generated points, the gradient arrows on the fakes,
    the losses; train continuously or one D step / G step at a time."""

    def __init__(self):
        self.gan2d = {"m": None}  # the current Gan2D (replaced on Reset)
        self.dist = pn.widgets.RadioButtonGroup(label="Real distribution", options=list(REAL_2D), value="ring")
        self.d_step = pn.widgets.Button(label="D step", width=80)
        self.g_step = pn.widgets.Button(label="G step", width=80)
        self.show_arrows = pn.widgets.Checkbox(label="gradient arrows on fake points", value=True)
        self.step_md = pn.pane.Markdown("", sizing_mode="stretch_width")

        self.heat = ColumnDataSource(dict(image=[np.zeros((60, 60), np.float32)]))
        self.real = ColumnDataSource(dict(x=[], y=[]))
        self.fake = ColumnDataSource(dict(x=[], y=[]))
        self.arrows = ColumnDataSource(dict(x0=[], y0=[], x1=[], y1=[]))
        self.losses = ColumnDataSource(dict(step=[], d_loss=[], g_loss=[]))
        self.spikes = ColumnDataSource(dict(step=[], y=[]))
        self.fig = figure(width=460, height=480, x_range=Range1d(-1.2, 1.2), y_range=Range1d(-1.2, 1.2),
                          toolbar_location=None, title="D(x): green = 'real', purple = 'fake'")
        self.fig.image("image", source=self.heat, x=-1.2, y=-1.2, dw=2.4, dh=2.4,
                       color_mapper=LinearColorMapper(palette=PURPLE_GREEN, low=0, high=1), alpha=0.6)
        self.fig.scatter("x", "y", source=self.real, color="#2ca02c", size=5, legend_label="real")
        self.fig.scatter("x", "y", source=self.fake, color="#7b3294", size=5, legend_label="generated")
        self.fig.segment("x0", "y0", "x1", "y1", source=self.arrows, color="#444", line_width=1)
        self.curve = loss_figure(self.losses, height=260)
        add_marks(self.curve, self.spikes)
        self.capped = Capped(self.losses, self.spikes)
        for f in (self.fig, self.curve):
            legend_above(f)

        self.trainer = Trainer(lambda: self.gan2d["m"].step(), chunk=10, chunk_seconds=0.2,
                               on_chunk=self.on_chunk, snapshot=lambda: self.gan2d["m"].state(),
                               restore=lambda s: self.gan2d["m"].load_state(s), on_reset=self.build,
                               on_stop=self.on_stop)
        self.d_step.on_click(lambda e: self.manual("d"))
        self.g_step.on_click(lambda e: self.manual("g"))
        self.dist.param.watch(lambda e: self.trainer.rebuild(f"real distribution → {e.new}"), "value")
        self.show_arrows.param.watch(lambda e: self.draw(), "value")
        self.build()

    def build(self, seed=0):
        m = self.gan2d["m"] = Gan2D(self.dist.value, seed=seed)
        self.capped.reset(d_loss=[], g_loss=[])
        self.real.data = dict(x=m.real_shown[:, 0].tolist(), y=m.real_shown[:, 1].tolist())
        self.draw()

    def draw(self):
        m = self.gan2d["m"]
        self.heat.data = dict(image=[m.heatmap()])
        pts, push = m.arrows()
        self.fake.data = dict(x=pts[:, 0].tolist(), y=pts[:, 1].tolist())
        if self.show_arrows.value:
            norm = np.linalg.norm(push, axis=1, keepdims=True)
            scale = 0.12 / max(float(np.percentile(norm, 90)), 1e-8)
            end = pts + np.clip(push * scale, -0.2, 0.2)
            self.arrows.data = dict(x0=pts[:, 0].tolist(), y0=pts[:, 1].tolist(),
                                    x1=end[:, 0].tolist(), y1=end[:, 1].tolist())
        else:
            self.arrows.data = dict(x0=[], y0=[], x1=[], y1=[])

        def last(k):  # "—" until that network has taken a step
            return "—" if math.isnan(m.last[k]) else f"{m.last[k]:.3f}"
        self.step_md.object = (f"D steps {m.d_steps} · G steps {m.g_steps} · last D loss {last('d_loss')} · "
                               f"last G loss {last('g_loss')}")

    def on_chunk(self, metrics):
        m = self.gan2d["m"]
        self.capped.stream(dict(step=[m.g_steps], d_loss=[metrics[-1]["d_loss"]], g_loss=[metrics[-1]["g_loss"]]),
                           ys=("d_loss", "g_loss"))
        self.draw()

    def on_stop(self, t):
        if t.error:
            self.capped.diverged(t, self.gan2d["m"].g_steps)
            self.draw()

    def manual(self, kind):
        if self.trainer.running:
            self.trainer.pause()
        (self.gan2d["m"].d_step if kind == "d" else self.gan2d["m"].g_step)()
        self.draw()

    def layout(self):
        return wrap(
            column(trainer_controls(self.trainer, seed=True), self.dist,
                   pn.Row(pn.pane.Markdown("**Step by step:**"), self.d_step, self.g_step), self.show_arrows,
                   self.step_md,
                   pn.pane.Markdown("The arrows show **−∂(G's loss)/∂x** at each generated point: where "
                                    "the generator's next step will push it, uphill on D's heat-map.",
                                    sizing_mode="stretch_width")),
            pane(self.fig), pane(self.curve), sizing_mode="stretch_width")

    def controls(self):
        return dict(trainer2d=self.trainer, gan2d=self.gan2d, dist=self.dist, d_step=self.d_step,
                    g_step=self.g_step, show_arrows=self.show_arrows, heat=self.heat, real=self.real,
                    fake=self.fake, arrows=self.arrows, losses2d=self.losses, step_md=self.step_md,
                    spikes2d=self.spikes)
