"""Tensor ops: float64 finite-difference checks, float32 parity with PyTorch, autograd behaviour."""
import sys

import numpy as np
import pytest

import engine as E
from engine import NonFiniteLossError, Tensor
from engine.tensor import node
from gradcheck import gradcheck

torch = pytest.importorskip("torch")

_R = np.random.default_rng(1234)


def rn(*s):
    return _R.standard_normal(s)


def pos(*s):  # safely inside the domain of log, sqrt, fractional powers, division
    return _R.uniform(0.5, 2.0, s)


def away(*s):  # no element near 0 (kinks of abs/relu)
    return _R.uniform(0.2, 2.0, s) * _R.choice([-1.0, 1.0], s)


def tt(a, like):  # an ndarray as a torch tensor of like's dtype
    return torch.as_tensor(np.asarray(a)).to(like.dtype)


C34 = rn(3, 4)
MASK = np.array([True, False, True])
COND = rn(3, 4) > 0
IDX = np.array([0, 2, 2, 0])

# (id, ours, torch, inputs): ours and torch take the same tensors positionally.
CASES = [
    # arithmetic and broadcasting
    ("add", lambda a, b: a + b, None, [rn(3, 4), rn(3, 4)]),
    ("add_bcast_314_51", lambda a, b: a + b, None, [rn(3, 1, 4), rn(5, 1)]),
    ("mul_bcast_4_234", lambda a, b: a * b, None, [rn(4), rn(2, 3, 4)]),
    ("sub_bcast", lambda a, b: a - b, None, [rn(2, 3), rn(3)]),
    ("div_bcast", lambda a, b: a / b, None, [rn(2, 3), pos(2, 1)]),
    ("add_scalar_tensor", lambda a, b: a + b, None, [rn(3, 4), rn()]),
    ("mul_scalar_tensor_left", lambda a, b: a * b, None, [rn(), rn(3, 4)]),
    ("div_by_scalar_tensor", lambda a, b: a / b, None, [rn(2, 3), pos()]),
    ("radd_py", lambda a: 2.5 + a, None, [rn(3, 4)]),
    ("rsub_py", lambda a: 1.5 - a, None, [rn(3, 4)]),
    ("rmul_py", lambda a: 3 * a, None, [rn(3, 4)]),
    ("rdiv_py", lambda a: 2.0 / a, None, [pos(3, 4)]),
    ("sub_py", lambda a: a - 0.5, None, [rn(3, 4)]),
    ("div_py", lambda a: a / 4, None, [rn(3, 4)]),
    ("radd_ndarray", lambda a: C34 + a, lambda a: tt(C34, a) + a, [rn(3, 4)]),
    ("rsub_ndarray", lambda a: C34 - a, lambda a: tt(C34, a) - a, [rn(3, 4)]),
    ("rmul_ndarray_bcast", lambda a: C34 * a, lambda a: tt(C34, a) * a, [rn(4)]),
    ("rdiv_ndarray", lambda a: C34 / a, lambda a: tt(C34, a) / a, [pos(3, 4)]),
    ("sub_ndarray", lambda a: a - C34, lambda a: a - tt(C34, a), [rn(3, 1)]),
    ("pow2", lambda a: a ** 2, None, [rn(3, 4)]),
    ("pow3_neg_base", lambda a: a ** 3, None, [rn(3, 4)]),
    ("pow_half", lambda a: a ** 0.5, None, [pos(3, 4)]),
    ("pow_neg_frac", lambda a: a ** -1.5, None, [pos(3, 4)]),
    ("pow_tensor", lambda a, b: a ** b, None, [pos(3, 4), rn(3, 4)]),
    ("pow_tensor_bcast", lambda a, b: a ** b, None, [pos(3, 4), rn(4)]),
    ("rpow_py", lambda a: 2 ** a, None, [rn(3, 4)]),
    ("neg", lambda a: -a, None, [rn(3, 4)]),
    # elementwise functions
    ("exp", lambda a: a.exp(), None, [rn(3, 4)]),
    ("log", lambda a: a.log(), None, [pos(3, 4)]),
    ("sqrt", lambda a: a.sqrt(), None, [pos(3, 4)]),
    ("abs", lambda a: a.abs(), None, [away(3, 4)]),
    ("clip", lambda a: a.clip(-0.5, 0.5), lambda a: a.clamp(-0.5, 0.5), [rn(4, 5)]),
    ("clip_lo", lambda a: a.clip(lo=0.1), lambda a: a.clamp(min=0.1), [rn(4, 5)]),
    ("clip_hi", lambda a: a.clip(hi=0.1), lambda a: a.clamp(max=0.1), [rn(4, 5)]),
    ("relu", lambda a: a.relu(), None, [away(3, 4)]),
    ("leaky_relu", lambda a: a.leaky_relu(0.1),
     lambda a: torch.nn.functional.leaky_relu(a, 0.1), [away(3, 4)]),
    ("leaky_relu_default", lambda a: a.leaky_relu(),
     lambda a: torch.nn.functional.leaky_relu(a), [away(3, 4)]),
    ("tanh", lambda a: a.tanh(), None, [rn(3, 4)]),
    ("sigmoid", lambda a: a.sigmoid(), None, [3 * rn(3, 4)]),
    ("gelu", lambda a: a.gelu(), lambda a: torch.nn.functional.gelu(a, approximate="tanh"),
     [2 * rn(3, 4)]),
    ("softmax_last", lambda a: a.softmax(), lambda a: a.softmax(-1), [rn(3, 4)]),
    ("softmax_0", lambda a: a.softmax(0), lambda a: a.softmax(0), [rn(3, 4)]),
    ("softmax_3d_1", lambda a: a.softmax(1), lambda a: a.softmax(1), [rn(2, 3, 4)]),
    ("log_softmax_last", lambda a: a.log_softmax(), lambda a: a.log_softmax(-1), [rn(3, 4)]),
    ("log_softmax_0", lambda a: a.log_softmax(0), lambda a: a.log_softmax(0), [rn(3, 4)]),
    ("log_softmax_3d_m2", lambda a: a.log_softmax(-2), lambda a: a.log_softmax(-2), [rn(2, 3, 4)]),
    # reductions
    ("sum_all", lambda a: a.sum(), None, [rn(2, 3, 4)]),
    ("sum_0", lambda a: a.sum(0), lambda a: a.sum(0), [rn(2, 3, 4)]),
    ("sum_neg1", lambda a: a.sum(axis=-1), lambda a: a.sum(-1), [rn(2, 3, 4)]),
    ("sum_tuple", lambda a: a.sum(axis=(0, 2)), lambda a: a.sum((0, 2)), [rn(2, 3, 4)]),
    ("sum_tuple_neg_keep", lambda a: a.sum(axis=(0, -1), keepdims=True),
     lambda a: a.sum((0, -1), keepdim=True), [rn(2, 3, 4)]),
    ("sum_all_keep", lambda a: a.sum(keepdims=True),
     lambda a: a.sum((0, 1, 2), keepdim=True), [rn(2, 3, 4)]),
    ("mean_all", lambda a: a.mean(), None, [rn(2, 3, 4)]),
    ("mean_1_keep", lambda a: a.mean(1, keepdims=True), lambda a: a.mean(1, keepdim=True),
     [rn(2, 3, 4)]),
    ("mean_tuple_neg", lambda a: a.mean(axis=(-1, 0)), lambda a: a.mean((-1, 0)), [rn(2, 3, 4)]),
    ("var_all", lambda a: a.var(), lambda a: a.var(), [rn(2, 3, 4)]),
    ("var_all_unbiased", lambda a: a.var(unbiased=True), lambda a: a.var(correction=1),
     [rn(2, 3, 4)]),
    ("var_1_biased", lambda a: a.var(1, unbiased=False), lambda a: a.var(1, correction=0), [rn(2, 3, 4)]),
    ("var_tuple_keep", lambda a: a.var((0, 2), keepdims=True, unbiased=False),
     lambda a: a.var((0, 2), keepdim=True, correction=0), [rn(2, 3, 4)]),
    ("var_neg_unbiased", lambda a: a.var(-1, unbiased=True), lambda a: a.var(-1, correction=1),
     [rn(2, 3, 4)]),
    ("max_all", lambda a: a.max(), lambda a: a.amax(), [rn(2, 3, 4)]),
    ("max_1", lambda a: a.max(1), lambda a: a.amax(1), [rn(2, 3, 4)]),
    ("max_neg_keep", lambda a: a.max(-1, keepdims=True), lambda a: a.amax(-1, keepdim=True),
     [rn(2, 3, 4)]),
    ("max_tuple", lambda a: a.max((0, 2)), lambda a: a.amax((0, 2)), [rn(2, 3, 4)]),
    ("min_all", lambda a: a.min(), lambda a: a.amin(), [rn(2, 3, 4)]),
    ("min_0", lambda a: a.min(0), lambda a: a.amin(0), [rn(2, 3, 4)]),
    ("min_tuple_keep", lambda a: a.min((1, -1), keepdims=True),
     lambda a: a.amin((1, -1), keepdim=True), [rn(2, 3, 4)]),
    # shape
    ("reshape", lambda a: a.reshape(2, 6), None, [rn(3, 4)]),
    ("reshape_tuple_neg", lambda a: a.reshape((4, -1)), None, [rn(3, 4)]),
    ("view", lambda a: a.view(6, 2), None, [rn(3, 4)]),
    ("flatten", lambda a: a.flatten(), None, [rn(2, 3, 4)]),
    ("flatten_1", lambda a: a.flatten(1), None, [rn(2, 3, 4)]),
    ("flatten_1_2", lambda a: a.flatten(1, 2), None, [rn(2, 3, 4, 5)]),
    ("T_2d", lambda a: a.T, lambda a: a.t(), [rn(3, 4)]),
    ("transpose_2d", lambda a: a.transpose(), lambda a: a.t(), [rn(3, 4)]),
    ("transpose_2d_swap", lambda a: a.transpose(1, 0), None, [rn(3, 4)]),
    ("permute_3d", lambda a: a.permute(2, 0, 1), None, [rn(2, 3, 4)]),
    ("permute_3d_neg", lambda a: a.permute(0, -1, 1), None, [rn(2, 3, 4)]),
    ("permute_4d_tuple", lambda a: a.transpose((3, 1, 0, 2)), lambda a: a.permute(3, 1, 0, 2),
     [rn(2, 3, 4, 5)]),
    ("transpose_swap_3d", lambda a: a.transpose(0, 2), None, [rn(2, 3, 4)]),
    ("transpose_swap_neg", lambda a: a.transpose(-1, -2), None, [rn(2, 3, 4)]),
    # indexing
    ("index_slice", lambda a: a[1:3], None, [rn(4, 5)]),
    ("index_int", lambda a: a[1], None, [rn(4, 5)]),
    ("index_step_cols", lambda a: a[:, ::2], None, [rn(4, 5)]),
    ("index_int_int", lambda a: a[1, 2], None, [rn(4, 5)]),
    ("index_neg_ellipsis", lambda a: a[..., -1], None, [rn(2, 3, 4)]),
    ("index_list_repeats", lambda a: a[[0, 2, 2, 0]], None, [rn(3, 4)]),
    ("index_array_repeats", lambda a: a[IDX], lambda a: a[torch.as_tensor(IDX)], [rn(3, 4)]),
    ("index_pairs_repeats", lambda a: a[IDX, np.array([1, 1, 3, 1])],
     lambda a: a[torch.as_tensor(IDX), torch.as_tensor([1, 1, 3, 1])], [rn(3, 4)]),
    ("index_slice_and_fancy", lambda a: a[:, [3, 3, 0]], None, [rn(3, 4)]),
    ("index_bool_mask", lambda a: a[MASK], lambda a: a[torch.as_tensor(MASK)], [rn(3, 4)]),
    ("index_bool_mask_2d", lambda a: a[COND], lambda a: a[torch.as_tensor(COND)], [rn(3, 4)]),
    # several tensors
    ("cat_0", lambda a, b: E.cat([a, b]), lambda a, b: torch.cat([a, b]), [rn(2, 3), rn(4, 3)]),
    ("cat_1_three", lambda a, b, c: E.cat([a, b, c], axis=1), lambda a, b, c: torch.cat([a, b, c], 1),
     [rn(2, 1), rn(2, 3), rn(2, 2)]),
    ("cat_neg", lambda a, b: E.cat([a, b], axis=-1), lambda a, b: torch.cat([a, b], -1),
     [rn(2, 3, 1), rn(2, 3, 2)]),
    ("stack_0", lambda a, b: E.stack([a, b]), lambda a, b: torch.stack([a, b]), [rn(2, 3), rn(2, 3)]),
    ("stack_1", lambda a, b, c: E.stack([a, b, c], axis=1),
     lambda a, b, c: torch.stack([a, b, c], 1), [rn(2, 3), rn(2, 3), rn(2, 3)]),
    ("stack_neg", lambda a, b: E.stack([a, b], axis=-1), lambda a, b: torch.stack([a, b], -1),
     [rn(2, 3), rn(2, 3)]),
    ("where", lambda a, b: E.where(COND, a, b), lambda a, b: torch.where(torch.as_tensor(COND), a, b),
     [rn(3, 4), rn(3, 4)]),
    ("where_bcast", lambda a, b: E.where(COND, a, b),
     lambda a, b: torch.where(torch.as_tensor(COND), a, b), [rn(3, 1), rn(4)]),
    ("where_scalar", lambda a: E.where(COND, a, 0.0),
     lambda a: torch.where(torch.as_tensor(COND), a, 0.0), [rn(3, 4)]),
    # matmul
    ("mm_2d", lambda a, b: a @ b, None, [rn(3, 4), rn(4, 5)]),
    ("mm_1d_2d", lambda a, b: a @ b, None, [rn(4), rn(4, 5)]),
    ("mm_2d_1d", lambda a, b: a @ b, None, [rn(3, 4), rn(4)]),
    ("mm_1d_1d", lambda a, b: a @ b, None, [rn(4), rn(4)]),
    ("mm_batched_2d", lambda a, b: a @ b, None, [rn(2, 3, 4), rn(4, 5)]),
    ("mm_2d_batched", lambda a, b: a @ b, None, [rn(3, 4), rn(2, 4, 5)]),
    ("mm_batched_batched", lambda a, b: a @ b, None, [rn(2, 3, 4), rn(2, 4, 5)]),
    ("mm_broadcast_batch", lambda a, b: a @ b, None, [rn(2, 1, 3, 4), rn(5, 4, 2)]),
    ("mm_1d_batched", lambda a, b: a @ b, None, [rn(4), rn(2, 4, 5)]),
    ("mm_batched_1d", lambda a, b: a @ b, None, [rn(2, 3, 4), rn(4)]),
    ("mm_function", lambda a, b: E.matmul(a, b), lambda a, b: torch.matmul(a, b),
     [rn(2, 3, 4), rn(4, 2)]),
    # a composite
    ("composite_mlp", lambda x, w, b: ((x @ w + b).tanh() * 2 - 1).log_softmax().mean(),
     lambda x, w, b: ((x @ w + b).tanh() * 2 - 1).log_softmax(-1).mean(), [rn(5, 3), rn(3, 4), rn(4)]),
]
IDS = [c[0] for c in CASES]


