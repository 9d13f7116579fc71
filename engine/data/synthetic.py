"""Synthetic data: TF Playground's 2-D toy sets, 2-D targets for a toy GAN, and
"count the lines" images. Seeded, float32 points/images, int64 labels."""
import math

import numpy as np


# --------------------------------------------------------------------------- 2-D toy sets
# TF Playground's generators (radius 5, noise as a fraction 0..0.5), labels 0/1, / 6.

def _finish(X, y, rng):
    order = rng.permutation(len(y))
    return (X[order] / 6.0).astype(np.float32), y[order].astype(np.int64)


def _halves(n):
    return n // 2, n - n // 2


def make_circle(n=200, noise=0.0, seed=0):
    """Class 1: a disc of radius 2.5; class 0: a ring 3.5..5 around it (TF Playground)."""
    rng = np.random.default_rng(seed)
    n1, n0 = _halves(n)
    r = np.concatenate([rng.uniform(0, 2.5, n1), rng.uniform(3.5, 5.0, n0)])
    a = rng.uniform(0, 2 * np.pi, n)
    X = np.stack([r * np.cos(a), r * np.sin(a)], 1) + rng.uniform(-5, 5, (n, 2)) * noise
    y = np.r_[np.ones(n1), np.zeros(n0)]
    return _finish(X, y, rng)


def make_xor(n=200, noise=0.0, seed=0):
    """Uniform on [-5, 5]^2 away from the axes; label 1 where x*y > 0 (before noise)."""
    rng = np.random.default_rng(seed)
    n1, n0 = _halves(n)
    mag = rng.uniform(0.3, 5.0, (n, 2))
    s = rng.choice([-1.0, 1.0], n)
    sign = np.stack([s, np.r_[s[:n1], -s[n1:]]], 1)  # same signs -> class 1
    X = mag * sign + rng.uniform(-5, 5, (n, 2)) * noise
    y = np.r_[np.ones(n1), np.zeros(n0)]
    return _finish(X, y, rng)


def make_gaussians(n=200, noise=0.0, seed=0):
    """Two Gaussian blobs at (2, 2) [1] and (-2, -2) [0]; variance 0.5 -> 4 with noise."""
    rng = np.random.default_rng(seed)
    n1, n0 = _halves(n)
    std = math.sqrt(0.5 + (4.0 - 0.5) * min(max(noise * 2, 0.0), 1.0))  # noise 0.5 -> var 4
    centre = np.r_[np.full(n1, 2.0), np.full(n0, -2.0)][:, None]
    X = centre + rng.normal(0, std, (n, 2))
    y = np.r_[np.ones(n1), np.zeros(n0)]
    return _finish(X, y, rng)


def make_spiral(n=200, noise=0.0, seed=0):
    """Two interleaved spirals, 1.75 turns, radius up to 5 (TF Playground)."""
    rng = np.random.default_rng(seed)
    n1, n0 = _halves(n)
    parts = []
    for m, delta in ((n1, 0.0), (n0, np.pi)):
        t = np.arange(m) / max(m, 1)
        r, ang = 5 * t, 1.75 * t * 2 * np.pi + delta
        parts.append(np.stack([r * np.sin(ang), r * np.cos(ang)], 1))
    X = np.concatenate(parts) + rng.uniform(-1, 1, (n, 2)) * noise
    y = np.r_[np.ones(n1), np.zeros(n0)]
    return _finish(X, y, rng)


def _moons(n1, n0, rng):
    t1, t0 = rng.uniform(0, np.pi, n1), rng.uniform(0, np.pi, n0)
    upper = np.stack([np.cos(t1), np.sin(t1)], 1)
    lower = np.stack([1 - np.cos(t0), 0.5 - np.sin(t0)], 1)
    return (np.concatenate([upper, lower]) - [0.5, 0.25]) * 3.3  # about [-5, 5] x [-2.5, 2.5]


def make_moons(n=200, noise=0.0, seed=0):
    """Two interleaved half circles (like scikit-learn's), scaled to TF coordinates."""
    rng = np.random.default_rng(seed)
    n1, n0 = _halves(n)
    X = _moons(n1, n0, rng) + rng.normal(0, 1, (n, 2)) * noise * 3.3
    y = np.r_[np.ones(n1), np.zeros(n0)]
    return _finish(X, y, rng)


TOY_SETS = {"circle": make_circle, "xor": make_xor, "gaussians": make_gaussians,
            "spiral": make_spiral, "moons": make_moons}


def make_toy(name, n=200, noise=0.0, seed=0):
    """Dispatch by name: one of ``TOY_SETS`` (circle, xor, gaussians, spiral, moons)."""
    try:
        fn = TOY_SETS[name]
    except KeyError:
        raise ValueError(f"unknown toy set {name!r}; choose one of {sorted(TOY_SETS)}") from None
    return fn(n, noise, seed)


