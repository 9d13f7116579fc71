"""The Digits app's widgets: the run's choices (bound to its parameters), the trainer's
controls, the drawing pad, "Your runs" (kept in the browser) and the model file's save and
load. ``DigitsViews`` only makes them; app.py wires their callbacks and lays them out.
"""
from __future__ import annotations

import html

import panel as pn

from playground.apps.digits.run import LR_OPTIONS, MODEL_NAMES, OPTIMISERS
from playground.ui.components import BrowserStore, DrawingCanvas, FilePicker
from playground.ui.trainer_controls import trainer_controls

HALF = 145             # two widgets side by side in the sidebar


class DigitsViews:
    """The widgets of a run (``run``: a DigitsRun) and its ``trainer``; ``download`` gives the
    bytes of the model file to save."""

    def __init__(self, run, trainer, download):
        w = pn.widgets
        p = run.param
        self.w_model = w.RadioButtonGroup.from_param(p.model_kind, options={v: k for k, v in MODEL_NAMES.items()},
                                                     button_type="primary", button_style="outline")
        self.w_layers = w.IntSlider.from_param(p.layers, width=HALF)
        self.w_width = w.DiscreteSlider.from_param(p.width, width=HALF, name="Width")
        self.w_activation = w.Select.from_param(p.activation, width=HALF)
        self.w_dropout = w.DiscreteSlider.from_param(p.dropout, width=HALF)
        self.w_optimizer = w.Select.from_param(p.optimizer, width=HALF,
                                               options={v: k for k, v in OPTIMISERS.items()})
        self.w_lr = w.DiscreteSlider.from_param(p.lr, options={f"{v:g}": v for v in LR_OPTIONS})
        self.w_batch = w.DiscreteSlider.from_param(p.batch_size, width=HALF)
        self.w_epochs = w.IntSlider.from_param(p.epochs, width=HALF)
        self.w_augment = w.Checkbox.from_param(p.augment)
        self.w_schedule = w.RadioButtonGroup.from_param(p.schedule, button_style="outline",
                                                        width=HALF, align="end")
        self.mlp_box = pn.Row(self.w_layers, self.w_width, visible=run.model_kind == "mlp", margin=0)
        run.param.watch(lambda e: setattr(self.mlp_box, "visible", e.new == "mlp"), "model_kind")
        self.controls = trainer_controls(trainer)

        self.canvas = DrawingCanvas()
        self.store = BrowserStore(key="descent-digits-runs", height=0, width=0, margin=0)
        self.runs_pane = pn.pane.HTML("", sizing_mode="stretch_width")
        self.store.param.watch(self.show_runs, "items")
        self.clear_runs = w.Button(label="Forget my runs", width=140)
        self.clear_runs.on_click(lambda e: setattr(self.store, "items", []))

        self.download = w.FileDownload(callback=download, filename="digits-model.npz",
                                       label="Save model (.npz)", color="success", width=280)
        self.upload = FilePicker(accept=".npz", width=280, height=30)
        self.file_msg = pn.pane.Alert("", alert_type="light", visible=False, width=280)
        self.model_info = pn.pane.Markdown("", styles={"font-size": "12px"}, width=280)

    def say(self, text, ok):
        """A message about a model file: green when it loaded, red when it was refused."""
        self.file_msg.object = text
        self.file_msg.alert_type = "success" if ok else "danger"
        self.file_msg.visible = True

    def keep_run(self, entry):
        """Add (or update) a run in "Your runs"; the browser keeps the last 50."""
        runs = [r for r in self.store.items if r.get("id") != entry["id"]] + [entry]
        self.store.items = runs[-50:]

    def show_runs(self, *_):
        self.runs_pane.object = runs_table(self.store.items)


def runs_table(runs) -> str:
    """The runs, best held-out accuracy first (20 at most), as an HTML table."""
    runs = sorted(runs, key=lambda r: -float(r.get("acc", 0)))
    if not runs:
        return "<i>No runs yet: train a model and it appears here (kept in this browser).</i>"
    head = ("<tr><th></th><th>held-out</th><th>model</th><th>optimiser</th><th>lr</th>"
            "<th>batch</th><th>epochs</th><th>aug</th><th>time</th><th>when</th></tr>")
    rows = []
    for i, r in enumerate(runs[:20]):
        best = i == 0
        rows.append(
            f"<tr style='{'background:#fff4c2;font-weight:600' if best else ''}'>"
            f"<td>{'★ best' if best else i + 1}</td><td>{float(r.get('acc', 0)):.2%}</td>"
            f"<td>{_esc(r.get('model'))} {_esc(r.get('arch', ''))}</td><td>{_esc(r.get('optimizer'))}</td>"
            f"<td>{_esc(r.get('lr'))}</td><td>{_esc(r.get('batch'))}</td><td>{_esc(r.get('epochs'))}</td>"
            f"<td>{'yes' if r.get('augment') else 'no'}</td><td>{_esc(r.get('seconds'))} s</td>"
            f"<td>{_esc(r.get('when'))}</td></tr>")
    return ("<table class='descent-runs' style='border-collapse:collapse;font-size:13px'>"
            + head + "".join(rows) + "</table>"
            "<style>.descent-runs td,.descent-runs th{padding:2px 8px;"
            "border-bottom:1px solid #ddd;text-align:left}</style>")


def _esc(v):
    return html.escape(str(v if v is not None else ""))
