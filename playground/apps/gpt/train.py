"""nanoGPT's train.py loop for the GPT of model.py (numpy + engine only, no Panel).

    run = Run("baby", seed=0)          # data, vocabulary, model, AdamW
    for _ in range(2000):
        loss = run.step()              # one batch: forward, backward, clip, lr, AdamW
    run.estimate_loss()                # {"train": ..., "val": ...}
    run.save("gpt_baby.npz")           # model + config + iteration (.npz, no pickle)

or from a shell: ``python -m playground.apps.gpt.train --preset baby --iters 2000 --out F.npz``.
"""
import argparse
import time

import numpy as np

from engine import io, manual_seed, no_grad
from engine.data import CharVocab, load_shakespeare
from engine.nn.utils import clip_grad_norm_
from engine.optim.lr_scheduler import cosine

from .model import CONFIG_KEYS, GPT, PRESETS, GPTConfig

TRAIN_KEYS = ("batch_size", "lr", "min_lr", "max_iters", "warmup_iters", "weight_decay",
              "beta2", "grad_clip", "eval_interval", "eval_iters")


def get_lr(it, cfg):
    """Linear warm-up over warmup_iters, then cosine from lr down to min_lr at max_iters."""
    lr, min_lr, warmup, total = cfg["lr"], cfg["min_lr"], cfg["warmup_iters"], cfg["max_iters"]
    if it < warmup:
        return lr * (it + 1) / (warmup + 1)
    if it >= total:
        return min_lr
    return cosine((it - warmup) / max(total - warmup, 1), lr, min_lr)


def get_batch(data, block_size, batch_size, rng):
    """batch_size random windows of data: x (B, T) and y, the same shifted by one."""
    if len(data) <= block_size:
        raise ValueError(f"the text ({len(data)} characters) is too short for block_size "
                         f"{block_size}")
    windows = np.lib.stride_tricks.sliding_window_view(data, block_size + 1)
    xy = windows[rng.integers(0, len(windows), batch_size)]
    return np.ascontiguousarray(xy[:, :-1]), np.ascontiguousarray(xy[:, 1:])


def recipe(preset="baby", **overrides):
    """The preset's settings with overrides applied; unknown names are refused."""
    if preset not in PRESETS:
        raise ValueError(f"unknown preset {preset!r}; choose one of {sorted(PRESETS)}")
    cfg = dict(PRESETS[preset])
    if unknown := sorted(set(overrides) - set(cfg)):
        raise ValueError(f"unknown setting(s) {unknown}; known: {sorted(cfg)}")
    cfg.update(overrides)
    return cfg


