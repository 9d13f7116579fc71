"""Check the digits app's default recipes on CPython: ``python -m playground.apps.digits.check
mlp cnn`` trains each exactly as the app does (no browser) and prints its held-out accuracy
(the figures in playground/training/recipes.py and the README)."""
from __future__ import annotations

import sys
import time

from playground.apps.digits.app import DigitsApp
from playground.apps.digits.run import describe


def check_recipe(kind="mlp", epochs=None, seed=0, verbose=True):
    """Train ``kind``'s default recipe; returns the held-out accuracy."""
    app = DigitsApp(model_kind=kind, seed=seed, **({"epochs": epochs} if epochs else {}))
    run, trainer = app.run, app.trainer
    t0, last = time.perf_counter(), -1
    while not trainer.finished:
        trainer.run_steps(200)
        if trainer.error:
            raise RuntimeError(trainer.error)
        if verbose and int(run.epoch) != last:
            last = int(run.epoch)
            print(f"  epoch {run.epoch:5.2f}: held-out {run.test_accuracy:.2%} "
                  f"({time.perf_counter() - t0:.0f} s)", flush=True)
    acc = app.evaluate()
    if verbose:
        print(f"{kind} ({describe(run.model)}, {run.epochs} epochs, {run.optimizer} lr {run.lr}, "
              f"batch {run.batch_size}, augment {run.augment}, {run.schedule}): held-out "
              f"{acc:.2%} in {time.perf_counter() - t0:.0f} s", flush=True)
    return acc


if __name__ == "__main__":
    for kind in sys.argv[1:] or ["mlp", "cnn"]:
        check_recipe(kind)
