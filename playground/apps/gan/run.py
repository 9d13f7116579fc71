"""The MNIST GAN's state and steps, no Panel in it: the two networks, one training step,
samples, the fixed-noise grid, and what the digits classifier makes of the samples.

The default recipe is a *conditional* GAN with an auxiliary classifier head on the
discriminator (AC-GAN style) and one-sided label smoothing: the generator gets the wanted
digit as a one-hot next to its noise, the discriminator sees the digit too and also has to
say which digit an image is, and the generator is rewarded when its images are recognised
as the digit it was asked for. That makes samples recognisable much sooner than the vanilla
recipe (see ``playground/bench/gan_bench.py``).
"""
from __future__ import annotations

import math

import numpy as np

from engine import Tensor, cat, manual_seed, nn, no_grad, optim
from engine.nn import functional as F

Z_DIM = 64
GRID_ROWS = GRID_COLS = 10
EYE = np.eye(10, dtype=np.float32)


class MnistGAN:
    """Generator and discriminator MLPs and one training step (no Panel: testable).

    G: [z (64) | one-hot (10)] -> 256 -> 512 -> 784, LeakyReLU(0.2), tanh out (pixels in [-1, 1]).
    D: [image (784) | one-hot (10)] -> 512 -> 256 -> 1 real/fake logit (+ 10 class logits).
    Adam(lr, betas=(0.5, 0.999)) for both, batch 64, real label 0.9 (one-sided smoothing).
    """

    def __init__(self, conditional=True, digit=None, lr=5e-4, batch_size=64, smooth=0.9,
                 aux_classifier=True, seed=0, data=None):
        from engine.data import load_mnist
        self.conditional, self.digit = bool(conditional), digit
        self.aux = bool(aux_classifier) and self.conditional
        self.lr, self.batch_size, self.smooth, self.seed = lr, int(batch_size), smooth, seed
        (x, y), _ = data if data is not None else load_mnist()
        x = x.reshape(len(x), -1) * 2 - 1
        if digit is not None:
            keep = y == int(digit)
            x, y = x[keep], y[keep]
        self.x, self.y = x.astype(np.float32), y
        manual_seed(seed)
        self.rng = np.random.default_rng(seed)
        c = 10 if self.conditional else 0
        self.G = nn.Sequential(nn.Linear(Z_DIM + c, 256), nn.LeakyReLU(0.2),
                               nn.Linear(256, 512), nn.LeakyReLU(0.2),
                               nn.Linear(512, 784), nn.Tanh())
        self.D = nn.Sequential(nn.Linear(784 + c, 512), nn.LeakyReLU(0.2),
                               nn.Linear(512, 256), nn.LeakyReLU(0.2),
                               nn.Linear(256, 1 + (10 if self.aux else 0)))
        self.opt_g = optim.Adam(self.G.parameters(), lr=lr, betas=(0.5, 0.999))
        self.opt_d = optim.Adam(self.D.parameters(), lr=lr, betas=(0.5, 0.999))
        fixed = np.random.default_rng(1000 + seed)
        self.fixed_z = fixed.standard_normal((GRID_ROWS * GRID_COLS, Z_DIM)).astype(np.float32)
        self.fixed_y = self._labels_for(np.repeat(np.arange(GRID_ROWS), GRID_COLS))
        self.interp_z = fixed.standard_normal((2, Z_DIM)).astype(np.float32)
        self.steps = 0

    def _labels_for(self, wanted):
        return np.full(len(wanted), int(self.digit)) if self.digit is not None else wanted

    def _g_in(self, z, y):
        z = Tensor(z)
        return cat([z, Tensor(EYE[y])], 1) if self.conditional else z

    def _d_in(self, x, y):
        if not self.conditional:
            return x
        return cat([x, Tensor(EYE[y])], 1) if isinstance(x, Tensor) else Tensor(np.concatenate([x, EYE[y]], 1))

    def set_lr(self, lr):
        self.lr = self.opt_g.lr = self.opt_d.lr = lr

    def step(self):
        """One D step and one G step on a fresh batch; returns plain-float metrics."""
        B, rng = self.batch_size, self.rng
        idx = rng.integers(0, len(self.x), B)
        xr, yr = self.x[idx], self.y[idx]
        yf = self._labels_for(rng.integers(0, 10, B))
        z = rng.standard_normal((B, Z_DIM), dtype=np.float32)
        fake = self.G(self._g_in(z, yf))
        # D: real (label smoothed) and fake in one batch; fake is treated as a constant
        out = self.D(self._d_in(np.concatenate([xr, fake.data]), np.concatenate([yr, yf])))
        target = np.concatenate([np.full((B, 1), self.smooth), np.zeros((B, 1))]).astype(np.float32)
        loss_d = F.binary_cross_entropy_with_logits(out[:, :1], Tensor(target))
        if self.aux:  # D must also tell which digit each image shows
            loss_d = loss_d + F.cross_entropy(out[:, 1:], np.concatenate([yr, yf]))
        self.opt_d.zero_grad()
        loss_d.backward()
        self.opt_d.step()
        d_prob = 1 / (1 + np.exp(-out.data[:, 0]))
        # G: make D call the fakes real (and recognise the asked-for digit)
        out_g = self.D(self._d_in(fake, yf))
        loss_g = F.binary_cross_entropy_with_logits(out_g[:, :1], Tensor(np.ones((B, 1), np.float32)))
        if self.aux:
            loss_g = loss_g + F.cross_entropy(out_g[:, 1:], yf)
        self.opt_g.zero_grad()
        loss_g.backward()
        self.opt_g.step()
        self.steps += 1
        return {"d_loss": loss_d.item(), "g_loss": loss_g.item(), "d_real": float(d_prob[:B].mean()),
                "d_fake": float(d_prob[B:].mean()), "samples": B}

    def generate(self, z, y=None):
        """Images (n, 1, 28, 28) in [0, 1] from noise z (n, 64) and digits y (n,)."""
        y = self._labels_for(np.zeros(len(z), int) if y is None else np.asarray(y))
        with self.G.evaluating(), no_grad():
            out = self.G(self._g_in(np.asarray(z, np.float32), y)).data
        return ((out + 1) / 2).reshape(-1, 1, 28, 28)

    def sample(self, n, seed=None):
        """n images from random noise; classes balanced (0..9 repeating) when conditional."""
        rng = np.random.default_rng(seed)
        y = np.arange(n) % 10
        return self.generate(rng.standard_normal((n, Z_DIM)).astype(np.float32), y), self._labels_for(y)

    def grid(self):
        """The fixed-noise sample grid as one (280, 280) image in [0, 1] (row k = digit k
        when conditional)."""
        return tile(self.generate(self.fixed_z, self.fixed_y)[:, 0], GRID_ROWS, GRID_COLS)

    def interpolate(self, t, n=10):
        """A row of n images from z = (1-t) z0 + t z1, one per digit when conditional."""
        z = ((1 - t) * self.interp_z[0] + t * self.interp_z[1])[None].repeat(n, 0)
        return tile(self.generate(z, np.arange(n) % 10)[:, 0], 1, n)

    def state(self):
        return snapshot(self)

    def load_state(self, s):
        restore(self, s)
        self.steps = s["steps"]


