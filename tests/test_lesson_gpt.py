"""Lesson 10 (build GPT): its exercises hold on many seeds, each hint's claim is true of the
code that earns it, the lesson's pieces put together give the model's own logits
(playground/apps/gpt/model.py), and the figures the lesson quotes are the data's and the model's.

(tests/test_lessons.py runs the checks every lesson shares: front matter, links, reference
solutions on three seeds, one hint per known mistake on two.)"""
import math
import re

import numpy as np
import pytest

from engine import Tensor, no_grad, sampling
from playground.lessons import format as L
from playground.lessons.exercises import registry as E
from playground.lessons.exercises.bank import gpt as bank
from playground.lessons.exercises.sandbox import run_code

SLUG = "10-build-gpt"
CODE = [e for e in bank.EXERCISES if e.kind == "code"]


def fn_of(code, name):
    ns, _, err = run_code(code)
    assert err is None, err
    return ns[name]


def learner(ex_id, mistake=None):
    """The function a learner writing the solution (or the wrong answer for mistake) defines."""
    ex = E.get(ex_id)
    return fn_of(ex.wrong_answers[mistake] if mistake else ex.solution, ex.func)


# ------------------------------------------------------------------ the lesson file

def test_lesson_ten_follows_nine_and_uses_every_gpt_exercise_in_order():
    les = L.load_lesson(SLUG)
    assert les.meta["order"] == 10 and les.meta["next"] == ""
    assert L.load_lesson("09-makemore").meta["next"] == SLUG
    assert les.exercises == [e.id for e in bank.EXERCISES]
    assert len(CODE) >= 3
    assert les.segments[1] == ("widget", "gpt", {"pretrained": True})  # top-down: a trained model first
    assert "playground/apps/gpt/model.py" in les.body


# ------------------------------------------------------------------ the checkers, harder

@pytest.mark.parametrize("ex", CODE, ids=lambda e: e.id)
def test_solution_and_every_mistake_are_told_apart_on_many_seeds(ex):
    for seed in range(3, 23):
        res = ex.check(ex.solution, seed=seed)
        assert res.ok, (seed, res.message)
        for mid, code in ex.wrong_answers.items():
            res = ex.check(code, seed=seed)
            assert res.diagnosis == mid and not res.ok, (seed, mid, res.message)


@pytest.mark.parametrize("ex", CODE, ids=lambda e: e.id)
def test_checking_again_and_after_another_answer_gives_the_same_verdict(ex):
    wrong = next(iter(ex.wrong_answers))
    first = [ex.check(c, seed=5).diagnosis for c in (ex.wrong_answers[wrong], ex.solution)]
    again = [ex.check(c, seed=5).diagnosis for c in (ex.solution, ex.wrong_answers[wrong])]
    assert first == [wrong, "correct"] and again == ["correct", wrong]
    assert ex.run(ex.solution).diagnosis == "ran" and f"{ex.func}(" in ex.run(ex.solution).output


def test_answers_that_change_their_inputs_in_place_are_still_checked_fairly():
    ex = E.get("pre-ln-block")
    code = "def block(x, ln_1, attn, ln_2, mlp):\n    x += attn(ln_1(x))\n    x += mlp(ln_2(x))\n    return x\n"
    assert ex.check(code, seed=1).ok
    code = "def embed(idx, wte, wpe):\n    wte += 1.0\n    return wte[idx] - 1.0 + wpe[:idx.shape[1]]\n"
    assert E.get("token-and-position").check(code, seed=1).ok


def test_a_non_answer_is_not_credited_and_says_why():
    for ex in CODE:
        res = ex.check(f"def {ex.func}(*args):\n    return None\n", seed=0)
        assert not res.ok and res.diagnosis in ("shape", "wrong"), (ex.id, res.message)
        res = ex.check(f"def {ex.func}(*args):\n    return args[99]\n", seed=0)
        assert res.diagnosis == "error" and "line 2" in res.message and "IndexError" in res.message


# ------------------------------------------------------------------ each hint's claim is true

def _x_with_ones(rng, t, c):
    x = rng.normal(size=(t, c))
    x[:, 0] = 1.0
    return x


