"""Lessons: Markdown files with front matter, live widgets and self-checking exercises.

Format (``lessons/NN-slug.md``)::

    ---
    title: Backprop is the chain rule          # must equal the page's first "# " heading
    summary: One sentence for the index.
    order: 3
    next: 04-a-net-by-hand                    # slug of the next lesson, or empty for the last
    ---
    # Backprop is the chain rule
    Markdown text ... links to lessons as [next](04-a-net-by-hand.md), to apps as [GAN](app:gan)
    {{ widget: autograd expr="a*b + tanh(c)" }}     (on its own line; see lesson_widgets.WIDGETS)
    {{ exercise: mul-backward }}                    (on its own line; see exercise_bank)

Where things live: the Markdown is content in ``lessons/`` (repo root, not a Python package);
the renderer (this module), the widgets (``playground.lessons.widgets``) and the checkers
(``playground.lessons.exercises.kinds`` + ``playground.lessons.exercises.bank.core``) are in the ``playground`` package,
so the wheel the browser installs already has them. The wheel does not carry the ``.md``
files: a page passes the lesson's text in (``lesson_page(slug, text=...)``); locally they are
read from ``lessons/`` (or ``$DESCENT_LESSONS``).

Progress lives in the browser's ``localStorage`` under :data:`PROGRESS_KEY` as a JSON list of
``{"id": "exercise:<id>" | "lesson:<slug>", ...}`` records (written by a main-thread
``BrowserStore``). A lesson is done once all its exercises are solved.
:func:`index_progress_script` returns a ``<script>`` for the site's index that marks each
lesson link with ✓ or "k / n exercises".
"""
from __future__ import annotations

import json
import os
import re
import shlex
import time
from dataclasses import dataclass, field
from pathlib import Path

from .exercises import kinds as _ex
from .widgets import WIDGETS, build_widget

ROOT = Path(__file__).resolve().parents[2]
PROGRESS_KEY = "descent-progress"
FRONT_KEYS = {"title", "summary", "order", "next"}
DIRECTIVE = re.compile(r"^\{\{\s*(widget|exercise)\s*:\s*(.*?)\s*\}\}\s*$", re.M)
LINK = re.compile(r"(!?)\[([^\]]*)\]\(([^)\s]+)\)")

__all__ = ["Lesson", "parse_lesson", "load_lesson", "lesson_slugs", "lesson_index", "lesson_page",
           "index_progress_script", "serve_lessons", "PROGRESS_KEY", "check_links"]


class LessonError(ValueError):
    """A lesson file that does not follow the format; the message says where."""


@dataclass
class Lesson:
    slug: str
    meta: dict
    body: str
    segments: list = field(default_factory=list)   # ("md", text) | ("widget", name, kwargs) | ("exercise", id)

    @property
    def title(self):
        return self.meta["title"]

    @property
    def exercises(self):
        return [s[1] for s in self.segments if s[0] == "exercise"]

    @property
    def widgets(self):
        return [(s[1], s[2]) for s in self.segments if s[0] == "widget"]


def lessons_dir() -> Path:
    return Path(os.environ.get("DESCENT_LESSONS", ROOT / "lessons"))


def _value(v: str):
    low = v.lower()
    if low in ("true", "false"):
        return low == "true"
    for cast in (int, float):
        try:
            return cast(v)
        except ValueError:
            pass
    return v


def parse_front_matter(text: str, slug: str = "?"):
    if not text.startswith("---\n"):
        raise LessonError(f"{slug}: must start with a '---' front-matter block")
    end = text.find("\n---\n", 4)
    if end < 0:
        raise LessonError(f"{slug}: front matter is not closed by '---'")
    meta = {}
    for n, line in enumerate(text[4:end].splitlines(), start=2):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        if ":" not in line:
            raise LessonError(f"{slug}: front matter line {n} is not 'key: value': {line!r}")
        k, v = line.split(":", 1)
        v = v.strip()
        if len(v) >= 2 and v[0] == v[-1] and v[0] in "\"'":
            v = v[1:-1]
        meta[k.strip()] = v
    missing = FRONT_KEYS - set(meta)
    if missing:
        raise LessonError(f"{slug}: front matter lacks {sorted(missing)}")
    try:
        meta["order"] = int(meta["order"])
    except ValueError:
        raise LessonError(f"{slug}: order must be an integer, not {meta['order']!r}") from None
    return meta, text[end + 5:]


