"""Reading a lesson: its front matter, its directives, its links and their check (no Panel).

Format (``lessons/NN-slug.md``)::

    ---
    title: Backprop is the chain rule          # must equal the page's first "# " heading
    summary: One sentence for the index.
    order: 3
    next: 04-a-net-by-hand                    # slug of the next lesson, or empty for the last
    ---
    # Backprop is the chain rule
    Markdown text ... links to lessons as [next](04-a-net-by-hand.md), to apps as [GAN](app:gan)
    {{ widget: autograd expr="a*b + tanh(c)" }}     (on its own line; see widgets.WIDGETS)
    {{ exercise: mul-backward }}                    (on its own line; see exercises.registry)

The Markdown is content in ``lessons/`` (repo root, not a Python package); the wheel the
browser installs does not carry it: a page passes the lesson's text in (``load_lesson(slug,
text)``); locally the files are read from ``lessons/`` (or ``$DESCENT_LESSONS``).
"""
from __future__ import annotations

import os
import re
import shlex
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
FRONT_KEYS = {"title", "summary", "order", "next"}
DIRECTIVE = re.compile(r"^\{\{\s*(widget|exercise)\s*:\s*(.*?)\s*\}\}\s*$", re.M)
LINK = re.compile(r"(!?)\[([^\]]*)\]\(([^)\s]+)\)")


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
