"""The build itself (`descent build-site`): the stages of the other modules, run in order."""
from __future__ import annotations

import concurrent.futures as cf
import json
import shutil
import tempfile
import time
from pathlib import Path

from playground.apps.registry import EMBEDS, App

from .common import (
    PYODIDE_CDN,
    PYODIDE_VERSION,
    ROOT,
    RUNTIME_FILES,
    SITE_SRC,
    BuildError,
    canonical,
    files_under,
    human,
    log,
    project_version,
)
from .convert import (
    app_stub,
    available_apps,
    convert,
    index_lessons,
    lesson_data,
    lesson_stub,
    read_lessons,
)
from .data import DATA, check_names, copy_data, missing_required, page_data
from .loader import check_stages
from .offline import check_dist, make_offline_bundle
from .pages import MANIFEST, embed_index_page, index_page, write_service_worker
from .postprocess import make_worker, panel_app_code, postprocess_page
from .vendor import copy_vendor
from .wheels import (
    SLIM,
    boot_and_later,
    build_cache,
    build_own_wheel,
    compile_stdlib,
    compile_wheels,
    download_wheels,
    read_lock,
    resolve_packages,
    slim_wheel,
)


def build_site(out="_site", offline_dist=None, cache=None, quiet=False):
    """Build the site into `out`; returns a summary dict."""
    t0 = time.perf_counter()
    out = Path(out).resolve()
    if out == ROOT or out == SITE_SRC:
        raise BuildError(f"refusing to build into {out}")
    if not SITE_SRC.is_dir():
        raise BuildError(f"{SITE_SRC} not found: build-site runs from a Descent checkout")
    lock_path = ROOT / "node_modules" / "pyodide" / "pyodide-lock.json"
    if offline_dist:
        lock_path = Path(offline_dist) / "pyodide-lock.json"
        check_dist(Path(offline_dist), None)  # fails early on a dist without a lock file
    if not lock_path.is_file():
        raise BuildError(f"{lock_path} not found: run `npm ci` (npm pyodide@{PYODIDE_VERSION} gives the lock file)")
    check_names()
    if why := missing_required():
        raise BuildError(why)
    apps, notes = available_apps()
    if not apps:
        raise BuildError("no app found under playground/apps")
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    for d in ("wheels", "data", "embed", "lessons", "icons", "webgpu", "wasm"):
        (out / d).mkdir()

    lock = read_lock(lock_path)
    lock_pkgs, dep_wheels = resolve_packages(lock)
    dep_wheels.pop("descent", None)
    cache_dir = build_cache(cache)
    by_slug = {a.slug: (a, f, acc) for a, f, acc in apps}

    jobs, targets = [], []  # targets: (converted page, output name, True (embed) / False (app) / "lesson", App)
    for a, func, _ in apps:
        jobs.append((a.slug, app_stub(a, func, {}, f"Descent · {a.title}"), f"Descent {a.title}"))
        targets.append((a.slug, a.slug, False, a))
    embed_notes = {}
    embeds = []
    for e in EMBEDS:
        if e.app not in by_slug:
            continue
        a, func, accepts = by_slug[e.app]
        kwargs = {k: v for k, v in e.kwargs.items() if k in accepts}
        if kwargs != e.kwargs:
            embed_notes[e.widget] = (f"{func}() takes no {', '.join(sorted(set(e.kwargs) - set(kwargs)))} "
                                     f"yet: the embed shows the whole app")
        embeds.append(e)
        if kwargs:
            jobs.append((f"embed-{e.widget}", app_stub(a, func, kwargs, f"Descent · {e.widget}"),
                         f"Descent embed {e.widget}"))
            targets.append((f"embed-{e.widget}", e.widget, True, a))
        else:  # the same document as the app page: convert once
            targets.append((a.slug, e.widget, True, a))
    lessons = read_lessons()
    index = index_lessons(lessons)
    by_lesson = {d["slug"]: d for d in index}
    for slug, text in lessons:
        d = by_lesson[slug]
        jobs.append((f"lesson-{slug}", lesson_stub(slug, text, index, f"Descent · {d['title']}"),
                     f"Descent lesson {slug}"))
        targets.append((f"lesson-{slug}", slug, "lesson",
                        App(slug, "playground.lessons.page", "lesson_page", d["title"], d["summary"],
                            data=lesson_data(text))))

    with tempfile.TemporaryDirectory() as tmp, cf.ThreadPoolExecutor(2) as pool:
        own = pool.submit(build_own_wheel, out / "wheels")
        deps = pool.submit(download_wheels, dep_wheels, cache_dir)
        log(f"converting {len(jobs)} pages with panel convert (pyodide-worker)…")
        converted = convert(jobs, Path(tmp))
        own_whl = own.result()
        dep_paths = deps.result()
        icons_src = next(iter(converted.values()))[2] / "images"
        for f in icons_src.iterdir():
            shutil.copy2(f, out / "icons" / f.name)

    site_wheels, jobs = [], []
    with tempfile.TemporaryDirectory() as tmp:
        for p in dep_paths:
            if canonical(p.name.split("-")[0]) in SLIM:
                slim_wheel(p, Path(tmp) / p.name, SLIM[canonical(p.name.split("-")[0])])
                p = Path(tmp) / p.name
            jobs.append((p, out / "wheels" / p.name, "sourceless"))
            site_wheels.append(f"wheels/{p.name}")
        shutil.move(own_whl, Path(tmp) / own_whl.name)
        jobs.append((Path(tmp) / own_whl.name, own_whl, "cached"))
        log(f"compiling {len(jobs)} wheels to bytecode with Pyodide's CPython…")
        compile_wheels(jobs, cache_dir)
        stdlib_zip = compile_stdlib(out / "stdlib", cache_dir)
    site_wheels.sort()
    data_sizes, data_notes = copy_data(out / "data")
    notes = notes + data_notes
    for sub in ("js", "css"):
        if (SITE_SRC / sub).is_dir():
            shutil.copytree(SITE_SRC / sub, out / sub)
    _write_embed_names(out / "js" / "embed.js", embeds)
    for f in (SITE_SRC / "webgpu").glob("*.js"):
        shutil.copy2(f, out / "webgpu" / f.name)
    _build_wasm(out / "wasm")

    core = ROOT / "node_modules" / "pyodide"
    runtime_size = stdlib_zip.stat().st_size + sum(
        (core / f).stat().st_size for f in RUNTIME_FILES if (core / f).is_file() and f not in ("pyodide.js", "pyodide.asm.js"))
    sizes = {"runtime": runtime_size,
             "packages": sum((out / w).stat().st_size for w in site_wheels),
             "wheel": own_whl.stat().st_size}
    known = {f: (core / f).stat().st_size for f in RUNTIME_FILES if (core / f).is_file()}
    known[stdlib_zip.name] = stdlib_zip.stat().st_size
    known.update({Path(w).name: (out / w).stat().st_size for w in site_wheels})
    known[own_whl.name] = sizes["wheel"]
    known.update({DATA[n].file: size for n, size in data_sizes.items()})
    template = check_stages((SITE_SRC / "templates" / "worker.js").read_text())
    boot_pkgs, later_pkgs = boot_and_later(lock_pkgs, lock)

    pages = []
    for conv, slug, is_embed, app in targets:
        page, worker_js, _ = converted[conv]
        is_lesson = is_embed == "lesson"
        is_embed = is_embed is True
        prefix = "../" if is_embed or is_lesson else ""
        code = panel_app_code(worker_js)
        data, data_bytes = page_data(app.data, data_sizes, at_boot=is_lesson)
        config = {"siteRoot": prefix or "./", "pyodide": PYODIDE_CDN, "pyodideVersion": PYODIDE_VERSION,
                  "stdlib": f"stdlib/{stdlib_zip.name}",
                  "title": app.title, "lockPackages": boot_pkgs, "laterPackages": later_pkgs,
                  "lockFiles": {p: lock[p]["file_name"] for p in lock_pkgs},
                  "wheels": site_wheels, "wheel": f"wheels/{own_whl.name}",
                  "data": data, "webgpu": "webgpu/matmul.js",
                  "wasm": "wasm/kernels.js",
                  "sizes": {**sizes, "data": data_bytes}, "knownSizes": known}
        html_text = postprocess_page(page, name=slug, converted_as=conv, prefix=prefix, title=app.title,
                                     embed_widget=slug if is_embed else (app.embed or app.slug),
                                     is_embed=is_embed, app_slug=app.slug, is_lesson=is_lesson)
        target = out / ("embed" if is_embed else "lessons" if is_lesson else "") / f"{slug}.html"
        target.write_text(html_text)
        target.with_suffix(".js").write_text(make_worker(template, code=code, config=config))
        pages.append(html_text)

    copy_vendor(out, pages)
    version = project_version()
    (out / "index.html").write_text(index_page(apps, index, embeds, version))
    (out / "embed" / "index.html").write_text(embed_index_page(embeds))
    (out / "manifest.webmanifest").write_text(json.dumps(MANIFEST, indent=1))
    write_service_worker(out, version, PYODIDE_CDN, lock_pkgs, lock)

    summary = {"out": str(out), "pages": len(targets), "apps": [a.slug for a, _, _ in apps],
               "embeds": [e.widget for e in embeds], "lessons": [d["slug"] for d in index], "notes": notes,
               "embed_notes": embed_notes, "wheels": [own_whl.name] + [Path(w).name for w in site_wheels],
               "lock_packages": lock_pkgs, "bytes": sum(p.stat().st_size for p in files_under(out))}
    (out / "build.json").write_text(json.dumps(summary, indent=1))
    if not quiet:
        for n in notes + [f"embed {k}: {v}" for k, v in embed_notes.items()]:
            log(f"  note: {n}")
        log(f"built {out}: {len(targets)} pages ({len(converted)} conversions), {len(files_under(out))} files, {human(summary['bytes'])} "
            f"(Pyodide {PYODIDE_VERSION} + {len(lock_pkgs)} of its packages from {PYODIDE_CDN}) "
            f"in {time.perf_counter() - t0:.0f} s")
    if offline_dist:
        summary["offline"] = make_offline_bundle(out, Path(offline_dist), lock_pkgs, quiet=quiet)
    return summary


def _write_embed_names(js: Path, embeds):
    """embed.js learns the names of the embeds built (a misspelt one is answered in the page)."""
    text = js.read_text()
    if "/*@EMBEDS@*/null" not in text:
        raise BuildError(f"{js}: no /*@EMBEDS@*/null to fill in")
    js.write_text(text.replace("/*@EMBEDS@*/null", json.dumps([e.widget for e in embeds])))


def _build_wasm(dest: Path):
    """The WebAssembly kernels (engine.backend.wasm): compiled here, beside their loader."""
    from . import kernels
    try:
        kernels.build(dest / "kernels.wasm")
    except kernels.BuildError as e:
        raise BuildError(str(e)) from None
    shutil.copy2(SITE_SRC / "wasm" / "kernels.js", dest / "kernels.js")
