"""engine.nn: finite-difference gradients of every layer, parity with PyTorch layers,
state_dict/spec round trips (into PyTorch too), Module plumbing."""
import collections
import json
import os
import sys

import numpy as np
import pytest
import torch

sys.path.insert(0, os.path.dirname(__file__))
from gradcheck import gradcheck  # noqa: E402

import engine  # noqa: E402
from engine import Tensor, nn  # noqa: E402
from engine.nn import functional as F  # noqa: E402

rs = np.random.default_rng(0)


def randn(*shape):
    return rs.standard_normal(shape).astype(np.float32)


# -- gradient checks of the fused functional ops (float64 finite differences) ------------------
def test_linear_gradcheck():
    gradcheck(F.linear, randn(3, 4), randn(5, 4), randn(5))
    gradcheck(F.linear, randn(2, 3, 4), randn(5, 4), randn(5))  # leading batch dims
    gradcheck(lambda x, w: F.linear(x, w), randn(4), randn(2, 4))  # no bias, 1-D input


@pytest.mark.parametrize("stride,padding,size", [(1, 0, (6, 6)), (2, 1, (7, 6)), ((1, 2), (2, 0), (5, 7)),
                                                 (3, 2, (6, 5))])
def test_conv2d_gradcheck(stride, padding, size):
    gradcheck(lambda x, w, b: F.conv2d(x, w, b, stride, padding), randn(2, 3, *size),
              randn(4, 3, 3, 2), randn(4))


def test_conv2d_gradcheck_many_channels_strided():
    gradcheck(lambda x, w, b: F.conv2d(x, w, b, 2, 1), randn(1, 4, 5, 6), randn(2, 4, 3, 3), randn(2))


def test_pool_on_channels_last_memory_matches_torch():
    x = randn(2, 6, 6, 4).transpose(0, 3, 1, 2)  # NCHW view of NHWC memory, as conv2d returns
    for ours, theirs in [(nn.MaxPool2d(3, 2, 1), torch.nn.MaxPool2d(3, 2, 1)), (nn.AvgPool2d(2), torch.nn.AvgPool2d(2))]:
        _parity(ours, theirs, x)


def test_conv2d_gradcheck_no_bias_1x1():
    gradcheck(lambda x, w: F.conv2d(x, w), randn(2, 3, 4, 4), randn(2, 3, 1, 1))


@pytest.mark.parametrize("k,s,p", [(2, None, 0), (3, 2, 1), (2, 1, 0), ((2, 3), (1, 2), (1, 1))])
def test_pool_gradcheck(k, s, p):
    x = rs.permutation(2 * 3 * 7 * 6).reshape(2, 3, 7, 6) / 10.0  # distinct: no ties
    gradcheck(lambda x: F.max_pool2d(x, k, s, p), x)
    gradcheck(lambda x: F.avg_pool2d(x, k, s, p), randn(2, 3, 7, 6))


@pytest.mark.parametrize("shape", [(6, 3), (4, 3, 5), (3, 3, 4, 2)])
@pytest.mark.parametrize("training", [True, False])
def test_batch_norm_gradcheck(shape, training):
    rm, rv = randn(3) * 0.1, rs.random(3).astype(np.float32) + 0.5
    gradcheck(lambda x, w, b: F.batch_norm(x, rm.copy(), rv.copy(), w, b, training),
              randn(*shape), randn(3), randn(3))


def test_batch_norm_gradcheck_no_affine():
    gradcheck(lambda x: F.batch_norm(x, None, None, training=True), randn(5, 2, 3))


def test_dropout_gradcheck():
    def f(x):
        engine.manual_seed(1)  # the same mask on every call
        return F.dropout(x, 0.3)
    gradcheck(f, randn(4, 5))


def test_embedding_gradcheck():
    idx = np.array([[0, 2, 2], [3, 0, 1]])  # repeats must add up
    gradcheck(lambda w: F.embedding(idx, w), randn(4, 3))


