"""Issue 17 in the page (the offline bundle booted in headless Chromium, tests/booted.py): the
digits app and its embeds under real use. A diverging run stops the same way every time and
the loss plot stays readable; each upload is judged on its own bytes and name; the progress
line shows a short backend badge and the step the status names; a change that needs a new
model applies in one click (or by Train); the app and the embeds fit the width they get."""
import re
import time

import pytest

from booted import PROGRESS, boot_all, bokeh, py, wait
from conftest import SCREENSHOTS

pytestmark = pytest.mark.browser
PAGES = ["digits.html", "embed/digits-draw.html", "embed/digits-train.html"]
DIVERGED = re.compile(r"^Stopped: .*Training diverged — try a lower learning rate.* "
                      r"Restored the last good weights \(step \d+\)")
APP = ("import gc\nfrom playground.apps.digits.app import DigitsApp\n"
       "app = [o for o in gc.get_objects() if isinstance(o, DigitsApp) and hasattr(o, 'views')][0]\n")


@pytest.fixture(scope="module")
def pages(ctx, url):
    return boot_all(ctx, url, PAGES)


def _button(pg, name):
    return pg.get_by_role("button", name=name, exact=True).first


def _step(pg):
    return int(PROGRESS.search(pg.get_by_text(PROGRESS).first.inner_text()).group(1))


def _status(pg):
    return py(pg, APP + "app.trainer.status")


def _set(pg, title, label, **expect):
    """Choose the option `label` in the widget titled `title`, as the browser would (its Bokeh
    model); then wait until the app's parameters have the `expect`ed values."""
    got = bokeh(pg, f"""for (const m of doc.all_models) if (m.title === {title!r} && 'options' in m) {{
        const hit = m.options.map((o) => Array.isArray(o) ? o : [o, o]).find((o) => o[1] === {label!r});
        if (!hit) return 'no option'; m.value = hit[0]; return hit[0]; }} return 'no widget';""")
    assert got not in ("no option", "no widget"), (title, label, got)
    for name, value in expect.items():
        assert wait(lambda: py(pg, APP + f"str(app.run.{name})") == str(value), 20), f"{name} is not {value}"


def _set_lr(pg, lr):
    from playground.apps.digits.run import LR_OPTIONS
    i, n = LR_OPTIONS.index(lr), len(LR_OPTIONS) - 1
    # the learning rate is a DiscreteSlider: a slider over the options' indices
    assert bokeh(pg, f"""for (const m of doc.all_models) if (m.type && m.type.endsWith('Slider') &&
        m.start === 0 && m.end === {n} && m.step === 1) {{ m.value = {i}; m.value_throttled = {i};
        return true; }} return false;"""), "no learning-rate slider"
    assert wait(lambda: py(pg, APP + "str(app.run.lr)") == str(lr), 20), "the learning rate did not arrive"


def _log_status(pg):
    """Record every status the trainer shows from now on (read back with _statuses)."""
    py(pg, APP + "_seen = []\napp.trainer.param.watch(lambda e: _seen.append(e.new), 'status')\n"
                 "import builtins; builtins._descent_seen = _seen\n''")


def _statuses(pg):
    import json
    return json.loads(py(pg, "import builtins, json; json.dumps(builtins._descent_seen)"))


def _idle(pg, timeout=120):
    assert wait(lambda: py(pg, APP + "str(app.trainer.running)") == "False", timeout), "still training"


# --------------------------------------------------------------------------- fit the screen

def _right_edges(pg):
    return pg.evaluate("""() => { const out = []; const walk = (root) => {
        for (const el of root.querySelectorAll('*')) {
          if (el.shadowRoot) walk(el.shadowRoot);
          const r = el.getBoundingClientRect();
          if (r.width > 0 && r.height > 0 && getComputedStyle(el).visibility !== 'hidden')
            out.push([Math.round(r.right), el.tagName + '.' + (el.className && el.className.baseVal === undefined ? el.className : '')]);
        } }; walk(document); return out; }""")


def _fits(pg, width):
    too_wide = [(r, what) for r, what in _right_edges(pg) if r > width + 1]
    return not too_wide and pg.evaluate("document.documentElement.scrollWidth") <= width, too_wide[:8]


