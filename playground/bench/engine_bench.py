"""Speed benchmark (not a test): engine vs PyTorch CPU, same run, one BLAS thread.

    python -m playground.bench.engine_bench [--quick] [--repeats N] [--profile]
    python -m playground.bench.engine_bench --browser [--quick] [--webgpu]   (in the page:
        Pyodide in headless Chromium vs CPython and TF.js; see browser_bench)

Trains the MLP (784-256-128-10, 10 epochs) and the CNN (conv3(16)-pool-conv3(32)-pool-
fc128, 5 epochs) on MNIST-10k with the recipe (Adam 1e-3, batch 64, seeded shuffle,
8,000 train / 2,000 held-out) in both engines, from the same initial weights and on the
same batches. samples/s counts training only (evaluation excluded). Runs are interleaved
(engine, torch, torch, engine, ...) and each engine's figure is its best of N runs, as
the machine is shared and the best run is the one least disturbed by others. Beside
wall-clock samples/s it reports samples per CPU-second of the process (one thread, so
this is the time the training itself got): far steadier when other jobs share the cores.
Prints a table and writes ``artifacts/bench-engine.json``.

``--quick``: MLP 2 epochs, CNN 1 epoch, 2 repeats. ``--profile``: after the timing, time
each layer's forward and backward alone (engine vs torch), and cProfile one engine epoch
of each model, to show where the time goes.
"""
import os
import sys

if __name__ == "__main__":  # one BLAS thread for numpy and torch, set before either loads
    from playground.bench.threads import one_blas_thread
    one_blas_thread()

import argparse  # noqa: E402
import cProfile  # noqa: E402
import io  # noqa: E402
import json  # noqa: E402
import platform  # noqa: E402
import pstats  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import torch  # noqa: E402

from playground.bench import twins  # noqa: E402
from playground.bench.threads import THREAD_VARS, openblas_info  # noqa: E402

TARGETS = {"mlp": 1.2, "cnn": 0.5}   # engine samples/s / torch samples/s (issue 2)
OUT = twins.ROOT / "artifacts" / "bench-engine.json"


# --------------------------------------------------------------------------- machine info

