"""engine.losses: finite-difference gradients, parity with PyTorch, clear errors."""
import os
import sys

import numpy as np
import pytest
import torch

sys.path.insert(0, os.path.dirname(__file__))
from gradcheck import gradcheck  # noqa: E402

from engine import Tensor, losses, nn  # noqa: E402
from engine.nn import functional as F  # noqa: E402

rs = np.random.default_rng(0)
REDUCTIONS = ["mean", "sum", "none"]


def logits(n=5, c=4, scale=2.0):
    return (rs.standard_normal((n, c)) * scale).astype(np.float32)


# -- gradient checks (float64 finite differences) --------------------------------------------
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("smoothing", [0.0, 0.2])
def test_cross_entropy_gradcheck(reduction, smoothing):
    t = np.array([0, 3, 1, 1, 2])
    gradcheck(lambda x: losses.cross_entropy(x, t, reduction, smoothing), logits())


def test_cross_entropy_soft_targets_gradcheck():
    q = rs.random((5, 4))
    q /= q.sum(1, keepdims=True)
    gradcheck(lambda x: losses.cross_entropy(x, q), logits())


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_bce_with_logits_gradcheck(reduction):
    t = rs.random((3, 4))
    gradcheck(lambda x, t: losses.binary_cross_entropy_with_logits(x, t, reduction),
              logits(3, 4), t)


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_mse_gradcheck(reduction):
    gradcheck(lambda a, b: losses.mse_loss(a, b, reduction), rs.standard_normal((2, 3, 2)),
              rs.standard_normal((2, 3, 2)))


