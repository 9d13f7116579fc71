"""Sequence-model ops (engine/nn/seqops.py, engine/nn/attention.py, engine/sampling.py,
cross_entropy over (N, C, T)): float64 gradient checks, values and grads vs PyTorch, saving."""
import os
import sys

import numpy as np
import pytest
import torch

sys.path.insert(0, os.path.dirname(__file__))
from gradcheck import gradcheck  # noqa: E402

from engine import Tensor, io, matmul, nn, sampling  # noqa: E402
from engine.nn import functional as F  # noqa: E402

rs = np.random.default_rng(0)


def randn(*shape):
    return rs.standard_normal(shape).astype(np.float32)


# -- gradient checks (float64 finite differences) ---------------------------------------------
def test_exact_gelu_gradcheck_and_both_forms_match_torch():
    gradcheck(lambda x: F.gelu(x), randn(3, 7) * 3)
    gradcheck(lambda x: F.gelu(x, approximate="tanh"), randn(3, 7) * 3)
    x = np.linspace(-8, 8, 2001)
    for dtype, tol in ((np.float64, 1e-12), (np.float32, 2e-6)):
        xd = x.astype(dtype)
        for approx in ("none", "tanh"):
            ours = nn.GELU(approximate=approx)(Tensor(xd, requires_grad=True))
            ours.sum().backward()
            xt = torch.tensor(xd, requires_grad=True)
            ref = torch.nn.functional.gelu(xt, approximate=approx)
            ref.sum().backward()
            np.testing.assert_allclose(ours.data, ref.detach().numpy(), atol=tol, rtol=tol)
    assert nn.GELU().spec()["args"] == {"approximate": "none"}  # PyTorch's default


def test_float32_gelu_values_and_gradient_match_torch():
    # the float32 path (one exp for Phi and phi, A&S 7.1.26) against float64 torch
    x = np.linspace(-9, 9, 40001).astype(np.float32)
    ours = Tensor(x, requires_grad=True)
    y = nn.GELU()(ours)
    y.sum().backward()
    xt = torch.tensor(x.astype(np.float64), requires_grad=True)
    ref = torch.nn.functional.gelu(xt)
    ref.sum().backward()
    assert y.data.dtype == ours.grad.dtype == np.float32
    assert np.abs(y.data - ref.detach().numpy()).max() < 1e-6
    assert np.abs(ours.grad - xt.grad.numpy()).max() < 1e-6


def test_erf_float32_is_accurate():
    x = np.linspace(-6, 6, 10001).astype(np.float32)
    want = torch.erf(torch.tensor(x.astype(np.float64))).numpy()
    got = nn.seqops.erf(x)
    assert got.dtype == np.float32 and np.abs(got - want).max() < 4e-7  # a few float32 ulps


def test_layer_norm_gradcheck():
    gradcheck(lambda x, w, b: F.layer_norm(x, 5, w, b), randn(2, 3, 5), randn(5), randn(5))
    gradcheck(lambda x: F.layer_norm(x, (3, 4)), randn(2, 3, 4))
    gradcheck(lambda x, w: F.layer_norm(x, 4, w), randn(6, 4), randn(4))


def test_masked_softmax_gradcheck_and_masked_rows():
    mask = np.tril(np.ones((4, 4), bool))
    gradcheck(lambda x: F.masked_softmax(x, mask), randn(2, 4, 4) * 5)
    y = F.masked_softmax(Tensor(randn(4, 4) * 50), mask).data
    assert np.allclose(y.sum(-1), 1) and (y[~mask] == 0).all()
    none = F.masked_softmax(Tensor(randn(2, 3)), np.zeros((2, 3), bool)).data
    assert (none == 0).all()  # nothing allowed: zeros, not NaN
    big = F.masked_softmax(Tensor(np.array([[1000.0, 999.0, -1000.0]])), None).data
    assert np.isfinite(big).all()  # the max is subtracted first


