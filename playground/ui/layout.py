"""Layout helpers for pages that must fit any width (a 1,400 px window, a 320–800 px blog
column): rows whose items wrap onto more lines, columns and plots that narrow with the page.

Not ``pn.FlexBox``: a ReactiveHTML, whose first render needs ``nh3``, which the page loads only
after it is interactive. Bokeh gives a row the sum of its items' minimum widths as its own, so
it would never wrap: each helper here sets ``min-width: 0``. Two rows: ``wrap_row`` lets its
items keep their own sizes; ``wrap`` gives each item a basis (its ``max_width``), so items share
a line where it has room and take a line of their own where it has not.
"""
from __future__ import annotations

import panel as pn


def wrap_row(*objects, styles=None, **kw):
    """A row whose items wrap onto more lines in a narrow column (a phone, a blog's embed)."""
    return pn.Row(*objects, styles={"flex-wrap": "wrap", "min-width": "0", **(styles or {})}, **kw)


def pane(fig, min_width=260):
    """A Panel pane whose figure narrows with a narrow column (its height stays)."""
    # the height stays: "scale_width" came out square in the page (a 380x48 strip 380 tall)
    fig.sizing_mode, fig.max_width, fig.min_width = "stretch_width", fig.width, min_width
    return pn.pane.Bokeh(fig, sizing_mode="stretch_width", max_width=fig.width, min_width=min_width)


def item(width):
    """Stylesheets for an item of a ``wrap`` row (in a column, a basis would be a height):
    `width` px wide where the line has room, on a line of its own (and narrower) where it has not. Without a basis, Bokeh's items all
    squeeze onto one line down to their minimum width before any wraps (and Bokeh's own
    inline sizes win over ``styles``: hence a stylesheet, !important)."""
    return [f":host {{ flex: 0 1 {width}px !important; min-width: 0 !important; }}"]


def wrap(*objects, **kw):
    """A row that wraps its items onto more lines in a narrow column (an embed in a blog),
    each item ``item(max_width)`` wide where the line has room."""
    for o in objects:  # a Bokeh pane's figure is itself the row's item (not the pane)
        target = o.object if isinstance(o, pn.pane.Bokeh) else o
        if target.max_width:
            target.stylesheets = [*target.stylesheets, *item(target.max_width)]
    kw.setdefault("sizing_mode", "stretch_width")
    return pn.Row(*objects, stylesheets=[":host { flex-wrap: wrap !important; min-width: 0 !important; }"],
                  **kw)


def column(*objects, max_width=400, **kw):
    """A column of controls, at most `max_width` wide, that narrows with its page (Bokeh
    would keep it as wide as its widest wrapped row)."""
    return pn.Column(*objects, sizing_mode="stretch_width", max_width=max_width,
                     stylesheets=[":host { min-width: 0 !important; }"], **kw)
