"""2-D playground, in the spirit of TensorFlow Playground, on the `engine`.

Pick a dataset (or upload a CSV of x,y,label), input features, a stack of hidden layers
with an activation each, regularisation and a loss; watch the decision boundary, every
neuron's own map and the loss curves change as it trains. The whole setup lives in the
URL, and "Show me the code" writes the same network and training loop as a runnable
script for `engine` and for PyTorch.

The parts without Panel live in ``playground/apps/playground2d`` (data, run, export); this module
is the page.
"""
from __future__ import annotations

import numpy as np

from playground.apps.playground2d.data import (CLASSIFICATION_SETS, FEATURES, REGRESSION_SETS, CSVError,  # noqa: F401
                                       make_regression, parse_csv, read_upload)
from playground.apps.playground2d.export import ACTIVATIONS, export_code  # noqa: F401
from playground.apps.playground2d.run import (GRID, MAX_LAYERS, MAX_NEURONS, URL_KEYS, Playground, Setup,  # noqa: F401
                                      build_model, loss_fn)
from playground.ui.palettes import ORANGE_BLUE

OPTIONS = {"l1": [0.0, 0.0001, 0.001, 0.003, 0.01, 0.03, 0.1], "l2": [0.0, 0.0001, 0.001, 0.003, 0.01, 0.03, 0.1],
           "lr": [0.00001, 0.0001, 0.001, 0.003, 0.01, 0.03, 0.1, 0.3, 1.0, 3.0, 10.0]}
RESTART_KEYS = ["problem", "dataset", "noise", "ratio", "features", "hidden", "activations",
                "dropout", "seed", "optimizer"]