def parse_directive_args(text: str) -> tuple[str, dict]:
    parts = shlex.split(text)
    if not parts:
        raise LessonError("empty directive")
    kwargs = {}
    for p in parts[1:]:
        if "=" not in p:
            raise LessonError(f"directive argument {p!r} is not key=value")
        k, v = p.split("=", 1)
        kwargs[k] = _value(v)
    return parts[0], kwargs


def parse_lesson(text: str, slug: str) -> Lesson:
    meta, body = parse_front_matter(text, slug)
    segments, pos = [], 0
    for m in DIRECTIVE.finditer(body):
        if body[pos:m.start()].strip():
            segments.append(("md", body[pos:m.start()].strip("\n")))
        kind, rest = m.group(1), m.group(2)
        name, kwargs = parse_directive_args(rest)
        if kind == "widget":
            segments.append(("widget", name, kwargs))
        else:
            if kwargs:
                raise LessonError(f"{slug}: exercise {name!r} takes no arguments")
            segments.append(("exercise", name))
        pos = m.end()
    if body[pos:].strip():
        segments.append(("md", body[pos:].strip("\n")))
    return Lesson(slug, meta, body, segments)


def lesson_slugs():
    return sorted(p.stem for p in lessons_dir().glob("[0-9][0-9]-*.md"))


def load_lesson(slug: str, text: str | None = None) -> Lesson:
    if text is None:
        text = (lessons_dir() / f"{slug}.md").read_text(encoding="utf-8")
    return parse_lesson(text, slug)


def lesson_index(texts: dict | None = None):
    """[{slug, title, summary, order, next, exercises}] in order (texts: slug -> Markdown, optional)."""
    slugs = sorted(texts) if texts is not None else lesson_slugs()
    out = []
    for s in slugs:
        les = load_lesson(s, texts[s] if texts is not None else None)
        out.append(dict(slug=s, title=les.title, summary=les.meta["summary"], order=les.meta["order"],
                        next=les.meta["next"], exercises=les.exercises))
    return sorted(out, key=lambda d: d["order"])


# ------------------------------------------------------------------ links

def link_target(target: str, mode: str = "serve"):
    """Rewrite a lesson's link: 'NN-slug.md[#x]' -> that lesson's page; 'app:NAME' -> the app's page.

    mode 'site': pages of the static site (lessons/NN-slug.html, ../NAME.html);
    mode 'serve': `serve_lessons` routes (/NN-slug, /NAME); mode 'query': lesson_app.py (?lesson=...)."""
    if target.startswith("app:"):
        name = target[4:]
        return f"../{name}.html" if mode == "site" else f"/{name}"
    m = re.fullmatch(r"(\d\d-[\w-]+)\.md(#.*)?", target)
    if m:
        slug, frag = m.group(1), m.group(2) or ""
        return {"site": f"{slug}.html", "serve": f"/{slug}", "query": f"?lesson={slug}"}[mode] + frag
    return target


def rewrite_links(md: str, mode: str) -> str:
    return LINK.sub(lambda m: f"{m.group(1)}[{m.group(2)}]({link_target(m.group(3), mode)})", md)


def check_links(known_apps=None):
    """Broken internal links in every lesson: [(slug, target, why)]. External http(s) links pass."""
    if known_apps is None:
        from playground.apps.registry import APPS
        known_apps = {a.slug for a in APPS}
    slugs = set(lesson_slugs())
    bad = []
    for s in sorted(slugs):
        les = load_lesson(s)
        anchors = {_anchor(h) for h in re.findall(r"^#+\s+(.+)$", les.body, re.M)}
        for _, _, target in LINK.findall(les.body):
            if re.match(r"https?://", target) or target.startswith("mailto:"):
                continue
            if target.startswith("app:"):
                if target[4:] not in known_apps:
                    bad.append((s, target, "no such app"))
            elif target.startswith("#"):
                if target[1:] not in anchors:
                    bad.append((s, target, "no such heading in this lesson"))
            else:
                m = re.fullmatch(r"(\d\d-[\w-]+)\.md(#.*)?", target)
                if not m:
                    path = (lessons_dir() / target.split("#")[0]).resolve()
                    if not path.exists():
                        bad.append((s, target, "no such file"))
                elif m.group(1) not in slugs:
                    bad.append((s, target, "no such lesson"))
        nxt = les.meta["next"]
        if nxt and nxt not in slugs:
            bad.append((s, f"next: {nxt}", "no such lesson"))
    return bad


