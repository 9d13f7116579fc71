"""The matmul backends a page installs: the WebAssembly kernels before the app is built, WebGPU
once it is interactive (site/templates/worker.js, installBackend). Whatever fails leaves what
ran before it, and the bar says which backend runs and why."""
import importlib

from engine import backend


async def install(name, url):
    """Install engine.backend.<name> from its JavaScript module at `url`; returns the line the
    page's bar shows (which backend runs, why, and what takes the smaller products)."""
    try:
        await importlib.import_module(f"engine.backend.{name}").install(module_url=url)
    except Exception as e:  # the app must run even when a backend breaks
        backend.unavailable(f"numpy: the {name} backend failed to start: {e}")
    st = backend.status()
    under = f"; smaller products: {st['under']}" if st["under"] != "numpy" else ""
    return st["reason"] + under
