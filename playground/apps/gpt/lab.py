"""The gpt lab's state, no Panel in it: the knobs (a preset and its edits, checked), the run
(train.py's Run: model, AdamW, data), a val loss measured a slice at a time on fixed
batches, samples streamed one character at a time, attention maps, save and load."""
from __future__ import annotations

import asyncio
import functools
import io
import math
import numbers
import os
import urllib.error
import urllib.request
from pathlib import Path

import numpy as np

from engine import no_grad
from engine.data import load_shakespeare
from playground.apps.gpt.model import PRESETS
from playground.apps.gpt.train import Run
from playground.training.assets import ASSETS

# what the page lets a learner set: (label, smallest, largest); lr and dropout are floats
KNOBS = {"n_layer": ("layers", 1, 12), "n_head": ("heads", 1, 16), "n_embd": ("channels", 4, 512),
         "block_size": ("block", 2, 256), "batch_size": ("batch", 1, 256), "lr": ("learning rate", 0, None),
         "dropout": ("dropout", 0, 1), "max_iters": ("iterations", 1, 1_000_000)}
LIVE = ("batch_size", "lr", "max_iters")  # they change the running model's training; the rest need a new model
PRETRAINED = ASSETS / "gpt_baby.npz"  # made by make (train.py's CLI); pages: DESCENT_GPT_BABY(_URL)
EVAL_BATCHES = 8  # the val loss: the mean over these fixed val batches


@functools.cache
def shakespeare():
    """(train, val) text, loaded once."""
    return load_shakespeare()


def pretrained_path() -> Path:
    return Path(os.environ.get("DESCENT_GPT_BABY") or PRETRAINED)


def pretrained_download() -> str:
    """'' when the pretrained file is here; else, where a page fetches it when asked (the
    worker names its address in DESCENT_GPT_BABY_URL), what the download is: "3.3 MB"."""
    if pretrained_path().is_file() or not os.environ.get("DESCENT_GPT_BABY_URL"):
        return ""
    return f"{int(os.environ.get('DESCENT_GPT_BABY_BYTES') or 0) / 1e6:.1f} MB"


async def fetch_pretrained():
    """Download the pretrained file from DESCENT_GPT_BABY_URL (in the page: Pyodide's fetch,
    which the service worker or the offline bundle answers; on CPython: urllib) into the home
    folder, once, and name it in DESCENT_GPT_BABY. A ValueError says why it could not."""
    url = os.environ["DESCENT_GPT_BABY_URL"]
    what = f"could not download the pretrained baby GPT ({url.rsplit('/', 1)[-1]}, {pretrained_download()})"
    try:
        from pyodide.http import pyfetch
    except ImportError:
        pyfetch = None
    try:
        if pyfetch is None:
            raw, status = await asyncio.to_thread(lambda: urllib.request.urlopen(url, timeout=60).read()), 200
        else:
            resp = await pyfetch(url)
            raw, status = (await resp.bytes() if resp.ok else b""), resp.status
    except urllib.error.HTTPError as e:
        raw, status = b"", e.code
    except Exception as e:  # no answer: offline and not cached yet, the site gone
        raise ValueError(f"{what}: no answer ({e}); offline, it loads once an online visit has fetched it") from None
    if not 200 <= status < 300:
        raise ValueError(f"{what}: the site answered HTTP {status}")
    path = Path.home() / "descent" / url.rsplit("/", 1)[-1]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(raw)
    os.environ["DESCENT_GPT_BABY"] = str(path)


def check_knobs(knobs: dict) -> str:
    """What is wrong with these settings, in a sentence, or ''."""
    for key, (label, lo, hi) in KNOBS.items():
        v = knobs.get(key)
        whole = key not in ("lr", "dropout")
        if not isinstance(v, numbers.Real) or isinstance(v, bool) or not math.isfinite(v) or (whole and v != int(v)):
            return f"{label} must be a {'whole ' if whole else ''}number, got {v!r}"
        if key == "lr" and v <= 0:
            return f"the learning rate must be above 0, got {v:g}"
        if key == "dropout" and not 0 <= v < 1:
            return f"dropout is a probability from 0 up to (not including) 1, got {v:g}"
        if whole and not lo <= v <= hi:
            return f"{label} must be from {lo} to {hi:,}, got {v:g}"
    if knobs["n_embd"] % knobs["n_head"]:
        return (f"{knobs['n_embd']} channels do not split into {knobs['n_head']} heads: the channels "
                f"must be a multiple of the heads (each head gets channels / heads)")
    return ""


