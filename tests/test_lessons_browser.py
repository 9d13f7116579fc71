"""Lessons in a real browser: `panel serve playground/lessons/lesson_app.py` + Debian Chromium.

Every lesson renders (one server, one browser, a fresh context each): its title, each widget
directive's widget (a concrete DOM marker per widget kind: the drawing pad's canvas, the Bokeh
plots of an app, its buttons), every exercise box, the progress line and the next-lesson link,
with no console errors (Bokeh's "could not set initial ranges" is a warning, not an error).
Solving an exercise
(reveal the solution, put it in the editor, Check) marks it solved in localStorage, and the
mark survives a reload; the index script shows the progress. Screenshot: docs/screenshots/lesson.png."""
import json
import pathlib
import re
import shutil

import pytest

pytestmark = pytest.mark.browser
ROOT = pathlib.Path(__file__).resolve().parent.parent
from conftest import SCREENSHOTS, panel_serve, wait_until  # noqa: E402
from playground.lessons.exercises import registry as EX  # noqa: E402
from playground.lessons.format import lesson_index, lesson_slugs, load_lesson  # noqa: E402
SHOTS = SCREENSHOTS
ARGS = ["--no-sandbox", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run"]
LESSON = "03-backprop-is-the-chain-rule"
SLUGS = lesson_slugs()
# What each widget kind must show inside its `.descent-widget-NAME` box once rendered:
# draw = drawing-pad canvases, plots = at least this many Bokeh plots (`.bk-Canvas`),
# buttons = labels that must be there, text = text that must be there.
MARKERS = {
    "digits-draw": dict(draw=1, plots=4, buttons=["Train", "Step", "Reset", "Undo", "Clear"]),
    "digits": dict(draw=1, plots=8, buttons=["Train", "Step", "Reset", "Undo"]),
    "line-fit": dict(plots=2, buttons=["Step", "20 steps", "Reset"], text=["step 0"]),
    "autograd": dict(plots=1, buttons=["Backward: one node", "Backward: all", "Reset gradients"]),
    "playground2d": dict(plots=3, buttons=["+ layer"]),
    "lines": dict(plots=3, buttons=["Train", "Step", "Reset"]),
    "gan": dict(plots=6, buttons=["Train", "Step", "Reset"]),
    "backend": dict(buttons=["Benchmark matmul on this machine"], text=["Active backend"]),
    "save-model": dict(buttons=["Save, reload, time it", "Download the file"]),
    "names": dict(plots=2, buttons=["Train", "Step", "Reset", "New names"], text=["Samples:"]),
    "gpt": dict(plots=2, buttons=["Train", "Step", "Reset", "Sample", "Load the pretrained baby GPT"]),
}
# Lessons whose widgets train or load MNIST at page load get longer to appear (2 slow cores).
TIMEOUT = {"01-digits-in-60-seconds": 120, "05-digits-deeper": 120, "07-gans": 120}


@pytest.fixture(scope="module")
def lesson_server():
    with panel_serve("playground/lessons/lesson_app.py", probe="/lesson_app") as base:
        yield base + "/lesson_app"


@pytest.fixture(scope="module")
def context():
    exe = shutil.which("chromium")
    if not exe:
        pytest.skip("Debian chromium is not installed (apt-get install chromium)")
    from playwright.sync_api import sync_playwright
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=exe, args=ARGS)
        ctx = b.new_context(viewport={"width": 1280, "height": 1000})  # one context: localStorage persists
        yield ctx
        ctx.close()
        b.close()


def _watch(page):
    """Collect uncaught exceptions and console errors (not warnings) in page.errors."""
    page.errors = []
    page.on("console", lambda m: m.type == "error" and page.errors.append(m.text))
    page.on("pageerror", lambda e: page.errors.append(str(e)))
    return page


def _open(context, url):
    page = _watch(context.new_page())
    page.goto(url)
    page.wait_for_load_state("networkidle")
    page.get_by_text("Backprop is the chain rule").first.wait_for(timeout=60_000)
    page.locator("canvas").first.wait_for(timeout=60_000)
    page.wait_for_timeout(1500)
    return page


def _progress(page):
    return json.loads(page.evaluate("localStorage.getItem('descent-progress') || '[]'"))


def _widget_problems(page, name):
    """What is missing from widget NAME's box (empty when it rendered)."""
    box = page.locator(f".descent-widget-{name}")
    if box.count() != 1:
        return [f"{box.count()} .descent-widget-{name} boxes"]
    m, bad = MARKERS[name], []
    if box.locator("canvas.descent-draw").count() < m.get("draw", 0):
        bad.append("no drawing-pad canvas")
    if box.locator(".bk-Canvas").count() < m.get("plots", 0):
        bad.append(f"{box.locator('.bk-Canvas').count()} Bokeh plots < {m['plots']}")
    labels = {t.strip() for t in box.locator("button").all_inner_texts()}
    bad += [f"no {b!r} button" for b in m.get("buttons", []) if b not in labels]
    bad += [f"no text {t!r}" for t in m.get("text", []) if not box.get_by_text(t).count()]
    return bad


