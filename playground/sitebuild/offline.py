"""The offline bundle: the site with a Pyodide distribution vendored under pyodide/ and
every CDN address rewritten to it, plus its zip."""
from __future__ import annotations

import hashlib
import json
import re
import shutil
import zipfile
from pathlib import Path

from .common import (
    CDN_PATTERNS,
    PYODIDE_CDN,
    PYODIDE_VERSION,
    RUNTIME_FILES,
    TEXT_SUFFIXES,
    BuildError,
    canonical,
    files_under,
    human,
    log,
    project_version,
    relative,
)
from .pages import write_service_worker
from .wheels import build_cache, compile_wheels, read_lock

# ------------------------------------------------------------------ offline bundle

def check_dist(dist: Path, lock_pkgs):
    """Refuse a Pyodide distribution that lacks a file we need, saying which."""
    if not dist.is_dir():
        raise BuildError(f"--offline-dist {dist}: not a directory (a link that points nowhere?): point it at an "
                         f"unpacked full Pyodide {PYODIDE_VERSION} distribution (pyodide-{PYODIDE_VERSION}.tar.bz2)")
    lock_file = dist / "pyodide-lock.json"
    if not lock_file.is_file():
        raise BuildError(f"--offline-dist {dist}: no pyodide-lock.json there: point it at an unpacked full "
                         f"Pyodide {PYODIDE_VERSION} distribution (pyodide-{PYODIDE_VERSION}.tar.bz2)")
    missing = [f for f in RUNTIME_FILES if not (dist / f).is_file()]
    if lock_pkgs is None:
        return
    lock = read_lock(lock_file)
    lacking = [p for p in lock_pkgs if p not in lock]
    if lacking:
        raise BuildError(f"--offline-dist {dist}: its pyodide-lock.json lists no {', '.join(lacking)}; "
                         f"a full Pyodide {PYODIDE_VERSION} distribution has them")
    missing += [lock[p]["file_name"] for p in lock_pkgs if not (dist / lock[p]["file_name"]).is_file()]
    if missing:
        raise BuildError(f"--offline-dist {dist} lacks {len(missing)} file(s) the site needs: "
                         f"{', '.join(missing[:12])}{' …' if len(missing) > 12 else ''}. This looks like the "
                         f"npm core or a partial copy: use the full distribution (pyodide-{PYODIDE_VERSION}.tar.bz2 "
                         f"from github.com/pyodide/pyodide/releases).")




def make_offline_bundle(site: Path, dist: Path, lock_pkgs, quiet=False):
    """Copy the site to <site>-offline with Pyodide vendored under pyodide/ and every CDN
    address rewritten to it; zip it. Returns {"dir", "zip", "bytes"}."""
    check_dist(dist, lock_pkgs)
    lock = read_lock(dist / "pyodide-lock.json")
    dest = site.with_name(site.name + "-offline")
    if dest.exists():
        shutil.rmtree(dest)
    shutil.copytree(site, dest)
    pyo = dest / "pyodide"
    pyo.mkdir()
    for f in list(RUNTIME_FILES) + [lock[p]["file_name"] for p in lock_pkgs]:
        shutil.copy2(dist / f, pyo / f)
    _compile_packages(dist, pyo, lock_pkgs, lock)
    for p in files_under(dest):
        if p.suffix in TEXT_SUFFIXES and not p.is_relative_to(pyo):
            t = p.read_text(errors="surrogateescape")
            n = t.replace(PYODIDE_CDN, "pyodide/")
            if n != t:
                p.write_text(n, errors="surrogateescape")
    # the package sizes are known now: the loader shows a determinate bar for them too
    pkg_bytes = {lock[p]["file_name"]: (pyo / lock[p]["file_name"]).stat().st_size for p in lock_pkgs}
    for w in dest.rglob("*.js"):
        if not w.with_suffix(".html").is_file():
            continue
        t = w.read_text()
        m = re.search(r"const CONFIG = (\{.*?\n\});", t, re.S)
        if not m:
            continue
        cfg = json.loads(m.group(1))
        cfg["sizes"]["packages"] += sum(pkg_bytes[lock[p]["file_name"]] for p in cfg["lockPackages"])
        cfg["knownSizes"].update(pkg_bytes)
        w.write_text(t[:m.start(1)] + json.dumps(cfg, indent=1) + t[m.end(1):])
    # the service worker's cache key changes with the contents
    write_service_worker(dest, project_version() + "-offline", "pyodide/", lock_pkgs, lock)
    left = offline_cdn_refs(dest)
    if left:
        raise BuildError(f"CDN addresses left in the offline bundle: {left[:5]}")
    zpath = dest.with_suffix(".zip")
    with zipfile.ZipFile(zpath, "w", zipfile.ZIP_DEFLATED) as z:
        for p in files_under(dest):
            z.write(p, Path(dest.name) / p.relative_to(dest))
    size = sum(p.stat().st_size for p in files_under(dest))
    if not quiet:
        log(f"offline bundle: {dest} ({human(size)}), {zpath} ({human(zpath.stat().st_size)}); "
            f"serve it with: descent serve-site {dest}")
    return {"dir": str(dest), "zip": str(zpath), "bytes": size}


def _has_sources(path: Path):
    if not zipfile.is_zipfile(path):
        return False
    with zipfile.ZipFile(path) as z:
        return any(n.endswith(".py") for n in z.namelist())


def _compile_packages(dist: Path, pyo: Path, lock_pkgs, lock):
    """The distribution's wheels that still hold Python sources (PyPI's pure wheels: jinja2,
    packaging, tqdm…) compiled like the site's own (sourceless .pyc, Pyodide's CPython), and
    their sha256 in the bundle's pyodide-lock.json set to match: Pyodide checks it."""
    todo = [p for p in lock_pkgs if _has_sources(dist / lock[p]["file_name"])]
    if not todo:
        return
    for p in todo:
        (pyo / lock[p]["file_name"]).unlink()  # the copy: it may be read-only like its source
    compile_wheels([(dist / lock[p]["file_name"], pyo / lock[p]["file_name"], "sourceless") for p in todo],
                   build_cache())
    data = json.loads((pyo / "pyodide-lock.json").read_text())
    raw = {canonical(k): k for k in data["packages"]}
    for p in todo:
        data["packages"][raw[p]]["sha256"] = hashlib.sha256((pyo / lock[p]["file_name"]).read_bytes()).hexdigest()
    (pyo / "pyodide-lock.json").unlink()  # a copy of a read-only file may be read-only too
    (pyo / "pyodide-lock.json").write_text(json.dumps(data))


def offline_cdn_refs(folder: Path):
    """[(file, address)] for every CDN address in the text files (not Pyodide's own files)."""
    hits = []
    for p in files_under(folder):
        if p.suffix not in TEXT_SUFFIXES or p.parts[len(folder.parts)] == "pyodide":
            continue
        t = p.read_text(errors="ignore")
        for pat in CDN_PATTERNS:
            if pat in t:
                hits.append((relative(folder, p), pat))
    return hits
