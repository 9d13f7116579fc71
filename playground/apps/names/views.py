"""The names app's widgets and what they do: ``NamesView`` holds the lab (lab.py), its
trainer and the plots (plots.py), and keeps them in step.

Train pressed: the trainer calls ``lab.step()`` (one batch; the bigram counts 1,000 more
names) chunk after chunk and hands each chunk's losses to ``on_chunk``; a slice of the val
evaluation follows now and then (``advance``), and when a pass is complete ``refresh``
redraws everything. New samples are drawn by ``show_samples`` (``lab.sample``) after every
redraw and whenever the temperature, the prefix or "New names" asks.
"""
from __future__ import annotations

import numpy as np
import panel as pn

from playground.apps.names import model as M
from playground.apps.names.lab import NamesLab
from playground.apps.names.plots import NamesPlots
from playground.training.held import held_trainer
from playground.ui.layout import column, pane, wrap
from playground.ui.pacing import Paced
from playground.ui.trainer_controls import trainer_controls


class NamesView:
    """The model choice, sampling controls, text panes, the plots and the trainer."""

    def __init__(self, val_limit=800):
        w = pn.widgets
        self.val_limit = val_limit
        self.kind = w.RadioButtonGroup(label="Model", options={M.TITLES[k]: k for k in M.MODELS},
                                       value="mlp", sizing_mode="stretch_width",
                                       stylesheets=[".bk-btn-group { flex-wrap: wrap; }"])
        self.temperature = w.FloatSlider(label="Temperature", start=0.2, end=2.0, step=0.1, value=1.0, width=150)
        self.prefix = w.TextInput(label="Complete my prefix", placeholder="e.g. ka", value="", width=130)
        self.look = w.TextInput(label="A name for the attention map", value="isabella", width=220)
        self.resample = w.Button(label="New names", width=100, align="end")
        self.samples = pn.pane.Markdown("", sizing_mode="stretch_width")
        self.table = pn.pane.Markdown("", sizing_mode="stretch_width", max_width=440)
        self.note = pn.pane.Markdown("", sizing_mode="stretch_width")

        self.lab = {"m": NamesLab("mlp", val_limit=val_limit)}  # replaced on Reset
        self.rng = np.random.default_rng(0)
        self.plots = NamesPlots()
        self.emb_pane = pane(self.plots.emb)
        self.att_box = column(self.look, pane(self.plots.att), max_width=330)

        # evaluating, sampling and the attention map cost time (the transformer's most of all):
        # a slice of the evaluation at a time, at most ~1/4 of the time, so training runs and
        # Pause lands between chunks; the plots follow when a pass is complete
        self.losses = []  # train losses since the curve's last point
        self.paced = Paced(self.advance)
        lab = self.lab
        self.trainer = held_trainer(lab, self.build, chunk=5, chunk_seconds=0.1, on_chunk=self.on_chunk,
                                    on_stop=self.on_stop, steps_per_epoch=lambda: lab["m"].steps_per_epoch,
                                    max_steps=self.max_steps)
        self.kind.param.watch(lambda e: self.trainer.rebuild(f"model → {M.TITLES[e.new]}"), "value")
        for x in (self.temperature, self.prefix):
            x.param.watch(lambda e: self.show_samples(), "value")
        self.look.param.watch(lambda e: self.show_attention(), "value")
        self.resample.on_click(lambda e: self.show_samples())
        self.refresh()

    def max_steps(self):
        """The bigram stops once it has counted every training name."""
        m = self.lab["m"]
        return m.steps_per_epoch if m.kind == "bigram" else None

    # ------------------------------------------------------------------ training

    def build(self, seed=0):
        """Reset: a new model of the chosen kind; the table keeps every model's best."""
        best = self.lab["m"].best
        self.lab["m"] = NamesLab(self.kind.value, seed, val_limit=self.val_limit)
        self.lab["m"].best = best
        self.losses = []
        self.paced.reset()
        self.plots.reset()
        self.refresh()

    def on_chunk(self, metrics):
        self.losses.extend(x["loss"] for x in metrics)
        self.paced()

    def advance(self, finish=False):
        """One more slice of the val evaluation (``finish``: all that is left); when the
        pass is complete, the curve gets its point and the plots follow."""
        m = self.lab["m"]
        val = m.evaluate_some()
        while finish and val is None:
            val = m.evaluate_some()
        if val is not None:
            loss = float(np.mean(self.losses)) if self.losses else None
            self.losses = []
            self.refresh(loss, val)

    def flush(self):
        self.advance(finish=True)

    def on_stop(self, t):
        if t.error:  # diverged: the weights were restored; mark where, show the restored model
            self.plots.diverged(t, self.lab["m"].steps)
            self.losses = []
            self.lab["m"].model_probs = None
            self.refresh()
        elif self.losses:
            self.flush()

    # ------------------------------------------------------------------ drawing

    def refresh(self, train_loss=None, val=None):
        """Redraw everything; with ``train_loss``, the curves get a point first (``val``
        evaluated now if not given)."""
        m = self.lab["m"]
        if train_loss is not None:
            val = m.record(train_loss, val)
            self.plots.add_losses(m.steps, train_loss, val)
        p = m.current_probs()
        self.plots.show_probs(p, m.kind)
        self.note.object = self.note_text(m, p)
        e = m.embedding_2d()
        self.emb_pane.visible = e is not None
        if e is not None:
            self.plots.show_embedding(e)
        self.show_attention()
        self.show_samples()
        self.table.object = m.table()

    @staticmethod
    def note_text(m, p):
        if m.kind == "neural":
            gap = np.abs(p - m.probs).max()
            return f"Neural bigram vs the counts: largest difference in P is {gap:.3f}."
        if m.kind == "bigram":
            return f"Counted {m.seen:,} of {len(m.train):,} training names."
        return ""

    def show_samples(self):
        names = self.lab["m"].sample(12, self.temperature.value, self.prefix.value, self.rng)
        self.samples.object = "**Samples:** " + ", ".join(n or "·" for n in names)

    def show_attention(self):
        got = self.lab["m"].attention_map(self.look.value or "a")
        self.att_box.visible = got is not None
        if got is not None:
            self.plots.show_attention(*got)

    # ------------------------------------------------------------------ the page

    def layout(self):
        side = column(
            "## Names: makemore, from counts to attention",
            pn.pane.Markdown("Each model reads a name one letter at a time and guesses the next. "
                             "Train one, then sample new names; lower temperature plays safe.",
                             sizing_mode="stretch_width"),
            self.kind, trainer_controls(self.trainer), wrap(self.temperature, self.prefix, self.resample),
            self.samples, self.note, max_width=440)
        return wrap(side, pane(self.plots.curve), pane(self.plots.heat), self.emb_pane, self.att_box, self.table,
                    sizing_mode="stretch_width")

    def controls(self):
        """The handles tests and lessons reach for."""
        p = self.plots
        return dict(trainer=self.trainer, lab=self.lab, kind=self.kind, temperature=self.temperature,
                    prefix=self.prefix, look=self.look, heat=p.heat_src, curve=p.curve_src, emb=p.emb_src,
                    att=p.att_src, samples=self.samples, table=self.table, note=self.note,
                    refresh=self.refresh, resample=self.resample, spikes=p.spikes, flush=self.flush)
