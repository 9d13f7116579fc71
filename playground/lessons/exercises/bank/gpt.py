"""Lesson 10's exercises (build GPT): the running average, one causal head, token + position
embeddings, the pre-LayerNorm block, top-k sampling, and what a loss of 1.9 means."""
import numpy as np

from ..kinds import ChoiceQuestion, CodeExercise, Mistake


def _softmax(z):
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def _tril(t):
    return np.tril(np.ones((t, t), dtype=bool))


# ---------------------------------------------------------------- the running average
def _average(x, keep, axis=1):
    w = keep(np.ones((len(x), len(x))))
    return w / w.sum(axis=axis, keepdims=True) @ x


def _avg_cases(rng):
    return [(rng.normal(size=(int(t), int(c))),) for t, c in zip(rng.integers(3, 9, 5), rng.integers(2, 6, 5))]


# ---------------------------------------------------------------- one head
def _head(x, wq, wk, wv, mask=True, scale=None, axis=-1, after=False, fill=-np.inf):
    q, k, v = x @ wq, x @ wk, x @ wv                    # (T, hs) each
    s = q @ k.T * (scale if scale is not None else wq.shape[1] ** -0.5)   # (T, T)
    m = _tril(len(x))
    if mask and not after:
        s = np.where(m, s, fill)
    s = np.exp(s - s.max(axis=axis, keepdims=True))
    w = s / s.sum(axis=axis, keepdims=True)
    return (w * m if after else w) @ v


def _head_cases(rng):
    out = []
    for t in rng.integers(3, 9, 5):
        c, hs = int(rng.choice([8, 12])), int(rng.choice([2, 4]))
        out.append((rng.normal(size=(int(t), c)), *(rng.normal(size=(c, hs)) * 0.6 for _ in range(3))))
    return out


# ---------------------------------------------------------------- token + position
def _embed(idx, wte, wpe):
    return wte[idx] + wpe[:idx.shape[1]]


def _embed_cases(rng):
    out = []
    for _ in range(5):
        b, t, c = int(rng.integers(1, 4)), int(rng.integers(3, 11)), int(rng.integers(3, 7))
        out.append((rng.integers(0, 12, (b, t)), rng.normal(size=(12, c)), rng.normal(size=(16, c))))
    return out


def _concat(idx, wte, wpe):
    tok = wte[idx]
    return np.concatenate([tok, np.broadcast_to(wpe[:idx.shape[1]], tok.shape)], axis=-1)


# ---------------------------------------------------------------- the block
def _named(fn, name):
    fn.__name__ = fn.__qualname__ = name
    return fn


def _parts(rng, c):
    """ln_1, attn, ln_2, mlp for a width c: two LayerNorms with their own gain and bias, a causal
    mixing of positions, and a two-layer MLP (numpy stand-ins for the model's modules)."""
    def layer_norm(name):
        g, b = 1 + 0.5 * rng.normal(size=c), 0.5 * rng.normal(size=c)
        return _named(lambda x: (x - x.mean(-1, keepdims=True)) / np.sqrt(x.var(-1, keepdims=True) + 1e-5)
                      * g + b, name)
    wa, w1, w2 = rng.normal(size=(c, c)) / np.sqrt(c), rng.normal(size=(c, 4 * c)) / np.sqrt(c), \
        rng.normal(size=(4 * c, c)) / np.sqrt(4 * c)
    attn = _named(lambda x: _average(x, np.tril) @ wa, "attn")
    mlp = _named(lambda x: np.tanh(x @ w1) @ w2, "mlp")
    return layer_norm("ln_1"), attn, layer_norm("ln_2"), mlp


def _block(x, ln_1, attn, ln_2, mlp):
    x = x + attn(ln_1(x))
    return x + mlp(ln_2(x))


def _block_cases(rng):
    return [(rng.normal(size=(int(t), c)) * 2 + 1, *_parts(rng, c))
            for t, c in zip(rng.integers(3, 8, 5), (4, 6, 8, 4, 6))]


def _post_ln(x, ln_1, attn, ln_2, mlp):
    x = ln_1(x + attn(x))
    return ln_2(x + mlp(x))


