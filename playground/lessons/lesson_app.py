"""`panel serve playground/lessons/lesson_app.py` shows a lesson on CPython: `/lesson_app?lesson=03-backprop`
(the first lesson without `?lesson=`). Links between lessons stay on this page (`?lesson=...`);
for every lesson and app on their own routes use `playground.lessons.serve.serve_lessons()`."""
import panel as pn

from playground.lessons.format import lesson_slugs
from playground.lessons.page import lesson_page

if __name__.startswith("bokeh"):
    args = pn.state.session_args if pn.state.curdoc else {}
    raw = (args.get("lesson") or [b""])[0].decode() if args else ""
    slug = raw if raw in lesson_slugs() else lesson_slugs()[0]
    lesson_page(slug, links="query").servable(title=f"Descent · {slug}")
