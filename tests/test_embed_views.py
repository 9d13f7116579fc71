"""The compact views the site embeds in blog posts (issue 5, "Embeds"):

* ``digits_app(view="draw")``: the drawing pad with the shipped classifier, which reads a
  drawn vertical stroke as 1 the moment it loads (and says so, offering Train, when the
  classifier is missing);
* ``digits_app(view="train")``: trainer controls, curves, confusion matrix;
* ``gan_app(view="grid")``: trainer controls, the live sample grid, small losses;
* ``descent build-site`` converts each embed with its view argument;
* in Chromium via ``panel serve``: the draw view renders and reads a vertical stroke as 1
  (screenshot ``embed-digits-draw.png``).
"""
import os
import pathlib
import subprocess
import sys
import time

import numpy as np
import pytest

pn = pytest.importorskip("panel")
from engine import data as edata  # noqa: E402
from conftest import bokeh_eval as _bokeh_eval, draw_vertical_stroke_and_read_guess, panel_serve  # noqa: E402

ROOT = pathlib.Path(__file__).resolve().parent.parent
EMBED_WIDTH = 700


@pytest.fixture(scope="module")
def mnist(mnist_ready):
    return edata.load_mnist()


@pytest.fixture(scope="module")
def small(mnist):
    (xtr, ytr), (xte, yte) = mnist
    return (xtr[:2000], ytr[:2000]), (xte[:500], yte[:500])


@pytest.fixture(scope="module")
def shipped_classifier(mnist):
    """The shipped classifier file; built with `python -m playground.training.assets` (~30 s)
    when it is missing, skipped with the reason when that fails."""
    from playground.training.assets import CLASSIFIER_PATH
    if not CLASSIFIER_PATH.is_file():
        r = subprocess.run([sys.executable, "-m", "playground.training.assets"], cwd=ROOT,
                           capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(ROOT)})
        if r.returncode or not CLASSIFIER_PATH.is_file():
            pytest.skip("playground/assets/digits_classifier.npz is missing and "
                        f"`python -m playground.training.assets` failed: {(r.stderr or r.stdout)[-300:]}")
    return CLASSIFIER_PATH


def vertical_stroke(res=112):
    img = np.zeros((res, res), np.float32)
    img[15:97, 52:60] = 1.0
    return img


def bokeh_figures(layout):
    """The Bokeh figures a Panel layout shows."""
    return [p.object for p in layout.select(pn.pane.Bokeh)]


NARROWEST = 320  # an embed lays out for the column it gets: 320-800 px (issue 17)


def fits_narrow_columns(layout):
    """The view takes the width it is given, and no part of it insists on more than the narrowest
    column (a fixed width or a min_width). Whether it really fits is measured in the page, at 760
    and 360 px (tests/test_pages_trust_embeds.py)."""
    assert layout.sizing_mode == "stretch_width", layout.sizing_mode
    for o in layout.select(pn.viewable.Viewable):
        fixed = getattr(o, "width", None) if getattr(o, "sizing_mode", None) in (None, "fixed") else None
        need = getattr(o, "min_width", None) or fixed or 0
        fig = getattr(o, "object", None)  # a Bokeh figure's own fixed width
        if isinstance(o, pn.pane.Bokeh) and getattr(fig, "sizing_mode", None) in (None, "fixed"):
            need = max(need, getattr(fig, "width", 0) or 0)
        assert need <= NARROWEST, f"{type(o).__name__} needs {need} px: {o!r:.200}"


# --------------------------------------------------------------------------- digits: draw