@pytest.mark.parametrize("name,ours,theirs,inputs", CASES, ids=IDS)
def test_gradcheck_float64(name, ours, theirs, inputs):
    gradcheck(ours, *inputs)


@pytest.mark.parametrize("name,ours,theirs,inputs", CASES, ids=IDS)
def test_parity_with_torch_float32(name, ours, theirs, inputs):
    theirs = theirs or ours  # the same expression works on torch tensors
    xs = [Tensor(np.asarray(a, np.float32), requires_grad=True) for a in inputs]
    ts = [torch.tensor(np.asarray(a, np.float32), requires_grad=True) for a in inputs]
    out, tout = ours(*xs), theirs(*ts)
    assert out.dtype == np.float32, "a float32 graph must stay float32"
    assert out.shape == tuple(tout.shape)
    np.testing.assert_allclose(out.data, tout.detach().numpy(), rtol=1e-5, atol=1e-6)
    w = np.random.default_rng(7).standard_normal(out.shape).astype(np.float32)
    (out * Tensor(w)).sum().backward()
    (tout * torch.from_numpy(w)).sum().backward()
    for x, t in zip(xs, ts):
        assert x.grad is not None and x.grad.dtype == np.float32 and x.grad.shape == x.shape
        np.testing.assert_allclose(x.grad, t.grad.numpy(), rtol=1e-5, atol=1e-5)