def test_no_mask_lets_the_future_leak_and_the_solution_does_not():
    rng = np.random.default_rng(0)
    x, (wq, wk, wv) = rng.normal(size=(6, 8)), rng.normal(size=(3, 8, 4))
    y = x.copy()
    y[-1] += 1.0  # change only the last character
    for fn, leaks in ((learner("one-head"), False), (learner("one-head", "no-mask"), True)):
        a, b = fn(x, wq, wk, wv), fn(y, wq, wk, wv)
        assert np.allclose(a[:-1], b[:-1]) != leaks


def test_masking_after_the_softmax_leaves_rows_that_do_not_sum_to_one():
    rng = np.random.default_rng(1)
    x = _x_with_ones(rng, 6, 8)
    wq, wk = rng.normal(size=(2, 8, 4)) * 0.2  # mild scores: every row spreads its weight
    wv = np.zeros((8, 1))
    wv[0] = 1.0  # every value is 1: the output is each row's total weight
    np.testing.assert_allclose(learner("one-head")(x, wq, wk, wv), 1.0)
    sums = learner("one-head", "mask-after")(x, wq, wk, wv)[:, 0]
    assert (sums[:-1] < 1 - 1e-6).all() and sums[-1] == pytest.approx(1.0)


def test_the_unscaled_scores_grow_with_the_head_size_and_the_scaled_ones_do_not():
    rng = np.random.default_rng(2)
    x = rng.normal(size=(64, 256))
    spread = {}
    for hs in (16, 256):
        q = x @ rng.normal(size=(256, hs)) / 16  # unit-variance queries and keys
        k = x @ rng.normal(size=(256, hs)) / 16
        spread[hs] = (np.std(q @ k.T), np.std(q @ k.T / np.sqrt(hs)))
    assert spread[256][0] > 3 * spread[16][0]                     # no-scale: grows as sqrt(hs)
    assert 0.7 < spread[16][1] < 1.4 and 0.7 < spread[256][1] < 1.4  # scaled: about 1


def test_zero_scores_under_the_mask_are_the_plain_average_of_the_past():
    rng = np.random.default_rng(3)
    x, wv = rng.normal(size=(7, 5)), rng.normal(size=(5, 3))
    zero = np.zeros((5, 3))
    np.testing.assert_allclose(learner("one-head")(x, zero, zero, wv), learner("average-past")(x @ wv))


def test_concatenated_positions_double_the_width_and_token_indexed_ones_ignore_the_place():
    rng = np.random.default_rng(4)
    idx = np.array([[3, 3, 5, 3]])
    wte, wpe = rng.normal(size=(12, 5)), rng.normal(size=(16, 5))
    assert learner("token-and-position", "concatenated")(idx, wte, wpe).shape == (1, 4, 10)
    by_token = learner("token-and-position", "by-token")(idx, wte, wpe)
    right = learner("token-and-position")(idx, wte, wpe)
    assert right.shape == (1, 4, 5)
    assert np.allclose(by_token[0, 0], by_token[0, 1]) and not np.allclose(right[0, 0], right[0, 1])
    res = E.get("token-and-position").check(E.get("token-and-position").wrong_answers["whole-table"])
    assert "ValueError" in res.message and "wpe[:T]" in res.message


def test_post_ln_normalises_the_stream_and_pre_ln_leaves_it_alone():
    rng = np.random.default_rng(5)
    x = rng.normal(size=(5, 6)) * 3 + 2
    ln_1, attn, ln_2, mlp = _parts(rng, 6)
    post = learner("pre-ln-block", "post-ln")(x, ln_1, attn, ln_2, mlp)
    pre = learner("pre-ln-block")(x, ln_1, attn, ln_2, mlp)
    # post-LN's output is ln_2 of something: undo ln_2's gain and bias and every row is standardised
    g, b = ln_2.g, ln_2.b
    z = (post - b) / g
    np.testing.assert_allclose(z.mean(-1), 0, atol=1e-6)
    z = (pre - b) / g
    assert np.abs(z.mean(-1)).max() > 0.1  # pre-LN: the stream keeps its own scale and offset


def _parts(rng, c):
    """LayerNorms that show their gain and bias (g, b), a causal mixing and an MLP."""
    def layer_norm():
        g, b = 1 + 0.5 * rng.normal(size=c), 0.5 * rng.normal(size=c)

        def ln(x):
            return (x - x.mean(-1, keepdims=True)) / np.sqrt(x.var(-1, keepdims=True) + 1e-5) * g + b
        ln.g, ln.b = g, b
        return ln
    wa, w1 = rng.normal(size=(c, c)) / np.sqrt(c), rng.normal(size=(c, 4 * c)) / np.sqrt(c)
    t_avg = learner("average-past")
    return layer_norm(), (lambda x: t_avg(x) @ wa), layer_norm(), (lambda x: np.tanh(x @ w1) @ w1.T)


