"""Issue 17 in the page, for the names (makemore) app, the GAN studio and count-the-lines:
the offline bundle booted in headless Chromium (tests/booted.py), only 127.0.0.1 reachable.

- the names transformer: Pause lands fast, the training rate is printed; switching model
  after training just works;
- legends sit off the curves; the names heat-map follows a neural model while it trains;
- at 1,400x1,000 the controls and the main plot are in view together and the width is used;
  the embeds lay out in 360 and 760 px;
- an absurd learning rate diverges, the plots stay readable (spike marked) and show the
  restored model; a second divergence behaves like the first.
"""
import json
import re
import statistics
import time

import pytest

from booted import PROGRESS, Watch, boot_all, bokeh, py, wait
from conftest import SCREENSHOTS

pytestmark = pytest.mark.browser
APPS = ["names.html", "gan.html", "lines.html"]
EMBEDS = ["embed/names.html", "embed/gan-grid.html", "embed/lines.html"]


@pytest.fixture(scope="module")
def pages(ctx, url):
    return boot_all(ctx, url, APPS)


def _button(pg, name):
    return pg.get_by_role("button", name=name, exact=True).first


def _step(pg):
    return int(PROGRESS.search(pg.get_by_text(PROGRESS).first.inner_text()).group(1))


def _status(pg):
    return pg.locator(".alert").first.inner_text()


def _pause(pg):
    """Press Pause with a DOM click; (seconds until "Paused at step N" shows, N)."""
    paused = pg.get_by_text(re.compile(r"^Paused at step \d+")).first
    t = time.perf_counter()
    _button(pg, "Pause").dispatch_event("click")
    while not paused.count() and time.perf_counter() - t < 20:
        time.sleep(0.02)
    took = time.perf_counter() - t
    return took, int(re.search(r"\d+", paused.inner_text(timeout=1000)).group())


def _shot(pg, name):
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    pg.screenshot(path=str(SCREENSHOTS / name))


def _app(pg, expr):
    """Evaluate `expr` in the worker with `c` bound to the app's controls dict."""
    return py(pg, "import gc, numpy as np, panel as pn\n"
                  "c = next(o for o in gc.get_objects() if isinstance(o, pn.layout.ListPanel) "
                  "and isinstance(getattr(o, 'controls', None), dict)).controls\n" + expr)


PROFILE = """
import cProfile, pstats, io, time
lab = c['lab']['m']
for _ in range(3): lab.step()
out = io.StringIO()
t = time.perf_counter()
for _ in range(10): lab.step()
t1 = time.perf_counter(); lab.evaluate(); t2 = time.perf_counter()
lab.sample(12); t3 = time.perf_counter()
print(f"step {(t1 - t) * 100:.0f} ms, evaluate {(t2 - t1) * 1e3:.0f} ms, sample {(t3 - t2) * 1e3:.0f} ms", file=out)
pr = cProfile.Profile(); pr.enable()
for _ in range(10): lab.step()
pr.disable()
pstats.Stats(pr, stream=out).sort_stats('tottime').print_stats(14)
pr = cProfile.Profile(); pr.enable(); lab.evaluate(); pr.disable()
pstats.Stats(pr, stream=out).sort_stats('tottime').print_stats(8)
out.getvalue()
"""


def test_names_transformer_pauses_fast_and_trains_faster(pages, ctx):
    pg = pages["names.html"]
    _button(pg, "Transformer").click()
    assert wait(lambda: _app(pg, "c['lab']['m'].kind") == "transformer", 30)
    print(_app(pg, PROFILE))  # where a step's time goes, in the page
    _button(pg, "Train").click()
    assert wait(lambda: _step(pg) > 0, 60), "the transformer did not start training"
    time.sleep(3)
    s0, t0 = _step(pg), time.perf_counter()
    time.sleep(15)
    rate = (_step(pg) - s0) / (time.perf_counter() - t0)
    lat = []
    for i in range(3):
        took, n = _pause(pg)
        lat.append(took)
        time.sleep(1.0)
        assert _step(pg) == n, "steps kept coming after Pause"
        if i < 2:
            _button(pg, "Train").click()
            assert wait(lambda: _step(pg) > n, 30)
            time.sleep(4)
    print(f"names transformer: {rate:.1f} steps/s in the page; Pause shown in "
          f"{', '.join(f'{x:.2f}' for x in lat)} s (median {statistics.median(lat):.2f} s)")
    # ~0.2-0.4 s here when the machine is calm, up to ~0.7 s with five test browsers on its
    # two cores (the unfixed app: 3.5-4.4 s, 0.3 steps/s, in the same conditions)
    assert statistics.median(lat) < 1.0, lat
    assert ctx.watch.problems() == {}


