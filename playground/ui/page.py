"""The page an app runs in: what may wait until the page shows the app.

A page is interactive once the browser has drawn the app's first document; every figure in it
costs the worker its Bokeh models (Python) and the page its views (JavaScript) before that.
What is below the fold can be built a moment later, with :func:`after_render`.
"""
from __future__ import annotations

import panel as pn

AFTER_RENDER = "descent_after_render"  # the key playground/worker/bridge.py reads in pn.state.cache


def after_render(fn):
    """Run ``fn()`` once the page shows the app: in the browser, right after the worker has
    linked the rendered document (its changes then reach the page as patches); under
    ``panel serve``, when the session has loaded; with no document (tests, scripts), now."""
    if pn.state._is_pyodide:
        pn.state.cache.setdefault(AFTER_RENDER, []).append(fn)
    else:
        pn.state.onload(fn)
