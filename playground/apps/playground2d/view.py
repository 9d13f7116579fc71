"""The 2-D playground's controls, each a thin view over the ``run.Setup`` (or the
``run.Playground``) that exposes its widgets: the settings, the hidden-layer editor, the
CSV upload and "Show me the code"."""
from __future__ import annotations

import panel as pn

from playground.ui.components import FilePicker

from .data import FEATURES, CSVError, read_upload
from .export import ACTIVATIONS
from .run import MAX_LAYERS, MAX_NEURONS

OPTIONS = {"l1": [0.0, 0.0001, 0.001, 0.003, 0.01, 0.03, 0.1], "l2": [0.0, 0.0001, 0.001, 0.003, 0.01, 0.03, 0.1],
           "lr": [0.00001, 0.0001, 0.001, 0.003, 0.01, 0.03, 0.1, 0.3, 1.0, 3.0, 10.0]}


def setup_widgets(setup):
    """{setting: widget}, each bound both ways to ``setup``."""
    w = {}
    w["problem"] = pn.widgets.RadioButtonGroup.from_param(setup.param.problem, name="Problem")
    w["dataset"] = pn.widgets.Select.from_param(setup.param.dataset, name="Dataset", width=200)
    w["noise"] = pn.widgets.FloatSlider.from_param(setup.param.noise, step=0.05, name="Noise", width=200)
    w["ratio"] = pn.widgets.FloatSlider.from_param(setup.param.ratio, step=0.05, name="Training ratio", width=200)
    w["features"] = pn.widgets.CheckButtonGroup(label="Features", value=setup.feature_list(),
                                                options={FEATURES[k][0]: k for k in FEATURES},
                                                orientation="vertical", width=120)
    small = dict(width=130)
    w["loss"] = pn.widgets.Select.from_param(setup.param.loss, name="Loss", **small)
    w["optimizer"] = pn.widgets.Select.from_param(setup.param.optimizer, name="Optimizer", **small)
    w["lr"] = pn.widgets.Select(label="Learning rate", options=OPTIONS["lr"], value=setup.lr, **small)
    w["batch_size"] = pn.widgets.IntSlider.from_param(setup.param.batch_size, start=1, end=100,
                                                      name="Batch size", **small)
    w["dropout"] = pn.widgets.FloatSlider.from_param(setup.param.dropout, step=0.05, name="Dropout", **small)
    w["l1"] = pn.widgets.Select(label="L1", options=OPTIONS["l1"], value=setup.l1, **small)
    w["l2"] = pn.widgets.Select(label="L2", options=OPTIONS["l2"], value=setup.l2, **small)
    w["seed"] = pn.widgets.IntInput.from_param(setup.param.seed, name="Seed", **small)
    for k in ("l1", "l2", "lr"):  # menus of values: a value from the URL joins its menu
        if getattr(setup, k) not in w[k].options:
            w[k].options = sorted(set(w[k].options) | {getattr(setup, k)})
        w[k].link(setup, value=k)
    w["features"].param.watch(lambda e: setattr(setup, "features", ",".join(e.new) or "x"), "value")
    return w


class LayerEditor:
    """One row per hidden layer (neurons, activation) and the + / − layer buttons."""

    def __init__(self, setup):
        self.setup = setup
        self.box = pn.Column(margin=0)
        self.add = pn.widgets.Button(label="+ layer", width=80)
        self.remove = pn.widgets.Button(label="− layer", width=80)
        self.add.on_click(self.on_add)
        self.remove.on_click(self.on_remove)

    def render(self, *_):
        rows = []
        for i, (n, act) in enumerate(zip(self.setup.layer_sizes(), self.setup.layer_activations())):
            ni = pn.widgets.IntInput(label=f"Layer {i + 1}", value=n, start=1, end=MAX_NEURONS, width=75)
            ai = pn.widgets.Select(label="activation", value=act, options=list(ACTIVATIONS), width=95)
            ni.param.watch(lambda e, i=i: self.set_layer(i, neurons=e.new), "value")
            ai.param.watch(lambda e, i=i: self.set_layer(i, act=e.new), "value")
            rows.append(pn.Row(ni, ai, margin=0))
        self.box.objects = rows

    def set_layer(self, i, neurons=None, act=None):
        sizes, acts = self.setup.layer_sizes(), self.setup.layer_activations()
        if neurons is not None:
            sizes[i] = neurons
        if act is not None:
            acts[i] = act
        self.setup.param.update(hidden=",".join(map(str, sizes)), activations=",".join(acts))

    def on_add(self, _):
        sizes, acts = self.setup.layer_sizes(), self.setup.layer_activations()
        if len(sizes) < MAX_LAYERS:
            self.setup.param.update(hidden=",".join(map(str, sizes + [4])),
                                    activations=",".join(acts + [acts[-1] if acts else "tanh"]))

    def on_remove(self, _):
        sizes, acts = self.setup.layer_sizes(), self.setup.layer_activations()
        if sizes:
            self.setup.param.update(hidden=",".join(map(str, sizes[:-1])), activations=",".join(acts[:-1]))


class Upload:
    """A CSV of x,y,label: the points go to ``pg.custom``, the dataset becomes "custom";
    ``rebuild(why)`` is called when it already was."""

    def __init__(self, pg, rebuild):
        self.pg, self.rebuild = pg, rebuild
        self.picker = FilePicker(label="Upload CSV (x,y,label)", accept=".csv,text/csv", width=200)
        self.msg = pn.pane.Alert("", alert_type="danger", visible=False, width=200)
        self.picker.param.watch(self.on_upload, "file")

    def say(self, text, kind):
        self.msg.object, self.msg.alert_type, self.msg.visible = text, kind, True

    def on_upload(self, _):
        if not self.picker.file:
            return
        setup, name, data = self.pg.setup, self.picker.filename, self.picker.data()
        try:
            X, y, msg = read_upload(name, data, setup.problem)
        except CSVError as err:
            self.say(str(err), "danger")
            return
        self.pg.custom = (X, y)
        self.say(msg, "success")
        if setup.dataset == "custom":
            self.rebuild(f"new points from {name}")
        else:
            setup.dataset = "custom"


class CodePanel:
    """"Show me the code": the network as a script for engine and for PyTorch, hidden until asked."""

    def __init__(self, pg):
        self.pg = pg
        self.engine = pn.widgets.CodeEditor(value="", language="python", readonly=True, height=360,
                                            sizing_mode="stretch_width")
        self.torch = pn.widgets.CodeEditor(value="", language="python", readonly=True, height=360,
                                           sizing_mode="stretch_width")
        self.tabs = pn.Tabs(("engine", self.engine), ("PyTorch", self.torch), visible=False,
                            sizing_mode="stretch_width")
        self.button = pn.widgets.Button(label="Show me the code", color="success")
        self.button.on_click(self.toggle)

    def refresh(self):
        if self.tabs.visible:  # once shown, the code follows every change
            self.engine.value = self.pg.export("engine")
            self.torch.value = self.pg.export("torch")

    def toggle(self, _):
        self.tabs.visible = not self.tabs.visible
        self.button.label = "Hide the code" if self.tabs.visible else "Show me the code"
        self.refresh()
