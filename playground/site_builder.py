"""Build the static Descent site: `descent build-site [--out _site] [--offline-dist PATH]`.

What a build writes (every address relative, so any static host at any path serves it):

    index.html                gallery of apps, embeddable widgets and lessons
    <app>.html, <app>.js      one page per app: Panel's `pyodide-worker` conversion,
                              post-processed (see below); the .js is the Web Worker
    embed/<widget>.html, .js  the same without chrome, for iframes (see js/embed.js)
    lessons/<slug>.html, .js  one Pyodide page per lessons/NN-slug.md: lesson_page(slug, text=...,
                              links="site") converted and post-processed like an app
    js/ css/                  loader, embed.js, styles (from site/js, site/css)
    webgpu/matmul.js          the WebGPU matmul module (engine.backend.webgpu's hook)
    vendor/bokeh/, vendor/panel/<ver>/dist/   BokehJS + Panel JS/CSS from the installed packages
    wheels/                   descent (built here), bokeh + panel + their pure dependencies
                              that the Pyodide distribution lacks (downloaded from PyPI, cached)
    data/mnist10k.npz         the digits
    sw.js, manifest.webmanifest, icons/, version.json

Pyodide and its own packages (numpy...) come from the pinned CDN address by default;
`--offline-dist` vendors them from a full Pyodide distribution into a self-contained copy.

Why `panel convert` plus post-processing, not a template of our own: the conversion gives
the pre-rendered app (visible while Python boots) and Panel's page<->worker patch protocol
for this exact Panel version. What it cannot do is replaced: its worker's boot (one
`micropip.install`, PyPI/CDN wheel addresses, one "Error while installing packages"
message) becomes site/templates/worker.js with staged, measured progress; its service
worker (reloads the page on update, cache per app title) becomes one versioned, site-wide
sw.js; its CDN addresses for BokehJS/Panel become local files.
"""
from __future__ import annotations

import argparse
import ast
import concurrent.futures as cf
import hashlib
import html
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SITE_SRC = ROOT / "site"
PYODIDE_VERSION = "0.29.3"
PYODIDE_CDN = f"https://cdn.jsdelivr.net/pyodide/v{PYODIDE_VERSION}/full/"
BOKEH_VERSION = "3.9.2"
PANEL_VERSION = "1.9.4"
# addresses that must not survive in an offline bundle (and, but for Pyodide's, in any build)
CDN_PATTERNS = ("cdn.jsdelivr.net/pyodide", "cdn.holoviz.org", "cdn.bokeh.org",
                "pypi.org", "files.pythonhosted.org")
RUNTIME_FILES = ("pyodide.js", "pyodide.asm.js", "pyodide.asm.wasm", "python_stdlib.zip",
                 "pyodide-lock.json")
# Environment markers of Pyodide 0.29 (CPython 3.13, emscripten) for dependency resolution.
PYODIDE_ENV = {"python_version": "3.13", "python_full_version": "3.13.2", "sys_platform": "emscripten",
               "platform_system": "Emscripten", "platform_machine": "wasm32", "os_name": "posix",
               "implementation_name": "cpython", "platform_python_implementation": "CPython",
               "extra": ""}


@dataclass
class App:
    slug: str
    module: str
    func: str
    title: str
    blurb: str
    data: bool = False
    embed: str = ""


@dataclass
class Embed:
    widget: str
    app: str
    kwargs: dict = field(default_factory=dict)
    blurb: str = ""


APPS = [
    App("digits", "playground.apps.digits", "digits_app", "Digits",
        "Train softmax, MLP or CNN on MNIST and watch it learn: curves, confusion matrix, "
        "mistakes, weights. Draw your own digit.", data=True, embed="digits-train"),
    App("gan", "playground.apps.gan", "gan_app", "GAN studio",
        "A GAN learns to write digits; a 2-D GAN shows the anatomy: discriminator heat-map, "
        "gradients on fake points.", data=True, embed="gan-grid"),
    App("playground2d", "playground.apps.playground2d", "playground2d_app", "2-D playground",
        "TensorFlow-Playground-style: datasets, features, layers, decision boundary; "
        "upload your points; export the code.", embed="playground-2d"),
    App("autograd", "playground.apps.autograd", "autograd_app", "Autograd explorer",
        "Type an expression, see its computation graph and step through the backward pass.",
        embed="autograd"),
    App("lines", "playground.apps.lines", "lines_app", "Count the lines",
        "Train a small CNN to count lines in images and look at what it gets wrong.", embed="lines"),
]
EMBEDS = [
    Embed("digits-draw", "digits", {"view": "draw"}, "Draw a digit, see the model's guess."),
    Embed("digits-train", "digits", {"view": "train"}, "Train a digits classifier, watch the curves."),
    Embed("gan-grid", "gan", {"view": "grid"}, "The GAN's samples as they improve."),
    Embed("playground-2d", "playground2d", {}, "The 2-D playground."),
    Embed("autograd", "autograd", {}, "The autograd explorer."),
    Embed("lines", "lines", {}, "Count the lines."),
]


class BuildError(RuntimeError):
    """The build cannot go on; the message says why and what to do."""


def log(msg):
    print(msg, flush=True)


def human(n):
    return f"{n / 1e6:.1f} MB" if n >= 1e5 else f"{n / 1e3:.0f} kB"


def _norm(name):
    return re.sub(r"[-_.]+", "-", name).lower()


# ------------------------------------------------------------------ apps: what exists