def test_app_keeps_controls_and_curves_in_view_and_uses_the_width(pages, ctx):
    pg = pages["digits.html"]
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    pg.screenshot(path=f"{SCREENSHOTS}/digits-1400.png")
    view = pg.viewport_size
    controls = {n: _button(pg, n).bounding_box() for n in ("Train", "Step", "Reset")}
    controls["status"] = pg.get_by_text("Ready: press Train.").first.bounding_box()
    for name, b in controls.items():
        assert b["y"] + b["height"] <= view["height"], (f"{name} is below the fold", b)
    figs = [pg.locator(".bk-Figure").nth(i).bounding_box() for i in range(2)]  # loss, accuracy
    for f in figs:
        assert f["y"] + f["height"] <= view["height"] and f["height"] >= 250, ("a curve is cut or small", f)
    right = max(f["x"] + f["width"] for f in figs)
    assert right > view["width"] - 60, f"the curves end at {right:.0f} px of {view['width']}"
    assert ctx.watch.problems() == {}


@pytest.mark.parametrize("width", [760, 360])
def test_digits_embeds_fit_the_width_they_get(pages, ctx, width):
    for path in PAGES[1:]:
        pg = pages[path]
        pg.set_viewport_size({"width": width, "height": 900})
        ok = wait(lambda: _fits(pg, width)[0], 10)
        pg.screenshot(path=f"{SCREENSHOTS}/{path.split('/')[-1][:-5]}-{width}.png", full_page=True)
        assert ok, (path, width, _fits(pg, width)[1])
    assert ctx.watch.problems() == {}


# --------------------------------------------------------------------------- small things

def test_progress_line_shows_a_short_backend_badge_with_details_one_click_away(pages, ctx):
    pg = pages["digits.html"]
    line = pg.get_by_text(PROGRESS).first.inner_text()
    assert "calibrated" not in line and "matmul:" not in line, line
    badge = pg.locator("details.descent-fastpath").first
    assert badge.locator("summary").inner_text() == "fast path: WebAssembly SIMD"
    reason = badge.get_by_text(re.compile(r"WebAssembly SIMD.*calibrated: "))
    assert not reason.is_visible()
    badge.locator("summary").click()
    assert wait(reason.is_visible, 5), "the details did not open"
    _button(pg, "Step").click()  # the progress line changes; the opened details stay open
    assert wait(lambda: "Stepped" in _status(pg), 20)
    time.sleep(1)
    assert reason.is_visible()
    badge.locator("summary").click()
    assert wait(lambda: not reason.is_visible(), 5)
    assert ctx.watch.problems() == {}


def test_stepped_and_the_progress_line_name_the_same_step(pages, ctx):
    pg = pages["digits.html"]
    n = _step(pg)
    for _ in range(3):
        _button(pg, "Step").dispatch_event("click")
    done = pg.get_by_text(f"Stepped: step {n + 3}.").first
    done.wait_for(timeout=30_000)
    time.sleep(1.5)  # nothing left to arrive
    assert _step(pg) == n + 3, (pg.get_by_text(PROGRESS).first.inner_text(), done.inner_text())
    assert ctx.watch.problems() == {}


def _tick_overlaps(pg):
    """{histogram title: pairs of neighbouring x tick labels that overlap on screen}, or a
    string saying what is not there yet."""
    return bokeh(pg, """
        const ctx2 = document.createElement('canvas').getContext('2d'), out = {};
        let n = 0;
        for (const fig of doc.all_models) {
          if (!(fig.title && /: (weight gradients|activations)/.test(fig.title.text || ''))) continue;
          const pv = Bokeh.index.find_one(fig), av = Bokeh.index.find_one(fig.below[0]);
          if (!pv || !av) return 'no view';
          const xs = av.tick_coords.major[0];
          if (!xs.length) return 'no ticks';
          n++;
          const labels = av.compute_labels(xs), scale = pv.frame.x_scale;
          ctx2.font = (fig.below[0].major_label_text_font_size || '11px') + ' helvetica';
          const boxes = xs.map((x, i) => { const c = scale.compute(x);
              const w = ctx2.measureText(labels.items[i].text).width; return [c - w / 2, c + w / 2]; });
          const bad = [];
          for (let i = 1; i < boxes.length; i++)
            if (boxes[i][0] < boxes[i - 1][1]) bad.push(labels.items[i - 1].text + ' | ' + labels.items[i].text);
          if (bad.length) out[fig.title.text.split(' —')[0]] = bad;
        }
        return n ? JSON.stringify(out) : 'no figure';""")


