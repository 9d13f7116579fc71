"""The playground apps in a real browser: `panel serve` + Debian Chromium via Playwright.

Press Train on the GAN and the 2-D playground and see their images change; no console
errors; a screenshot of each app goes to the screenshots folder (conftest.SCREENSHOTS)."""
import pathlib
import re
import os
import shutil
import time

import pytest

pytestmark = pytest.mark.browser
ROOT = pathlib.Path(__file__).resolve().parent.parent
from booted import PROGRESS  # noqa: E402
from conftest import SCREENSHOTS, panel_serve  # noqa: E402
SHOTS = SCREENSHOTS
APPS = ["gan", "playground2d", "autograd", "lines"]
ARGS = ["--no-sandbox", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run"]


def app_path(name):
    """What `panel serve` takes for an app: its folder (a Bokeh directory app) or its file."""
    folder = f"playground/apps/{name}"
    return folder if os.path.isdir(folder) else folder + ".py"


@pytest.fixture(scope="module")
def apps_server():
    """`panel serve` for the four apps on a free port; yields the base URL."""
    with panel_serve(*[app_path(a) for a in APPS], probe="/autograd") as base:
        yield base


@pytest.fixture(scope="module")
def browser():
    exe = shutil.which("chromium")
    if not exe:
        pytest.skip("Debian chromium is not installed (apt-get install chromium)")
    from playwright.sync_api import sync_playwright
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=exe, args=ARGS)
        yield b
        b.close()


@pytest.fixture
def open_app(browser, apps_server):
    pages = []

    def go(name):
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.errors = []
        page.on("console", lambda m: m.type == "error" and page.errors.append(m.text))
        page.on("pageerror", lambda e: page.errors.append(str(e)))
        page.goto(f"{apps_server}/{name}")
        page.wait_for_load_state("networkidle")
        page.locator("canvas").first.wait_for(timeout=60_000)
        page.wait_for_timeout(1500)
        pages.append(page)
        return page
    yield go
    for p in pages:
        p.close()


def _figure_shot(page, index):
    return page.locator(".bk-Figure").nth(index).screenshot()


def _wait_changed(page, index, before, timeout=60):
    end = time.time() + timeout
    while time.time() < end:
        page.wait_for_timeout(1000)
        if _figure_shot(page, index) != before:
            return True
    return False


def _train(page, seconds, index=0):
    """Train the index-th trainer on the page for ``seconds``, then pause it."""
    page.get_by_role("button", name="Train", exact=True).nth(index).click()
    page.wait_for_timeout(seconds * 1000)
    page.get_by_role("button", name="Pause", exact=True).first.click()
    page.wait_for_timeout(1000)



def _progress_step(page, index=0):
    """The step number in the index-th trainer progress line, as the page shows it."""
    text = page.get_by_text(PROGRESS).nth(index).inner_text()
    return int(PROGRESS.search(text).group(1))


def _poll(fn, timeout, what):
    end = time.time() + timeout
    while time.time() < end:
        v = fn()
        if v:
            return v
        time.sleep(0.2)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


def _text_follows_training_and_pause(page):
    """Train: the progress line's step climbs in the DOM; Pause: the status says so in < 2 s."""
    assert _progress_step(page) == 0
    page.get_by_role("button", name="Train", exact=True).first.click()
    first = _poll(lambda: _progress_step(page), 20, "the progress line to leave step 0")
    page.wait_for_timeout(4000)  # long enough for a backlog of browser messages to build up
    assert _progress_step(page) > first, "the progress text stopped following the training"
    clicked = time.time()
    page.get_by_role("button", name="Pause", exact=True).first.click()
    paused = page.get_by_text(re.compile(r"^Paused at step \d+")).first
    paused.wait_for(timeout=10_000)
    took = time.time() - clicked
    assert took < 2.0, f"Pause took {took:.1f} s to show"
    n = int(re.search(r"\d+", paused.inner_text()).group())
    page.wait_for_timeout(1500)
    assert _progress_step(page) == n, "steps kept coming after Pause"
    return n


def test_gan_text_panes_follow_training_and_pause(open_app):
    page = open_app("gan")
    judge = page.get_by_text("mean max-probability").first
    before = judge.inner_text()
    _text_follows_training_and_pause(page)
    assert judge.inner_text() != before, "the judge summary under the histogram stayed stale"
    assert page.errors == []


def test_lines_text_panes_follow_training_and_pause(open_app):
    page = open_app("lines")
    _text_follows_training_and_pause(page)
    assert page.errors == []


def test_gan_grid_changes_after_training(open_app):
    page = open_app("gan")
    before = _figure_shot(page, 0)  # the sample grid is the first figure
    _train(page, 10)  # ~10 s so the README's screenshot shows a run under way
    assert _wait_changed(page, 0, before), "the GAN sample grid did not change"
    page.get_by_text("2-D anatomy", exact=True).first.click()  # the 2-D anatomy too, in its own tab
    _train(page, 4)  # (the hidden tab's Train button is not counted by get_by_role)
    page.get_by_text("MNIST GAN", exact=True).first.click()
    page.wait_for_timeout(500)
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / "gan.png"), full_page=True)
    assert page.errors == []


def test_playground2d_heatmap_changes_after_training(open_app):
    page = open_app("playground2d")
    before = _figure_shot(page, 0)  # the output heat-map
    _train(page, 10)
    assert _wait_changed(page, 0, before), "the decision-boundary heat-map did not change"
    page.get_by_role("button", name="Show me the code").click()
    page.wait_for_timeout(1000)
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / "playground2d.png"), full_page=True)
    assert page.errors == []


def test_autograd_steps_and_screenshot(open_app):
    page = open_app("autograd")
    before = _figure_shot(page, 0)
    page.get_by_role("button", name="Backward: one node").click()
    page.get_by_role("button", name="Backward: one node").click()
    assert _wait_changed(page, 0, before, timeout=20)
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / "autograd.png"), full_page=True)
    assert page.errors == []


def _node_labels(page):
    return page.evaluate("() => { for (const m of window.Bokeh.documents[0].all_models) "
                         "if (m.data && m.data.label && m.data.grad) return Array.from(m.data.label); }")


def test_autograd_expression_box_enter_updates_graph_and_explains_errors(open_app):
    page = open_app("autograd")
    box = page.get_by_label("Expression")
    box.fill("__import__('os')")
    box.press("Enter")  # Panel handles Enter without the document lock
    page.get_by_text("Calling '__import__' is not allowed").wait_for(timeout=10_000)
    _poll(lambda: _node_labels(page) == [], 10, "the graph to empty")
    box.fill("a / b")
    box.press("Enter")
    _poll(lambda: _node_labels(page) == ["a", "b", "/"], 10, "the graph of a / b")
    page.get_by_label("a", exact=True).fill("0")
    page.get_by_label("b", exact=True).fill("0")
    page.get_by_label("b", exact=True).press("Enter")
    page.get_by_text(re.compile(r"out = nan: the value stops being a number")).wait_for(timeout=10_000)
    assert page.errors == []


def test_lines_trains_and_screenshot(open_app):
    page = open_app("lines")
    before = _figure_shot(page, 0)  # per-count accuracy bars
    _train(page, 10)
    assert _wait_changed(page, 0, before), "the per-count accuracy did not change"
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / "lines.png"), full_page=True)
    assert page.errors == []