def test_draw_view_reads_a_stroke_with_the_shipped_classifier(small, shipped_classifier):
    from playground.apps.digits.app import digits_app
    from playground.ui.components import DrawingCanvas
    layout = digits_app(view="draw", data=small)
    app = layout.app
    assert app.shipped and app.run.model_note == "shipped classifier"
    assert app.run.test_accuracy > 0.9                      # it reads digits before any training
    assert app.trainer.step == 0
    figs = bokeh_figures(layout)
    assert app.plots.prob_fig in figs and app.plots.seen_fig in figs
    assert app.plots.loss_fig not in figs and app.plots.conf_fig not in figs
    assert app.views.canvas in list(layout.select(DrawingCanvas))
    assert not any(b.name == "Train" or getattr(b, "label", "") == "Train"
                   for b in layout.select(pn.widgets.Button))  # nothing to train: just draw
    assert "2,000" in " ".join(str(m.object) for m in layout.select(pn.pane.Markdown))
    fits_narrow_columns(layout)

    app.views.canvas.image = DrawingCanvas.encode(vertical_stroke())
    p = np.array(app.plots.prob_src.data["p"])
    assert p.sum() == pytest.approx(1, abs=1e-5)
    assert int(p.argmax()) == 1, f"a vertical stroke read as {p.argmax()} ({np.round(p, 2)})"
    seen = np.flipud(app.plots.seen_src.data["image"][0])
    assert seen.shape == (28, 28) and seen.max() > 0.5     # the 28x28 the model sees
    assert "guess: 1" in app.plots.prob_fig.title.text


def test_draw_view_without_the_classifier_says_so_and_offers_train(small, monkeypatch, tmp_path):
    import playground.training.assets as ta
    from playground.apps.digits.app import digits_app
    monkeypatch.setattr(ta, "CLASSIFIER_PATH", tmp_path / "digits_classifier.npz")
    layout = digits_app(view="draw", data=small, model_kind="mlp", layers=1, width=32,
                        augment=False)
    app = layout.app
    assert not app.shipped
    alerts = [a.object for a in layout.select(pn.pane.Alert) if "No trained model" in a.object]
    assert alerts and "not here" in alerts[0] and "python -m playground.training.assets" in alerts[0]
    assert "Train" in alerts[0]
    assert app.views.controls in layout.objects and app.views.controls.train_button.label == "Train"
    acc0 = app.run.test_accuracy
    app.trainer.run_steps(60)                               # the Train button's work
    assert app.run.test_accuracy > acc0 + 0.3


def test_draw_view_refuses_a_model_that_is_not_a_digits_classifier(small):
    from engine import nn
    from playground.apps.digits.app import digits_app
    layout = digits_app(view="draw", data=small, classifier=nn.Sequential(nn.Flatten(), nn.Linear(784, 3)))
    assert not layout.app.shipped and "could not be used" in layout.app.shipped_problem
    assert any("No trained model" in a.object for a in layout.select(pn.pane.Alert))


# --------------------------------------------------------------------------- digits: train

def test_train_view_trains_and_the_curves_get_points(small):
    from playground.apps.digits.app import digits_app
    layout = digits_app(view="train", data=small, model_kind="mlp", layers=1, width=32,
                        augment=False, epochs=1)
    app = layout.app
    figs = bokeh_figures(layout)
    assert app.plots.loss_fig in figs and app.plots.acc_fig in figs and app.plots.conf_fig in figs
    assert app.plots.prob_fig not in figs and app.plots.w_fig not in figs    # no drawing pad, no internals
    assert app.views.controls in list(layout.select(pn.Column))
    fits_narrow_columns(layout)
    assert len(app.plots.train_src.data["loss"]) == 0
    app.trainer.run_steps(40)                               # > 1 epoch of 2,000: an evaluation too
    assert len(app.plots.train_src.data["loss"]) > 0 and len(app.plots.test_src.data["acc"]) >= 2
    assert int(np.sum(app.plots.conf_src.data["count"])) == 500
    assert app.plots.test_src.data["acc"][-1] > 0.5


def test_default_view_is_the_whole_app_and_unknown_views_are_refused(small):
    from playground.apps.digits.app import digits_app
    layout = digits_app(data=small, model_kind="softmax")
    figs = bokeh_figures(layout)
    app = layout.app
    assert {app.plots.loss_fig, app.plots.prob_fig, app.plots.conf_fig, app.plots.w_fig} <= set(figs)
    assert not getattr(app, "shipped", False)               # the whole app starts untrained
    with pytest.raises(ValueError, match="unknown view"):
        digits_app(view="nope", data=small)


# --------------------------------------------------------------------------- GAN: grid

