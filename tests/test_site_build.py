"""The built static site (`descent build-site`): pages, references, wheels, service worker,
offline bundle. The site is built once per test session (see `build_once`, shared with
tests/test_site_browser.py)."""
import ast
import hashlib
import html
import html.parser
import json
import re
import shutil
import subprocess
import sys
import venv
import zipfile
from pathlib import Path

import pytest

from playground import sitebuild as sb
from playground.apps.registry import EMBEDS
from playground.lessons.format import lesson_index
from playground.lessons.progress import index_progress_script

ROOT = Path(__file__).resolve().parents[1]
CORE = ROOT / "node_modules" / "pyodide"
_BUILD = {}


def build_once(tmp_path_factory):
    """Build the site into a session temp dir (once) and return (folder, summary)."""
    if "site" not in _BUILD:
        if not (ROOT / "engine" / "_data" / "mnist10k.npz").is_file():
            pytest.skip("engine/_data/mnist10k.npz missing: python -m engine.data build-mnist")
        if not (CORE / "pyodide-lock.json").is_file():
            pytest.skip("node_modules/pyodide missing: npm ci")
        out = tmp_path_factory.getbasetemp() / "site-build" / "_site"
        try:
            summary = sb.build_site(out, quiet=True)
        except sb.BuildError as e:
            pytest.fail(f"build-site failed: {e}")
        _BUILD["site"] = (out, summary)
    return _BUILD["site"]


@pytest.fixture(scope="session")
def built(tmp_path_factory):
    return build_once(tmp_path_factory)


@pytest.fixture(scope="session")
def site(built):
    return built[0]


class _Refs(html.parser.HTMLParser):
    def __init__(self):
        super().__init__()
        self.refs = []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        for key in ("src", "href"):
            if a.get(key) and not (tag == "a" and a[key].startswith(("http://", "https://")) is False and False):
                self.refs.append(a[key])


def _worker_config(js_text):
    m = re.search(r"const CONFIG = (\{.*?\n\});", js_text, re.S)
    assert m, "worker without CONFIG"
    return json.loads(m.group(1))


def _check_ref(site, page, ref):
    if ref.startswith(("#", "data:", "mailto:", "javascript:", "blob:")):
        return None
    if ref.startswith(("http://", "https://")):
        return None if ref.startswith(sb.PYODIDE_CDN) else f"{page}: external address {ref}"
    target = (page.parent / ref.split("#")[0].split("?")[0]).resolve()
    if not target.is_relative_to(site.resolve()):
        return f"{page}: {ref} points outside the site"
    return None if target.exists() else f"{page}: {ref} does not exist"


def test_build_summary_lists_every_app_page_and_embed(built):
    site, summary = built
    for slug in summary["apps"]:
        assert (site / f"{slug}.html").is_file() and (site / f"{slug}.js").is_file()
    for w in summary["embeds"]:
        assert (site / "embed" / f"{w}.html").is_file() and (site / "embed" / f"{w}.js").is_file()
    assert "autograd" in summary["apps"] and "autograd" in summary["embeds"]
    assert (site / "index.html").is_file() and (site / "data" / "mnist10k.npz").is_file()


def test_every_page_references_only_existing_files_or_the_pinned_cdn(site):
    problems, checked = [], 0
    for page in site.rglob("*.html"):
        text = page.read_text()
        p = _Refs()
        p.feed(text)
        # the pre-rendered Bokeh documents carry stylesheet addresses inside JSON
        refs = p.refs + re.findall(r'"((?:\.\./)?vendor/[^"\\]+)"', text)
        # ... and the links of pre-rendered Markdown (lessons: other lessons, apps, the index)
        refs += re.findall(r'href=(?:&amp;quot;|&quot;|\\")([^&"\\]+)', text)
        for ref in refs:
            if page.parent.name in ("embed", "lessons") and ref.startswith("vendor/"):
                ref = "../" + ref if not ref.startswith("../") else ref
            checked += 1
            if err := _check_ref(site, page, ref):
                problems.append(err)
        for cdn in ("cdn.holoviz.org", "cdn.bokeh.org", "pypi.org", "files.pythonhosted.org"):
            assert cdn not in text, f"{page.name} still points at {cdn}"
    assert checked > 50 and not problems, problems[:10]


