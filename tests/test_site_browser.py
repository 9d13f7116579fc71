"""The built site in headless Chromium (Playwright, Debian's chromium), served from
127.0.0.1. The Pyodide CDN address is routed to the npm `pyodide@0.29.3` core in
node_modules, so the runtime stage really boots; the core has no packages (numpy...), so
those requests are answered 404 *explicitly* and the loader must say so. The full boot, from
a real distribution, is in tests/test_pages_*.py."""
import json
import re
import shutil
import time
from pathlib import Path

import pytest

from playground import sitebuild as sb
from playground.lessons.format import lesson_index
from playground.lessons.progress import PROGRESS_KEY
from booted import TYPES, serve as _serve, wait as _wait
from test_site_build import build_once

pytestmark = pytest.mark.browser
ROOT = Path(__file__).resolve().parents[1]
CORE = ROOT / "node_modules" / "pyodide"
CDN = sb.PYODIDE_CDN
from conftest import SCREENSHOTS  # noqa: E402
SHOTS = SCREENSHOTS


@pytest.fixture(scope="session")
def site(tmp_path_factory):
    return build_once(tmp_path_factory)[0]


@pytest.fixture(scope="session")
def site_url(site):
    srv, url = _serve(site)
    yield url
    srv.shutdown()
    srv.server_close()


@pytest.fixture(scope="session")
def host_url(tmp_path_factory, site_url):
    """Another origin (another localhost port) with a blog post that embeds a widget."""
    d = tmp_path_factory.mktemp("blog")
    (d / "post.html").write_text(f"""<!doctype html><meta charset=utf-8><title>My blog</title>
<style>body{{font-family:Georgia,serif;max-width:760px;margin:30px auto;padding:0 16px;color:#222}}</style>
<h1>How a network learns to see digits</h1>
<p>Press Train in the widget below: it runs in your browser.</p>
<div data-descent="autograd" data-eager></div>
<script src="{site_url}js/embed.js" async></script>
<p>The end.</p>""")
    srv, url = _serve(d)
    yield url
    srv.shutdown()
    srv.server_close()


ROUTED_404 = set()  # the package addresses answered 404 on purpose (the npm core has none)


def _cdn_to_npm_core(route):
    """The pinned CDN address answered from the npm core; what the core lacks (every
    package: numpy...) is an explicit 404, recorded in ROUTED_404."""
    name = route.request.url[len(CDN):].split("?")[0]
    f = CORE / name
    headers = {"access-control-allow-origin": "*"}
    if f.is_file() and "/" not in name:
        route.fulfill(status=200, body=f.read_bytes(),
                      headers={**headers, "content-type": TYPES.get(f.suffix, "application/octet-stream")})
    else:
        ROUTED_404.add(route.request.url)
        route.fulfill(status=404, body=b"not in the npm core", headers=headers)


def _expected_failure(m):
    """Chromium's "Failed to load resource: … 404" line for exactly one of the addresses this
    test answered 404 on purpose; any other error counts."""
    return m.text.startswith("Failed to load resource") and "404" in m.text and m.location.get("url") in ROUTED_404


@pytest.fixture
def ctx(chromium_launcher, site_url):
    browser = chromium_launcher(webgpu=False)
    c = browser.new_context(viewport={"width": 1280, "height": 860}, service_workers="block")
    c.route(CDN + "**", _cdn_to_npm_core)
    c.errors = []
    c.others = []

    def other(route):  # nothing else may be fetched: record and refuse
        c.others.append(route.request.url)
        route.abort()
    c.route(lambda u: not u.startswith(("http://127.0.0.1", CDN)), other)
    yield c
    c.close()


def _page(ctx):
    pg = ctx.new_page()
    pg.on("console", lambda m: ctx.errors.append(m.text) if m.type == "error" and not _expected_failure(m) else None)
    pg.on("pageerror", lambda e: ctx.errors.append(f"pageerror: {e}"))
    return pg


def _stages(pg):
    return pg.evaluate("JSON.parse(JSON.stringify(window.DescentLoader ? window.DescentLoader.state : {}))")


