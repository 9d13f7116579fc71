"""The Panel page of a lesson: its Markdown, live widgets and exercises, the learner's progress
and the link to the next lesson (``panel serve``, or a Pyodide page given the lesson's text).

The parts: :mod:`.format` reads the lesson, :mod:`.widgets` builds its ``{{ widget: }}``s,
:mod:`.exercise_view` its ``{{ exercise: }}``s (looked up in :mod:`.exercises.registry`),
:mod:`.progress` keeps what the learner has done.
"""
from __future__ import annotations

from .exercise_view import exercise_view
from .exercises.registry import get as get_exercise
from .format import lesson_index, link_target, load_lesson, rewrite_links
from .progress import Progress
from .widgets import build_widget


def lesson_page(slug: str, text: str | None = None, links: str = "serve", index: list | None = None):
    """The lesson as a Panel object (``panel serve``, or a Pyodide page with ``text`` given).

    ``links``: how lesson/app links are written ('serve', 'site' or 'query', see link_target);
    ``index``: lesson_index() if known (for "lesson N of M" and the next lesson's title)."""
    import panel as pn

    from playground.ui.layout import wrap_row
    pn.extension("codeeditor")
    lesson = load_lesson(slug, text)
    if index is None:
        try:
            index = lesson_index()
        except OSError:
            index = []
    by_slug = {d["slug"]: d for d in index}
    progress = Progress(lesson)
    home = {"site": "../index.html", "serve": "/", "query": "?"}[links]
    head = pn.pane.Markdown(f"[Descent]({home}) · lesson {lesson.meta['order']}"
                            f"{' of ' + str(len(index)) if index else ''}", margin=(0, 5),
                            styles={"color": "#666"})
    status = pn.pane.Markdown("", margin=(0, 5), css_classes=["descent-progress"])

    def sync_status():
        k, n = progress.counts()
        status.object = (f"**✓ Lesson complete** — {k} / {n} exercises solved" if progress.done()
                         else f"Progress: {k} / {n} exercises solved")

    progress.on_change(sync_status)
    parts, widgets, exercises = [wrap_row(head, status, sizing_mode="stretch_width")], {}, {}
    for seg in lesson.segments:
        if seg[0] == "md":
            parts.append(pn.pane.Markdown(rewrite_links(seg[1], links), sizing_mode="stretch_width",
                                          margin=(0, 5), disable_math=True))
        elif seg[0] == "widget":
            w = build_widget(seg[1], **seg[2])
            w.css_classes = list(w.css_classes or []) + ["descent-widget", f"descent-widget-{seg[1]}"]
            widgets.setdefault(seg[1], w)
            # min-width 0: a widget wider than a phone scrolls inside its box, not the lesson's text
            parts.append(pn.Column(w, styles={"border-left": "4px solid #23395d", "padding-left": "8px",
                                              "min-width": "0", "overflow-x": "auto"},
                                   sizing_mode="stretch_width", margin=(10, 5)))
        else:
            box = exercise_view(get_exercise(seg[1]), progress)
            exercises[seg[1]] = box
            parts.append(box)
    nxt = lesson.meta["next"]
    if nxt:
        title = by_slug.get(nxt, {}).get("title", nxt)
        parts.append(pn.pane.Markdown(f"---\n**Next lesson →** [{title}]({link_target(nxt + '.md', links)})",
                                      margin=(10, 5), css_classes=["descent-next"]))
    else:
        parts.append(pn.pane.Markdown(f"---\nThat was the last lesson. [Back to the start]({home})",
                                      margin=(10, 5)))
    parts.append(progress.store)
    page = pn.Column(*parts, sizing_mode="stretch_width", max_width=1200, css_classes=["descent-lesson"],
                     styles={"min-width": "0"})
    page.lesson, page.progress, page.widgets, page.exercises = lesson, progress, widgets, exercises
    return page
