"""What the browser installs: Pyodide packages from its lock, the pure wheels the site ships
(bokeh, panel and their dependencies from PyPI, cached) and our own wheel."""
from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

from .common import PYODIDE_ENV, PYODIDE_VERSION, ROOT, BuildError, canonical, log

# Requirements of bokeh/panel the pages never import, left out on purpose: each costs every
# visitor its download and, for compiled ones, the linking of its WebAssembly libraries at boot.
LEFT_OUT = {
    # Panel imports pandas in the worker only when pyodide_http is missing (panel/io/pyodide.py)
    "pandas": "panel needs it in Pyodide only without pyodide-http, which the pages load (4.3 MB)",
    "pillow": "bokeh uses PIL only to encode images given as PIL objects; the apps give numpy arrays",
    "contourpy": "bokeh imports it only for contour plots, which the apps do not draw",
    "panel-material-ui": "an optional widget set; panel itself never imports it",
}
BROWSER_ONLY = ["pyodide-http"]  # what the worker needs beyond bokeh/panel's requirements
# Packages of the lock that no page imports while it boots: the worker loads them right after
# the app is interactive (site/templates/worker.js, installLater). requests & co. come with
# panel and pyodide-http; the others serve Panel features the apps do not start with.
AFTER_BOOT = {"pyodide-http", "requests", "urllib3", "certifi", "charset-normalizer", "idna",
              "narwhals", "nh3", "xyzservices", "typing-extensions"}


def boot_and_later(lock_pkgs, lock):
    """(packages loaded while a page boots, packages loaded after it is interactive): a boot
    package's dependencies boot with it, whatever AFTER_BOOT says."""
    boot, todo = set(), [p for p in lock_pkgs if p not in AFTER_BOOT]
    while todo:
        p = todo.pop()
        if p not in boot:
            boot.add(p)
            todo.extend(canonical(d) for d in lock[p].get("depends", []))
    return sorted(boot), sorted(set(lock_pkgs) - boot)


def build_cache(cache=None):
    d = Path(cache or os.environ.get("DESCENT_SITE_CACHE") or
             Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "descent-site")
    d.mkdir(parents=True, exist_ok=True)
    return d


def read_lock(path):
    lock = json.loads(Path(path).read_text())
    return {canonical(k): v for k, v in lock["packages"].items()}


def resolve_packages(lock):
    """Split the Pyodide-side dependency closure of bokeh + panel + descent into packages
    of the Pyodide distribution (loadPackage) and pure wheels the site ships (name, version),
    from the metadata of the packages installed here, evaluated for Pyodide's markers."""
    from importlib.metadata import PackageNotFoundError, distribution

    from packaging.requirements import Requirement

    lock_pkgs, wheels, seen = set(), {}, set()
    todo = ["numpy", "bokeh", "panel", *BROWSER_ONLY]
    while todo:
        name = canonical(todo.pop())
        if name in seen or name in LEFT_OUT:
            continue
        seen.add(name)
        if name in lock and name not in ("bokeh", "panel"):  # those two: pinned wheels from PyPI
            lock_pkgs.add(name)
            todo.extend(lock[name].get("depends", []))
            continue
        try:
            dist = distribution(name)
        except PackageNotFoundError:
            raise BuildError(f"{name} is needed in the browser but is neither in Pyodide's lock file nor "
                             f"installed here to learn its version: pip install -e '.[apps]'") from None
        wheels[name] = dist.version
        for r in dist.requires or []:
            req = Requirement(r)
            if req.marker is None or req.marker.evaluate(PYODIDE_ENV):
                todo.append(req.name)
    return sorted(lock_pkgs), wheels


def download_wheels(wheels: dict, cache: Path):
    """pip download --no-deps each name==version once into the cache; returns the paths."""
    out, need = [], []
    for name, ver in sorted(wheels.items()):
        hits = [p for p in cache.glob("*.whl")
                if canonical(p.name.split("-")[0]) == name and p.name.split("-")[1] == ver]
        (out.append(hits[0]) if hits else need.append(f"{name}=={ver}"))
    if need:
        log(f"  downloading {len(need)} wheels from PyPI into {cache}: {' '.join(need)}")
        r = subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
                            "--platform", "any", "--python-version", "3.13", "-q", "-d", str(cache), *need],
                           capture_output=True, text=True)
        if r.returncode:
            raise BuildError("could not download wheels from PyPI (needed once, then cached in "
                             f"{cache}): {r.stderr.strip().splitlines()[-1:]}")
        return download_wheels(wheels, cache)
    for p in out:
        if not p.name.endswith("-none-any.whl"):
            raise BuildError(f"{p.name} is not a pure wheel: Pyodide cannot install it")
    return out


# What the worker never reads of a wheel, dropped from it at build time (as Panel's own Pyodide
# wheels do). Panel: 30 MB of JavaScript bundles the page loads from vendor/ (its bundled CSS
# stays: Panel's Python checks that those files exist before pointing stylesheets at
# PANEL_CDN_ROOT, our vendor/ folder). Bokeh: BokehJS and its TypeScript declarations (21.7 MB,
# 786 files; Python reads them only for inline or server resources, the pages use CDN mode)
# the Sphinx extension and the type stubs: 5 MB less to download and unpack at every boot.
SLIM = {
    "panel": re.compile(r"^panel/(dist/(bundled/(?!.*\.css$)|lib/|dts/)|tests/)|\.map$|^panel/dist/panel\.js(on)?$"),
    "bokeh": re.compile(r"^bokeh/(server/static/|sphinxext/)|^bokeh/.*\.pyi$"),
}


