"""The Digits app's widgets and layouts: the whole app, and the two parts the site embeds
("draw", "train"). ``DigitsViews`` is a mixin of ``DigitsApp`` (digits.py), whose state and
figures (digits_plots.py) these lay out.

Sizes: the whole app uses the window's width (a 320 px sidebar, the curves share the rest) and
keeps the controls and the curves above the fold at 1,400×1,000; an embed lays out for the
width its iframe gets (320–800 px): parts sit side by side where they fit and wrap below
where they do not.
"""
from __future__ import annotations

import panel as pn

from playground.ui.components import BrowserStore, DrawingCanvas, FilePicker, wrap_row
from playground.ui.page import after_render
from playground.ui.trainer_controls import trainer_controls

LR_OPTIONS = [1e-4, 3e-4, 1e-3, 3e-3, 1e-2, 3e-2, 0.1, 0.3, 1.0, 3.0, 10.0, 100.0]
MODEL_NAMES = {"softmax": "Softmax regression", "mlp": "MLP", "cnn": "CNN"}
OPTIMISERS = {"adam": "Adam", "adamw": "AdamW", "sgd": "SGD + momentum"}
VIEWS = (None, "draw", "train")  # digits_app(view=...): the whole app, or an embed's part
EMBED_MAX = 800        # an embed never grows wider than this
SIDEBAR = 320
HALF = 145             # two widgets side by side in the sidebar


def _wrap(*objects, **kw):
    """Side by side where the width allows, one below the other where it does not."""
    return wrap_row(*objects, margin=0, sizing_mode="stretch_width", styles={"align-items": "flex-start"}, **kw)


# Bokeh gives a stretching Row the sum of its parts' widths as its min-width: no wrapping then
_SHRINK = {"min-width": "0px"}
_ITEM = {"flex": "1 1 290px", "min-width": "290px"}  # a part of a _wrap: wraps below 290 px


