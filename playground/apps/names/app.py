"""Names: makemore in the page. Made-up names from bigram counts to attention.

Pick a model, press Train, and watch: the loss falls, new names are sampled every chunk,
the count table (or what the neural bigram learned of it) is a heat-map, the MLP's letter
embeddings move in 2-D, and the transformer shows where each letter of a name you type
looks. A table keeps the best val loss of every model next to makemore's figures.

The app is a folder: ``model.py`` the models (bigram counts to transformer) and sampling,
``lab.py`` the state and the training step (no Panel), ``plots.py`` the figures,
``views.py`` the widgets and what Train does; this file composes the page.
``panel serve playground/apps/names`` serves it (main.py).
"""
from __future__ import annotations


def names_app(view=None, val_limit=800):
    """The names page. ``view``: None (the one view there is); ``val_limit``: how many val
    names the val loss is measured on."""
    import panel as pn

    from playground.apps.names.views import NamesView

    pn.extension()
    v = NamesView(val_limit=val_limit)
    layout = v.layout()
    layout.controls = v.controls()
    return layout
