"""The 2-D GAN's state and steps, no Panel in it (in the spirit of GAN Lab): a real 2-D
distribution, a generator of points, the discriminator's opinion over the plane, and the
direction the generator's gradient pushes each fake point."""
from __future__ import annotations

import numpy as np

from engine import Tensor, manual_seed, nn, no_grad, optim
from engine.nn import functional as F
from playground.apps.gan.run import restore, snapshot

REAL_2D = ("ring", "two moons", "gaussian mixture")


def sample_real_2d(name, n, seed):
    from engine.data import sample_gaussian_mixture, sample_ring, sample_two_moons
    fn = {"ring": sample_ring, "two moons": sample_two_moons,
          "gaussian mixture": sample_gaussian_mixture}.get(name)
    if fn is None:
        raise ValueError(f"unknown distribution {name!r}; choose one of {REAL_2D}")
    return fn(n, seed=seed)


class Gan2D:
    """A tiny GAN on 2-D points: G maps 2-D uniform noise to points, D scores points."""

    def __init__(self, dist="ring", lr=0.01, batch_size=128, hidden=32, seed=0, n_shown=200):
        self.dist, self.lr, self.batch_size, self.seed = dist, lr, batch_size, seed
        manual_seed(seed)
        self.rng = np.random.default_rng(seed)
        self.G = nn.Sequential(nn.Linear(2, hidden), nn.LeakyReLU(0.2), nn.Linear(hidden, hidden),
                               nn.LeakyReLU(0.2), nn.Linear(hidden, 2))
        self.D = nn.Sequential(nn.Linear(2, hidden), nn.LeakyReLU(0.2), nn.Linear(hidden, hidden),
                               nn.LeakyReLU(0.2), nn.Linear(hidden, 1))
        self.opt_g = optim.Adam(self.G.parameters(), lr=lr, betas=(0.5, 0.999))
        self.opt_d = optim.Adam(self.D.parameters(), lr=lr, betas=(0.5, 0.999))
        self.real_shown = sample_real_2d(dist, n_shown, seed + 1)
        self.z_shown = np.random.default_rng(seed + 2).uniform(-1, 1, (n_shown, 2)).astype(np.float32)
        self.d_steps = self.g_steps = 0
        self.last = {"d_loss": float("nan"), "g_loss": float("nan")}

    def _noise(self, n):
        return self.rng.uniform(-1, 1, (n, 2)).astype(np.float32)

    def d_step(self):
        B = self.batch_size
        real = sample_real_2d(self.dist, B, int(self.rng.integers(1 << 30)))
        with no_grad():
            fake = self.G(Tensor(self._noise(B))).data
        out = self.D(Tensor(np.concatenate([real, fake])))
        target = np.concatenate([np.ones((B, 1)), np.zeros((B, 1))]).astype(np.float32)
        loss = F.binary_cross_entropy_with_logits(out, Tensor(target))
        self.opt_d.zero_grad()
        loss.backward()
        self.opt_d.step()
        self.d_steps += 1
        self.last["d_loss"] = loss.item()
        return loss.item()

    def g_step(self):
        B = self.batch_size
        out = self.D(self.G(Tensor(self._noise(B))))
        loss = F.binary_cross_entropy_with_logits(out, Tensor(np.ones((B, 1), np.float32)))
        self.opt_g.zero_grad()
        self.D.zero_grad()
        loss.backward()
        self.opt_g.step()
        self.D.zero_grad()
        self.g_steps += 1
        self.last["g_loss"] = loss.item()
        return loss.item()

    def step(self):
        d, g = self.d_step(), self.g_step()
        return {"d_loss": d, "g_loss": g, "samples": self.batch_size}

    def fake_points(self):
        with no_grad():
            return self.G(Tensor(self.z_shown)).data

    def arrows(self):
        """Each shown fake point and the direction the generator's loss pushes it
        (minus the gradient of G's loss with respect to the point)."""
        pts = Tensor(self.fake_points(), requires_grad=True)
        loss = F.binary_cross_entropy_with_logits(self.D(pts), Tensor(np.ones((len(pts.data), 1), np.float32)),
                                                  reduction="sum")
        loss.backward()
        self.D.zero_grad()
        return pts.data, -pts.grad

    def heatmap(self, n=60, lim=1.2):
        """D's probability that a point is real over [-lim, lim]^2, (n, n), row 0 = bottom."""
        g = np.linspace(-lim, lim, n, dtype=np.float32)
        xx, yy = np.meshgrid(g, g)
        with no_grad():
            out = self.D(Tensor(np.stack([xx.ravel(), yy.ravel()], 1))).data
        return (1 / (1 + np.exp(-out))).reshape(n, n).astype(np.float32)

    def state(self):
        return snapshot(self)

    def load_state(self, s):
        restore(self, s)
        self.d_steps, self.g_steps = s["d_steps"], s["g_steps"]
