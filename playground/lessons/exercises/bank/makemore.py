"""Lesson 9's exercises (makemore): the bigram NLL, a causal mask, attention's softmax."""
import numpy as np

from ..kinds import CodeExercise, Mistake, Result


# ---------------------------------------------------------------- 9. makemore
def _pairs_cases(rng):
    out = []
    for _ in range(5):
        p = rng.random((27, 27)) + 0.05
        out.append((p / p.sum(axis=1, keepdims=True), rng.integers(0, 27, (int(rng.integers(5, 30)), 2))))
    return out


def _nll(p, pairs):
    return -np.mean(np.log(p[pairs[:, 0], pairs[:, 1]]))


def _masked_softmax(s, mask):
    z = np.where(mask, s, -np.inf)
    z = z - z.max(axis=-1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=-1, keepdims=True)


def _att_cases(rng):
    out = []
    for k in range(5):
        t = int(rng.integers(3, 7))
        scale = 1000.0 if k % 2 else 3.0  # large scores: exp overflows without the max subtracted
        out.append((rng.normal(size=(t, t)) * scale, np.tril(np.ones((t, t), dtype=bool))))
    return out


class _SoftmaxExercise(CodeExercise):
    """A naive softmax gives NaN (inf / inf) on large scores; NaN never equals anything, so
    that mistake is recognised by its NaNs where the reference is finite."""

    def check(self, code, seed=None):
        res = super().check(code, seed)
        if res.ok or res.diagnosis != "wrong":
            return res
        from ..sandbox import run_code
        ns, _, err = run_code(code)
        cases = self.cases(np.random.default_rng(seed))
        with np.errstate(all="ignore"):
            outs = [np.asarray(ns[self.func](*a), dtype=np.float64) for a in cases]
        if any(np.isnan(o).any() for o in outs):
            m = next(m for m in self.mistakes if m.id == "no-max")
            return Result(False, f"Not yet. {m.hint}", m.id, res.output)
        return res


