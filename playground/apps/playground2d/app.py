"""2-D playground, in the spirit of TensorFlow Playground, on the `engine`.

Pick a dataset (or upload a CSV of x,y,label), input features, a stack of hidden layers
with an activation each, regularisation and a loss; watch the decision boundary, every
neuron's own map and the loss curves change as it trains. The whole setup lives in the
URL, and "Show me the code" writes the same network and training loop as a runnable
script for `engine` and for PyTorch.

The state has no Panel in it (``data``, ``run``, ``export``); ``plots`` and ``view`` are the
page's parts; this module composes them and reacts to changes of the setup.
"""
from __future__ import annotations

from playground.apps.playground2d.data import CLASSIFICATION_SETS, REGRESSION_SETS
from playground.apps.playground2d.run import URL_KEYS, Playground, Setup

RESTART_KEYS = ["problem", "dataset", "noise", "ratio", "features", "hidden", "activations",
                "dropout", "seed", "optimizer"]


def playground2d_app(location=None):
    """The Panel page. ``location``: a ``pn.state.location``-like object to sync the URL
    with (defaults to the session's; tests pass their own)."""
    import panel as pn

    from playground.apps.playground2d.plots import Plots
    from playground.apps.playground2d.view import CodePanel, LayerEditor, Upload, setup_widgets
    from playground.training.trainer import Trainer
    from playground.ui.layout import wrap_row
    from playground.ui.trainer_controls import trainer_controls

    pn.extension("codeeditor")
    setup = Setup()
    loc = location if location is not None else pn.state.location
    if loc is not None:
        loc.sync(setup, {k: k for k in URL_KEYS})
    pg = Playground(setup)
    plots = Plots(pg)
    summary = pn.pane.Markdown("", margin=(0, 10))

    def show_loss(note=""):
        tr, te = plots.add_loss()
        summary.object = f"**Epoch {pg.epoch:.1f}** · train loss {tr:.3f} · test loss {te:.3f}{note}"
        return tr

    def on_chunk(metrics):
        show_loss()
        plots.draw_maps(exact=not trainer.running)  # while training the cheaper frame; exact once it stops

    def restore(snap):
        """After a divergence: the last good weights, and the page shows them, not the blow-up."""
        failed = pg.epoch
        pg.restore(snap)
        plots.trim_losses()
        tr = show_loss(f" · diverged at epoch {failed:.1f}, weights of epoch {pg.epoch:.1f} restored")
        plots.mark_divergence(failed, tr)
        plots.draw_maps()

    def on_stop():
        plots.draw_maps()
        code.refresh()

    def restart():
        pg.rebuild()
        plots.clear()
        plots.draw_points()
        plots.draw_maps()
        show_loss()
        code.refresh()

    trainer = Trainer(pg.step, chunk=20, on_chunk=on_chunk, snapshot=pg.snapshot, restore=restore,
                      on_reset=lambda seed: restart(), on_stop=lambda t: on_stop())
    controls = trainer_controls(trainer, seed=False)
    w = setup_widgets(setup)
    layers = LayerEditor(setup)
    upload = Upload(pg, trainer.rebuild)
    code = CodePanel(pg)

    def on_setup(*events):
        names = {e.name for e in events}
        if "problem" in names:
            w["loss"].disabled = setup.problem == "regression"  # one loss there: squared error
            sets = CLASSIFICATION_SETS if setup.problem == "classification" else REGRESSION_SETS
            if setup.dataset not in sets and setup.dataset != "custom":
                setup.dataset = sets[0]
                return  # that change calls us again
        if "features" in names and w["features"].value != setup.feature_list():
            w["features"].value = setup.feature_list()
        if names & {"hidden", "activations"}:
            layers.render()
        if setup.dataset == "custom" and pg.custom is None:
            upload.say("Upload a CSV of x,y,label to use your own points.", "warning")
        if names & set(RESTART_KEYS):
            trainer.rebuild(", ".join(f"{e.name} → {short(e.new)}" for e in events if e.name in RESTART_KEYS))
        else:
            if "lr" in names:
                trainer.queue(lambda: setattr(pg.opt, "lr", setup.lr), f"learning rate {setup.lr}")
            if "batch_size" in names:
                trainer.queue(pg.make_loader, f"batch size {setup.batch_size}")
            for k in ("l1", "l2", "lr"):
                if k in names and w[k].value != getattr(setup, k):
                    w[k].value = getattr(setup, k)
        code.refresh()

    setup.param.watch(on_setup, URL_KEYS)
    w["loss"].disabled = setup.problem == "regression"
    layers.render()
    restart()

    # -- layout: columns that wrap, so it fits a wide screen and a 320 px column alike -------
    def grow(basis):  # a wrapping row's item: as wide as it may be, on its own line below ``basis``
        return {"flex": f"1 1 {basis}px", "min-width": "0"}

    col = dict(margin=(0, 8))
    data_col = pn.Column("### Data", w["problem"], w["dataset"], w["noise"], w["ratio"], upload.picker,
                         upload.msg, width=220, **col)
    net_col = pn.Column("### Features", w["features"], "### Hidden layers",
                        pn.Row(layers.add, layers.remove, margin=0), layers.box, width=200, **col)
    out_col = pn.Column(summary, pn.pane.Bokeh(plots.heat, sizing_mode="stretch_width"),
                        pn.pane.Bokeh(plots.curve, sizing_mode="stretch_width"),
                        sizing_mode="stretch_width", min_width=260, max_width=440, styles=grow(340), **col)
    train_box = wrap_row(w["loss"], w["optimizer"], w["lr"], w["batch_size"], w["dropout"], w["l1"], w["l2"],
                         w["seed"], sizing_mode="stretch_width")
    top = wrap_row(pn.Column(controls, sizing_mode="stretch_width", max_width=460, styles=grow(300)),
                   pn.Column("### Training", train_box, sizing_mode="stretch_width", styles=grow(500), **col),
                   sizing_mode="stretch_width")
    main = wrap_row(out_col, data_col, net_col,
                    pn.Column(pn.pane.Bokeh(plots.neurons, sizing_mode="stretch_width"), sizing_mode="stretch_width",
                              min_width=260, max_width=400, **col),
                    sizing_mode="stretch_width")
    layout = pn.Column(top, main, code.button, code.tabs, sizing_mode="stretch_width", styles={"min-width": "0"})
    layout.controls = dict(setup=setup, playground=pg, trainer=trainer, widgets=w, heat=plots.heat_src,
                           neurons=plots.neuron_src, loss=plots.loss_src, diverged=plots.div_src,
                           train_points=plots.train_src, test_points=plots.test_src, upload=upload.picker,
                           upload_msg=upload.msg, code_engine=code.engine, code_torch=code.torch, code=code.tabs,
                           show_code=code.button, add_layer=layers.add, remove_layer=layers.remove,
                           layers=layers.box, summary=summary, trainer_controls=controls)
    return layout


def short(v, n=24):
    """A setting's value for a status line, cut to ``n`` characters."""
    text = str(v)
    return text if len(text) <= n else text[:n - 1] + "…"