# -- parity with PyTorch ---------------------------------------------------------------------
def _parity(ours, theirs, *inputs, grad_inputs=(0,)):
    xs = [Tensor(x.copy(), requires_grad=i in grad_inputs) for i, x in enumerate(inputs)]
    ts = [torch.tensor(x, requires_grad=i in grad_inputs) for i, x in enumerate(inputs)]
    out, ref = ours(*xs), theirs(*ts)
    np.testing.assert_allclose(out.data, ref.detach().numpy(), rtol=1e-4, atol=1e-5)
    g = rs.standard_normal(out.shape).astype(np.float32)
    out.backward(g)
    ref.backward(torch.from_numpy(g))
    for i in grad_inputs:
        np.testing.assert_allclose(xs[i].grad, ts[i].grad.numpy(), rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("smoothing", [0.0, 0.1])
def test_cross_entropy_matches_torch(reduction, smoothing):
    t = rs.integers(0, 10, 16)
    _parity(lambda x: F.cross_entropy(x, t, reduction, smoothing),
            lambda x: torch.nn.functional.cross_entropy(x, torch.from_numpy(t),
                                                        reduction=reduction,
                                                        label_smoothing=smoothing),
            logits(16, 10, 5.0))


def test_cross_entropy_soft_targets_match_torch():
    q = rs.random((6, 3)).astype(np.float32)
    q /= q.sum(1, keepdims=True)
    _parity(lambda x: F.cross_entropy(x, q, label_smoothing=0.1),
            lambda x: torch.nn.functional.cross_entropy(x, torch.from_numpy(q), label_smoothing=0.1),
            logits(6, 3))


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_bce_with_logits_matches_torch(reduction):
    _parity(lambda x, t: F.binary_cross_entropy_with_logits(x, t, reduction),
            lambda x, t: torch.nn.functional.binary_cross_entropy_with_logits(x, t, reduction=reduction),
            logits(8, 3, 4.0), rs.random((8, 3)).astype(np.float32), grad_inputs=(0, 1))


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_mse_matches_torch(reduction):
    _parity(lambda a, b: F.mse_loss(a, b, reduction),
            lambda a, b: torch.nn.functional.mse_loss(a, b, reduction=reduction),
            logits(4, 5), logits(4, 5), grad_inputs=(0, 1))


def test_loss_modules_match_functional():
    x, t = logits(6, 3), rs.integers(0, 3, 6)
    ce = nn.CrossEntropyLoss(label_smoothing=0.1)
    ref = torch.nn.CrossEntropyLoss(label_smoothing=0.1)(torch.from_numpy(x), torch.from_numpy(t))
    assert np.isclose(ce(Tensor(x), t).item(), ref.item(), rtol=1e-5)
    b = rs.random((6, 3)).astype(np.float32)
    assert np.isclose(nn.BCEWithLogitsLoss(reduction="sum")(Tensor(x), b).item(),
                      torch.nn.BCEWithLogitsLoss(reduction="sum")(torch.from_numpy(x),
                                                                  torch.from_numpy(b)).item(), rtol=1e-5)
    assert np.isclose(nn.MSELoss()(Tensor(x), b).item(),
                      torch.nn.MSELoss()(torch.from_numpy(x), torch.from_numpy(b)).item(), rtol=1e-5)


# -- stability and dtype -----------------------------------------------------------------------
def test_losses_stay_finite_for_huge_logits():
    x = Tensor(np.array([[1e4, -1e4, 0.0], [-3e4, 2e4, 1e4]], np.float32), requires_grad=True)
    loss = F.cross_entropy(x, [1, 1])
    loss.backward()
    assert np.isfinite(loss.item()) and np.isclose(loss.item(), 1e4, rtol=1e-5)
    assert np.isfinite(x.grad).all()
    b = Tensor(np.array([1e4, -1e4, 50.0], np.float32), requires_grad=True)
    loss = F.binary_cross_entropy_with_logits(b, np.array([0.0, 1.0, 1.0], np.float32))
    loss.backward()
    assert np.isfinite(loss.item()) and np.isfinite(b.grad).all()
    ref = torch.nn.functional.binary_cross_entropy_with_logits(
        torch.tensor([1e4, -1e4, 50.0]), torch.tensor([0.0, 1.0, 1.0]))
    assert np.isclose(loss.item(), ref.item(), rtol=1e-5)


def test_losses_keep_float32():
    x = Tensor(logits(), requires_grad=True)
    loss = F.cross_entropy(x, [0, 1, 2, 3, 0])
    loss.backward()
    assert loss.dtype == np.float32 and x.grad.dtype == np.float32
    assert F.mse_loss(x, np.zeros((5, 4), np.float32)).dtype == np.float32


def test_cross_entropy_accepts_target_tensor_and_list():
    x = logits(3, 4)
    a = F.cross_entropy(x, [0, 1, 3]).item()
    b = F.cross_entropy(x, Tensor(np.array([0, 1, 3]))).item()  # a float Tensor of ints
    assert a == b


# -- clear errors --------------------------------------------------------------------------
def test_cross_entropy_target_out_of_range_names_the_values():
    with pytest.raises(ValueError, match=r"\[0, 4\).*\(3, 4\).*\[4, -1\]"):
        F.cross_entropy(logits(3, 4), [0, 4, -1])


def test_cross_entropy_rejects_logits_and_targets_that_do_not_fit():
    with pytest.raises(ValueError, match=r"\(2, 3, 4\) \(N, C, d1, ...\).*\(2, 4\)"):
        F.cross_entropy(rs.random((2, 3, 4)), [0, 1])  # (N, C, d1) wants target (N, d1)
    with pytest.raises(ValueError, match=r"\(N, C\).*\(3,\)"):
        F.cross_entropy(rs.random(3), [0])


def test_cross_entropy_rejects_wrong_target_shape():
    with pytest.raises(ValueError, match=r"\(5,\).*\(4,\)"):
        F.cross_entropy(logits(5, 4), [0, 1, 2, 3])


def test_cross_entropy_rejects_non_integer_targets():
    with pytest.raises(ValueError, match="non-integer"):
        F.cross_entropy(logits(2, 4), np.array([0.5, 1.0]))


def test_bce_and_mse_shape_mismatch():
    with pytest.raises(ValueError, match=r"\(3,\).*\(3, 1\)"):
        F.binary_cross_entropy_with_logits(rs.random((3, 1)), rs.random(3))
    with pytest.raises(ValueError, match=r"\(2, 3\).*\(3, 2\)"):
        F.mse_loss(rs.random((2, 3)), rs.random((3, 2)))


def test_bad_reduction():
    with pytest.raises(ValueError, match="reduction"):
        F.mse_loss(rs.random(3), rs.random(3), reduction="avg")
    with pytest.raises(ValueError, match="reduction"):
        nn.CrossEntropyLoss(reduction="avg")
