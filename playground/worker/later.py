"""pyodide_http, later. The packages no page imports while it boots (requests and its kin, which
Panel's worker code patches through pyodide-http; see sitebuild.wheels.AFTER_BOOT) load once the
app is interactive. Until then Panel gets a pyodide_http whose patch_all() waits; without any
pyodide_http, Panel would import pandas."""
import sys
import types


def hold():
    """Put the placeholder pyodide_http in place (unless a real one is already there)."""
    placeholder = types.ModuleType("pyodide_http")
    placeholder.patch_all = lambda: None
    placeholder.descent_placeholder = True
    sys.modules.setdefault("pyodide_http", placeholder)


def arrived():
    """The later packages are loaded: the real pyodide_http replaces the placeholder and
    patches requests/urllib."""
    if getattr(sys.modules.get("pyodide_http"), "descent_placeholder", False):
        del sys.modules["pyodide_http"]
    import pyodide_http
    pyodide_http.patch_all()
