"""The WebAssembly kernels alone, in Chromium, on a GPT baby step's shapes (not a test).

    python -m playground.bench.kernel_bench [--wasm A.wasm --wasm B.wasm ...] [--rounds 6]

Times each build of kernels.wasm (default: this tree's relaxed and plain builds, made if
missing) in a blank page of Debian's chromium, JavaScript calling the exports directly (no
Pyodide): the GEMM on the seven Linear product shapes of a baby GPT step (operands rotated over
eight sets, cold as in a step), GELU on the MLP's (12, 64, 512) activations and causal
self-attention forward and backward (batch 12, T 64, 4 heads of 32). Builds alternate round by
round, the first round is V8's warm-up (dropped), the best of the others is kept. The
reference from the same run: numpy on CPython, one BLAS thread, on the same shapes (the GEMM)
and the engine's numpy GELU. To compare with an older build, make one from that tree:

    git archive REV | tar -x -C /tmp/old && cd /tmp/old && python -m playground.sitebuild.kernels
"""
if __name__ == "__main__":  # one BLAS thread for the CPython reference, set before numpy loads
    from playground.bench.threads import one_blas_thread
    one_blas_thread()

import argparse  # noqa: E402
import base64  # noqa: E402
import shutil  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

from playground.bench.browser_page import CHROMIUM_ARGS  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "site" / "bench" / "kernel_timing.js"
# (M, K, N, ta, tb): the products of a baby GPT layer's Linears (12 x 64 = 768 tokens, 128
# channels, MLP 512), forward and both backward products
SHAPES = ((768, 128, 384, 0, 1), (768, 384, 128, 0, 0), (384, 768, 128, 1, 0),
          (768, 128, 512, 0, 1), (768, 512, 128, 0, 0), (512, 768, 128, 1, 0),
          (128, 768, 512, 1, 0))
GELU = 12 * 64 * 512
ATTN = {"b": 12, "t": 64, "heads": 4, "hs": 32}


def default_builds():
    """This tree's two builds, made first if missing."""
    out = ROOT / "site" / "wasm" / "kernels.wasm"
    from playground.sitebuild import kernels
    if not (out.is_file() and kernels.relaxed_path(out).is_file()):
        kernels.build(out)
    return [kernels.relaxed_path(out), out]


def gflops(ms, m, k, n):
    return 2 * m * k * n / ms / 1e6


def cpython_reference(repeats):
    """ms per GEMM shape (numpy, one BLAS thread) and ms of the engine's numpy GELU."""
    from engine.nn import seqops
    from engine.tensor import Tensor
    rng = np.random.default_rng(0)
    gemm = []
    for m, k, n, ta, tb in SHAPES:
        a = rng.standard_normal((k, m) if ta else (m, k)).astype(np.float32)
        b = rng.standard_normal((n, k) if tb else (k, n)).astype(np.float32)
        a, b = (a.T if ta else a), (b.T if tb else b)
        a @ b
        t = time.perf_counter()
        for _ in range(repeats):
            a @ b
        gemm.append(1e3 * (time.perf_counter() - t) / repeats)
    x = Tensor(rng.standard_normal(GELU).astype(np.float32), requires_grad=True)
    seqops.gelu(x)
    t = time.perf_counter()
    for _ in range(repeats):
        seqops.gelu(x)
    return gemm, 1e3 * (time.perf_counter() - t) / repeats