def playground2d_app(location=None):
    """The Panel page. ``location``: a ``pn.state.location``-like object to sync the URL
    with (defaults to the session's; tests pass their own)."""
    import panel as pn
    from bokeh.models import ColumnDataSource, LinearColorMapper

    from playground.ui.components import FilePicker, wrap_row
    from playground.ui.plots import figure
    from playground.training.trainer import Trainer
    from playground.ui.trainer_controls import trainer_controls

    pn.extension("codeeditor")
    setup = Setup()
    loc = location if location is not None else pn.state.location
    if loc is not None:
        loc.sync(setup, {k: k for k in URL_KEYS})
    pg = Playground(setup)

    # -- plots -------------------------------------------------------------------------------
    cmap = LinearColorMapper(palette=ORANGE_BLUE, low=-1, high=1)
    heat_src = ColumnDataSource(dict(image=[np.zeros((GRID, GRID), np.float32)]))
    train_src = ColumnDataSource(dict(x=[], y=[], c=[]))
    test_src = ColumnDataSource(dict(x=[], y=[], c=[]))
    loss_src = ColumnDataSource(dict(epoch=[], train=[], test=[]))
    div_src = ColumnDataSource(dict(epoch=[], loss=[]), name="diverged")
    neuron_src = ColumnDataSource(dict(image=[], dw=[], dh=[]))

    heat = figure(width=440, height=440, x_range=(-1.1, 1.1), y_range=(-1.1, 1.1), toolbar_location=None,
                  title="Output (test points outlined)", sizing_mode="scale_width", max_width=440, min_width=260)
    heat.image("image", source=heat_src, x=-1.1, y=-1.1, dw=2.2, dh=2.2, color_mapper=cmap)
    heat.scatter("x", "y", source=train_src, fill_color={"field": "c", "transform": cmap},
                 line_color="white", size=6)
    heat.scatter("x", "y", source=test_src, fill_color={"field": "c", "transform": cmap},
                 line_color="black", size=7, line_width=1.5)
    # log scale: a loss that blew up before the restore still leaves the curve readable
    curve = figure(width=440, height=190, toolbar_location=None, title="Loss", x_axis_label="epoch",
                   y_axis_type="log", sizing_mode="stretch_width", max_width=440, min_width=260)
    curve.line("epoch", "train", source=loss_src, legend_label="train", color="#1f77b4", line_width=2)
    curve.line("epoch", "test", source=loss_src, legend_label="test", color="#ff7f0e", line_width=2)
    curve.scatter("epoch", "loss", source=div_src, marker="x", size=14, line_width=3, color="#d62728",
                  legend_label="diverged")
    curve.legend.location, curve.legend.orientation = "top_right", "horizontal"
    curve.legend.label_text_font_size, curve.legend.background_fill_alpha = "10px", 0.6
    curve.legend.padding, curve.legend.spacing, curve.legend.margin = 2, 6, 4
    neurons = figure(width=400, height=370, toolbar_location=None, match_aspect=True,
                     title="Every neuron (columns: inputs, layer 1, layer 2, …)", x_axis_location=None,
                     y_axis_location=None, sizing_mode="scale_width", max_width=400, min_width=260)
    neurons.grid.visible = False
    gaps = LinearColorMapper(palette=ORANGE_BLUE, low=-1, high=1, nan_color=(0, 0, 0, 0))  # see-through gaps
    neurons.image("image", x=0, y=0, dw="dw", dh="dh", source=neuron_src, color_mapper=gaps)
    summary = pn.pane.Markdown("", margin=(0, 10))

    def draw_points():
        def col(y):
            y = np.asarray(y, np.float32)
            return (2 * y - 1).tolist() if setup.problem == "classification" else y.tolist()
        train_src.data = dict(x=pg.Xtr[:, 0].tolist(), y=pg.Xtr[:, 1].tolist(), c=col(pg.ytr))
        test_src.data = dict(x=pg.Xte[:, 0].tolist(), y=pg.Xte[:, 1].tolist(), c=col(pg.yte))

    def draw_maps(exact=True):
        out, maps = pg.maps(exact)
        heat_src.data = dict(image=[out])
        m = pg.mosaic(maps)
        neuron_src.data = dict(image=[m], dw=[m.shape[1]], dh=[m.shape[0]])

    def show_loss(note=""):
        tr, te = pg.evaluate()
        loss_src.stream(dict(epoch=[pg.epoch], train=[tr], test=[te]), rollover=1000)
        summary.object = f"**Epoch {pg.epoch:.1f}** · train loss {tr:.3f} · test loss {te:.3f}{note}"
        return tr

    def on_chunk(metrics):
        show_loss()
        draw_maps(exact=not trainer.running)  # while training the cheaper frame; exact once it stops

    def restore(snap):
        """After a divergence: the last good weights, and the page shows them, not the blow-up."""
        failed = pg.epoch
        pg.restore(snap)
        keep = [i for i, e in enumerate(loss_src.data["epoch"]) if e < pg.epoch - 1e-9]
        loss_src.data = {k: [v[i] for i in keep] for k, v in loss_src.data.items()}
        tr = show_loss(f" · diverged at epoch {failed:.1f}, weights of epoch {pg.epoch:.1f} restored")
        div_src.stream(dict(epoch=[failed], loss=[tr]))
        draw_maps()

    trainer = Trainer(pg.step, chunk=20, on_chunk=on_chunk, snapshot=pg.snapshot, restore=restore,
                      on_reset=lambda seed: restart(), on_stop=lambda t: on_stop())
    controls = trainer_controls(trainer, seed=False)

    def on_stop():
        draw_maps()
        refresh_code()

    def restart():
        pg.rebuild()
        loss_src.data = dict(epoch=[], train=[], test=[])
        div_src.data = dict(epoch=[], loss=[])
        draw_points()
        draw_maps()
        show_loss()
        refresh_code()

    # -- widgets bound to the setup --------------------------------------------------------
    w = {}
    w["problem"] = pn.widgets.RadioButtonGroup.from_param(setup.param.problem, name="Problem")
    w["dataset"] = pn.widgets.Select.from_param(setup.param.dataset, name="Dataset", width=200)
    w["noise"] = pn.widgets.FloatSlider.from_param(setup.param.noise, step=0.05, name="Noise", width=200)
    w["ratio"] = pn.widgets.FloatSlider.from_param(setup.param.ratio, step=0.05, name="Training ratio", width=200)
    feat_box = pn.widgets.CheckButtonGroup(label="Features", value=setup.feature_list(),
                                           options={FEATURES[k][0]: k for k in FEATURES},
                                           orientation="vertical", width=120)
    w["features"] = feat_box
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
    for k in ("l1", "l2", "lr"):
        if getattr(setup, k) not in w[k].options:
            w[k].options = sorted(set(w[k].options) | {getattr(setup, k)})
        w[k].link(setup, value=k)
    feat_box.param.watch(lambda e: setattr(setup, "features", ",".join(e.new) or "x"), "value")

    layers_box = pn.Column(margin=0)
    add_layer = pn.widgets.Button(label="+ layer", width=80)
    remove_layer = pn.widgets.Button(label="− layer", width=80)

    def render_layers(*_):
        rows = []
        for i, (n, act) in enumerate(zip(setup.layer_sizes(), setup.layer_activations())):
            ni = pn.widgets.IntInput(label=f"Layer {i + 1}", value=n, start=1, end=MAX_NEURONS, width=75)
            ai = pn.widgets.Select(label="activation", value=act, options=list(ACTIVATIONS), width=95)
            ni.param.watch(lambda e, i=i: set_layer(i, neurons=e.new), "value")
            ai.param.watch(lambda e, i=i: set_layer(i, act=e.new), "value")
            rows.append(pn.Row(ni, ai, margin=0))
        layers_box.objects = rows

    def set_layer(i, neurons=None, act=None):
        sizes, acts = setup.layer_sizes(), setup.layer_activations()
        if neurons is not None:
            sizes[i] = neurons
        if act is not None:
            acts[i] = act
        setup.param.update(hidden=",".join(map(str, sizes)), activations=",".join(acts))

    def on_add(_):
        sizes, acts = setup.layer_sizes(), setup.layer_activations()
        if len(sizes) < MAX_LAYERS:
            setup.param.update(hidden=",".join(map(str, sizes + [4])),
                               activations=",".join(acts + [acts[-1] if acts else "tanh"]))

    def on_remove(_):
        sizes, acts = setup.layer_sizes(), setup.layer_activations()
        if sizes:
            setup.param.update(hidden=",".join(map(str, sizes[:-1])), activations=",".join(acts[:-1]))

    add_layer.on_click(on_add)
    remove_layer.on_click(on_remove)

    upload = FilePicker(label="Upload CSV (x,y,label)", accept=".csv,text/csv", width=200)
    upload_msg = pn.pane.Alert("", alert_type="danger", visible=False, width=200)

    def say(text, kind):
        upload_msg.object, upload_msg.alert_type, upload_msg.visible = text, kind, True

    def on_upload(_):
        if not upload.file:
            return
        name, data = upload.filename, upload.data()
        try:
            X, y, msg = read_upload(name, data, setup.problem)
        except CSVError as err:
            say(str(err), "danger")
            return
        pg.custom = (X, y)
        say(msg, "success")
        if setup.dataset == "custom":
            trainer.rebuild(f"new points from {name}")
        else:
            setup.dataset = "custom"

    upload.param.watch(on_upload, "file")

    code_engine = pn.widgets.CodeEditor(value="", language="python", readonly=True, height=360,
                                        sizing_mode="stretch_width")
    code_torch = pn.widgets.CodeEditor(value="", language="python", readonly=True, height=360,
                                       sizing_mode="stretch_width")
    code = pn.Tabs(("engine", code_engine), ("PyTorch", code_torch), visible=False, sizing_mode="stretch_width")
    show_code = pn.widgets.Button(label="Show me the code", color="success")

    def refresh_code():
        if code.visible:  # once shown, the code follows every change
            code_engine.value = pg.export("engine")
            code_torch.value = pg.export("torch")

    def on_code(_):
        code.visible = not code.visible
        show_code.label = "Hide the code" if code.visible else "Show me the code"
        refresh_code()

    show_code.on_click(on_code)

    # -- reactions to setup changes ----------------------------------------------------------
    def on_setup(*events):
        names = {e.name for e in events}
        if "problem" in names:
            w["loss"].disabled = setup.problem == "regression"  # one loss there: squared error
            sets = CLASSIFICATION_SETS if setup.problem == "classification" else REGRESSION_SETS
            if setup.dataset not in sets and setup.dataset != "custom":
                setup.dataset = sets[0]
                return  # that change calls us again
        if "features" in names and feat_box.value != setup.feature_list():
            feat_box.value = setup.feature_list()
        if names & {"hidden", "activations"}:
            render_layers()
        if setup.dataset == "custom" and pg.custom is None:
            say("Upload a CSV of x,y,label to use your own points.", "warning")
        if names & set(RESTART_KEYS):
            trainer.rebuild(", ".join(f"{e.name} → {_short(e.new)}" for e in events if e.name in RESTART_KEYS))
        else:
            if "lr" in names:
                trainer.queue(lambda: setattr(pg.opt, "lr", setup.lr), f"learning rate {setup.lr}")
            if "batch_size" in names:
                trainer.queue(pg.make_loader, f"batch size {setup.batch_size}")
            for k in ("l1", "l2", "lr"):
                if k in names and w[k].value != getattr(setup, k):
                    w[k].value = getattr(setup, k)
        refresh_code()

    setup.param.watch(on_setup, URL_KEYS)
    w["loss"].disabled = setup.problem == "regression"
    render_layers()
    restart()

    # -- layout: columns that wrap, so it fits a wide screen and a 320 px column alike -------
    def grow(basis):  # a wrapping row's item: as wide as it may be, on its own line below ``basis``
        return {"flex": f"1 1 {basis}px", "min-width": "0"}

    col = dict(margin=(0, 8))
    data_col = pn.Column("### Data", w["problem"], w["dataset"], w["noise"], w["ratio"], upload, upload_msg,
                         width=220, **col)
    net_col = pn.Column("### Features", feat_box, "### Hidden layers", pn.Row(add_layer, remove_layer, margin=0),
                        layers_box, width=200, **col)
    out_col = pn.Column(summary, pn.pane.Bokeh(heat, sizing_mode="stretch_width"),
                        pn.pane.Bokeh(curve, sizing_mode="stretch_width"),
                        sizing_mode="stretch_width", min_width=260, max_width=440, styles=grow(340), **col)
    train_box = wrap_row(w["loss"], w["optimizer"], w["lr"], w["batch_size"], w["dropout"], w["l1"], w["l2"],
                           w["seed"], sizing_mode="stretch_width")
    top = wrap_row(pn.Column(controls, sizing_mode="stretch_width", max_width=460, styles=grow(300)),
                     pn.Column("### Training", train_box, sizing_mode="stretch_width", styles=grow(500), **col),
                     sizing_mode="stretch_width")
    main = wrap_row(out_col, data_col, net_col,
                      pn.Column(pn.pane.Bokeh(neurons, sizing_mode="stretch_width"), sizing_mode="stretch_width",
                                min_width=260, max_width=400, **col),
                      sizing_mode="stretch_width")
    layout = pn.Column(top, main, show_code, code, sizing_mode="stretch_width", styles={"min-width": "0"})
    layout.controls = dict(setup=setup, playground=pg, trainer=trainer, widgets=w, heat=heat_src,
                           neurons=neuron_src, loss=loss_src, diverged=div_src, train_points=train_src,
                           test_points=test_src, upload=upload, upload_msg=upload_msg,
                           code_engine=code_engine, code_torch=code_torch, code=code, show_code=show_code,
                           add_layer=add_layer, remove_layer=remove_layer, layers=layers_box,
                           summary=summary, trainer_controls=controls)
    return layout


def _short(v, n=24):
    """A setting's value for a status line, cut to ``n`` characters."""
    text = str(v)
    return text if len(text) <= n else text[:n - 1] + "…"
