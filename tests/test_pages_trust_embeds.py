"""Embeds in a blog, as a reader gets them: every embed of the build (sitebuild EMBEDS) in a
host page on another origin (another 127.0.0.1 port), in a 760 px and then a 360 px column,
booted from the offline bundle in headless Chromium (tests/booted.py). The iframe is as tall
as what it shows (nothing cut, no blank below), follows later changes of that height, nothing
inside is wider than the frame; a misspelt name says which names exist. And the bundle built
from a distribution and a site reached through symbolic links boots."""
import json
import shutil
import time

import pytest

from booted import DIST, Watch, boot_all, py, serve, wait
from conftest import SCREENSHOTS
from playground import sitebuild as sb
from playground.apps.registry import EMBEDS
from test_site_build import build_once

pytestmark = pytest.mark.browser
WIDGETS = [e.widget for e in EMBEDS]
BLANK_OK = 40  # px of blank below the content that still counts as "sized to it"

# What the frame shows, measured without trusting the page's own report: the lowest bottom of
# any visible element, shadow roots included (fixed ones, the badge and the loader card, aside).
CONTENT = """() => {
  let bottom = 0;
  const d = document.documentElement;
  const walk = (root) => {
    for (const e of root.querySelectorAll('*')) {
      if (e.shadowRoot) walk(e.shadowRoot);
      const cs = getComputedStyle(e);
      if (cs.position === 'fixed' || cs.display === 'none' || cs.visibility === 'hidden') continue;
      const r = e.getBoundingClientRect();
      // (Bokeh parks some hidden helpers a million pixels down, clipped: not content)
      if (r.width > 0 && r.height > 0 && r.top + scrollY < d.scrollHeight) bottom = Math.max(bottom, r.bottom + scrollY);
    }
  };
  walk(document);
  return {bottom: Math.ceil(bottom), scrollHeight: d.scrollHeight, clientHeight: d.clientHeight,
          scrollWidth: d.scrollWidth, clientWidth: d.clientWidth};
}"""


def _post(site, widget):
    return f"""<!doctype html><meta charset=utf-8>
<meta name="viewport" content="width=device-width, initial-scale=1"><title>My blog</title>
<style>body{{font-family:Georgia,serif;margin:0;background:#eee;color:#222}}
main{{width:760px;margin:20px auto;background:#fff}} p{{margin:12px 0}}</style>
<main id="col"><h1>How a network learns</h1><p>Try it below: it runs in your browser.</p>
<div data-descent="{widget}" data-eager></div>
<p id="after">The end.</p></main>
<script src="{site}js/embed.js" async></script>"""


@pytest.fixture(scope="module")
def site_url(url):
    return url


@pytest.fixture(scope="module")
def host_url(tmp_path_factory, site_url):
    d = tmp_path_factory.mktemp("blog")
    for w in WIDGETS + ["digits-drwa"]:
        (d / f"{w}.html").write_text(_post(site_url, w))
    srv, base = serve(d)
    assert base != site_url
    yield base
    srv.shutdown()
    srv.server_close()


@pytest.fixture
def ctx(chromium_launcher, site_url):
    c = chromium_launcher(webgpu=False).new_context(viewport={"width": 1000, "height": 900},
                                                     service_workers="block")
    c.watch = Watch(c)
    yield c
    c.close()


def _frame(pg):
    el = pg.locator("iframe")
    el.wait_for(timeout=10_000)
    return el, el.element_handle().content_frame()


def _booted(fr, timeout=240):
    def state():
        try:
            return fr.evaluate("""() => { const L = window.DescentLoader; if (!L) return null;
                for (const s of Object.values(L.state)) if (s.state === 'failed') return 'failed';
                return L.interactiveAt ? 'interactive' : null; }""")
        except Exception:  # the frame is navigating
            return None
    s = wait(state, timeout, 0.5)
    assert s == "interactive", s


def _fit(el, fr):
    """(iframe height, measures inside) once the iframe's height has stopped changing and
    matches what it shows, or after 45 s (then the assertions say what is off)."""
    def settled():
        h = el.evaluate("f => f.getBoundingClientRect().height")
        m = fr.evaluate(CONTENT)
        ok = m["scrollHeight"] <= m["clientHeight"] and h - m["bottom"] <= BLANK_OK
        return (h, m) if ok else None
    end, last = time.time() + 45, None
    while time.time() < end:
        now = settled()
        if now and last and now[0] == last[0]:
            return now
        last = now
        time.sleep(1.5)
    return el.evaluate("f => f.getBoundingClientRect().height"), fr.evaluate(CONTENT)


