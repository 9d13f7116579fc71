"""Shared fixtures: a local HTTP server over the repo and headless Debian Chromium."""
import contextlib
import functools
import http.server
import os
import pathlib
import shutil
import socket
import subprocess
import sys
import threading
import time
import urllib.request

import pytest

# One BLAS thread for the suite and the servers it starts: on 2 cores, OpenBLAS's own threads
# oversubscribe the machine and make small training steps several times slower.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")

ROOT = pathlib.Path(__file__).resolve().parent.parent
# Browser tests save screenshots here; the README's copies in docs/screenshots are updated on
# purpose (DESCENT_SCREENSHOTS=docs/screenshots), so a test run leaves tracked files alone.
SCREENSHOTS = pathlib.Path(os.environ.get("DESCENT_SCREENSHOTS", ROOT / "artifacts" / "screenshots"))
CHROMIUM_ARGS = ["--no-sandbox", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]
BLANK = b"<!doctype html><meta charset=utf-8><title>blank</title>"


class _Handler(http.server.SimpleHTTPRequestHandler):
    extensions_map = {**http.server.SimpleHTTPRequestHandler.extensions_map,
                      ".js": "text/javascript", ".mjs": "text/javascript", ".wasm": "application/wasm"}

    def do_GET(self):
        if self.path.split("?")[0] == "/blank.html":  # an empty page on our origin
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(BLANK)))
            self.end_headers()
            self.wfile.write(BLANK)
            return
        super().do_GET()

    def log_message(self, *args):
        pass


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def panel_serve(*apps, probe="", timeout=60):
    """`panel serve APPS` on a free localhost port, one BLAS thread; yields the base URL once
    `base + probe` answers, and stops the server afterwards."""
    pytest.importorskip("panel")
    port = free_port()
    env = {**os.environ, "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT)}
    cmd = [sys.executable, "-m", "panel", "serve", *apps, "--port", str(port), "--address",
           "127.0.0.1", f"--allow-websocket-origin=127.0.0.1:{port}"]
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    deadline = time.time() + timeout
    try:
        while True:
            try:
                urllib.request.urlopen(base + probe, timeout=10)
                break
            except OSError:
                if proc.poll() is not None or time.time() > deadline:
                    proc.kill()
                    out = proc.stdout.read().decode(errors="replace")[-2000:]
                    pytest.fail(f"panel serve did not start:\n{out}")
                time.sleep(0.5)
        yield base
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()


@pytest.fixture(scope="session")
def http_server():
    """Base URL of a server for the repository root (ES modules and Pyodide need HTTP)."""
    server = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), functools.partial(_Handler, directory=str(ROOT)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def chromium_launcher():
    """launch(webgpu=True, extra_args=()) -> a Playwright Browser, cached per argument set.

    Module scope: Playwright's sync API keeps an asyncio loop running in this thread while it
    is alive, which would break later tests that call asyncio.run()."""
    exe = shutil.which("chromium")
    if not exe:
        pytest.skip("Debian chromium is not installed (apt-get install chromium)")
    from playwright.sync_api import sync_playwright
    browsers = {}
    with sync_playwright() as p:
        def launch(webgpu=True, extra_args=()):
            key = (webgpu, tuple(extra_args))
            if key not in browsers:
                args = CHROMIUM_ARGS + (["--enable-unsafe-webgpu"] if webgpu else []) + list(extra_args)
                browsers[key] = p.chromium.launch(executable_path=exe, args=args)
            return browsers[key]
        yield launch
        for b in browsers.values():
            b.close()


@pytest.fixture(scope="module")
def chromium_browser(chromium_launcher):
    """Headless Chromium with WebGPU enabled (SwiftShader here)."""
    return chromium_launcher()


@pytest.fixture
def blank_page(chromium_browser, http_server):
    """A fresh page on the local server's origin; console errors are collected in page.errors."""
    ctx = chromium_browser.new_context()
    pg = ctx.new_page()
    pg.errors = []
    pg.on("pageerror", lambda e: pg.errors.append(str(e)))
    pg.goto(http_server + "/blank.html")
    yield pg
    ctx.close()


def wait_until(fn, timeout, step=0.25, what="condition"):
    end = time.time() + timeout
    while time.time() < end:
        v = fn()
        if v:
            return v
        time.sleep(step)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


def bokeh_eval(page, body):
    """Run JS `body` with `doc` bound to the page's Bokeh document."""
    return page.evaluate("() => { const doc = window.Bokeh.documents[0]; " + body + " }")


def draw_vertical_stroke_and_read_guess(page, box, evaluate=bokeh_eval):
    """Draw a "1" with the mouse on the digits canvas (bounding `box`); return the top class
    of the app's 'probs' source once it has probabilities (`evaluate(page, js)` runs JS with
    `doc` bound to the live Bokeh document)."""
    x, y0, y1 = box["x"] + box["width"] * 0.5, box["y"] + box["height"] * 0.15, box["y"] + box["height"] * 0.85
    page.mouse.move(x, y0)
    page.mouse.down()
    for i in range(1, 21):
        page.mouse.move(x + i * 0.2, y0 + (y1 - y0) * i / 20)
    page.mouse.up()
    top = ("const p = doc.get_model_by_name('probs').data.p; let b = 0; "
           "for (let i = 1; i < p.length; i++) if (p[i] > p[b]) b = i; return p[b] > 0 ? b : -1;")
    return wait_until(lambda: (lambda g: g if g >= 0 else None)(evaluate(page, top)), 30,
                      what="class probabilities for the drawing")


@pytest.fixture(scope="session")
def mnist_ready():
    from engine.data import DEFAULT_MNIST_PATH
    if not DEFAULT_MNIST_PATH.is_file() and not os.environ.get("DESCENT_MNIST"):
        r = subprocess.run([sys.executable, "-m", "engine.data", "build-mnist"], cwd=ROOT,
                           capture_output=True, text=True)
        if r.returncode:
            pytest.skip(f"MNIST npz missing and could not be built: {r.stderr[-300:]}")


@pytest.fixture(scope="module")
def twins_one_thread():
    """One BLAS thread for numpy and torch while engine-vs-PyTorch tests run
    (see playground.bench.threads.one_thread: much faster on a busy box)."""
    from playground.bench import threads
    with threads.one_thread():
        yield


@pytest.fixture(scope="session")
def twins_mnist(tmp_path_factory):
    """MNIST-10k for the engine-vs-PyTorch tests, built into a temporary folder if missing."""
    from playground.bench import twins
    data, reason = twins.mnist_or_reason(tmp_path_factory.mktemp("mnist"))
    if data is None:
        pytest.skip(reason)
    return data


@pytest.fixture(scope="module")
def url(tmp_path_factory):
    """The offline bundle (tests/booted.py: built once per session from the Pyodide
    distribution) served on 127.0.0.1 for one test module: its base URL."""
    from booted import bundle, dist_or_skip, serve
    dist_or_skip()
    srv, base = serve(bundle(tmp_path_factory))
    yield base
    srv.shutdown()
    srv.server_close()


@pytest.fixture(scope="module")
def ctx(chromium_launcher, url):
    """A 1,400x1,000 browser context for the bundle's app pages (service workers blocked,
    downloads accepted), everything that goes wrong in it collected by ``.watch``. Modules
    that need another context (other sizes, other origins) define their own ``ctx``."""
    from booted import Watch
    c = chromium_launcher(webgpu=False).new_context(viewport={"width": 1400, "height": 1000},
                                                     service_workers="block", accept_downloads=True)
    c.watch = Watch(c)
    yield c
    c.close()
