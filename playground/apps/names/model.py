"""makemore with Descent's engine: names one character at a time (no Panel: testable).

Four models of "which letter comes next", each better than the last:
  bigram counts   P(next | this letter), read off a 27x27 table of counts
  neural bigram   the same table learned by gradient descent (one Linear on a one-hot)
  MLP             Bengio et al. 2003: the last 3 letters -> embeddings -> tanh -> logits
  transformer     every earlier letter, weighed by causal self-attention (GPT in miniature)
'.' marks both the start and the end of a name. Losses are nats per character, the end
included, as in Karpathy's makemore.
"""
from __future__ import annotations

import math

import numpy as np

from engine import Tensor, manual_seed, nn, no_grad, sampling
from engine.nn import functional as F
from playground.training.recipes import make_optimizer

VOCAB = "." + "abcdefghijklmnopqrstuvwxyz"
STOI = {c: i for i, c in enumerate(VOCAB)}
V = len(VOCAB)
MAX_LEN = 16  # the longest name here has 15 letters; + the end mark
MODELS = ("bigram", "neural", "mlp", "transformer")
TITLES = {"bigram": "Bigram counts", "neural": "Neural bigram", "mlp": "MLP (Bengio 2003)",
          "transformer": "Transformer"}
# Karpathy's "Let's build makemore" videos, on his names.txt (32k names, SSA 2018)
MAKEMORE = {"bigram": (2.45, "counts, training set (part 1)"),
            "neural": (2.46, "one Linear, training set (part 1)"),
            "mlp": (2.17, "context 3, 10-d embeddings, 200 tanh (part 2, val)"),
            "transformer": (None, "part 5's WaveNet MLP reaches 1.99 (val)")}


def encode(name):
    return [STOI[c] for c in name]


def decode(idx):
    return "".join(VOCAB[i] for i in idx)


# -- data -----------------------------------------------------------------------------------
def bigram_counts(names):
    """(27, 27) int counts N[a, b]: how often letter b follows letter a ('.' = start/end)."""
    counts = np.zeros((V, V), np.int64)
    for name in names:
        ix = [0] + encode(name) + [0]
        np.add.at(counts, (ix[:-1], ix[1:]), 1)
    return counts


def bigram_probs(counts, smoothing=1):
    """Rows of P(next | this), with `smoothing` fake counts so nothing has probability 0."""
    p = counts + smoothing
    return p / p.sum(axis=1, keepdims=True)


def bigram_nll(probs, names):
    """Mean -log P(next | this) over every character of the names, the end included."""
    total, n = 0.0, 0
    for name in names:
        ix = [0] + encode(name) + [0]
        total -= np.log(probs[ix[:-1], ix[1:]]).sum()
        n += len(ix) - 1
    return total / n


def context_dataset(names, block_size):
    """X (N, block_size) of the previous letters (padded with '.'), Y (N,) the next one."""
    xs, ys = [], []
    for name in names:
        ctx = [0] * block_size
        for i in encode(name) + [0]:
            xs.append(ctx)
            ys.append(i)
            ctx = ctx[1:] + [i]
    return np.array(xs, np.int64).reshape(-1, block_size), np.array(ys, np.int64)


def sequence_dataset(names, max_len=MAX_LEN):
    """X (N, max_len): '.' then the name, padded with '.'; Y (N, max_len): the name, '.',
    then -1 (ignored by the loss). Position t of X predicts Y[t]."""
    x = np.zeros((len(names), max_len), np.int64)
    y = np.full((len(names), max_len), -1, np.int64)
    for r, name in enumerate(names):
        ix = encode(name)[:max_len - 1]
        x[r, 1:len(ix) + 1] = ix
        y[r, :len(ix) + 1] = ix + [0]
    return x, y


# -- models ---------------------------------------------------------------------------------
@nn.register
class NeuralBigram(nn.Module):
    """logits = one_hot(last letter) @ W: W (27, 27) learns log-counts (one Linear, no bias)."""
    context = 1

    def __init__(self):
        super().__init__()
        nn.record_args(self)
        self.W = nn.Linear(V, V, bias=False)

    def forward(self, x):
        onehot = np.eye(V, dtype=np.float32)[np.asarray(x)[:, -1]]
        return self.W(Tensor(onehot))