EXERCISES = [
    # ------------------------------------------------------------ 9. makemore
    CodeExercise(
        "bigram-nll", "The bigram's loss",
        "`P` is the 27×27 table of probabilities, row = this letter, column = next letter. `pairs` is "
        "an `(n, 2)` array of (this, next) letter indices from real names. Write `bigram_nll(P, pairs)`: "
        "the average negative log-likelihood, in nats per character.",
        func="bigram_nll",
        starter="def bigram_nll(P, pairs):\n    return ...\n",
        solution="def bigram_nll(P, pairs):\n    probs = P[pairs[:, 0], pairs[:, 1]]\n"
                 "    return -np.mean(np.log(probs))\n",
        reference=_nll,
        cases=_pairs_cases,
        example=(np.full((27, 27), 1 / 27), np.array([[0, 5], [5, 13]])),
        mistakes=[
            Mistake("forgot-minus", "The log of a probability is negative: the *negative* log-likelihood "
                    "puts a minus in front, so lower is better.",
                    fn=lambda p, pairs: np.mean(np.log(p[pairs[:, 0], pairs[:, 1]]))),
            Mistake("sum-not-mean", "That is the total over all pairs; divide by how many there are (the "
                    "mean), so names of any count compare.",
                    fn=lambda p, pairs: -np.sum(np.log(p[pairs[:, 0], pairs[:, 1]]))),
            Mistake("swapped", "Rows are *this* letter and columns the *next*: `P[this, next]`, not "
                    "`P[next, this]`.", fn=lambda p, pairs: -np.mean(np.log(p[pairs[:, 1], pairs[:, 0]]))),
            Mistake("no-log", "Average the *log* of each probability, not the probabilities: "
                    "likelihoods multiply, so their logs add.",
                    fn=lambda p, pairs: -np.mean(p[pairs[:, 0], pairs[:, 1]])),
        ],
        wrong_answers={
            "forgot-minus": "def bigram_nll(P, pairs):\n    return np.mean(np.log(P[pairs[:, 0], pairs[:, 1]]))\n",
            "sum-not-mean": "def bigram_nll(P, pairs):\n    return -np.sum(np.log(P[pairs[:, 0], pairs[:, 1]]))\n",
            "swapped": "def bigram_nll(P, pairs):\n    return -np.mean(np.log(P[pairs[:, 1], pairs[:, 0]]))\n",
            "no-log": "def bigram_nll(P, pairs):\n    return -np.mean(P[pairs[:, 0], pairs[:, 1]])\n",
        },
        hint="Pick `P[this, next]` for every pair with fancy indexing, take `np.log`, average, negate."),
    CodeExercise(
        "causal-mask", "No peeking ahead",
        "In a name of `T` positions, position `i` may look at positions `0..i` only (the letters it has "
        "already seen). Write `causal_mask(T)` returning a `(T, T)` boolean array, `True` where row `i` "
        "may look at column `j`.",
        func="causal_mask",
        starter="def causal_mask(T):\n    return ...\n",
        solution="def causal_mask(T):\n    return np.tril(np.ones((T, T), dtype=bool))\n",
        reference=lambda t: np.tril(np.ones((t, t), dtype=bool)),
        cases=lambda rng: [(int(t),) for t in rng.integers(2, 12, size=5)],
        example=(3,),
        mistakes=[
            Mistake("upper", "That lets every letter look at the *future* (`j >= i`): the upper triangle. "
                    "Keep the lower one, `j <= i`.", fn=lambda t: np.triu(np.ones((t, t), dtype=bool))),
            Mistake("strict", "A letter may look at *itself* too: keep the diagonal (`j <= i`, not `j < i`).",
                    fn=lambda t: np.tril(np.ones((t, t), dtype=bool), -1)),
            Mistake("everything", "All `True` lets position `i` see the letter it must predict: training "
                    "would be cheating.", fn=lambda t: np.ones((t, t), dtype=bool)),
        ],
        wrong_answers={
            "upper": "def causal_mask(T):\n    return np.triu(np.ones((T, T), dtype=bool))\n",
            "strict": "def causal_mask(T):\n    return np.tril(np.ones((T, T), dtype=bool), -1)\n",
            "everything": "def causal_mask(T):\n    return np.ones((T, T), dtype=bool)\n",
        },
        hint="`np.tril` keeps the lower triangle (the diagonal included) of a matrix of ones."),
    _SoftmaxExercise(
        "attention-softmax", "Attention weights",
        "`scores` is `(T, T)`: how much letter `i` wants to look at letter `j`. `mask` is the causal mask "
        "(`True` = allowed). Write `attention_weights(scores, mask)`: a softmax over each row using only "
        "allowed positions (the others get weight 0). Scores can be large (in the thousands).",
        func="attention_weights",
        starter="def attention_weights(scores, mask):\n    return ...\n",
        solution="def attention_weights(scores, mask):\n    z = np.where(mask, scores, -np.inf)\n"
                 "    z = z - z.max(axis=-1, keepdims=True)\n    e = np.exp(z)\n"
                 "    return e / e.sum(axis=-1, keepdims=True)\n",
        reference=_masked_softmax,
        cases=_att_cases,
        example=(np.array([[1.0, 2.0], [3.0, 4.0]]), np.array([[True, False], [True, True]])),
        mistakes=[
            Mistake("no-max", "Your weights turn into `nan` for large scores: `exp(1000)` overflows to "
                    "`inf`, and `inf / inf` is `nan`. Subtract each row's maximum before `np.exp` (the "
                    "softmax does not change; the largest exponent becomes 0)."),
            Mistake("zero-not-inf", "Setting disallowed scores to 0 still gives them `exp(0) = 1`, a real "
                    "share of the weight. Use `-np.inf`, whose `exp` is exactly 0.",
                    fn=lambda s, m: _masked_softmax(np.where(m, s, 0.0), np.ones_like(m))),
            Mistake("wrong-axis", "Each *row* (one letter looking at the others) must sum to 1: take the "
                    "max and the sum over the last axis, `axis=-1`.",
                    fn=lambda s, m: _masked_softmax(s.T, m.T).T),
            Mistake("mask-after", "Zeroing the future after the softmax leaves rows that no longer sum "
                    "to 1: mask the scores *before* the softmax.",
                    fn=lambda s, m: _masked_softmax(s, np.ones_like(m)) * m),
        ],
        wrong_answers={
            "no-max": "def attention_weights(scores, mask):\n    e = np.exp(np.where(mask, scores, -np.inf))\n"
                      "    return e / e.sum(axis=-1, keepdims=True)\n",
            "zero-not-inf": "def attention_weights(scores, mask):\n    z = np.where(mask, scores, 0.0)\n"
                            "    e = np.exp(z - z.max(axis=-1, keepdims=True))\n"
                            "    return e / e.sum(axis=-1, keepdims=True)\n",
            "wrong-axis": "def attention_weights(scores, mask):\n    z = np.where(mask, scores, -np.inf)\n"
                          "    e = np.exp(z - z.max(axis=0, keepdims=True))\n"
                          "    return e / e.sum(axis=0, keepdims=True)\n",
            "mask-after": "def attention_weights(scores, mask):\n"
                          "    e = np.exp(scores - scores.max(axis=-1, keepdims=True))\n"
                          "    return e / e.sum(axis=-1, keepdims=True) * mask\n",
        },
        hint="`np.where(mask, scores, -np.inf)`, subtract the row max, `np.exp`, divide by the row sum."),
]