def test_histogram_tick_labels_do_not_overlap(pages, ctx):
    pg = pages["digits.html"]
    time.sleep(2.5)  # the histograms follow at most every 2 s (digits/app.py: VIEW_EVERY_S)
    _button(pg, "Step").click()
    got = wait(lambda: (lambda v: v if v not in ("no figure", "no view", "no ticks") else None)(
        _tick_overlaps(pg)), 30)
    assert got == "{}", got
    assert ctx.watch.problems() == {}


# --------------------------------------------------------------------------- one-click apply

def test_a_change_that_needs_a_new_model_applies_in_one_click_or_by_train(pages, ctx):
    pg = pages["digits.html"]
    _idle(pg)
    if _step(pg) == 0:
        _button(pg, "Step").click()
        assert wait(lambda: _step(pg) == 1, 20)
    _set(pg, "Activation", "tanh", activation="tanh")
    apply = _button(pg, "Apply (new model)")
    apply.wait_for(timeout=20_000)
    apply.click()
    assert wait(lambda: _step(pg) == 0, 20), "Apply did not start a new model"
    assert wait(lambda: not apply.is_visible(), 10), "the Apply button stays after applying"
    assert py(pg, APP + "app.views.model_info.object").startswith("**784-"), "not a new MLP"
    _button(pg, "Step").click()
    assert wait(lambda: _step(pg) == 1, 20)
    _button(pg, "CNN").click()  # then Train: applies the change and trains the new model
    apply.wait_for(timeout=20_000)
    _button(pg, "Train").click()
    assert wait(lambda: "conv" in py(pg, APP + "app.views.model_info.object"), 30), "Train did not apply the change"
    assert wait(lambda: _step(pg) > 0, 60), "the new model did not train"
    _button(pg, "Pause").click()
    _idle(pg)
    assert not apply.is_visible()
    _button(pg, "MLP").click()
    _button(pg, "Apply (new model)").click()
    assert wait(lambda: py(pg, APP + "app.views.model_info.object").startswith("**784-512"), 30)
    assert ctx.watch.problems() == {}


# --------------------------------------------------------------------------- uploads

@pytest.fixture(scope="module")
def good_model(tmp_path_factory):
    """A softmax regression trained for a moment in CPython, saved as the page saves models."""
    from engine import io as eio
    from playground.apps.digits.app import DigitsApp
    from engine import data as edata
    (xtr, ytr), (xte, yte) = edata.load_mnist()
    app = DigitsApp(data=((xtr[:2000], ytr[:2000]), (xte, yte)), model_kind="softmax", augment=False)
    app.trainer.run_steps(60)
    path = tmp_path_factory.mktemp("models") / "good.npz"
    path.write_bytes(eio.dumps(app.run.model))
    return path, app.evaluate()


def _upload(pg, path):
    pg.locator("input[type=file]").set_input_files(str(path))


def _file_msg(pg, pattern, timeout=30):
    rx = re.compile(pattern)
    return wait(lambda: (lambda t: t if rx.search(t) else None)(py(pg, APP + "app.views.file_msg.object")), timeout)


