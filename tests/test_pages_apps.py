"""Every app and embed page as users get it: the offline bundle built from a real Pyodide
distribution, booted in headless Chromium with only 127.0.0.1 reachable (tests/booted.py).
No console error, HTTP error or outside request is ignored. Train, Pause (latency printed),
Step, Reset in each trainer; draw a digit; save and load a model; the leaderboard survives a
reload; the 2-D playground's exported code runs; WebGPU gives numpy's results."""
import json
import re
import time

import pytest

from booted import PROGRESS, Watch, boot_all, bokeh, py, wait
from conftest import SCREENSHOTS, draw_vertical_stroke_and_read_guess
from playground.apps.registry import APPS, EMBEDS

pytestmark = pytest.mark.browser
APP_PAGES = [f"{a.slug}.html" for a in APPS]
EMBED_PAGES = [f"embed/{e.widget}.html" for e in EMBEDS]


@pytest.fixture(scope="module")
def pages(ctx, url):
    """Every app and embed page, booted (three at a time) and kept open for the tests."""
    todo, out = APP_PAGES + EMBED_PAGES, {}
    for i in range(0, len(todo), 3):
        out.update(boot_all(ctx, url, todo[i:i + 3]))
    return out


def _step(pg):
    return int(PROGRESS.search(pg.get_by_text(PROGRESS).first.inner_text()).group(1))


def _button(pg, name):
    return pg.get_by_role("button", name=name, exact=True).first


def test_packages_left_for_after_boot_arrive_and_replace_the_stand_in(pages):
    # requests & co. are not loaded while the page boots (sitebuild.wheels.AFTER_BOOT); once it
    # is interactive they are, and the real pyodide_http has patched requests
    pg = pages["lines.html"]
    done = wait(lambda: py(pg, "import sys; str('pyodide_http._requests' in sys.modules)") == "True", 60)
    assert done, "the packages left for after the boot never arrived"
    assert py(pg, "import requests, narwhals, nh3, xyzservices, pyodide_http; "
                  "str(getattr(pyodide_http, 'descent_placeholder', False))") == "False"


def test_digits_builds_inside_the_model_once_the_page_shows_the_app(pages, ctx):
    # the weights image and the histograms are not part of the first document (playground/ui/page.py)
    # but arrive by patches right after it was drawn, filled with the untrained model's values
    pg = pages["digits.html"]
    get = ("const t = []; for (const m of doc.all_models) if (typeof m.text === 'string' && "
           "/^(First-layer weights|Linear \\d+: activations)/.test(m.text)) t.push(m.text); return t;")
    titles = wait(lambda: (lambda t: t if len(t) >= 4 else None)(bokeh(pg, get)), 30)
    assert titles and any("First-layer weights (" in t for t in titles), titles
    assert sum(": activations" in t for t in titles) == 3, titles  # 784-512-256-10: three layers
    assert ctx.watch.problems() == {}


def test_every_app_and_embed_page_boots_clean(pages, ctx):
    for path, pg in pages.items():
        assert pg.evaluate("!document.body.classList.contains('pn-loading')"), path
        if path in APP_PAGES:
            bar = pg.locator(".descent-backend")
            backend = wait(lambda: (lambda s: s if "looking" not in s else None)(bar.inner_text()), 30)
            # the WebAssembly kernels run; this browser has no WebGPU (no --enable-unsafe-webgpu)
            assert backend.startswith("matmul: wasm (WebAssembly SIMD"), (path, backend)
    assert ctx.watch.problems() == {}


def test_pages_import_bytecode_compiled_at_build_time(pages):
    # the standard library from the site's stdlib/ zip (sitebuild.wheels.compile_stdlib), not the
    # core's sources; the distribution's pure wheels and the site's own compiled too
    pg = pages["autograd.html"]
    files = py(pg, "import json, email.message, asyncio.tasks, pyodide.ffi, sys; "
                   "' '.join([json.__file__, email.message.__file__, asyncio.tasks.__file__, "
                   "pyodide.ffi.__file__, sys.modules['_pyodide._base'].__file__])").split()
    assert len(files) == 5 and all(f.startswith("/lib/python313.zip/") and f.endswith(".pyc") for f in files), files
    files = py(pg, "import jinja2, packaging.version, bokeh, panel; "
                   "' '.join(m.__file__ for m in (jinja2, packaging.version, bokeh, panel))").split()
    assert len(files) == 4 and all(f.endswith(".pyc") for f in files), files


# seconds of training before Pause is pressed: a minute where Pause was seen getting lost (the
# digits recipe, 20 epochs, ends in about a minute in the page: half of it)
TRAIN_FOR = {"playground2d.html": 60, "gan.html": 60, "digits.html": 30, "lines.html": 20, "names.html": 20,
             "gpt.html": 20}


