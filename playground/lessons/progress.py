"""What a learner has done, kept in the browser.

Progress lives in ``localStorage`` under :data:`PROGRESS_KEY` as a JSON list of
``{"id": "exercise:<id>" | "lesson:<slug>", ...}`` records, written by a main-thread
``BrowserStore`` (the Pyodide worker has no ``localStorage``). A lesson is done once all its
exercises are solved. :func:`index_progress_script` gives the site's index a ``<script>``
(``index_progress.js``) that marks each lesson link with ✓ or "k / n exercises".
"""
from __future__ import annotations

import json
import time
from pathlib import Path

from .format import Lesson, lesson_index

PROGRESS_KEY = "descent-progress"
SCRIPT = Path(__file__).with_name("index_progress.js")


class Progress:
    """Solved exercises and done lessons, kept in localStorage through a BrowserStore."""

    def __init__(self, lesson: Lesson):
        from playground.ui.components import BrowserStore
        self.lesson = lesson
        self.store = BrowserStore(key=PROGRESS_KEY, height=0, width=0, margin=0)
        self.listeners = []
        self.store.param.watch(lambda e: self.notify(), "items")

    def ids(self):
        return {r.get("id") for r in self.store.items if isinstance(r, dict)}

    def solved(self, ex_id):
        return f"exercise:{ex_id}" in self.ids()

    def done(self):
        return f"lesson:{self.lesson.slug}" in self.ids()

    def counts(self):
        ids = self.ids()
        exs = self.lesson.exercises
        return sum(f"exercise:{e}" in ids for e in exs), len(exs)

    def mark(self, ex_id):
        items, ids = list(self.store.items), self.ids()
        now = time.time()
        if f"exercise:{ex_id}" not in ids:
            items.append({"id": f"exercise:{ex_id}", "lesson": self.lesson.slug, "t": now})
            ids.add(f"exercise:{ex_id}")
        if (all(f"exercise:{e}" in ids for e in self.lesson.exercises)
                and f"lesson:{self.lesson.slug}" not in ids):
            items.append({"id": f"lesson:{self.lesson.slug}", "t": now})
        if len(items) != len(self.store.items):
            self.store.items = items

    def on_change(self, fn):
        self.listeners.append(fn)
        fn()

    def notify(self):
        for fn in self.listeners:
            fn()


def index_progress_script(index: list | None = None, prefix: str = "lessons/") -> str:
    """A ``<script>`` for the index page: marks each ``<a href="{prefix}SLUG.html">`` with the
    learner's progress read from localStorage (✓ done, or 'k / n exercises')."""
    index = lesson_index() if index is None else index
    table = {d["slug"]: [f"exercise:{e}" for e in d["exercises"]] for d in index}
    args = ", ".join(json.dumps(a) for a in (table, PROGRESS_KEY, prefix))
    return f"<script>\n{SCRIPT.read_text(encoding='utf-8')}markLessonProgress({args});\n</script>"
