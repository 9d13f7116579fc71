"""The names lab's state, no Panel in it: the data, the current makemore model (bigram
counts, neural bigram, MLP, transformer), its training steps and evaluation, and what the
page plots (the next-letter table, the MLP's embeddings, the attention map, samples)."""
from __future__ import annotations

import functools

import numpy as np

from engine import no_grad
from engine.data import load_names
from playground.apps.names import model as M


@functools.cache
def names_data():
    """(train, val, test) names, loaded once."""
    return load_names()


class NamesLab:
    """Data, the current model, its training and what the plots show (no Panel: testable)."""

    def __init__(self, kind="mlp", seed=0, data=None, val_limit=None):
        self.train, self.val, _ = data or names_data()
        self.val = self.val[:val_limit]  # val loss on these names (all of them by default)
        self.kind, self.seed = kind, seed
        self.best = {}  # kind -> best val loss seen in this session
        self.counts = M.bigram_counts(self.train)
        self.probs = M.bigram_probs(self.counts)
        self.build(kind, seed)

    def build(self, kind=None, seed=None):
        self.kind = kind or self.kind
        self.seed = self.seed if seed is None else seed
        self.steps = 0
        self.history = {"step": [], "train": [], "val": []}
        self.model_probs = None  # the model's own P(next | this), from its last evaluation
        self.passing = None  # an evaluation in progress (evaluate_some)
        if self.kind == "bigram":  # "training" = counting: 1,000 more names per step
            self.model, self.seen = None, 0
            self.live_counts = np.zeros_like(self.counts)
        else:
            self.model = M.NamesModel(self.kind, self.train, self.val, seed=self.seed)

    @property
    def steps_per_epoch(self):
        if self.kind == "bigram":
            return -(-len(self.train) // 1000)
        return max(len(self.model.xtr) // self.model.batch, 1)

    def step(self):
        if self.kind == "bigram":
            chunk = self.train[self.seen:self.seen + 1000]
            self.live_counts += M.bigram_counts(chunk)
            self.seen += len(chunk)
            self.steps += 1
            loss = M.bigram_nll(M.bigram_probs(self.live_counts), chunk or self.train[:200])
            return {"loss": float(loss), "samples": max(len(chunk), 1)}
        self.steps += 1
        return self.model.step()

    def state(self):
        """What a diverged run goes back to: weights, optimiser moments and the step count."""
        if self.kind == "bigram":
            return self.live_counts.copy(), self.seen, self.steps
        return self.model.model.state_dict(), self.model.opt.state_dict(), self.steps

    def load_state(self, s):
        if self.kind == "bigram":
            self.live_counts, self.seen, self.steps = s[0].copy(), s[1], s[2]
            return
        opt, lr = self.model.opt, self.model.opt.lr
        self.model.model.load_state_dict(s[0])
        opt.load_state_dict(s[1])
        opt.lr = lr  # keep the learning rate the learner chose
        self.model.steps = self.steps = s[2]
        self.model_probs = self.passing = None

    def current_probs(self):
        """The 27x27 table shown: the counts so far, the neural bigram's softmax(W), or the
        MLP's / transformer's own predictions averaged over the val names."""
        if self.kind == "bigram":
            return M.bigram_probs(self.live_counts)
        if self.kind == "neural":
            w = self.model.model.W.weight.data.T.astype(np.float64)
            e = np.exp(w - w.max(axis=1, keepdims=True))
            return e / e.sum(axis=1, keepdims=True)
        if self.model_probs is None:
            self.evaluate()
        return self.model_probs

    def evaluate(self):
        if self.kind == "bigram":
            return self._keep(M.bigram_nll(M.bigram_probs(self.live_counts), self.val))
        self.passing = None
        return self._keep(*self.model.evaluate("val", table=True))

    def evaluate_some(self):
        """One more slice of the val evaluation: the val loss once the pass is complete,
        else None. A transformer slice is 100 names (1/8 of a pass), so training and Pause
        never wait for a whole pass; the other models finish in one."""
        if self.kind == "bigram":
            return self.evaluate()
        if self.passing is None:
            rows = 100 if self.kind == "transformer" else 8192
            self.passing = self.model.evaluating("val", chunk=rows, table=True)
        out = next(self.passing)
        if out is None:
            return None
        self.passing = None
        return self._keep(*out)

    def _keep(self, val, probs=None):
        if probs is not None:
            self.model_probs = probs
        if np.isfinite(val):
            self.best[self.kind] = min(val, self.best.get(self.kind, np.inf))
        return float(val)

    def record(self, train_loss, val=None):
        val = self.evaluate() if val is None else val
        self.history["step"].append(self.steps)
        self.history["train"].append(train_loss)
        self.history["val"].append(val)
        return val

    def sample(self, n=12, temperature=1.0, prefix="", rng=None):
        prefix = "".join(c for c in prefix.lower() if c in M.STOI and c != ".")
        if self.kind == "bigram":
            return M.sample_bigram(self.current_probs(), n, temperature, prefix, rng)
        return self.model.sample(n, temperature, prefix, rng=rng)

    def embedding_2d(self):
        """The MLP's 27 letter embeddings on their top two principal axes, or None."""
        if self.kind != "mlp":
            return None
        e = self.model.model.wte.weight.data.astype(np.float64)
        if e.shape[1] == 2:
            return e
        c = e - e.mean(axis=0)
        _, _, vt = np.linalg.svd(c, full_matrices=False)
        return c @ vt[:2].T

    def attention_map(self, name, layer=0):
        """(letters shown, (T, T) weights averaged over heads) for '.' + name, or None."""
        if self.kind != "transformer":
            return None
        name = "".join(c for c in name.lower() if c in M.STOI and c != ".")[:M.MAX_LEN - 1]
        x = np.array([[0] + M.encode(name)], np.int64)
        self.model.model.eval()
        with no_grad():
            self.model.model(x)
        w = self.model.model.attention(layer)[0].mean(axis=0)
        return ["."] + list(name), w

    def table(self):
        """Markdown: best val loss per model here, beside makemore's published figures."""
        rows = ["| model | val loss here | makemore |", "|---|---|---|"]
        for k in M.MODELS:
            ours = f"{self.best[k]:.3f}" if k in self.best else "—"
            v, d = M.MAKEMORE[k]
            rows.append(f"| {M.TITLES[k]} | {ours} | {f'{v:.2f} — {d}' if v else d} |")
        return "\n".join(rows)