def test_workers_reference_existing_wheels_data_and_the_pinned_pyodide(site):
    lock = sb.read_lock(CORE / "pyodide-lock.json")
    workers = [p for p in site.rglob("*.js") if p.with_suffix(".html").is_file()]
    assert workers
    for w in workers:
        cfg = _worker_config(w.read_text())
        root = (w.parent / cfg["siteRoot"]).resolve()
        assert root == site.resolve()
        assert cfg["pyodide"] == sb.PYODIDE_CDN == "https://cdn.jsdelivr.net/pyodide/v0.29.3/full/"
        for rel in cfg["wheels"] + [cfg["wheel"], cfg["webgpu"]] + [d["url"] for d in cfg["data"]]:
            assert (root / rel).is_file(), f"{w.name}: {rel} missing"
        boot, later = set(cfg["lockPackages"]), set(cfg["laterPackages"])
        # numpy boots; pyodide-http and requests' kin come once the page is interactive
        assert "numpy" in boot and {"pyodide-http", "requests", "narwhals"} <= later
        assert not boot & later and later <= sb.AFTER_BOOT
        # what the pages never import is not downloaded (pandas: pyodide-http stands in)
        assert not {"pandas", "pillow", "contourpy", "micropip"} & (boot | later)
        for p in boot:  # the closure: every dependency of a boot package boots too
            assert set(lock[p]["depends"]) <= boot, p
        for p in later:
            assert set(lock[p]["depends"]) <= boot | later, p
        assert not {"bokeh", "panel"} & (boot | later)  # pinned wheels from the site instead
        names = [Path(x).name for x in cfg["wheels"]]
        assert "bokeh-3.9.2-py3-none-any.whl" in names and "panel-1.9.4-py3-none-any.whl" in names
        assert cfg["sizes"]["wheel"] == (root / cfg["wheel"]).stat().st_size
        assert "write_doc" in w.read_text() and "self.onmessage" in w.read_text()


def test_the_standard_library_ships_compiled_by_pyodides_python(site, built):
    # the core's python_stdlib.zip holds sources only: the pages would compile what they import
    cfg = _worker_config((site / "autograd.js").read_text())
    zpath = site / cfg["stdlib"]
    assert re.fullmatch(r"stdlib/python_stdlib-[0-9a-f]{12}\.zip", cfg["stdlib"]) and zpath.is_file()
    core = zipfile.ZipFile(CORE / "python_stdlib.zip").namelist()
    ours = set(zipfile.ZipFile(zpath).namelist())
    sources = [n for n in core if n.endswith(".py")]
    assert len(sources) > 500
    compiled = [n for n in sources if n[:-3] + ".pyc" in ours]
    assert len(compiled) >= len(sources) - 5 and not set(compiled) & ours  # sourceless, beside where foo.py was
    assert {n for n in core if not n.endswith(".py")} <= ours  # data files and folders kept
    with zipfile.ZipFile(zpath) as z:
        pyc = z.read("json/__init__.pyc")
    # CPython 3.13's magic number (Pyodide's Python), an unchecked hash-based pyc (flags 0b01)
    assert pyc[:4] == (3571).to_bytes(2, "little") + b"\r\n" and int.from_bytes(pyc[4:8], "little") == 1
    # downloaded on first use, counted in the runtime stage's size; the core's zip is not fetched
    pre, run, _ = _sw_lists(site)
    assert cfg["stdlib"] in run and cfg["stdlib"] not in pre
    assert not any(u.endswith("python_stdlib.zip") for u in run)
    assert cfg["knownSizes"][zpath.name] == zpath.stat().st_size
    assert cfg["sizes"]["runtime"] == zpath.stat().st_size + sum(
        (CORE / f).stat().st_size for f in ("pyodide.asm.wasm", "pyodide-lock.json"))