def test_each_upload_is_judged_on_its_own_bytes_and_name(pages, ctx, tmp_path, good_model):
    pg = pages["digits.html"]
    _idle(pg)
    empty, junk = tmp_path / "empty.npz", tmp_path / "junk.npz"
    empty.write_bytes(b"")
    junk.write_bytes(b"this is not a model, only some words")
    good, acc = good_model
    before = py(pg, APP + "app.views.model_info.object")
    _upload(pg, empty)  # an empty file first: it gets an answer too
    assert _file_msg(pg, r"^Could not load empty\.npz: the file is empty"), py(pg, APP + "app.views.file_msg.object")
    assert py(pg, APP + "app.views.model_info.object") == before
    _upload(pg, junk)
    assert _file_msg(pg, r"^Could not load junk\.npz: "), py(pg, APP + "app.views.file_msg.object")
    _upload(pg, empty)
    msg = _file_msg(pg, r"^Could not load empty\.npz: the file is empty")
    assert msg and "junk" not in msg and "words" not in msg, py(pg, APP + "app.views.file_msg.object")
    _upload(pg, good)
    msg = _file_msg(pg, r"^Loaded good\.npz \(784-10\): held-out accuracy")
    assert msg and f"{acc:.2%}" in msg, py(pg, APP + "app.views.file_msg.object")
    _upload(pg, empty)
    msg = _file_msg(pg, r"^Could not load empty\.npz: the file is empty — the current model is unchanged")
    assert msg, py(pg, APP + "app.views.file_msg.object")
    assert "784-10" in py(pg, APP + "app.views.model_info.object")
    # the same file twice: loaded twice (a Step in between, which the second load undoes)
    _upload(pg, good)
    assert _file_msg(pg, r"^Loaded good\.npz")
    _button(pg, "Step").click()
    assert wait(lambda: _step(pg) == 1, 20)
    _upload(pg, good)
    assert wait(lambda: _step(pg) == 0, 30), "the same file chosen again was not loaded again"
    assert ctx.watch.problems() == {}


# --------------------------------------------------------------------------- divergence

def _loss_range(pg):
    return bokeh(pg, """for (const m of doc.all_models) if (m.title && m.title.text &&
        m.title.text.startsWith('Loss')) return [m.y_range.start, m.y_range.end]; return null;""")


def _train_until_stopped(pg, timeout=120):
    _log_status(pg)
    _button(pg, "Train").click()
    got = wait(lambda: (lambda s: s[-1] if s and s[-1].startswith(("Stopped", "Paused", "Finished"))
                        else None)(_statuses(pg)), timeout, 1)
    _idle(pg)
    return got


def test_a_diverging_run_stops_restores_and_stops_the_same_way_again(pages, ctx):
    pg = pages["digits.html"]
    _idle(pg)
    _button(pg, "MLP").click()
    if _button(pg, "Apply (new model)").is_visible():
        _button(pg, "Apply (new model)").click()
    _button(pg, "Reset").click()
    assert wait(lambda: _step(pg) == 0, 20)
    _set(pg, "Optimiser", "SGD + momentum", optimizer="sgd")
    _set_lr(pg, 100.0)
    msgs = [_train_until_stopped(pg) for _ in range(3)]
    for m in msgs:
        assert m and DIVERGED.search(m), msgs
    assert msgs[1] == msgs[0] and msgs[2] == msgs[0], msgs  # exactly like the first
    finite = APP + "import numpy as np\nstr(all(np.isfinite(v).all() for v in app.run.model.state_dict().values()))"
    assert py(pg, finite) == "True"
    # Adam at the same rate keeps a finite loss that sits far above where it started
    _set(pg, "Optimiser", "Adam", optimizer="adam")
    m = _train_until_stopped(pg)
    assert m and DIVERGED.search(m), m
    assert py(pg, finite) == "True"
    lo, hi = wait(lambda: _loss_range(pg), 10)
    assert hi < 100, f"the loss plot spans {lo}..{hi}: later curves would sit flat on zero"
    # the marks of where it diverged
    assert bokeh(pg, "return doc.get_model_by_name('diverged').data.epoch.length") == 4
    last = bokeh(pg, "const d = doc.get_model_by_name('diverged').data.epoch; return d[d.length - 1];")
    assert bokeh(pg, "return Math.max(...doc.get_model_by_name('train').data.epoch, 0)") <= last + 1e-9
    # a sane rate afterwards trains from the restored weights, on a readable plot
    _set_lr(pg, 0.001)
    _button(pg, "Train").click()
    assert wait(lambda: _step(pg) > 30, 60)
    _button(pg, "Pause").click()
    _idle(pg)
    assert not py(pg, APP + "app.trainer.error")
    lo, hi = _loss_range(pg)
    assert hi < 100, (lo, hi)
    pg.screenshot(path=f"{SCREENSHOTS}/digits-after-divergence.png", full_page=True)
    assert ctx.watch.problems() == {}
