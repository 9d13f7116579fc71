"""The names app's figures and their data sources: the loss curve, the next-letter heat-map,
the MLP's letter embeddings and the transformer's attention map. ``NamesPlots`` draws what it
is given (arrays and numbers from the lab, lab.py); views.py decides when."""
from __future__ import annotations

import numpy as np
from bokeh.models import ColumnDataSource, LinearColorMapper, Range1d

from playground.apps.names import model as M
from playground.ui.curves import Capped, add_marks, legend_above
from playground.ui.plots import figure

HEAT_TITLES = {"bigram": "the counts so far", "neural": "softmax(W)",  # titles fit 380 px
               "mlp": "the MLP's, mean over val", "transformer": "the transformer's, mean over val"}


def letter_axes(fig, letters):
    """One tick per cell, labelled with its letter, on both axes."""
    fig.xaxis.ticker = fig.yaxis.ticker = list(np.arange(len(letters)) + 0.5)
    fig.xaxis.major_label_overrides = fig.yaxis.major_label_overrides = {
        float(i + 0.5): c for i, c in enumerate(letters)}


class NamesPlots:
    """The figures (``curve``, ``heat``, ``emb``, ``att``) and their sources."""

    def __init__(self):
        self.curve_src = ColumnDataSource(dict(step=[], train=[], val=[]))
        self.spikes = ColumnDataSource(dict(step=[], y=[]))
        self.curve = figure(width=460, height=330, toolbar_location=None, title="Loss (nats per character)",
                            x_axis_label="step")
        self.curve.line("step", "train", source=self.curve_src, legend_label="train (batch)", line_width=2)
        self.curve.line("step", "val", source=self.curve_src, legend_label="val", color="#ff7f0e",
                        line_width=2)
        add_marks(self.curve, self.spikes)
        legend_above(self.curve)
        self.capped = Capped(self.curve_src, self.spikes)

        self.heat_src = ColumnDataSource(dict(image=[np.zeros((M.V, M.V))]))
        self.heat = figure(width=380, height=400, toolbar_location=None, title="P(next letter | this letter)",
                           x_range=Range1d(0, M.V), y_range=Range1d(M.V, 0), x_axis_label="next",
                           y_axis_label="this")
        self.heat.image("image", source=self.heat_src, x=0, y=0, dw=M.V, dh=M.V,
                        color_mapper=LinearColorMapper(palette="Blues256", low=0.3, high=0))
        letter_axes(self.heat, list(M.VOCAB))

        self.emb_src = ColumnDataSource(dict(x=[], y=[], c=[]))
        self.emb = figure(width=320, height=300, toolbar_location=None, title="MLP letter embeddings (2-D)")
        self.emb.scatter("x", "y", source=self.emb_src, size=16, color="#c6dbef", line_color="#4c72b0")
        self.emb.text("x", "y", text="c", source=self.emb_src, text_align="center", text_baseline="middle")

        self.att_src = ColumnDataSource(dict(image=[np.zeros((2, 2))]))
        self.att = figure(width=320, height=320, toolbar_location=None, title="Attention (block 1, mean of heads)",
                          x_range=Range1d(0, 2), y_range=Range1d(2, 0), x_axis_label="looks at",
                          y_axis_label="letter")
        self.att.image("image", source=self.att_src, x=0, y=0, dw=2, dh=2,
                       color_mapper=LinearColorMapper(palette="Oranges256", low=1, high=0))

    def reset(self):
        self.capped.reset(train=[], val=[])

    def add_losses(self, step, train, val):
        """One point on the curves (capped: a spike is drawn at the cap and marked)."""
        self.capped.stream(dict(step=[step], train=[train], val=[val]), ys=("train", "val"))

    def diverged(self, trainer, step):
        """Drop the undone steps' points and mark where the run failed."""
        self.capped.diverged(trainer, step)

    def show_probs(self, p, kind):
        """The 27x27 P(next | this letter) of a model of this ``kind``."""
        self.heat_src.data = dict(image=[p])
        self.heat.title.text = f"P(next | this letter): {HEAT_TITLES[kind]}"

    def show_embedding(self, e):
        """(27, 2) letter positions."""
        self.emb_src.data = dict(x=e[:, 0], y=e[:, 1], c=list(M.VOCAB))

    def show_attention(self, labels, w):
        """(T, T) weights: row = a letter, column = the letter it looks at."""
        t = len(labels)
        self.att.x_range.end = self.att.y_range.start = t
        self.att_src.data = dict(image=[w])
        self.att.renderers[0].glyph.update(dw=t, dh=t)
        letter_axes(self.att, labels)