def test_digits_pages_fetch_the_data_and_the_others_do_not(site, built):
    for slug in built[1]["apps"]:
        cfg = _worker_config((site / f"{slug}.js").read_text())
        # (the pretrained GPT goes along when it was built: the gpt app does without it)
        want = {"digits": ["mnist10k.npz"], "gan": ["mnist10k.npz"], "gpt": ["shakespeare.txt.gz", "gpt_baby.npz"]}
        got = [d["file"] for d in cfg["data"]]
        assert got == [f for f in want.get(slug, []) if (site / "data" / f).is_file()], slug
        # the pretrained GPT is fetched when its button is pressed, not at boot: the data stage
        # counts the rest
        lazy = [d["file"] for d in cfg["data"] if d["lazy"]]
        assert lazy == [f for f in got if f == "gpt_baby.npz"], slug
        assert all(d["bytes"] == (site / "data" / d["file"]).stat().st_size for d in cfg["data"])
        assert cfg["sizes"]["data"] == sum((site / "data" / f).stat().st_size for f in got if f not in lazy), slug


def test_the_pretrained_gpt_is_lazy_on_the_gpt_page_and_embed_and_at_boot_in_lesson_10(site, built):
    if not (site / "data" / "gpt_baby.npz").is_file():
        pytest.skip("playground/assets/gpt_baby.npz not built: the pages go without it")
    pre, run, _ = _sw_lists(site)
    assert "data/gpt_baby.npz" in run and "data/gpt_baby.npz" not in pre  # cached on first use
    lesson = next(s for s in built[1]["lessons"] if s.startswith("10-"))
    for js, lazy in (("gpt.js", True), ("embed/gpt.js", True), (f"lessons/{lesson}.js", False)):
        text = (site / js).read_text()
        cfg = _worker_config(text)
        d = {d["file"]: d for d in cfg["data"]}
        assert d["gpt_baby.npz"]["lazy"] is lazy and d["shakespeare.txt.gz"]["lazy"] is False, js
        sizes = {f: (site / "data" / f).stat().st_size for f in d}
        assert cfg["sizes"]["data"] == sizes["shakespeare.txt.gz"] + (0 if lazy else sizes["gpt_baby.npz"]), js
    # the worker fetches only the others at boot and hands the lazy one's address to Python
    assert 'd.env + "_URL"' in text and "filter((d) => !d.lazy)" in text


def test_index_is_a_gallery_with_lessons_embeds_and_offline_sections(site, built):
    text = (site / "index.html").read_text()
    for slug in built[1]["apps"]:
        assert f'href="{slug}.html"' in text
    assert "<h2>Lessons</h2>" in text and "<h2>Embed in your blog</h2>" in text
    assert "<h2>Use it offline</h2>" in text
    lessons = sorted((ROOT / "lessons").glob("[0-9][0-9]-*.md"))
    for d in lesson_index():
        assert f'<a href="lessons/{d["slug"]}.html">{html.escape(d["title"])}</a>' in text
        assert html.escape(d["summary"]) in text
    if not lessons:
        assert "No lessons yet" in text
    else:  # the learner's progress from localStorage, per lesson
        assert index_progress_script(lesson_index(), prefix="lessons/") in text


def test_app_pages_have_chrome_and_an_embed_button_embeds_have_none(site, built):
    for slug in built[1]["apps"]:
        text = (site / f"{slug}.html").read_text()
        assert 'class="descent-bar-top"' in text and "data-embed-widget=" in text
        assert 'DescentLoader.worker("./' + slug + '.js")' in text
        assert "serviceWorker.register" not in text  # Panel's forced-reload registration is gone
    for w in built[1]["embeds"]:
        text = (site / "embed" / f"{w}.html").read_text()
        assert "data-descent-embed" in text and "descent-bar-top" not in text
        assert f'DescentLoader.worker("./{w}.js")' in text
        # the badge sits below the app's root, in the flow, not over the app
        assert text.index("descent-embed-badge") > text.index("data-root-id=")


