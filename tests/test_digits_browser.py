"""The Digits app in a real browser: `panel serve` + Playwright driving Debian's chromium.

Press Train and see the curves get points; train a little, draw a "1" with the mouse and
get 1 as the top class; no console errors; save docs/screenshots/digits.png.
"""
import pathlib
import re
import time

import pytest

pytestmark = pytest.mark.browser

ROOT = pathlib.Path(__file__).resolve().parent.parent
from conftest import SCREENSHOTS, draw_vertical_stroke_and_read_guess, panel_serve  # noqa: E402
from conftest import bokeh_eval as _bokeh_eval, wait_until as _wait_until  # noqa: E402
SHOT = SCREENSHOTS / "digits.png"


@pytest.fixture(scope="module")
def digits_server(mnist_ready):
    with panel_serve("playground/apps/digits", probe="/digits") as base:
        yield base + "/digits"


def test_train_draw_and_screenshot(digits_server, chromium_launcher):
    url = digits_server
    browser = chromium_launcher(webgpu=False)
    ctx = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = ctx.new_page()
    errors = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    try:
        page.goto(url, timeout=60000)
        page.wait_for_selector("canvas.descent-draw", timeout=90000)

        n_train_points = "return doc.get_model_by_name('train').data.acc.length;"
        assert _bokeh_eval(page, n_train_points) == 0

        started = time.time()
        page.get_by_role("button", name="Train").click()
        _wait_until(lambda: _bokeh_eval(page, n_train_points) > 0, 60, what="training-curve points")
        # train until the held-out accuracy reads >= 85 % (bounded), then pause
        held_out = ("const a = doc.get_model_by_name('held-out').data.acc; "
                    "return a.length ? a[a.length - 1] : 0;")
        _wait_until(lambda: _bokeh_eval(page, held_out) >= 0.85, 90, step=0.5,
                    what="held-out accuracy >= 85%")
        time.sleep(max(0.0, 10 - (time.time() - started)))  # ~10 s: the screenshot shows a real run
        clicked = time.time()
        page.get_by_role("button", name="Pause").click()
        page.get_by_role("button", name="Train").wait_for(timeout=30000)
        page.get_by_text(re.compile(r"^Paused at step \d+")).first.wait_for(timeout=30000)
        took = time.time() - clicked
        assert took < 2.0, f"Pause took {took:.1f} s to show"

        # draw a "1": one vertical stroke with the mouse
        box = page.locator("canvas.descent-draw").bounding_box()
        guess = draw_vertical_stroke_and_read_guess(page, box)
        assert guess == 1, f"a vertical stroke was read as {guess}"

        SHOT.parent.mkdir(parents=True, exist_ok=True)
        time.sleep(1.0)
        page.screenshot(path=str(SHOT), full_page=True)
        assert SHOT.stat().st_size > 20_000
        real = [e for e in errors if "favicon" not in e]
        assert not real, f"console errors: {real}"
    finally:
        ctx.close()
