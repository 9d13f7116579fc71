"""Names: makemore in the page. Made-up names from bigram counts to attention.

Pick a model, press Train, and watch: the loss falls, new names are sampled every chunk,
the count table (or what the neural bigram learned of it) is a heat-map, the MLP's letter
embeddings move in 2-D, and the transformer shows where each letter of a name you type
looks. A table keeps the best val loss of every model next to makemore's figures.
The state behind it (no Panel) is ``lab.NamesLab``; this module is the page.
"""
from __future__ import annotations

import numpy as np

from playground.apps.names import model as M
from playground.apps.names.lab import NamesLab


HEAT_TITLES = {"bigram": "the counts so far", "neural": "softmax(W)",  # titles fit 380 px
               "mlp": "the MLP's, mean over val", "transformer": "the transformer's, mean over val"}


def names_app(view=None, val_limit=800):
    import time

    import panel as pn
    from bokeh.models import ColumnDataSource, LinearColorMapper, Range1d

    from playground.ui.curves import Capped, add_marks, legend_above
    from playground.ui.layout import column, pane, wrap
    from playground.ui.plots import figure
    from playground.training.trainer import Trainer
    from playground.ui.trainer_controls import trainer_controls

    pn.extension()
    letters = list(M.VOCAB)
    kind = pn.widgets.RadioButtonGroup(label="Model", options={M.TITLES[k]: k for k in M.MODELS},
                                       value="mlp", sizing_mode="stretch_width",
                                       stylesheets=[".bk-btn-group { flex-wrap: wrap; }"])
    temperature = pn.widgets.FloatSlider(label="Temperature", start=0.2, end=2.0, step=0.1, value=1.0,
                                         width=150)
    prefix = pn.widgets.TextInput(label="Complete my prefix", placeholder="e.g. ka", value="", width=130)
    look = pn.widgets.TextInput(label="A name for the attention map", value="isabella", width=220)
    lab = {"m": NamesLab("mlp", val_limit=val_limit)}
    rng = np.random.default_rng(0)

    heat_src = ColumnDataSource(dict(image=[np.zeros((M.V, M.V))]))
    heat = figure(width=380, height=400, toolbar_location=None, title="P(next letter | this letter)",
                  x_range=Range1d(0, M.V), y_range=Range1d(M.V, 0), x_axis_label="next",
                  y_axis_label="this")
    heat.image("image", source=heat_src, x=0, y=0, dw=M.V, dh=M.V,
               color_mapper=LinearColorMapper(palette="Blues256", low=0.3, high=0))
    heat.xaxis.ticker = heat.yaxis.ticker = list(np.arange(M.V) + 0.5)
    heat.xaxis.major_label_overrides = heat.yaxis.major_label_overrides = {
        float(i + 0.5): c for i, c in enumerate(letters)}
    curve_src = ColumnDataSource(dict(step=[], train=[], val=[]))
    spikes = ColumnDataSource(dict(step=[], y=[]))
    curve = figure(width=460, height=330, toolbar_location=None, title="Loss (nats per character)",
                   x_axis_label="step")
    curve.line("step", "train", source=curve_src, legend_label="train (batch)", line_width=2)
    curve.line("step", "val", source=curve_src, legend_label="val", color="#ff7f0e", line_width=2)
    add_marks(curve, spikes)
    legend_above(curve)
    capped = Capped(curve_src, spikes)
    emb_src = ColumnDataSource(dict(x=[], y=[], c=[]))
    emb = figure(width=320, height=300, toolbar_location=None, title="MLP letter embeddings (2-D)")
    emb.scatter("x", "y", source=emb_src, size=16, color="#c6dbef", line_color="#4c72b0")
    emb.text("x", "y", text="c", source=emb_src, text_align="center", text_baseline="middle")
    att_src = ColumnDataSource(dict(image=[np.zeros((2, 2))]))
    att = figure(width=320, height=320, toolbar_location=None, title="Attention (block 1, mean of heads)",
                 x_range=Range1d(0, 2), y_range=Range1d(2, 0), x_axis_label="looks at",
                 y_axis_label="letter")
    att.image("image", source=att_src, x=0, y=0, dw=2, dh=2,
              color_mapper=LinearColorMapper(palette="Oranges256", low=1, high=0))
    samples = pn.pane.Markdown("", sizing_mode="stretch_width")
    table = pn.pane.Markdown("", sizing_mode="stretch_width", max_width=440)
    note = pn.pane.Markdown("", sizing_mode="stretch_width")

    def refresh_samples():
        names = lab["m"].sample(12, temperature.value, prefix.value, rng)
        samples.object = "**Samples:** " + ", ".join(n or "·" for n in names)

    def refresh_attention():
        got = lab["m"].attention_map(look.value or "a")
        att_box.visible = got is not None
        if got is None:
            return
        labels, w = got
        t = len(labels)
        att.x_range.end = att.y_range.start = t
        att_src.data = dict(image=[w])
        att.renderers[0].glyph.update(dw=t, dh=t)
        att.xaxis.ticker = att.yaxis.ticker = list(np.arange(t) + 0.5)
        att.xaxis.major_label_overrides = att.yaxis.major_label_overrides = {
            float(i + 0.5): c for i, c in enumerate(labels)}

    def refresh(train_loss=None, val=None):
        m = lab["m"]
        if train_loss is not None:
            val = m.record(train_loss, val)
            capped.stream(dict(step=[m.steps], train=[train_loss], val=[val]), ys=("train", "val"))
        p = m.current_probs()
        heat_src.data = dict(image=[p])
        heat.title.text = f"P(next | this letter): {HEAT_TITLES[m.kind]}"
        if m.kind == "neural":
            gap = np.abs(p - m.probs).max()
            note.object = f"Neural bigram vs the counts: largest difference in P is {gap:.3f}."
        elif m.kind == "bigram":
            note.object = f"Counted {m.seen:,} of {len(m.train):,} training names."
        else:
            note.object = ""
        e = m.embedding_2d()
        emb_pane.visible = e is not None
        if e is not None:
            emb_src.data = dict(x=e[:, 0], y=e[:, 1], c=letters)
        refresh_attention()
        refresh_samples()
        table.object = m.table()

    # evaluating, sampling and the attention map cost time (the transformer's most of all):
    # a slice of the evaluation at a time, at most ~1/4 of the time, so training runs and
    # Pause lands between chunks; the plots follow when a pass is complete
    pending = {"loss": [], "last": 0.0, "cost": 0.0}

    def on_chunk(metrics):
        pending["loss"].extend(x["loss"] for x in metrics)
        now = time.perf_counter()
        if now - pending["last"] >= 3 * pending["cost"]:
            advance()
            pending.update(last=time.perf_counter(), cost=time.perf_counter() - now)

    def advance(finish=False):
        m = lab["m"]
        val = m.evaluate_some()
        while finish and val is None:
            val = m.evaluate_some()
        if val is not None:
            loss = float(np.mean(pending["loss"])) if pending["loss"] else None
            pending["loss"] = []
            refresh(loss, val)

    def flush():
        advance(finish=True)

    def on_stop(t):
        if t.error:  # diverged: the weights were restored; mark where, show the restored model
            capped.diverged(t, lab["m"].steps)
            pending["loss"] = []
            lab["m"].model_probs = None
            refresh()
        elif pending["loss"]:
            flush()

    def build(seed=0):
        best = lab["m"].best
        lab["m"] = NamesLab(kind.value, seed, val_limit=val_limit)
        lab["m"].best = best  # the table keeps every model's best
        pending.update(loss=[], last=0.0, cost=0.0)
        capped.reset(train=[], val=[])
        refresh()

    trainer = Trainer(lambda: lab["m"].step(), chunk=5, chunk_seconds=0.1, on_chunk=on_chunk,
                      snapshot=lambda: lab["m"].state(), restore=lambda s: lab["m"].load_state(s),
                      on_reset=build, on_stop=on_stop, steps_per_epoch=lambda: lab["m"].steps_per_epoch,
                      max_steps=lambda: lab["m"].steps_per_epoch if lab["m"].kind == "bigram" else None)
    kind.param.watch(lambda e: trainer.rebuild(f"model → {M.TITLES[e.new]}"), "value")
    temperature.param.watch(lambda e: refresh_samples(), "value")
    prefix.param.watch(lambda e: refresh_samples(), "value")
    look.param.watch(lambda e: refresh_attention(), "value")
    resample = pn.widgets.Button(label="New names", width=100, align="end")
    resample.on_click(lambda e: refresh_samples())
    emb_pane = pane(emb)
    att_box = column(look, pane(att), max_width=330)
    side = column(
        "## Names: makemore, from counts to attention",
        pn.pane.Markdown("Each model reads a name one letter at a time and guesses the next. "
                         "Train one, then sample new names; lower temperature plays safe.",
                         sizing_mode="stretch_width"),
        kind, trainer_controls(trainer), wrap(temperature, prefix, resample), samples, note,
        max_width=440)
    refresh()
    layout = wrap(side, pane(curve), pane(heat), emb_pane, att_box, table,
                        sizing_mode="stretch_width")
    layout.controls = dict(trainer=trainer, lab=lab, kind=kind, temperature=temperature,
                           prefix=prefix, look=look, heat=heat_src, curve=curve_src,
                           emb=emb_src, att=att_src, samples=samples, table=table, note=note,
                           refresh=refresh, resample=resample, spikes=spikes, flush=flush)
    return layout