def test_embed_js_knows_the_embeds_the_build_made(site, built):
    # a misspelt data-descent name is answered with these names (js/embed.js), one list: EMBEDS
    m = re.search(r"const NAMES = (\[.*?\]);", (site / "js" / "embed.js").read_text())
    assert m, "embed.js without the list of embeds"
    assert json.loads(m.group(1)) == built[1]["embeds"] == [e.widget for e in EMBEDS]


def test_every_page_loads_the_loader_in_order_with_the_one_list_of_stages(site):
    pages = [*site.glob("*.html"), *(site / "embed").glob("*.html"), *(site / "lessons").glob("*.html")]
    assert len(pages) > 3
    for page in pages:
        text = page.read_text()
        assert tuple(re.findall(r'<script src="(?:\.\./)?js/loader/(\w+)\.js"', text)) == sb.SCRIPTS, page.name
        m = re.search(r'data-stages="([^"]*)"', text)
        assert m and json.loads(html.unescape(m.group(1))) == [list(s) for s in sb.STAGES], page.name


def test_loader_scripts_are_the_files_of_site_js_loader():
    assert sorted(sb.SCRIPTS) == sorted(p.stem for p in (ROOT / "site" / "js" / "loader").glob("*.js"))


def test_the_worker_begins_the_stages_the_loader_shows_in_their_order():
    template = (ROOT / "site" / "templates" / "worker.js").read_text()
    assert sb.check_stages(template) == template
    with pytest.raises(sb.BuildError, match="stages"):
        sb.check_stages(template.replace('begin("wheel"', 'begin("our-wheel"'))


def test_the_worker_holds_no_python_program_and_calls_functions_of_playground_worker():
    template = (ROOT / "site" / "templates" / "worker.js").read_text()
    assert not re.search(r"^\s*((async )?def \w+\(.*\):|import [\w.]+|from [\w.]+ import .+)\s*$", template, re.M)
    calls = re.findall(r'workerPython\("(\w+)", "(\w+)"\)', template)
    assert {m for m, _ in calls} == {"later", "backends", "bridge"}
    for mod, fn in calls:
        tree = ast.parse((ROOT / "playground" / "worker" / f"{mod}.py").read_text())
        assert fn in {n.name for n in tree.body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))}, (mod, fn)


def _app_code(worker_text):
    """The Python a worker runs, decoded from its JavaScript template literal."""
    m = re.search(r"const APP_CODE = `(.*?)`;\n", worker_text, re.S)
    assert m, "worker without APP_CODE"
    return m.group(1).replace("\\`", "`").encode("latin-1", "backslashreplace").decode("unicode_escape")


def test_every_lesson_is_a_pyodide_page_with_its_own_worker_and_text(site, built):
    index = lesson_index()
    assert built[1]["lessons"] == [d["slug"] for d in index] and len(index) == len(list((ROOT / "lessons").glob("[0-9][0-9]-*.md"))) == 10
    for d in index:
        slug = d["slug"]
        page, worker = site / "lessons" / f"{slug}.html", site / "lessons" / f"{slug}.js"
        assert page.is_file() and worker.is_file(), slug
        text = page.read_text()
        assert f'DescentLoader.worker("./{slug}.js")' in text and "serviceWorker.register" not in text
        assert 'class="descent-bar-top"' in text and "data-embed-widget=" not in text
        assert "data-descent-lesson" in text and 'href="../index.html"' in text
        assert "{{ exercise:" not in text and "{{ widget:" not in text and "\norder:" not in text
        # pre-rendered: the lesson's heading is in the page before Python boots
        assert html.escape(html.escape(d["title"], quote=False), quote=False) in text or d["title"] in text
        cfg = _worker_config(worker.read_text())
        assert cfg["siteRoot"] == "../" and cfg["title"] == d["title"]
        # the widgets that read data get it: lessons 1, 5 (digits), 7 (gan: MNIST) and 10 (gpt: Shakespeare)
        assert bool(cfg["data"]) == (slug[:2] in ("01", "05", "07", "10")), slug
        code = _app_code(worker.read_text())
        assert f"lesson_page({slug!r}, text=_TEXT, links='site', index=_INDEX)" in code
        assert "pn.extension('codeeditor')" in code
        # the Markdown the worker renders is the lesson file, byte for byte
        assigned = dict(re.findall(r"^(_TEXT|_INDEX) = (.*)$", code, re.M))
        assert ast.literal_eval(assigned["_TEXT"]) == (ROOT / "lessons" / f"{slug}.md").read_text(encoding="utf-8")
        assert ast.literal_eval(assigned["_INDEX"]) == index


