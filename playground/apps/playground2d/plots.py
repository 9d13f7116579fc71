"""The 2-D playground's plots: the output map with the points, the loss curves and every
neuron's map, drawn from a ``run.Playground``."""
from __future__ import annotations

import numpy as np
from bokeh.models import ColumnDataSource, LinearColorMapper

from playground.ui.palettes import ORANGE_BLUE
from playground.ui.plots import figure

from .run import GRID


class Plots:
    """Bokeh sources and figures over one ``Playground``; each ``draw_*`` redraws a part."""

    def __init__(self, pg):
        self.pg = pg
        cmap = LinearColorMapper(palette=ORANGE_BLUE, low=-1, high=1)
        self.heat_src = ColumnDataSource(dict(image=[np.zeros((GRID, GRID), np.float32)]))
        self.train_src = ColumnDataSource(dict(x=[], y=[], c=[]))
        self.test_src = ColumnDataSource(dict(x=[], y=[], c=[]))
        self.loss_src = ColumnDataSource(dict(epoch=[], train=[], test=[]))
        self.div_src = ColumnDataSource(dict(epoch=[], loss=[]), name="diverged")
        self.neuron_src = ColumnDataSource(dict(image=[], dw=[], dh=[]))

        self.heat = figure(width=440, height=440, x_range=(-1.1, 1.1), y_range=(-1.1, 1.1),
                           toolbar_location=None, title="Output (test points outlined)",
                           sizing_mode="scale_width", max_width=440, min_width=260)
        self.heat.image("image", source=self.heat_src, x=-1.1, y=-1.1, dw=2.2, dh=2.2, color_mapper=cmap)
        self.heat.scatter("x", "y", source=self.train_src, fill_color={"field": "c", "transform": cmap},
                          line_color="white", size=6)
        self.heat.scatter("x", "y", source=self.test_src, fill_color={"field": "c", "transform": cmap},
                          line_color="black", size=7, line_width=1.5)
        # log scale: a loss that blew up before the restore still leaves the curve readable
        c = self.curve = figure(width=440, height=190, toolbar_location=None, title="Loss", x_axis_label="epoch",
                                y_axis_type="log", sizing_mode="stretch_width", max_width=440, min_width=260)
        c.line("epoch", "train", source=self.loss_src, legend_label="train", color="#1f77b4", line_width=2)
        c.line("epoch", "test", source=self.loss_src, legend_label="test", color="#ff7f0e", line_width=2)
        c.scatter("epoch", "loss", source=self.div_src, marker="x", size=14, line_width=3, color="#d62728",
                  legend_label="diverged")
        c.legend.location, c.legend.orientation = "top_right", "horizontal"
        c.legend.label_text_font_size, c.legend.background_fill_alpha = "10px", 0.6
        c.legend.padding, c.legend.spacing, c.legend.margin = 2, 6, 4
        self.neurons = figure(width=400, height=370, toolbar_location=None, match_aspect=True,
                              title="Every neuron (columns: inputs, layer 1, layer 2, …)", x_axis_location=None,
                              y_axis_location=None, sizing_mode="scale_width", max_width=400, min_width=260)
        self.neurons.grid.visible = False
        gaps = LinearColorMapper(palette=ORANGE_BLUE, low=-1, high=1, nan_color=(0, 0, 0, 0))  # see-through gaps
        self.neurons.image("image", x=0, y=0, dw="dw", dh="dh", source=self.neuron_src, color_mapper=gaps)

    def draw_points(self):
        pg = self.pg

        def col(y):
            y = np.asarray(y, np.float32)
            return (2 * y - 1).tolist() if pg.setup.problem == "classification" else y.tolist()
        self.train_src.data = dict(x=pg.Xtr[:, 0].tolist(), y=pg.Xtr[:, 1].tolist(), c=col(pg.ytr))
        self.test_src.data = dict(x=pg.Xte[:, 0].tolist(), y=pg.Xte[:, 1].tolist(), c=col(pg.yte))

    def draw_maps(self, exact=True):
        out, maps = self.pg.maps(exact)
        self.heat_src.data = dict(image=[out])
        m = self.pg.mosaic(maps)
        self.neuron_src.data = dict(image=[m], dw=[m.shape[1]], dh=[m.shape[0]])

    def add_loss(self):
        """Evaluate and add a point to the loss curves; returns (train, test) loss."""
        tr, te = self.pg.evaluate()
        self.loss_src.stream(dict(epoch=[self.pg.epoch], train=[tr], test=[te]), rollover=1000)
        return tr, te

    def trim_losses(self):
        """After a restore: drop the curves' points from the restored epoch on."""
        keep = [i for i, e in enumerate(self.loss_src.data["epoch"]) if e < self.pg.epoch - 1e-9]
        self.loss_src.data = {k: [v[i] for i in keep] for k, v in self.loss_src.data.items()}

    def mark_divergence(self, epoch, loss):
        self.div_src.stream(dict(epoch=[epoch], loss=[loss]))

    def clear(self):
        self.loss_src.data = dict(epoch=[], train=[], test=[])
        self.div_src.data = dict(epoch=[], loss=[])
