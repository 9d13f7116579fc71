"""Every lesson page of the offline bundle, booted for real (Pyodide 0.29.3 in headless Chromium,
only 127.0.0.1 reachable, no console error or 404 ignored: see tests/booted.py).

1. Every lesson boots (two pages at a time on two cores) and shows its exercises and widgets.
2. Lesson 3: typing a function body in the Ace editor auto-indents; a known wrong answer gets
   its own hint; an endless loop is stopped by the time guard with its message; the reference
   solution gets "Correct!" (screenshot: lesson-booted.png); the progress survives a reload.
3. The PWA: one online visit to an app page, the service worker caches the runtime and every
   package, then with the network off the page boots again and answers a click.
4. A failed boot names the Python exception: a wheel whose app imports a missing module.

Boot seconds per stage are printed for every page (run with -s); no timing is asserted."""
import json
import os
import re
import shutil
import time
import zipfile

import pytest

import booted
from booted import Watch, boot_all, boot_state, bokeh, timings, wait
from conftest import SCREENSHOTS, wait_until
from playground.lessons.exercises import registry as EX
from playground.lessons.exercises.sandbox import TIME_LIMIT
from playground.lessons.format import lesson_slugs, load_lesson
from test_lessons_browser import MARKERS, _widget_problems

pytestmark = pytest.mark.browser
SLUGS = lesson_slugs()
LESSON = "03-backprop-is-the-chain-rule"
AT_ONCE = 2          # pages booting at once: two cores, shared
VIEW = {"width": 1280, "height": 1000}


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    booted.dist_or_skip()
    folder = booted.bundle(tmp_path_factory)
    srv, url = booted.serve(folder)
    yield folder, url
    srv.shutdown()


@pytest.fixture(scope="module")
def lessons(chromium_launcher, site):
    """Every lesson page booted in one context (service workers off): (ctx, watch, pages,
    boot errors per page). The pages stay open for the tests."""
    ctx = chromium_launcher().new_context(viewport=VIEW, service_workers="block")
    watch = Watch(ctx)
    pages, failed = {}, {}
    paths = [f"lessons/{s}.html" for s in SLUGS]
    for i in range(0, len(paths), AT_ONCE):
        batch = paths[i:i + AT_ONCE]
        try:
            pages.update(boot_all(ctx, site[1], batch))
        except pytest.fail.Exception as e:  # one page failed to boot: the others go on
            for pg in ctx.pages:
                p = pg.url.split("/", 3)[-1]
                if p in batch and p not in pages:
                    failed[p] = str(e)
    yield ctx, watch, pages, failed
    ctx.close()


def _text(loc):
    """The text a Panel pane shows (inside its shadow root)."""
    return " ".join(loc.locator("div").all_inner_texts())


@pytest.mark.parametrize("slug", SLUGS)
def test_lesson_page_boots_with_its_exercises_and_widgets(lessons, slug):
    _, watch, pages, failed = lessons
    path = f"lessons/{slug}.html"
    assert path not in failed, failed[path]
    pg, les = pages[path], load_lesson(slug)
    assert boot_state(pg) == "interactive"
    assert pg.locator("h1", has_text=les.title).count() >= 1
    boxes = pg.locator(".descent-exercise")
    wait_until(lambda: boxes.count() == len(les.exercises), 30, what=f"{len(les.exercises)} exercise boxes")
    for i, ex_id in enumerate(les.exercises):
        assert EX.get(ex_id).title in boxes.nth(i).locator("h3").first.inner_text(), (slug, ex_id)
    n_code = sum(EX.get(e).kind == "code" for e in les.exercises)
    assert pg.locator(".descent-exercise .ace_editor").count() == n_code
    for name, _ in les.widgets:
        assert name in MARKERS, f"{slug}: widget kind {name} has no marker in test_lessons_browser"
        if not wait(lambda n=name: not _widget_problems(pg, n), 60):
            pytest.fail(f"{slug}: widget {name} did not render: {_widget_problems(pg, name)}")
    assert pg.get_by_text(f"Progress: 0 / {len(les.exercises)} exercises solved").count() == 1
    # Ace's highlighter ran (its mode file loaded): Python keywords are tokens, not plain text
    if n_code:
        wait_until(lambda: pg.locator(".descent-exercise .ace_keyword").count() > 0, 15,
                   what="Ace's Python highlighting")
    pg.wait_for_timeout(500)  # late errors
    assert watch.problems() == {}


def _feedback(box, pattern, timeout=30):
    """Wait until the exercise box's feedback matches `pattern`; its text."""
    fb = box.locator(".descent-feedback")

    def matching():
        t = " ".join(_text(fb).split())
        return t if re.search(pattern, t) else None
    return wait_until(matching, timeout, what=f"feedback {pattern!r} (have {_text(fb)!r})")


def _type(pg, box, text):
    """Replace the code in the exercise box's Ace editor by typing `text` (Enter for newlines:
    Ace indents the next line itself, so the typed lines carry no indentation)."""
    box.locator(".ace_text-input").focus()
    pg.keyboard.press("Control+A")
    pg.keyboard.press("Delete")
    pg.keyboard.type(text)
    pg.wait_for_timeout(700)  # the CodeEditor sends its value once typing stops


