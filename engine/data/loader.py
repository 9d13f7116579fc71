"""Feeding a model: DataLoader (seeded batches), augment (random shifts and rotations),
preprocess_drawing (a drawn digit made to look like MNIST)."""
import numpy as np


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
