"""Digits — the Hello World of machine learning, watched from the inside.

Train a softmax regression, an MLP or a small CNN on 8,000 MNIST digits and see it learn:
train and held-out curves, the confusion matrix, the held-out digits it gets wrong, the
first layer's weights as images, per-layer activation and gradient histograms (dead ReLUs
show up as a spike at 0). Draw your own digit and watch the class probabilities on every
stroke. Runs are kept in the browser ("Your runs"); models save to and load from the
engine's open ``.npz`` format.

The app is a folder: ``run.py`` the state and steps (no Panel), ``plots.py`` the figures,
``views.py`` the widgets, this file keeps them in step (``DigitsApp``) and lays them out:
``digits_app(view=None)`` the whole app, ``digits_app(view="draw")`` and
``digits_app(view="train")`` the compact pages the site embeds in blog posts
(``embed/digits-draw.html``, ``embed/digits-train.html``): the drawing pad with the shipped
classifier, or the trainer with its curves. ``panel serve playground/apps/digits`` serves it
(main.py); ``python -m playground.apps.digits.check mlp cnn`` checks the recipes.

Sizes: the whole app uses the window's width (a 320 px sidebar, the curves share the rest) and
keeps the controls and the curves above the fold at 1,400×1,000; an embed lays out for the
width its iframe gets (320–800 px): parts sit side by side where they fit and wrap below
where they do not.
"""
from __future__ import annotations

import io
import time

import numpy as np
import panel as pn

from playground.apps.digits.plots import PROBE, DigitsPlots
from playground.apps.digits.run import (LIVE, STRUCTURAL, DigitsRun, describe, first_layer_tiles,
                                        layer_names, layer_outputs, weight_layers)
from playground.apps.digits.views import DigitsViews
from playground.ui.layout import wrap_row
from playground.ui.page import after_render

__all__ = ["digits_app", "DigitsApp", "VIEWS"]

VIEWS = (None, "draw", "train")  # digits_app(view=...): the whole app, or an embed's part
STREAM_EVERY_S = 0.3   # train-curve points at most this often
VIEW_EVERY_S = 2.0     # weights, histograms and the drawing's probabilities: at most this often
EMBED_MAX = 800        # an embed never grows wider than this
SIDEBAR = 320
# Bokeh gives a stretching Row the sum of its parts' widths as its min-width: no wrapping then
SHRINK = {"min-width": "0px"}
ITEM = {"flex": "1 1 290px", "min-width": "290px"}  # a part of a wrap(): wraps below 290 px


def wrap(*objects, **kw):
    """Side by side where the width allows, one below the other where it does not."""
    return wrap_row(*objects, margin=0, sizing_mode="stretch_width", styles={"align-items": "flex-start"}, **kw)


