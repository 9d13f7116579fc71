"""The gpt app's figures and their data sources: the train/val loss curve and the attention
heat-map (who attends to whom, characters on both axes). ``GPTPlots`` draws what it is given
(numbers and arrays from the lab, lab.py); views.py decides when."""
from __future__ import annotations

import numpy as np
from bokeh.models import ColumnDataSource, LinearColorMapper, Range1d, Span

from playground.ui.curves import Capped, add_marks, legend_above
from playground.ui.plots import figure

SHOWN = {" ": "␣", "\n": "⏎"}  # characters that would be invisible as tick labels


def char_axes(fig, chars):
    """One tick per cell, labelled with its character, on both axes."""
    ticks = list(np.arange(len(chars)) + 0.5)
    labels = {float(i + 0.5): SHOWN.get(c, c) for i, c in enumerate(chars)}
    for axis in (fig.xaxis, fig.yaxis):
        axis.ticker, axis.major_label_overrides = ticks, labels


class GPTPlots:
    """The figures (``curve``, ``att``) and their sources."""

    def __init__(self):
        self.curve_src = ColumnDataSource(dict(step=[], train=[], val=[]))
        self.spikes = ColumnDataSource(dict(step=[], y=[]))
        self.curve = figure(width=510, height=300, toolbar_location=None, title="Loss (nats per character)",
                            x_axis_label="iteration")
        self.curve.line("step", "train", source=self.curve_src, legend_label="train (batches)", line_width=2)
        self.curve.line("step", "val", source=self.curve_src, legend_label="val", color="#ff7f0e", line_width=2)
        self.curve.scatter("step", "val", source=self.curve_src, color="#ff7f0e", size=5)  # a first point shows
        # nanoGPT's baby GPT on CPU ends near 1.88: where a learner's run is headed
        self.curve.add_layout(Span(location=1.88, dimension="width", line_dash="dashed", line_color="#999"))
        add_marks(self.curve, self.spikes)
        legend_above(self.curve)
        self.capped = Capped(self.curve_src, self.spikes, factor=1.2)

        self.att_src = ColumnDataSource(dict(image=[np.zeros((2, 2))]))
        self.att = figure(width=410, height=410, toolbar_location=None, title="Attention",
                          x_range=Range1d(0, 2), y_range=Range1d(2, 0), x_axis_label="looks at",
                          y_axis_label="character")
        self.att.image("image", source=self.att_src, x=0, y=0, dw=2, dh=2,
                       color_mapper=LinearColorMapper(palette="Oranges256", low=1, high=0))
        for axis in (self.att.xaxis, self.att.yaxis):
            axis.major_label_text_font = "monospace"
        self.att.xaxis.major_label_orientation = 0

    def reset(self):
        self.capped.reset(train=[], val=[])

    def add_losses(self, step, train, val):
        """One point on the curves (capped: a spike is drawn at the cap and marked)."""
        self.capped.stream(dict(step=[step], train=[train], val=[val]), ys=("train", "val"))

    def show_history(self, history):
        """The whole curve at once (none, or a loaded run's first point: its val loss alone)."""
        self.reset()
        for s, t, v in zip(history["step"], history["train"], history["val"]):
            if np.isfinite(t):
                self.add_losses(s, t, v)
            else:  # no train loss there: not a spike to mark, and no cap from it
                self.curve_src.stream(dict(step=[s], train=[t], val=[v]))

    def diverged(self, trainer, step):
        """Drop the undone steps' points and mark where the run failed."""
        self.capped.diverged(trainer, step)

    def show_attention(self, chars, w, layer, head):
        """(T, T) weights: row = a character, column = the one it takes from."""
        t = len(chars)
        self.att.x_range.end = self.att.y_range.start = t
        self.att_src.data = dict(image=[np.asarray(w, np.float32)])
        self.att.renderers[0].glyph.update(dw=t, dh=t)
        char_axes(self.att, chars)
        self.att.title.text = f"Layer {layer + 1}, head {head + 1}: who attends to whom"