def snapshot(gan):
    """What a diverged run goes back to: both networks, both optimisers' moments."""
    return {"G": gan.G.state_dict(), "D": gan.D.state_dict(), "opt_g": gan.opt_g.state_dict(),
            "opt_d": gan.opt_d.state_dict(), "steps": getattr(gan, "steps", 0),
            "d_steps": getattr(gan, "d_steps", 0), "g_steps": getattr(gan, "g_steps", 0)}


def restore(gan, s):
    """Load a ``snapshot``; the learning rate stays the one chosen now."""
    gan.G.load_state_dict(s["G"])
    gan.D.load_state_dict(s["D"])
    for opt, k in ((gan.opt_g, "opt_g"), (gan.opt_d, "opt_d")):
        lr = opt.lr
        opt.load_state_dict(s[k])
        opt.lr = lr


def tile(images, rows, cols, pad=1):
    """(n, h, w) -> one (rows*(h+pad)-pad, cols*(w+pad)-pad) image."""
    n, h, w = images.shape
    out = np.full((rows * (h + pad) - pad, cols * (w + pad) - pad), 0.25, np.float32)
    for k in range(min(n, rows * cols)):
        r, c = divmod(k, cols)
        out[r * (h + pad):r * (h + pad) + h, c * (w + pad):c * (w + pad) + w] = images[k]
    return out


def judge(classifier, images, wanted=None):
    """What the digits classifier thinks of generated images: class histogram, mean
    max-probability, classes present, normalised entropy of the class spread (1 = all ten
    equally, 0 = one class: mode collapse), agreement with the asked-for digits."""
    from playground.training.assets import predict_proba
    p = predict_proba(classifier, images)
    pred = p.argmax(1)
    hist = np.bincount(pred, minlength=10)
    frac = hist / max(hist.sum(), 1)
    nz = frac[frac > 0]
    spread = float(-(nz * np.log(nz)).sum() / math.log(10))
    out = {"hist": hist, "mean_max_prob": float(p.max(1).mean()), "classes": int((hist > 0).sum()),
           "spread": max(0.0, spread)}
    if wanted is not None:
        out["agreement"] = float((pred == np.asarray(wanted)).mean())
    return out