def run(wasm_paths, rounds=6, repeats=16, chromium=None):
    """{path: best {"gemm": [ms...], "gelu": ms, "attention": [fwd, bwd]}} over rounds 2..,
    and "check": the worst relative error of a product row recomputed in JavaScript."""
    from playwright.sync_api import sync_playwright
    t = ATTN["t"]
    args = {"shapes": [list(s) for s in SHAPES], "gelu": GELU, "repeats": repeats,
            "setFloats": max(m * k + k * n + m * n for m, k, n, _, _ in SHAPES),
            "attn": {**ATTN, "qkv": ATTN["b"] * t * 3 * ATTN["heads"] * ATTN["hs"],
                     "out": ATTN["b"] * t * ATTN["heads"] * ATTN["hs"],
                     "w": ATTN["b"] * ATTN["heads"] * t * t}}
    blobs = [base64.b64encode(Path(p).read_bytes()).decode() for p in wasm_paths]
    best = {}
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium or shutil.which("chromium"),
                                     args=CHROMIUM_ARGS)
        page = browser.new_page()
        page.route("**/*", lambda route: route.abort())  # nothing is fetched
        page.add_script_tag(path=str(SCRIPT))
        for r in range(rounds):
            order = range(len(blobs)) if r % 2 == 0 else reversed(range(len(blobs)))
            for i in order:
                got = page.evaluate("(a) => kernelTiming.round(a)",  # the bytes once: kept there
                                    {**args, "index": i, "wasm": blobs[i] if r == 0 else None})
                if r == 0:
                    continue  # V8 compiles hot functions again (tier-up) during the first round
                prev = best.get(wasm_paths[i])
                best[wasm_paths[i]] = got if prev is None else {
                    "check": max(prev["check"], got["check"]),
                    "gemm": [min(a, b) for a, b in zip(prev["gemm"], got["gemm"])],
                    "gelu": min(prev["gelu"], got["gelu"]),
                    "attention": [min(a, b) for a, b in zip(prev["attention"], got["attention"])]}
        browser.close()
    return best


def label(path, paths):
    """The file's name, and where builds share it, the nearest folder that tells them apart."""
    path = Path(path).resolve()
    same = [Path(q).resolve() for q in paths if Path(q).name == path.name]
    if len(same) == 1:
        return path.name
    for depth in range(1, len(path.parts)):
        if len({q.parts[-1 - depth] if depth < len(q.parts) else "" for q in same}) == len(same):
            return f"{path.parts[-1 - depth]}/{path.name}"
    return str(path)


def report(best, ref, say=print):
    gemm_ref, gelu_ref = ref
    names = list(best)
    labels = [label(p, names) for p in names]
    w = max(24, *(len(x) + 2 for x in labels))
    say("GEMM, ms (GFLOP/s); page: JavaScript calling the wasm exports in Chromium, CPython: numpy")
    say(f"  {'shape':28s}" + "".join(f"{x:>{w}s}" for x in labels) + f"{'CPython numpy':>20s}")
    totals = [0.0] * len(names)
    for s, (m, k, n, ta, tb) in enumerate(SHAPES):
        name = f"({m}x{k}){'ᵀ' if ta else ''} @ ({k}x{n}){'ᵀ' if tb else ''}"
        cells = []
        for j, p in enumerate(names):
            ms = best[p]["gemm"][s]
            totals[j] += ms
            cells.append(f"{ms:8.3f} ({gflops(ms, m, k, n):5.1f})")
        say(f"  {name:28s}" + "".join(f"{c:>{w}s}" for c in cells)
            + f"{gemm_ref[s]:8.3f} ({gflops(gemm_ref[s], m, k, n):5.1f})".rjust(20))
    say(f"  {'all seven':28s}" + "".join(f"{t:{w}.3f}" for t in totals) + f"{sum(gemm_ref):20.3f}")
    say(f"  {'(checked: relative error)':28s}" + "".join(f"{best[p]['check']:{w}.1e}" for p in names))
    say(f"  {'GELU (12, 64, 512)':28s}" + "".join(f"{best[p]['gelu']:{w}.3f}" for p in names)
        + f"{gelu_ref:20.3f}")
    for d, name in enumerate(("attention forward", "attention backward")):
        say(f"  {name:28s}" + "".join(f"{best[p]['attention'][d]:{w}.3f}" for p in names))


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--wasm", action="append", help="a kernels*.wasm build (repeatable)")
    ap.add_argument("--rounds", type=int, default=6)
    ap.add_argument("--repeats", type=int, default=16, help="calls timed per kernel and round")
    ap.add_argument("--chromium")
    a = ap.parse_args(argv)
    paths = [Path(p) for p in a.wasm] if a.wasm else default_builds()
    best = run(paths, max(a.rounds, 2), a.repeats, a.chromium)
    from playground.bench.threads import one_thread
    with one_thread():
        ref = cpython_reference(a.repeats)
    report({str(p): best[p] for p in paths}, ref)
    return best, ref


if __name__ == "__main__":
    main()