def test_gan_grid_view_trains_and_the_grid_changes(small):
    from playground.apps.gan.app import gan_app
    layout = gan_app(data=small, view="grid")
    c = layout.controls
    assert "trainer2d" not in c and "hist" not in c          # no 2-D tab, no judge
    figs = bokeh_figures(layout)
    assert len(figs) == 3                                    # grid, losses, D's verdicts
    assert any(f.title.text == "Samples from fixed noise" for f in figs)
    fits_narrow_columns(layout)
    grid0 = c["grid"].data["image"][0].copy()
    c["trainer"].run_steps(30)
    assert c["gan"]["m"].steps == 30
    assert len(c["losses"].data["step"]) >= 2 and c["losses"].data["step"][-1] == 30
    assert np.abs(c["grid"].data["image"][0] - grid0).mean() > 0.01
    with pytest.raises(ValueError, match="unknown view"):
        gan_app(data=small, view="nope")


def test_gan_default_is_the_whole_studio(small):
    from playground.apps.gan.app import gan_app
    c = gan_app(data=small, classifier=None).controls
    assert "trainer2d" in c and "hist" in c


# --------------------------------------------------------------------------- the site

def test_site_builder_passes_the_views(tmp_path):
    from playground import sitebuild as sb
    from playground.apps.registry import EMBEDS
    apps, _ = sb.available_apps()
    by_slug = {a.slug: (a, f, acc) for a, f, acc in apps}
    want = {"digits-draw": "view='draw'", "digits-train": "view='train'", "gan-grid": "view='grid'"}
    for e in EMBEDS:
        if e.widget not in want:
            continue
        a, func, accepts = by_slug[e.app]
        assert "view" in accepts, f"{func} takes no view"
        stub = sb.app_stub(a, func, {k: v for k, v in e.kwargs.items() if k in accepts}, e.widget)
        assert want[e.widget] in stub


def test_built_embeds_carry_the_view_argument(tmp_path_factory):
    from test_site_build import build_once
    site, summary = build_once(tmp_path_factory)
    for widget, arg in (("digits-draw", "view='draw'"), ("digits-train", "view='train'"),
                        ("gan-grid", "view='grid'")):
        assert widget in summary["embeds"]
        assert not any(widget in n and "takes no" in n for n in summary.get("notes", [])), summary["notes"]
        js = (site / "embed" / f"{widget}.js").read_text()
        assert arg in js, f"embed/{widget}.js does not call the app with {arg}"


# --------------------------------------------------------------------------- the browser

@pytest.fixture(scope="module")
def digits_server(mnist, shipped_classifier):
    with panel_serve("playground/apps/digits", probe="/digits") as base:
        yield base + "/digits"


@pytest.mark.browser
def test_draw_view_in_chromium_reads_a_vertical_stroke_as_1(digits_server, chromium_launcher):
    from conftest import SCREENSHOTS
    shot = SCREENSHOTS / "embed-digits-draw.png"
    browser = chromium_launcher(webgpu=False)
    ctx = browser.new_context(viewport={"width": EMBED_WIDTH + 20, "height": 420})
    page = ctx.new_page()
    errors = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    try:
        page.goto(digits_server + "?view=draw", timeout=60000)
        page.wait_for_selector("canvas.descent-draw", timeout=90000)
        page.get_by_text("2,000 others").first.wait_for(timeout=30000)   # the shipped model's note
        assert page.get_by_role("button", name="Train").count() == 0      # nothing to train first
        assert _bokeh_eval(page, "return doc.get_model_by_name('train');") is None  # no curves here

        box = page.locator("canvas.descent-draw").bounding_box()
        assert box["x"] + box["width"] <= EMBED_WIDTH
        guess = draw_vertical_stroke_and_read_guess(page, box)
        assert guess == 1, f"a vertical stroke was read as {guess}"
        width = page.evaluate("() => document.documentElement.scrollWidth")
        assert width <= EMBED_WIDTH + 20, f"the draw view is {width} px wide"

        shot.parent.mkdir(parents=True, exist_ok=True)
        time.sleep(0.5)
        page.screenshot(path=str(shot), full_page=True)
        assert shot.stat().st_size > 10_000
        real = [e for e in errors if "favicon" not in e]
        assert not real, f"console errors: {real}"
    finally:
        ctx.close()