def slim_wheel(src: Path, dst: Path, drop):
    """Copy a wheel without the files `drop` matches, RECORD fixed to match."""
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w", zipfile.ZIP_DEFLATED) as zout:
        for item in zin.infolist():
            if drop.search(item.filename):
                continue
            data = zin.read(item.filename)
            if item.filename.endswith(".dist-info/RECORD"):
                data = "\n".join(l for l in data.decode().splitlines()
                                 if l and not drop.search(l.split(",")[0])).encode() + b"\n"
            zout.writestr(item, data)


def build_own_wheel(dest: Path):
    # setuptools copies into build/lib and reuses what it finds there: a file since dropped from
    # the package data (the Shakespeare corpus was, 430 kB) would still ship in every page's wheel
    shutil.rmtree(ROOT / "build" / "lib", ignore_errors=True)
    with tempfile.TemporaryDirectory() as tmp:
        r = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
                            "-q", "-w", tmp, str(ROOT)], capture_output=True, text=True)
        if r.returncode:
            raise BuildError(f"pip wheel failed: {r.stderr.strip()[-2000:]}")
        (whl,) = Path(tmp).glob("descent-*.whl")
        if not whl.name.endswith("-py3-none-any.whl"):
            raise BuildError(f"the descent wheel must be pure, got {whl.name}")
        shutil.copy2(whl, dest / whl.name)
        return dest / whl.name


def compile_wheels(jobs, cache: Path):
    """Bytecode for the page: jobs [(src wheel, dst wheel, "sourceless" | "cached")] are
    compiled by Pyodide's own CPython 3.13 (the npm core under node, pycompile.mjs), so the
    page imports them without compiling their sources first. Third-party results are cached
    by content; a missing node/core stops the build with what to install."""
    core = ROOT / "node_modules" / "pyodide"
    if shutil.which("node") is None or not (core / "pyodide.mjs").is_file():
        raise BuildError("compiling the wheels to bytecode needs node and the npm pyodide core: npm ci")
    todo, hits = [], []
    for src, dst, mode in jobs:
        if not Path(src).is_file():
            raise BuildError(f"compiling to bytecode: {src} is not there. What to do: run the build "
                             f"again (a file of the cache {cache} or the distribution may have been removed)")
        key = hashlib.sha256(Path(src).read_bytes()).hexdigest()[:16]
        cached = cache / "pyc" / f"{key}-{mode}-{Path(src).name}"
        if mode == "sourceless" and cached.is_file():
            hits.append((cached, dst))
            continue
        todo.append((src, dst, mode, cached if mode == "sourceless" else None))
    if todo:
        r = subprocess.run(["node", str(Path(__file__).with_name("pycompile.mjs")), str(core),
                            *[str(x) for src, dst, mode, _ in todo for x in (src, dst, mode)]],
                           capture_output=True, text=True)
        if r.returncode:
            raise BuildError(_compile_failure(r.stdout + r.stderr, cache))
        for src, dst, mode, cached in todo:
            if cached is not None:
                cached.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(dst, cached)
    for cached, dst in hits:
        shutil.copy2(cached, dst)


def _compile_failure(output: str, cache: Path) -> str:
    """What pycompile.mjs printed when it failed, as a build error: which file, the Python
    exception (the traceback's last line, then its last frames), what to do."""
    what, _, tb = output.partition("pycompile failed: ")[2].partition("\n")
    if not what:  # node itself failed before our script ran: its own last lines
        what, tb = "node", "\n".join(output.strip().splitlines()[-4:])
    lines = [l.replace("/host/", "/")[:300] for l in tb.strip().splitlines() if l.strip()]
    last = lines[-1] if lines else "(no message)"
    advice = ("the file is not a complete wheel or zip: delete it (the build downloads it again into "
              f"{cache}) or, for a distribution's file, unpack the distribution again"
              if "BadZipFile" in last or "zlib" in last else
              "check that node_modules/pyodide is Pyodide's npm core (npm ci) and that the paths "
              "exist; run the build again")
    frames = "\n".join("    " + l for l in lines[-8:-1])
    return (f"compiling to bytecode (Pyodide's CPython under node) failed on {what}:\n  {last}\n"
            f"{frames}\nWhat to do: {advice}.")


def compile_stdlib(dest: Path, cache: Path) -> Path:
    """Pyodide's standard library, compiled. The core's ``python_stdlib.zip`` (npm and CDN
    alike) holds sources only, so the page compiled every module it imported: ~2 s of Python's
    start and ~0.5 s more for what Bokeh and Panel import (README: the boot figures). Here each
    module becomes a sourceless unchecked-hash .pyc (zipimport finds ``foo.pyc`` beside where
    ``foo.py`` was), compiled by the same CPython as the runtime's; the pages load it with
    ``loadPyodide({stdLibURL})``. Named by its content, so a cache never serves another."""
    core = ROOT / "node_modules" / "pyodide"
    version = json.loads((core / "package.json").read_text()).get("version") if (core / "package.json").is_file() else None
    if version != PYODIDE_VERSION:
        raise BuildError(f"the standard library must come from Pyodide {PYODIDE_VERSION}'s core, "
                         f"node_modules/pyodide is {version or 'missing'}: npm ci")
    dest.mkdir(parents=True, exist_ok=True)
    tmp = dest / "python_stdlib.zip.part"
    compile_wheels([(core / "python_stdlib.zip", tmp, "sourceless")], cache)
    final = dest / f"python_stdlib-{hashlib.sha256(tmp.read_bytes()).hexdigest()[:12]}.zip"
    tmp.replace(final)
    return final