def test_index_renders_without_console_errors_and_shows_lesson_progress(ctx, site_url, site):
    index = lesson_index()
    first, third = index[0], index[2]
    # a learner who finished lesson 1 and solved one exercise of lesson 3 (what lesson pages write)
    saved = ([{"id": f"exercise:{e}", "lesson": first["slug"]} for e in first["exercises"]] +
             [{"id": f"lesson:{first['slug']}"}, {"id": f"exercise:{third['exercises'][0]}", "lesson": third["slug"]}])
    ctx.add_init_script(f"localStorage.setItem({json.dumps(PROGRESS_KEY)}, {json.dumps(json.dumps(saved))})")
    pg = _page(ctx)
    pg.goto(site_url + "index.html", wait_until="networkidle")
    cards = pg.locator(".card")
    assert cards.count() == len([p for p in site.glob("*.html") if p.name != "index.html"])
    assert pg.locator("h2", has_text="Lessons").count() == 1
    assert pg.locator(".lesson-card").count() == len(index)
    card = lambda d: pg.locator(".lesson-card", has=pg.locator(f'a[href="lessons/{d["slug"]}.html"]'))  # noqa: E731
    assert card(first).locator(".descent-lesson-progress").inner_text() == "✓ done"
    assert card(third).locator(".descent-lesson-progress").inner_text() == f"1 / {len(third['exercises'])} exercises"
    assert card(index[1]).locator(".descent-lesson-progress").inner_text() == ""
    assert third["summary"] in card(third).inner_text()
    assert "http://127.0.0.1" in pg.locator(".site-url").first.inner_text()
    SHOTS.mkdir(parents=True, exist_ok=True)
    pg.screenshot(path=str(SHOTS / "site-index.png"), full_page=True)
    assert ctx.errors == [] and ctx.others == []


def test_app_page_boots_the_npm_core_and_reaches_the_package_stage(ctx, site_url):
    pg = _page(ctx)
    pg.goto(site_url + "autograd.html")
    # the pre-rendered app is visible while Python boots; the loader shows the stages
    pg.locator(".descent-loader").wait_for(state="visible", timeout=20000)
    seen_progress = _wait(lambda: (_stages(pg).get("runtime") or {}).get("loaded", 0) > 0, 30)
    assert seen_progress, _stages(pg)
    pg.screenshot(path=str(SHOTS / "site-app-loading.png"))
    st = _wait(lambda: (s := _stages(pg)).get("packages", {}).get("state") in ("active", "failed") and s, 60)
    assert st["runtime"]["state"] == "done"
    # the real bytes of the runtime (wasm + stdlib + lock) were counted and shown
    assert st["runtime"]["loaded"] >= (CORE / "pyodide.asm.wasm").stat().st_size
    assert re.search(r"\d+\.\d MB ✓", pg.locator('[data-stage="runtime"] .descent-stage-size').inner_text())
    st = _wait(lambda: (s := _stages(pg)).get("packages", {}).get("state") == "failed" and s, 60)
    msg = pg.locator(".descent-loader-msg")
    assert "did not deliver" in msg.inner_text() and "numpy" in msg.inner_text()
    assert "npm core has no packages" in msg.inner_text()
    assert pg.locator(".descent-loader-msg").get_attribute("data-kind") == "http"
    pg.screenshot(path=str(SHOTS / "site-app-package-stage.png"))
    assert ctx.errors == [] and ctx.others == []


def test_lesson_page_shows_its_pre_rendered_lesson_while_python_boots(ctx, site_url):
    d = lesson_index()[2]  # backprop: Markdown, the autograd widget and code exercises
    pg = _page(ctx)
    pg.goto(site_url + f"lessons/{d['slug']}.html")
    assert pg.locator(".descent-bar-top .descent-app-title").inner_text() == d["title"]
    assert pg.locator(".descent-embed-btn").count() == 0
    # the lesson, rendered at build time: its heading, an exercise, the next-lesson link
    # (is_visible() does not wait: the pre-rendered page appears once BokehJS has drawn it)
    pg.locator("h1", has_text=d["title"]).first.wait_for(state="visible", timeout=20000)
    assert pg.locator(".descent-exercise").count() == len(d["exercises"])
    nxt = pg.locator(f'a[href="{d["next"]}.html"]').last
    assert nxt.count() == 1 and pg.locator('a[href="../index.html"]').count() >= 1
    assert "{{" not in pg.locator(".descent-lesson").first.inner_text()
    _wait(lambda: _stages(pg).get("packages", {}).get("state") in ("active", "failed"), 60)
    assert _stages(pg)["runtime"]["state"] == "done"
    pg.screenshot(path=str(SHOTS / "site-lesson-loading.png"))
    assert ctx.errors == [] and ctx.others == []


def test_every_embed_page_renders_without_chrome_or_console_errors(ctx, site_url, site):
    for page in sorted((site / "embed").glob("*.html")):
        if page.name == "index.html":
            continue
        pg = _page(ctx)
        pg.goto(site_url + f"embed/{page.name}")
        assert pg.locator(".descent-bar-top").count() == 0
        assert pg.locator(".descent-embed-badge").count() == 1
        _wait(lambda: _stages(pg).get("packages", {}).get("state") in ("active", "failed"), 60)
        assert _stages(pg)["runtime"]["state"] == "done", page.name
        pg.close()
    assert ctx.errors == [] and ctx.others == []


