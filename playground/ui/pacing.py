"""A costly redraw (an evaluation pass, samples, a judge's verdict) kept to about a quarter
of the time: after one that took c seconds, the next waits until 3c have passed. Training
runs in between, and Pause lands between chunks instead of behind a long redraw."""
from __future__ import annotations

import time


class Paced:
    """``paced()`` calls ``fn`` when its rest is over (True) or skips it (False)."""

    def __init__(self, fn, rest=3.0):
        self.fn, self.rest = fn, rest
        self.reset()

    def reset(self):
        self.last = self.cost = 0.0

    def __call__(self):
        now = time.perf_counter()
        if now - self.last < self.rest * self.cost:
            return False
        self.fn()
        self.last = time.perf_counter()
        self.cost = self.last - now
        return True
