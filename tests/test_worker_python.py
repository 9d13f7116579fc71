"""The Python a page's worker runs around the app (playground/worker/), on CPython: the
pyodide_http placeholder and its swap, the backend installer's answer when a backend breaks, and
Panel's page <-> worker messages applied through Panel's own functions (its worker module
imported here over a stand-in for Pyodide's `js` and `pyodide` modules)."""
import asyncio
import importlib
import json
import os
import sys
import types

import pytest

import playground.worker
from engine import backend
from playground.ui.page import AFTER_RENDER
from playground.worker import backends, later

# ----------------------------------------------------------------------------- later


@pytest.fixture
def no_pyodide_http():
    saved = sys.modules.pop("pyodide_http", None)
    yield
    sys.modules.pop("pyodide_http", None)
    if saved is not None:
        sys.modules["pyodide_http"] = saved


def test_the_placeholder_waits_then_the_real_pyodide_http_patches(no_pyodide_http, tmp_path, monkeypatch):
    later.hold()
    placeholder = sys.modules["pyodide_http"]
    assert placeholder.descent_placeholder and placeholder.patch_all() is None
    # what Panel's worker module does when it is imported: the placeholder answers
    import pyodide_http
    assert pyodide_http is placeholder

    (tmp_path / "pyodide_http.py").write_text("patched = []\ndef patch_all():\n    patched.append(True)\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    later.arrived()
    real = sys.modules["pyodide_http"]
    assert real is not placeholder and real.patched == [True]


def test_the_placeholder_never_replaces_a_real_pyodide_http(no_pyodide_http):
    real = types.ModuleType("pyodide_http")
    real.patch_all = lambda: None
    sys.modules["pyodide_http"] = real
    later.hold()
    assert sys.modules["pyodide_http"] is real


# ----------------------------------------------------------------------------- backends


@pytest.fixture
def seam():
    """The seam on numpy with a known reason; afterwards numpy again, with the reason it had."""
    before = backend.status()["reason"]
    backend.use("numpy", "default")
    yield
    backend.use("numpy", before)


def fake_backend_module(monkeypatch, name, install):
    mod = types.ModuleType(f"engine.backend.{name}")
    mod.install = install
    monkeypatch.setitem(sys.modules, mod.__name__, mod)


def test_a_backend_that_raises_leaves_numpy_and_says_why(seam, monkeypatch):
    async def install(module_url=None):
        raise RuntimeError(f"no adapter at {module_url}")
    fake_backend_module(monkeypatch, "broken", install)
    text = asyncio.run(backends.install("broken", "webgpu/matmul.js"))
    assert text == "numpy: the broken backend failed to start: no adapter at webgpu/matmul.js"
    assert backend.status()["backend"] == "numpy"
    # a second failure is added to the first: the bar says why neither runs
    fake_backend_module(monkeypatch, "gone", install)
    text = asyncio.run(backends.install("gone", "x.js"))
    assert text == ("numpy: the broken backend failed to start: no adapter at webgpu/matmul.js; "
                    "the gone backend failed to start: no adapter at x.js")


class Fake:
    def __init__(self, name):
        self.name = name

    def accepts(self, m, k, n):
        return True

    def matmul(self, a, b, ta=False, tb=False):
        raise AssertionError("not called here")


def test_a_backend_that_starts_is_named_with_what_takes_the_smaller_products(seam, monkeypatch):
    def installer(name):
        async def install(module_url=None):
            backend.register(Fake(name))
            backend.use(name, f"{name}: calibrated from {module_url}")
        return install
    fake_backend_module(monkeypatch, "kernels_a", installer("kernels_a"))
    fake_backend_module(monkeypatch, "gpu_b", installer("gpu_b"))
    assert asyncio.run(backends.install("kernels_a", "a.js")) == "kernels_a: calibrated from a.js"
    assert asyncio.run(backends.install("gpu_b", "b.js")) == \
        "gpu_b: calibrated from b.js; smaller products: kernels_a"


# ----------------------------------------------------------------------------- bridge


class JsObject:
    """What a JavaScript object is to Python in Pyodide, as far as Panel's worker code asks."""

    def __init__(self, value):
        self.value = value

    def to_py(self, default_converter=None):
        return self.value


def fake_pyodide_modules():
    """`js` and `pyodide` as far as panel.io.pyodide uses them at import and in the functions
    the bridge calls (no `js.document`: Panel then knows it runs in a worker)."""
    js = types.ModuleType("js")
    js.JSON = js.XMLHttpRequest = object()
    js.Map = types.SimpleNamespace(new=dict)
    js.Object = types.SimpleNamespace(entries=lambda d: list(d.items()))
    js.setTimeout = lambda fn, ms: fn()
    pyodide = types.ModuleType("pyodide")
    pyodide.ffi = types.SimpleNamespace(to_js=lambda x, **kw: x, create_proxy=lambda f: f, jsnull=object())
    pyodide.code = types.SimpleNamespace(run_js=lambda src: None)
    pyodide.http = types.SimpleNamespace(open_url=None)
    return {"js": js, "pyodide": pyodide}


@pytest.fixture
def bridge(monkeypatch, no_pyodide_http):
    """playground.worker.bridge over Panel's real worker module; everything importing that
    module changes in this process (environment, Panel's resource mode, param's executor,
    sys.modules) is put back afterwards."""
    import panel.io
    import param
    from panel.io import resources
    for k, v in fake_pyodide_modules().items():
        monkeypatch.setitem(sys.modules, k, v)
    later.hold()  # as in the page: Panel's module finds a pyodide_http (else it imports pandas)
    for var in ("BOKEH_RESOURCES", "MPLBACKEND"):
        was = os.environ.get(var)
        monkeypatch.setenv(var, was or "")
        if was is None:
            monkeypatch.delenv(var)
    monkeypatch.setattr(resources, "RESOURCE_MODE", resources.RESOURCE_MODE)
    monkeypatch.setattr(param.parameterized, "async_executor", param.parameterized.async_executor)
    for package, name in ((panel.io, "pyodide"), (playground.worker, "bridge")):
        monkeypatch.setattr(package, name, None, raising=False)
        monkeypatch.setitem(sys.modules, f"{package.__name__}.{name}", None)
        del sys.modules[f"{package.__name__}.{name}"]
    return importlib.import_module("playground.worker.bridge")


@pytest.fixture
def doc():
    from bokeh.document import Document
    from bokeh.models import TextInput
    from panel.io.state import set_curdoc
    d = Document()
    d.add_root(TextInput(value="start", name="box"))
    d.hold()  # as Panel's converted app leaves it until the page has rendered
    with set_curdoc(d):
        yield d


def box(doc):
    return doc.select_one({"name": "box"})


def test_rendered_links_the_document_then_runs_what_waited_for_the_render(bridge, doc):
    from panel.io.state import state
    ran, sent = [], []
    state.cache[AFTER_RENDER] = [lambda: ran.append("plots"), lambda: ran.append("table")]
    bridge.rendered(lambda patch, buffers, msg_id: sent.append(patch))
    assert ran == ["plots", "table"] and AFTER_RENDER not in state.cache
    box(doc).value = "from python"
    (event,) = sent[-1]["events"]
    assert event["kind"] == "ModelChanged" and event["attr"] == "value" and event["new"] == "from python"


def test_a_patch_from_the_page_is_applied_and_not_sent_back(bridge, doc):
    sent = []
    bridge.rendered(lambda patch, buffers, msg_id: sent.append(patch))
    m = box(doc)
    msg = {"events": [{"kind": "ModelChanged", "model": {"id": m.id}, "attr": "value", "new": "typed"}]}
    bridge.patch(JsObject(msg))
    assert m.value == "typed" and sent == []


def test_the_page_address_reaches_pn_state_location(bridge, doc):
    from panel.io.state import state
    bridge.location(json.dumps({"pathname": "/digits.html", "search": "?lr=0.01", "hash": "#run",
                                "not_a_parameter": 1}))
    loc = state.location
    assert (loc.pathname, loc.search, loc.hash) == ("/digits.html", "?lr=0.01", "#run")
