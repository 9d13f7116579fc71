"""Where a training step's time goes: cProfile's own time grouped by category, and matmul
time per product shape.

``profile(step, steps, warmup)`` times ``step()`` plainly, then per matmul shape, then
under cProfile; each profiled function's own time goes to a category by where it lives in
``engine`` and ``playground``: products (the matmul seam and what Linear does around it),
attention (scores, mask, softmax and the products made inside the attention op), elementwise
(GELU, LayerNorm, softmax, adds, ...), embedding, loss, optimizer (clipping and Adam), graph
(Python per node: Tensor plumbing, Module calls, backward's walk), im2col / col2im, pooling,
data, training loop. numpy's and the builtins' time is split over their callers. The same
code runs in Pyodide (the in-page benchmark, via ``workloads.profile_steps``) and on CPython.
"""
from __future__ import annotations

import ast
import cProfile
import pstats
import time

from engine import backend

CATEGORIES = ("products", "attention", "elementwise", "embedding", "loss", "optimizer", "graph",
              "im2col / col2im", "pooling", "data / augmentation", "training loop", "other")
_TENSOR_PLUMBING = {"__init__", "node", "backward", "zero_grad", "detach", "_lift", "_as_array",
                    "as_tensor", "no_grad", "is_grad_enabled", "requires_grad_", "item",
                    "numpy", "shape", "ndim", "dtype", "size", "__len__", "_t", "_grad"}
_FUNCTIONAL = {"conv2d": "im2col / col2im", "_offsets": "im2col / col2im",
               "_out_size": "im2col / col2im", "pair": "im2col / col2im",
               "_pool": "pooling", "max_pool2d": "pooling", "avg_pool2d": "pooling",
               "_max_pool_kernel": "pooling", "linear": "products", "embedding": "embedding"}
_SEQOPS_ATTENTION = {"attention", "self_attention", "scaled_dot_product_attention", "_softmax_",
                     "_softmax_backward_", "causal_mask"}
_BACKEND_KERNELS = {"im2col": "im2col / col2im", "col2im": "im2col / col2im",
                    "max_pool2d": "pooling", "max_pool2d_backward": "pooling",
                    # contract.SeqKernels (wasm in the page): GELU, attention's softmax, LayerNorm
                    "gelu": "elementwise", "softmax_": "attention",
                    "softmax_backward_": "attention", "layer_norm": "elementwise",
                    "layer_norm_backward": "elementwise", "adam_step": "optimizer",
                    # large adds (the seam's add) and GELU's backward; clip_grad_norm_
                    "add": "elementwise", "mul": "elementwise", "_elementwise": "elementwise",
                    "sum_squares": "optimizer", "scale_": "optimizer",
                    "kernels": "graph", "seq_kernels": "graph", "fused_adam": "graph"}
_PRODUCT = "product"  # a backend's product: products, or attention's when attention made it
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


def _category(key):
    """Where a cProfile entry's own time goes; None when its callers decide (numpy's Python
    wrappers, builtins), _PRODUCT for a backend's product (its callers say whose)."""
    path, line, name = key
    f = path.replace("\\", "/")
    if "/engine/backend/" in f:  # a backend's kernels are theirs, the rest is its products
        return _BACKEND_KERNELS.get(name, _PRODUCT)
    if "/engine/optim/" in f or f.endswith("/engine/nn/utils.py"):  # Adam, clipping
        return "optimizer"
    if f.endswith("/engine/losses.py"):
        return "loss"
    owner = _owner(path, line) if f.endswith((".py", ".pyc")) else "?"
    if f.endswith("/engine/nn/seqops.py"):
        return "attention" if owner in _SEQOPS_ATTENTION else "elementwise"
    if f.endswith("/engine/nn/functional.py"):
        return _FUNCTIONAL.get(owner, "graph" if owner in _TENSOR_PLUMBING else "elementwise")
    if f.endswith("/engine/tensor.py"):
        if owner == "matmul":
            return "products"
        return "graph" if owner in _TENSOR_PLUMBING else "elementwise"
    if f.endswith("/engine/creation.py"):
        return "elementwise"  # cat, stack, where and their backwards
    if "/engine/nn/" in f:
        return "graph"  # Module.__call__, Sequential.forward, parameters()
    if "/engine/data/" in f:
        return "data / augmentation"
    if "/playground/" in f:
        return "training loop"
    return None


def category(key):
    """Where a cProfile entry's own time goes, or None when its callers decide."""
    cat = _category(key)
    return "products" if cat == _PRODUCT else cat


def shares(stats):
    """Own time per category: entries outside engine/playground are split over their callers,
    and a backend's products go to attention when attention called them."""
    memo = {}

    def split(key, depth=0):
        """{category: fraction} of key's own time."""
        if key in memo:
            return memo[key]
        cat = _category(key)
        if cat is not None and cat != _PRODUCT:
            memo[key] = {cat: 1.0}
            return memo[key]
        callers = stats[key][4] if key in stats else {}
        # a product's callers by the time it took under each (cumulative: the seam passes
        # it on), anything else's by its own time under each
        weight = {ck: c[3] if cat == _PRODUCT else c[2] for ck, c in callers.items()}
        total = sum(weight.values())
        if depth > 20 or total <= 0:
            memo[key] = {"products" if cat == _PRODUCT else "other": 1.0}
            return memo[key]
        memo[key] = {"other": 1.0}  # cycle guard
        out = {}
        for ck in callers:
            within = "/engine/backend/" in ck[0].replace("\\", "/")  # a kernel's helper
            for cc, frac in split(ck, depth + 1).items():
                if cat == _PRODUCT and cc != "attention" and not within:
                    cc = "products"  # Linear's, conv2d's, matmul's products
                out[cc] = out.get(cc, 0.0) + frac * weight[ck] / total
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
    per, split = shares(stats)
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