class Run:
    """A model, its optimiser and its data: ``step()`` trains one batch."""

    def __init__(self, preset="baby", seed=0, data=None, **overrides):
        """data: (train_text, val_text); default engine.data.load_shakespeare()."""
        self.preset, self.seed, self.cfg = preset, seed, recipe(preset, **overrides)
        train, val = data if data is not None else load_shakespeare()
        self.vocab = CharVocab(train + val)
        self.train_data, self.val_data = self.vocab.encode(train), self.vocab.encode(val)
        manual_seed(seed)
        self._start(GPT(self._config()), 0)
        self.rng = np.random.default_rng(seed)             # training batches
        self.eval_rng = np.random.default_rng(seed + 1)    # estimate_loss's own batches

    def _config(self):
        keys = {k: self.cfg[k] for k in CONFIG_KEYS if k in self.cfg}
        return GPTConfig(**keys, vocab_size=len(self.vocab))

    def _start(self, model, it):
        c = self.cfg
        self.model, self.iter = model, it
        self.opt = model.configure_optimizers(c["weight_decay"], get_lr(it, c), (0.9, c["beta2"]))

    @property
    def tokens_per_step(self):
        return self.cfg["batch_size"] * self.cfg["block_size"]

    def batch(self, split="train", rng=None):
        data = self.train_data if split == "train" else self.val_data
        return get_batch(data, self.cfg["block_size"], self.cfg["batch_size"], rng or self.rng)

    def step(self, batch=None):
        """One training iteration on batch (x, y), default a fresh random one; returns
        its loss (nats per character)."""
        x, y = batch if batch is not None else self.batch()
        self.opt.lr = get_lr(self.iter, self.cfg)
        self.model.train()
        _, loss = self.model(x, y)
        self.opt.zero_grad()
        loss.backward()  # NonFiniteLossError if it diverged: nothing is updated then
        if self.cfg["grad_clip"]:
            clip_grad_norm_(self.model.parameters(), self.cfg["grad_clip"])
        self.opt.step()
        self.iter += 1
        return loss.item()

    def estimate_loss(self, eval_iters=None):
        """Mean loss over eval_iters batches of each split, in eval mode, no graph."""
        n = eval_iters or self.cfg["eval_iters"]
        out = {}
        with self.model.evaluating(), no_grad():
            for split in ("train", "val"):
                losses = [self.model(*self.batch(split, self.eval_rng))[1].item()
                          for _ in range(n)]
                out[split] = float(np.mean(losses))
        return out

    def windows(self, split="val"):
        """The whole split cut into consecutive block_size windows: (x, y), each (N, T)."""
        data, t = (self.train_data if split == "train" else self.val_data), self.cfg["block_size"]
        n = (len(data) - 1) // t
        return data[:n * t].reshape(n, t), data[1:n * t + 1].reshape(n, t)

    def evaluate(self, split="val", batch_size=64):
        """The mean loss over every character of the split (windows(), no sampling noise:
        estimate_loss's 20 batches vary by a few hundredths)."""
        x, y = self.windows(split)
        total = 0.0
        with self.model.evaluating(), no_grad():
            for i in range(0, len(x), batch_size):
                xb, yb = x[i:i + batch_size], y[i:i + batch_size]
                total += self.model(xb, yb)[1].item() * len(xb)
        return total / len(x)

    def sample(self, prompt="\n", max_new_tokens=300, temperature=1.0, top_k=None, rng=None):
        """A continuation of prompt as text."""
        ids = self.model.generate(self.encode(prompt), max_new_tokens, temperature, top_k, rng)
        return self.vocab.decode(ids[len(prompt):])

    def encode(self, text):
        """Token ids of text; a character outside the vocabulary is a clear ValueError."""
        if bad := sorted(set(text) - set(self.vocab.stoi)):
            raise ValueError(f"characters not in the vocabulary: {''.join(bad)!r}")
        return self.vocab.encode(text)

    # -- saving and loading -----------------------------------------------------------
    def save(self, path_or_file):
        """The model, its vocabulary, the settings and the iteration, in one .npz (no
        pickle; engine.io.load reads it too). Returns the number of bytes."""
        self.model.meta = {"chars": "".join(self.vocab.chars), "preset": self.preset,
                           "seed": self.seed, "iter": self.iter,
                           "train": {k: self.cfg[k] for k in TRAIN_KEYS}}
        return io.save(self.model, path_or_file)

    def restore(self, src):
        """Load a saved run's model, settings and iteration into this run. Everything is
        checked first; on a problem io.ModelFileError is raised and the run is unchanged.
        (The optimiser's moments are not saved: AdamW restarts them.)"""
        return self._adopt(*read_run(src))

    def _adopt(self, model, preset, cfg, it):
        if model.meta["chars"] != "".join(self.vocab.chars):
            raise io.ModelFileError("the file's vocabulary differs from this text's")
        self.preset, self.cfg = preset, cfg
        self._start(model, it)
        return self

    @classmethod
    def load(cls, src, data=None):
        """A Run from a saved file (path, binary file or bytes); data as for Run()."""
        found = read_run(src)
        seed = found[0].meta.get("seed", 0)
        return cls(found[1], seed if isinstance(seed, int) else 0, data)._adopt(*found)


def read_run(src):
    """(model, preset, settings, iteration) of a file Run.save wrote, all checked, or
    io.ModelFileError saying what is wrong."""
    model = io.load(src)
    meta = getattr(model, "meta", None)
    if not isinstance(model, GPT) or not isinstance(meta, dict) or "chars" not in meta:
        raise io.ModelFileError("not a saved GPT run (no vocabulary in the file)")
    try:
        preset = meta.get("preset", "baby")
        shape = {k: v for k, v in vars(model.config).items() if k != "vocab_size"}
        cfg = recipe(preset, **{**meta.get("train", {}), **shape})
        return model, preset, cfg, int(meta.get("iter", 0))
    except (TypeError, ValueError) as e:
        raise io.ModelFileError(f"damaged run settings in the file: {e}") from None


def main(argv=None):
    p = argparse.ArgumentParser(description="Train nanoGPT's character-level GPT on Shakespeare.")
    p.add_argument("--preset", default="baby", choices=sorted(PRESETS))
    p.add_argument("--iters", type=int, default=None, help="iterations (default: the preset's)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--log", type=int, default=50, help="print the loss every N iterations")
    p.add_argument("--out", default=None, help="save the trained run to this .npz")
    a = p.parse_args(argv)
    over = {} if a.iters is None else {"max_iters": a.iters}
    run = Run(a.preset, a.seed, **over)
    n = run.cfg["max_iters"]
    print(f"{a.preset}: {run.model.num_parameters() / 1e6:.3f} M parameters, "
          f"{run.tokens_per_step} tokens per step, {n} iterations")
    t0 = time.perf_counter()
    for it in range(n):
        loss = run.step()
        if it == 0 or (it + 1) % a.log == 0:  # iter k: after k iterations
            print(f"iter {it + 1}: loss {loss:.4f}, {time.perf_counter() - t0:.0f} s", flush=True)
        if (it + 1) % run.cfg["eval_interval"] == 0 or it == n - 1:
            est = run.estimate_loss()
            print(f"iter {it + 1}: train {est['train']:.4f}, val {est['val']:.4f}", flush=True)
    print(f"val {run.evaluate('val'):.4f} nats/char over every val character "
          f"({time.perf_counter() - t0:.0f} s); a sample:")
    print(run.sample(max_new_tokens=300, rng=np.random.default_rng(a.seed)))
    if a.out:
        print(f"saved {a.out} ({run.save(a.out)} bytes)")


if __name__ == "__main__":
    main()