def test_names_switching_model_after_training_just_works(pages, ctx):
    pg = pages["names.html"]
    if _step(pg) == 0:  # run alone: train the current model first
        _button(pg, "Train").click()
        assert wait(lambda: _step(pg) > 0, 60)
        _pause(pg)
    _button(pg, "Neural bigram").click()
    time.sleep(1.0)
    _button(pg, "Train").click()
    assert wait(lambda: _app(pg, "c['lab']['m'].kind") == "neural" and
                _app(pg, "str(c['trainer'].running)") == "True", 30), _status(pg)
    assert "Reset" not in _status(pg), _status(pg)
    time.sleep(3)
    _pause(pg)
    assert _app(pg, "str(c['lab']['m'].steps)") == str(_step(pg))
    _button(pg, "MLP (Bengio 2003)").click()  # back to the MLP for the heat-map test
    _button(pg, "Reset").click()
    assert wait(lambda: _app(pg, "c['lab']['m'].kind") == "mlp", 30)
    assert ctx.watch.problems() == {}


HEAT = ("for (const m of doc.all_models) if (m.title && m.title.text && m.title.text.startsWith('P(next')) {"
        " const d = m.renderers[0].data_source.data.image[0]; let s = 0;"
        " for (let i = 0; i < d.length; i++) s += d[i] * ((i % 29) + 1); return s; } return null;")


def test_names_heat_map_follows_a_neural_model_while_it_trains(pages, ctx):
    pg = pages["names.html"]
    _button(pg, "Reset").click()
    assert wait(lambda: _step(pg) == 0, 20)
    before = bokeh(pg, HEAT)
    _button(pg, "Train").click()
    assert wait(lambda: _step(pg) > 50, 60)
    mid = bokeh(pg, HEAT)
    time.sleep(3)
    after = bokeh(pg, HEAT)
    _pause(pg)
    assert before is not None and abs(mid - before) > 1e-3 and abs(after - mid) > 1e-6, (before, mid, after)
    assert ctx.watch.problems() == {}


LEGENDS = ("const out = []; for (const m of doc.all_models) if (m.type === 'Figure' || m.type === 'Plot') {"
           " if (!m.renderers.some(r => r.type === 'GlyphRenderer')) continue;"
           " const inside = m.center.filter(a => a.type === 'Legend').length;"
           " out.push([m.title ? m.title.text : '', inside]); } return out;")


def test_legends_do_not_cover_the_curves(pages, ctx):
    for p in APPS:
        figs = bokeh(pages[p], LEGENDS)
        assert figs, p
        inside = [t for t, n in figs if n]
        assert inside == [], f"{p}: legends drawn over the plot area of {inside}"
    assert ctx.watch.problems() == {}


def _boxes(pg):
    """[left, top, right, bottom] of every plot on the page (Playwright sees into Bokeh's
    shadow roots)."""
    out = []
    for f in pg.locator(".bk-Figure").all():
        b = f.bounding_box()
        if b and b["width"] > 50 and b["height"] > 50:
            out.append([b["x"], b["y"], b["x"] + b["width"], b["y"] + b["height"]])
    return out


def test_apps_fit_a_1400_by_1000_window(pages, ctx):
    for p in APPS:
        pg = pages[p]
        pg.evaluate("window.scrollTo(0, 0)")
        time.sleep(0.5)
        _shot(pg, f"fit-{p[:-5]}.png")
        train = _button(pg, "Train").bounding_box() or _button(pg, "Pause").bounding_box()
        assert train and train["y"] + train["height"] <= 1000, (p, train)
        boxes = _boxes(pg)
        box = boxes[0]  # the main plot comes first: names' loss, the GAN's samples, lines' accuracy
        assert box[3] <= 1000 and box[2] <= 1400, (p, box)
        right = max(b[2] for b in boxes)
        assert right >= 0.75 * 1400, f"{p}: the plots end at {right:.0f} of 1400 px"
        assert pg.evaluate("document.documentElement.scrollWidth") <= 1400, p
    gan = pages["gan.html"]
    tab = gan.get_by_text("2-D anatomy").first.bounding_box()
    assert tab and tab["y"] < 1000, "the 2-D GAN is below the fold"
    assert ctx.watch.problems() == {}


