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
    layout = v.layout()
    layout.controls = v.controls()
    return layout