@pytest.mark.parametrize("widget", WIDGETS)
def test_embed_fits_a_760_and_a_360_px_column(widget, ctx, host_url, site_url):
    pg = ctx.new_page()
    pg.goto(host_url + f"{widget}.html")
    el, fr = _frame(pg)
    assert el.get_attribute("src").startswith(site_url + f"embed/{widget}.html?")
    _booted(fr)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    bad = []  # every width's problems, then one assertion: the report says all that is off
    for width in (760, 360):
        pg.evaluate("w => { document.getElementById('col').style.width = w + 'px'; }", width)
        h, m = _fit(el, fr)
        print(f"{widget} @ {width}px: iframe {h:.0f} px, content bottom {m['bottom']} px, "
              f"scroll {m['scrollWidth']}x{m['scrollHeight']} in {m['clientWidth']}x{m['clientHeight']}")
        pg.screenshot(path=str(SCREENSHOTS / f"embed-host-{widget}-{width}.png"), full_page=True)
        assert m["clientWidth"] == width, m
        if m["scrollHeight"] > m["clientHeight"]:
            bad.append(f"@ {width}px: {m['scrollHeight'] - m['clientHeight']} px cut off at the bottom")
        if h - m["bottom"] > BLANK_OK:
            bad.append(f"@ {width}px: {h - m['bottom']:.0f} px blank below")
        if m["scrollWidth"] > m["clientWidth"]:
            bad.append(f"@ {width}px: {m['scrollWidth'] - m['clientWidth']} px wider than the frame")
    pg.close()
    assert not bad, f"{widget}: " + "; ".join(bad)
    assert ctx.watch.problems() == {}


def test_embed_follows_its_content_when_it_grows_and_shrinks(ctx, host_url):
    # a figure that appears later (e.g. once training starts) is a new model in the document:
    # here a 300 px tall one is added to the app's root by Python, then removed
    pg = ctx.new_page()
    pg.goto(host_url + "autograd.html")
    el, fr = _frame(pg)
    _booted(fr)
    h0, m0 = _fit(el, fr)
    run = lambda code: fr.evaluate("c => DescentLoader.python(c)", code)  # noqa: E731
    run("from bokeh.models import Spacer\nfrom panel.io.state import state\n"
        "_root = state.curdoc.roots[0]\n_root.children = list(_root.children) + "
        "[Spacer(height=300, sizing_mode='stretch_width', name='descent-test-spacer')]\n'ok'")
    assert wait(lambda: el.evaluate("f => f.getBoundingClientRect().height") >= h0 + 290, 20), \
        (h0, el.evaluate("f => f.getBoundingClientRect().height"))
    h1, m1 = _fit(el, fr)
    assert m1["scrollHeight"] <= m1["clientHeight"] and h1 - m1["bottom"] <= BLANK_OK, (h1, m1)
    run("_root.children = [c for c in _root.children if c.name != 'descent-test-spacer']\n'ok'")
    assert wait(lambda: el.evaluate("f => f.getBoundingClientRect().height") <= h0 + 2, 20), \
        (h0, el.evaluate("f => f.getBoundingClientRect().height"))
    pg.close()
    assert ctx.watch.problems() == {}


def test_a_misspelt_embed_name_lists_the_names_that_exist(ctx, host_url, tmp_path_factory):
    names = build_once(tmp_path_factory)[1]["embeds"]  # what the build made
    assert names == WIDGETS
    pg = ctx.new_page()
    pg.goto(host_url + "digits-drwa.html")
    box = pg.locator("[data-descent]")
    assert wait(lambda: "digits-drwa" in box.inner_text(), 10), box.inner_text()
    text = box.inner_text()
    assert all(n in text for n in names), text
    assert 'did you mean "digits-draw"' in text.lower(), text
    assert pg.locator("iframe").count() == 0  # nothing loaded, so no 404 inside either
    assert box.bounding_box()["height"] < 200
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    pg.evaluate("document.getElementById('col').style.width = '360px'")
    pg.screenshot(path=str(SCREENSHOTS / "embed-host-wrong-name-360.png"), full_page=True)
    assert box.evaluate("e => e.scrollWidth <= e.clientWidth")
    pg.close()
    assert ctx.watch.problems() == {}


def test_offline_bundle_from_symlinked_dist_and_site_boots(tmp_path_factory, ctx, monkeypatch):
    # ../shared a link (the README's layout, both ways must work) and the site folder a link:
    # the bytecode step runs (a cold cache) and hands Pyodide real paths
    site, summary = build_once(tmp_path_factory)
    base = tmp_path_factory.mktemp("links")
    shutil.copytree(site, base / "real" / "_site")
    (base / "shared").symlink_to(DIST.resolve().parent, target_is_directory=True)
    (base / "work").symlink_to(base / "real", target_is_directory=True)
    monkeypatch.setenv("DESCENT_SITE_CACHE", str(base / "cache"))
    try:
        out = sb.make_offline_bundle(base / "work" / "_site", base / "shared" / DIST.resolve().name,
                                     summary["lock_packages"], quiet=True)
    except sb.BuildError as e:
        pytest.fail(f"the offline bundle from symlinked paths failed: {e}")
    assert out["dir"] == str(base / "work" / "_site-offline")
    lock = json.loads((base / "real" / "_site-offline" / "pyodide" / "pyodide-lock.json").read_text())
    assert lock["packages"]
    srv, url = serve(out["dir"])
    try:
        pg = boot_all(ctx, url, ["autograd.html"])["autograd.html"]
        files = py(pg, "import jinja2, packaging.version; ' '.join(m.__file__ for m in (jinja2, packaging.version))")
        assert all(f.endswith(".pyc") for f in files.split()), files
        pg.close()
    finally:
        srv.shutdown()
        srv.server_close()
    assert ctx.watch.problems() == {}