@nn.register
class MLP(nn.Module):
    """Bengio et al. 2003: embed each of the last `context` letters, concatenate, tanh, logits."""

    def __init__(self, context=3, n_embd=10, n_hidden=200):
        super().__init__()
        nn.record_args(self, context=context, n_embd=n_embd, n_hidden=n_hidden)
        self.context = context
        self.wte = nn.Embedding(V, n_embd)
        self.hidden = nn.Linear(context * n_embd, n_hidden)
        self.out = nn.Linear(n_hidden, V)
        with no_grad():  # a less confident start: the first loss is ~log(27), not ~20
            self.out.weight.data *= 0.1
            self.out.bias.data[...] = 0

    def forward(self, x):
        e = self.wte(x)  # (B, context, n_embd)
        return self.out(self.hidden(e.reshape(e.shape[0], -1)).tanh())


@nn.register
class Transformer(nn.Module):
    """A GPT in miniature: token + position embeddings, pre-norm causal blocks, LayerNorm, head."""

    def __init__(self, n_embd=64, n_head=4, n_layer=2, block_size=MAX_LEN):
        super().__init__()
        nn.record_args(self, n_embd=n_embd, n_head=n_head, n_layer=n_layer, block_size=block_size)
        self.block_size = block_size
        self.wte = nn.Embedding(V, n_embd)
        self.wpe = nn.Embedding(block_size, n_embd)
        with no_grad():
            self.wte.weight.data *= 0.1
            self.wpe.weight.data *= 0.1
        self.blocks = nn.ModuleList(nn.TransformerEncoderLayer(
            n_embd, n_head, 4 * n_embd, dropout=0.0, activation="gelu", batch_first=True,
            norm_first=True) for _ in range(n_layer))
        self.ln_f = nn.LayerNorm(n_embd)
        self.lm_head = nn.Linear(n_embd, V)

    def forward(self, x):
        x = np.asarray(x)
        h = self.wte(x) + self.wpe(np.arange(x.shape[1]))
        for block in self.blocks:
            h = block(h, is_causal=True)
        return self.lm_head(self.ln_f(h))  # (B, T, 27)

    def attention(self, layer=0):
        """(B, heads, T, T) weights of the last forward pass in block `layer`."""
        return self.blocks[layer].self_attn.last_weights


DEFAULTS = {"neural": dict(lr=20.0, batch=2048, optimizer="sgd"),
            "mlp": dict(lr=1e-2, batch=128, optimizer="adamw"),
            "transformer": dict(lr=3e-3, batch=64, optimizer="adamw")}


def build(kind, **kw):
    return {"neural": NeuralBigram, "mlp": MLP, "transformer": Transformer}[kind](**kw)