class DigitsViews:
    """Widgets (``_make_widgets``) and pages (``view``) of the app it is mixed into."""

    def _make_widgets(self):
        w = pn.widgets
        self.w_model = w.RadioButtonGroup.from_param(self.param.model_kind, options={v: k for k, v in MODEL_NAMES.items()},
                                                     button_type="primary", button_style="outline")
        self.w_layers = w.IntSlider.from_param(self.param.layers, width=HALF)
        self.w_width = w.DiscreteSlider.from_param(self.param.width, width=HALF, name="Width")
        self.w_activation = w.Select.from_param(self.param.activation, width=HALF)
        self.w_dropout = w.DiscreteSlider.from_param(self.param.dropout, width=HALF)
        self.w_optimizer = w.Select.from_param(self.param.optimizer, width=HALF,
                                               options={v: k for k, v in OPTIMISERS.items()})
        self.w_lr = w.DiscreteSlider.from_param(self.param.lr, options={f"{v:g}": v for v in LR_OPTIONS})
        self.w_batch = w.DiscreteSlider.from_param(self.param.batch_size, width=HALF)
        self.w_epochs = w.IntSlider.from_param(self.param.epochs, width=HALF)
        self.w_augment = w.Checkbox.from_param(self.param.augment)
        self.w_schedule = w.RadioButtonGroup.from_param(self.param.schedule, button_style="outline",
                                                        width=HALF, align="end")
        self.mlp_box = pn.Row(self.w_layers, self.w_width, visible=self.model_kind == "mlp", margin=0)
        self.param.watch(lambda e: setattr(self.mlp_box, "visible", e.new == "mlp"), "model_kind")
        self.controls = trainer_controls(self.trainer)

        self.canvas = DrawingCanvas()
        self.canvas.param.watch(self._predict_drawing, "image")
        self.store = BrowserStore(key="descent-digits-runs", height=0, width=0, margin=0)
        self.runs_pane = pn.pane.HTML("", sizing_mode="stretch_width")
        self.store.param.watch(self._render_runs, "items")
        clear = w.Button(label="Forget my runs", width=140)
        clear.on_click(lambda e: setattr(self.store, "items", []))
        self.clear_runs = clear

        self.download = w.FileDownload(callback=self._download, filename="digits-model.npz",
                                       label="Save model (.npz)", color="success",
                                       width=280)
        self.upload = FilePicker(accept=".npz", width=280, height=30)
        self.upload.param.watch(self._on_upload, "file")
        self.file_msg = pn.pane.Alert("", alert_type="light", visible=False, width=280)
        self.model_info = pn.pane.Markdown("", styles={"font-size": "12px"}, width=280)
        self.hist_panel = pn.Column()

    def view(self, kind=None):
        """The page: the whole app (``kind=None``), or an embed's compact part: "draw" (the
        drawing pad, class probabilities and the 28×28 the model sees) or "train" (trainer
        controls, loss/accuracy curves and the confusion matrix)."""
        if kind not in VIEWS:
            raise ValueError(f"unknown view {kind!r}; choose one of {VIEWS}")
        if kind == "draw":
            return self._draw_view()
        if kind == "train":
            return self._train_view()
        self._render_runs()
        self._refresh_model_info()
        h = lambda s: pn.pane.Markdown(f"#### {s}", margin=(4, 5, 0, 5))  # noqa: E731
        sidebar = pn.Column(
            h("Model"), self.w_model, pn.Row(self.w_activation, self.w_dropout, margin=0), self.mlp_box,
            h("Training"), pn.Row(self.w_optimizer, self.w_schedule, margin=0), self.w_lr,
            pn.Row(self.w_batch, self.w_epochs, margin=0), self.w_augment, self.controls,
            h("Save / load"), self.model_info, self.download,
            pn.pane.Markdown("Load a saved model:", margin=(0, 5)), self.upload, self.file_msg,
            width=SIDEBAR, styles={"background": "#f7f8fa", "border-radius": "8px"}, margin=(5, 10))
        bk = pn.pane.Bokeh
        inside = pn.Column(sizing_mode="stretch_width", margin=0)

        def fill_inside():  # below the fold: built once the page shows the rest
            inside.objects = [bk(self.show_inside()), pn.pane.Markdown(
                "Activations on 256 held-out digits (a spike at 0 with “dead units” = ReLUs that "
                "never fire) and the last step's weight gradients:", margin=(0, 5)), self.hist_panel]
        after_render(fill_inside)
        for fig in (self.loss_fig, self.acc_fig, self.prob_fig):
            fig.sizing_mode = "stretch_width"
        self.loss_fig.height = self.acc_fig.height = 330
        draw = pn.Row(pn.Column(pn.pane.Markdown("#### Draw a digit", margin=(0, 5)), self.canvas),
                      bk(self.prob_fig, sizing_mode="stretch_width"), bk(self.seen_fig),
                      sizing_mode="stretch_width")
        main = pn.Column(
            pn.pane.Markdown(
                "## Digits: watch a network learn to read\n"
                "Pick a model, press **Train**, and watch it learn from 8,000 handwritten digits; "
                "2,000 more are held out to check it on digits it never saw.", margin=(0, 5)),
            pn.Row(bk(self.loss_fig, sizing_mode="stretch_width"),
                   bk(self.acc_fig, sizing_mode="stretch_width"), sizing_mode="stretch_width"),
            draw,
            pn.Row(bk(self.conf_fig), bk(self.mistake_fig)),
            pn.pane.Markdown("#### Inside the model", margin=(0, 5)),
            inside,
            pn.pane.Markdown("#### Your runs", margin=(0, 5)),
            self.runs_pane, self.clear_runs, self.store,
            sizing_mode="stretch_width")
        layout = pn.Row(sidebar, main, sizing_mode="stretch_width")
        layout.app = self
        return layout

    def _draw_view(self):
        """Drawing pad | probabilities over the 28×28 the model sees; a note on the model.
        Without a trained model: say so, and offer the trainer (Train, then draw)."""
        self.prob_fig.sizing_mode = "stretch_width"
        self.prob_fig.height = 200
        self.seen_fig.width, self.seen_fig.height = 150, 150
        self.seen_fig.title.text = "What the model sees"
        shipped = getattr(self, "shipped", False)
        if shipped:
            note = pn.pane.Markdown(
                f"A small CNN trained on 8,000 handwritten digits; it reads "
                f"**{self.test_accuracy:.1%}** of 2,000 others right. Draw with the mouse or a finger: "
                f"the bars update on every stroke.",
                styles={"font-size": "12px", "color": "#444"}, min_width=140,
                sizing_mode="stretch_width", margin=(10, 5))
        else:
            why = getattr(self, "shipped_problem", "") or "no trained model was loaded"
            note = pn.pane.Alert(
                f"No trained model: {why} (build it with `python -m playground.training.assets`). "
                f"Press **Train** to teach this one (a few seconds gets it past 90 %), then draw.",
                alert_type="warning", sizing_mode="stretch_width", margin=(5, 5))
        right = pn.Column(pn.pane.Bokeh(self.prob_fig, sizing_mode="stretch_width"),
                          pn.Row(pn.pane.Bokeh(self.seen_fig), note if shipped else pn.Spacer(width=0),
                                 sizing_mode="stretch_width", margin=0),
                          sizing_mode="stretch_width", margin=0, styles=_ITEM)
        body = [_wrap(self.canvas, right)]
        if not shipped:
            body = [note, self.controls, *body]
        layout = pn.Column(*body, sizing_mode="stretch_width", max_width=EMBED_MAX, margin=(5, 5),
                           styles=_SHRINK)
        layout.app = self
        return layout

    def _train_view(self):
        """Model choice, learning rate and the trainer | confusion matrix; the curves below."""
        for fig in (self.loss_fig, self.acc_fig):  # a Bokeh pane is its figure: style that
            fig.sizing_mode, fig.height, fig.toolbar_location = "stretch_width", 230, None
            fig.styles = dict(_ITEM)
        self.conf_fig.width = self.conf_fig.height = 300
        self.w_lr.sizing_mode = "stretch_width"
        left = pn.Column(self.w_model, self.w_lr, self.controls, sizing_mode="stretch_width",
                         margin=0, styles=_ITEM | {"max-width": "420px"})
        curve = lambda f: pn.pane.Bokeh(f, sizing_mode="stretch_width")  # noqa: E731
        layout = pn.Column(_wrap(left, pn.pane.Bokeh(self.conf_fig)),
                           _wrap(curve(self.loss_fig), curve(self.acc_fig)),
                           sizing_mode="stretch_width", max_width=EMBED_MAX, margin=(5, 5),
                           styles=_SHRINK)
        layout.app = self
        return layout