def _pause_latency(pg):
    """Press Pause (a DOM click, no Playwright actionability waits) and time until the page
    shows "Paused at step N"; returns (seconds, N)."""
    paused = pg.get_by_text(re.compile(r"^Paused at step \d+")).first
    t = time.perf_counter()
    _button(pg, "Pause").dispatch_event("click")
    while not paused.count() and time.perf_counter() - t < 15:
        time.sleep(0.02)
    took = time.perf_counter() - t
    return took, int(re.search(r"\d+", paused.inner_text(timeout=1000)).group())


def test_train_pause_step_reset_in_every_trainer(pages, ctx):
    """Each trainer alone (two at once on two cores would time the machine, not the page):
    the numbers follow training, Pause lands within a second (printed), Step trains one
    step, Reset goes back to step 0."""
    for p, seconds in TRAIN_FOR.items():
        pg = pages[p]
        before = _figure_png(pg)
        assert _step(pg) == 0, p
        _count_patches(pg)
        _button(pg, "Train").click()
        assert wait(lambda: _step(pg) > 0, 30), f"{p}: training did not start"
        first = _step(pg)
        time.sleep(seconds)
        assert _step(pg) > first, f"{p}: the numbers stopped following the training"
        sent = pg.evaluate("window.__patches")
        print(f"{p}: {sent} patches from the page to Python in {seconds} s of training")
        assert sent <= 20, f"{p}: the page floods Python with {sent} patches while training"
        took, n = _pause_latency(pg)
        print(f"{p}: Pause after {seconds} s of training shown in {took:.2f} s (step {n})")
        assert took < 1.0, f"{p}: Pause took {took:.2f} s"
        time.sleep(1.0)
        assert _step(pg) == n, f"{p}: steps kept coming after Pause"
        assert _figure_png(pg) != before, f"{p}: the first plot did not change"
        _button(pg, "Step").click()
        assert wait(lambda: _step(pg) == n + 1, 15), f"{p}: Step did not train exactly one step"
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        pg.screenshot(path=str(SCREENSHOTS / f"page-{p[:-5]}.png"), full_page=True)
        if p != "digits.html":  # digits keeps its trained model for the tests below
            _button(pg, "Reset").click()
            assert wait(lambda: _step(pg) == 0, 15), f"{p}: Reset did not go back to step 0"
    assert ctx.watch.problems() == {}


def _count_patches(pg):
    """Count the patches the page sends its worker (window.__patches): while training, plots
    must not echo their auto-ranges back to Python."""
    pg.evaluate("""() => { window.__patches = 0; const send = pyodideWorker.postMessage.bind(pyodideWorker);
        pyodideWorker.postMessage = (m, ...rest) => { if (m && m.type === 'patch') window.__patches++;
                                                     return send(m, ...rest); }; }""")


def _figure_png(pg, index=0):
    return pg.locator(".bk-Figure").nth(index).screenshot()


def _draw_one(pg, box):
    return draw_vertical_stroke_and_read_guess(pg, box, evaluate=bokeh)


def test_digits_reads_a_drawn_one_after_training(pages, ctx):
    pg = pages["digits.html"]
    canvas = pg.locator("canvas.descent-draw")
    assert _draw_one(pg, canvas.bounding_box()) == 1
    pg = pages["embed/digits-draw.html"]  # the shipped classifier, no training
    assert _draw_one(pg, pg.locator("canvas.descent-draw").bounding_box()) == 1
    assert ctx.watch.problems() == {}