@pytest.mark.parametrize("slug", SLUGS)
def test_lesson_renders_with_its_widgets_and_exercises(context, lesson_server, mnist_ready, slug):
    les, index = load_lesson(slug), {d["slug"]: d for d in lesson_index()}
    assert set(name for name, _ in les.widgets) <= set(MARKERS), "a widget kind with no marker here"
    timeout = TIMEOUT.get(slug, 60)
    ctx = context.browser.new_context(viewport={"width": 1280, "height": 1000})  # no progress from others
    page = _watch(ctx.new_page())
    try:
        page.goto(f"{lesson_server}?lesson={slug}")
        page.locator("h1", has_text=les.title).first.wait_for(timeout=timeout * 1000)
        # every exercise box, in order, with its title
        boxes = page.locator(".descent-exercise")
        wait_until(lambda: boxes.count() == len(les.exercises), timeout,
                   what=f"{len(les.exercises)} exercise boxes (have {boxes.count()})")
        for i, ex_id in enumerate(les.exercises):
            assert EX.get(ex_id).title in boxes.nth(i).locator("h3").first.inner_text(), (slug, ex_id)
            assert boxes.nth(i).get_by_role("button", name="Check").count() == 1, (slug, ex_id)
        n_code = sum(EX.get(e).kind == "code" for e in les.exercises)
        assert page.locator(".descent-exercise .ace_editor").count() == n_code
        # every widget directive's widget, with its markers
        for name, _ in les.widgets:
            try:
                wait_until(lambda: not _widget_problems(page, name), timeout, what=f"widget {name}")
            except AssertionError:
                pytest.fail(f"{slug}: widget {name} did not render: {_widget_problems(page, name)}")
        assert page.get_by_text(f"Progress: 0 / {len(les.exercises)} exercises solved").count() == 1
        # the next-lesson link (query links: lesson_app.py), or the way back from the last one
        nxt = les.meta["next"]
        if nxt:
            link = page.locator(".descent-next a")
            assert link.count() == 1
            assert link.get_attribute("href") == f"?lesson={nxt}"
            assert link.inner_text().strip() == index[nxt]["title"]
        else:
            assert page.get_by_role("link", name="Back to the start").count() == 1
        page.wait_for_timeout(1000)  # late errors (a plot's first render, a widget's first event)
        assert page.errors == [], f"{slug}: console errors: {page.errors}"
    finally:
        ctx.close()


def test_lesson_renders_solve_marks_progress_and_survives_reload(context, lesson_server):
    url = f"{lesson_server}?lesson={LESSON}"
    page = _open(context, url)
    # the widget (the autograd explorer's graph) and the three exercises are there
    assert page.get_by_role("button", name="Backward: one node").count() == 1
    assert page.get_by_role("button", name="Check").count() == 3
    assert page.locator(".ace_editor").count() == 3
    assert page.get_by_text("Progress: 0 / 3 exercises solved").count() == 1
    # the widget works: one backward step changes the chain-rule line
    page.get_by_role("button", name="Backward: one node").click()
    page.wait_for_timeout(800)

    # a wrong answer: its specific hint
    box = page.locator(".descent-exercise").first
    editor = box.locator(".ace_text-input")
    editor.focus()
    page.keyboard.press("Control+A")
    page.keyboard.type("def mul_backward(a, b, grad):\nreturn grad * a, grad * b\n")
    page.wait_for_timeout(600)   # CodeEditor syncs its value after typing stops
    box.get_by_role("button", name="Check").click()
    page.get_by_text(re.compile("Swapped: `?d\\(a\\*b\\)/da")).first.wait_for(timeout=15_000)

    # reveal the solution, use it, check: solved
    box.get_by_role("button", name="Show solution").click()
    box.get_by_role("button", name="Put the solution in the editor").click()
    page.wait_for_timeout(500)
    box.get_by_role("button", name="Check").click()
    page.get_by_text("Correct!").first.wait_for(timeout=15_000)
    page.get_by_text("solved", exact=False).first.wait_for(timeout=10_000)
    page.wait_for_timeout(800)
    assert {"exercise:mul-backward"} <= {r["id"] for r in _progress(page)}
    SHOTS.mkdir(parents=True, exist_ok=True)
    box.scroll_into_view_if_needed()
    page.screenshot(path=str(SHOTS / "lesson.png"), full_page=False)
    assert page.errors == []

    # reload: the mark is still there (read back from localStorage by the page)
    page.close()
    page = _open(context, url)
    page.get_by_text("Progress: 1 / 3 exercises solved").first.wait_for(timeout=15_000)
    assert page.locator(".descent-ex-badge").get_by_text("solved").count() == 1
    assert page.errors == []
    page.close()


def test_index_script_shows_progress(context, lesson_server):
    from playground.lessons.progress import index_progress_script
    idx = lesson_index()
    page = context.new_page()
    page.errors = []
    page.on("pageerror", lambda e: page.errors.append(str(e)))
    page.goto(lesson_server.rsplit("/", 1)[0] + "/static/extensions/panel/css/loading.css")  # our origin
    records = [{"id": "exercise:mul-backward"}, {"id": "lesson:01-digits-in-60-seconds"}]
    page.evaluate(f"localStorage.setItem('descent-progress', {json.dumps(json.dumps(records))})")
    links = "".join(f'<li><a href="lessons/{d["slug"]}.html">{d["title"]}</a></li>' for d in idx)
    page.set_content(f"<ul>{links}</ul>")
    page.add_script_tag(content=index_progress_script(idx).replace("<script>", "").replace("</script>", ""))
    tags = page.locator(".descent-lesson-progress").all_inner_texts()
    assert tags[0] == "✓ done" and tags[2] == "1 / 3 exercises" and tags[1] == ""
    assert page.errors == []
    page.close()
