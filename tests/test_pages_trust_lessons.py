"""Issue 17, lessons and the autograd explorer, as a newcomer meets them: the offline bundle
booted in headless Chromium, only 127.0.0.1 reachable, nothing in the console (tests/booted.py).

1. A multiple-choice question starts with nothing chosen; Check with nothing chosen says so
   and marks nothing; a wrong option is explained, the right one is credited.
2. An empty number answer asks for a number (marks nothing); lesson 04 has no blank gap under
   its widget; the autograd explorer names the node where `log(-1)` stops being a number.
3. The autograd graph fits its box and the box the page (autograd.html at 1,400×1,000, a
   10-node expression); the autograd embed lays out from 320 to 800 px.

Screenshots go to $DESCENT_SCREENSHOTS (artifacts/screenshots by default)."""
import json
import re

import pytest

import booted
from booted import Watch, boot_all, bokeh
from conftest import SCREENSHOTS, wait_until
from playground.lessons.exercises import registry as EX
from playground.apps.autograd.app import Graph, build

pytestmark = pytest.mark.browser
L04 = "lessons/04-a-net-by-hand.html"
L06 = "lessons/06-convolutions-and-where-they-break.html"
PAGES = [L04, L06, "autograd.html", "embed/autograd.html"]
VIEW = {"width": 1400, "height": 1000}
TEN = "a*b + tanh(c*d) - a"   # 10 nodes, 5 columns
VALUES = {"a": 2.0, "b": -3.0, "c": 0.5, "d": 1.0}  # the app's starting values


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    booted.dist_or_skip()
    srv, url = booted.serve(booted.bundle(tmp_path_factory))
    yield url
    srv.shutdown()


@pytest.fixture(scope="module")
def pages(chromium_launcher, site):
    """(watch, {path: page}): the pages booted two at a time, one context (no service worker)."""
    ctx = chromium_launcher(webgpu=False).new_context(viewport=VIEW, service_workers="block")
    watch = Watch(ctx)
    out = {}
    for i in range(0, len(PAGES), 2):
        out.update(boot_all(ctx, site, PAGES[i:i + 2]))
    yield watch, out
    ctx.close()


def _shot(pg, name):
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    pg.screenshot(path=str(SCREENSHOTS / name))


def _text(loc):
    return " ".join(" ".join(loc.locator("div").all_inner_texts()).split())


def _box(pg, ex_id):
    box = pg.locator(".descent-exercise").filter(has_text=EX.get(ex_id).title)
    wait_until(lambda: box.count() == 1, 30, what=f"the box of {ex_id}")
    return box


def _feedback(box, pattern, timeout=30):
    fb = box.locator(".descent-feedback")
    return wait_until(lambda: (lambda t: t if re.search(pattern, t) else None)(_text(fb)), timeout,
                      what=f"feedback {pattern!r}")


def _solved(pg):
    return {r["id"] for r in json.loads(pg.evaluate("localStorage.getItem('descent-progress') || '[]'"))}


def _progress(pg, k, n):
    pg.get_by_text(f"Progress: {k} / {n} exercises solved").first.wait_for(timeout=15_000)


# ------------------------------------------------------------------ 1. choice questions

@pytest.mark.parametrize("path, ex_id, n", [(L04, "why-nonlinear", 2), (L06, "lines-break", 3)])
def test_choice_starts_unchosen_and_an_empty_check_credits_nothing(pages, path, ex_id, n):
    watch, pgs = pages
    pg, ex = pgs[path], EX.get(ex_id)
    box = _box(pg, ex_id)
    box.scroll_into_view_if_needed()
    radios = box.locator("input[type=radio]")
    wait_until(lambda: radios.count() == len(ex.options), 30, what="the options")
    checked = [r.is_checked() for r in radios.all()]
    slug = path.split("/")[1][:2]
    _shot(pg, f"lesson{slug}-choice-untouched.png")
    assert checked == [False] * len(ex.options), f"preselected: {checked}"

    box.get_by_role("button", name="Check").click()
    _feedback(box, r"Pick an answer first")
    pg.wait_for_timeout(500)
    _shot(pg, f"lesson{slug}-choice-empty-check.png")
    assert "Correct" not in _text(box.locator(".descent-feedback"))
    assert f"exercise:{ex_id}" not in _solved(pg)
    assert "solved" not in _text(box.locator(".descent-ex-badge"))
    _progress(pg, 0, n)

    wrong = next(i for i in range(len(ex.options)) if i != ex.answer)
    box.locator("label", has_text=ex.options[wrong]).click()
    box.get_by_role("button", name="Check").click()
    _feedback(box, re.escape("Not quite. " + ex.explanations[wrong].split("`")[0][:30]))
    assert f"exercise:{ex_id}" not in _solved(pg)

    box.locator("label", has_text=ex.options[ex.answer]).click()
    box.get_by_role("button", name="Check").click()
    _feedback(box, r"Correct!")
    _progress(pg, 1, n)
    assert f"exercise:{ex_id}" in _solved(pg)
    assert watch.problems() == {}