def test_gradcheck_catches_a_wrong_gradient():
    """The checker itself must fail on a wrong backward (so passing means something)."""
    def bad_square(a):
        return node(a.data ** 2, (a,), lambda g: (g * a.data,), "bad")  # missing factor 2
    with pytest.raises(AssertionError, match="gradcheck"):
        gradcheck(bad_square, rn(3))


# -- ties in max/min --------------------------------------------------------------------
@pytest.mark.parametrize("axis", [None, 0, 1, -1, (0, 1)])
def test_max_min_ties_split_gradient_like_torch_amax(axis):
    a = np.array([[1.0, 3.0, 3.0], [2.0, 2.0, 0.0], [5.0, 5.0, 5.0]], np.float32)
    dim = tuple(range(a.ndim)) if axis is None else axis
    for ours, theirs in [(lambda t: t.max(axis), lambda t: t.amax(dim)),
                         (lambda t: t.min(axis), lambda t: t.amin(dim))]:
        x, t = Tensor(a, requires_grad=True), torch.tensor(a, requires_grad=True)
        out, tout = ours(x), theirs(t)
        np.testing.assert_array_equal(out.data, tout.detach().numpy())
        out.backward(np.ones(out.shape, np.float32))
        tout.backward(torch.ones(tout.shape))
        np.testing.assert_allclose(x.grad, t.grad.numpy(), rtol=1e-6)
    # the split is real: row 0 sends half to each of its two 3s
    x = Tensor(a, requires_grad=True)
    x.max(1).sum().backward()
    np.testing.assert_allclose(x.grad[0], [0, 0.5, 0.5])
    np.testing.assert_allclose(x.grad[2], [1 / 3] * 3, rtol=1e-6)


