"""The GPT workloads of the in-page benchmark (issue 19): the same Python in Pyodide and on CPython.

The baby recipe's training step as ``playground.apps.gpt.train.Run.step`` takes it (batch,
forward, backward, clipping, learning rate, AdamW), so page and CPython time one piece of code.

* ``speed(seconds, max_steps)``: tokens/s and ms/step after two untimed warm-up steps;
* ``profile(steps)``: where a step's time goes (``step_profile.profile``: own time by
  category, products by shape);
* ``quality(budget, max_iters, every)``: the baby recipe for up to ``budget`` seconds of
  training or ``max_iters`` iterations, the validation loss every ``every`` seconds (the
  estimate is not counted as training time), and a sample at the end.

The corpus is not in the wheel: in the page ``load_corpus(url)`` fetches
engine/_data/shakespeare.txt.gz (served beside the wheel) into Pyodide's file system and
points ``DESCENT_SHAKESPEARE`` at it; on CPython the repository's copy is read.
"""
from __future__ import annotations

import os
import time

import numpy as np

from engine import backend
from playground.bench import step_profile

WARMUP = 2
PRESET = "baby"
TARGET_VAL = 1.95  # issue 19: the page reaches val <= 1.95 within 10 minutes
CORPUS_FS_PATH = "/tmp/shakespeare.txt.gz"


async def load_corpus(url):
    """In Pyodide: fetch the corpus file and make engine.data.load_shakespeare() read it."""
    from pyodide.http import pyfetch
    resp = await pyfetch(url)
    if not resp.ok:
        raise RuntimeError(f"could not fetch the Shakespeare corpus at {url}: HTTP {resp.status}")
    data = await resp.bytes()
    with open(CORPUS_FS_PATH, "wb") as f:
        f.write(data)
    os.environ["DESCENT_SHAKESPEARE"] = CORPUS_FS_PATH
    return {"bytes": len(data)}


def make_run(seed=0, **overrides):
    from playground.apps.gpt.train import Run
    return Run(PRESET, seed=seed, **overrides)


def speed(seconds, max_steps=None, seed=0, clock=time.perf_counter):
    """Train for ``seconds`` after WARMUP untimed steps: tokens/s, ms/step, losses."""
    run = make_run(seed)
    losses = [run.step() for _ in range(WARMUP)]
    backend.reset_stats()
    steps, times = 0, []
    t0 = clock()
    while True:
        t = clock()
        losses.append(run.step())
        times.append(clock() - t)
        steps += 1
        elapsed = clock() - t0
        if elapsed >= seconds or (max_steps and steps >= max_steps):
            break
    tokens = steps * run.tokens_per_step
    return {"tokens_per_s": tokens / elapsed, "ms_per_step": 1e3 * elapsed / steps,
            "ms_per_step_median": 1e3 * float(np.median(times)),
            "ms_per_step_fastest": 1e3 * min(times), "steps": steps, "seconds": elapsed,
            "tokens_per_step": run.tokens_per_step, "loss_first": losses[0],
            "loss_last": losses[-1], "matmul": backend.status()["stats"]}


def profile(steps, seed=0):
    """step_profile.profile of ``steps`` baby steps (after WARMUP untimed ones)."""
    run = make_run(seed)
    return {"kind": "gpt", "tokens_per_step": run.tokens_per_step,
            **step_profile.profile(run.step, steps, WARMUP)}


def quality(budget=600.0, max_iters=2000, every=60.0, eval_iters=50, seed=0,
            clock=time.perf_counter):
    """The baby recipe for up to ``budget`` seconds of training or ``max_iters`` iterations,
    checking train/val loss every ``every`` seconds of training and at the end. Returns the
    checks, when val first reached TARGET_VAL (``crossed``) and a 300-character sample."""
    run = make_run(seed, max_iters=max_iters)
    checks, crossed, trained, next_check = [], None, 0.0, every
    wall0 = clock()
    while True:
        t = clock()
        loss = run.step()
        trained += clock() - t
        done = trained >= budget or run.iter >= max_iters or not np.isfinite(loss)
        if trained >= next_check or done:
            est = run.estimate_loss(eval_iters=eval_iters)
            c = {"seconds": round(trained, 1), "wall": round(clock() - wall0, 1), "iter": run.iter,
                 "train": float(est["train"]), "val": float(est["val"]), "loss": float(loss)}
            checks.append(c)
            crossed = crossed or (c if c["val"] <= TARGET_VAL else None)
            next_check += every
        if done:
            break
    return {"target_val": TARGET_VAL, "budget": budget, "max_iters": max_iters, "checks": checks,
            "crossed": crossed, "final": checks[-1], "met": crossed is not None,
            "tokens_per_s": run.iter * run.tokens_per_step / trained, "sample": sample(run),
            "backend": backend.status()["backend"]}


def sample(run, n=300, seed=0):
    """``n`` characters from the run's model after a newline (temperature 1, no top-k)."""
    return run.sample("\n", n, rng=np.random.default_rng(seed))


COMMANDS = {"speed": speed, "profile": profile, "quality": quality}  # workloads.page_command's "gpt"