def test_digits_saves_a_model_and_loads_it_back(pages, ctx, tmp_path):
    pg = pages["digits.html"]
    with pg.expect_download(timeout=30_000) as dl:
        pg.get_by_role("button", name=re.compile("Save model")).click()
    saved = tmp_path / "digits-model.npz"
    dl.value.save_as(saved)
    assert saved.stat().st_size > 10_000 and saved.read_bytes()[:2] == b"PK"
    bad = tmp_path / "broken.npz"
    bad.write_bytes(saved.read_bytes()[: saved.stat().st_size // 2])
    upload = pg.locator("input[type=file]")
    upload.set_input_files(str(bad))
    pg.get_by_text(re.compile(r"Could not load broken\.npz: .* the current model is unchanged")).wait_for(timeout=30_000)
    upload.set_input_files(str(saved))
    done = pg.get_by_text(re.compile(r"Loaded digits-model\.npz \(.*\): held-out accuracy (\d+\.\d+)%"))
    done.wait_for(timeout=30_000)
    acc = float(re.search(r"(\d+\.\d+)%", done.inner_text()).group(1))
    assert acc > 50, done.inner_text()  # the trained weights came back, not a fresh model
    assert ctx.watch.problems() == {}


def test_digits_leaderboard_survives_a_reload(pages, ctx, url):
    pg = pages["digits.html"]
    runs = lambda: pg.evaluate("JSON.parse(localStorage.getItem('descent-digits-runs') || '[]')")  # noqa: E731
    assert len(runs()) >= 1  # the paused run was recorded
    best = max(float(r["acc"]) for r in runs())
    pg.reload(wait_until="commit")
    wait(lambda: pg.evaluate("!!(window.DescentLoader && DescentLoader.interactiveAt)"), 240, 0.5)
    board = pg.locator("table.descent-runs")
    board.wait_for(timeout=30_000)
    assert "★ best" in board.inner_text() and f"{best:.2%}" in board.inner_text()
    assert ctx.watch.problems() == {}


def test_gan_grid_and_autograd_graph_change(pages, ctx):
    pg = pages["autograd.html"]
    before = _figure_png(pg)
    _button(pg, "Backward: one node").click()
    _button(pg, "Backward: one node").click()
    assert wait(lambda: _figure_png(pg) != before, 20), "the autograd graph did not change"
    pg = pages["embed/gan-grid.html"]
    before = _figure_png(pg)
    _button(pg, "Train").click()
    assert wait(lambda: _figure_png(pg) != before, 60, 2), "the GAN grid did not change"
    _button(pg, "Pause").click()
    assert ctx.watch.problems() == {}


def test_playground2d_exported_code_runs_in_the_page(pages, ctx):
    pg = pages["playground2d.html"]
    _button(pg, "Show me the code").click()
    get = ("for (const m of doc.all_models) if (m.type === 'CodeEditor' || (m.code !== undefined && "
           "m.language === 'python')) if ((m.code || '').includes('from engine import')) return m.code; return '';")
    code = wait(lambda: bokeh(pg, get), 20)
    assert code and "from engine import" in code
    out = py(pg, "import contextlib, io\n_buf = io.StringIO()\nwith contextlib.redirect_stdout(_buf):\n"
                 f"    exec(compile({code!r}, 'export.py', 'exec'), {{'__name__': '__main__'}})\n_buf.getvalue()")
    loss = float(re.search(r"test loss: (\d+\.\d+)", out).group(1))
    assert 0 < loss < 0.7, out  # it trained: chance level on two classes is ln 2 = 0.69
    assert ctx.watch.problems() == {}


def test_wasm_and_webgpu_give_numpys_results_in_the_page(chromium_launcher, url):
    """With --enable-unsafe-webgpu (SwiftShader here): a training run gives the same losses
    on numpy, on the WebAssembly kernels and on WebGPU with its threshold forced to 0 (every
    product on the GPU); each backend really took the products."""
    c = chromium_launcher(webgpu=True).new_context(service_workers="block")
    watch = Watch(c)
    try:
        pg = boot_all(c, url, ["embed/autograd.html"])["embed/autograd.html"]
        bar = lambda: pg.evaluate("document.querySelector('.descent-embed-badge') && 0")  # noqa: E731
        assert bar() == 0  # an embed: no bar; the status comes from Python below
        # WebGPU installs (and calibrates) after the page is interactive
        assert wait(lambda: py(pg, "from engine.backend import webgpu; str(webgpu.backend is not None)") == "True", 90, 1)
        st = json.loads(py(pg, "import json, engine; json.dumps(engine.backend.status())"))
        print("after boot:", st["backend"], "/", st["under"], "—", st["reason"])
        res = json.loads(py(pg, """
import json, engine
from engine import backend, nn, optim
from engine.backend import wasm, webgpu
import numpy as np
def run(name):
    backend.use(name); backend.reset_stats()
    engine.manual_seed(0)
    net = nn.Sequential(nn.Linear(20, 33), nn.ReLU(), nn.Linear(33, 5))
    opt = optim.Adam(net.parameters(), lr=1e-2)
    x = np.random.default_rng(0).standard_normal((17, 20), dtype=np.float32)
    y = np.arange(17) % 5
    out = []
    for _ in range(8):
        loss = nn.functional.cross_entropy(net(engine.Tensor(x)), y)
        opt.zero_grad(); loss.backward(); opt.step(); out.append(loss.item())
    return out, backend.status()["stats"].get(name, {}).get("calls", 0)
wasm.set_threshold(0)
webgpu.set_threshold(0)
res = {name: run(name) for name in ("numpy", "wasm", "webgpu")}
json.dumps(res)
"""))
        print("losses per backend:", res)
        for name in ("wasm", "webgpu"):
            losses, calls = res[name]
            assert calls >= 8 * 5, (name, calls)  # forward and backward products all ran there
            assert losses == pytest.approx(res["numpy"][0], rel=1e-4, abs=1e-5), name
        assert res["numpy"][0][-1] < res["numpy"][0][0]
        assert watch.problems() == {}
    finally:
        c.close()
