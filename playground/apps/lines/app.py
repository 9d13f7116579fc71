"""Count the lines: a small CNN learns to count straight lines in generated images.

A lab for "watch them break": counting looks easy, but crossing and touching lines,
and more lines than it was trained on, trip the network up. Per-count held-out accuracy
shows where, and the gallery shows the very images it gets wrong. The state behind it
(no Panel) is ``lab.LinesLab``; this module is the page.
"""
from __future__ import annotations

import time

import numpy as np

from playground.apps.lines.lab import LinesLab

GALLERY = 24


def lines_app():
    import panel as pn
    from bokeh.models import ColumnDataSource, LabelSet, LinearColorMapper, Range1d

    from playground.ui.curves import Capped, add_marks, legend_above
    from playground.ui.layout import column, pane, wrap
    from playground.ui.plots import figure
    from playground.training.trainer import Trainer
    from playground.ui.trainer_controls import trainer_controls

    pn.extension()
    max_lines = pn.widgets.IntSlider(label="Up to this many lines", start=2, end=8, value=5,
                                     sizing_mode="stretch_width", max_width=380)
    n_train = pn.widgets.Select(label="Training images", options=[1000, 3000, 6000], value=3000, width=130)
    lr = pn.widgets.Select(label="Learning rate", options=[3e-4, 1e-3, 2e-3, 5e-3], value=2e-3, width=130)
    lab = {"m": None}

    bar_src = ColumnDataSource(dict(count=[], acc=[], label=[]))
    bar_fig = figure(width=460, height=300, toolbar_location=None, y_range=(0, 1.15),  # room for "100%"
                     title="Held-out accuracy for each number of lines", x_axis_label="lines in the image")
    bar_fig.vbar(x="count", top="acc", source=bar_src, width=0.7, color="#4c72b0")
    bar_fig.add_layout(LabelSet(x="count", y="acc", text="label", source=bar_src, text_align="center",
                                y_offset=2, text_font_size="11px"))
    curve_src = ColumnDataSource(dict(epoch=[], train=[], test=[]))
    spikes = ColumnDataSource(dict(step=[], y=[]))
    curve = figure(width=440, height=300, toolbar_location=None, title="Accuracy", x_axis_label="epoch",
                   y_range=(0, 1.02))
    curve.line("epoch", "train", source=curve_src, legend_label="train (batch)", color="#1f77b4", line_width=2)
    curve.line("epoch", "test", source=curve_src, legend_label="held-out", color="#ff7f0e", line_width=2)
    add_marks(curve, spikes)
    marked = Capped(curve_src, spikes, x="epoch")  # accuracy needs no cap: only the marks
    legend_above(curve)
    gray = LinearColorMapper(palette=[f"#{v:02x}{v:02x}{v:02x}" for v in range(255, -1, -4)], low=0, high=1)
    cols, rows = 8, GALLERY // 8
    gallery_src = ColumnDataSource(dict(image=[np.zeros((rows * 34, cols * 30), np.float32)]))
    caption_src = ColumnDataSource(dict(x=[], y=[], text=[]))
    gallery = figure(width=cols * 62, height=rows * 72, x_range=Range1d(0, cols * 30),
                     y_range=Range1d(0, rows * 34), toolbar_location=None,
                     title="Held-out images it gets wrong (true → guess)",
                     x_axis_location=None, y_axis_location=None)
    gallery.image("image", source=gallery_src, x=0, y=0, dw=cols * 30, dh=rows * 34, color_mapper=gray)
    gallery.text("x", "y", text="text", source=caption_src, text_font_size="10px", text_color="#c00",
                 text_align="center", text_baseline="bottom")
    summary = pn.pane.Markdown("", sizing_mode="stretch_width")

    def build(seed=0):
        lab["m"] = LinesLab(max_lines=max_lines.value, n_train=n_train.value, lr=lr.value, seed=seed)
        marked.reset(train=[], test=[])
        pending.update(acc=[], last=0.0, cost=0.0)
        refresh()

    def refresh(train_acc=None):
        m = lab["m"]
        ev = m.evaluate()
        lab["eval"] = ev
        counts = list(range(1, m.max_lines + 1))
        bar_src.data = dict(count=counts, acc=ev["per_count"], label=[f"{a:.0%}" for a in ev["per_count"]])
        if train_acc is not None:
            curve_src.stream(dict(epoch=[m.epoch], train=[train_acc], test=[ev["acc"]]), rollover=1000)
        img = np.zeros((rows * 34, cols * 30), np.float32)
        xs, ys, texts = [], [], []
        for k, i in enumerate(ev["wrong"][:GALLERY]):
            r, c = divmod(k, cols)
            top = (rows - 1 - r) * 34  # bokeh rows grow upwards
            img[top + 1:top + 29, c * 30 + 1:c * 30 + 29] = m.xt[i, 0][::-1]
            xs.append(c * 30 + 15)
            ys.append(top + 29)
            texts.append(f"{m.yt[i]} → {ev['pred'][i]}")
        gallery_src.data = dict(image=[img])
        caption_src.data = dict(x=xs, y=ys, text=texts)
        summary.object = (f"**Held-out accuracy {ev['acc']:.1%}** on {len(m.yt)} new images · "
                          f"{len(ev['wrong'])} mistakes · epoch {m.epoch:.1f}")

    def on_chunk(metrics):
        # evaluating 600 held-out images costs time: spend at most ~1/4 of it on that
        now = time.perf_counter()
        pending["acc"].extend(x["acc"] for x in metrics)
        if now - pending["last"] >= 3 * pending["cost"]:
            flush()
            pending.update(last=time.perf_counter(), cost=time.perf_counter() - now)

    def flush():
        refresh(float(np.mean(pending["acc"])) if pending["acc"] else None)
        pending["acc"] = []

    def on_stop(t):
        if t.error:  # diverged: the weights were restored; mark where, show the restored model
            pending["acc"] = []
            marked.diverged(t, lab["m"].epoch, 1 / max(len(lab["m"].loader), 1))
        flush()

    pending = {"acc": [], "last": 0.0, "cost": 0.0}

    trainer = Trainer(lambda: lab["m"].step(), chunk=10, chunk_seconds=0.5, on_chunk=on_chunk,
                      snapshot=lambda: lab["m"].state(), restore=lambda s: lab["m"].load_state(s),
                      on_reset=build, on_stop=on_stop,
                      steps_per_epoch=lambda: len(lab["m"].loader) if lab["m"] else None)
    for w in (max_lines, n_train):
        w.param.watch(lambda e: trainer.rebuild(f"{e.obj.name.lower()} → {e.new}"), "value")
    lr.param.watch(lambda e: trainer.queue(lambda: setattr(lab["m"].opt, "lr", e.new),
                                           f"learning rate {e.new}"), "value")
    build()
    side = column(
        "## Count the lines",
        pn.pane.Markdown("A small CNN learns to count straight lines. Which counts are hard? "
                         "Look at the mistakes: crossings, touching lines, short stubs.",
                         sizing_mode="stretch_width"),
        trainer_controls(trainer), max_lines, wrap(n_train, lr), summary)
    layout = wrap(side, pane(bar_fig), pane(curve), pane(gallery), sizing_mode="stretch_width")
    layout.controls = dict(trainer=trainer, lab=lab, max_lines=max_lines, n_train=n_train, lr=lr,
                           bars=bar_src, curve=curve_src, gallery=gallery_src, captions=caption_src,
                           summary=summary, refresh=flush, spikes=spikes)
    return layout