def cpu_model():
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def machine_info():
    try:
        blas = np.show_config(mode="dicts")["Build Dependencies"]["blas"]
        numpy_blas = f"{blas.get('name')} {blas.get('version')}"
    except Exception:  # show_config's layout is not a stable API
        numpy_blas = "unknown"
    env = {v: os.environ.get(v) for v in THREAD_VARS + ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")}
    return {
        "cpu": cpu_model(), "logical_cpus": os.cpu_count(), "python": platform.python_version(),
        "numpy": np.__version__, "numpy_blas": numpy_blas, "openblas": openblas_info(),
        "torch": torch.__version__, "torch_threads": torch.get_num_threads(),
        "torch_mkl": torch.backends.mkl.is_available(),
        "torch_mkldnn": torch.backends.mkldnn.is_available(), "env": env,
    }


# --------------------------------------------------------------------------- timing

def run_once(which, kind, data, epochs):
    """Train a fresh model (engine's seeded init; torch gets a copy) and return the figures."""
    (x, y), (xt, yt) = data
    net = twins.engine_model(kind, seed=0)
    if which == "torch":
        net = twins.torch_twin(net)
        losses, secs = twins.train_torch(net, x, y, epochs)
        acc = twins.accuracy_torch(net, xt, yt)
    else:
        losses, secs = twins.train_engine(net, x, y, epochs)
        acc = twins.accuracy_engine(net, xt, yt)
    n = epochs * len(x)
    return {"samples_per_s": n / secs["wall"], "samples_per_cpu_s": n / secs["cpu"],
            "wall_s": secs["wall"], "cpu_s": secs["cpu"], "accuracy": acc, "final_loss": losses[-1]}


def bench(kind, data, epochs, repeats):
    runs = {"engine": [], "torch": []}
    for r in range(repeats):
        order = ("engine", "torch") if r % 2 == 0 else ("torch", "engine")
        for which in order:
            res = run_once(which, kind, data, epochs)
            runs[which].append(res)
            print(f"  {kind} {which:6s} run {r + 1}/{repeats}: {res['samples_per_s']:8,.0f} samples/s"
                  f" ({res['samples_per_cpu_s']:8,.0f} per CPU-s)  held-out {res['accuracy']:.2%}",
                  flush=True)

    def best(which, key):
        return max(r[key] for r in runs[which])
    ratio = best("engine", "samples_per_s") / best("torch", "samples_per_s")
    ratio_cpu = best("engine", "samples_per_cpu_s") / best("torch", "samples_per_cpu_s")
    return {"epochs": epochs, "repeats": repeats,
            "engine_samples_per_s": best("engine", "samples_per_s"),
            "torch_samples_per_s": best("torch", "samples_per_s"),
            "ratio": ratio, "target": TARGETS[kind], "target_met": ratio >= TARGETS[kind],
            "engine_samples_per_cpu_s": best("engine", "samples_per_cpu_s"),
            "torch_samples_per_cpu_s": best("torch", "samples_per_cpu_s"),
            "ratio_cpu": ratio_cpu, "target_met_cpu": ratio_cpu >= TARGETS[kind],
            "engine_accuracy": runs["engine"][-1]["accuracy"],
            "torch_accuracy": runs["torch"][-1]["accuracy"],
            "runs": runs}


# --------------------------------------------------------------------------- profiling

def profile_engine(kind, data, epochs=1, top=25):
    """cProfile ``epochs`` engine epochs; returns the report text (by own time)."""
    import engine
    (x, y), _ = data
    net = twins.engine_model(kind, seed=0)
    engine.backend.reset_stats()
    prof = cProfile.Profile(time.process_time)  # CPU time: other jobs' turns don't count
    prof.enable()
    _, secs = twins.train_engine(net, x, y, epochs)
    prof.disable()
    secs = secs["wall"]
    out = io.StringIO()
    stats = pstats.Stats(prof, stream=out)
    stats.sort_stats("tottime").print_stats(top)
    mm = engine.backend.status()["stats"]
    mm_secs = sum(s["seconds"] for s in mm.values())
    head = (f"--- engine {kind}: {epochs} epoch(s), {secs:.2f} s wall under cProfile (table: CPU "
            f"s); matmul seam (wall): "
            f"{sum(s['calls'] for s in mm.values())} calls, {mm_secs:.2f} s "
            f"({mm_secs / secs:.0%} of the profiled time) ---\n")
    return head + out.getvalue()


def layer_times(kind, data, batch=twins.BATCH, reps=30):
    """Per layer, best-of-``reps`` CPU ms of forward and of backward, engine vs torch.

    Each layer runs alone on the activation the model gives it (a fresh leaf that needs
    a gradient; for the engine in the memory layout its previous layer produced, as in
    training), and its backward gets a fixed random output gradient. Public API only.
    Returns rows ``(name, engine_fwd, engine_bwd, torch_fwd, torch_bwd)`` in ms."""
    import engine
    (x, _), _ = data
    net = twins.engine_model(kind, seed=0)
    twin = twins.torch_twin(net)
    rng = np.random.default_rng(0)
    act = x[:batch]            # the engine's activation, as its previous layer left it
    rows = []
    for i, (e_layer, t_layer) in enumerate(zip(net, twin)):
        def eng_fwd():
            inp = engine.Tensor(act, requires_grad=True)
            return inp, e_layer(inp)

        def torch_fwd():
            inp = torch.from_numpy(np.ascontiguousarray(act)).requires_grad_(True)
            return inp, t_layer(inp)
        out_np = eng_fwd()[1].data
        g = np.empty_like(out_np)  # same memory layout as the output, as in training
        g[...] = rng.standard_normal(out_np.shape)
        g_torch = torch.from_numpy(np.ascontiguousarray(g))
        times = []
        for fwd, bwd in ((eng_fwd, lambda out: out.backward(g)),
                         (torch_fwd, lambda out: out.backward(g_torch))):
            f_best = b_best = float("inf")
            for _ in range(reps):
                c0 = time.process_time()
                _, out = fwd()
                c1 = time.process_time()
                bwd(out)
                c2 = time.process_time()
                f_best, b_best = min(f_best, c1 - c0), min(b_best, c2 - c1)
            times += [f_best * 1e3, b_best * 1e3]
        rows.append((f"{i}:{type(e_layer).__name__}{tuple(out_np.shape[1:])}", *times))
        act = out_np
    return rows


def format_layer_times(kind, rows):
    lines = [f"--- {kind}: per-layer CPU ms at batch {twins.BATCH} (best of repeats; the first "
             f"layer's input needs a gradient here, unlike in training) ---",
             f"{'layer':28s} {'eng fwd':>8s} {'eng bwd':>8s} {'torch fwd':>9s} {'torch bwd':>9s}"
             f" {'eng/torch (f+b)':>16s}"]
    for name, ef, eb, tf, tb in rows:
        lines.append(f"{name:28s} {ef:8.3f} {eb:8.3f} {tf:9.3f} {tb:9.3f} {(ef + eb) / (tf + tb):15.2f}x")
    tot = [sum(r[k] for r in rows) for k in range(1, 5)]
    lines.append(f"{'total':28s} {tot[0]:8.3f} {tot[1]:8.3f} {tot[2]:9.3f} {tot[3]:9.3f} "
                 f"{(tot[0] + tot[1]) / (tot[2] + tot[3]):15.2f}x")
    return "\n".join(lines)


# --------------------------------------------------------------------------- main

def main(argv=None):
    argv = sys.argv[1:] if argv is None else list(argv)
    if "--browser" in argv:  # the in-page benchmark takes over (its own options)
        from playground.bench import browser_bench
        return browser_bench.main([x for x in argv if x != "--browser"])
    p = argparse.ArgumentParser(prog="python -m playground.bench.engine_bench",
                                description=__doc__.split("\n")[0])
    p.add_argument("--browser", action="store_true",
                   help="run the in-page benchmark instead (playground.bench.browser_bench; "
                        "--browser --help lists its options)")
    p.add_argument("--quick", action="store_true", help="MLP 2 epochs, CNN 1, 2 repeats")
    p.add_argument("--repeats", type=int, help="runs per engine and model (best is kept)")
    p.add_argument("--models", default="mlp,cnn", help="comma-separated: mlp, cnn")
    p.add_argument("--profile", action="store_true",
                   help="per-layer times and a cProfile of one engine epoch per model")
    p.add_argument("--out", default=str(OUT), help=f"JSON results (default {OUT})")
    a = p.parse_args(argv)

    torch.set_num_threads(1)
    data, reason = twins.mnist_or_reason()
    if data is None:
        sys.exit(reason)
    epochs = {"mlp": 2, "cnn": 1} if a.quick else dict(twins.EPOCHS)
    repeats = a.repeats or (2 if a.quick else 3)
    info = machine_info()
    print(f"CPU: {info['cpu']} ({info['logical_cpus']} logical); numpy {info['numpy']} with "
          f"{info['numpy_blas']} ({info['openblas']}); torch {info['torch']} "
          f"({info['torch_threads']} thread); env {info['env']}")
    print(f"MNIST-10k: {len(data[0][0])} train / {len(data[1][0])} held-out; Adam 1e-3, batch 64; "
          f"best of {repeats} interleaved runs per engine")

    results = {"machine": info, "recipe": {"optimizer": "Adam", "lr": twins.LR,
                                           "batch_size": twins.BATCH, "quick": a.quick},
               "models": {}}
    kinds = [k.strip() for k in a.models.split(",") if k.strip()]
    for kind in kinds:
        print(f"{kind}: {epochs[kind]} epochs x {len(data[0][0])} samples")
        results["models"][kind] = bench(kind, data, epochs[kind], repeats)

    print(f"\nBest of {repeats} runs each. samples/s: wall clock; per CPU-s: process CPU time "
          f"(steadier when other jobs share the cores).")
    print("| model | epochs | engine samples/s | torch samples/s | engine/torch | "
          "engine/torch (CPU time) | target | engine acc | torch acc |")
    print("|---|---|---|---|---|---|---|---|---|")
    for kind, r in results["models"].items():
        print(f"| {kind.upper()} | {r['epochs']} | {r['engine_samples_per_s']:,.0f} | "
              f"{r['torch_samples_per_s']:,.0f} | {r['ratio']:.2f}x | {r['ratio_cpu']:.2f}x | "
              f">= {r['target']}x {'met' if r['target_met'] else 'NOT met'} | "
              f"{r['engine_accuracy']:.2%} | {r['torch_accuracy']:.2%} |")

    if a.profile:
        results["profiles"] = {}
        for kind in kinds:
            text = format_layer_times(kind, layer_times(kind, data)) + "\n\n" + profile_engine(kind, data)
            results["profiles"][kind] = text
            print("\n" + text)

    out = Path(a.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2))
    print(f"\nwrote {out}")


if __name__ == "__main__":
    main()
