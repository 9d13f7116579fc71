"""Lessons in a real browser: `panel serve playground/lesson_app.py` + Debian Chromium.

A lesson renders with its widget and exercises and no console errors; solving an exercise
(reveal the solution, put it in the editor, Check) marks it solved in localStorage, and the
mark survives a reload; the index script shows the progress. Screenshot: docs/screenshots/lesson.png."""
import json
import pathlib
import re
import shutil

import pytest

pytestmark = pytest.mark.browser
ROOT = pathlib.Path(__file__).resolve().parent.parent
from conftest import SCREENSHOTS, panel_serve  # noqa: E402
SHOTS = SCREENSHOTS
ARGS = ["--no-sandbox", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run"]
LESSON = "03-backprop-is-the-chain-rule"


@pytest.fixture(scope="module")
def lesson_server():
    with panel_serve("playground/lesson_app.py", probe="/lesson_app") as base:
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


def _open(context, url):
    page = context.new_page()
    page.errors = []
    page.on("console", lambda m: m.type == "error" and page.errors.append(m.text))
    page.on("pageerror", lambda e: page.errors.append(str(e)))
    page.goto(url)
    page.wait_for_load_state("networkidle")
    page.get_by_text("Backprop is the chain rule").first.wait_for(timeout=60_000)
    page.locator("canvas").first.wait_for(timeout=60_000)
    page.wait_for_timeout(1500)
    return page


def _progress(page):
    return json.loads(page.evaluate("localStorage.getItem('descent-progress') || '[]'"))


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
    from playground.lessons import index_progress_script, lesson_index
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