def train_test_split(X, y, ratio=0.8, seed=0):
    """Shuffle and split: the first ``round(ratio * n)`` samples train, the rest test."""
    n = len(X)
    perm = np.random.default_rng(seed).permutation(n)
    k = int(round(ratio * n))
    return (X[perm[:k]], y[perm[:k]]), (X[perm[k:]], y[perm[k:]])


# --------------------------------------------------------------------------- GAN targets

def sample_ring(n, seed=0, radius=0.8, width=0.05):
    """Points on a circle of ``radius`` with Gaussian radial noise ``width``."""
    rng = np.random.default_rng(seed)
    a = rng.uniform(0, 2 * np.pi, n)
    r = radius + rng.normal(0, width, n)
    return np.stack([r * np.cos(a), r * np.sin(a)], 1).astype(np.float32)


def sample_two_moons(n, seed=0, noise=0.05):
    """Two moons (unlabelled), in about [-0.85, 0.85] x [-0.45, 0.45]."""
    rng = np.random.default_rng(seed)
    n1, n0 = _halves(n)
    X = _moons(n1, n0, rng) / 6.0 + rng.normal(0, noise, (n, 2))
    return X[rng.permutation(n)].astype(np.float32)


def sample_gaussian_mixture(n, seed=0, modes=8, radius=0.8, std=0.05):
    """``modes`` Gaussians evenly spaced on a circle: the classic mode-collapse test."""
    rng = np.random.default_rng(seed)
    a = 2 * np.pi * rng.integers(0, modes, n) / modes
    centres = radius * np.stack([np.cos(a), np.sin(a)], 1)
    return (centres + rng.normal(0, std, (n, 2))).astype(np.float32)


# --------------------------------------------------------------------------- count the lines

def draw_segments(segments, size=28, half_width=0.6):
    """Render segments ``(k, 4)`` rows ``(r0, c0, r1, c1)`` (pixel coords) to a (size, size)
    float32 image in [0, 1]: full ink within ``half_width`` of a segment, fading to 0 over
    one more pixel (anti-aliased); overlapping lines take the max."""
    seg = np.asarray(segments, dtype=np.float32).reshape(-1, 4)
    return _render(seg[None], np.ones((1, len(seg)), bool), size, half_width)[0]


def _render(seg, used, size, half_width):
    """seg (b, k, 4), used (b, k) bool -> (b, size, size) max over used segments."""
    rr, cc = np.meshgrid(np.arange(size, dtype=np.float32), np.arange(size, dtype=np.float32),
                         indexing="ij")
    p0, d = seg[..., :2], seg[..., 2:] - seg[..., :2]                   # (b, k, 2)
    pr = rr[None, None] - p0[..., 0, None, None]                        # (b, k, s, s)
    pc = cc[None, None] - p0[..., 1, None, None]
    dd = np.maximum((d ** 2).sum(-1), 1e-6)[..., None, None]
    t = np.clip((pr * d[..., 0, None, None] + pc * d[..., 1, None, None]) / dd, 0, 1)
    dist = np.hypot(pr - t * d[..., 0, None, None], pc - t * d[..., 1, None, None])
    ink = np.clip(1.0 + half_width - dist, 0, 1) * used[..., None, None]
    return ink.max(1).astype(np.float32)


def make_lines(n, size=28, max_lines=5, seed=0, min_len=None):
    """"Count the lines": images float32 (n, 1, size, size) in [0, 1] with 1..max_lines random
    straight segments (random position, angle and length >= ``min_len``, default size/3;
    lines may cross); labels int64 = the number of lines (uniform over 1..max_lines)."""
    rng = np.random.default_rng(seed)
    min_len = size / 3 if min_len is None else min_len
    labels = rng.integers(1, max_lines + 1, n).astype(np.int64)
    lo, hi = 1.5, size - 2.5
    seg = rng.uniform(lo, hi, (n, max_lines, 4))
    while True:  # redraw segments that are too short
        short = np.hypot(seg[..., 2] - seg[..., 0], seg[..., 3] - seg[..., 1]) < min_len
        if not short.any():
            break
        seg[short] = rng.uniform(lo, hi, (int(short.sum()), 4))
    used = np.arange(max_lines)[None] < labels[:, None]
    out = np.empty((n, 1, size, size), np.float32)
    step = max(1, 4096 // max_lines)
    for i in range(0, n, step):
        out[i:i + step, 0] = _render(seg[i:i + step].astype(np.float32), used[i:i + step], size, 0.6)
    return out, labels