class DigitsApp:
    """A digits run (``run``), its ``trainer``, figures (``plots``) and widgets (``views``),
    kept in step; ``view`` is the page."""

    def __init__(self, data=None, seed=0, recipe=True, **state):
        self.run = run = DigitsRun(data, seed, recipe, **state)
        self.plots = DigitsPlots()
        self.trainer = run.trainer(seed=seed, on_chunk=self._on_chunk, restore=self._restore,
                                   on_reset=self._build, on_stop=self._on_stop)
        self.views = v = DigitsViews(run, self.trainer, download=self._download)
        v.canvas.param.watch(self.predict_drawing, "image")
        v.upload.param.watch(self._on_upload, "file")
        self.shipped, self.shipped_problem = False, ""  # use_shipped_classifier() sets them
        self.drawing_probs = None
        self._last_view = self._last_stream = 0.0
        self._show_new_run()
        run.param.watch(self._structural_change, list(STRUCTURAL))
        run.param.watch(self._live_change, list(LIVE))

    # ------------------------------------------------------------------ the run, shown
    def _build(self, seed):
        """The trainer's Reset: a new run, its figures cleared."""
        self.run.build(seed)
        if not self.run.model_note:  # "Loaded x.npz …" no longer describes this model
            self.views.file_msg.visible = False
        self._show_new_run()

    def _show_new_run(self):
        self._pending = []
        self.plots.clear_curves()
        self.plots.make_hist_figures(layer_names(self.run.model))
        self.evaluate()
        self.refresh_views(force=True)
        self._refresh_model_info()

    def _restore(self, snapshot):
        self.run.restore(snapshot)
        self.evaluate()
        self.refresh_views(force=True)

    def evaluate(self, logits=None):
        """Evaluate on the held-out digits and show it; returns the accuracy."""
        ev = self.run.evaluate(logits)
        self.plots.show_eval(ev, self.run.xte, self.run.yte)
        return ev["acc"]

    def _on_chunk(self, metrics):
        self._pending.extend(metrics)
        now = time.perf_counter()
        due = self.run.epoch >= self.run.next_eval or self.trainer.finished
        if due or now - self._last_stream >= STREAM_EVERY_S:
            self._flush_train_points()
            self._last_stream = now
        ev = self.run.evaluate_in_slices(due)
        if ev is not None:
            self.plots.show_eval(ev, self.run.xte, self.run.yte)
        self.refresh_views()

    def _flush_train_points(self):
        """One point (the mean over the steps since the last one) per flush: few, cheap patches."""
        if not self._pending:
            return
        ms, self._pending = self._pending, []
        self.plots.stream_point(self.plots.train_src, ms[-1]["epoch"],
                                float(np.mean([m["loss"] for m in ms])),
                                float(np.mean([m["acc"] for m in ms])), rollover=4000)

    def _on_stop(self, trainer):
        if trainer.error and trainer.diverged:  # its steps since the restored point are undone
            self._pending = [m for m in self._pending if m["epoch"] <= self.run.epoch]
            self._flush_train_points()
            self.plots.mark_divergence(self.run.epoch)
        self._flush_train_points()
        if trainer.step and not trainer.error:
            self.evaluate()
        self.refresh_views(force=True)
        self._refresh_model_info()
        entry = self.run.record(trainer.train_seconds, trainer.seed) if trainer.step else None
        if entry is not None:
            self.views.keep_run(entry)

    def refresh_views(self, force=False):
        """Weights, histograms and the drawing's probabilities: at most every VIEW_EVERY_S."""
        now = time.perf_counter()
        if not force and now - self._last_view < VIEW_EVERY_S:
            return
        self._last_view = now
        model = self.run.model
        self.plots.show_weights(*first_layer_tiles(model))
        if self.plots.hist_figs:
            self.plots.show_histograms(layer_outputs(model, self.run.xte[:PROBE]),
                                       [m.weight.grad for m in weight_layers(model)])
        self.predict_drawing()

    def show_inside(self):
        """Build the "Inside the model" figures and fill them. The whole app calls it once the
        page shows the app: seven figures fewer before the page is interactive; embeds never
        need them."""
        if self.plots.show_inside(layer_names(self.run.model)):
            self.refresh_views(force=True)
        return self.plots.w_fig

    def predict_drawing(self, *_):
        img = self.views.canvas.to_array()
        if img is None:
            self.plots.show_drawing()
            self.drawing_probs = None
            return None
        seen, p = self.run.classify(img)
        self.drawing_probs = p
        self.plots.show_drawing(seen, p)
        return p

    # ------------------------------------------------------------------ changes
    def _structural_change(self, *events):
        what = ", ".join(f"{e.name.replace('_', ' ')} → {e.new}" for e in events)
        self.trainer.rebuild(f"Model changed ({what})")

    def _live_change(self, *events):
        for e in events:
            if e.name == "epochs":
                self.trainer.update_progress()
                continue
            label = f"{self.run.param[e.name].label.split(' (')[0].lower()} → {e.new}"
            if e.name == "optimizer":
                self.trainer.queue(self.run.new_optimizer, label + " (fresh optimiser state)")
            elif e.name == "lr":
                self.trainer.queue(self.run.apply_lr, label)
            else:  # batch size, augmentation, schedule: read at every step already
                self.trainer.queue(lambda: None, label)

    # ------------------------------------------------------------------ model files
    def _download(self):
        data = self.run.save_bytes()
        self._refresh_model_info(size=len(data))
        return io.BytesIO(data)

    def load_bytes(self, raw: bytes, filename: str = "model file") -> bool:
        """Load a saved model; on any problem say so and leave the current model as it is."""
        try:
            model = self.run.read_model(raw)
        except Exception as e:  # ModelFileError, or a valid file that is not a digits model
            self.views.say(f"Could not load {filename}: {e} — the current model is unchanged.", ok=False)
            return False
        self.run.take(model, f"loaded from {filename}")
        self.trainer.reset()
        self.views.say(f"Loaded {filename} ({describe(self.run.model)}): held-out accuracy "
                       f"{self.run.test_accuracy:.2%}. Train continues from these weights.", ok=True)
        return True

    def _on_upload(self, event):
        """Each file chosen arrives whole (name and bytes in one change): judge it alone."""
        if event.new:
            up = self.views.upload
            self.load_bytes(up.data(), up.filename or "the chosen file")

    def use_shipped_classifier(self, classifier="default") -> bool:
        """Start from a model that already reads digits (``run.shipped_classifier``). False,
        with the reason in ``shipped_problem``, when there is none or it cannot be used; the
        model is then kept."""
        self.shipped = False
        model, self.shipped_problem = self.run.shipped_classifier(classifier)
        if model is None:
            return False
        self.run.take(model, "shipped classifier")
        self.trainer.reset()
        self.shipped = True
        return True

    def _refresh_model_info(self, size=None):
        run = self.run
        try:
            size = size if size is not None else len(run.save_bytes())
            size_txt = f"{size / 1024:,.0f} KB on disk"
        except Exception as e:  # a model engine.io cannot write
            size_txt = f"size unknown ({type(e).__name__})"
        note = f" ({run.model_note})" if run.model_note else ""
        self.views.model_info.object = (f"**{describe(run.model)}**{note} · "
                                        f"{run.model.num_parameters():,} parameters · "
                                        f"{size_txt} · {run.inference_ms():.2f} ms per digit")

    # ------------------------------------------------------------------ pages
    def view(self, kind=None):
        """The page: the whole app (``kind=None``), or an embed's compact part: "draw" (the
        drawing pad, class probabilities and the 28×28 the model sees) or "train" (trainer
        controls, loss/accuracy curves and the confusion matrix)."""
        if kind not in VIEWS:
            raise ValueError(f"unknown view {kind!r}; choose one of {VIEWS}")
        layout = {None: self._whole_view, "draw": self._draw_view, "train": self._train_view}[kind]()
        layout.app = self
        return layout

    def _whole_view(self):
        v, p = self.views, self.plots
        v.show_runs()
        self._refresh_model_info()
        h = lambda s: pn.pane.Markdown(f"#### {s}", margin=(4, 5, 0, 5))  # noqa: E731
        sidebar = pn.Column(
            h("Model"), v.w_model, pn.Row(v.w_activation, v.w_dropout, margin=0), v.mlp_box,
            h("Training"), pn.Row(v.w_optimizer, v.w_schedule, margin=0), v.w_lr,
            pn.Row(v.w_batch, v.w_epochs, margin=0), v.w_augment, v.controls,
            h("Save / load"), v.model_info, v.download,
            pn.pane.Markdown("Load a saved model:", margin=(0, 5)), v.upload, v.file_msg,
            width=SIDEBAR, styles={"background": "#f7f8fa", "border-radius": "8px"}, margin=(5, 10))
        bk = pn.pane.Bokeh
        inside = pn.Column(sizing_mode="stretch_width", margin=0)

        def fill_inside():  # below the fold: built once the page shows the rest
            inside.objects = [bk(self.show_inside()), pn.pane.Markdown(
                f"Activations on {PROBE} held-out digits (a spike at 0 with “dead units” = ReLUs "
                "that never fire) and the last step's weight gradients:", margin=(0, 5)), p.hist_panel]
        after_render(fill_inside)
        for fig in (p.loss_fig, p.acc_fig, p.prob_fig):
            fig.sizing_mode = "stretch_width"
        p.loss_fig.height = p.acc_fig.height = 330
        draw = pn.Row(pn.Column(pn.pane.Markdown("#### Draw a digit", margin=(0, 5)), v.canvas),
                      bk(p.prob_fig, sizing_mode="stretch_width"), bk(p.seen_fig),
                      sizing_mode="stretch_width")
        main = pn.Column(
            pn.pane.Markdown(
                "## Digits: watch a network learn to read\n"
                "Pick a model, press **Train**, and watch it learn from 8,000 handwritten digits; "
                "2,000 more are held out to check it on digits it never saw.", margin=(0, 5)),
            pn.Row(bk(p.loss_fig, sizing_mode="stretch_width"),
                   bk(p.acc_fig, sizing_mode="stretch_width"), sizing_mode="stretch_width"),
            draw,
            pn.Row(bk(p.conf_fig), bk(p.mistake_fig)),
            pn.pane.Markdown("#### Inside the model", margin=(0, 5)),
            inside,
            pn.pane.Markdown("#### Your runs", margin=(0, 5)),
            v.runs_pane, v.clear_runs, v.store,
            sizing_mode="stretch_width")
        return pn.Row(sidebar, main, sizing_mode="stretch_width")

    def _draw_view(self):
        """Drawing pad | probabilities over the 28×28 the model sees; a note on the model.
        Without a trained model: say so, and offer the trainer (Train, then draw)."""
        p = self.plots
        p.prob_fig.sizing_mode = "stretch_width"
        p.prob_fig.height = 200
        p.seen_fig.width, p.seen_fig.height = 150, 150
        p.seen_fig.title.text = "What the model sees"
        if self.shipped:
            note = pn.pane.Markdown(
                f"A small CNN trained on 8,000 handwritten digits; it reads "
                f"**{self.run.test_accuracy:.1%}** of 2,000 others right. Draw with the mouse or a "
                f"finger: the bars update on every stroke.",
                styles={"font-size": "12px", "color": "#444"}, min_width=140,
                sizing_mode="stretch_width", margin=(10, 5))
        else:
            why = self.shipped_problem or "no trained model was loaded"
            note = pn.pane.Alert(
                f"No trained model: {why} (build it with `python -m playground.training.assets`). "
                f"Press **Train** to teach this one (a few seconds gets it past 90 %), then draw.",
                alert_type="warning", sizing_mode="stretch_width", margin=(5, 5))
        right = pn.Column(pn.pane.Bokeh(p.prob_fig, sizing_mode="stretch_width"),
                          pn.Row(pn.pane.Bokeh(p.seen_fig), note if self.shipped else pn.Spacer(width=0),
                                 sizing_mode="stretch_width", margin=0),
                          sizing_mode="stretch_width", margin=0, styles=ITEM)
        body = [wrap(self.views.canvas, right)]
        if not self.shipped:
            body = [note, self.views.controls, *body]
        return pn.Column(*body, sizing_mode="stretch_width", max_width=EMBED_MAX, margin=(5, 5),
                         styles=SHRINK)

    def _train_view(self):
        """Model choice, learning rate and the trainer | confusion matrix; the curves below."""
        v, p = self.views, self.plots
        for fig in (p.loss_fig, p.acc_fig):  # a Bokeh pane is its figure: style that
            fig.sizing_mode, fig.height, fig.toolbar_location = "stretch_width", 230, None
            fig.styles = dict(ITEM)
        p.conf_fig.width = p.conf_fig.height = 300
        v.w_lr.sizing_mode = "stretch_width"
        left = pn.Column(v.w_model, v.w_lr, v.controls, sizing_mode="stretch_width",
                         margin=0, styles=ITEM | {"max-width": "420px"})
        curve = lambda f: pn.pane.Bokeh(f, sizing_mode="stretch_width")  # noqa: E731
        return pn.Column(wrap(left, pn.pane.Bokeh(p.conf_fig)),
                         wrap(curve(p.loss_fig), curve(p.acc_fig)),
                         sizing_mode="stretch_width", max_width=EMBED_MAX, margin=(5, 5),
                         styles=SHRINK)


def digits_app(view=None, classifier="default", **state) -> pn.viewable.Viewable:
    """The Digits playground as a Panel object; ``state`` sets initial widget values
    (model_kind, layers, width, activation, optimizer, lr, batch_size, epochs, augment,
    schedule, seed, data=((x_train, y_train), (x_test, y_test))).

    ``view``: None for the whole app; "draw" for the drawing pad with a model that already
    reads digits (``classifier``: "default" = the shipped one, or a model; when there is none
    the page says so and offers Train); "train" for the trainer and its curves."""
    if view not in VIEWS:
        raise ValueError(f"unknown view {view!r}; choose one of {VIEWS}")
    app = DigitsApp(**state)
    if view == "draw":
        app.use_shipped_classifier(classifier)
    return app.view(view)