def test_top_k_mistakes_do_what_their_hints_say():
    rng = np.random.default_rng(6)
    logits = rng.normal(size=20) * 2
    right = learner("top-k")(logits, 5, 0.7)
    assert (right > 0).sum() == 5 and right.sum() == pytest.approx(1.0)
    assert set(np.flatnonzero(right)) == set(np.argsort(logits)[-5:])
    assert (learner("top-k", "k-minus-one")(logits, 5, 0.7) > 0).sum() == 4
    assert set(np.flatnonzero(learner("top-k", "bottom-k")(logits, 5, 0.7))) == set(np.argsort(logits)[:5])
    assert learner("top-k", "no-renormalise")(logits, 5, 0.7).sum() < 1 - 1e-3
    hot, cold = learner("top-k")(logits, 20, 2.0), learner("top-k")(logits, 20, 0.5)
    assert cold.max() > hot.max()  # a low temperature sharpens
    times = learner("top-k", "times-temperature")(logits, 20, 0.5)
    assert times.max() < cold.max()  # multiplying by a low temperature flattens instead


def test_the_top_k_reference_is_what_the_engine_samples_from():
    ex, rng = E.get("top-k"), np.random.default_rng(7)
    for logits, k, t in ex.cases(rng):
        want = sampling.softmax(sampling.top_k_logits(logits, k), t)
        np.testing.assert_allclose(ex.reference(logits, k, t), want, rtol=1e-12)
    logits = np.array([2.0, 1.0, 0.5, -1.0, -3.0])
    p = ex.reference(logits, 2, 0.8)
    draws = sampling.sample_logits(np.tile(logits, (4000, 1)), 0.8, 2, np.random.default_rng(0))
    freq = np.bincount(draws, minlength=5) / 4000
    np.testing.assert_allclose(freq, p, atol=0.03)


# ------------------------------------------------------------------ the lesson's pieces are the model

@pytest.fixture(scope="module")
def small_gpt():
    from playground.apps.gpt.model import GPT, GPTConfig
    model = GPT(GPTConfig(block_size=16, vocab_size=65, n_layer=2, n_head=4, n_embd=32))
    rng = np.random.default_rng(0)
    for p in model.parameters():  # livelier than the 0.02 init: attention far from uniform
        p.data[...] = (rng.normal(size=p.shape) * 0.3 + (1.0 if p.ndim == 1 else 0.0)).astype(p.data.dtype)
    model.eval()
    return model


def _np(module):
    def f(x):
        with no_grad():
            return module(Tensor(np.asarray(x, np.float32))).data.astype(np.float64)
    return f


def _lesson_attention(attn, n_head, head):
    """The model's CausalSelfAttention rebuilt from the lesson's one head: n_head heads side by
    side (queries, keys, values cut from c_attn), concatenated, then c_proj."""
    w = attn.c_attn.weight.data.astype(np.float64)   # (3C, C): y = x @ w.T
    p = attn.c_proj.weight.data.astype(np.float64)
    c = w.shape[1]
    hs = c // n_head

    def f(x):
        outs = []
        for h in range(n_head):
            cols = slice(h * hs, (h + 1) * hs)
            wq, wk, wv = (w[i * c:(i + 1) * c][cols].T for i in range(3))
            outs.append(head(x, wq, wk, wv))
        return np.concatenate(outs, axis=-1) @ p.T
    return f


def test_the_lessons_head_positions_and_block_give_the_models_logits(small_gpt):
    m, cfg = small_gpt, small_gpt.config
    head, embed, block = learner("one-head"), learner("token-and-position"), learner("pre-ln-block")
    idx = np.random.default_rng(1).integers(0, 65, (2, 11))
    wte, wpe = m.wte.weight.data.astype(np.float64), m.wpe.weight.data.astype(np.float64)
    x = embed(idx, wte, wpe)                                         # (B, T, C)
    for b in m.h:
        attn = _lesson_attention(b.attn, cfg.n_head, head)
        x = np.stack([block(row, _np(b.ln_1), attn, _np(b.ln_2), _np(b.mlp)) for row in x])
    logits = _np(m.ln_f)(x) @ wte.T                                  # lm_head is wte (tied)
    with no_grad():
        want, _ = m(idx)
    np.testing.assert_allclose(logits, want.data, rtol=2e-3, atol=2e-3)
    assert np.abs(want.data).max() > 1.0  # not a trivially small comparison