def test_batched_matmul_broadcasting_gradcheck():
    gradcheck(matmul, randn(2, 3, 4, 5), randn(2, 3, 5, 2))
    gradcheck(matmul, randn(2, 3, 4, 5), randn(3, 5, 2))   # b broadcast over the batch
    gradcheck(matmul, randn(1, 4, 5), randn(3, 5, 2))      # a broadcast
    gradcheck(matmul, randn(2, 1, 4, 5), randn(3, 5, 2))   # both


def test_attention_gradcheck():
    q, k, v = randn(2, 2, 4, 3), randn(2, 2, 5, 3), randn(2, 2, 5, 3)
    gradcheck(lambda q, k, v: F.scaled_dot_product_attention(q, k, v), q, k, v)
    q, k, v = randn(2, 4, 3), randn(2, 4, 3), randn(2, 4, 3)
    gradcheck(lambda q, k, v: F.scaled_dot_product_attention(q, k, v, is_causal=True), q, k, v)


def _module_gradcheck(m, call, x):
    """gradcheck over the input and every parameter: the parameters are swapped for the
    checker's float64 leaves (plain attributes, so forward() reads them)."""
    m.double()
    owners = [(mod, name) for _, mod in m.named_modules() for name, p in mod._parameters.items()
              if p is not None]

    def fn(x, *ps):
        for (mod, name), p in zip(owners, ps):
            object.__setattr__(mod, name, p)
        return call(x)
    gradcheck(fn, x, *[getattr(mod, name).data.copy() for mod, name in owners])


def test_layers_gradcheck():
    ln = nn.LayerNorm(4)
    ln.weight.data[:], ln.bias.data[:] = randn(4), randn(4)
    _module_gradcheck(ln, ln, randn(2, 3, 4))
    mha = nn.MultiheadAttention(4, 2, batch_first=True)
    _module_gradcheck(mha, lambda x: mha(x, x, x, is_causal=True)[0], randn(2, 3, 4))
    blk = nn.TransformerEncoderLayer(4, 2, 8, 0.0, "gelu", batch_first=True, norm_first=True)
    _module_gradcheck(blk, lambda x: blk(x, is_causal=True), randn(2, 3, 4))


def test_cross_entropy_over_time_gradcheck():
    t = rs.integers(0, 5, (2, 4))
    t[0, 1] = -1
    gradcheck(lambda x: F.cross_entropy(x, t, ignore_index=-1), randn(2, 5, 4))
    gradcheck(lambda x: F.cross_entropy(x, t, reduction="none", ignore_index=-1), randn(2, 5, 4))


# -- parity with PyTorch ----------------------------------------------------------------------
def _copy_into_torch(ours, theirs):
    theirs.load_state_dict({k: torch.from_numpy(v.copy()) for k, v in ours.state_dict().items()})


def _check_grads(ours, theirs, tol=(1e-4, 1e-5)):
    tp = dict(theirs.named_parameters())
    for name, p in ours.named_parameters():
        np.testing.assert_allclose(p.grad, tp[name].grad.numpy(), rtol=tol[0], atol=tol[1],
                                   err_msg=name)