def test_sigmoid_large_inputs_no_overflow():
    a = np.array([-1e4, -100.0, -30.0, 0.0, 30.0, 100.0, 1e4], np.float32)
    x, t = Tensor(a, requires_grad=True), torch.tensor(a, requires_grad=True)
    with np.errstate(over="raise", invalid="raise", divide="raise"):  # underflow to 0 is fine
        y = x.sigmoid()
        y.sum().backward()
    ty = t.sigmoid()
    ty.sum().backward()
    assert np.isfinite(y.data).all() and np.isfinite(x.grad).all()
    np.testing.assert_allclose(y.data, ty.detach().numpy(), rtol=1e-6, atol=1e-30)
    np.testing.assert_allclose(x.grad, t.grad.numpy(), rtol=1e-5, atol=1e-30)
    assert y.data[0] == 0.0 or y.data[0] < 1e-30 and y.data[-1] == 1.0


def test_softmax_log_softmax_stable_on_large_logits():
    a = np.array([[1000.0, 0.0, -1000.0], [5e4, 5e4, 5e4]], np.float32)
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        s, ls = Tensor(a).softmax(), Tensor(a).log_softmax()
    np.testing.assert_allclose(s.data, torch.tensor(a).softmax(-1).numpy(), atol=1e-7)
    np.testing.assert_allclose(ls.data, torch.tensor(a).log_softmax(-1).numpy(), rtol=1e-6)


