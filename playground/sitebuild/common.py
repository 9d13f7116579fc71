"""Shared by every stage of the site build: pinned versions and addresses, small helpers.
The apps and embeds the site has are in playground.apps.registry."""
from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SITE_SRC = ROOT / "site"
PYODIDE_VERSION = "0.29.3"
PYODIDE_CDN = f"https://cdn.jsdelivr.net/pyodide/v{PYODIDE_VERSION}/full/"
BOKEH_VERSION = "3.9.2"
PANEL_VERSION = "1.9.4"
# addresses that must not survive in an offline bundle (and, but for Pyodide's, in any build)
CDN_PATTERNS = ("cdn.jsdelivr.net/pyodide", "cdn.holoviz.org", "cdn.bokeh.org",
                "pypi.org", "files.pythonhosted.org")
# what the pages fetch from the Pyodide distribution; its python_stdlib.zip is not among them:
# the site ships it compiled (stdlib/, sitebuild.wheels.compile_stdlib)
RUNTIME_FILES = ("pyodide.js", "pyodide.asm.js", "pyodide.asm.wasm", "pyodide-lock.json")
# Environment markers of Pyodide 0.29 (CPython 3.13, emscripten) for dependency resolution.
PYODIDE_ENV = {"python_version": "3.13", "python_full_version": "3.13.2", "sys_platform": "emscripten",
               "platform_system": "Emscripten", "platform_machine": "wasm32", "os_name": "posix",
               "implementation_name": "cpython", "platform_python_implementation": "CPython",
               "extra": ""}


class BuildError(RuntimeError):
    """The build cannot go on; the message says why and what to do."""


def log(msg):
    print(msg, flush=True)


def human(n):
    return f"{n / 1e6:.1f} MB" if n >= 1e5 else f"{n / 1e3:.0f} kB"


def canonical(name):
    """A package's name as Pyodide's lock and wheel file names compare it (PEP 503)."""
    return re.sub(r"[-_.]+", "-", name).lower()


def files_under(out: Path):
    return sorted(p for p in out.rglob("*") if p.is_file())


def relative(out, p):
    return p.relative_to(out).as_posix()


def project_version():
    m = re.search(r'^version\s*=\s*"([^"]+)"', (ROOT / "pyproject.toml").read_text(), re.M)
    return m.group(1) if m else "0"


NOT_CACHED = {"build.json", "sw.js", "version.json"}
TEXT_SUFFIXES = {".html", ".js", ".mjs", ".css", ".json", ".webmanifest", ".txt", ".md", ".svg"}