def test_lesson_stub_survives_dollar_signs_and_backticks():
    text = "---\ntitle: T\nsummary: s\norder: 1\nnext:\n---\n# T\n\nCost `${x}` in $$ and \\ \u2713\n"
    stub = sb.lesson_stub("01-t", text, [], "Descent · T")
    assert "$" not in stub
    ns = {}
    exec(stub.split("from playground.lessons.page")[0] + stub.split("\n\n", 1)[1].split("lesson_page(")[0], ns)
    assert ns["_TEXT"] == text


def test_descent_wheel_is_pure_and_installs_in_a_clean_venv(site, tmp_path):
    (whl,) = (site / "wheels").glob("descent-*.whl")
    assert whl.name.endswith("-py3-none-any.whl")
    names = zipfile.ZipFile(whl).namelist()
    assert "engine/__init__.py" in names and "playground/sitebuild/build.py" in names
    assert not [n for n in names if n.endswith((".so", ".pyd", ".dll"))]
    # the data travels beside the wheel (sitebuild.data)
    assert not [n for n in names if any(d in n.lower() for d in ("mnist", "shakespeare", "gpt_baby"))]
    env = tmp_path / "venv"
    venv.create(env, with_pip=True)
    py = env / "bin" / "python"
    subprocess.run([py, "-m", "pip", "install", "-q", "--no-deps", "--no-index", str(whl)],
                   check=True, capture_output=True)
    r = subprocess.run([py, "-c", "import importlib.metadata as m, importlib.util as u; "
                        "print(m.version('descent'), bool(u.find_spec('engine')), bool(u.find_spec('playground')))"],
                       capture_output=True, text=True)
    assert r.stdout.split() == ["0.1.0", "True", "True"], r.stderr


def test_wheels_carry_bytecode_for_pyodides_python(site):
    """Third-party wheels: sources replaced by CPython 3.13 bytecode; ours keeps its sources
    beside __pycache__/*.cpython-313.pyc (tracebacks, inspect.getsource)."""
    import importlib.util
    for whl in (site / "wheels").glob("*.whl"):
        names = zipfile.ZipFile(whl).namelist()
        pyc = [n for n in names if n.endswith(".pyc")]
        assert pyc, whl.name
        head = zipfile.ZipFile(whl).read(pyc[0])[:4]
        assert head != importlib.util.MAGIC_NUMBER  # not this CPython's (3.11) bytecode ...
        assert int.from_bytes(head[:2], "little") in range(3550, 3600)  # ... but 3.13's
        if whl.name.startswith("descent-"):
            assert "engine/tensor.py" in names and "engine/__pycache__/tensor.cpython-313.pyc" in names
        else:
            assert not [n for n in names if n.endswith(".py")], whl.name