def test_pow_tensor_exponent_with_negative_base_matches_torch():
    a, p = np.array([-2.0, -3.0, 1.5], np.float32), np.array([2.0, 3.0, 0.5], np.float32)
    x = Tensor(a, requires_grad=True)
    y = x ** Tensor(p)
    y.sum().backward()
    t = torch.tensor(a, requires_grad=True)
    (t ** torch.tensor(p)).sum().backward()
    np.testing.assert_allclose(y.data, [4.0, -27.0, 1.5 ** 0.5], rtol=1e-6)
    np.testing.assert_allclose(x.grad, t.grad.numpy(), rtol=1e-6)


def test_pow_zero_exponent_grad_is_zero_not_nan():
    x = Tensor(np.array([0.0, 2.0], np.float32), requires_grad=True)
    (x ** 0).sum().backward()
    np.testing.assert_array_equal(x.grad, [0.0, 0.0])


# -- graph behaviour ----------------------------------------------------------------------
def test_tensor_used_twice_accumulates():
    a = np.array([0.5, -1.0, 2.0])
    x = Tensor(a, requires_grad=True)
    y = x * x + x          # x reaches y along three paths
    z = y.exp() * y        # and y along two
    z.sum().backward()
    t = torch.tensor(a, requires_grad=True)
    ty = t * t + t
    (ty.exp() * ty).sum().backward()
    np.testing.assert_allclose(x.grad, t.grad.numpy(), rtol=1e-12)
    gradcheck(lambda x: (x * x + x).exp() * (x * x + x), a)


