"""When a run counts as diverged, and the last good point it goes back to.

A non-finite loss diverges at once (the Trainer sees it); a finite loss diverges when its
median over the last ``window`` steps sits ``explode`` times above the run's first loss (Adam
at a huge learning rate keeps a finite loss of millions). A point is a safe one to come back
to only while no loss of the window is above that line, and not before the step that last
diverged: where a chunk ends depends on the clock, and the next divergence must go back to
the same step as the last one.
"""
from __future__ import annotations

import math
import statistics


class Guard:
    """The losses of one run and its last good point (``good``: the app's snapshot, taken at
    step ``good_step``), as the Trainer's divergence check sees them."""

    def __init__(self, explode: float | None = 10.0, window: int = 10):
        self.explode, self.window = explode, max(1, int(window))
        self.reset()

    def reset(self):
        self.first_loss = None  # the run's first loss: what "exploded" is measured against
        self.recent = []        # the last `window` losses
        self.hold_until = 0     # no snapshot before this step (the last divergence)
        self.good, self.good_step, self.good_samples, self.good_recent = None, 0, 0, []

    def keep(self, snapshot, step: int, samples: int):
        """The point a divergence goes back to from now on."""
        self.good, self.good_step, self.good_samples = snapshot, step, samples
        self.good_recent = list(self.recent)

    def check(self, metrics: dict) -> tuple[str, bool] | None:
        """(why, whether the loss was finite) when a step's metrics say the run diverged."""
        for k, v in metrics.items():
            if isinstance(v, float) and not math.isfinite(v):
                return f"{k} became {v}", False
        why = self.exploded(metrics.get("loss"))
        return (why, True) if why else None

    def exploded(self, loss) -> str | None:
        """Why the run counts as diverged although its loss is finite, or None."""
        if self.explode is None or not isinstance(loss, (int, float)):
            return None
        if self.first_loss is None:
            self.first_loss = abs(float(loss))
        self.recent = (self.recent + [float(loss)])[-self.window:]
        typical = statistics.median(self.recent)
        if len(self.recent) < self.window or typical <= self.explode * self.first_loss or not self.first_loss:
            return None
        return (f"its median over the last {self.window} steps is {typical:.3g}, "
                f"{typical / self.first_loss:.3g}× the first loss {self.first_loss:.3g}")

    def settled(self, step: int) -> bool:
        """May the point after ``step`` be the one a divergence goes back to?"""
        if step < self.hold_until:
            return False
        return not (self.explode and self.first_loss and
                    max(self.recent, default=0) > self.explode * self.first_loss)

    def hold(self, failed_at: int):
        """A divergence at step ``failed_at``: no snapshot before it from now on."""
        self.hold_until = max(self.hold_until, failed_at)


def stop_message(why: str, failed_at: int, finite: bool, restored: str) -> str:
    """What the learner reads when a run diverged (``restored``: what was put back, or "")."""
    what = (f"the loss exploded at step {failed_at} ({why})" if finite else
            f"the loss is not a finite number at step {failed_at} ({why.split(':')[0]})")
    return (f"Stopped: {what}. Training diverged — try a lower learning rate "
            f"(e.g. 10× smaller) or gradient clipping.{restored}")