def recipe_knobs(knobs: dict) -> dict:
    """The Run's settings for these knobs: nanoGPT's min_lr = lr / 10, and the warm-up no longer
    than a tenth of the run."""
    k = {key: (float(v) if key in ("lr", "dropout") else int(v)) for key, v in knobs.items() if key in KNOBS}
    k["min_lr"] = k["lr"] / 10
    k["warmup_iters"] = min(PRESETS["baby"]["warmup_iters"], max(k["max_iters"] // 10, 1))
    return k


class GPTLab:
    """A preset edited by ``knobs``, its Run, its curve and what the plots show (no Panel)."""

    def __init__(self, preset="nano", seed=0, data=None, run=None, **knobs):
        self.data = data or shakespeare()
        self.preset, self.seed = preset, seed
        if run is None:
            self.knobs = {**{k: PRESETS[preset][k] for k in KNOBS}, **knobs}
            if why := check_knobs(self.knobs):
                raise ValueError(why)
            run = Run(preset, seed, data=self.data, **recipe_knobs(self.knobs))
        self.run = run
        self.knobs = {k: run.cfg[k] for k in KNOBS}
        self.history = {"step": [], "train": [], "val": []}
        self.source = f"a fresh {preset}"  # where the weights came from
        val_rng = np.random.default_rng(1234)  # the same val batches every time: a steadier curve
        self.eval_set = [run.batch("val", val_rng) for _ in range(EVAL_BATCHES)]
        self.passing = None  # val losses of an evaluation under way

    @classmethod
    def load(cls, src, data=None, source="a file"):
        """A lab around a saved run (path, bytes or a binary file). Anything unreadable is a
        ValueError that says so; nothing else changes."""
        src = src.read() if hasattr(src, "read") else src
        data = data or shakespeare()
        try:
            run = Run.load(src, data)
        except Exception as e:  # a damaged file can fail in many ways: all are "not a GPT run"
            raise ValueError(f"could not load {source} as a saved GPT: {e}") from None
        lab = cls(run.preset, run.seed, data, run=run)
        lab.source = f"{source} (trained {run.iter:,} iterations)"
        return lab

    @classmethod
    def pretrained(cls, data=None):
        """The baby GPT make trains (2,000 iterations), or a ValueError saying how to get it."""
        p = pretrained_path()
        if not p.is_file():
            raise ValueError(f"the pretrained baby GPT is not here ({p.name}: make playground/assets/gpt_baby.npz)")
        return cls.load(p.read_bytes(), data, source="the pretrained baby GPT")

    # ------------------------------------------------------------------ training

    @property
    def iter(self):
        return self.run.iter

    @property
    def max_iters(self):
        return self.run.cfg["max_iters"]

    @property
    def tokens_per_step(self):
        return self.run.tokens_per_step

    def step(self):
        return {"loss": self.run.step(), "samples": self.run.tokens_per_step}  # the trainer's unit: tokens

    def set_live(self, key, value):
        """A knob of LIVE on the running model (between two steps)."""
        knobs = {**self.knobs, key: value}
        if why := check_knobs(knobs):
            raise ValueError(why)
        self.run.cfg.update(recipe_knobs(knobs))
        self.knobs = knobs

    def state(self):
        """What a diverged run goes back to: weights, optimiser moments and the iteration."""
        return self.run.model.state_dict(), self.run.opt.state_dict(), self.run.iter

    def load_state(self, s):
        self.run.model.load_state_dict(s[0])
        self.run.opt.load_state_dict(s[1])
        self.run.iter = s[2]
        self.passing = None

    def evaluate_some(self):
        """One more val batch (eval mode, no graph): the val loss once all EVAL_BATCHES are
        done, else None. Training and Pause never wait for a whole pass."""
        if self.passing is None:
            self.passing = []
        m = self.run.model
        with m.evaluating(), no_grad():
            self.passing.append(m(*self.eval_set[len(self.passing)])[1].item())
        if len(self.passing) < EVAL_BATCHES:
            return None
        val, self.passing = float(np.mean(self.passing)), None
        return val

    def evaluate(self):
        val = None
        while val is None:
            val = self.evaluate_some()
        return val

    def record(self, train_loss, val):
        for k, v in (("step", self.run.iter), ("train", train_loss), ("val", val)):
            self.history[k].append(v)

    # ------------------------------------------------------------------ looking inside

    def encode(self, text):
        """Token ids; a character the model has never seen is a ValueError naming it."""
        return self.run.encode(text)

    def stream(self, prompt="\n", n=300, temperature=1.0, top_k=None, rng=None):
        """The characters of a continuation of ``prompt``, one at a time (a generator; an
        unknown character in the prompt is a ValueError before the first)."""
        ids = self.encode(prompt or "\n")
        if not temperature > 0:
            raise ValueError(f"the temperature must be above 0, got {temperature}")
        top_k = int(top_k) if top_k else None
        chars = self.run.vocab.chars
        return (chars[t] for t in self.run.model.stream(ids, n, temperature, top_k, rng))

    def attention(self, text, layer=0, head=0):
        """(the characters, (T, T) weights of ``head`` in ``layer``) for the last block_size
        characters of ``text``: row i is how much character i takes from each earlier one."""
        text = text[-self.run.cfg["block_size"]:] or "\n"
        ids = self.encode(text)
        layers = self.run.model.attention(ids)
        if not (0 <= layer < len(layers) and 0 <= head < layers[0].shape[0]):
            raise ValueError(f"there is no head {head + 1} in layer {layer + 1} "
                             f"({len(layers)} layers of {layers[0].shape[0]} heads)")
        return list(text), layers[layer][head]

    # ------------------------------------------------------------------ files

    def save_bytes(self):
        """The run as an .npz (model, vocabulary, settings, iteration; no pickle)."""
        buf = io.BytesIO()
        self.run.save(buf)
        return buf.getvalue()