def test_bokeh_wheel_carries_no_bokehjs(site):
    (bokeh,) = (site / "wheels").glob("bokeh-3.9.2-*.whl")
    z = zipfile.ZipFile(bokeh)
    names = z.namelist()
    assert "bokeh/models/plots.pyc" in names and "bokeh/core/_templates/file.html.jinja" in names
    assert not [n for n in names if n.startswith(("bokeh/server/static/", "bokeh/sphinxext/"))]
    record = next(n for n in names if n.endswith(".dist-info/RECORD"))
    assert {line.split(",")[0] for line in z.read(record).decode().splitlines() if line} == set(names)
    assert bokeh.stat().st_size < 2.5e6  # 6.9 MB from PyPI


def test_site_wheels_are_pure_and_panel_is_slimmed(site):
    for w in (site / "wheels").glob("*.whl"):
        assert w.name.endswith("-none-any.whl"), w.name
    (panel,) = (site / "wheels").glob("panel-1.9.4-*.whl")
    z = zipfile.ZipFile(panel)
    names = z.namelist()
    assert "panel/__init__.pyc" in names and "panel/io/pyodide.pyc" in names
    # bundled JavaScript is gone (the page loads it from vendor/); bundled CSS stays so that
    # Panel points stylesheets at vendor/ rather than a third-party CDN
    assert not [n for n in names if n.startswith("panel/dist/bundled/") and not n.endswith(".css")]
    record = next(n for n in names if n.endswith(".dist-info/RECORD"))
    listed = {line.split(",")[0] for line in z.read(record).decode().splitlines() if line}
    assert listed == set(names), "RECORD must list exactly the files in the slimmed wheel"
    assert panel.stat().st_size < 5e6


def _sw_lists(site):
    js = (site / "sw.js").read_text()
    pre = json.loads(re.search(r"const PRECACHE = (\[.*?\]);", js, re.S).group(1))
    run = json.loads(re.search(r"const RUNTIME = (\[.*?\]);", js, re.S).group(1))
    cache = json.loads(re.search(r"const CACHE = (\".*?\");", js).group(1))
    return pre, run, cache


def test_service_worker_cache_lists_match_the_files(site):
    pre, run, cache = _sw_lists(site)
    files = {p.relative_to(site).as_posix() for p in site.rglob("*") if p.is_file()}
    files -= sb.NOT_CACHED
    local = {x for x in pre + run if not x.startswith("http") and x != "./"}
    assert local == files, (sorted(local - files)[:5], sorted(files - local)[:5])
    assert not set(pre) & set(run)
    assert all(x.startswith(("wheels/", "data/", "stdlib/", sb.PYODIDE_CDN)) for x in run)
    assert sb.PYODIDE_CDN + "pyodide.asm.wasm" in run and any(x.endswith(".whl") and "numpy" in x for x in run)
    version = json.loads((site / "version.json").read_text())
    assert cache == version["cache"] and re.fullmatch(r"descent-0\.1\.0-[0-9a-f]{12}", cache)
    assert (site / "manifest.webmanifest").is_file() and "manifest.webmanifest" in pre


def test_cache_key_changes_with_the_contents(site, tmp_path):
    copy = tmp_path / "s"
    shutil.copytree(site, copy)
    lock = sb.read_lock(CORE / "pyodide-lock.json")
    cfg = _worker_config((site / "autograd.js").read_text())
    pkgs = cfg["lockPackages"] + cfg["laterPackages"]
    same = sb.write_service_worker(copy, "0.1.0", sb.PYODIDE_CDN, pkgs, lock)
    assert same == _sw_lists(site)[2]
    (copy / "css" / "descent.css").write_text("/* changed */")
    assert sb.write_service_worker(copy, "0.1.0", sb.PYODIDE_CDN, pkgs, lock) != same


# ------------------------------------------------------------------ offline bundle

