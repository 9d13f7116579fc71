"""Boot benchmark (not a test): seconds from navigation to an interactive app, per stage.

    python -m playground.bench.boot_bench [--page digits.html] [--trials 3] [--visits 3]
                                          [--site DIR [--site DIR2 ...]]    make bench-boot

Builds the offline bundle from the shared Pyodide distribution (``../shared/pyodide-dist`` or
env ``DESCENT_PYODIDE_DIST``; or takes a built one with ``--site``), serves it on 127.0.0.1 as
``descent serve-site`` does, and opens the page in Debian's chromium ``--visits`` times in a
row in one fresh browser profile (visit 1: nothing cached; visit 2: the service worker's
cache, which visit 1 filled once it was interactive, the second visit of issue 10's target;
visit 3 and on: the browser also keeps the compiled WebAssembly of the runtime, which it does
only from the visit after a cached one). Each visit ends once the service worker has cached
the site, as a visitor's would while reading the page. That is repeated ``--trials`` times,
each in a new profile. It prints the loader's seconds per stage (page: the page's own
scripts, before the worker's first stage; the worker's runtime, packages, wheel, data, app;
draw: BokehJS drawing what the worker sent) and to interactive (the app drawn, its loading
spinner gone), the median of each visit, and the targets: first visit <= 12 s, cached
second visit <= 8 s. Every other address is refused. Timings on a shared machine vary:
compare within one run (the load average is printed): several ``--site`` bundles (say, before
and after a change) are measured in turns, trial by trial, in the same run.
"""
from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

from playground.bench.browser_page import CHROMIUM_ARGS, loadavg, pyodide_dist

STAGES = ("page", "runtime", "packages", "wheel", "data", "app", "draw")
TARGETS = {1: 12.0, 2: 8.0}  # visit -> seconds to interactive (issue 10)

TIMINGS_JS = """() => {
    const L = window.DescentLoader;
    if (!L) return null;
    for (const s of Object.values(L.state)) if (s.state === 'failed') return {failed: true};
    if (!L.interactiveAt) return null;
    const out = {interactive: L.interactiveAt / 1e3};
    for (const [k, s] of Object.entries(L.state)) if (s.t0 !== undefined && s.t1 !== undefined)
        out[k] = (s.t1 - s.t0) / 1e3;
    // before the worker's first stage (the page's own scripts), after its last (BokehJS drawing)
    if (L.state.runtime && L.state.runtime.t0 !== undefined) out.page = L.state.runtime.t0 / 1e3;
    if (L.state.app && L.state.app.t1 !== undefined) out.draw = (L.interactiveAt - L.state.app.t1) / 1e3;
    return out;
}"""


SW_READY_JS = """async () => {
    const r = await navigator.serviceWorker.getRegistration();
    return !!(r && r.active && r.active.state === 'activated' && !r.installing && !r.waiting);
}"""


def build_bundle(dest):
    from playground.sitebuild import build_site
    summary = build_site(Path(dest) / "_site", offline_dist=pyodide_dist(), quiet=True)
    return Path(summary["offline"]["dir"])


def visit(ctx, url, timeout=180):
    pg = ctx.new_page()
    problems = []
    pg.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    pg.goto(url, wait_until="commit")
    end = time.time() + timeout
    t = None
    while time.time() < end and not t:
        t = pg.evaluate(TIMINGS_JS)
        time.sleep(0.05)
    if not t or t.get("failed"):
        text = pg.locator(".descent-loader-msg").first.inner_text() if t else "timed out"
        raise RuntimeError(f"{url} did not boot: {text}")
    while time.time() < end and not pg.evaluate(SW_READY_JS):
        time.sleep(0.1)  # the service worker, registered once the app is interactive, has cached the site
    pg.close()
    if problems:
        raise RuntimeError(f"{url}: console errors: {problems[:3]}")
    return t


def _label(site):
    return f"{Path(site).parent.name}/{Path(site).name}"


def run(sites, page, trials, visits, say):
    """{site: [(trial, visit, timings)]}, the sites measured in turns."""
    from playwright.sync_api import sync_playwright
    from playground.sitebuild.serve import site_server
    servers = [site_server(site, port=0) for site in sites]
    for srv in servers:
        threading.Thread(target=srv.serve_forever, daemon=True).start()
    rows = {site: [] for site in sites}
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=shutil.which("chromium"), args=CHROMIUM_ARGS)
            for trial in range(1, trials + 1):
                for site, srv in zip(sites, servers):
                    url = f"http://127.0.0.1:{srv.server_address[1]}/{page}"
                    ctx = browser.new_context(viewport={"width": 1400, "height": 1000}, service_workers="allow")
                    ctx.route(lambda u: not u.startswith("http://127.0.0.1"), lambda r: r.abort())
                    for v in range(1, visits + 1):
                        t = visit(ctx, url)
                        rows[site].append((trial, v, t))
                        say(f"{_label(site) + ' ' if len(sites) > 1 else ''}trial {trial} visit {v}: "
                            + ", ".join(f"{k} {t[k]:.1f}" for k in STAGES if k in t)
                            + f"; interactive {t['interactive']:.1f} s")
                    ctx.close()
            browser.close()
    finally:
        for srv in servers:
            srv.shutdown()
    return rows


def report(rows, visits, say):
    say("\nmedian seconds per visit (" + ", ".join(STAGES) + " -> interactive):")
    for v in range(1, visits + 1):
        ts = [t for _, vv, t in rows if vv == v]
        med = {k: statistics.median(t.get(k, 0.0) for t in ts) for k in STAGES + ("interactive",)}
        target = TARGETS.get(v)
        verdict = "" if target is None else (f"  target <= {target:g} s: "
                                             + ("met" if med["interactive"] <= target else "NOT met"))
        label = {1: "first visit (cold)", 2: "second visit (cached)"}.get(v, f"visit {v} (cached)")
        say(f"  {label:22s} " + "  ".join(f"{med[k]:.1f}" for k in STAGES)
            + f"  -> {med['interactive']:.1f} s (of {len(ts)}: "
            + ", ".join(f"{t['interactive']:.1f}" for t in ts) + ")" + verdict)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--page", default="digits.html")
    ap.add_argument("--trials", type=int, default=3)
    ap.add_argument("--visits", type=int, default=3)
    ap.add_argument("--site", action="append", help="a built offline bundle (default: build one now); "
                    "repeat to compare bundles in the same run")
    a = ap.parse_args(argv)
    if not shutil.which("chromium"):
        sys.exit("boot bench cannot run: Debian chromium is not installed (apt-get install chromium)")
    if not a.site and not (pyodide_dist() / "pyodide-lock.json").is_file():
        sys.exit(f"boot bench cannot run: no Pyodide distribution at {pyodide_dist()} (set DESCENT_PYODIDE_DIST)")

    def say(line):
        print(line, flush=True)
    load0 = loadavg()
    with tempfile.TemporaryDirectory(prefix="descent-boot-") as tmp:
        if a.site:
            sites = [Path(x) for x in a.site]
        else:
            t0 = time.perf_counter()
            sites = [build_bundle(tmp)]
            say(f"built the offline bundle in {time.perf_counter() - t0:.0f} s")
        rows = run(sites, a.page, a.trials, a.visits, say)
    for site in sites:
        if len(sites) > 1:
            say(f"\n{site}:")
        report(rows[site], a.visits, say)
    say(f"(load average {load0} at the start, {loadavg()} at the end, on {os.cpu_count()} CPUs; "
        f"headless chromium, {a.page} from 127.0.0.1)")
    return rows


if __name__ == "__main__":
    main()