def _normed_residual(x, ln_1, attn, ln_2, mlp):
    h = ln_1(x)
    x = h + attn(h)
    h = ln_2(x)
    return h + mlp(h)


# ---------------------------------------------------------------- top-k sampling
def _top_k(logits, k, temperature, strict=False, renorm=True, bottom=False):
    z = logits / temperature
    v = np.sort(z)[-k]
    if bottom:
        return _softmax(np.where(z > np.sort(z)[k - 1], -np.inf, z))
    if not renorm:
        return np.where(z < v, 0.0, _softmax(z))
    return _softmax(np.where(z <= v if strict else z < v, -np.inf, z))


def _topk_cases(rng):
    out = []
    for _ in range(5):
        n = int(rng.integers(8, 20))
        out.append((rng.normal(size=n) * 2, int(rng.integers(2, n - 1)), float(rng.choice([0.5, 0.7, 1.5, 2.0]))))
    return out


_EX_PARTS = _parts(np.random.default_rng(10), 4)

EXERCISES = [
    CodeExercise(
        "average-past", "The trick: average the past with a matrix",
        "`x` is `(T, C)`: one `C`-number vector per position. Write `average_past(x)` returning `(T, C)` "
        "where row `t` is the mean of rows `0..t` of `x` (the past and the present, never the future). "
        "Do it with one matrix product: a `(T, T)` weight matrix times `x`.",
        func="average_past",
        starter="def average_past(x):\n    T = x.shape[0]\n    return ...\n",
        solution="def average_past(x):\n    T = x.shape[0]\n    w = np.tril(np.ones((T, T)))\n"
                 "    w = w / w.sum(axis=1, keepdims=True)\n    return w @ x\n",
        reference=lambda x: _average(x, np.tril),
        cases=_avg_cases,
        example=(np.array([[1.0, 0.0], [3.0, 2.0], [5.0, 4.0]]),),
        mistakes=[
            Mistake("sum-not-mean", "That is the running *sum*. Divide each row of the weights by its own "
                    "sum, so row `t` holds `t + 1` weights of `1/(t + 1)`.",
                    fn=lambda x: np.tril(np.ones((len(x), len(x)))) @ x),
            Mistake("everything", "Every row came out the same: each position averaged the whole sequence, "
                    "the future too. Keep the lower triangle (`np.tril`) before normalising.",
                    fn=lambda x: _average(x, lambda w: w)),
            Mistake("divide-by-T", "Row `t` averages `t + 1` vectors, not `T`: divide each row of the lower "
                    "triangle by its own count (its sum over `axis=1`).",
                    fn=lambda x: np.tril(np.ones((len(x), len(x)))) @ x / len(x)),
            Mistake("columns", "You normalised the columns: each *row* of the weights must sum to 1 "
                    "(`w.sum(axis=1, keepdims=True)`).", fn=lambda x: _average(x, np.tril, axis=0)),
            Mistake("future", "That averages the present and the *future* (the upper triangle, `np.triu`): "
                    "position `t` may only look back.", fn=lambda x: _average(x, np.triu)),
        ],
        wrong_answers={
            "sum-not-mean": "def average_past(x):\n    T = x.shape[0]\n    w = np.tril(np.ones((T, T)))\n"
                            "    return w @ x\n",
            "everything": "def average_past(x):\n    T = x.shape[0]\n    w = np.ones((T, T)) / T\n    return w @ x\n",
            "divide-by-T": "def average_past(x):\n    T = x.shape[0]\n    w = np.tril(np.ones((T, T))) / T\n"
                           "    return w @ x\n",
            "columns": "def average_past(x):\n    T = x.shape[0]\n    w = np.tril(np.ones((T, T)))\n"
                       "    w = w / w.sum(axis=0, keepdims=True)\n    return w @ x\n",
            "future": "def average_past(x):\n    T = x.shape[0]\n    w = np.triu(np.ones((T, T)))\n"
                      "    w = w / w.sum(axis=1, keepdims=True)\n    return w @ x\n",
        },
        hint="`np.tril(np.ones((T, T)))` has ones on and below the diagonal; divide each row by its sum."),
    CodeExercise(
        "one-head", "One head of causal self-attention",
        "`x` is `(T, C)`; `Wq`, `Wk`, `Wv` are `(C, head_size)`. Write `head(x, Wq, Wk, Wv)` returning "
        "`(T, head_size)`: queries, keys and values are `x @ W`; the score of position `i` for `j` is "
        "`q_i · k_j / √head_size`; future positions (`j > i`) are masked out; a softmax over each row "
        "turns the scores into weights; the output is the weighted sum of the values.",
        func="head",
        starter="def head(x, Wq, Wk, Wv):\n    q, k, v = x @ Wq, x @ Wk, x @ Wv\n    return ...\n",
        solution="def head(x, Wq, Wk, Wv):\n    q, k, v = x @ Wq, x @ Wk, x @ Wv   # (T, hs)\n"
                 "    T, hs = q.shape\n    s = q @ k.T / np.sqrt(hs)             # (T, T)\n"
                 "    s = np.where(np.tril(np.ones((T, T), dtype=bool)), s, -np.inf)\n"
                 "    s = np.exp(s - s.max(axis=-1, keepdims=True))\n"
                 "    w = s / s.sum(axis=-1, keepdims=True)\n    return w @ v\n",
        reference=_head,
        cases=_head_cases,
        example=(np.eye(3, 4), np.eye(4, 2), np.eye(4, 2), np.eye(4, 2)),
        mistakes=[
            Mistake("no-mask", "The future leaks: without the causal mask position `i` reads the letters "
                    "after it, the very ones it is trained to predict. Set the scores above the diagonal to "
                    "`-np.inf` before the softmax.", fn=lambda *a: _head(*a, mask=False)),
            Mistake("no-scale", "Divide the scores by `√head_size`. Without it the dot products grow with "
                    "the head size, the softmax saturates towards one-hot and its gradients vanish.",
                    fn=lambda *a: _head(*a, scale=1.0)),
            Mistake("scale-by-C", "Scale by the *head* size (the length of a query, `Wq.shape[1]`), not by "
                    "the embedding width `C`.", fn=lambda x, *w: _head(x, *w, scale=x.shape[1] ** -0.5)),
            Mistake("wrong-axis", "Each *row* (one position looking at the others) must sum to 1: take the "
                    "max and the sum over the last axis, `axis=-1`.", fn=lambda *a: _head(*a, axis=0)),
            Mistake("mask-after", "Masking after the softmax leaves rows that no longer sum to 1: mask the "
                    "*scores* with `-np.inf`, then take the softmax.", fn=lambda *a: _head(*a, after=True)),
            Mistake("zero-not-inf", "A masked score of 0 still gets `exp(0) = 1`, a real share of the "
                    "weight: use `-np.inf`, whose `exp` is exactly 0.", fn=lambda *a: _head(*a, fill=0.0)),
        ],
        wrong_answers={
            "no-mask": "def head(x, Wq, Wk, Wv):\n    q, k, v = x @ Wq, x @ Wk, x @ Wv\n"
                       "    s = q @ k.T / np.sqrt(q.shape[1])\n    s = np.exp(s - s.max(axis=-1, keepdims=True))\n"
                       "    return s / s.sum(axis=-1, keepdims=True) @ v\n",
            "no-scale": "def head(x, Wq, Wk, Wv):\n    q, k, v = x @ Wq, x @ Wk, x @ Wv\n    T = len(x)\n"
                        "    s = np.where(np.tril(np.ones((T, T))) > 0, q @ k.T, -np.inf)\n"
                        "    s = np.exp(s - s.max(axis=-1, keepdims=True))\n"
                        "    return s / s.sum(axis=-1, keepdims=True) @ v\n",
            "scale-by-C": "def head(x, Wq, Wk, Wv):\n    q, k, v = x @ Wq, x @ Wk, x @ Wv\n    T, C = x.shape\n"
                          "    s = np.where(np.tril(np.ones((T, T))) > 0, q @ k.T / np.sqrt(C), -np.inf)\n"
                          "    s = np.exp(s - s.max(axis=-1, keepdims=True))\n"
                          "    return s / s.sum(axis=-1, keepdims=True) @ v\n",
            "wrong-axis": "def head(x, Wq, Wk, Wv):\n    q, k, v = x @ Wq, x @ Wk, x @ Wv\n    T = len(x)\n"
                          "    s = q @ k.T / np.sqrt(q.shape[1])\n"
                          "    s = np.where(np.tril(np.ones((T, T))) > 0, s, -np.inf)\n"
                          "    s = np.exp(s - s.max(axis=0, keepdims=True))\n"
                          "    return s / s.sum(axis=0, keepdims=True) @ v\n",
            "mask-after": "def head(x, Wq, Wk, Wv):\n    q, k, v = x @ Wq, x @ Wk, x @ Wv\n"
                          "    s = q @ k.T / np.sqrt(q.shape[1])\n    s = np.exp(s - s.max(axis=-1, keepdims=True))\n"
                          "    w = s / s.sum(axis=-1, keepdims=True)\n    return w * np.tril(np.ones(w.shape)) @ v\n",
            "zero-not-inf": "def head(x, Wq, Wk, Wv):\n    q, k, v = x @ Wq, x @ Wk, x @ Wv\n"
                            "    s = np.tril(q @ k.T / np.sqrt(q.shape[1]))\n"
                            "    s = np.exp(s - s.max(axis=-1, keepdims=True))\n"
                            "    return s / s.sum(axis=-1, keepdims=True) @ v\n",
        },
        hint="Scores `q @ k.T / np.sqrt(head_size)`; `np.where(np.tril(...), scores, -np.inf)`; the stable "
             "softmax of lesson 9 over `axis=-1`; then `@ v`."),
    CodeExercise(
        "token-and-position", "Where am I? Positions, added",
        "Attention is a weighted average over a *set*: it cannot tell `ab` from `ba`. So each position "
        "gets a learned vector too. `idx` is `(B, T)` token ids, `wte` is the `(vocab_size, C)` token "
        "table, `wpe` the `(block_size, C)` position table (`T <= block_size`). Write `embed(idx, wte, wpe)` "
        "returning the `(B, T, C)` input of the first block: each token's vector plus its position's.",
        func="embed",
        starter="def embed(idx, wte, wpe):\n    B, T = idx.shape\n    return ...\n",
        solution="def embed(idx, wte, wpe):\n    B, T = idx.shape\n    tok = wte[idx]              # (B, T, C)\n"
                 "    pos = wpe[np.arange(T)]     # (T, C)\n    return tok + pos\n",
        reference=_embed,
        cases=_embed_cases,
        example=(np.array([[2, 0, 1]]), np.eye(3), np.arange(12.0).reshape(4, 3)),
        mistakes=[
            Mistake("concatenated", "Your vectors have `2C` numbers: the position is *added* to the token's "
                    "vector, not concatenated. Every layer after it expects width `C`.", fn=_concat),
            Mistake("by-token", "Index `wpe` by the *position* `0..T-1` (`np.arange(T)`), not by the token "
                    "id: the same letter at two places must get two different vectors.",
                    fn=lambda idx, wte, wpe: wte[idx] + wpe[idx]),
            Mistake("no-positions", "Add the positions: with the token vectors alone, attention cannot tell "
                    "`ab` from `ba`.", fn=lambda idx, wte, wpe: wte[idx]),
            Mistake("whole-table", "`wpe` has one row per position up to `block_size`; a sequence of `T` "
                    "uses the first `T` rows: `wpe[:T]`.", error=r"could not be broadcast"),
        ],
        wrong_answers={
            "concatenated": "def embed(idx, wte, wpe):\n    B, T = idx.shape\n    tok = wte[idx]\n"
                            "    pos = np.broadcast_to(wpe[:T], tok.shape)\n"
                            "    return np.concatenate([tok, pos], axis=-1)\n",
            "by-token": "def embed(idx, wte, wpe):\n    return wte[idx] + wpe[idx]\n",
            "no-positions": "def embed(idx, wte, wpe):\n    return wte[idx]\n",
            "whole-table": "def embed(idx, wte, wpe):\n    return wte[idx] + wpe\n",
        },
        hint="`wte[idx]` looks up every token at once, `(B, T, C)`; `wpe[:T]` is `(T, C)` and broadcasts "
             "over the batch."),
    CodeExercise(
        "pre-ln-block", "The block: pre-LayerNorm and the residual stream",
        "A GPT block has two sub-layers, each with its own LayerNorm: `ln_1` before attention, `ln_2` "
        "before the MLP. `x` is `(T, C)`; `ln_1`, `attn`, `ln_2`, `mlp` are functions from `(T, C)` to "
        "`(T, C)`. Write `block(x, ln_1, attn, ln_2, mlp)` the GPT-2 way: normalise a copy, run the "
        "sub-layer on it, *add* the result to `x`; attention first, then the MLP.",
        func="block",
        starter="def block(x, ln_1, attn, ln_2, mlp):\n    return ...\n",
        solution="def block(x, ln_1, attn, ln_2, mlp):\n    x = x + attn(ln_1(x))\n    x = x + mlp(ln_2(x))\n"
                 "    return x\n",
        reference=_block,
        cases=_block_cases,
        example=(np.array([[1.0, 2.0, 3.0, 4.0], [0.0, 1.0, 0.0, -1.0]]), *_EX_PARTS),
        mistakes=[
            Mistake("post-ln", "That is the original Transformer's post-LN order (normalise *after* the "
                    "addition). GPT-2 normalises *before* each sub-layer and leaves the stream itself "
                    "untouched: `x = x + attn(ln_1(x))`.",
                    fn=_post_ln),
            Mistake("no-residual", "The `x + ...` is missing: the block replaces the stream instead of adding "
                    "to it. The residual path is what lets the gradient flow straight through many blocks.",
                    fn=lambda x, l1, a, l2, m: m(l2(a(l1(x))))),
            Mistake("normed-residual", "Add to the stream `x`, not to its normalised copy: "
                    "`x = x + attn(ln_1(x))`. Inside a block the stream is never normalised.",
                    fn=_normed_residual),
            Mistake("same-ln", "Each sub-layer has its own LayerNorm with its own gain and bias: `ln_1` before "
                    "attention, `ln_2` before the MLP.",
                    fn=lambda x, l1, a, l2, m: _block(x, l1, a, l1, m)),
            Mistake("parallel", "The MLP reads the stream *after* attention has added to it: update `x` "
                    "first, then `x = x + mlp(ln_2(x))`.",
                    fn=lambda x, l1, a, l2, m: x + a(l1(x)) + m(l2(x))),
        ],
        wrong_answers={
            "post-ln": "def block(x, ln_1, attn, ln_2, mlp):\n    x = ln_1(x + attn(x))\n    x = ln_2(x + mlp(x))\n"
                       "    return x\n",
            "no-residual": "def block(x, ln_1, attn, ln_2, mlp):\n    x = attn(ln_1(x))\n    x = mlp(ln_2(x))\n"
                           "    return x\n",
            "normed-residual": "def block(x, ln_1, attn, ln_2, mlp):\n    x = ln_1(x)\n    x = x + attn(x)\n"
                               "    x = ln_2(x)\n    return x + mlp(x)\n",
            "same-ln": "def block(x, ln_1, attn, ln_2, mlp):\n    x = x + attn(ln_1(x))\n    x = x + mlp(ln_1(x))\n"
                       "    return x\n",
            "parallel": "def block(x, ln_1, attn, ln_2, mlp):\n    a = attn(ln_1(x))\n    m = mlp(ln_2(x))\n"
                        "    return x + a + m\n",
        },
        hint="Two lines, each `x = x + sublayer(its_norm(x))`: attention with `ln_1`, then the MLP with `ln_2`."),
    ChoiceQuestion(
        "loss-means", "What does a loss of 1.9 mean?",
        "At the start the baby GPT scores about ln 65 ≈ 4.17 nats per character; after training, val "
        "1.9. Which reading is right?",
        ["It is as unsure as a fair pick among e^1.9 ≈ 6.7 characters (it started at all 65)",
         "It gets 1.9 characters in every 100 wrong",
         "It gives the right next character a probability of 1.9 %"],
        answer=0,
        explanations={
            1: "The loss counts no mistakes: it is the average of −ln P(the character that really came "
               "next). A model can be right on top and still pay for being unsure.",
            2: "The other way round: e^−1.9 ≈ 0.15, so the true next character gets about 15 % on average "
               "(a geometric mean), not 1.9 %."},
        why="e^loss is the *perplexity*: the number of equally likely characters the model is torn "
            "between. A uniform guess over 65 characters scores ln 65 ≈ 4.17, exactly where training starts.",
        hint="Undo the logarithm: what is e^1.9, and what was e^4.17?"),
    CodeExercise(
        "top-k", "Temperature and top-k",
        "`logits` is the model's `(vocab_size,)` output for the next character. Write "
        "`top_k_probs(logits, k, temperature)` returning the probabilities `generate` samples from: divide "
        "the logits by the temperature, keep only the `k` largest (the others get probability 0), softmax.",
        func="top_k_probs",
        starter="def top_k_probs(logits, k, temperature):\n    z = logits / temperature\n    return ...\n",
        solution="def top_k_probs(logits, k, temperature):\n    z = logits / temperature\n"
                 "    v = np.sort(z)[-k]                  # the k-th largest\n"
                 "    z = np.where(z < v, -np.inf, z)\n    e = np.exp(z - z.max())\n    return e / e.sum()\n",
        reference=_top_k,
        cases=_topk_cases,
        example=(np.array([2.0, 1.0, 0.0, -1.0]), 2, 0.5),
        mistakes=[
            Mistake("times-temperature", "*Divide* the logits by the temperature: a low temperature should "
                    "make them larger and the choice sharper.", fn=lambda z, k, t: _top_k(z, k, 1 / t)),
            Mistake("no-temperature", "The temperature is missing: divide the logits by it before the "
                    "softmax.", fn=lambda z, k, t: _top_k(z, k, 1.0)),
            Mistake("bottom-k", "You kept the `k` *least* likely characters: keep the `k` largest logits "
                    "(`np.sort(z)[-k]` is the k-th largest).", fn=lambda z, k, t: _top_k(z, k, t, bottom=True)),
            Mistake("no-renormalise", "The kept probabilities must sum to 1 again: set the other *logits* to "
                    "`-np.inf` before the softmax instead of zeroing probabilities after it.",
                    fn=lambda z, k, t: _top_k(z, k, t, renorm=False)),
            Mistake("k-minus-one", "You kept `k - 1` characters: keep every logit `>=` the k-th largest "
                    "(only `z < v` goes to `-np.inf`).", fn=lambda z, k, t: _top_k(z, k, t, strict=True)),
        ],
        wrong_answers={
            "times-temperature": "def top_k_probs(logits, k, temperature):\n    z = logits * temperature\n"
                                 "    z = np.where(z < np.sort(z)[-k], -np.inf, z)\n"
                                 "    e = np.exp(z - z.max())\n    return e / e.sum()\n",
            "no-temperature": "def top_k_probs(logits, k, temperature):\n    z = logits\n"
                              "    z = np.where(z < np.sort(z)[-k], -np.inf, z)\n"
                              "    e = np.exp(z - z.max())\n    return e / e.sum()\n",
            "bottom-k": "def top_k_probs(logits, k, temperature):\n    z = logits / temperature\n"
                        "    z = np.where(z > np.sort(z)[k - 1], -np.inf, z)\n"
                        "    e = np.exp(z - z.max())\n    return e / e.sum()\n",
            "no-renormalise": "def top_k_probs(logits, k, temperature):\n    z = logits / temperature\n"
                              "    p = np.exp(z - z.max())\n    p = p / p.sum()\n"
                              "    return np.where(z < np.sort(z)[-k], 0.0, p)\n",
            "k-minus-one": "def top_k_probs(logits, k, temperature):\n    z = logits / temperature\n"
                           "    z = np.where(z <= np.sort(z)[-k], -np.inf, z)\n"
                           "    e = np.exp(z - z.max())\n    return e / e.sum()\n",
        },
        hint="`z = logits / temperature`; `v = np.sort(z)[-k]`; `np.where(z < v, -np.inf, z)`; a stable softmax."),
]