def test_embed_snippet_on_another_origin_makes_a_sized_iframe(ctx, host_url, site_url):
    pg = _page(ctx)
    pg.goto(host_url + "post.html")
    frame_el = pg.locator("iframe")
    _wait(lambda: frame_el.count() == 1, 10)
    assert frame_el.get_attribute("src").startswith(site_url + "embed/autograd.html?descent-id=")
    assert _wait(lambda: frame_el.get_attribute("data-sized") == "1", 30)
    frame = frame_el.element_handle().content_frame()
    _wait(lambda: frame.evaluate("window.DescentLoader && DescentLoader.state.runtime && DescentLoader.state.runtime.state") == "done", 60)
    time.sleep(1.0)
    content = frame.evaluate("Math.ceil(Math.max(document.documentElement.scrollHeight, document.body.scrollHeight))")
    box = frame_el.bounding_box()
    assert content > 200
    assert abs(box["height"] - content) <= 2, (box, content)
    assert abs(box["width"] - pg.evaluate("document.querySelector('[data-descent]').clientWidth")) <= 1
    pg.screenshot(path=str(SHOTS / "site-embed-host.png"), full_page=True)
    assert ctx.errors == [] and ctx.others == []


def test_embed_js_ignores_size_messages_from_other_origins(ctx, host_url):
    pg = _page(ctx)
    pg.goto(host_url + "post.html")
    frame_el = pg.locator("iframe")
    _wait(lambda: frame_el.count() == 1, 10)
    fid = re.search(r"descent-id=([^&]+)", frame_el.get_attribute("src")).group(1)
    before = frame_el.evaluate("f => f.style.height")
    # the host page itself (another origin than the Descent site) forges a size message
    pg.evaluate("id => window.postMessage({type: 'descent:size', id, height: 7777}, '*')", fid)
    time.sleep(0.5)
    assert frame_el.evaluate("f => f.style.height") != "7777px"
    assert before is not None


def test_copy_embed_snippet_button(ctx, site_url):
    ctx.grant_permissions(["clipboard-read", "clipboard-write"], origin=site_url.rstrip("/"))
    pg = _page(ctx)
    pg.goto(site_url + "autograd.html")
    pg.click(".descent-embed-btn")
    box = pg.locator(".descent-snippet textarea")
    _wait(lambda: box.count() == 1, 5)
    snippet = box.input_value()
    assert '<div data-descent="autograd"></div>' in snippet
    assert f'<script src="{site_url}js/embed.js" async></script>' in snippet
    assert pg.evaluate("navigator.clipboard.readText()") == snippet


def test_network_blocked_shows_the_offline_message(ctx, site_url):
    pg = _page(ctx)
    pg.goto(site_url + "autograd.html", wait_until="domcontentloaded")
    # from here on the network is gone (the page itself came from the cache)
    ctx.unroute(CDN + "**")
    ctx.route(CDN + "**", lambda r: r.abort("internetdisconnected"))
    ctx.route("**/version.json*", lambda r: r.abort("internetdisconnected"))
    pg.reload(wait_until="domcontentloaded")
    msg = pg.locator(".descent-loader-msg")
    _wait(lambda: msg.inner_text().strip() != "", 30)
    assert msg.get_attribute("data-kind") == "offline"
    assert "You are offline" in msg.inner_text() and "after one online visit" in msg.inner_text()
    assert _stages(pg)["runtime"]["state"] == "failed"
    pg.screenshot(path=str(SHOTS / "site-offline-message.png"))


def test_blocked_cdn_is_told_apart_from_offline(ctx, site_url):
    ctx.unroute(CDN + "**")
    ctx.route(CDN + "**", lambda r: r.abort("blockedbyclient"))
    pg = _page(ctx)
    pg.goto(site_url + "autograd.html")
    msg = pg.locator(".descent-loader-msg")
    _wait(lambda: msg.inner_text().strip() != "", 30)
    assert msg.get_attribute("data-kind") == "cdn-blocked"
    assert "cdn.jsdelivr.net" in msg.inner_text() and "offline bundle" in msg.inner_text()


def test_a_missing_standard_library_is_not_blamed_on_the_cdn(ctx, site_url):
    # the compiled standard library comes from this site (a broken deploy here), the runtime
    # from the CDN (answering): the message names our file, not the CDN
    def gone(route):
        ROUTED_404.add(route.request.url)
        route.fulfill(status=404, body=b"gone")
    ctx.route("**/stdlib/python_stdlib-*.zip", gone)
    pg = _page(ctx)
    pg.goto(site_url + "autograd.html")
    msg = pg.locator(".descent-loader-msg")
    _wait(lambda: msg.inner_text().strip() != "", 30)
    assert msg.get_attribute("data-kind") == "http", msg.inner_text()
    assert "stdlib/python_stdlib-" in msg.inner_text() and "cdn.jsdelivr.net" not in msg.inner_text()
    assert _stages(pg)["runtime"]["state"] == "failed"
    assert ctx.others == []  # (the console has Python's own errors about it: this failure is real)


