"""Curves that stay readable (names, GAN and lines apps): legends beside the plot, not on
it; a run that blows up drawn at a cap with a red mark, so the curves before and after it
keep their scale (plots that narrow with their column: ``layout.pane``).

Why a cap: a diverging loss climbs to 1e30 before it turns NaN, and an auto-ranged axis
then squeezes every honest value onto zero (the trainer restores the weights, the plot
kept the spike)."""
from __future__ import annotations

import numpy as np

MARK = "#d62728"


def legend_above(fig, size="9pt"):
    """Move the figure's legend above the plot area, in one line, off the curves."""
    for leg in list(fig.legend):
        fig.center.remove(leg)
        leg.orientation, leg.label_text_font_size = "horizontal", size
        leg.padding = leg.spacing = leg.margin = 2
        leg.border_line_color = None
        leg.location = "top_left"
        fig.add_layout(leg, "above")
    return fig


class Capped:
    """Streams y values into `source` with each at most `cap` (from the run's first point:
    ``factor`` times it), and marks cut values and divergences in `marks` (step, y)."""

    def __init__(self, source, marks, x="step", factor=2.5, floor=1.0):
        self.source, self.marks, self.x = source, marks, x
        self.factor, self.floor = factor, floor
        self.cap = None

    def reset(self, **empty):
        self.cap = None
        self.source.data = {self.x: [], **empty}
        self.marks.data = dict(step=[], y=[])

    def stream(self, row: dict, ys=(), rollover=2000):
        """`row`: column -> list of values; the columns named in `ys` are capped."""
        if self.cap is None:
            first = [abs(float(row[k][0])) for k in ys if np.isfinite(row[k][0])]
            self.cap = self.factor * max(first + [self.floor])
        cut = []
        for k in ys:
            v = np.asarray(row[k], float)
            bad = ~np.isfinite(v) | (v > self.cap)
            cut.extend(np.asarray(row[self.x])[bad].tolist())
            row[k] = np.where(bad, self.cap, v).tolist()
        self.source.stream(row, rollover=rollover)
        if cut:
            self.mark(cut[0])

    def mark(self, x, y=None):
        """A red mark at `x` (at the cap, or at `y`): where the run diverged."""
        top = y if y is not None else (self.cap if self.cap is not None else self.floor)
        self.marks.stream(dict(step=[x], y=[top]))

    def diverged(self, trainer, x_now, per_step=1):
        """After the trainer restored a snapshot: the points (and cut marks) of the undone
        steps go, one mark stays where it failed; training goes on from the restored step.
        `per_step`: x units per trainer step (1 / steps per epoch for an x in epochs)."""
        d = getattr(trainer, "diverged", None) or {}
        at = d["step"] * per_step if "step" in d else x_now
        kept = d["restored"] * per_step if "restored" in d else x_now
        keep = [i for i, v in enumerate(self.source.data[self.x]) if v <= kept]
        self.source.data = {k: [v[i] for i in keep] for k, v in self.source.data.items()}
        keep = [i for i, v in enumerate(self.marks.data["step"]) if v <= kept]
        self.marks.data = {k: [v[i] for i in keep] for k, v in self.marks.data.items()}
        self.mark(at)


def add_marks(fig, source, label="diverged"):
    """Draw the marks of `source` (step, y) on `fig`: a red cross and the word `label`."""
    fig.scatter("step", "y", source=source, marker="x", size=14, line_width=3, color=MARK)
    fig.text("step", "y", text={"value": label}, source=source, text_color=MARK, text_font_size="9pt",
             x_offset=-9, y_offset=4, text_align="right", text_baseline="top")
