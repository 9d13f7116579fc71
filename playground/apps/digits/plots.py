"""The Digits app's figures and their data sources: loss and accuracy curves, the confusion
matrix, the held-out mistakes, the drawing's class probabilities and what the model sees;
"Inside the model" (the first layer's weights as images, per-layer activation and gradient
histograms) is built on demand by ``show_inside()``. ``DigitsPlots`` draws what it is given
(plain arrays and numbers from the run, run.py); app.py decides when.
"""
from __future__ import annotations

import numpy as np
import panel as pn
from bokeh.models import BasicTickFormatter, ColumnDataSource, LinearColorMapper, Range1d

from playground.ui.plots import figure

N_MISTAKES = 24
LOSS_CAP = 2 * np.log(10)  # the loss plot stops here (twice chance level): a spike is marked
PROBE = 256            # held-out digits used for the activation histograms


# --------------------------------------------------------------------------- mosaics

def mosaic(tiles, cols, pad=1, fill=np.nan):
    """(n, h, w) tiles -> one (rows*(h+pad)-pad, cols*(w+pad)-pad) image, row-major."""
    n, h, w = tiles.shape
    rows = max(1, -(-n // cols))
    out = np.full((rows * (h + pad) - pad, cols * (w + pad) - pad), fill, np.float32)
    for i in range(n):
        r, c = divmod(i, cols)
        out[r * (h + pad):r * (h + pad) + h, c * (w + pad):c * (w + pad) + w] = tiles[i]
    return out


# --------------------------------------------------------------------------- figures

class DigitsPlots:
    """The figures and their data sources."""

    def __init__(self):
        self.inside = False      # the "Inside the model" figures: built by show_inside()
        self.hist_panel = pn.Column()
        self.train_src = ColumnDataSource({"epoch": [], "loss": [], "acc": []}, name="train")
        self.test_src = ColumnDataSource({"epoch": [], "loss": [], "acc": []}, name="held-out")
        kw = dict(height=250, width=430, tools="pan,wheel_zoom,reset,hover", toolbar_location="above")
        self.loss_fig = figure(title="Loss (cross-entropy)", x_axis_label="epoch", **kw)
        self.acc_fig = figure(title="Accuracy", x_axis_label="epoch", y_range=Range1d(0, 1.0), **kw)
        for fig, col in ((self.loss_fig, "loss"), (self.acc_fig, "acc")):
            fig.line("epoch", col, source=self.train_src, color="#9db4d6", legend_label="train (batches)")
            fig.line("epoch", col, source=self.test_src, color="#d62728", line_width=2,
                     legend_label="held-out")
            fig.scatter("epoch", col, source=self.test_src, color="#d62728", size=4)
        # losses above LOSS_CAP are drawn at it, marked; so are the runs that diverged
        self.spike_src = ColumnDataSource({"epoch": [], "loss": []}, name="off-the-chart")
        self.diverged_src = ColumnDataSource({"epoch": [], "loss": []}, name="diverged")
        self.loss_fig.scatter("epoch", "loss", source=self.spike_src, marker="triangle", size=8,
                              color="#7f3fbf", legend_label=f"above {LOSS_CAP:.1f}")
        self.loss_fig.scatter("epoch", "loss", source=self.diverged_src, marker="x", size=14,
                              line_width=3, color="black", legend_label="diverged: restored")
        for fig, where in ((self.loss_fig, "top_right"), (self.acc_fig, "bottom_right")):
            fig.legend.location = where
            fig.legend.label_text_font_size = "8pt"
            fig.legend.padding, fig.legend.spacing, fig.legend.glyph_height = 4, 0, 12

        # confusion matrix: true (rows) x predicted (columns)
        t, p = np.meshgrid(np.arange(10), np.arange(10), indexing="ij")
        self.conf_src = ColumnDataSource({"true": t.ravel(), "pred": p.ravel(),
                                          "count": np.zeros(100, int), "frac": np.zeros(100),
                                          "label": [""] * 100, "text_color": ["black"] * 100})
        cf = figure(title="Confusion matrix (held-out)", width=330, height=330,
                    x_range=Range1d(-0.5, 9.5), y_range=Range1d(9.5, -0.5),
                    x_axis_label="predicted", y_axis_label="true", tools="hover",
                    tooltips=[("true", "@true"), ("predicted", "@pred"), ("count", "@count")],
                    toolbar_location=None)
        mapper = LinearColorMapper(palette=_blues(), low=0, high=1)
        cf.rect("pred", "true", 1, 1, source=self.conf_src, line_color="white",
                fill_color={"field": "frac", "transform": mapper})
        cf.text("pred", "true", text="label", source=self.conf_src, text_align="center",
                text_baseline="middle", text_font_size="8pt", text_color="text_color")
        cf.xaxis.ticker = cf.yaxis.ticker = list(range(10))
        cf.grid.visible = False
        self.conf_fig = cf

        # mistakes gallery: one grey mosaic + "true→guess" labels
        self.mistake_src = ColumnDataSource({"image": [np.zeros((1, 1), np.float32)], "dw": [1], "dh": [1]})
        self.mistake_lbl = ColumnDataSource({"x": [], "y": [], "text": []})
        mf = figure(title="Held-out mistakes (true → guess)", width=520, height=330,
                    toolbar_location=None, tools="", x_range=Range1d(0, 8 * 29), y_range=Range1d(0, 3 * 39))
        mf.image("image", x=0, y=0, dw="dw", dh="dh", source=self.mistake_src,
                 color_mapper=LinearColorMapper(palette="Greys256", low=1, high=0, nan_color="white"))
        mf.text("x", "y", text="text", source=self.mistake_lbl, text_align="center",
                text_font_size="9pt", text_color="#b00")
        _bare(mf)
        self.mistake_fig = mf

        # the first layer's weights as one image (its figure: show_inside())
        self.w_src = ColumnDataSource({"image": [np.zeros((1, 1), np.float32)], "dw": [1], "dh": [1]})
        self.w_fig = None

        # the drawing as the model sees it, and its class probabilities
        self.seen_src = ColumnDataSource({"image": [np.zeros((28, 28), np.float32)]})
        sf = figure(title="What the model sees (28×28)", width=200, height=220, toolbar_location=None,
                    tools="", x_range=Range1d(0, 28), y_range=Range1d(0, 28))
        sf.image("image", x=0, y=0, dw=28, dh=28, source=self.seen_src,
                 color_mapper=LinearColorMapper(palette="Greys256", low=1, high=0))
        _bare(sf)
        sf.outline_line_color = "#999"
        self.seen_fig = sf
        self.prob_src = ColumnDataSource({"digit": [str(i) for i in range(10)], "p": [0.0] * 10,
                                          "color": ["#9db4d6"] * 10}, name="probs")
        pf = figure(title="Class probabilities", width=300, height=220, toolbar_location=None,
                    tools="", x_range=[str(i) for i in range(10)], y_range=Range1d(0, 1.0))
        pf.vbar(x="digit", top="p", width=0.8, color="color", source=self.prob_src)
        pf.xgrid.visible = False
        self.prob_fig = pf
        self.hist_figs = []

    # ------------------------------------------------------------------ curves
    def stream_point(self, src, epoch, loss, acc, rollover):
        """One point of a curve; a loss above LOSS_CAP is drawn at the cap and marked, so one
        spike (1e35) does not flatten every later curve onto zero."""
        if loss > LOSS_CAP:
            self.spike_src.stream({"epoch": [epoch], "loss": [LOSS_CAP]}, rollover=500)
        src.stream({"epoch": [epoch], "loss": [min(loss, LOSS_CAP)], "acc": [acc]}, rollover=rollover)

    def mark_divergence(self, epoch):
        """An x where a run diverged and was restored; its points past ``epoch`` are undone."""
        for src in (self.train_src, self.test_src, self.spike_src):
            d = dict(src.data)
            if any(e > epoch for e in d["epoch"]):
                keep = [i for i, e in enumerate(d["epoch"]) if e <= epoch]
                src.data = {k: [v[i] for i in keep] for k, v in d.items()}
        self.diverged_src.stream({"epoch": [epoch], "loss": [LOSS_CAP]}, rollover=500)

    def clear_curves(self):
        for src in (self.train_src, self.test_src, self.spike_src, self.diverged_src):
            src.data = {k: [] for k in src.data}

    # ------------------------------------------------------------------ inside the model
    def show_inside(self, names) -> bool:
        """Build the "Inside the model" figures (first-layer weights, and the activation and
        gradient histograms of the weight layers ``names``); False if they were there."""
        if self.inside:
            return False
        self.inside = True
        # first-layer weights (diverging colours: blue positive, red negative)
        wf = figure(title="First-layer weights", width=520, height=280, toolbar_location=None,
                    tools="", match_aspect=True)
        wf.image("image", x=0, y=0, dw="dw", dh="dh", source=self.w_src,
                 color_mapper=LinearColorMapper(palette=_rdbu(), low=-1, high=1, nan_color="white"))
        _bare(wf)
        self.w_fig = wf
        self.make_hist_figures(names)
        return True

    def make_hist_figures(self, names):
        """One activation and one gradient histogram per weight layer (``names``: the current
        model's); none until show_inside()."""
        self.hist_figs = []
        if not self.inside:
            return
        for name in names:
            row = []
            for kind, color in (("activations", "#1f77b4"), ("weight gradients", "#ff7f0e")):
                src = ColumnDataSource({"left": [], "right": [], "top": []})
                f = figure(title=f"{name}: {kind}", width=260, height=150, toolbar_location=None,
                           tools="")
                f.quad(left="left", right="right", bottom=0, top="top", source=src, color=color,
                       line_color=None)
                f.title.text_font_size = "8pt"
                f.yaxis.visible = False
                # few, short labels: gradients are ~1e-4 and five of them overlapped at 260 px
                f.xaxis.ticker.desired_num_ticks = 3
                f.xaxis.formatter = BasicTickFormatter(precision=1, power_limit_low=-2, power_limit_high=3)
                f.xaxis.major_label_text_font_size = "8pt"
                row.append((f, src))
            self.hist_figs.append(row)
        self.hist_panel.objects = [pn.Row(*(pn.pane.Bokeh(f) for f, _ in row)) for row in self.hist_figs]

    def show_histograms(self, acts, grads):
        """Per weight layer: its outputs on PROBE held-out digits (``acts``) and its weights'
        last gradient (``grads``, None before any step)."""
        last = len(grads) - 1
        for i, (row, a, g) in enumerate(zip(self.hist_figs, acts, grads)):
            (fa, sa), (fg, sg) = row
            if not np.isfinite(a).all():  # a model on its way to NaN: nothing to draw
                continue
            top, edges = np.histogram(a.ravel(), bins=40)
            sa.data = {"left": edges[:-1], "right": edges[1:], "top": top}
            units = a.reshape(a.shape[0], a.shape[1], -1).max(axis=(0, 2)) if a.ndim > 2 else a.max(0)
            dead = float((units <= 0).mean()) if a.min() >= 0 else 0.0
            fa.title.text = f"{fa.title.text.split(':')[0]}: activations" + (
                f" — {dead:.0%} dead units" if a.min() >= 0 and i != last else "")
            if g is not None and np.isfinite(g).all() and np.ptp(g) > 0:
                top, edges = np.histogram(g.ravel(), bins=40)
                sg.data = {"left": edges[:-1], "right": edges[1:], "top": top}

    def show_weights(self, tiles, cols):
        """The first layer's weights (``run.first_layer_tiles``), each tile scaled to ±1."""
        if tiles is None or self.w_fig is None:
            return
        scale = np.abs(tiles).reshape(len(tiles), -1).max(1)[:, None, None] + 1e-8
        img = mosaic(tiles / scale, cols=cols, pad=1)
        self.w_src.data = {"image": [np.flipud(img)], "dw": [img.shape[1]], "dh": [img.shape[0]]}
        self.w_fig.x_range.start, self.w_fig.x_range.end = 0, img.shape[1]
        self.w_fig.y_range.start, self.w_fig.y_range.end = 0, img.shape[0]
        kind = "28×28 input weights of the first units" if tiles.shape[-1] == 28 else "3×3 kernels"
        self.w_fig.title.text = f"First-layer weights ({len(tiles)} {kind}; blue +, red −)"

    # ------------------------------------------------------------------ held-out, drawing
    def show_eval(self, ev, x, y):
        """An evaluation (``run.evaluate``) of the held-out digits ``x``, labels ``y``."""
        if np.isfinite(ev["loss"]):
            self.stream_point(self.test_src, ev["epoch"], ev["loss"], ev["acc"], rollover=2000)
        self._show_confusion(ev["pred"], y)
        self._show_mistakes(ev["pred"], x, y)
        self.acc_fig.title.text = f"Accuracy — held-out {ev['acc']:.2%}"

    def _show_confusion(self, pred, y):
        cm = np.zeros((10, 10), int)
        np.add.at(cm, (y, pred), 1)
        frac = cm / np.maximum(cm.sum(1, keepdims=True), 1)
        self.conf_src.data = {**dict(self.conf_src.data), "count": cm.ravel(), "frac": frac.ravel(),
                              "label": [str(c) if c else "" for c in cm.ravel()],
                              "text_color": ["white" if f > 0.55 else "black" for f in frac.ravel()]}

    def _show_mistakes(self, pred, x, y):
        wrong = np.flatnonzero(pred != y)[:N_MISTAKES]
        tiles = x[wrong, 0] if len(wrong) else np.zeros((0, 28, 28), np.float32)
        img = mosaic(np.concatenate([tiles, np.full((N_MISTAKES - len(tiles), 28, 28), np.nan,
                                                    np.float32)]), cols=8, pad=1, fill=np.nan)
        # leave 10 px under each row for the label: rebuild rows with gaps
        rows = [img[r * 29:r * 29 + 28] for r in range(3)]
        gap = np.full((10, img.shape[1]), np.nan, np.float32)
        full = np.concatenate([np.concatenate([row, gap]) for row in rows])
        self.mistake_src.data = {"image": [np.flipud(full)], "dw": [full.shape[1]], "dh": [full.shape[0]]}
        xs, ys, text = [], [], []
        H = full.shape[0]
        for i, j in enumerate(wrong):
            r, c = divmod(i, 8)
            xs.append(c * 29 + 14)
            ys.append(H - (r * 38 + 28) - 9)
            text.append(f"{y[j]}→{pred[j]}")
        self.mistake_lbl.data = {"x": xs, "y": ys, "text": text}
        n_wrong = int((pred != y).sum())
        self.mistake_fig.title.text = (f"Held-out mistakes: {n_wrong} of {len(y)} "
                                       f"(true → guess; first {len(wrong)})")

    def show_drawing(self, seen=None, p=None):
        """The drawing as the model sees it (28x28) and its class probabilities; none: empty."""
        if p is None:
            self.seen_src.data = {"image": [np.zeros((28, 28), np.float32)]}
            self.prob_src.data = {**dict(self.prob_src.data), "p": [0.0] * 10,
                                  "color": ["#9db4d6"] * 10}
            self.prob_fig.title.text = "Class probabilities (draw a digit)"
            return
        top = int(p.argmax())
        self.seen_src.data = {"image": [np.flipud(seen)]}
        self.prob_src.data = {**dict(self.prob_src.data), "p": [float(v) for v in p],
                              "color": ["#d62728" if i == top else "#9db4d6" for i in range(10)]}
        self.prob_fig.title.text = f"Class probabilities — guess: {top} ({p[top]:.0%})"


def _bare(fig):
    fig.axis.visible = False
    fig.grid.visible = False
    fig.outline_line_color = None


def _blues():
    return [f"#{int(255 - t * 225):02x}{int(255 - t * 160):02x}{int(255 - t * 40):02x}"
            for t in np.linspace(0, 1, 64)]


def _rdbu():
    out = []
    for t in np.linspace(-1, 1, 129):
        if t < 0:
            r, g, b = 255, int(255 * (1 + t)), int(255 * (1 + t))
        else:
            r, g, b = int(255 * (1 - t)), int(255 * (1 - t * 0.6)), 255
        out.append(f"#{r:02x}{g:02x}{b:02x}")
    return out