def test_no_webassembly_gets_a_specific_message(ctx, site_url):
    pg = _page(ctx)
    pg.add_init_script("delete globalThis.WebAssembly")
    pg.goto(site_url + "autograd.html")
    msg = pg.locator(".descent-loader-msg")
    _wait(lambda: msg.inner_text().strip() != "", 10)
    assert msg.get_attribute("data-kind") == "no-wasm" and "WebAssembly" in msg.inner_text()


def test_service_worker_caches_the_site_for_offline_use(chromium_launcher, site_url):
    browser = chromium_launcher(webgpu=False)
    c = browser.new_context()
    c.route(CDN + "**", _cdn_to_npm_core)
    try:
        pg = c.new_page()
        pg.goto(site_url + "index.html")
        pg.evaluate("navigator.serviceWorker.ready.then(() => true)")
        pg.reload()
        assert _wait(lambda: pg.evaluate("!!navigator.serviceWorker.controller"), 15)
        cached = pg.evaluate("""async () => {
            const keys = await caches.keys();
            const c = await caches.open(keys.find(k => k.startsWith('descent-')));
            return {names: keys, n: (await c.keys()).length};
        }""")
        assert any(re.fullmatch(r"descent-0\.1\.0-[0-9a-f]{12}", k) for k in cached["names"]) and cached["n"] > 50
        c.set_offline(True)
        pg.goto(site_url + "autograd.html")
        assert pg.locator(".descent-bar-top").count() == 1  # served by the service worker
        pg.goto(site_url + "index.html")
        assert pg.locator(".card").count() >= 1
    finally:
        c.close()


def test_offline_bundle_boots_the_runtime_with_no_network(chromium_launcher, tmp_path_factory, tmp_path):
    """The offline bundle built from a FAKE dist (npm core + stand-in package files): every
    request stays on 127.0.0.1 and the runtime boots from the bundle's pyodide/ folder."""
    from test_site_build import fake_dist
    site, summary = build_once(tmp_path_factory)
    copy = tmp_path / "_site"
    shutil.copytree(site, copy)
    dist = fake_dist(tmp_path / "dist", summary["lock_packages"])
    info = sb.make_offline_bundle(copy, dist, summary["lock_packages"], quiet=True)
    srv, url = _serve(info["dir"])
    c = chromium_launcher(webgpu=False).new_context(service_workers="block")
    outside = []
    c.route(lambda u: not u.startswith("http://127.0.0.1"), lambda r: (outside.append(r.request.url), r.abort()))
    try:
        pg = c.new_page()
        pg.goto(url + "autograd.html")
        st = _wait(lambda: (s := _stages(pg)).get("packages", {}).get("state") in ("active", "failed") and s, 60)
        assert st and st["runtime"]["state"] == "done", st
        assert outside == [], outside
    finally:
        c.close()
        srv.shutdown()


def test_an_update_is_offered_never_forced(chromium_launcher, site, tmp_path):
    copy = tmp_path / "_site"
    shutil.copytree(site, copy)
    srv, url = _serve(copy)
    c = chromium_launcher(webgpu=False).new_context()
    try:
        pg = c.new_page()
        pg.goto(url + "index.html")
        pg.evaluate("navigator.serviceWorker.ready.then(() => true)")
        pg.reload()
        assert _wait(lambda: pg.evaluate("!!navigator.serviceWorker.controller"), 15)
        old = pg.evaluate("caches.keys()")
        # what an earlier build kept beside its own cache (start-up snapshots of Python)
        pg.evaluate("caches.open('pyodide-start-snapshots').then((c) => c.put('x.snapshot', new Response('old')))")
        pg.evaluate("window.__marker = 'still here'")  # gone if the page reloads
        sw = copy / "sw.js"
        sw.write_text(sw.read_text().replace('const CACHE = "descent-', 'const CACHE = "descent-new-', 1))
        pg.evaluate("navigator.serviceWorker.getRegistration().then(r => r.update())")
        bar = pg.locator(".descent-update")
        assert _wait(lambda: bar.count() == 1, 20), "no update offered"
        time.sleep(1.0)
        assert pg.evaluate("window.__marker") == "still here"  # offered, not forced
        assert pg.evaluate("caches.keys()") == old or set(old) <= set(pg.evaluate("caches.keys()"))
        with pg.expect_navigation():
            bar.locator("button", has_text="Reload now").click()
        assert pg.evaluate("window.__marker") is None
        assert _wait(lambda: any(k.startswith("descent-new-") for k in pg.evaluate("caches.keys()")), 10)
        assert not set(old) & set(pg.evaluate("caches.keys()"))  # the old version's cache is gone
        assert "pyodide-start-snapshots" not in pg.evaluate("caches.keys()")
    finally:
        c.close()
        srv.shutdown()