@pytest.mark.parametrize("width", [760, 360])
def test_embeds_lay_out_in_narrow_columns(chromium_launcher, url, width):
    c = chromium_launcher(webgpu=False).new_context(viewport={"width": width, "height": 900},
                                                     service_workers="block")
    watch = Watch(c)
    try:
        got = boot_all(c, url, EMBEDS)
        for p, pg in got.items():
            time.sleep(1.0)
            _shot(pg, f"embed-{p[6:-5]}-{width}.png")
            sw = pg.evaluate("document.documentElement.scrollWidth")
            assert sw <= width, f"{p} at {width} px: the page is {sw} px wide"
            for b in _boxes(pg):
                assert b[0] >= -1 and b[2] <= width + 1, f"{p} at {width} px: a plot at {b}"
            assert _button(pg, "Train").bounding_box()["x"] >= 0
        assert watch.problems() == {}
    finally:
        c.close()


DIVERGE = {  # how each app gets an absurd learning rate, and which source plots its losses
    "gan.html": ("c['gan']['m'].set_lr(1e20)", "losses", "d_loss"),
    "names.html": ("c['lab']['m'].model.set_lr(1e6)", "curve", "train"),
    "lines.html": ("c['lab']['m'].opt.lr = 1e6", "curve", "train"),
}


def _diverge_once(pg, set_lr, src, col):
    _app(pg, set_lr)
    _button(pg, "Train").click()
    msg = pg.get_by_text(re.compile(r"^Stopped: ")).first
    msg.wait_for(timeout=120_000)
    time.sleep(1.5)
    text = msg.inner_text()
    assert "diverged" in text and "Restored the last good weights" in text, text
    return json.loads(_app(pg, f"""
import json, numpy as np
ys = np.asarray(c[{src!r}].data[{col!r}], float)
json.dumps(dict(text={text!r}, finite=bool(np.isfinite(ys).all()), top=float(np.nanmax(ys)) if len(ys) else 0.0,
                first=float(ys[0]) if len(ys) else 0.0))"""))


def test_divergence_keeps_the_plots_readable_and_shows_the_restored_model(pages, ctx):
    for p, (set_lr, src, col) in DIVERGE.items():
        pg = pages[p]
        _button(pg, "Reset").click()
        assert wait(lambda: _step(pg) == 0, 30)
        _button(pg, "Train").click()
        assert wait(lambda: _step(pg) > 3, 60)
        _pause(pg)
        first = _diverge_once(pg, set_lr, src, col)
        _shot(pg, f"diverged-{p[:-5]}.png")
        # what the plot shows: finite, and no higher than a little above where training started
        assert first["finite"] and first["top"] <= 3 * max(first["first"], 1.0), (p, first)
        marks = _app(pg, "str(len(c['spikes'].data['step']))")
        assert int(marks) >= 1, f"{p}: the spike is not marked"
        shown = _app(pg, {"gan.html": "m = c['gan']['m']; str(bool(np.allclose(c['grid'].data['image'][0], "
                                      "m.grid()[::-1], atol=1e-5)))",
                          "names.html": "m = c['lab']['m']; str(bool(np.allclose(c['heat'].data['image'][0], "
                                        "m.current_probs(), atol=1e-5)))",
                          "lines.html": "m = c['lab']['m']; str(bool((c['lab']['eval']['pred'] == "
                                        "m.predict(m.xt)).all()))"}[p])
        assert shown == "True", f"{p}: the plots do not show the restored model"
        second = _diverge_once(pg, set_lr, src, col)
        assert second["finite"] and second["top"] <= 3 * max(second["first"], 1.0), (p, second)
        assert re.sub(r"\d+", "N", second["text"]) == re.sub(r"\d+", "N", first["text"]), (first, second)
        assert "error" not in _status(pg).lower()
    assert ctx.watch.problems() == {}