def test_grad_accumulates_across_backward_calls_like_torch():
    a = rn(3, 4).astype(np.float32)
    x, t = Tensor(a, requires_grad=True), torch.tensor(a, requires_grad=True)
    y, ty = (x * x).sum(), (t * t).sum()
    y.backward()
    ty.backward(retain_graph=True)
    first = x.grad.copy()
    y.backward()
    ty.backward()
    np.testing.assert_allclose(x.grad, t.grad.numpy(), rtol=1e-6)
    np.testing.assert_allclose(x.grad, 2 * first, rtol=1e-6)
    x.zero_grad()
    assert x.grad is None


def test_leaf_grad_is_a_writable_copy():
    x = Tensor(np.ones((2, 3), np.float32), requires_grad=True)
    x.sum().backward()           # sum's backward is a read-only broadcast view
    x.grad *= 0.5                # an optimiser may scale grads in place
    np.testing.assert_allclose(x.grad, 0.5)
    g = np.ones((2, 3), np.float32)
    a, b = Tensor(np.ones((2, 3), np.float32), requires_grad=True), Tensor(
        np.ones((2, 3), np.float32), requires_grad=True)
    (a + b).backward(g)
    a.grad += 1                  # must not change b.grad nor the caller's array
    np.testing.assert_array_equal(b.grad, 1.0)
    np.testing.assert_array_equal(g, 1.0)