def _app_signature(app: App):
    """(path, func name, accepts: set of keyword names or None for **kwargs) or None when the
    module does not exist yet. Read with ast: building never imports the apps."""
    path = ROOT / (app.module.replace(".", "/") + ".py")
    if not path.is_file():
        return None
    tree = ast.parse(path.read_text())
    funcs = {n.name: n for n in tree.body if isinstance(n, ast.FunctionDef)}
    fn = funcs.get(app.func) or next((f for name, f in funcs.items() if name.endswith("_app")), None)
    if fn is None:
        return None
    a = fn.args
    accepts = {x.arg for x in a.args + a.kwonlyargs}
    if a.kwarg:  # f(**state): the names it takes are the parameters of the class behind it
        accepts |= set(re.findall(r"^\s+(\w+)\s*=\s*param\.", path.read_text(), re.M))
    return path, fn.name, accepts


def available_apps():
    """[(App, func name, accepts)] for the apps whose module exists; a note for the others."""
    found, notes = [], []
    for app in APPS:
        sig = _app_signature(app)
        if sig is None:
            notes.append(f"app {app.slug}: {app.module}.{app.func} not found: page skipped")
        else:
            found.append((app, sig[1], sig[2]))
    return found, notes


# ------------------------------------------------------------------ wheels

def _cache_dir(cache=None):
    d = Path(cache or os.environ.get("DESCENT_SITE_CACHE") or
             Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "descent-site")
    d.mkdir(parents=True, exist_ok=True)
    return d


def read_lock(path):
    lock = json.loads(Path(path).read_text())
    return {_norm(k): v for k, v in lock["packages"].items()}


def resolve_packages(lock):
    """Split the Pyodide-side dependency closure of bokeh + panel + descent into packages
    of the Pyodide distribution (loadPackage) and pure wheels the site ships (name, version),
    from the metadata of the packages installed here, evaluated for Pyodide's markers."""
    from importlib.metadata import PackageNotFoundError, distribution
    from packaging.requirements import Requirement

    lock_pkgs, wheels, seen = set(), {}, set()
    todo = ["numpy", "micropip", "bokeh", "panel"]
    while todo:
        name = _norm(todo.pop())
        if name in seen:
            continue
        seen.add(name)
        if name in lock and name not in ("bokeh", "panel"):  # those two: pinned wheels from PyPI
            lock_pkgs.add(name)
            todo.extend(lock[name].get("depends", []))
            continue
        try:
            dist = distribution(name)
        except PackageNotFoundError:
            raise BuildError(f"{name} is needed in the browser but is neither in Pyodide's lock file nor "
                             f"installed here to learn its version: pip install -e '.[apps]'") from None
        wheels[name] = dist.version
        for r in dist.requires or []:
            req = Requirement(r)
            if req.marker is None or req.marker.evaluate(PYODIDE_ENV):
                todo.append(req.name)
    return sorted(lock_pkgs), wheels


def download_wheels(wheels: dict, cache: Path):
    """pip download --no-deps each name==version once into the cache; returns the paths."""
    out, need = [], []
    for name, ver in sorted(wheels.items()):
        hits = [p for p in cache.glob("*.whl")
                if _norm(p.name.split("-")[0]) == name and p.name.split("-")[1] == ver]
        (out.append(hits[0]) if hits else need.append(f"{name}=={ver}"))
    if need:
        log(f"  downloading {len(need)} wheels from PyPI into {cache}: {' '.join(need)}")
        r = subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
                            "--platform", "any", "--python-version", "3.13", "-q", "-d", str(cache), *need],
                           capture_output=True, text=True)
        if r.returncode:
            raise BuildError("could not download wheels from PyPI (needed once, then cached in "
                             f"{cache}): {r.stderr.strip().splitlines()[-1:]}")
        return download_wheels(wheels, cache)
    for p in out:
        if not p.name.endswith("-none-any.whl"):
            raise BuildError(f"{p.name} is not a pure wheel: Pyodide cannot install it")
    return out


def slim_panel_wheel(src: Path, dst: Path):
    """Panel's PyPI wheel carries 30 MB of JavaScript bundles the worker never reads (the page
    loads them from vendor/). Drop them, as Panel's own Pyodide wheels do, and fix RECORD."""
    # bundled CSS stays: Panel's Python checks that those files exist before pointing
    # stylesheets at PANEL_CDN_ROOT (our vendor/ folder) instead of a third-party npm CDN
    drop = re.compile(r"^panel/(dist/(bundled/(?!.*\.css$)|lib/|dts/)|tests/)|\.map$|^panel/dist/panel\.js(on)?$")
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w", zipfile.ZIP_DEFLATED) as zout:
        for item in zin.infolist():
            if drop.search(item.filename):
                continue
            data = zin.read(item.filename)
            if item.filename.endswith(".dist-info/RECORD"):
                data = "\n".join(l for l in data.decode().splitlines()
                                 if l and not drop.search(l.split(",")[0])).encode() + b"\n"
            zout.writestr(item, data)


def build_own_wheel(dest: Path):
    with tempfile.TemporaryDirectory() as tmp:
        r = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
                            "-q", "-w", tmp, str(ROOT)], capture_output=True, text=True)
        if r.returncode:
            raise BuildError(f"pip wheel failed: {r.stderr.strip()[-2000:]}")
        (whl,) = Path(tmp).glob("descent-*.whl")
        if not whl.name.endswith("-py3-none-any.whl"):
            raise BuildError(f"the descent wheel must be pure, got {whl.name}")
        shutil.copy2(whl, dest / whl.name)
        return dest / whl.name


# ------------------------------------------------------------------ panel convert

# Panel widgets whose JavaScript a static page must request with pn.extension(...)
# (`panel serve` loads them on demand; a converted page only has what was requested)
EXTENSIONS = {"CodeEditor": "codeeditor", "Tabulator": "tabulator", "Terminal": "terminal",
              "JSONEditor": "jsoneditor", "Perspective": "perspective", "Plotly": "plotly",
              "Vega": "vega", "ECharts": "echarts", "DeckGL": "deckgl", "VTK": "vtk"}


