"""Count the lines' figures and their data sources: held-out accuracy per count, the accuracy
curves, and a gallery of the held-out images it gets wrong. ``LinesPlots`` draws what it is
given (arrays and numbers from the lab, lab.py); views.py decides when."""
from __future__ import annotations

import numpy as np
from bokeh.models import ColumnDataSource, LabelSet, LinearColorMapper, Range1d

from playground.ui.curves import Capped, add_marks, legend_above
from playground.ui.plots import figure

GALLERY = 24          # mistakes shown
COLS = 8              # gallery tiles per row
ROWS = GALLERY // COLS
TILE_W, TILE_H = 30, 34  # a 28x28 image, a border and room for its caption
GRAY = [f"#{v:02x}{v:02x}{v:02x}" for v in range(255, -1, -4)]


def mosaic(images):
    """Up to GALLERY (28, 28) images -> one gallery image (Bokeh's rows grow upwards), and
    where each caption goes: (image, xs, ys)."""
    img = np.zeros((ROWS * TILE_H, COLS * TILE_W), np.float32)
    xs, ys = [], []
    for k, im in enumerate(images[:GALLERY]):
        r, c = divmod(k, COLS)
        top = (ROWS - 1 - r) * TILE_H
        img[top + 1:top + 29, c * TILE_W + 1:c * TILE_W + 29] = im[::-1]
        xs.append(c * TILE_W + 15)
        ys.append(top + 29)
    return img, xs, ys


class LinesPlots:
    """The figures (``bars``, ``curve``, ``gallery``) and their sources."""

    def __init__(self):
        self.bar_src = ColumnDataSource(dict(count=[], acc=[], label=[]))
        self.bars = figure(width=460, height=300, toolbar_location=None, y_range=(0, 1.15),  # room for "100%"
                           title="Held-out accuracy for each number of lines", x_axis_label="lines in the image")
        self.bars.vbar(x="count", top="acc", source=self.bar_src, width=0.7, color="#4c72b0")
        self.bars.add_layout(LabelSet(x="count", y="acc", text="label", source=self.bar_src, text_align="center",
                                      y_offset=2, text_font_size="11px"))

        self.curve_src = ColumnDataSource(dict(epoch=[], train=[], test=[]))
        self.spikes = ColumnDataSource(dict(step=[], y=[]))
        self.curve = figure(width=440, height=300, toolbar_location=None, title="Accuracy", x_axis_label="epoch",
                            y_range=(0, 1.02))
        self.curve.line("epoch", "train", source=self.curve_src, legend_label="train (batch)", color="#1f77b4",
                        line_width=2)
        self.curve.line("epoch", "test", source=self.curve_src, legend_label="held-out", color="#ff7f0e",
                        line_width=2)
        add_marks(self.curve, self.spikes)
        self.marked = Capped(self.curve_src, self.spikes, x="epoch")  # accuracy needs no cap: only the marks
        legend_above(self.curve)

        w, h = COLS * TILE_W, ROWS * TILE_H
        self.gallery_src = ColumnDataSource(dict(image=[np.zeros((h, w), np.float32)]))
        self.caption_src = ColumnDataSource(dict(x=[], y=[], text=[]))
        self.gallery = figure(width=COLS * 62, height=ROWS * 72, x_range=Range1d(0, w), y_range=Range1d(0, h),
                              toolbar_location=None, title="Held-out images it gets wrong (true → guess)",
                              x_axis_location=None, y_axis_location=None)
        self.gallery.image("image", source=self.gallery_src, x=0, y=0, dw=w, dh=h,
                           color_mapper=LinearColorMapper(palette=GRAY, low=0, high=1))
        self.gallery.text("x", "y", text="text", source=self.caption_src, text_font_size="10px",
                          text_color="#c00", text_align="center", text_baseline="bottom")

    def reset(self):
        self.marked.reset(train=[], test=[])

    def add_point(self, epoch, train, test):
        self.curve_src.stream(dict(epoch=[epoch], train=[train], test=[test]), rollover=1000)

    def diverged(self, trainer, epoch, per_step):
        """Drop the undone steps' points and mark where the run failed (x in epochs)."""
        self.marked.diverged(trainer, epoch, per_step)

    def show_per_count(self, accs):
        """Held-out accuracy for 1, 2, ... lines."""
        self.bar_src.data = dict(count=list(range(1, len(accs) + 1)), acc=accs, label=[f"{a:.0%}" for a in accs])

    def show_mistakes(self, images, true, guess):
        """The first GALLERY wrongly counted images, captioned "true → guess"."""
        img, xs, ys = mosaic(images)
        self.gallery_src.data = dict(image=[img])
        texts = [f"{t} → {g}" for t, g in zip(true[:GALLERY], guess[:GALLERY])]
        self.caption_src.data = dict(x=xs, y=ys, text=texts)
