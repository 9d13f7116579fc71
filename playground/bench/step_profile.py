"""Where a training step's time goes: cProfile's own time grouped by category, and matmul
time per product shape.

``profile(step, steps, warmup)`` times ``step()`` plainly, then per matmul shape, then
under cProfile; each profiled function's own time goes to a category (matmul, elementwise ops, Adam, im2col,
pooling, loss, graph overhead, ...) by where it lives in ``engine`` and ``playground``; numpy's
and the builtins' time is split over their callers. The same code runs in Pyodide (the
in-page benchmark, via ``workloads.profile_steps``) and on CPython.
"""
from __future__ import annotations

import ast
import cProfile
import pstats
import time

from engine import backend

CATEGORIES = ("matmul", "elementwise ops", "optimizer (Adam)", "im2col / col2im", "pooling",
              "loss", "graph overhead", "data / augmentation", "training loop", "other")
_TENSOR_PLUMBING = {"__init__", "node", "backward", "zero_grad", "detach", "_lift", "_as_array",
                    "as_tensor", "no_grad", "is_grad_enabled", "requires_grad_", "item",
                    "numpy", "shape", "ndim", "dtype", "size", "__len__", "_t", "_grad"}
_FUNCTIONAL = {"conv2d": "im2col / col2im", "_offsets": "im2col / col2im",
               "_out_size": "im2col / col2im", "pair": "im2col / col2im",
               "_pool": "pooling", "max_pool2d": "pooling", "avg_pool2d": "pooling",
               "_max_pool_kernel": "pooling"}
_BACKEND_KERNELS = {"im2col": "im2col / col2im", "col2im": "im2col / col2im",
                    "max_pool2d": "pooling", "max_pool2d_backward": "pooling"}
_owner_cache = {}


def _owners(path):
    """(start, end, name) of each module-level function and class-level method in a file."""
    if path not in _owner_cache:
        try:
            with open(path) as f:
                tree = ast.parse(f.read())
        except (OSError, SyntaxError):
            tree = ast.Module(body=[], type_ignores=[])
        spans = []
        for node in tree.body:
            body = node.body if isinstance(node, ast.ClassDef) else [node]
            spans += [(d.lineno, d.end_lineno, d.name) for d in body
                      if isinstance(d, (ast.FunctionDef, ast.AsyncFunctionDef))]
        _owner_cache[path] = spans
    return _owner_cache[path]


def _owner(path, line):
    for start, end, name in _owners(path):
        if start <= line <= end:
            return name
    return "?"


def category(key):
    """Where a cProfile entry's own time goes, or None when its callers decide (numpy's
    Python wrappers, builtins)."""
    path, line, name = key
    f = path.replace("\\", "/")
    if "/engine/backend/" in f:  # a backend's fused optimizer / image kernels are theirs
        if name in _BACKEND_KERNELS:
            return _BACKEND_KERNELS[name]
        return "optimizer (Adam)" if "adam" in name.lower() else "matmul"
    if "/engine/optim/" in f:
        return "optimizer (Adam)"
    if f.endswith("/engine/losses.py"):
        return "loss"
    if f.endswith("/engine/nn/functional.py"):
        owner = _owner(path, line)
        return _FUNCTIONAL.get(owner, "graph overhead" if owner in _TENSOR_PLUMBING else "elementwise ops")
    if f.endswith("/engine/tensor.py"):
        owner = _owner(path, line)
        if owner == "matmul":
            return "matmul"
        return "graph overhead" if owner in _TENSOR_PLUMBING else "elementwise ops"
    if "/engine/nn/" in f:
        return "graph overhead"  # Module.__call__, Sequential.forward, parameters()
    if "/engine/data/" in f:
        return "data / augmentation"
    if "/playground/" in f:
        return "training loop"
    return None


def _shares(stats):
    """Own time per category: entries outside engine/playground are split over their callers."""
    memo = {}

    def split(key, depth=0):
        """{category: fraction} of key's own time."""
        if key in memo:
            return memo[key]
        cat = category(key)
        if cat is not None:
            memo[key] = {cat: 1.0}
            return memo[key]
        callers = stats[key][4] if key in stats else {}
        total = sum(c[2] for c in callers.values())
        if depth > 20 or total <= 0:
            memo[key] = {"other": 1.0}
            return memo[key]
        memo[key] = {"other": 1.0}  # cycle guard
        out = {}
        for ck, c in callers.items():
            for cat, frac in split(ck, depth + 1).items():
                out[cat] = out.get(cat, 0.0) + frac * c[2] / total
        memo[key] = out
        return out

    per = {c: 0.0 for c in CATEGORIES}
    for key, (_, _, tt, _, _) in stats.items():
        for cat, frac in split(key).items():
            per[cat] = per.get(cat, 0.0) + tt * frac
    return per, split


def _label(key):
    path, line, name = key
    if path == "~":
        return name
    short = "/".join(path.replace("\\", "/").split("/")[-2:])
    return f"{short}:{line}({name})"


def matmul_shapes(step, steps):
    """Run ``steps`` steps with the seam's matmul timed per product shape: where matmul's time
    goes, with the GFLOP/s each shape gets (2*m*k*n per product)."""
    seen = {}

    def record(a, b, ta, tb, out, dt):
        m, k = (a.shape[-1], a.shape[-2]) if ta else a.shape[-2:]
        n = b.shape[-2] if tb else b.shape[-1]
        batch = out.size // (m * n) if m * n else 1
        key = (f"{batch} x " if batch > 1 else "") + f"({m}x{k}){'ᵀ' if ta else ''} @ " \
              f"({k}x{n}){'ᵀ' if tb else ''}"
        s = seen.setdefault(key, [0, 0.0, 2 * m * k * n * batch])
        s[0] += 1
        s[1] += dt
    with backend.observe(record):
        for _ in range(steps):
            step()
    return [{"shape": k, "calls_per_step": c / steps, "ms_per_step": 1e3 * t / steps,
             "gflops": c * f / t / 1e9 if t > 0 else None}
            for k, (c, t, f) in sorted(seen.items(), key=lambda kv: -kv[1][1])]


def profile(step, steps, warmup, top=15):
    """After ``warmup`` untimed calls, time ``steps`` calls of ``step()`` plainly, then per
    matmul shape, then under cProfile; own time grouped by category."""
    for _ in range(warmup):
        step()
    t0 = time.perf_counter()
    for _ in range(steps):
        step()
    plain = (time.perf_counter() - t0) / steps
    shapes = matmul_shapes(step, steps)
    prof = cProfile.Profile()
    t0 = time.perf_counter()
    prof.enable()
    for _ in range(steps):
        step()
    prof.disable()
    profiled = (time.perf_counter() - t0) / steps
    stats = pstats.Stats(prof).stats
    per, split = _shares(stats)
    total = sum(per.values()) or 1.0
    cats = [{"category": c, "ms_per_step": 1e3 * s / steps, "share": s / total}
            for c, s in sorted(per.items(), key=lambda kv: -kv[1]) if s > 0]
    rows = sorted(stats.items(), key=lambda kv: -kv[1][2])[:top]
    entries = [{"function": _label(k),
                "category": category(k) or max(split(k).items(), key=lambda kv: kv[1])[0],
                "ms_per_step": 1e3 * v[2] / steps, "calls_per_step": v[1] / steps}
               for k, v in rows]
    return {"steps": steps, "ms_per_step": 1e3 * plain,
            "ms_per_step_profiled": 1e3 * profiled, "categories": cats, "top": entries,
            "matmul_shapes": shapes,
            "backend": backend.status()["backend"]}