def test_no_grad_builds_no_graph():
    x = Tensor(rn(3), requires_grad=True)
    assert E.is_grad_enabled()
    with E.no_grad():
        assert not E.is_grad_enabled()
        y = (x * 2).exp().sum()
    assert E.is_grad_enabled()
    assert not y.requires_grad and y.parents == () and y.grad_fn is None
    with pytest.raises(RuntimeError, match="does not require grad"):
        y.backward()
    with pytest.raises(KeyError):
        with E.no_grad():
            raise KeyError("boom")
    assert E.is_grad_enabled()  # restored after an exception
    z = x * 2
    assert z.requires_grad and z.parents


def test_no_graph_when_no_input_requires_grad():
    y = Tensor(rn(3)) * 2 + 1
    assert not y.requires_grad and y.parents == ()


def test_detach_stops_gradient_and_shares_values():
    a = rn(4)
    x = Tensor(a, requires_grad=True)
    d = x.detach()
    assert not d.requires_grad and d.parents == ()
    np.testing.assert_array_equal(d.data, x.data)
    (d * x).sum().backward()
    np.testing.assert_allclose(x.grad, a)  # not 2a: d is a constant


def test_backward_with_given_gradient():
    a, g = rn(2, 3), rn(2, 3)
    x = Tensor(a, requires_grad=True)
    y = x * 3 + x.exp()
    y.backward(g)
    np.testing.assert_allclose(x.grad, g * (3 + np.exp(a)))
    x.grad = None
    (x * 3).backward(Tensor(g))  # a Tensor gradient works too
    np.testing.assert_allclose(x.grad, 3 * g)
    with pytest.raises(ValueError, match=r"\(3, 2\).*\(2, 3\)"):
        (x * 3).backward(np.ones((3, 2)))


def test_backward_non_scalar_without_grad_raises_clear_error():
    x = Tensor(rn(2, 3), requires_grad=True)
    with pytest.raises(RuntimeError, match=r"scalar.*\(2, 3\)"):
        (x * 2).backward()


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_backward_on_non_finite_loss_raises(bad):
    x = Tensor(np.array([1.0, bad], np.float32), requires_grad=True)
    loss = (x * 2).sum()
    with pytest.raises(NonFiniteLossError, match="learning rate") as info:
        loss.backward()
    assert isinstance(info.value, FloatingPointError)
    assert x.grad is None


@pytest.mark.parametrize("make,shapes", [
    (lambda: Tensor(np.ones((3, 4))) + Tensor(np.ones(5)), ["(3, 4)", "(5,)"]),
    (lambda: Tensor(np.ones((3, 4))) * np.ones((2, 4)), ["(3, 4)", "(2, 4)"]),
    (lambda: Tensor(np.ones((3, 4))) @ Tensor(np.ones((5, 6))), ["(3, 4)", "(5, 6)"]),
    (lambda: Tensor(np.ones(3)) @ Tensor(np.ones((4, 5))), ["(3,)", "(4, 5)"]),
    (lambda: Tensor(np.ones((2, 3, 4))) @ Tensor(np.ones(5)), ["(2, 3, 4)", "(5,)"]),
    (lambda: Tensor(np.ones((3, 4))).reshape(5, 2), ["(3, 4)", "(5, 2)"]),
    (lambda: E.cat([Tensor(np.ones((2, 3))), Tensor(np.ones((2, 4)))]), ["(2, 3)", "(2, 4)"]),
    (lambda: E.stack([Tensor(np.ones((2, 3))), Tensor(np.ones((3, 2)))]), ["(2, 3)", "(3, 2)"]),
])
def test_shape_mismatch_errors_name_both_shapes(make, shapes):
    with pytest.raises(ValueError) as info:
        make()
    for s in shapes:
        assert s in str(info.value)


def test_deep_chain_backward_no_recursion_limit():
    n = 10_000
    assert n > sys.getrecursionlimit()
    x = Tensor(np.array([1.0, 2.0]), requires_grad=True)
    y = x
    for _ in range(n):
        y = y * 1.0001 + 0.0
    y.sum().backward()
    np.testing.assert_allclose(x.grad, [1.0001 ** n] * 2, rtol=1e-9)
    del y  # freeing a 20k-node chain must not crash either