# ------------------------------------------------------------------ 2. small things

def test_an_empty_number_answer_asks_for_a_number_and_marks_nothing(pages):
    watch, pgs = pages
    pg, ex = pgs[L06], EX.get("conv-params")
    box = _box(pg, "conv-params")
    box.scroll_into_view_if_needed()
    box.get_by_role("button", name="Check").click()
    msg = _feedback(box, r"number")
    assert "Type a number first" in msg and "is not a number" not in msg, msg
    assert "exercise:conv-params" not in _solved(pg)
    field = box.locator("input[type=text]")
    for typed, want in (("twelve", r"`?twelve`? is not a number"), (f"{ex.answer:g}", r"Correct!")):
        field.fill(typed)
        field.press("Enter")
        pg.wait_for_timeout(300)
        box.get_by_role("button", name="Check").click()
        _feedback(box, want)
    assert "exercise:conv-params" in _solved(pg)
    assert watch.problems() == {}


def test_lesson04_has_no_blank_gap_under_its_widget(pages):
    watch, pgs = pages
    pg = pgs[L04]
    widget = pg.locator(".descent-widget-playground2d")
    wait_until(lambda: widget.locator(".bk-Canvas").count() >= 3, 60, what="the playground's plots")
    pg.wait_for_timeout(1000)
    # the bottom of the widget's last visible thing (text, a control, a plot), and the top of
    # the paragraph after the widget
    bottom = widget.first.evaluate("""(w) => {
        let bottom = 0;
        const walk = (root) => { for (const el of root.querySelectorAll('*')) {
            if (el.shadowRoot) walk(el.shadowRoot);
            const r = el.getBoundingClientRect(), s = getComputedStyle(el);
            const text = [...el.childNodes].some((n) => n.nodeType === 3 && n.textContent.trim());
            if (r.width > 0 && r.height > 0 && s.visibility !== 'hidden' &&
                (text || /^(CANVAS|INPUT|BUTTON|SELECT|IMG|TEXTAREA)$/.test(el.tagName)))
                bottom = Math.max(bottom, r.bottom);
        } };
        walk(w.shadowRoot || w);
        return bottom + window.scrollY;
    }""")
    after = pg.get_by_text("Now set every layer's activation").first
    gap = {"bottom": bottom, "next": after.evaluate("(el) => el.getBoundingClientRect().top + window.scrollY")}
    print("lesson 04 widget:", gap)
    _shot(pg, "lesson04-widget.png")
    assert gap["next"] - gap["bottom"] < 80, f"{gap['next'] - gap['bottom']:.0f} px of blank under the widget"
    assert watch.problems() == {}


def _expr(pg):
    """The autograd expression box (Panel's TextInput labelled Expression)."""
    return pg.get_by_label("Expression")


def _set_expr(pg, text):
    box = _expr(pg)
    box.fill(text)
    box.press("Enter")


def _labels(pg):
    return bokeh(pg, "const m = [...doc.all_models].find((m) => m.data && 'grad' in m.data); "
                     "return m ? [...m.data.label] : null;")