def fake_dist(path, lock_pkgs, drop=(), lock_drop=()):
    """A FAKE minimal Pyodide distribution: the npm core files, a lock file, and a stand-in
    file for every package the site needs (it is never booted here)."""
    path.mkdir(parents=True)
    for f in sb.RUNTIME_FILES:
        shutil.copy2(CORE / f, path / f)
    lock = json.loads((CORE / "pyodide-lock.json").read_text())
    for name in lock_drop:
        lock["packages"].pop(name)
    (path / "pyodide-lock.json").write_text(json.dumps(lock))
    for name, info in lock["packages"].items():
        if name in lock_pkgs and name not in drop:
            (path / info["file_name"]).write_bytes(b"fake wheel for " + name.encode())
    return path


@pytest.fixture(scope="session")
def offline(built, tmp_path_factory):
    site, summary = built
    copy = tmp_path_factory.mktemp("offline") / "_site"
    shutil.copytree(site, copy)
    dist = fake_dist(tmp_path_factory.mktemp("dist") / "pyodide", summary["lock_packages"])
    info = sb.make_offline_bundle(copy, dist, summary["lock_packages"])
    return Path(info["dir"]), info, summary


def test_offline_bundle_has_no_cdn_address_and_vendors_pyodide(offline):
    folder, info, summary = offline
    assert sb.offline_cdn_refs(folder) == []
    for p in folder.rglob("*"):
        if p.suffix in sb.TEXT_SUFFIXES and p.parts[len(folder.parts)] != "pyodide":
            assert "cdn.jsdelivr.net/pyodide" not in p.read_text(errors="ignore"), p
    for f in sb.RUNTIME_FILES:
        assert (folder / "pyodide" / f).is_file()
    lock = sb.read_lock(folder / "pyodide" / "pyodide-lock.json")
    for name in summary["lock_packages"]:
        assert (folder / "pyodide" / lock[name]["file_name"]).is_file()
    cfg = _worker_config((folder / "autograd.js").read_text())
    assert cfg["pyodide"] == "pyodide/"
    pre, run, cache = _sw_lists(folder)
    assert "pyodide/pyodide.asm.wasm" in run and cache.startswith("descent-0.1.0-offline-")
    assert info["bytes"] == sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


def test_offline_bundle_compiles_the_distributions_source_wheels(built, tmp_path):
    # PyPI's pure wheels in a distribution (jinja2, packaging…) hold sources: the bundle ships
    # them compiled, with the sha256 Pyodide checks set to match
    site, summary = built
    copy = tmp_path / "_site"
    shutil.copytree(site, copy)
    dist = fake_dist(tmp_path / "dist", summary["lock_packages"])
    lock = sb.read_lock(dist / "pyodide-lock.json")
    name = lock["packaging"]["file_name"]
    with zipfile.ZipFile(dist / name, "w") as z:
        z.writestr("packaging/__init__.py", "VERSION = 42\n")
        z.writestr("packaging/data.txt", "kept")
        z.writestr("packaging-24.2.dist-info/RECORD", "")
    info = sb.make_offline_bundle(copy, dist, summary["lock_packages"], quiet=True)
    pyo = Path(info["dir"]) / "pyodide"
    with zipfile.ZipFile(pyo / name) as z:
        assert {"packaging/__init__.pyc", "packaging/data.txt"} <= set(z.namelist())
        assert "packaging/__init__.py" not in z.namelist()
        assert z.read("packaging/__init__.pyc")[:4] == (3571).to_bytes(2, "little") + b"\r\n"
    raw = json.loads((pyo / "pyodide-lock.json").read_text())["packages"]
    assert raw["packaging"]["sha256"] == hashlib.sha256((pyo / name).read_bytes()).hexdigest()
    assert raw["packaging"]["sha256"] != lock["packaging"]["sha256"]
    # a package file without sources (here: numpy's stand-in) keeps its bytes and its hash
    other = lock["numpy"]["file_name"]
    assert (pyo / other).read_bytes() == (dist / other).read_bytes()
    assert raw["numpy"]["sha256"] == lock["numpy"]["sha256"]


