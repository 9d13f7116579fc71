"""The engine ships as a pure wheel that Pyodide installs: check the built artefact itself."""
import ast
import subprocess
import sys
import venv
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
# Modules that do not work (or do not exist) in Pyodide's WebAssembly runtime.
# (ctypes is there: Pyodide 0.29 builds it, and engine.backend.wasm reads numpy's pointers with
# it in the page — tests/test_wasm_backend.py runs that in Chromium)
UNAVAILABLE_IN_PYODIDE = {"threading", "_thread", "multiprocessing", "subprocess",
                          "concurrent", "socket", "signal", "tkinter", "readline", "curses"}


@pytest.fixture(scope="module")
def wheel(tmp_path_factory):
    out = tmp_path_factory.mktemp("dist")
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
                    "-w", str(out), str(ROOT)], check=True, capture_output=True)
    (whl,) = out.glob("descent-*.whl")
    return whl


def test_wheel_is_pure_and_holds_both_packages(wheel):
    assert wheel.name.endswith("-py3-none-any.whl"), wheel.name
    names = zipfile.ZipFile(wheel).namelist()
    assert "engine/tensor.py" in names and "engine/backend/__init__.py" in names
    assert any(n.startswith("playground/") for n in names)
    # the Python the page's worker runs around the app (site/templates/worker.js imports it)
    assert {"playground/worker/later.py", "playground/worker/backends.py", "playground/worker/bridge.py"} <= set(names)
    assert not [n for n in names if n.endswith((".so", ".pyd", ".dll", ".pyc"))]
    # the MNIST data travels beside the wheel on the site, not inside it
    assert not [n for n in names if n.endswith(".npz") and "mnist" in n]


def _imported_modules(source):
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            yield from (a.name.split(".")[0] for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            yield node.module.split(".")[0]


def test_engine_uses_only_numpy_and_what_pyodide_has(wheel):
    zf = zipfile.ZipFile(wheel)
    stdlib = set(sys.stdlib_module_names)
    for name in zf.namelist():
        if not (name.startswith("engine/") and name.endswith(".py")):
            continue
        mods = set(_imported_modules(zf.read(name).decode()))
        # `js`, `pyodide` and `pyodide_js` exist only in the browser; the WebGPU and WebAssembly
        # backends import them lazily, when installing
        foreign = mods - stdlib - {"numpy", "engine", "js", "pyodide", "pyodide_js"}
        assert not foreign, f"{name} imports {foreign}: the engine may use numpy and the stdlib only"
        banned = mods & UNAVAILABLE_IN_PYODIDE
        assert not banned, f"{name} imports {banned}, which Pyodide lacks"


def test_wheel_imports_in_a_clean_venv_with_numpy_alone(wheel, tmp_path):
    env = tmp_path / "venv"
    venv.create(env, with_pip=True)
    py = env / "bin" / "python"
    subprocess.run([py, "-m", "pip", "install", "-q", "--no-deps", "numpy==2.2.5", str(wheel)],
                   check=True, capture_output=True)
    code = ("import engine, sys; from engine import nn, optim, io, data; "
            "x = engine.randn(4, 3, requires_grad=True); (x * x).sum().backward(); "
            "assert x.grad.shape == (4, 3); "
            "assert not {'panel', 'bokeh', 'torch'} & set(sys.modules); print('ok')")
    r = subprocess.run([py, "-c", code], capture_output=True, text=True)
    assert r.returncode == 0 and r.stdout.strip() == "ok", r.stderr
