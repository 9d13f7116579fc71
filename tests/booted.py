"""The site as users get it: the offline bundle built from a real Pyodide 0.29.3 distribution
(numpy, Panel, our wheel), served on 127.0.0.1 and booted in headless Chromium with every
other address refused. Shared by the full-boot tests (tests/test_pages_*.py).

`DESCENT_PYODIDE_DIST` names the distribution; it defaults to ../shared/pyodide-dist beside
the checkout. Where neither exists, the full-boot tests are skipped and say so.
"""
import functools
import http.server
import json
import os
import re
import shutil
import threading
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DIST = Path(os.environ.get("DESCENT_PYODIDE_DIST") or ROOT.parent / "shared" / "pyodide-dist")
TYPES = {".js": "text/javascript", ".mjs": "text/javascript", ".wasm": "application/wasm",
         ".json": "application/json", ".zip": "application/zip", ".whl": "application/zip",
         ".webmanifest": "application/manifest+json"}
STAGES = ("runtime", "packages", "wheel", "data", "app")
# the trainer's progress line ("step 12/2000 · 9,504 tokens/s"): group 1 is the step
PROGRESS = re.compile(r"step (\d+)(?:/\d+)? · [\d,]+ (?:samples|tokens)/s")
# Console lines that are not failures, each with why. Nothing else is ignored.
ALLOWED_CONSOLE = {
    "Service Worker registration blocked by Playwright":
        "Playwright's own line when a test context sets service_workers='block'",
}


_BUNDLE = {}


def bundle(tmp_path_factory):
    """The offline bundle of the site, built once per test session from the distribution:
    its folder. The site itself comes from test_site_build.build_once (also once)."""
    if "dir" not in _BUNDLE:
        dist_or_skip()
        from test_site_build import build_once
        from playground import sitebuild as sb
        site, summary = build_once(tmp_path_factory)
        copy = tmp_path_factory.getbasetemp() / "bundle" / "_site"
        shutil.copytree(site, copy)
        _BUNDLE["dir"] = Path(sb.make_offline_bundle(copy, DIST, summary["lock_packages"], quiet=True)["dir"])
    return _BUNDLE["dir"]


def dist_or_skip():
    if not (DIST / "pyodide-lock.json").is_file():
        pytest.skip(f"no Pyodide 0.29.3 distribution at {DIST}: set DESCENT_PYODIDE_DIST (or put one at "
                    f"../shared/pyodide-dist) for the full-boot tests")
    return DIST


class _Quiet(http.server.SimpleHTTPRequestHandler):
    extensions_map = {**http.server.SimpleHTTPRequestHandler.extensions_map, **TYPES}

    def log_message(self, *args):
        pass


def serve(folder):
    """(server, base URL) for a folder on 127.0.0.1; call server.shutdown() when done."""
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_Quiet, directory=str(folder)))
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    return srv, f"http://127.0.0.1:{srv.server_address[1]}/"


class Watch:
    """Everything that went wrong in a browser context: console errors and warnings (pages
    and their workers), uncaught exceptions, HTTP errors (404...) and requests that left
    localhost."""

    def __init__(self, ctx):
        self.errors, self.warnings, self.http, self.outside = [], [], [], []
        ctx.route(lambda u: not u.startswith("http://127.0.0.1"), self._refuse)
        ctx.on("response", lambda r: self.http.append(f"{r.status} {r.url}") if r.status >= 400 else None)
        ctx.on("page", self.attach)
        for pg in ctx.pages:
            self.attach(pg)

    def _refuse(self, route):
        self.outside.append(route.request.url)
        route.abort()

    def attach(self, pg):
        pg.on("console", self._console)
        pg.on("pageerror", lambda e: self.errors.append(f"pageerror: {e}"))
        pg.on("worker", lambda w: w.on("console", self._console))

    def _console(self, m):
        if any(a in m.text for a in ALLOWED_CONSOLE):
            return
        if m.type == "error":
            self.errors.append(m.text)
        elif m.type == "warning":
            self.warnings.append(m.text)

    def problems(self):
        return {k: v for k, v in (("console", self.errors), ("warnings", self.warnings),
                                  ("http", self.http), ("outside", self.outside)) if v}


def stages(pg):
    return pg.evaluate("JSON.parse(JSON.stringify(window.DescentLoader ? DescentLoader.state : {}))")


def wait(fn, timeout, every=0.25):
    end = time.time() + timeout
    while time.time() < end:
        v = fn()
        if v:
            return v
        time.sleep(every)
    return fn()


def boot_state(pg):
    """'interactive', 'failed: <message>' or None while booting."""
    return pg.evaluate("""() => {
        const L = window.DescentLoader;
        if (!L) return null;
        for (const s of Object.values(L.state)) if (s.state === 'failed') {
            const m = document.querySelector('.descent-loader-msg');
            return 'failed: ' + (m ? m.textContent : '?');
        }
        return L.interactiveAt ? 'interactive' : null;
    }""")


def timings(pg):
    """Seconds per boot stage and to interactive, from the loader's timestamps."""
    st, t_end = stages(pg), pg.evaluate("DescentLoader.interactiveAt || 0")
    out = {k: round((st[k]["t1"] - st[k]["t0"]) / 1e3, 1) for k in STAGES
           if k in st and "t0" in st[k] and "t1" in st[k]}
    out["interactive"] = round(t_end / 1e3, 1)
    return out


def boot_all(ctx, url, paths, timeout=240):
    """Open every path in its own page at once, wait until each is interactive; returns
    {path: page}. Fails with the loader's message when a page cannot boot; prints timings."""
    pages = {}
    for p in paths:
        pg = ctx.new_page()
        pg.goto(url + p, wait_until="commit")
        pages[p] = pg
    deadline = time.time() + timeout
    pending = dict(pages)
    while pending and time.time() < deadline:
        for p, pg in list(pending.items()):
            s = boot_state(pg)
            if s and s.startswith("failed"):
                pytest.fail(f"{p}: {s}")
            if s == "interactive":
                print(f"boot {p}: " + json.dumps(timings(pg)))
                del pending[p]
        time.sleep(0.5)
    assert not pending, {p: stages(pg) for p, pg in pending.items()}
    return pages


def py(pg, code, timeout=120_000):
    """Run Python in the page's worker (an asyncio task there); its value as text."""
    return pg.evaluate("([c, t]) => Promise.race([DescentLoader.python(c), "
                       "new Promise((_, r) => setTimeout(() => r(new Error('python timed out')), t))])",
                       [code, timeout])


def bokeh(pg, body):
    """Run JS `body` with `doc` bound to the page's live Bokeh document."""
    return pg.evaluate("() => { const doc = Bokeh.documents[Bokeh.documents.length - 1]; " + body + " }")
