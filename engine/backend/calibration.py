"""Calibration: from which product size a backend beats what runs now.

Each installer times size³ products both ways, largest first, stops where the new backend
first loses (smaller sizes cannot move the crossover) and keeps `pick_threshold` of the
timings as the backend's `threshold` (multiply-adds, m*k*n, from which it takes a product).
"""
import time

import numpy as np


def pick_threshold(timings):
    """timings: [(size, cpu_seconds, backend_seconds)] for size³ products.
    Returns the multiply-add count from which the backend wins at every larger size measured
    (float('inf') when it never does)."""
    threshold = float("inf")
    for size, t_cpu, t_be in reversed(sorted(timings)):
        if t_be >= t_cpu:
            break
        threshold = size ** 3
    return threshold


def per_call(fn, clock, rounds=3, min_seconds=1e-3):
    """Seconds per call of fn(): the best of `rounds` rounds, each of enough calls to last
    min_seconds (a browser's clock is coarse, and other tabs and threads share the CPU)."""
    best = float("inf")
    for _ in range(rounds):
        calls, t0 = 0, clock()
        while True:
            fn()
            calls += 1
            elapsed = clock() - t0
            if elapsed >= min_seconds:
                break
        best = min(best, elapsed / calls)
    return best


def calibrate(backend, sizes, clock=time.perf_counter, warmup=0.02, confirm=3):
    """Time numpy and `backend.matmul` (synchronous: the WebAssembly kernels) on size³
    products; returns (threshold, timings ascending).
    A size where the backend loses is timed again, up to `confirm` times in all, keeping the
    best of each: while other pages boot on the same cores, one burst of load landing on the
    kernels' rounds once ruled wasm out at 128³, where it is several times faster.
    The backend runs for `warmup` seconds first: the browser compiles hot wasm twice
    (a quick baseline, then optimised code), and the first calls would mislead."""
    rng = np.random.default_rng(0)
    s = max(sizes)
    a = rng.standard_normal((s, s), dtype=np.float32)
    t0 = clock()
    while clock() - t0 < warmup:
        backend.matmul(a, a)
    timings = []
    for s in sorted(sizes, reverse=True):
        a = rng.standard_normal((s, s), dtype=np.float32)
        b = rng.standard_normal((s, s), dtype=np.float32)
        t_np = t_be = float("inf")
        for _ in range(confirm):  # a loss is measured again: one burst must not decide it
            for _ in range(3):  # interleaved: a burst of load elsewhere hits both, not one
                t_np = min(t_np, per_call(lambda: np.matmul(a, b), clock, rounds=1))
                t_be = min(t_be, per_call(lambda: backend.matmul(a, b), clock, rounds=1))
            if t_be < t_np:
                break
        timings.append((s, t_np, t_be))
        if t_be >= t_np:
            break
    return pick_threshold(timings), sorted(timings)


async def calibrate_gpu(backend, sizes, repeats=2, clock=time.perf_counter, cpu=None):
    """Time the CPU (`cpu(a, b)`: numpy's matmul, or the backend the GPU would take over from)
    and the GPU (`backend.gpu.matmul_async`: awaited, not run_sync) on size³ products;
    returns (threshold, timings ascending)."""
    cpu = cpu or np.matmul
    rng = np.random.default_rng(0)
    timings = []
    for s in sorted(sizes, reverse=True):
        a = rng.standard_normal((s, s), dtype=np.float32)
        b = rng.standard_normal((s, s), dtype=np.float32)
        t_cpu = t_gpu = float("inf")
        await backend.gpu.matmul_async(a, b, s, s, s)  # warm-up: buffers for this size
        for _ in range(repeats):
            t = clock()
            cpu(a, b)
            t_cpu = min(t_cpu, clock() - t)
            t = clock()
            await backend.gpu.matmul_async(a, b, s, s, s)
            t_gpu = min(t_gpu, clock() - t)
        timings.append((s, t_cpu, t_gpu))
        if t_gpu >= t_cpu:
            break
    return pick_threshold(timings), sorted(timings)
