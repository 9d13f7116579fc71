"""Every lesson (``/NN-slug``) and every app of the registry (``/NAME``) on CPython's Panel server."""
from __future__ import annotations

import functools

from playground.apps.registry import APPS

from .format import lesson_index
from .page import lesson_page
from .widgets import build_widget


def serve_lessons(port: int = 5006, show: bool = True, apps: bool = True, **kwargs):
    """Serve every lesson and, with ``apps``, every app (as a lesson embeds it, as it opens);
    the lessons' links point at these routes."""
    import panel as pn
    index = lesson_index()
    routes = {d["slug"]: functools.partial(lesson_page, d["slug"], links="serve", index=index) for d in index}
    if apps:
        routes.update({a.slug: functools.partial(build_widget, a.slug) for a in APPS})
    return pn.serve(routes, port=port, show=show, title={k: f"Descent · {k}" for k in routes}, **kwargs)
