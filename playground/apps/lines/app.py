"""Count the lines: a small CNN learns to count straight lines in generated images.

A lab for "watch them break": counting looks easy, but crossing and touching lines,
and more lines than it was trained on, trip the network up. Per-count held-out accuracy
shows where, and the gallery shows the very images it gets wrong.

The app is a folder: ``lab.py`` the images, the CNN and its training step (no Panel),
``plots.py`` the figures, ``views.py`` the widgets and what Train does; this file composes
the page. ``panel serve playground/apps/lines`` serves it (main.py).
"""
from __future__ import annotations


def lines_app():
    """The count-the-lines page."""
    import panel as pn

    from playground.apps.lines.views import LinesView

    pn.extension()
    v = LinesView()
    layout = v.layout()
    layout.controls = v.controls()
    return layout
