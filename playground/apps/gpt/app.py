"""GPT on Shakespeare: nanoGPT's first experiment in the page. A character-level GPT trained
from scratch, live, in readable Python.

Pick a preset (nano: ~0.1 M parameters, trains in minutes; baby: nanoGPT's CPU recipe) or
edit its knobs, press Train, and watch: the train and val loss fall toward ~1.9 nats per
character, the speed and the time left are printed, and a fresh sample streams in as it
learns. Set the temperature, top-k and a prompt to continue; pick a layer and a head and type
a line to see who attends to whom. Save the run (.npz, no pickle) and load it again, or load
the pretrained baby GPT (``make`` trains it: 2,000 iterations).

The app is a folder: ``model.py`` the GPT and ``train.py`` nanoGPT's training loop (both
without Panel), ``lab.py`` the state (knobs, run, evaluation, samples, attention, files),
``plots.py`` the figures, ``views.py`` the widgets and what Train does; this file composes
the page. ``panel serve playground/apps/gpt`` serves it (main.py).
"""
from __future__ import annotations


def gpt_app(view=None, pretrained=False, data=None):
    """The GPT page. ``view``: None (the one view there is); ``pretrained``: start from the
    pretrained baby GPT (when it is there; else the page says why); ``data``: (train, val)
    text instead of the Shakespeare corpus."""
    import panel as pn

    from playground.apps.gpt.views import GPTView

    pn.extension()
    v = GPTView(data=data)
    if pretrained:
        v.load_pretrained()
    page = layout(v)
    page.controls = v.controls()
    return page


def layout(v):
    """Three columns that wrap in a narrow embed: the knobs and the trainer; the loss curve,
    the sampling knobs and the sample; the attention map and the files."""
    import panel as pn

    from playground.ui.layout import column, pane, wrap, wrap_row
    from playground.ui.trainer_controls import trainer_controls

    k = v.knob
    side = column(
        "## GPT on Shakespeare",
        pn.pane.Markdown("nanoGPT's first experiment in your tab: a character-level GPT reads the plays "
                         "and learns to write the next character. Train it and read its samples get "
                         "better; load the pretrained baby GPT to read one trained for 2,000 iterations.",
                         sizing_mode="stretch_width"),
        wrap_row(pn.pane.Markdown("**Preset**", margin=(8, 5)), v.preset),
        wrap_row(k["n_layer"], k["n_head"], k["n_embd"], k["block_size"]),
        wrap_row(k["batch_size"], k["lr"], k["dropout"], k["max_iters"]),
        v.knob_msg, trainer_controls(v.trainer), v.speed, v.about, max_width=400)
    text = column(pane(v.plots.curve), wrap_row(v.temperature, v.top_k, v.prompt, v.resample),
                  v.sample_msg, v.text_pane, max_width=520)
    look = column(wrap_row(v.layer, v.head, v.line), v.att_msg, pane(v.plots.att),
                  wrap_row(v.download, v.use_pretrained), v.upload, v.file_msg, max_width=420)
    return wrap(side, text, look, sizing_mode="stretch_width")