def test_the_lessons_one_head_is_the_models_attention_weights(small_gpt):
    m, cfg = small_gpt, small_gpt.config
    idx = np.random.default_rng(2).integers(0, 65, 9)
    weights = m.attention(idx)                                       # layers of (n_head, T, T)
    x = learner("token-and-position")(idx[None], m.wte.weight.data.astype(np.float64),
                                      m.wpe.weight.data.astype(np.float64))[0]
    h = _np(m.h[0].ln_1)(x)
    w = m.h[0].attn.c_attn.weight.data.astype(np.float64)
    c, hs = x.shape[1], x.shape[1] // cfg.n_head
    for i in range(cfg.n_head):
        q, k = h @ w[:c][i * hs:(i + 1) * hs].T, h @ w[c:2 * c][i * hs:(i + 1) * hs].T
        # the lesson's head with v = identity returns its weight matrix itself
        got = learner("one-head")(np.eye(len(idx)), q, k, np.eye(len(idx)))
        np.testing.assert_allclose(got, weights[0][i], rtol=2e-3, atol=2e-4)
        assert np.allclose(np.triu(got, 1), 0)


# ------------------------------------------------------------------ the figures the lesson quotes

def _quoted(text, figure):
    return figure in " ".join(text.split())


def test_the_data_figures_in_the_lesson_are_the_corpus():
    from engine.data import CharVocab, load_shakespeare
    body = L.load_lesson(SLUG).body
    train, val = load_shakespeare()
    vocab = CharVocab(train + val)
    assert _quoted(body, f"{len(train) + len(val):,} characters")
    assert _quoted(body, f"# {len(vocab.encode(train)):,} integers")
    assert _quoted(body, f"{len(vocab)} distinct characters")
    assert _quoted(body, f'`"First"` becomes `{vocab.encode("First").tolist()}`')
    assert _quoted(body, f"ln 65 ≈ {math.log(len(vocab)):.2f}")


def test_the_model_figures_in_the_lesson_are_the_models():
    from playground.apps.gpt.model import GPT, PRESETS, GPTConfig
    from playground.apps.gpt.train import Run
    body = " ".join(L.load_lesson(SLUG).body.split())
    baby = PRESETS["baby"]
    assert f"{baby['n_layer']} blocks, {baby['n_head']} heads, {baby['n_embd']} channels" in body
    n = GPT(GPTConfig(n_layer=baby["n_layer"], n_head=baby["n_head"], n_embd=baby["n_embd"])).num_parameters()
    assert f"{n / 1e6:.2f} M numbers" in body
    assert f"batches of {baby['batch_size']} blocks" in body and f"block** of {baby['block_size']}" in body
    run = Run("baby", seed=0)
    loss = float(np.mean([run.model(*run.batch("val"))[1].item() for _ in range(2)]))
    assert abs(loss - math.log(65)) < 0.1  # "at step 0 ... the loss is ln 65"
    assert re.search(r"−ln P\(the character that really came next\)", body)


def test_the_lessons_class_table_is_the_model_files_modules():
    import inspect

    from engine import nn
    from playground.apps.gpt import model
    body = L.load_lesson(SLUG).body
    table = set(re.findall(r"^\| `(\w+)` \|", body, re.M))
    modules = {n for n, c in inspect.getmembers(model, inspect.isclass)
               if c.__module__ == model.__name__ and issubclass(c, nn.Module)}
    assert modules and modules | {"GPTConfig"} == table


def test_the_lessons_numpy_snippets_run_and_show_what_they_say():
    blocks = re.findall(r"```python\n(.*?)```", L.load_lesson(SLUG).body, re.S)
    ns = {"np": np}
    exec(blocks[0], ns)  # the data
    assert len(ns["vocab"]) == 65 and len(ns["data"]) == len(ns["train"])
    trick = next(b for b in blocks if "scores = np.zeros" in b)
    ns = {"np": np}
    exec(trick, ns)  # zero scores, masked, softmaxed: the averaging matrix of average-past
    t = ns["T"]
    np.testing.assert_allclose(ns["w"] @ np.eye(t), learner("average-past")(np.eye(t)))