def _extensions(app: App):
    """pn.extension names the app needs, from its source and playground modules it imports."""
    path = ROOT / (app.module.replace(".", "/") + ".py")
    text = path.read_text()
    for mod in re.findall(r"^\s*(?:from|import)\s+(playground\.[\w.]+)", text, re.M):
        f = ROOT / (mod.replace(".", "/") + ".py")
        if f.is_file():
            text += f.read_text()
    return sorted({ext for name, ext in EXTENSIONS.items() if re.search(rf"\b{name}\b", text)})


def _stub(app: App, func: str, kwargs: dict, title: str):
    """The script `panel convert` converts (and the worker runs): the app from our wheel.
    Arguments the app function does not take yet fall back to the whole app."""
    call = f"{func}()"
    exts = _extensions(app)
    pre = (f"import panel as pn\npn.extension({', '.join(repr(e) for e in exts)})\n" if exts else "")
    if kwargs:
        args = ", ".join(f"{k}={v!r}" for k, v in kwargs.items())
        call = f"_descent_app({args})"
        return (f"# generated by descent build-site\n{pre}"
                f"from {app.module} import {func}\n\n"
                f"def _descent_app(**kw):\n"
                f"    try:\n"
                f"        return {func}(**kw)\n"
                f"    except TypeError:  # this version of the app has no such view: the whole app\n"
                f"        return {func}()\n\n"
                f"{call}.servable(title={title!r})\n")
    return (f"# generated by descent build-site\n{pre}"
            f"from {app.module} import {func}\n"
            f"{call}.servable(title={title!r})\n")


def convert(jobs, workdir: Path):
    """jobs: [(name, stub source, title)] -> {name: (html, worker js, output dir)} with one
    `panel convert --to pyodide-worker --pwa` run over all stubs (offline: each app is
    pre-rendered on CPython here; the requirements are ours, not inferred). One run, not one
    per page, because importing Panel dominates. Panel's per-title PWA caches are not used
    (one versioned site-wide service worker replaces them), so one title serves all."""
    src, out = workdir / "src", workdir / "out"
    src.mkdir(parents=True)
    for name, code, _ in jobs:
        (src / f"{name}.py").write_text(code)
    r = subprocess.run([str(Path(sys.executable).with_name("panel")), "convert",
                        *[str(src / f"{name}.py") for name, _, _ in jobs],
                        "--to", "pyodide-worker", "--pwa", "--title", "Descent", "--requirements", "numpy",
                        "--disable-http-patch", "--num-procs", str(max(2, os.cpu_count() or 2)),
                        "--out", str(out)],
                       capture_output=True, text=True, cwd=str(ROOT),
                       env={**os.environ, "PYTHONPATH": str(ROOT), "BOKEH_LOG_LEVEL": "error"})
    result = {}
    for name, _, _ in jobs:
        page, worker = out / f"{name}.html", out / f"{name}.js"
        if r.returncode or not page.is_file() or not worker.is_file():
            raise BuildError(f"panel convert failed for {name}:\n{(r.stdout + r.stderr)[-3000:]}")
        result[name] = (page.read_text(), worker.read_text(), out)
    return result


_PANEL_CDN = "https://cdn.holoviz.org/panel/"
_BOKEH_CDN = "https://cdn.bokeh.org/bokeh/release/"


def _extract_worker_parts(worker_js: str):
    """The app's Python (init_doc ... write_doc) and Panel's onmessage handlers."""
    m = re.search(r"const \[docs_json, render_items, root_ids\] = await self\.pyodide\.runPythonAsync\(`(.*?)`\)\n",
                  worker_js, re.S)
    if not m:
        raise BuildError("the worker that panel convert generated has an unexpected shape (Panel upgrade?)")
    code = m.group(1)  # kept as Panel wrote it: the body of a JS template literal
    h = worker_js.find("self.onmessage")
    end = worker_js.rfind("startApplication()")
    if h < 0 or end < h:
        raise BuildError("could not find Panel's worker message handlers")
    return code, worker_js[h:end].rstrip() + "\n"


def postprocess_page(page: str, *, name: str, converted_as: str, prefix: str, title: str, embed_widget: str, is_embed: bool,
                     app_slug: str, is_lesson: bool = False):
    """Point the page at local BokehJS/Panel, our loader and manifest; drop Panel's service
    worker registration (it reloads the page on update); add the chrome (not in embeds; no
    embed button on lessons)."""
    page = page.replace(_PANEL_CDN, f"{prefix}vendor/panel/").replace(_BOKEH_CDN, f"{prefix}vendor/bokeh/")
    page = re.sub(r"<script type=\"text/javascript\">\s*if \('serviceWorker' in navigator\).*?</script>\s*",
                  "", page, count=1, flags=re.S)
    if "serviceWorker.register" in page:
        raise BuildError(f"{name}: could not remove Panel's service worker registration")
    new, n = re.subn(r'new Worker\("\./' + re.escape(converted_as) + r'\.js"\)',
                     f'DescentLoader.worker("./{name}.js")', page)
    if n != 1:
        raise BuildError(f"{name}: could not find the worker start in the converted page")
    page = new
    head = (f'<meta name="viewport" content="width=device-width, initial-scale=1">\n'
            f'<link rel="manifest" href="{prefix}manifest.webmanifest">\n'
            f'<link rel="icon" href="{prefix}icons/favicon.ico">\n'
            f'<meta name="theme-color" content="#23395d">\n'
            f'<link rel="stylesheet" href="{prefix}css/descent.css">\n'
            f'<script src="{prefix}js/loader.js" data-site-root="../"></script>\n')
    page = page.replace("</head>", head + "</head>", 1)
    attrs = ' data-descent-app' + (' data-descent-embed' if is_embed else '') + (' data-descent-lesson' if is_lesson else '')
    page = page.replace('<html lang="en">', f'<html lang="en"{attrs}>', 1)
    if not is_embed:
        bar = (f'<header class="descent-bar-top">'
               f'<a class="descent-home" href="{prefix}index.html">Descent</a>'
               f'<span class="descent-app-title">{html.escape(title)}</span>'
               f'<span class="descent-backend" title="which matmul backend runs">matmul: starting…</span>'
               + ("" if is_lesson else
                  f'<button class="descent-embed-btn" data-embed-widget="{embed_widget}">Copy embed snippet</button>')
               + '</header>\n')
        page = re.sub(r"(<body[^>]*>)", r"\1\n" + bar.replace("\\", "\\\\"), page, count=1)
    else:
        badge = (f'<a class="descent-embed-badge" href="{prefix}{app_slug}.html" target="_blank" '
                 f'rel="noopener">Descent ↗</a>\n')
        page = re.sub(r"(<body[^>]*>)", r"\1\n" + badge, page, count=1)
    return page


