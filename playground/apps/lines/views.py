"""Count the lines' widgets and what they do: ``LinesView`` holds the lab (lab.py), its
trainer and the plots (plots.py), and keeps them in step.

Train pressed: the trainer calls ``lab.step()`` (one batch) chunk after chunk and hands each
chunk's accuracies to ``on_chunk``; now and then (``flush``) the held-out images are
evaluated and ``refresh`` redraws the bars, the curve and the gallery of mistakes.
"""
from __future__ import annotations

import numpy as np
import panel as pn

from playground.apps.lines.lab import LinesLab
from playground.apps.lines.plots import GALLERY, LinesPlots
from playground.training.held import held_trainer
from playground.ui.layout import column, pane, wrap
from playground.ui.pacing import Paced
from playground.ui.trainer_controls import trainer_controls


class LinesView:
    """The data and learning-rate choices, the summary line, the plots and the trainer."""

    def __init__(self):
        w = pn.widgets
        self.max_lines = w.IntSlider(label="Up to this many lines", start=2, end=8, value=5,
                                     sizing_mode="stretch_width", max_width=380)
        self.n_train = w.Select(label="Training images", options=[1000, 3000, 6000], value=3000, width=130)
        self.lr = w.Select(label="Learning rate", options=[3e-4, 1e-3, 2e-3, 5e-3], value=2e-3, width=130)
        self.summary = pn.pane.Markdown("", sizing_mode="stretch_width")
        self.lab = {"m": None}  # the LinesLab (replaced on Reset) and "eval", its last evaluation
        self.plots = LinesPlots()

        # evaluating 600 held-out images costs time: spend at most ~1/4 of it on that
        self.accs = []  # train accuracies since the curve's last point
        self.paced = Paced(self.flush)
        lab = self.lab
        self.trainer = held_trainer(lab, self.build, chunk=10, chunk_seconds=0.5, on_chunk=self.on_chunk,
                                    on_stop=self.on_stop,
                                    steps_per_epoch=lambda: len(lab["m"].loader) if lab["m"] else None)
        for x in (self.max_lines, self.n_train):
            x.param.watch(lambda e: self.trainer.rebuild(f"{e.obj.name.lower()} → {e.new}"), "value")
        self.lr.param.watch(lambda e: self.trainer.queue(lambda: lab["m"].set_lr(e.new),
                                                         f"learning rate {e.new}"), "value")
        self.build()

    # ------------------------------------------------------------------ training

    def build(self, seed=0):
        """Reset: new images and a new model from the current choices."""
        self.lab["m"] = LinesLab(max_lines=self.max_lines.value, n_train=self.n_train.value, lr=self.lr.value,
                                 seed=seed)
        self.plots.reset()
        self.accs = []
        self.paced.reset()
        self.refresh()

    def on_chunk(self, metrics):
        self.accs.extend(x["acc"] for x in metrics)
        self.paced()

    def flush(self):
        """Evaluate now; the curve gets the mean train accuracy since its last point."""
        self.refresh(float(np.mean(self.accs)) if self.accs else None)
        self.accs = []

    def on_stop(self, t):
        if t.error:  # diverged: the weights were restored; mark where, show the restored model
            self.accs = []
            m = self.lab["m"]
            self.plots.diverged(t, m.epoch, 1 / max(len(m.loader), 1))
        self.flush()

    # ------------------------------------------------------------------ drawing

    def refresh(self, train_acc=None):
        """Evaluate the held-out images and redraw; with ``train_acc``, the curve gets a point."""
        m = self.lab["m"]
        ev = self.lab["eval"] = m.evaluate()
        self.plots.show_per_count(ev["per_count"])
        if train_acc is not None:
            self.plots.add_point(m.epoch, train_acc, ev["acc"])
        wrong = ev["wrong"][:GALLERY]
        self.plots.show_mistakes(m.xt[wrong, 0], m.yt[wrong], ev["pred"][wrong])
        self.summary.object = (f"**Held-out accuracy {ev['acc']:.1%}** on {len(m.yt)} new images · "
                               f"{len(ev['wrong'])} mistakes · epoch {m.epoch:.1f}")

    # ------------------------------------------------------------------ the page

    def layout(self):
        side = column(
            "## Count the lines",
            pn.pane.Markdown("A small CNN learns to count straight lines. Which counts are hard? "
                             "Look at the mistakes: crossings, touching lines, short stubs.",
                             sizing_mode="stretch_width"),
            trainer_controls(self.trainer), self.max_lines, wrap(self.n_train, self.lr), self.summary)
        p = self.plots
        return wrap(side, pane(p.bars), pane(p.curve), pane(p.gallery), sizing_mode="stretch_width")

    def controls(self):
        """The handles tests and lessons reach for."""
        p = self.plots
        return dict(trainer=self.trainer, lab=self.lab, max_lines=self.max_lines, n_train=self.n_train, lr=self.lr,
                    bars=p.bar_src, curve=p.curve_src, gallery=p.gallery_src, captions=p.caption_src,
                    summary=self.summary, refresh=self.flush, spikes=p.spikes)