def _anchor(heading: str) -> str:
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


# ------------------------------------------------------------------ progress

class Progress:
    """Solved exercises and done lessons, kept in localStorage through a BrowserStore."""

    def __init__(self, lesson: Lesson):
        from playground.ui.components import BrowserStore
        self.lesson = lesson
        self.store = BrowserStore(key=PROGRESS_KEY, height=0, width=0, margin=0)
        self._listeners = []
        self.store.param.watch(lambda e: self._notify(), "items")

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
        self._listeners.append(fn)
        fn()

    def _notify(self):
        for fn in self._listeners:
            fn()


# ------------------------------------------------------------------ rendering

_FEEDBACK = {True: "success", False: "warning"}


def _row(*objs):
    """A row that wraps on a phone."""
    from playground.ui.components import wrap_row
    return wrap_row(*objs, sizing_mode="stretch_width")


def _exercise_view(ex, progress: Progress):
    import panel as pn
    badge = pn.pane.Markdown("", margin=(0, 5), css_classes=["descent-ex-badge"], styles={"color": "#1a7f37"})
    title = pn.pane.Markdown(f"### ✎ {ex.title}", margin=(0, 5))
    prompt = pn.pane.Markdown(ex.prompt, margin=(0, 5), sizing_mode="stretch_width")
    feedback = pn.pane.Alert("", alert_type="light", visible=False, sizing_mode="stretch_width",
                             css_classes=["descent-feedback"])
    hint_md = pn.pane.Markdown(f"**Hint:** {ex.hint}", visible=False, margin=(0, 5))
    hint_b = pn.widgets.Button(label="Hint", width=80)
    sol_b = pn.widgets.Button(label="Show solution", width=120)
    check_b = pn.widgets.Button(label="Check", color="primary", width=90)
    hint_b.on_click(lambda e: setattr(hint_md, "visible", not hint_md.visible))

    def show(res):
        feedback.object = res.message
        feedback.alert_type = _FEEDBACK[bool(res.ok)] if res.diagnosis != "error" else "danger"
        feedback.visible = True
        if res.ok and res.diagnosis == "correct":
            progress.mark(ex.id)

    def sync_badge():
        badge.object = "✓ **solved**" if progress.solved(ex.id) else ""

    progress.on_change(sync_badge)
    items = [_row(title, badge), prompt]
    if ex.kind == "code":
        # soft tabs: Ace indents with spaces, like the starter code (Panel's default, a tab
        # after `def f(x):`, mixed with the starter's spaces is a TabError)
        editor = pn.widgets.CodeEditor(value=ex.starter, language="python", theme="chrome",
                                       soft_tabs=True, indent=4,
                                       height=max(120, 22 * (ex.starter.count("\n") + 3)),
                                       sizing_mode="stretch_width")
        run_b = pn.widgets.Button(label="Run", width=80)
        output = pn.pane.Markdown("", visible=False, margin=(0, 5), sizing_mode="stretch_width")
        sol_md = pn.pane.Markdown(f"```python\n{ex.solution}```", visible=False, margin=(0, 5))
        use_b = pn.widgets.Button(label="Put the solution in the editor", visible=False, width=240)

        def do_run(_):
            res = ex.run(editor.value)
            output.object = f"```\n{res.output.rstrip() or '(nothing printed)'}\n```" if res.output else ""
            output.visible = bool(res.output)
            show(res)

        def do_check(_):
            res = ex.check(editor.value)
            output.object = f"```\n{res.output.rstrip()}\n```" if res.output.strip() else ""
            output.visible = bool(res.output.strip())
            show(res)

        def do_sol(_):
            sol_md.visible = use_b.visible = not sol_md.visible

        run_b.on_click(do_run)
        check_b.on_click(do_check)
        sol_b.on_click(do_sol)
        use_b.on_click(lambda e: setattr(editor, "value", ex.solution))
        items += [editor, _row(run_b, check_b, hint_b, sol_b), output, feedback, hint_md, sol_md, use_b]
        controls = dict(editor=editor, run=run_b, check=check_b, output=output, use_solution=use_b)
    else:
        if ex.kind == "choice":
            answer = pn.widgets.RadioBoxGroup(options=list(ex.options), inline=False)
            answer.value = None  # Panel starts on the first option: a question starts unanswered
        else:
            answer = pn.widgets.TextInput(placeholder="a number", width=200)
        sol_md = pn.pane.Markdown(f"**Answer:** {ex.solution}", visible=False, margin=(0, 5))
        check_b.on_click(lambda e: show(ex.check(answer.value)))
        sol_b.on_click(lambda e: setattr(sol_md, "visible", not sol_md.visible))
        items += [answer, _row(check_b, hint_b, sol_b), feedback, hint_md, sol_md]
        controls = dict(answer=answer, check=check_b)
    box = pn.Column(*items, sizing_mode="stretch_width", css_classes=["descent-exercise"],
                    styles={"border": "1px solid #d8dde6", "border-radius": "8px", "padding": "4px 8px",
                            "background": "#fbfcfe", "min-width": "0"}, margin=(10, 5))
    box.controls = dict(feedback=feedback, hint=hint_b, solution=sol_b, badge=badge, **controls)
    return box


