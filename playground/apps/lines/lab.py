"""Count the lines' state, no Panel in it: generated images of straight lines, a small
CNN that counts them, its training step and the held-out evaluation."""
from __future__ import annotations

import numpy as np

from engine import Tensor, manual_seed, nn, no_grad, optim
from engine.data import DataLoader, make_lines
from engine.nn import functional as F


def lines_model(size=28, max_lines=5, width=8):
    """conv3(w)-pool-conv3(2w)-pool-fc64 -> one class per count (1..max_lines)."""
    s = ((size - 2) // 2 - 2) // 2
    return nn.Sequential(nn.Conv2d(1, width, 3), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Conv2d(width, 2 * width, 3), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Flatten(), nn.Linear(2 * width * s * s, 64), nn.ReLU(),
                         nn.Linear(64, max_lines))


class LinesLab:
    """Data, model and evaluation (no Panel: testable)."""

    def __init__(self, max_lines=5, n_train=3000, n_test=600, size=28, lr=2e-3, batch_size=32, seed=0):
        self.max_lines, self.size, self.seed = max_lines, size, seed
        self.x, self.y = make_lines(n_train, size, max_lines, seed=seed)
        self.xt, self.yt = make_lines(n_test, size, max_lines, seed=seed + 10_000)
        manual_seed(seed)
        self.model = lines_model(size, max_lines)
        self.opt = optim.Adam(self.model.parameters(), lr=lr)
        self.loader = DataLoader(self.x, self.y - 1, batch_size=batch_size, shuffle=True, seed=seed)
        self._batches = self.loader.forever()
        self.steps = 0

    def step(self):
        xb, yb = next(self._batches)
        self.model.train()
        logits = self.model(Tensor(xb))
        loss = F.cross_entropy(logits, yb)
        self.opt.zero_grad()
        loss.backward()
        self.opt.step()
        self.steps += 1
        return {"loss": loss.item(), "acc": float((logits.data.argmax(1) == yb).mean()), "samples": len(xb)}

    @property
    def epoch(self):
        return self.steps / max(len(self.loader), 1)

    def predict(self, x, batch=500):
        self.model.eval()
        with no_grad():
            out = [self.model(Tensor(x[i:i + batch])).data.argmax(1) for i in range(0, len(x), batch)]
        return np.concatenate(out) + 1

    def evaluate(self):
        """Held-out: overall accuracy, accuracy per true count, and the mistakes' indices."""
        pred = self.predict(self.xt)
        per = [float((pred[self.yt == k] == k).mean()) if (self.yt == k).any() else 0.0
               for k in range(1, self.max_lines + 1)]
        wrong = np.nonzero(pred != self.yt)[0]
        return {"acc": float((pred == self.yt).mean()), "per_count": per, "wrong": wrong, "pred": pred}

    def set_lr(self, lr):
        self.opt.lr = lr

    def state(self):
        """What a diverged run goes back to: weights, Adam's moments, the step count."""
        return self.model.state_dict(), self.opt.state_dict(), self.steps

    def load_state(self, s):
        lr = self.opt.lr  # the learning rate stays the one chosen now
        self.model.load_state_dict(s[0])
        self.opt.load_state_dict(s[1])
        self.opt.lr, self.steps = lr, s[2]