def test_offline_bundle_zip_holds_the_folder(offline):
    folder, info, _ = offline
    names = zipfile.ZipFile(info["zip"]).namelist()
    assert f"{folder.name}/index.html" in names and f"{folder.name}/pyodide/pyodide.asm.wasm" in names
    assert len(names) == sum(1 for p in folder.rglob("*") if p.is_file())


def test_offline_bundle_prints_its_size(built, tmp_path, capsys):
    site, summary = built
    copy = tmp_path / "_site"
    shutil.copytree(site, copy)
    dist = fake_dist(tmp_path / "dist", summary["lock_packages"])
    sb.make_offline_bundle(copy, dist, summary["lock_packages"])
    out = capsys.readouterr().out
    assert re.search(r"offline bundle: .*_site-offline \(\d+\.\d MB\)", out), out


def test_offline_refuses_a_dist_without_the_numpy_wheel(built, tmp_path):
    pkgs = built[1]["lock_packages"]
    dist = fake_dist(tmp_path / "dist", pkgs, drop=("numpy",))
    with pytest.raises(sb.BuildError, match=r"lacks 1 file.*numpy-2\.2\.5.*full distribution"):
        sb.check_dist(dist, pkgs)


def test_offline_refuses_a_lock_without_numpy(built, tmp_path):
    pkgs = built[1]["lock_packages"]
    dist = fake_dist(tmp_path / "dist", pkgs, lock_drop=("numpy",))
    with pytest.raises(sb.BuildError, match="lists no numpy"):
        sb.check_dist(dist, pkgs)


def test_offline_refuses_the_npm_core_and_a_folder_without_a_lock(built, tmp_path):
    with pytest.raises(sb.BuildError, match=r"lacks \d+ file.*npm core"):
        sb.check_dist(CORE, built[1]["lock_packages"])
    (tmp_path / "empty").mkdir()
    with pytest.raises(sb.BuildError, match="no pyodide-lock.json"):
        sb.check_dist(tmp_path / "empty", built[1]["lock_packages"])


def test_cli_refuses_an_incomplete_dist_with_a_clear_message(tmp_path):
    (tmp_path / "d").mkdir()
    r = subprocess.run([sys.executable, "-m", "playground.cli", "build-site", "--out", str(tmp_path / "o"),
                        "--offline-dist", str(tmp_path / "d")], capture_output=True, text=True, cwd=ROOT)
    assert r.returncode != 0 and "no pyodide-lock.json" in r.stderr, r.stderr
    assert not (tmp_path / "o").exists()


def test_serve_local_serves_every_lesson_and_app(monkeypatch):
    import panel as pn
    calls = []
    monkeypatch.setattr(pn, "serve", lambda routes, **kw: calls.append((routes, kw)))
    assert sb.serve_local(port=5999) == 0
    ((routes, kw),) = calls
    assert kw["port"] == 5999 and kw["show"] is False
    apps, _ = sb.available_apps()
    assert set(routes) == {d["slug"] for d in lesson_index()} | {a.slug for a, _, _ in apps}


def test_lessons_are_listed_with_summaries(tmp_path):
    (tmp_path / "lessons").mkdir()
    (tmp_path / "lessons" / "01-gradient-descent.md").write_text(
        "---\ntitle: Gradient descent\nsummary: Step <downhill>.\norder: 1\nnext:\n---\n# Gradient descent\n\n"
        "{{ exercise: mse }}\n")
    (tmp_path / "lessons" / "README.md").write_text("not a lesson")
    lessons = sb.read_lessons(tmp_path)
    assert [slug for slug, _ in lessons] == ["01-gradient-descent"]
    index = sb.index_lessons(lessons)
    assert index[0]["summary"] == "Step <downhill>." and index[0]["exercises"] == ["mse"]
    page = sb.index_page([], index, [], "0.1.0")
    assert '<a href="lessons/01-gradient-descent.html">Gradient descent</a>' in page
    assert "Step &lt;downhill&gt;." in page and "1 exercise<" in page and "localStorage" in page
    assert "No lessons yet" in sb.index_page([], [], [], "0.1.0")