@pytest.mark.parametrize("mod", [nn.ReLU(), nn.LeakyReLU(0.2), nn.Tanh(), nn.Sigmoid(), nn.GELU(),
                                 nn.Softmax(dim=1), nn.LogSoftmax(dim=0), nn.Identity(),
                                 nn.Flatten()])
def test_activation_module_gradcheck(mod):
    x = randn(3, 4, 2)
    x[np.abs(x) < 1e-3] = 0.5  # keep away from the kink of relu
    gradcheck(mod, x)


def test_small_model_gradcheck():
    """A whole model through the functional ops: conv, bn, pool, linear, loss together."""
    ws = [randn(2, 1, 3, 3), randn(2), randn(2), randn(2), randn(3, 8), randn(3)]

    def f(x, cw, cb, g, b, lw, lb):
        h = F.batch_norm(F.conv2d(x, cw, cb, padding=1), None, None, g, b, True)
        h = F.avg_pool2d(F.gelu(h), 2).reshape(x.shape[0], -1)
        return F.cross_entropy(F.linear(h, lw, lb), [0, 2, 1])
    gradcheck(f, randn(3, 1, 4, 4), *ws)


# -- parity with PyTorch layers ------------------------------------------------------------
def _copy_into_torch(ours, theirs):
    theirs.load_state_dict({k: torch.from_numpy(v.copy()) for k, v in ours.state_dict().items()})


def _parity(ours, theirs, x, tol=(1e-4, 1e-5), input_grad=True):
    _copy_into_torch(ours, theirs)
    xt = torch.tensor(x, requires_grad=input_grad)
    xo = Tensor(x.copy(order="K"), requires_grad=input_grad)  # keeps a channels-last layout
    out, ref = ours(xo), theirs(xt)
    np.testing.assert_allclose(out.data, ref.detach().numpy(), rtol=tol[0], atol=tol[1])
    g = randn(*out.shape)
    out.backward(g)
    ref.backward(torch.from_numpy(g))
    if input_grad:
        np.testing.assert_allclose(xo.grad, xt.grad.numpy(), rtol=tol[0], atol=tol[1])
    tp = dict(theirs.named_parameters())
    for name, p in ours.named_parameters():
        np.testing.assert_allclose(p.grad, tp[name].grad.numpy(), rtol=tol[0], atol=tol[1],
                                   err_msg=name)
    return out


LAYERS = [
    (lambda m: m.Linear(7, 5), (4, 7)),
    (lambda m: m.Linear(7, 5, bias=False), (2, 3, 7)),
    (lambda m: m.Conv2d(3, 4, 3), (2, 3, 8, 8)),
    (lambda m: m.Conv2d(3, 4, (3, 2), stride=2, padding=1), (2, 3, 9, 7)),
    (lambda m: m.Conv2d(2, 3, 5, stride=(2, 1), padding=(0, 2), bias=False), (1, 2, 11, 6)),
    (lambda m: m.Conv2d(5, 3, 3, stride=2, padding=1), (2, 5, 8, 7)),  # many channels: other gather
    (lambda m: m.MaxPool2d(2), (2, 3, 8, 8)),
    (lambda m: m.MaxPool2d(3, stride=2, padding=1), (2, 3, 9, 8)),
    (lambda m: m.AvgPool2d(2), (2, 3, 7, 7)),
    (lambda m: m.AvgPool2d(3, stride=1, padding=1), (2, 2, 5, 6)),
    (lambda m: m.Flatten(), (2, 3, 4, 5)),
    (lambda m: m.BatchNorm1d(6), (8, 6)),
    (lambda m: m.BatchNorm1d(3, affine=False), (4, 3, 5)),
    (lambda m: m.BatchNorm2d(3), (4, 3, 5, 5)),
    (lambda m: m.BatchNorm2d(3, bias=False, momentum=None), (4, 3, 2, 2)),
    (lambda m: m.ReLU(), (5, 6)),
    (lambda m: m.LeakyReLU(0.1), (5, 6)),
    (lambda m: m.Tanh(), (5, 6)),
    (lambda m: m.Sigmoid(), (5, 6)),
    (lambda m: m.GELU(approximate="tanh"), (5, 6)),
    (lambda m: m.Softmax(dim=1), (5, 6)),
    (lambda m: m.LogSoftmax(dim=-1), (5, 6)),
    (lambda m: m.Identity(), (5, 6)),
]