def _ace(box):
    return box.locator(".ace_editor").first.evaluate("el => el.env.editor.getValue()")


def test_lesson3_exercise_hint_guard_indent_correct_and_reload(lessons, site):
    _, watch, pages, failed = lessons
    path = f"lessons/{LESSON}.html"
    assert path not in failed, failed[path]
    pg = pages[path]
    ex = EX.get("mul-backward")
    box = pg.locator(".descent-exercise").first
    box.scroll_into_view_if_needed()

    # auto-indent: after `def f(x):` + Enter the cursor's line is indented by 4 spaces
    _type(pg, box, "def f(x):")
    pg.keyboard.press("Enter")
    pg.keyboard.type("return x")
    assert _ace(box) == "def f(x):\n    return x", repr(_ace(box))

    # a known wrong answer (swapped gradients), typed line by line: its own hint
    _type(pg, box, "def mul_backward(a, b, grad):\nreturn grad * a, grad * b\n")
    assert _ace(box).startswith("def mul_backward(a, b, grad):\n    return grad * a, grad * b")
    assert ex.check(_ace(box)).diagnosis == "swapped"
    box.get_by_role("button", name="Check").click()
    hint = next(m.hint for m in ex.mistakes if m.id == "swapped")
    _feedback(box, re.escape(hint.replace("`", "").replace("*other*", "other")))  # as Markdown shows it

    # an endless loop: stopped by the time guard, with its message
    _type(pg, box, "while True: pass\n")
    t0 = time.time()
    box.get_by_role("button", name="Check").click()
    msg = _feedback(box, r"ExerciseTimeout", timeout=60)
    print(f"time guard answered after {time.time() - t0:.1f} s: {msg!r}")
    assert f"more than {TIME_LIMIT:g} s" in msg and "Look for a loop that never ends" in msg

    # the reference solution: Correct!, marked solved in localStorage
    box.get_by_role("button", name="Show solution").click()
    box.get_by_role("button", name="Put the solution in the editor").click()
    wait_until(lambda: _ace(box) == ex.solution, 15, what="the solution in the editor")
    box.get_by_role("button", name="Check").click()
    _feedback(box, r"Correct!")
    pg.get_by_text("Progress: 1 / 3 exercises solved").first.wait_for(timeout=15_000)
    stored = json.loads(pg.evaluate("localStorage.getItem('descent-progress') || '[]'"))
    assert "exercise:mul-backward" in {r["id"] for r in stored}
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    box.locator(".descent-feedback").scroll_into_view_if_needed()
    pg.screenshot(path=str(SCREENSHOTS / "lesson-booted.png"))
    assert watch.problems() == {}

    # reload: the page boots again and reads the mark back from localStorage
    pg.reload(wait_until="commit")
    wait(lambda: boot_state(pg), 240)
    assert boot_state(pg) == "interactive", booted.stages(pg)
    print(f"boot {path} (reload): {json.dumps(timings(pg))}")
    pg.get_by_text("Progress: 1 / 3 exercises solved").first.wait_for(timeout=30_000)
    assert pg.locator(".descent-ex-badge").get_by_text("solved").count() == 1
    assert watch.problems() == {}


def _sw_lists(folder):
    """The service worker's PRECACHE and RUNTIME lists, as built."""
    sw = (folder / "sw.js").read_text()
    return [json.loads(re.search(rf"const {k} = (\[.*?\]);", sw, re.DOTALL).group(1)) for k in ("PRECACHE", "RUNTIME")]


def _graph_grads(pg):
    return bokeh(pg, "const m = [...doc.all_models].find((m) => m.data && 'grad' in m.data); "
                     "return m ? [...m.data.grad] : null;")