def test_float32_stays_float32_with_python_scalars():
    x = Tensor(np.array([0.5, 1.5, 2.0], np.float32), requires_grad=True)
    assert Tensor([1, 2]).dtype == np.float32 and Tensor(3.0).dtype == np.float32
    outs = [x * 2.5, 2.5 * x, x + 1, 1 - x, x - 0.1, x / 3, 3.0 / x, x ** 2.5, x ** 2, 2 ** x,
            -x, x.exp(), x.log(), x.sqrt(), x.abs(), x.clip(0.6, 1.9), x.relu(),
            x.leaky_relu(0.2), x.tanh(), x.sigmoid(), x.gelu(), x.softmax(), x.log_softmax(),
            x.mean(), x.var(), x.var(unbiased=True), x.max(), x.min(), x.sum(),
            E.where(np.array([True, False, True]), x, 0.0), x[[0, 0]], x.reshape(3, 1) @ x.reshape(1, 3),
            x @ x, E.cat([x, x]), E.stack([x, x]), x * np.float64(2.0), x + np.arange(3.0)]
    for i, o in enumerate(outs):
        assert o.dtype == np.float32, f"output {i} is {o.dtype}"
        x.grad = None
        o.sum().backward()
        assert x.grad.dtype == np.float32, f"grad {i} is {x.grad.dtype}"


def test_manual_seed_determinism():
    E.manual_seed(42)
    a, b = E.randn(3, 4), E.rand(2, 2)
    E.manual_seed(42)
    a2, b2 = E.randn(3, 4), E.rand(2, 2)
    np.testing.assert_array_equal(a.data, a2.data)
    np.testing.assert_array_equal(b.data, b2.data)
    assert a.dtype == np.float32 and b.dtype == np.float32
    E.manual_seed(43)
    assert not np.array_equal(E.randn(3, 4).data, a.data)
    assert (b.data >= 0).all() and (b.data < 1).all()


def test_constructors_accept_shape_tuples():
    for f in (E.zeros, E.ones, E.randn, E.rand):
        assert f(2, 3).shape == (2, 3) == f((2, 3)).shape == f([2, 3]).shape
    assert E.zeros(2, requires_grad=True).requires_grad
    np.testing.assert_array_equal(E.ones(2, 2).data, 1.0)


def test_flatten_matches_torch():
    a = rn(2, 3, 4, 5)
    for args in [(), (1,), (0, 1), (1, 2), (2,), (-2,), (1, -1)]:
        assert Tensor(a).flatten(*args).shape == tuple(torch.tensor(a).flatten(*args).shape), args
    assert Tensor(rn(5)).flatten().shape == (5,)
    assert Tensor(2.0).flatten().shape == (1,)


def test_mean_var_accept_numpy_integer_axes():
    a = rn(3, 4)
    np.testing.assert_allclose(Tensor(a).mean(np.int64(1)).data, a.mean(1))
    np.testing.assert_allclose(Tensor(a).var(axis=np.int64(0)).data, a.var(0, ddof=1))


def test_ndarray_on_the_left_gives_a_tensor():
    x = Tensor(rn(3), requires_grad=True)
    for y in (np.ones(3) + x, np.ones(3) * x, np.ones(3) - x, np.ones(3) / (x * x + 1),
              np.float64(2.0) * x, np.ones((2, 3)) @ x):
        assert isinstance(y, Tensor) and y.requires_grad


def test_float64_input_stays_float64():
    x = Tensor(rn(3, 4), requires_grad=True)
    assert x.dtype == np.float64
    y = (x * 0.5 + 1).softmax().log()
    assert y.dtype == np.float64
    y.sum().backward()
    assert x.grad.dtype == np.float64
