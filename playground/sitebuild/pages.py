"""The static pages that are not apps (index, embed gallery), the manifest and the
versioned service worker."""
from __future__ import annotations

import hashlib
import html
import json
from pathlib import Path

from .common import (
    BOKEH_VERSION,
    NOT_CACHED,
    PANEL_VERSION,
    PYODIDE_VERSION,
    RUNTIME_FILES,
    SITE_SRC,
    files_under,
    relative,
)
from .loader import loader_tags


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
{loader_tags(prefix)}{extra_head}</head>
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
        from playground.lessons.progress import index_progress_script
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
<p class="muted">Top-down: train something real first, then open it up. Your progress stays in this browser.</p>
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

def write_service_worker(out: Path, version: str, pyodide: str, lock_pkgs, lock):
    """sw.js with its lists: PRECACHE = every file of the site but the big ones fetched on
    first use (wheels, data, the compiled standard library); RUNTIME = those plus the Pyodide
    runtime files."""
    # not cached: build.json (a report), sw.js (the browser fetches it itself) and
    # version.json (what the loader asks the network to tell "offline" from "CDN blocked")
    files = [f for f in (relative(out, p) for p in files_under(out)) if f not in NOT_CACHED]
    lazy = [f for f in files if f.startswith(("wheels/", "data/", "stdlib/"))]
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