def test_pwa_boots_offline_after_one_online_visit(chromium_launcher, site):
    """Online once; then the server is gone and the browser offline: the service worker's
    cache is all there is."""
    folder = site[0]
    srv, url = booted.serve(folder)
    ctx = chromium_launcher().new_context(viewport=VIEW, service_workers="allow")
    watch = Watch(ctx)
    # when the page registers its service worker: after the app is interactive (its install
    # caches the whole site, which would compete with the boot), not while Python starts
    ctx.add_init_script("""(() => {
        const c = navigator.serviceWorker;
        if (!c) return;  // (pages of other origins, about:blank)
        const register = c.register.bind(c);
        c.register = (...a) => { window.__swRegisteredAt = performance.now(); return register(...a); };
    })()""")
    try:
        pg = boot_all(ctx, url, ["autograd.html"])["autograd.html"]
        assert wait(lambda: pg.evaluate("window.__swRegisteredAt"), 10), "no service worker registered"
        assert pg.evaluate("window.__swRegisteredAt >= DescentLoader.interactiveAt"), \
            pg.evaluate("[window.__swRegisteredAt, DescentLoader.interactiveAt]")
        # the service worker caches everything pages fetch on first use (index.html's button)
        cached = pg.evaluate("""() => new Promise(async (resolve) => {
            const reg = await navigator.serviceWorker.ready;
            navigator.serviceWorker.addEventListener('message', (e) => {
                if (e.data && e.data.type === 'descent:cached' && e.data.done === e.data.total) resolve(e.data);
            });
            reg.active.postMessage({type: 'cache-all'});
        })""")
        precache, runtime = _sw_lists(folder)
        missing = pg.evaluate("""async (urls) => {
            const names = (await caches.keys()).filter((n) => n.startsWith('descent-'));
            if (names.length !== 1) return ['caches: ' + names.join(', ')];
            const c = await caches.open(names[0]);
            const out = [];
            for (const u of urls) if (!(await c.match(new URL(u, location.href).href))) out.push(u);
            return out;
        }""", sorted(set(precache + runtime)))
        assert missing == [], f"not cached after cache-all {cached}: {missing}"
        assert pg.evaluate("!!navigator.serviceWorker.controller")

        srv.shutdown()
        srv.server_close()  # nothing answers on that port any more
        ctx.set_offline(True)
        served = {"sw": 0, "other": []}
        pg.on("response", lambda r: served.__setitem__("sw", served["sw"] + 1) if r.from_service_worker
              else served["other"].append(r.url))
        pg.reload(wait_until="commit")
        wait(lambda: boot_state(pg), 240)
        assert boot_state(pg) == "interactive", booted.stages(pg)
        print(f"boot autograd.html (offline, from the service worker's cache; {served['sw']} responses "
              f"from it): {json.dumps(timings(pg))}")
        # interactive: one click runs the whole backward pass in the page's Python
        assert any(g == "grad ?" for g in _graph_grads(pg))
        pg.get_by_role("button", name="Backward: all").click()
        wait_until(lambda: "grad ?" not in (_graph_grads(pg) or ["grad ?"]), 30, what="every gradient")
        assert served["sw"] > 0 and served["other"] == [], served
        assert watch.problems() == {}
    finally:
        ctx.set_offline(False)
        ctx.close()
        srv.shutdown()


def _copy_with_broken_wheel(src, dst):
    """A copy of the bundle (hard links) whose descent wheel's autograd app first imports a
    module that does not exist; the wheel keeps its file name. The app's bytecode goes (the
    build may ship .pyc that Python would run instead of the edited source)."""
    try:
        shutil.copytree(src, dst, copy_function=os.link)
    except OSError:
        shutil.rmtree(dst, ignore_errors=True)
        shutil.copytree(src, dst)
    (whl,) = (dst / "wheels").glob("descent-*.whl")
    app = "playground/apps/autograd/app.py"
    source = (booted.ROOT / app).read_bytes().replace(
        b"from __future__ import annotations\n",
        b"from __future__ import annotations\nimport descent_missing_module\n", 1)  # after __future__
    assert b"descent_missing_module" in source
    with zipfile.ZipFile(whl) as z:
        entries = [(i, z.read(i)) for i in z.infolist()
                   if not re.fullmatch(r"playground/apps/autograd/(__pycache__/)?app(\.[\w-]+)?\.pyc", i.filename)
                   and i.filename != app]
    whl.unlink()  # a new file: the hard-linked original stays as it is
    with zipfile.ZipFile(whl, "w", zipfile.ZIP_DEFLATED) as z:
        for info, data in entries:
            z.writestr(info, data)
        z.writestr(app, source)
    return dst


def test_failed_boot_names_the_python_exception(chromium_launcher, site, tmp_path):
    folder = _copy_with_broken_wheel(site[0], tmp_path / "broken")
    srv, url = booted.serve(folder)
    ctx = chromium_launcher().new_context(viewport=VIEW, service_workers="block")
    watch = Watch(ctx)
    try:
        pg = ctx.new_page()
        logged = []
        pg.on("worker", lambda w: w.on("console", lambda m: logged.append(f"{m.type}: {m.text}")))
        pg.goto(url + "autograd.html", wait_until="commit")
        state = wait(lambda: boot_state(pg), 240)
        print(f"autograd.html with a broken wheel: {state!r}")
        expected = "The app failed to start: ModuleNotFoundError: No module named 'descent_missing_module'"
        assert state and state.startswith("failed: " + expected), state
        assert "playground/apps/autograd/app.py" in state  # where it was raised
        assert pg.locator(".descent-loader-title").inner_text() == "Descent could not start"
        assert booted.stages(pg)["app"]["state"] == "failed"
        pg.wait_for_timeout(500)
        # what the worker logs: the failed stage, as a warning (the card shows it); no error
        assert f"warning: [descent] app stage failed (python): {expected}" in "\n".join(logged), logged
        problems = watch.problems()  # Watch collects warnings too: that one is this test's point
        warned = problems.pop("warnings", [])
        assert warned and all(w.startswith(f"[descent] app stage failed (python): {expected}") for w in warned), warned
        assert problems == {}
    finally:
        ctx.close()
        srv.shutdown()