def test_autograd_names_the_node_where_log_of_a_negative_stops_being_a_number(pages):
    watch, pgs = pages
    pg = pgs["autograd.html"]
    for text in ("a*log(-1)", "log(-1) + b"):
        _set_expr(pg, text)
        alert = pg.get_by_text(re.compile(r"not a number|stops being a number"))
        msg = wait_until(lambda: alert.count() and " ".join(alert.first.inner_text().split()), 30,
                         what=f"the message for {text}")
        print(f"{text}: {msg}")
        assert "log(-1)" in msg, msg
        assert "at nan" not in msg, msg
    _set_expr(pg, "a*b + tanh(c)")
    wait_until(lambda: _labels(pg) == ["a", "b", "*", "c", "tanh", "+"], 30, what="the default graph")
    assert watch.problems() == {}


# ------------------------------------------------------------------ 3. the graph fits

_GEOMETRY = """() => {
    const doc = Bokeh.documents[Bokeh.documents.length - 1];
    const src = [...doc.all_models].find((m) => m.data && 'grad' in m.data);
    const fig = [...doc.all_models].find((m) => m.x_range && m.renderers &&
        m.renderers.some((r) => r.data_source === src));
    return {x: [...src.data.x], y: [...src.data.y], label: [...src.data.label],
            xr: [fig.x_range.start, fig.x_range.end], yr: [fig.y_range.start, fig.y_range.end],
            frame: [fig.inner_width, fig.inner_height],
            tools: fig.toolbar.tools.map((t) => t.type)};
}"""


def _geometry(pg):
    geo = pg.evaluate(_GEOMETRY)
    geo["canvas"] = pg.locator(".bk-Canvas").first.bounding_box()
    geo["canvas"]["right"] = geo["canvas"]["x"] + geo["canvas"]["width"]
    return geo


def _fits(geo, n):
    """Problems with the graph as drawn: nodes outside the visible ranges, boxes too narrow
    for their labels (a box is 0.8 x 0.7 data units)."""
    bad = []
    if len(geo["x"]) != n:
        return [f"{len(geo['x'])} nodes, not {n}"]
    (x0, x1), (y0, y1) = geo["xr"], geo["yr"]
    for x, y, lab in zip(geo["x"], geo["y"], geo["label"]):
        if x - 0.4 < x0 or x + 0.4 > x1 or y - 0.35 < y0 or y + 0.35 > y1:
            bad.append(f"node {lab} at ({x}, {y}) is outside x {geo['xr']} y {geo['yr']}")
    w, h = geo["frame"]
    px_w, px_h = 0.8 * w / (x1 - x0), 0.7 * h / (y1 - y0)
    if px_w < 70 or px_h < 48:  # 'grad -0.7864' in 11 px type, three lines
        bad.append(f"a node box is {px_w:.0f} x {px_h:.0f} px: too small for its labels")
    return bad


def test_autograd_graph_fits_its_box_and_the_box_the_page(pages):
    watch, pgs = pages
    pg = pgs["autograd.html"]
    pg.set_viewport_size(VIEW)
    out, leaves = build(TEN, VALUES)
    n = len(Graph(out, leaves).nodes)
    assert n == 10
    _set_expr(pg, TEN)
    wait_until(lambda: len(_labels(pg) or []) == n, 30, what="the 10-node graph")
    pg.get_by_role("button", name="Backward: all").click()
    pg.wait_for_timeout(1500)
    geo = _geometry(pg)
    print("autograd.html at 1400x1000:", {k: geo[k] for k in ("xr", "yr", "frame", "canvas", "tools")})
    pg.locator(".bk-Canvas").first.scroll_into_view_if_needed()
    _shot(pg, "autograd-10-nodes-1400.png")
    page_w = pg.evaluate("document.documentElement.clientWidth")
    help_w = pg.get_by_text("Variables: a, b, c, d").first.bounding_box()["width"]
    assert geo["canvas"]["width"] >= min(help_w, page_w - 80) - 40, (geo["canvas"], help_w, page_w)
    assert geo["canvas"]["right"] <= page_w, geo["canvas"]
    assert _fits(geo, n) == []
    if {"PanTool", "WheelZoomTool"} & set(geo["tools"]):  # still movable: the page says how
        assert pg.get_by_text(re.compile(r"[Dd]rag to pan")).count() >= 1
    assert pg.evaluate("document.documentElement.scrollWidth") <= page_w
    assert watch.problems() == {}