def lesson_page(slug: str, text: str | None = None, links: str = "serve", index: list | None = None):
    """The lesson as a Panel object (``panel serve``, or a Pyodide page with ``text`` given).

    ``links``: how lesson/app links are written ('serve', 'site' or 'query', see link_target);
    ``index``: lesson_index() if known (for "lesson N of M" and the next lesson's title)."""
    import panel as pn
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
    parts, widgets, exercises = [_row(head, status)], {}, {}
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
            box = _exercise_view(_ex.get(seg[1]), progress)
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


# ------------------------------------------------------------------ for the site's index

def index_progress_script(index: list | None = None, prefix: str = "lessons/") -> str:
    """A ``<script>`` for the index page: marks each ``<a href="{prefix}SLUG.html">`` with the
    learner's progress read from localStorage (✓ done, or 'k / n exercises')."""
    index = lesson_index() if index is None else index
    table = {d["slug"]: [f"exercise:{e}" for e in d["exercises"]] for d in index}
    return f"""<script>
(() => {{
  const lessons = {json.dumps(table)};
  let ids = new Set();
  try {{ ids = new Set((JSON.parse(localStorage.getItem({json.dumps(PROGRESS_KEY)}) || "[]") || [])
                      .map((r) => r && r.id)); }} catch (e) {{}}
  for (const [slug, exs] of Object.entries(lessons)) {{
    const a = document.querySelector(`a[href="{prefix}${{slug}}.html"]`);
    if (!a) continue;
    const k = exs.filter((e) => ids.has(e)).length;
    const tag = document.createElement("span");
    tag.className = "descent-lesson-progress";
    tag.style.cssText = "margin-left:.5em;font-size:.85em;color:" + (ids.has("lesson:" + slug) ? "#1a7f37" : "#777");
    tag.textContent = ids.has("lesson:" + slug) ? "✓ done" : (k ? `${{k}} / ${{exs.length}} exercises` : "");
    a.after(tag);
  }}
}})();
</script>"""


# ------------------------------------------------------------------ local serving

def serve_lessons(port: int = 5006, show: bool = True, apps: bool = True, **kwargs):
    """Serve every lesson (``/NN-slug``) and app (``/NAME``) with Panel on CPython."""
    import functools

    import panel as pn
    index = lesson_index()
    routes = {d["slug"]: functools.partial(lesson_page, d["slug"], links="serve", index=index) for d in index}
    if apps:
        from .widgets import autograd, digits, gan, lines, names, playground2d
        routes.update({"digits": digits, "gan": gan, "playground2d": playground2d,
                       "autograd": autograd, "lines": lines, "names": names})
    return pn.serve(routes, port=port, show=show, title={k: f"Descent · {k}" for k in routes}, **kwargs)


_ = WIDGETS  # re-exported for tests: every widget directive must name one of these