class NamesModel:
    """One model with its data, optimiser, loss and sampler: step() trains one batch."""

    def __init__(self, kind, train, val, seed=0, lr=None, batch=None, **model_kw):
        cfg = DEFAULTS[kind]
        self.kind, self.seed = kind, seed
        manual_seed(seed)
        self.model = build(kind, **model_kw)
        self.lr0 = lr or cfg["lr"]
        self.batch = batch or cfg["batch"]
        params = list(self.model.parameters())
        self.opt = make_optimizer(cfg["optimizer"], params, self.lr0, momentum=0.0,
                                  weight_decay=0.01 if kind == "transformer" else 0.0)
        if kind == "transformer":
            self.xtr, self.ytr = sequence_dataset(train)
            self.xva, self.yva = sequence_dataset(val)
        else:
            ctx = self.model.context
            self.xtr, self.ytr = context_dataset(train, ctx)
            self.xva, self.yva = context_dataset(val, ctx)
        self.rng = np.random.default_rng(seed)
        self.steps = 0

    def loss(self, x, y):
        return self._loss(self.model(x), y)

    def _loss(self, logits, y):
        if logits.ndim == 3:  # (B, T, 27): every position predicts its next letter
            return F.cross_entropy(logits.reshape(-1, V), y.reshape(-1), ignore_index=-1)
        return F.cross_entropy(logits, y)

    def step(self):
        ix = self.rng.integers(0, len(self.xtr), self.batch)
        x, y = self.xtr[ix], self.ytr[ix]
        if y.ndim == 2:  # drop the columns past the longest name in the batch
            t = int((y >= 0).sum(axis=1).max())
            x, y = x[:, :t], y[:, :t]
        self.model.train()
        loss = self.loss(x, y)
        self.opt.zero_grad()
        loss.backward()
        self.opt.step()
        self.steps += 1
        tokens = int((y >= 0).sum())
        return {"loss": loss.item(), "samples": tokens}

    def set_lr(self, lr):
        self.opt.lr = lr

    def evaluate(self, split="val", limit=None, chunk=512, table=False):
        """Mean loss (nats per character) on val (or train), in chunks, no graph. With
        table=True: (loss, P) where P (27, 27) is the model's own P(next | this letter), its
        predictions averaged over every position of the split whose current letter is `this`."""
        for out in self.evaluating(split, limit, chunk, table):
            pass
        return out

    def evaluating(self, split="val", limit=None, chunk=512, table=False):
        """``evaluate`` a chunk at a time: yields None after each chunk but the last, then
        the result (an app trains between chunks: a pause never waits for a whole pass)."""
        x, y = (self.xva, self.yva) if split == "val" else (self.xtr, self.ytr)
        if limit:
            x, y = x[:limit], y[:limit]
        if y.ndim == 2:  # names sorted by length: each chunk is cut to its longest name
            order = np.argsort((y >= 0).sum(axis=1), kind="stable")
            x, y = x[order], y[order]
        total, n = 0.0, 0
        probs, seen = np.zeros((V, V)), np.zeros(V)
        for i in range(0, len(x), chunk):
            xb, yb = x[i:i + chunk], y[i:i + chunk]
            if yb.ndim == 2:
                t = int((yb >= 0).sum(axis=1).max())
                xb, yb = xb[:, :t], yb[:, :t]
            self.model.eval()
            with no_grad():
                logits = self.model(xb)
                k = int((yb >= 0).sum())
                total += self._loss(logits, yb).item() * k
            n += k
            if table:
                keep = yb >= 0
                cur = (xb if yb.ndim == 2 else xb[:, -1])[keep]  # the letter before each target
                lg = logits.data[keep].astype(np.float64)
                p = np.exp(lg - lg.max(axis=1, keepdims=True))
                probs += np.eye(V)[cur].T @ (p / p.sum(axis=1, keepdims=True))
                seen += np.bincount(cur, minlength=V)
            if i + chunk < len(x):
                yield None
        loss = total / max(n, 1)
        # a letter never seen in the split: no opinion (uniform)
        yield (loss, np.where(seen[:, None] > 0, probs / np.maximum(seen, 1)[:, None], 1.0 / V)
               ) if table else loss

    def next_logits(self, contexts):
        """Logits (N, 27) for the letter after each context (lists of letter indices)."""
        if self.kind == "transformer":
            t = max(len(c) for c in contexts)
            x = np.zeros((len(contexts), t), np.int64)
            for r, c in enumerate(contexts):
                x[r, :len(c)] = c
            out = self.model(x).data
            return out[np.arange(len(contexts)), [len(c) - 1 for c in contexts]]
        ctx = self.model.context
        x = np.array([([0] * ctx + list(c))[-ctx:] for c in contexts], np.int64)
        return self.model(x).data

    def sample(self, n=10, temperature=1.0, prefix="", top_k=None, rng=None):
        """n names: start from '.' + prefix, add letters until '.' (or 15 letters)."""
        rng = rng or np.random.default_rng()
        self.model.eval()
        seqs = [[0] + encode(prefix) for _ in range(n)]
        done = [False] * n
        with no_grad():
            while not all(done):
                live = [i for i in range(n) if not done[i]]
                nxt = sampling.sample_logits(self.next_logits([seqs[i] for i in live]),
                                             temperature, top_k, rng)
                for i, c in zip(live, nxt):
                    seqs[i].append(int(c))
                    done[i] = c == 0 or len(seqs[i]) > MAX_LEN - 1
        return [decode(s[1:]).rstrip(".") for s in seqs]


def sample_bigram(probs, n=10, temperature=1.0, prefix="", rng=None):
    """n names from the count table: each letter drawn from the row of the one before."""
    rng = rng or np.random.default_rng()
    logits = np.log(probs)
    out = []
    for _ in range(n):
        ix = [0] + encode(prefix)
        while len(ix) < MAX_LEN:
            c = int(sampling.sample_logits(logits[ix[-1]], temperature, rng=rng))
            if c == 0:
                break
            ix.append(c)
        out.append(decode(ix[1:]))
    return out


def nats_to_perplexity(loss):
    return math.exp(loss)