@pytest.mark.parametrize("width", [800, 760, 360, 320])
def test_autograd_embed_lays_out_from_320_to_800_px(pages, width):
    watch, pgs = pages
    pg = pgs["embed/autograd.html"]
    pg.set_viewport_size({"width": width, "height": 1000})
    _set_expr(pg, TEN)
    wait_until(lambda: len(_labels(pg) or []) == 10, 30, what="the 10-node graph")
    pg.wait_for_timeout(1500)  # the layout settles
    geo = _geometry(pg)
    page_w = pg.evaluate("document.documentElement.clientWidth")
    scroll_w = pg.evaluate("document.documentElement.scrollWidth")
    print(f"embed at {width}:", {k: geo[k] for k in ("xr", "yr", "frame", "canvas")}, "scrollWidth", scroll_w)
    if width in (760, 360):
        _shot(pg, f"autograd-embed-{width}.png")
        pg.screenshot(path=str(SCREENSHOTS / f"autograd-embed-{width}-full.png"), full_page=True)
    assert scroll_w <= page_w, f"{scroll_w} px of content in a {page_w} px page: it scrolls sideways"
    assert geo["canvas"]["width"] >= page_w - 80, geo["canvas"]
    if geo["canvas"]["right"] > page_w:  # too narrow for the graph: its own box scrolls sideways
        box = pg.locator(".bk-Canvas").first.evaluate("""(el) => { let n = el;
            while (n && !(n instanceof Element && /auto|scroll/.test(getComputedStyle(n).overflowX)))
                n = n.parentNode instanceof ShadowRoot ? n.parentNode.host : n.parentNode;
            return n ? {right: n.getBoundingClientRect().right, scroll: n.scrollWidth} : null; }""")
        assert box and box["right"] <= page_w and box["scroll"] >= geo["canvas"]["width"], box
        assert pg.get_by_text("scrolls sideways").count() == 1
    else:
        assert _fits(geo, 10) == []
    # every control is inside the page
    for r in pg.evaluate("""() => { const out = [];
        const walk = (root) => { for (const el of root.querySelectorAll('input, button')) out.push(
            el.getBoundingClientRect().right); for (const el of root.querySelectorAll('*'))
            if (el.shadowRoot) walk(el.shadowRoot); };
        walk(document); return out; }"""):
        assert r <= page_w + 1, f"a control ends at {r:.0f} px in a {page_w} px page"
    x0, x1 = geo["xr"]
    assert all(x0 <= x - 0.4 and x + 0.4 <= x1 for x in geo["x"]), geo
    assert watch.problems() == {}


def test_a_lesson_with_every_kind_of_exercise_fits_a_360_px_phone(pages):
    watch, pgs = pages
    pg = pgs[L06]  # a code exercise, a number and a choice question
    pg.set_viewport_size({"width": 360, "height": 900})
    try:
        pg.wait_for_timeout(1500)
        # the lesson's text and every exercise's controls fit (a wide widget may scroll in its box)
        wide = pg.locator(".descent-lesson").first.evaluate("""(lesson) => {
            const w = document.documentElement.clientWidth, out = [];
            if (lesson.getBoundingClientRect().right > w + 1) out.push(`the lesson is ${lesson.offsetWidth} px wide`);
            const walk = (r) => { for (const el of r.querySelectorAll('*')) {
                if (el.shadowRoot) walk(el.shadowRoot);
                if (!el.classList.contains('descent-exercise')) continue;
                const each = (x) => { for (const c of x.querySelectorAll('button, input, h3')) {
                    const b = c.getBoundingClientRect();
                    if (b.width && b.right > w + 1) out.push(`${c.tagName} '${c.textContent.trim()}' ends at ${Math.round(b.right)} px`); }
                    for (const c of x.querySelectorAll('*')) if (c.shadowRoot) each(c.shadowRoot); };
                each(el.shadowRoot || el);
            } };
            walk(lesson.shadowRoot || lesson); return out; }""")
        _box(pg, "conv-output-size").scroll_into_view_if_needed()
        _shot(pg, "lesson06-360.png")
        assert wide == [], wide
    finally:
        pg.set_viewport_size(VIEW)
    assert watch.problems() == {}