def make_worker(template: str, *, code: str, handlers: str, config: dict):
    js = template.replace("/*@CONFIG@*/{}", json.dumps(config, indent=1))
    js = js.replace('/*@APP_CODE@*/""', "`" + code + "`")
    return js.replace("/*@PANEL_HANDLERS@*/", handlers)


# ------------------------------------------------------------------ static pages

LESSON_DATA_WIDGETS = {"digits", "digits-draw", "gan"}  # lesson widgets that read MNIST


def _lessons():
    """[(slug, text)] of lessons/NN-slug.md, in file order."""
    return [(md.stem, md.read_text(encoding="utf-8")) for md in sorted((ROOT / "lessons").glob("[0-9][0-9]-*.md"))]


def _lesson_index(lessons):
    """lesson_index() over the given texts; a lesson that does not parse stops the build."""
    if not lessons:
        return []
    from playground.lessons import LessonError, lesson_index
    try:
        return lesson_index(dict(lessons))
    except (LessonError, KeyError, ValueError) as e:
        raise BuildError(f"a lesson does not follow the format: {e}") from None


def _py_literal(value):
    """A Python literal for value that survives `panel convert`'s JavaScript escaping (it
    rewrites every '${' in the script, so no '$' may appear outside an escape)."""
    return repr(value).replace("$", "\\x24")


def _lesson_stub(slug: str, text: str, index: list, title: str):
    """The script `panel convert` converts for one lesson: the lesson's Markdown and the lesson
    index are embedded (the wheel carries the renderer, not lessons/*.md)."""
    return (f"# generated by descent build-site\n"
            f"import panel as pn\n"
            f"pn.extension('codeeditor')\n"
            f"from playground.lessons import lesson_page\n\n"
            f"_TEXT = {_py_literal(text)}\n"
            f"_INDEX = {_py_literal(index)}\n"
            f"lesson_page({slug!r}, text=_TEXT, links='site', index=_INDEX).servable(title={title!r})\n")


def _lesson_needs_data(text: str):
    from playground.lessons import parse_lesson
    return any(name in LESSON_DATA_WIDGETS for name, _ in parse_lesson(text, "?").widgets)


def _page(title, body, prefix="", extra_head=""):
    return f"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{html.escape(title)}</title>
<link rel="manifest" href="{prefix}manifest.webmanifest">
<link rel="icon" href="{prefix}icons/favicon.ico">
<meta name="theme-color" content="#23395d">
<link rel="stylesheet" href="{prefix}css/descent.css">
<script src="{prefix}js/loader.js" data-site-root="../"></script>
{extra_head}</head>
<body class="descent-page">
{body}
</body>
</html>
"""


def index_page(apps, lessons, embeds, version):
    cards = "\n".join(
        f'<a class="card" href="{a.slug}.html"><h3>{html.escape(a.title)}</h3>'
        f'<p>{html.escape(a.blurb)}</p><span class="go">Open →</span></a>' for a, _, _ in apps)
    progress = ""
    if lessons:  # lesson_index() entries; the script marks each title link with the learner's progress
        from playground.lessons import index_progress_script
        lesson_html = '<ol class="lessons">' + "".join(
            f'<li class="lesson-card"><h3><a href="lessons/{d["slug"]}.html">{html.escape(d["title"])}</a></h3>'
            f'<p>{html.escape(d["summary"])}</p>'
            f'<span class="muted">{len(d["exercises"])} exercise{"" if len(d["exercises"]) == 1 else "s"}</span></li>'
            for d in lessons) + "</ol>"
        progress = index_progress_script(lessons, prefix="lessons/")
    else:
        lesson_html = '<p class="muted">No lessons yet: they will appear here (from <code>lessons/*.md</code>).</p>'
    emb = "".join(f'<li><code>{e.widget}</code> — {html.escape(e.blurb)} '
                  f'<a href="embed/{e.widget}.html">preview</a></li>' for e in embeds)
    body = f"""<header class="hero">