def test_layer_norm_matches_torch():
    ours, theirs = nn.LayerNorm(6), torch.nn.LayerNorm(6)
    ours.weight.data[:] = randn(6)
    ours.bias.data[:] = randn(6)
    _copy_into_torch(ours, theirs)
    x = randn(3, 4, 6) * 3 + 1
    xo, xt = Tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    out, ref = ours(xo), theirs(xt)
    g = randn(*out.shape)
    out.backward(g), ref.backward(torch.from_numpy(g))
    np.testing.assert_allclose(out.data, ref.detach().numpy(), rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(xo.grad, xt.grad.numpy(), rtol=1e-4, atol=1e-5)
    _check_grads(ours, theirs)


def test_sdpa_matches_torch():
    q, k, v = randn(2, 3, 5, 4), randn(2, 3, 5, 4), randn(2, 3, 5, 4)
    for causal in (False, True):
        ts = [torch.tensor(a, requires_grad=True) for a in (q, k, v)]
        os_ = [Tensor(a, requires_grad=True) for a in (q, k, v)]
        ref = torch.nn.functional.scaled_dot_product_attention(*ts, is_causal=causal)
        out = F.scaled_dot_product_attention(*os_, is_causal=causal)
        g = randn(*out.shape)
        out.backward(g), ref.backward(torch.from_numpy(g))
        np.testing.assert_allclose(out.data, ref.detach().numpy(), rtol=1e-4, atol=1e-5)
        for a, b in zip(os_, ts):
            np.testing.assert_allclose(a.grad, b.grad.numpy(), rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("batch_first", [True, False])
def test_multihead_attention_matches_torch(batch_first):
    ours = nn.MultiheadAttention(8, 2, batch_first=batch_first)
    theirs = torch.nn.MultiheadAttention(8, 2, batch_first=batch_first)
    ours.in_proj_bias.data[:] = randn(24) * 0.1  # non-zero, so the bias path is checked
    _copy_into_torch(ours, theirs)
    x = randn(2, 5, 8) if batch_first else randn(5, 2, 8)
    mask = torch.nn.Transformer.generate_square_subsequent_mask(5) < 0  # True = masked out
    xo, xt = Tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    out, w = ours(xo, xo, xo, is_causal=True)
    ref, rw = theirs(xt, xt, xt, attn_mask=mask, is_causal=True)
    g = randn(*out.shape)
    out.backward(g), ref.backward(torch.from_numpy(g))
    np.testing.assert_allclose(out.data, ref.detach().numpy(), rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(w.data, rw.detach().numpy(), rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(xo.grad, xt.grad.numpy(), rtol=1e-4, atol=1e-5)
    _check_grads(ours, theirs)
    ours.zero_grad()  # cross-attention (query differs from key/value), a bool mask
    kv = randn(*x.shape)
    out, _ = ours(Tensor(x), Tensor(kv), Tensor(kv), attn_mask=mask.numpy())
    ref, _ = theirs(torch.tensor(x), torch.tensor(kv), torch.tensor(kv), attn_mask=mask)
    np.testing.assert_allclose(out.data, ref.detach().numpy(), rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("norm_first,act", [(True, "gelu"), (False, "relu")])
def test_transformer_layer_matches_torch(norm_first, act):
    kw = dict(dim_feedforward=32, dropout=0.0, activation=act, batch_first=True,
              norm_first=norm_first)
    ours, theirs = nn.TransformerEncoderLayer(8, 2, **kw), torch.nn.TransformerEncoderLayer(8, 2, **kw)
    _copy_into_torch(ours, theirs)
    theirs.train()  # torch's fused inference path is skipped while training
    x = randn(3, 6, 8)
    mask = torch.nn.Transformer.generate_square_subsequent_mask(6)
    xo, xt = Tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    out, ref = ours(xo, is_causal=True), theirs(xt, src_mask=mask, is_causal=True)
    g = randn(*out.shape)
    out.backward(g), ref.backward(torch.from_numpy(g))
    np.testing.assert_allclose(out.data, ref.detach().numpy(), rtol=1e-4, atol=2e-5)
    np.testing.assert_allclose(xo.grad, xt.grad.numpy(), rtol=1e-4, atol=2e-5)
    _check_grads(ours, theirs, (1e-4, 2e-5))


def test_cross_entropy_n_c_t_and_ignore_index_match_torch():
    x, t = randn(3, 5, 4), rs.integers(0, 5, (3, 4))
    t[1, 2] = t[2, 0] = -100
    for red in ("mean", "sum", "none"):
        for eps in (0.0, 0.1):
            xo, xt = Tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
            out = F.cross_entropy(xo, t, reduction=red, label_smoothing=eps)
            ref = torch.nn.functional.cross_entropy(xt, torch.from_numpy(t), reduction=red,
                                                    label_smoothing=eps)
            g = randn(*out.shape)
            out.backward(g), ref.backward(torch.from_numpy(g))
            np.testing.assert_allclose(out.data, ref.detach().numpy(), rtol=1e-5, atol=1e-6)
            np.testing.assert_allclose(xo.grad, xt.grad.numpy(), rtol=1e-5, atol=1e-6)
    logits = randn(2, 4, 5)  # (B, T, C), the language-model layout, as in PyTorch
    tt = rs.integers(0, 5, (2, 4))
    out = F.cross_entropy(Tensor(logits).reshape(-1, 5), tt.reshape(-1))
    ref = torch.nn.functional.cross_entropy(torch.tensor(logits).view(-1, 5),
                                            torch.from_numpy(tt).view(-1))
    assert abs(out.item() - ref.item()) < 1e-6
    with pytest.raises(ValueError, match="reshape"):
        F.cross_entropy(Tensor(logits), tt)


# -- saving: specs, io.save/load, io.to_torch -------------------------------------------------
def test_new_layers_save_load_and_to_torch(tmp_path):
    model = nn.Sequential(nn.LayerNorm(8), nn.TransformerEncoderLayer(
        8, 2, 16, 0.0, "gelu", batch_first=True, norm_first=True), nn.GELU(approximate="tanh"))
    io.save(model, tmp_path / "m.npz")
    back = io.load(tmp_path / "m.npz")
    x = randn(2, 5, 8)
    np.testing.assert_allclose(back(Tensor(x)).data, model(Tensor(x)).data, rtol=1e-6)
    built = io.to_torch(tmp_path / "m.npz", torch).eval()
    assert isinstance(built[1], torch.nn.TransformerEncoderLayer)
    np.testing.assert_allclose(built(torch.tensor(x)).detach().numpy(), model(Tensor(x)).data,
                               rtol=1e-4, atol=1e-5)
    mha = nn.MultiheadAttention(8, 4, batch_first=True)
    io.save(mha, tmp_path / "a.npz")
    tm = io.to_torch(tmp_path / "a.npz", torch)
    assert isinstance(tm, torch.nn.MultiheadAttention) and tm.batch_first


# -- sampling -------------------------------------------------------------------------------
def test_sampling_helpers():
    rng = np.random.default_rng(0)
    logits = np.log(np.array([[0.1, 0.2, 0.7], [0.5, 0.5, 0.0]]) + 1e-12)
    draws = np.stack([sampling.sample_logits(logits, rng=rng) for _ in range(4000)])
    freq = [(draws[:, 0] == j).mean() for j in range(3)]
    assert np.allclose(freq, [0.1, 0.2, 0.7], atol=0.03)
    assert (draws[:, 1] != 2).all()
    hot = sampling.softmax(logits[:1], temperature=0.1)
    assert hot[0, 2] > 0.99  # low temperature: nearly argmax
    assert np.allclose(sampling.softmax(logits[:1], temperature=100.0), 1 / 3, atol=0.01)
    top1 = np.array([sampling.sample_logits(logits[0], top_k=1, rng=rng) for _ in range(50)])
    assert (top1 == 2).all()
    assert np.isneginf(sampling.top_k_logits(logits[0], 2)).sum() == 1
    m = sampling.multinomial(np.array([[0, 1.0, 3.0]]), 2, rng=rng)
    assert m.shape == (1, 2) and sorted(m[0]) == [1, 2]
    with pytest.raises(ValueError, match="replacement"):
        sampling.multinomial(np.array([0, 1.0, 3.0]), 3)
    with pytest.raises(ValueError, match="temperature"):
        sampling.softmax(logits, 0)


# -- the fused attention node, blocked GELU, sorted Embedding backward (issue 19) ------------
def test_fused_attention_masks_broadcast_and_gradcheck():
    q, k, v = randn(2, 2, 4, 3), randn(2, 2, 5, 3), randn(2, 2, 5, 3)
    add = randn(4, 5)  # a float mask is added to the scores
    gradcheck(lambda q, k, v: F.scaled_dot_product_attention(q, k, v, attn_mask=add), q, k, v)
    keep = rs.random((4, 5)) > 0.3
    keep[:, 0] = True
    gradcheck(lambda q, k, v: F.scaled_dot_product_attention(q, k, v, attn_mask=keep), q, k, v)
    gradcheck(lambda q, k, v: F.scaled_dot_product_attention(q, k, v), randn(4, 3), k, v)
    ts = [torch.tensor(a, requires_grad=True) for a in (q, k, v)]
    ref = torch.nn.functional.scaled_dot_product_attention(*ts, attn_mask=torch.tensor(keep))
    ref.sum().backward()
    os_ = [Tensor(a, requires_grad=True) for a in (q, k, v)]
    out, w = F.attention(*os_, keep)
    out.sum().backward()
    np.testing.assert_allclose(out.data, ref.detach().numpy(), atol=1e-5)
    for o, t in zip(os_, ts):
        np.testing.assert_allclose(o.grad, t.grad.numpy(), atol=1e-5)
    assert not w.requires_grad and np.allclose(w.data.sum(-1), 1)


def test_fully_masked_attention_row_gives_zeros_not_nan():
    q, k, v = (Tensor(randn(3, 2), requires_grad=True) for _ in range(3))
    keep = np.ones((3, 3), bool)
    keep[1] = False
    out, w = F.attention(q, k, v, keep)
    out.sum().backward()
    assert np.all(out.data[1] == 0) and np.all(w.data[1] == 0)
    assert all(np.isfinite(t.grad).all() for t in (q, k, v))


def test_float32_gelu_in_blocks_matches_float64():
    x = randn(2, 33000) * 4  # three _phi32 blocks, a ragged last one
    xs, x64 = Tensor(x, requires_grad=True), Tensor(x.astype(np.float64), requires_grad=True)
    g = randn(2, 33000)
    ours, ref = F.gelu(xs), F.gelu(x64)
    ours.backward(g)
    ref.backward(g.astype(np.float64))
    np.testing.assert_allclose(ours.data, ref.data, atol=2e-6)
    np.testing.assert_allclose(xs.grad, x64.grad, atol=2e-6)
    xt = torch.tensor(x, requires_grad=True)
    torch.nn.functional.gelu(xt).backward(torch.tensor(g))
    np.testing.assert_allclose(xs.grad, xt.grad.numpy(), atol=2e-6)


def test_embedding_backward_adds_repeats_like_add_at():
    w = Tensor(randn(7, 5), requires_grad=True)
    idx = rs.integers(0, 7, (6, 9))
    idx[0, :4] = 3  # repeats; rows 0..6 not all used
    g = randn(6, 9, 5)
    F.embedding(idx, w).backward(g)
    ref = np.zeros((7, 5), np.float32)
    np.add.at(ref, idx.reshape(-1), g.reshape(-1, 5))
    np.testing.assert_allclose(w.grad, ref, atol=1e-5)
    w.grad = None
    F.embedding(np.zeros((0,), int), w).backward(np.zeros((0, 5), np.float32))
    assert np.all(w.grad == 0)


def test_self_attention_from_packed_qkv_gradcheck_and_torch():
    # one node from c_attn's (B, T, 3C) output to the merged heads (B, T, C)
    gradcheck(lambda x: F.self_attention(x, 2)[0], randn(2, 5, 12))
    gradcheck(lambda x: F.self_attention(x, 3, is_causal=False, scale=0.3)[0], randn(1, 4, 9))
    b, t, c, h = 3, 7, 8, 2
    x = randn(b, t, 3 * c)
    ours = Tensor(x, requires_grad=True)
    out, w = F.self_attention(ours, h)
    g = randn(b, t, c)
    out.backward(g)
    xt = torch.tensor(x, requires_grad=True)
    q, k, v = (z.view(b, t, h, c // h).transpose(1, 2) for z in xt.split(c, dim=2))
    ref = torch.nn.functional.scaled_dot_product_attention(q, k, v, is_causal=True)
    ref = ref.transpose(1, 2).reshape(b, t, c)
    ref.backward(torch.tensor(g))
    assert out.shape == (b, t, c) and w.shape == (b, h, t, t) and not w.requires_grad
    np.testing.assert_allclose(out.data, ref.detach().numpy(), atol=1e-5)
    np.testing.assert_allclose(ours.grad, xt.grad.numpy(), atol=1e-5)
    assert np.all(np.triu(w.data, 1) == 0) and np.allclose(w.data.sum(-1), 1)
    with pytest.raises(ValueError, match="divisible by n_head=5"):
        F.self_attention(ours, 5)


@pytest.mark.parametrize("causal", [True, False])
@pytest.mark.parametrize("t,s,spread", [(6, 6, 1.0), (6, 6, 300.0), (7, 4, 1.0), (3, 5, 300.0)])
def test_attention_softmax_shift_matches_torch_even_where_exp_would_overflow(causal, t, s, spread):
    # the softmax shifts each row by one of its own scores, not its max; scores 300x larger
    # put some far above that one (exp would overflow) and must take the exact max instead
    q, k, v = randn(2, 3, t, 4) * spread, randn(2, 3, s, 4), randn(2, 3, s, 4)
    ours = [Tensor(a, requires_grad=True) for a in (q, k, v)]
    out, w = F.attention(*ours, is_causal=causal)
    g = randn(*out.shape)
    out.backward(g)
    ts = [torch.tensor(a, requires_grad=True) for a in (q, k, v)]
    mask = torch.ones(t, s, dtype=torch.bool).tril() if causal else None
    ref = torch.nn.functional.scaled_dot_product_attention(*ts, attn_mask=mask)
    ref.backward(torch.tensor(g))
    assert np.isfinite(w.data).all() and np.allclose(w.data.sum(-1), 1, atol=1e-5)
    np.testing.assert_allclose(out.data, ref.detach().numpy(), atol=2e-5, rtol=1e-4)
    for o, r in zip(ours, ts):
        np.testing.assert_allclose(o.grad, r.grad.numpy(), atol=2e-4, rtol=1e-3)


def test_layer_norm_rows_paths():
    # several normalised axes with their own weight and bias; only the weight needing a
    # gradient; no rows at all
    gradcheck(lambda x, w, b: F.layer_norm(x, (3, 4), w, b), randn(2, 3, 4), randn(3, 4),
              randn(3, 4))
    x, w, g = randn(5, 4), Tensor(randn(4), requires_grad=True), randn(5, 4)
    F.layer_norm(x, 4, w).backward(g)
    wt = torch.tensor(w.data, requires_grad=True)
    torch.nn.functional.layer_norm(torch.tensor(x), (4,), wt).backward(torch.tensor(g))
    np.testing.assert_allclose(w.grad, wt.grad.numpy(), rtol=1e-5, atol=1e-5)
    empty = Tensor(np.zeros((0, 4), np.float32), requires_grad=True)
    out = F.layer_norm(empty, 4, w)
    out.backward(np.zeros((0, 4), np.float32))
    assert out.shape == (0, 4) and empty.grad.shape == (0, 4)


def test_gelu_without_gradient_gives_the_same_values():
    x = randn(3, 40000) * 3  # two blocks, a ragged second one
    with_grad = F.gelu(Tensor(x, requires_grad=True))
    without = F.gelu(Tensor(x))
    np.testing.assert_array_equal(with_grad.data, without.data)
    assert not without.requires_grad


@pytest.mark.parametrize("float_mask", [False, True])
def test_multihead_self_attention_with_a_mask_matches_torch(float_mask):
    # self-attention goes through F.self_attention: masks (bool: True = masked out, as
    # torch.nn.MultiheadAttention; or float, added) must act there as in the split path
    ours, theirs = nn.MultiheadAttention(8, 2, batch_first=True), torch.nn.MultiheadAttention(
        8, 2, batch_first=True)
    _copy_into_torch(ours, theirs)
    x = randn(2, 5, 8)
    mask = rs.random((5, 5)) > 0.6
    mask[:, 0] = False  # every query keeps a key
    if float_mask:
        mask = np.where(mask, -2.0, 0.5).astype(np.float32)
    xo, xt = Tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    out, w = ours(xo, xo, xo, attn_mask=mask)
    ref, rw = theirs(xt, xt, xt, attn_mask=torch.tensor(mask))
    g = randn(*out.shape)
    out.backward(g), ref.backward(torch.from_numpy(g))
    np.testing.assert_allclose(out.data, ref.detach().numpy(), rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(w.data, rw.detach().numpy(), rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(xo.grad, xt.grad.numpy(), rtol=1e-4, atol=1e-5)
    _check_grads(ours, theirs)


class _SeqKernels:
    """contract.SeqKernels computed with torch (as the page's WebAssembly would): seqops must
    hand them the right arrays and use what they return as its own numpy code would."""
    has_seq = True

    def __init__(self):
        self.calls = []

    def gelu(self, x, need_dy=True):
        self.calls.append("gelu")
        t = torch.tensor(x, requires_grad=True)
        y = torch.nn.functional.gelu(t)
        y.sum().backward()
        return y.detach().numpy(), t.grad.numpy() if need_dy else None

    def mul(self, a, b):
        self.calls.append("mul")
        assert a.shape == b.shape
        return (torch.tensor(a) * torch.tensor(b)).numpy()

    def softmax_(self, s, scale, causal):
        self.calls.append("softmax_")
        z = torch.tensor(s) * scale
        if causal:
            z = z.masked_fill(~torch.ones(z.shape[-2:], dtype=torch.bool).tril(), -torch.inf)
        s[...] = torch.softmax(z, -1).numpy()
        return s

    def softmax_backward_(self, g, w, scale):
        self.calls.append("softmax_backward_")
        g[...] = w * (g - (g * w).sum(-1, keepdims=True)) * scale
        return g

    def layer_norm(self, x, weight, bias, eps):
        self.calls.append("layer_norm")
        assert x.ndim == 2 and (weight is None or weight.shape == x.shape[1:])
        xhat = (x - x.mean(-1, keepdims=True)) / np.sqrt(x.var(-1, keepdims=True) + eps)
        y = xhat * (1 if weight is None else weight) + (0 if bias is None else bias)
        return y.astype(x.dtype), xhat.astype(x.dtype), 1 / np.sqrt(x.var(-1, keepdims=True) + eps)

    def layer_norm_backward(self, g, xhat, inv, weight, need_x, need_w, need_b):
        self.calls.append("layer_norm_backward")
        gh = g * (1 if weight is None else weight)
        gx = inv * (gh - gh.mean(-1, keepdims=True) - xhat * (gh * xhat).mean(-1, keepdims=True))
        return (gx if need_x else None, (g * xhat).sum(0) if need_w else None,
                g.sum(0) if need_b else None)


def test_sequence_kernels_from_the_seam_give_what_numpy_gives(monkeypatch):
    from engine import backend
    x, qkv, g, g2 = randn(2, 3, 4, 6), randn(2, 5, 12), randn(2, 3, 4, 6), randn(2, 5, 4)
    w, b = randn(4, 6), randn(4, 6)

    def run():
        ts = [Tensor(a, requires_grad=True) for a in (x, qkv, w, b)]
        y1 = F.layer_norm(ts[0], (4, 6), ts[2], ts[3])
        y2 = F.gelu(ts[0])
        y3, weights = F.self_attention(ts[1], 2)
        (y1 * Tensor(g)).sum().backward()
        y2.backward(g)
        y3.backward(g2)
        return [y1.data, y2.data, y3.data, weights.data] + [t.grad for t in ts]
    want = run()
    kern = _SeqKernels()
    monkeypatch.setattr(backend, "seq_kernels", lambda: kern)
    got = run()
    assert sorted(set(kern.calls)) == ["gelu", "layer_norm", "layer_norm_backward", "mul",
                                       "softmax_", "softmax_backward_"]
    for a, b_ in zip(got, want):
        np.testing.assert_allclose(a, b_, rtol=1e-4, atol=1e-5)


def test_self_attention_refuses_a_mask_that_does_not_fit():
    x = Tensor(randn(2, 5, 12), requires_grad=True)
    with pytest.raises(ValueError, match=r"attn_mask of shape \(3, 5\)"):
        F.self_attention(x, 2, attn_mask=np.ones((3, 5), bool))
    out, _ = F.self_attention(x, 2, attn_mask=np.ones((5, 5), bool))  # still usable after
    out.sum().backward()
    assert x.grad.shape == (2, 5, 12)