@pytest.mark.parametrize("make,shape", LAYERS, ids=[repr(m(nn)) + str(s) for m, s in LAYERS])
def test_layer_matches_torch(make, shape):
    ours, theirs = make(nn), make(torch.nn)
    assert list(ours.state_dict()) == list(theirs.state_dict())
    _parity(ours, theirs, randn(*shape))


def test_embedding_matches_torch():
    ours, theirs = nn.Embedding(6, 3), torch.nn.Embedding(6, 3)
    _copy_into_torch(ours, theirs)
    idx = np.array([[1, 5, 1], [0, 2, 2]])
    out, ref = ours(idx), theirs(torch.from_numpy(idx))
    np.testing.assert_allclose(out.data, ref.detach().numpy())
    g = randn(2, 3, 3)
    out.backward(g)
    ref.backward(torch.from_numpy(g))
    np.testing.assert_allclose(ours.weight.grad, theirs.weight.grad.numpy(), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("bn", [(1, (6, 4)), (2, (5, 4, 3, 3))])
def test_batch_norm_running_stats_match_torch(bn):
    d, shape = bn
    ours = getattr(nn, f"BatchNorm{d}d")(4, momentum=0.2)
    theirs = getattr(torch.nn, f"BatchNorm{d}d")(4, momentum=0.2)
    for _ in range(3):  # train steps update the running stats
        x = randn(*shape) * 3 + 1
        _parity(ours, theirs, x)
        ours.zero_grad(), theirs.zero_grad()
    for k, v in theirs.state_dict().items():
        np.testing.assert_allclose(ours.state_dict()[k], v.numpy(), rtol=1e-5, atol=1e-6, err_msg=k)
    assert int(ours.num_batches_tracked) == 3
    ours.eval(), theirs.eval()
    x = randn(*shape)
    np.testing.assert_allclose(ours(Tensor(x)).data, theirs(torch.from_numpy(x)).detach().numpy(),
                               rtol=1e-4, atol=1e-5)


def test_batch_norm_cumulative_average_when_momentum_none():
    ours, theirs = nn.BatchNorm1d(3, momentum=None), torch.nn.BatchNorm1d(3, momentum=None)
    for _ in range(3):
        x = randn(5, 3)
        ours(Tensor(x)), theirs(torch.from_numpy(x))
    np.testing.assert_allclose(ours.running_var, theirs.running_var.numpy(), rtol=1e-5)


def test_dropout():
    engine.manual_seed(0)
    d = nn.Dropout(0.25)
    x = Tensor(np.ones((200, 50), np.float32), requires_grad=True)
    y = d(x)
    kept = y.data != 0
    assert 0.7 < kept.mean() < 0.8
    np.testing.assert_allclose(y.data[kept], 1 / 0.75, rtol=1e-6)
    y.sum().backward()
    np.testing.assert_array_equal(x.grad, y.data)  # the gradient flows through kept values only
    d.eval()
    assert d(x) is x  # identity in eval mode
    assert (nn.Dropout(1.0)(x).data == 0).all()
    engine.manual_seed(0)
    np.testing.assert_array_equal(nn.Dropout(0.25)(x).data, y.data)  # deterministic by seed


def _mlp(m):
    return m.Sequential(m.Linear(784, 256), m.ReLU(), m.Linear(256, 128), m.ReLU(), m.Linear(128, 10))


def _cnn(m):
    return m.Sequential(m.Conv2d(1, 16, 3), m.ReLU(), m.MaxPool2d(2), m.Conv2d(16, 32, 3), m.ReLU(),
                        m.MaxPool2d(2), m.Flatten(), m.Linear(32 * 5 * 5, 128), m.ReLU(),
                        m.Linear(128, 10))


def _bn_net(m):
    return m.Sequential(collections.OrderedDict([
        ("features", m.Sequential(m.Conv2d(1, 4, 3, padding=1), m.BatchNorm2d(4), m.ReLU(),
                                  m.AvgPool2d(2), m.Dropout(0.0))),
        ("flat", m.Flatten()),
        ("head", m.Sequential(m.Linear(4 * 4 * 4, 8), m.BatchNorm1d(8), m.Tanh(), m.Linear(8, 3)))]))


@pytest.mark.parametrize("make,shape", [(_mlp, (16, 784)), (_cnn, (8, 1, 28, 28)), (_bn_net, (6, 1, 8, 8))])
def test_models_match_torch_through_training(make, shape):
    """Same weights -> same outputs and grads, and the same weights after a few SGD steps."""
    ours, theirs = make(nn), make(torch.nn)
    _copy_into_torch(ours, theirs)
    opt = torch.optim.SGD(theirs.parameters(), lr=0.05)
    for step in range(3):
        x, y = randn(*shape), rs.integers(0, 3, shape[0])
        loss = F.cross_entropy(ours(Tensor(x)), y)
        ref = torch.nn.functional.cross_entropy(theirs(torch.from_numpy(x)), torch.from_numpy(y))
        assert np.isclose(loss.item(), ref.item(), rtol=1e-4, atol=1e-5)
        ours.zero_grad(), opt.zero_grad()
        loss.backward(), ref.backward()
        for p in ours.parameters():
            p.data -= 0.05 * p.grad
        opt.step()
    for k, v in theirs.state_dict().items():
        np.testing.assert_allclose(ours.state_dict()[k], v.numpy(), rtol=1e-4, atol=2e-5, err_msg=k)


# -- state_dict -------------------------------------------------------------------------------
@pytest.mark.parametrize("make,shape", [(_mlp, (4, 784)), (_cnn, (4, 1, 28, 28)), (_bn_net, (4, 1, 8, 8))])
def test_state_dict_loads_into_torch_and_back(make, shape):
    ours, theirs = make(nn).eval(), make(torch.nn).eval()
    sd = ours.state_dict()
    assert list(sd) == list(theirs.state_dict())  # PyTorch's names, in PyTorch's order
    theirs.load_state_dict({k: torch.from_numpy(v) for k, v in sd.items()})  # strict
    x = randn(*shape)
    np.testing.assert_allclose(ours(Tensor(x)).data, theirs(torch.from_numpy(x)).detach().numpy(),
                               rtol=1e-4, atol=1e-5)
    fresh = make(nn).eval()
    fresh.load_state_dict(theirs.state_dict())  # torch tensors load too
    np.testing.assert_allclose(fresh(Tensor(x)).data, ours(Tensor(x)).data, rtol=1e-6)


def test_state_dict_is_a_copy_with_buffers():
    m = _bn_net(nn)
    sd = m.state_dict()
    assert "features.1.running_mean" in sd and sd["features.1.num_batches_tracked"].dtype == np.int64
    sd["head.0.weight"][:] = 0
    assert m.head[0].weight.data.any()


def test_load_state_dict_refuses_mismatches_and_changes_nothing():
    m = _cnn(nn)
    before = m.state_dict()
    bad = dict(before)
    bad["0.weight"] = np.zeros((16, 1, 5, 5), np.float32)  # wrong shape
    bad["7.weight"] = np.zeros((128, 801), np.float32)  # wrong shape, later key
    bad["0.bias"] = np.zeros(16, np.float32)  # a good one that must not be applied
    del bad["9.bias"]  # missing
    bad["extra.weight"] = np.zeros(3)  # unexpected
    with pytest.raises(RuntimeError) as e:
        m.load_state_dict(bad)
    msg = str(e.value)
    for part in ["0.weight", "(16, 1, 5, 5)", "(16, 1, 3, 3)", "7.weight", "(128, 801)", "9.bias",
                 "extra.weight", "nothing was changed"]:
        assert part in msg
    for k, v in m.state_dict().items():
        np.testing.assert_array_equal(v, before[k])


def test_load_state_dict_non_strict_reports_keys():
    m = nn.Linear(2, 3)
    res = m.load_state_dict({"weight": np.ones((3, 2)), "junk": np.ones(1)}, strict=False)
    assert res.missing_keys == ["bias"] and res.unexpected_keys == ["junk"]
    assert (m.weight.data == 1).all() and m.weight.dtype == np.float32
    with pytest.raises(RuntimeError, match="weight.*shape"):  # shapes are checked even so
        m.load_state_dict({"weight": np.ones((2, 3))}, strict=False)


# -- spec ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("make", [_mlp, _cnn, _bn_net])
def test_spec_round_trip(make):
    m = make(nn)
    spec = json.loads(json.dumps(m.spec()))
    again = nn.from_spec(spec)
    assert again.spec() == spec and repr(again) == repr(m)
    assert {k: v.shape for k, v in again.state_dict().items()} == \
           {k: v.shape for k, v in m.state_dict().items()}
    again.load_state_dict(m.state_dict())
    m.eval(), again.eval()
    x = randn(2, 784) if make is _mlp else randn(2, 1, 28, 28) if make is _cnn else randn(2, 1, 8, 8)
    np.testing.assert_array_equal(again(Tensor(x)).data, m(Tensor(x)).data)


def test_spec_of_every_layer_and_errors():
    for make, _ in LAYERS:
        m = make(nn)
        assert nn.from_spec(json.loads(json.dumps(m.spec()))).spec() == m.spec()
    for m in [nn.Embedding(5, 2), nn.Dropout(0.3), nn.CrossEntropyLoss(label_smoothing=0.1),
              nn.ModuleList([nn.Linear(1, 2), nn.Tanh()])]:
        assert nn.from_spec(json.loads(json.dumps(m.spec()))).spec() == m.spec()

    class Mine(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(2, 2)
    with pytest.raises(TypeError, match="Mine has no spec"):
        Mine().spec()
    with pytest.raises(ValueError, match="unknown module spec"):
        nn.from_spec({"type": "Nope"})


def test_custom_module_registered_for_spec():
    @nn.register
    class Scaled(nn.Module):
        def __init__(self, n, k=2.0):
            super().__init__()
            nn.record_args(self, n=n, k=k)
            self.fc, self.k = nn.Linear(n, n), k

        def forward(self, x):
            return self.fc(x) * self.k
    m = nn.from_spec(nn.Sequential(Scaled(3, k=0.5)).spec())
    assert m[0].k == 0.5 and m[0].fc.weight.shape == (3, 3)


# -- Module plumbing ------------------------------------------------------------------------
class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(nn.Conv2d(1, 2, 3), nn.ReLU(), nn.Dropout(0.5), nn.Conv2d(2, 2, 3))
        self.head = nn.Linear(8, 2)
        self.tied = self.head  # the same module twice: its parameters count once
        self.scale = nn.Parameter(np.ones(1, np.float32))

    def forward(self, x):
        return self.head(self.features(x).flatten(1)) * self.scale


def test_named_parameters_children_modules():
    net = Net()
    names = [n for n, _ in net.named_parameters()]
    assert names == ["scale", "features.0.weight", "features.0.bias", "features.3.weight",
                     "features.3.bias", "head.weight", "head.bias"]
    assert [n for n, _ in net.named_children()] == ["features", "head", "tied"]
    assert len(list(net.modules())) == 7  # net, features + its 4, head (tied is head)
    assert [id(m) for m in net.modules()] == [id(m) for _, m in net.named_modules()]
    assert [id(p) for p in net.parameters()] == [id(p) for _, p in net.named_parameters()]
    assert [n for n, _ in net.named_modules()] == ["", "features", "features.0", "features.1",
                                                   "features.2", "features.3", "head"]
    assert net.num_parameters() == 1 + 2 * 9 + 2 + 2 * 2 * 9 + 2 + 16 + 2
    assert list(net.state_dict())[:2] == ["scale", "features.0.weight"]
    assert "tied.weight" in net.state_dict()  # as PyTorch: both names saved


def test_train_eval_and_zero_grad():
    net = Net()
    assert net.training and net.features[2].training
    assert net.eval() is net and not net.features[2].training
    assert not any(m.training for m in net.modules())
    net.train()
    assert net.features[2].training
    out = net(Tensor(randn(2, 1, 6, 6)))
    out.sum().backward()
    assert all(p.grad is not None for p in net.parameters())
    net.zero_grad()
    assert all(p.grad is None for p in net.parameters())


def test_evaluating_restores_the_mode_from_before_even_on_error():
    net = Net()
    with net.evaluating() as m:
        assert m is net and not net.training and not net.features[2].training
    assert net.training and net.features[2].training
    net.eval()
    with net.evaluating():
        pass
    assert not net.training  # was in eval mode: stays there
    net.train()
    with pytest.raises(KeyError), net.evaluating():
        raise KeyError("boom")
    assert net.training and net.features[2].training


def test_setattr_reassignment_and_forgotten_super_init():
    m = nn.Linear(2, 2)
    m.bias = None
    assert [n for n, _ in m.named_parameters()] == ["weight"]
    m.weight = nn.Parameter(np.zeros((2, 2)))
    assert m.weight is list(m.parameters())[0]
    out = m(Tensor(randn(3, 2)))
    assert out.shape == (3, 2)

    class Bad(nn.Module):
        def __init__(self):
            self.fc = nn.Linear(1, 1)
    with pytest.raises(AttributeError, match="super"):
        Bad()


def test_sequential_indexing():
    s = _mlp(nn)
    assert len(s) == 5 and isinstance(s[0], nn.Linear) and isinstance(s[-1], nn.Linear)
    assert [type(m).__name__ for m in s] == ["Linear", "ReLU", "Linear", "ReLU", "Linear"]
    sub = s[:2]
    assert isinstance(sub, nn.Sequential) and sub[0] is s[0]
    assert sub(Tensor(randn(1, 784))).shape == (1, 256)


def test_repr_like_torch():
    for make in (_mlp, lambda m: m.Sequential(m.Conv2d(1, 16, 3), m.Tanh(), m.Conv2d(16, 2, 3, padding=1))):
        assert repr(make(nn)) == repr(make(torch.nn))
    assert repr(nn.BatchNorm2d(4)) == repr(torch.nn.BatchNorm2d(4))
    assert repr(nn.Dropout(0.2)) == repr(torch.nn.Dropout(0.2)).replace(", inplace=False", "")


def test_double_for_gradchecks_and_keeps_float32_by_default():
    m = _cnn(nn)
    assert all(p.dtype == np.float32 for p in m.parameters())
    out = m(Tensor(randn(2, 1, 28, 28)))
    assert out.dtype == np.float32
    m.double()
    assert all(p.dtype == np.float64 for p in m.parameters())
    assert m(Tensor(randn(2, 1, 28, 28).astype(np.float64))).dtype == np.float64


# -- init ------------------------------------------------------------------------------------
def test_default_init_bounds_like_torch():
    lin, conv = nn.Linear(400, 30), nn.Conv2d(4, 8, 5)
    for p, bound in [(lin.weight, 1 / 20), (lin.bias, 1 / 20), (conv.weight, 1 / 10), (conv.bias, 1 / 10)]:
        assert np.abs(p.data).max() <= bound
        assert p.size < 100 or np.abs(p.data).max() > 0.9 * bound  # fills the range
    engine.manual_seed(3)
    a = nn.Linear(5, 5).weight.data.copy()
    engine.manual_seed(3)
    np.testing.assert_array_equal(nn.Linear(5, 5).weight.data, a)


def test_init_functions():
    w = nn.Parameter(np.zeros((200, 300), np.float32))
    assert nn.init.kaiming_normal_(w, nonlinearity="relu") is w
    assert np.isclose(w.data.std(), np.sqrt(2 / 300), rtol=0.03)
    nn.init.kaiming_uniform_(w, mode="fan_out", nonlinearity="relu")
    assert np.abs(w.data).max() <= np.sqrt(6 / 200)
    nn.init.xavier_uniform_(w, gain=2.0)
    assert np.abs(w.data).max() <= 2 * np.sqrt(6 / 500)
    nn.init.xavier_normal_(w)
    assert np.isclose(w.data.std(), np.sqrt(2 / 500), rtol=0.03)
    nn.init.normal_(w, 1.0, 0.5)
    assert np.isclose(w.data.mean(), 1.0, atol=0.01) and w.dtype == np.float32
    nn.init.uniform_(w, -3, -2)
    assert w.data.min() >= -3 and w.data.max() <= -2
    nn.init.zeros_(w)
    assert not w.data.any()
    nn.init.ones_(w)
    assert (w.data == 1).all()
    with pytest.raises(ValueError, match="at least 2 dims"):
        nn.init.xavier_uniform_(nn.Parameter(np.zeros(3)))


# -- utils -----------------------------------------------------------------------------------
@pytest.mark.parametrize("max_norm,norm_type", [(0.5, 2.0), (100.0, 2.0), (0.1, float("inf"))])
def test_clip_grad_norm_matches_torch(max_norm, norm_type):
    ours, theirs = _mlp(nn), _mlp(torch.nn)
    _copy_into_torch(ours, theirs)
    x, y = randn(4, 784), rs.integers(0, 10, 4)
    F.cross_entropy(ours(Tensor(x)), y).backward()
    torch.nn.functional.cross_entropy(theirs(torch.from_numpy(x)), torch.from_numpy(y)).backward()
    total = nn.utils.clip_grad_norm_(ours.parameters(), max_norm, norm_type)
    ref = torch.nn.utils.clip_grad_norm_(theirs.parameters(), max_norm, norm_type)
    assert np.isclose(total, ref.item(), rtol=1e-4)
    for (n, p), q in zip(ours.named_parameters(), theirs.parameters()):
        np.testing.assert_allclose(p.grad, q.grad.numpy(), rtol=1e-4, atol=1e-6, err_msg=n)


# -- errors ------------------------------------------------------------------------------------
def test_clear_shape_errors():
    with pytest.raises(ValueError, match=r"\(3, 5\).*5 features.*\(2, 4\)"):
        nn.Linear(4, 2)(Tensor(randn(3, 5)))
    with pytest.raises(ValueError, match=r"\(2, 3, 8, 8\).*\(4, 1, 3, 3\)"):
        nn.Conv2d(1, 4, 3)(Tensor(randn(2, 3, 8, 8)))
    with pytest.raises(ValueError, match=r"too small"):
        nn.Conv2d(1, 4, 5)(Tensor(randn(2, 1, 3, 3)))
    with pytest.raises(ValueError, match=r"4-D.*\(2, 8\)"):
        nn.MaxPool2d(2)(Tensor(randn(2, 8)))
    with pytest.raises(ValueError, match=r"BatchNorm2d\(3\).*\(2, 4, 5, 5\)"):
        nn.BatchNorm2d(3)(Tensor(randn(2, 4, 5, 5)))
    with pytest.raises(ValueError, match="more than 1 value"):
        nn.BatchNorm1d(3)(Tensor(randn(1, 3)))
    with pytest.raises(IndexError, match=r"\[0, 4\)"):
        nn.Embedding(4, 2)(np.array([1, 4]))
    with pytest.raises(ValueError, match="'none' or 'tanh'"):
        nn.GELU(approximate="erf")(Tensor(randn(2)))
    with pytest.raises(ValueError, match="p must be"):
        nn.Dropout(1.5)


def test_clip_grad_norm_of_huge_gradients_is_finite_and_scales_in_place():
    p, q = nn.Parameter(np.zeros(3, np.float32)), nn.Parameter(np.zeros(2, np.float32))
    p.grad = np.array([3e20, 4e20, 0], np.float32)  # its squares overflow float32
    q.grad = np.broadcast_to(np.float32(1.0), (2,))  # read-only: gets a new array
    keep = p.grad
    total = nn.utils.clip_grad_norm_([p, q], 1.0)
    assert np.isclose(total, 5e20, rtol=1e-6)
    assert p.grad is keep and np.allclose(p.grad, [0.6, 0.8, 0], atol=1e-6)
    assert np.all(q.grad < 1e-20) and q.grad.flags.writeable