<h1>Descent</h1>
<p>A machine-learning playground that runs in your browser: Python (Pyodide) in a Web Worker,
a readable numpy autograd engine, and live Panel apps. Nothing is installed; nothing leaves your machine.</p>
</header>
<main>
<section><h2>Apps</h2><div class="cards">
{cards}
</div></section>
<section><h2>Lessons</h2>
<p class="muted">Eight lessons, top-down: train something real first, then open it up. Your progress stays in this browser.</p>
{lesson_html}
</section>
<section><h2>Embed in your blog</h2>
<p>Every app page has a <b>Copy embed snippet</b> button. A snippet is two lines that work on any site:</p>
<pre><code>&lt;div data-descent="digits-draw"&gt;&lt;/div&gt;
&lt;script src="<span class="site-url">https://YOUR-SITE/</span>js/embed.js" async&gt;&lt;/script&gt;</code></pre>
<ul class="embeds">{emb}</ul>
</section>
<section><h2>Use it offline</h2>
<p>After one visit to an app while online, the site, the Python runtime and every package are cached
and work without a network. <button id="cache-all">Make everything available offline now</button>
<span id="cache-status" class="muted"></span></p>
<p>For machines that are never online: <code>descent build-site --offline-dist PATH</code> writes a
self-contained folder (and zip) with Pyodide included; serve it with <code>descent serve-site</code>.
For speed on your own machine: <code>descent serve-local</code> runs every lesson and app on CPython.</p>
</section>
</main>
<footer>Descent {html.escape(version)} · Pyodide {PYODIDE_VERSION} · Panel {PANEL_VERSION} · Bokeh {BOKEH_VERSION}</footer>
<script>
document.querySelectorAll(".site-url").forEach((e) => {{ e.textContent = new URL("./", location.href).href; }});
document.getElementById("cache-all").addEventListener("click", async () => {{
  const s = document.getElementById("cache-status");
  if (!("serviceWorker" in navigator)) {{ s.textContent = "This browser has no service workers."; return; }}
  const reg = await navigator.serviceWorker.ready;
  navigator.serviceWorker.addEventListener("message", (e) => {{
    if (e.data && e.data.type === "descent:cached") s.textContent = `cached ${{e.data.done}} / ${{e.data.total}} files`;
  }});
  reg.active.postMessage({{type: "cache-all"}});
  s.textContent = "caching…";
}});
</script>
{progress}"""
    return _page("Descent — machine learning in your browser", body)


def embed_index_page(embeds):
    items = "".join(f'<h2><code>{e.widget}</code></h2><div data-descent="{e.widget}"></div>' for e in embeds[:1])
    body = (f'<header class="descent-bar-top"><a class="descent-home" href="../index.html">Descent</a>'
            f'<span class="descent-app-title">Embeds</span></header><main>'
            f'<p>Each widget below is an iframe created by <code>js/embed.js</code> from '
            f'<code>&lt;div data-descent="…"&gt;</code>.</p>{items}</main>'
            f'<script src="../js/embed.js" async></script>')
    return _page("Embeds · Descent", body, prefix="../")


MANIFEST = {
    "name": "Descent — machine learning in your browser", "short_name": "Descent",
    "start_url": "index.html", "scope": "./", "display": "standalone",
    "background_color": "#f7f7f4", "theme_color": "#23395d",
    "icons": [{"src": "icons/icon-192x192.png", "type": "image/png", "sizes": "192x192"},
              {"src": "icons/icon-512x512.png", "type": "image/png", "sizes": "512x512"},
              {"src": "icons/icon-vector.svg", "type": "image/svg+xml", "sizes": "512x512"}],
}


# ------------------------------------------------------------------ vendor assets

def _copy_vendor(out: Path, pages: list[str]):
    import bokeh
    import panel
    bk_static = Path(bokeh.__file__).parent / "server" / "static" / "js"
    pn_dist = Path(panel.__file__).parent / "dist"
    vb = out / "vendor" / "bokeh"
    vb.mkdir(parents=True)
    for part in ("", "-gl", "-widgets", "-tables"):
        shutil.copy2(bk_static / f"bokeh{part}.min.js", vb / f"bokeh{part}-{BOKEH_VERSION}.min.js")
    vp = out / "vendor" / "panel" / PANEL_VERSION / "dist"
    vp.mkdir(parents=True)
    shutil.copy2(pn_dist / "panel.min.js", vp / "panel.min.js")
    for d in ("css", "assets", "images", "bundled/reactiveesm", "bundled/theme", "bundled/css"):
        if (pn_dist / d).is_dir():
            shutil.copytree(pn_dist / d, vp / d, dirs_exist_ok=True)
    # anything else a page references (found in the pre-rendered documents)
    pat = re.compile(re.escape(f"vendor/panel/{PANEL_VERSION}/dist/") + r"([^\"'\s)\\]+)")
    missing = set()
    for text in pages:
        for rel in pat.findall(text):
            rel = rel.split("?")[0]
            src = pn_dist / rel
            if not (vp / rel).exists():
                if src.is_file():
                    (vp / rel).parent.mkdir(parents=True, exist_ok=True)
                    shutil.copy2(src, vp / rel)
                else:
                    missing.add(rel)
    if missing:
        raise BuildError(f"pages reference Panel files that the installed panel lacks: {sorted(missing)}")


# ------------------------------------------------------------------ the build

def _files(out: Path):
    return sorted(p for p in out.rglob("*") if p.is_file())


def _rel(out, p):
    return p.relative_to(out).as_posix()


def build_site(out="_site", offline_dist=None, cache=None, quiet=False):
    """Build the site into `out`; returns a summary dict."""
    t0 = time.perf_counter()
    out = Path(out).resolve()
    if out == ROOT or out == SITE_SRC:
        raise BuildError(f"refusing to build into {out}")
    if not SITE_SRC.is_dir():
        raise BuildError(f"{SITE_SRC} not found: build-site runs from a Descent checkout")
    lock_path = ROOT / "node_modules" / "pyodide" / "pyodide-lock.json"
    if offline_dist:
        lock_path = Path(offline_dist) / "pyodide-lock.json"
        check_dist(Path(offline_dist), None)  # fails early on a dist without a lock file
    if not lock_path.is_file():
        raise BuildError(f"{lock_path} not found: run `npm ci` (npm pyodide@{PYODIDE_VERSION} gives the lock file)")
    data_src = Path(os.environ.get("DESCENT_MNIST") or ROOT / "engine" / "_data" / "mnist10k.npz")
    if not data_src.is_file():
        raise BuildError(f"{data_src} not found: python -m engine.data build-mnist")
    apps, notes = available_apps()
    if not apps:
        raise BuildError("no app found under playground/apps")
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    for d in ("wheels", "data", "embed", "lessons", "icons", "webgpu"):
        (out / d).mkdir()

    lock = read_lock(lock_path)
    lock_pkgs, dep_wheels = resolve_packages(lock)
    dep_wheels.pop("descent", None)
    cache_dir = _cache_dir(cache)
    by_slug = {a.slug: (a, f, acc) for a, f, acc in apps}

    jobs, targets = [], []  # targets: (converted page, output name, True (embed) / False (app) / "lesson", App)
    for a, func, _ in apps:
        jobs.append((a.slug, _stub(a, func, {}, f"Descent · {a.title}"), f"Descent {a.title}"))
        targets.append((a.slug, a.slug, False, a))
    embed_notes = {}
    embeds = []
    for e in EMBEDS:
        if e.app not in by_slug:
            continue
        a, func, accepts = by_slug[e.app]
        kwargs = {k: v for k, v in e.kwargs.items() if k in accepts}
        if kwargs != e.kwargs:
            embed_notes[e.widget] = (f"{func}() takes no {', '.join(sorted(set(e.kwargs) - set(kwargs)))} "
                                     f"yet: the embed shows the whole app")
        embeds.append(e)
        if kwargs:
            jobs.append((f"embed-{e.widget}", _stub(a, func, kwargs, f"Descent · {e.widget}"),
                         f"Descent embed {e.widget}"))
            targets.append((f"embed-{e.widget}", e.widget, True, a))
        else:  # the same document as the app page: convert once
            targets.append((a.slug, e.widget, True, a))
    lessons = _lessons()
    index = _lesson_index(lessons)
    by_lesson = {d["slug"]: d for d in index}
    for slug, text in lessons:
        d = by_lesson[slug]
        jobs.append((f"lesson-{slug}", _lesson_stub(slug, text, index, f"Descent · {d['title']}"),
                     f"Descent lesson {slug}"))
        targets.append((f"lesson-{slug}", slug, "lesson",
                        App(slug, "playground.lessons", "lesson_page", d["title"], d["summary"],
                            data=_lesson_needs_data(text))))

    with tempfile.TemporaryDirectory() as tmp, cf.ThreadPoolExecutor(2) as pool:
        own = pool.submit(build_own_wheel, out / "wheels")
        deps = pool.submit(download_wheels, dep_wheels, cache_dir)
        log(f"converting {len(jobs)} pages with panel convert (pyodide-worker)…")
        converted = convert(jobs, Path(tmp))
        own_whl = own.result()
        dep_paths = deps.result()
        icons_src = next(iter(converted.values()))[2] / "images"
        for f in icons_src.iterdir():
            shutil.copy2(f, out / "icons" / f.name)

    site_wheels = []
    for p in dep_paths:
        if _norm(p.name.split("-")[0]) == "panel":
            slim_panel_wheel(p, out / "wheels" / p.name)
        else:
            shutil.copy2(p, out / "wheels" / p.name)
        site_wheels.append(f"wheels/{p.name}")
    # bokeh before panel before the rest does not matter with deps=False; keep it stable
    site_wheels.sort()
    shutil.copy2(data_src, out / "data" / "mnist10k.npz")
    for sub in ("js", "css"):
        if (SITE_SRC / sub).is_dir():
            shutil.copytree(SITE_SRC / sub, out / sub)
    for f in (SITE_SRC / "webgpu").glob("*.js"):
        shutil.copy2(f, out / "webgpu" / f.name)

    core = ROOT / "node_modules" / "pyodide"
    runtime_size = sum((core / f).stat().st_size for f in RUNTIME_FILES if (core / f).is_file()
                       and f != "pyodide.js" and f != "pyodide.asm.js")
    sizes = {"runtime": runtime_size,
             "packages": sum((out / w).stat().st_size for w in site_wheels),
             "wheel": own_whl.stat().st_size,
             "data": (out / "data" / "mnist10k.npz").stat().st_size}
    known = {f: (core / f).stat().st_size for f in RUNTIME_FILES if (core / f).is_file()}
    known.update({Path(w).name: (out / w).stat().st_size for w in site_wheels})
    known[own_whl.name] = sizes["wheel"]
    known["mnist10k.npz"] = sizes["data"]
    template = (SITE_SRC / "templates" / "worker.js").read_text()

    pages = []
    for conv, slug, is_embed, app in targets:
        page, worker_js, _ = converted[conv]
        is_lesson = is_embed == "lesson"
        is_embed = is_embed is True
        prefix = "../" if is_embed or is_lesson else ""
        code, handlers = _extract_worker_parts(worker_js)
        config = {"siteRoot": prefix or "./", "pyodide": PYODIDE_CDN, "pyodideVersion": PYODIDE_VERSION,
                  "title": app.title, "lockPackages": lock_pkgs,
                  "lockFiles": {p: lock[p]["file_name"] for p in lock_pkgs},
                  "wheels": site_wheels, "wheel": f"wheels/{own_whl.name}",
                  "data": "data/mnist10k.npz" if app.data else None, "webgpu": "webgpu/matmul.js",
                  "sizes": sizes, "knownSizes": known}
        html_text = postprocess_page(page, name=slug, converted_as=conv, prefix=prefix, title=app.title,
                                     embed_widget=slug if is_embed else (app.embed or app.slug),
                                     is_embed=is_embed, app_slug=app.slug, is_lesson=is_lesson)
        target = out / ("embed" if is_embed else "lessons" if is_lesson else "") / f"{slug}.html"
        target.write_text(html_text)
        target.with_suffix(".js").write_text(make_worker(template, code=code, handlers=handlers, config=config))
        pages.append(html_text)

    _copy_vendor(out, pages)
    version = _project_version()
    (out / "index.html").write_text(index_page(apps, index, embeds, version))
    (out / "embed" / "index.html").write_text(embed_index_page(embeds))
    (out / "manifest.webmanifest").write_text(json.dumps(MANIFEST, indent=1))
    write_service_worker(out, version, PYODIDE_CDN, lock_pkgs, lock)

    summary = {"out": str(out), "pages": len(targets), "apps": [a.slug for a, _, _ in apps],
               "embeds": [e.widget for e in embeds], "lessons": [d["slug"] for d in index], "notes": notes,
               "embed_notes": embed_notes, "wheels": [own_whl.name] + [Path(w).name for w in site_wheels],
               "lock_packages": lock_pkgs, "bytes": sum(p.stat().st_size for p in _files(out))}
    (out / "build.json").write_text(json.dumps(summary, indent=1))
    if not quiet:
        for n in notes + [f"embed {k}: {v}" for k, v in embed_notes.items()]:
            log(f"  note: {n}")
        log(f"built {out}: {len(targets)} pages ({len(converted)} conversions), {len(_files(out))} files, {human(summary['bytes'])} "
            f"(Pyodide {PYODIDE_VERSION} + {len(lock_pkgs)} of its packages from {PYODIDE_CDN}) "
            f"in {time.perf_counter() - t0:.0f} s")
    if offline_dist:
        summary["offline"] = make_offline_bundle(out, Path(offline_dist), lock_pkgs, quiet=quiet)
    return summary


def _project_version():
    m = re.search(r'^version\s*=\s*"([^"]+)"', (ROOT / "pyproject.toml").read_text(), re.M)
    return m.group(1) if m else "0"


def write_service_worker(out: Path, version: str, pyodide: str, lock_pkgs, lock):
    """sw.js with its lists: PRECACHE = every file of the site but the big ones fetched on
    first use (wheels, data, build.json); RUNTIME = those plus the Pyodide runtime files."""
    # not cached: build.json (a report), sw.js (the browser fetches it itself) and
    # version.json (what the loader asks the network to tell "offline" from "CDN blocked")
    files = [f for f in (_rel(out, p) for p in _files(out)) if f not in NOT_CACHED]
    lazy = [f for f in files if f.startswith(("wheels/", "data/"))]
    precache = [f for f in files if f not in lazy]
    digest = hashlib.sha256()
    for f in sorted(files):
        digest.update(f.encode() + b"\0" + hashlib.sha256((out / f).read_bytes()).digest())
    cache = f"descent-{version}-{digest.hexdigest()[:12]}"
    runtime = lazy + [pyodide + f for f in RUNTIME_FILES] + [pyodide + lock[p]["file_name"] for p in lock_pkgs]
    js = (SITE_SRC / "templates" / "sw.js").read_text()
    js = (js.replace('/*@CACHE@*/"descent"', json.dumps(cache))
            .replace("/*@PRECACHE@*/[]", json.dumps(["./"] + precache, indent=0))
            .replace("/*@RUNTIME@*/[]", json.dumps(runtime, indent=0))
            .replace('/*@PYODIDE@*/""', json.dumps(pyodide)))
    (out / "sw.js").write_text(js)
    (out / "version.json").write_text(json.dumps({"version": version, "cache": cache, "pyodide": pyodide}))
    return cache


# ------------------------------------------------------------------ offline bundle

def check_dist(dist: Path, lock_pkgs):
    """Refuse a Pyodide distribution that lacks a file we need, saying which."""
    if not dist.is_dir():
        raise BuildError(f"--offline-dist {dist}: not a directory")
    lock_file = dist / "pyodide-lock.json"
    if not lock_file.is_file():
        raise BuildError(f"--offline-dist {dist}: no pyodide-lock.json there: point it at an unpacked full "
                         f"Pyodide {PYODIDE_VERSION} distribution (pyodide-{PYODIDE_VERSION}.tar.bz2)")
    missing = [f for f in RUNTIME_FILES if not (dist / f).is_file()]
    if lock_pkgs is None:
        return
    lock = read_lock(lock_file)
    lacking = [p for p in lock_pkgs if p not in lock]
    if lacking:
        raise BuildError(f"--offline-dist {dist}: its pyodide-lock.json lists no {', '.join(lacking)}; "
                         f"a full Pyodide {PYODIDE_VERSION} distribution has them")
    missing += [lock[p]["file_name"] for p in lock_pkgs if not (dist / lock[p]["file_name"]).is_file()]
    if missing:
        raise BuildError(f"--offline-dist {dist} lacks {len(missing)} file(s) the site needs: "
                         f"{', '.join(missing[:12])}{' …' if len(missing) > 12 else ''}. This looks like the "
                         f"npm core or a partial copy: use the full distribution (pyodide-{PYODIDE_VERSION}.tar.bz2 "
                         f"from github.com/pyodide/pyodide/releases).")


NOT_CACHED = {"build.json", "sw.js", "version.json"}
TEXT_SUFFIXES = {".html", ".js", ".mjs", ".css", ".json", ".webmanifest", ".txt", ".md", ".svg"}


def make_offline_bundle(site: Path, dist: Path, lock_pkgs, quiet=False):
    """Copy the site to <site>-offline with Pyodide vendored under pyodide/ and every CDN
    address rewritten to it; zip it. Returns {"dir", "zip", "bytes"}."""
    check_dist(dist, lock_pkgs)
    lock = read_lock(dist / "pyodide-lock.json")
    dest = site.with_name(site.name + "-offline")
    if dest.exists():
        shutil.rmtree(dest)
    shutil.copytree(site, dest)
    pyo = dest / "pyodide"
    pyo.mkdir()
    for f in list(RUNTIME_FILES) + [lock[p]["file_name"] for p in lock_pkgs]:
        shutil.copy2(dist / f, pyo / f)
    for p in _files(dest):
        if p.suffix in TEXT_SUFFIXES and not p.is_relative_to(pyo):
            t = p.read_text(errors="surrogateescape")
            n = t.replace(PYODIDE_CDN, "pyodide/")
            if n != t:
                p.write_text(n, errors="surrogateescape")
    # the package sizes are known now: the loader shows a determinate bar for them too
    pkg_bytes = {lock[p]["file_name"]: (pyo / lock[p]["file_name"]).stat().st_size for p in lock_pkgs}
    for w in dest.rglob("*.js"):
        if not w.with_suffix(".html").is_file():
            continue
        t = w.read_text()
        m = re.search(r"const CONFIG = (\{.*?\n\});", t, re.S)
        if not m:
            continue
        cfg = json.loads(m.group(1))
        cfg["sizes"]["packages"] += sum(pkg_bytes.values())
        cfg["knownSizes"].update(pkg_bytes)
        w.write_text(t[:m.start(1)] + json.dumps(cfg, indent=1) + t[m.end(1):])
    # the service worker's cache key changes with the contents
    write_service_worker(dest, _project_version() + "-offline", "pyodide/", lock_pkgs, lock)
    left = offline_cdn_refs(dest)
    if left:
        raise BuildError(f"CDN addresses left in the offline bundle: {left[:5]}")
    zpath = dest.with_suffix(".zip")
    with zipfile.ZipFile(zpath, "w", zipfile.ZIP_DEFLATED) as z:
        for p in _files(dest):
            z.write(p, Path(dest.name) / p.relative_to(dest))
    size = sum(p.stat().st_size for p in _files(dest))
    if not quiet:
        log(f"offline bundle: {dest} ({human(size)}), {zpath} ({human(zpath.stat().st_size)}); "
            f"serve it with: descent serve-site {dest}")
    return {"dir": str(dest), "zip": str(zpath), "bytes": size}


def offline_cdn_refs(folder: Path):
    """[(file, address)] for every CDN address in the text files (not Pyodide's own files)."""
    hits = []
    for p in _files(folder):
        if p.suffix not in TEXT_SUFFIXES or p.parts[len(folder.parts)] == "pyodide":
            continue
        t = p.read_text(errors="ignore")
        for pat in CDN_PATTERNS:
            if pat in t:
                hits.append((_rel(folder, p), pat))
    return hits


# ------------------------------------------------------------------ serving

def serve_site(folder="_site", host="127.0.0.1", port=8000, open_browser=False):
    """Serve a built site on localhost (HTTP with the right types for .wasm/.mjs)."""
    import functools
    import http.server
    folder = Path(folder)
    if not (folder / "index.html").is_file():
        raise BuildError(f"{folder}/index.html not found: run `descent build-site --out {folder}` first")

    class Handler(http.server.SimpleHTTPRequestHandler):
        extensions_map = {**http.server.SimpleHTTPRequestHandler.extensions_map,
                          ".js": "text/javascript", ".mjs": "text/javascript", ".wasm": "application/wasm",
                          ".webmanifest": "application/manifest+json", ".whl": "application/zip"}

        def log_message(self, fmt, *args):
            pass

    srv = http.server.ThreadingHTTPServer((host, port), functools.partial(Handler, directory=str(folder)))
    url = f"http://{host}:{srv.server_address[1]}/"
    log(f"Serving {folder} at {url} (Ctrl+C to stop)")
    if open_browser:
        import webbrowser
        webbrowser.open(url)
    try:
        srv.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        srv.server_close()


def serve_local(port=5006, show=False):
    """Every lesson (/NN-slug) and app (/NAME) on CPython with Panel's server (BLAS numpy, no
    browser Python): playground.lessons.serve_lessons, whose links between lessons and apps
    point at these routes."""
    from playground import lessons as _lessons_mod
    apps, notes = available_apps()
    for n in notes:
        log(f"  note: {n}")
    try:
        index = _lessons_mod.lesson_index()
    except (OSError, ValueError) as e:
        raise BuildError(f"a lesson does not follow the format: {e}") from None
    log(f"Serving on CPython at http://localhost:{port}/ (Ctrl+C to stop)")
    log(f"  lessons: {', '.join('/' + d['slug'] for d in index) or 'none'}")
    log(f"  apps: {', '.join('/' + a.slug for a, _, _ in apps)}")
    try:
        _lessons_mod.serve_lessons(port=port, show=show, apps=True)
    except KeyboardInterrupt:
        pass
    return 0


def main(argv=None):
    p = argparse.ArgumentParser(prog="python -m playground.site_builder", description=__doc__.split("\n")[0])
    p.add_argument("--out", default="_site")
    p.add_argument("--offline-dist")
    a = p.parse_args(argv)
    try:
        build_site(a.out, a.offline_dist)
    except BuildError as e:
        sys.exit(f"build-site: {e}")


if __name__ == "__main__":
    main()


# ------------------------------------------------------------------ `descent` subcommands

COMMANDS = ("build-site", "serve-site", "serve-local")


def add_subcommands(sub):
    b = sub.add_parser("build-site", help="build the static site (Pyodide in the browser)")
    b.add_argument("--out", default="_site", help="output folder (default _site)")
    b.add_argument("--offline-dist", metavar="PATH",
                   help="a full Pyodide 0.29.3 distribution: also write <out>-offline/ and its .zip")
    b.add_argument("--cache", help="where downloaded wheels are kept (default ~/.cache/descent-site)")
    s = sub.add_parser("serve-site", help="serve a built site on localhost")
    s.add_argument("folder", nargs="?", default="_site")
    s.add_argument("--port", type=int, default=8000)
    s.add_argument("--host", default="127.0.0.1")
    s.add_argument("--open", action="store_true", help="open a browser")
    l = sub.add_parser("serve-local", help="serve every lesson and app with Panel on CPython")
    l.add_argument("--port", type=int, default=5006)
    l.add_argument("--show", action="store_true", help="open a browser")


def run_command(a):
    try:
        if a.cmd == "build-site":
            build_site(a.out, a.offline_dist, a.cache)
        elif a.cmd == "serve-site":
            serve_site(a.folder, a.host, a.port, a.open)
        elif a.cmd == "serve-local":
            return serve_local(a.port, a.show)
    except BuildError as e:
        sys.exit(f"descent {a.cmd}: {e}")
