"""Parameter groups, PyTorch-style: per-group hyperparameters follow torch's path, state_dict
round trips with several groups, bad groups and bad state_dicts are refused clearly."""
import numpy as np
import pytest

from engine import Tensor, optim
from engine.optim.lr_scheduler import CosineAnnealingLR, StepLR

torch = pytest.importorskip("torch")

SHAPES = [(6, 4), (4,), (3, 5), (5,)]  # groups: [0, 1] and [2, 3]


def _twins(seed=0):
    rng = np.random.default_rng(seed)
    init = [rng.standard_normal(s).astype(np.float32) for s in SHAPES]
    return ([Tensor(a.copy(), requires_grad=True) for a in init],
            [torch.nn.Parameter(torch.from_numpy(a.copy())) for a in init])


def _groups(ps, a, b):
    return [{"params": ps[:2], **a}, {"params": ps[2:], **b}]


def _grads(seed, steps):
    rng = np.random.default_rng(seed)
    return [[rng.standard_normal(s).astype(np.float32) for s in SHAPES] for _ in range(steps)]


def _feed(ps, gs, torch_too=False):
    for p, g in zip(ps, gs):
        p.grad = torch.from_numpy(g.copy()) if torch_too else g.copy()


def _step_both(mine, twin, opt, ref, gs):
    """One step of ours and of torch's on the same gradients gs."""
    _feed(mine, gs)
    _feed(twin, gs, torch_too=True)
    opt.step()
    ref.step()


def _assert_same(mine, twin, **kw):
    for p, q in zip(mine, twin):
        np.testing.assert_allclose(p.data, q.detach().numpy(), rtol=2e-5, atol=2e-6, **kw)


CASES = [  # (ours, theirs, defaults, group 0, group 1)
    (optim.SGD, torch.optim.SGD, {"lr": 0.1, "momentum": 0.9}, {"weight_decay": 0.05}, {"lr": 0.02}),
    (optim.SGD, torch.optim.SGD, {"lr": 0.05}, {"momentum": 0.8, "nesterov": True}, {"dampening": 0.5, "momentum": 0.5}),
    (optim.Adam, torch.optim.Adam, {"lr": 0.01}, {"weight_decay": 0.1}, {"lr": 0.03, "betas": (0.8, 0.95)}),
    (optim.AdamW, torch.optim.AdamW, {"lr": 0.01, "betas": (0.9, 0.99)}, {"weight_decay": 0.1}, {"weight_decay": 0.0, "eps": 1e-6}),
]


@pytest.mark.parametrize("ours,theirs,kw,a,b", CASES, ids=lambda x: x.__name__ if isinstance(x, type) else None)
def test_two_groups_follow_torch(ours, theirs, kw, a, b):
    mine, twin = _twins()
    opt, ref = ours(_groups(mine, a, b), **kw), theirs(_groups(twin, a, b), **kw)
    for k, gs in enumerate(_grads(1, 12)):
        _step_both(mine, twin, opt, ref, gs)
        _assert_same(mine, twin, err_msg=f"step {k}")
    for g, h, mine_set in zip(opt.param_groups, ref.param_groups, (a, b)):  # same values, same layout
        assert {k: g[k] for k in opt.defaults} == {k: h[k] for k in opt.defaults}
        assert {**kw, **mine_set}.items() <= g.items()
    assert [len(g["params"]) for g in opt.state_dict()["param_groups"]] == [2, 2]
    assert ([g["params"] for g in opt.state_dict()["param_groups"]]
            == [g["params"] for g in ref.state_dict()["param_groups"]] == [[0, 1], [2, 3]])


def test_groups_take_the_defaults_they_leave_out_and_differ_where_set():
    ps, _ = _twins()
    opt = optim.AdamW(_groups(ps, {"weight_decay": 0.1}, {"weight_decay": 0.0, "lr": 0.5}), lr=0.01)
    g0, g1 = opt.param_groups
    assert type(g0) is dict and g0["params"] == ps[:2] and g1["params"] == ps[2:]
    assert (g0["lr"], g0["weight_decay"], g1["lr"], g1["weight_decay"]) == (0.01, 0.1, 0.5, 0.0)
    assert g0["betas"] == g1["betas"] == (0.9, 0.999) and opt.defaults["weight_decay"] == 1e-2
    assert opt.params == ps
    assert opt.lr == 0.01  # group 0's
    opt.lr = 0.2  # every group, as a schedule wants
    assert [g["lr"] for g in opt.param_groups] == [0.2, 0.2]
    opt.param_groups[1]["lr"] = 0.3  # one group
    assert opt.lr == 0.2 and opt.param_groups[1]["lr"] == 0.3
    assert "group 1: 2 parameters, lr=0.3" in repr(opt)


def test_opt_lr_setter_moves_both_groups_like_torch():
    """`opt.lr = x` on ours, every group's "lr" on torch's: the same path."""
    mine, twin = _twins()
    opt = optim.AdamW(_groups(mine, {"weight_decay": 0.1}, {"weight_decay": 0.0}), lr=0.01)
    ref = torch.optim.AdamW(_groups(twin, {"weight_decay": 0.1}, {"weight_decay": 0.0}), lr=0.01)
    for k, gs in enumerate(_grads(2, 8)):
        opt.lr = 0.01 / (k + 1)
        for g in ref.param_groups:
            g["lr"] = 0.01 / (k + 1)
        _step_both(mine, twin, opt, ref, gs)
    _assert_same(mine, twin)


@pytest.mark.parametrize("sched,theirs,kw", [(StepLR, torch.optim.lr_scheduler.StepLR, {"step_size": 2, "gamma": 0.5}),
                                             (CosineAnnealingLR, torch.optim.lr_scheduler.CosineAnnealingLR, {"T_max": 5})])
def test_lr_scheduler_drives_every_group(sched, theirs, kw):
    mine, twin = _twins()
    opt = optim.SGD(_groups(mine, {}, {"momentum": 0.9, "lr": 0.03}), lr=0.1)
    ref = torch.optim.SGD(_groups(twin, {}, {"momentum": 0.9, "lr": 0.03}), lr=0.1)
    a, b = sched(opt, **kw), theirs(ref, **kw)
    assert a.base_lrs == [0.1, 0.03]
    for _ in range(7):  # each group from its own starting lr, as in torch
        assert a.get_last_lr() == pytest.approx(b.get_last_lr(), rel=1e-12)
        assert [g["lr"] for g in opt.param_groups] == pytest.approx([g["lr"] for g in ref.param_groups])
        opt.step()
        ref.step()
        a.step()
        b.step()


def test_add_param_group():
    ps, _ = _twins()
    opt = optim.SGD(ps[:2], lr=0.1)
    opt.add_param_group({"params": ps[2], "lr": 0.0})  # one Tensor is a group of one, as in torch
    opt.add_param_group({"params": [ps[3]]})
    assert [g["lr"] for g in opt.param_groups] == [0.1, 0.0, 0.1] and opt.params == ps
    before = [p.data.copy() for p in ps]
    _feed(ps, [np.ones(s, np.float32) for s in SHAPES])
    opt.step()
    np.testing.assert_array_equal(ps[2].data, before[2])  # lr 0: unchanged
    np.testing.assert_allclose(ps[3].data, before[3] - 0.1)


def test_bad_groups_are_explained():
    ps, _ = _twins()
    with pytest.raises(ValueError, match="group 1 has no parameters"):
        optim.SGD([{"params": ps}, {"params": []}], lr=0.1)
    with pytest.raises(ValueError, match="group 1: a parameter appears more than once"):
        optim.SGD([{"params": ps[:2]}, {"params": ps[1:]}], lr=0.1)
    with pytest.raises(ValueError, match=r"unknown hyperparameter\(s\) \['weight_deacy'\]"):
        optim.AdamW([{"params": ps, "weight_deacy": 0.1}])
    with pytest.raises(TypeError, match="parameter 1 of group 0 is a ndarray"):
        optim.Adam([{"params": [ps[0], np.zeros(3)]}])
    with pytest.raises(TypeError, match="group 1 must be a dict"):
        optim.Adam([{"params": ps[:2]}, ps[2]])
    with pytest.raises(TypeError, match="parameter 1 is a dict"):
        optim.Adam([ps[0], {"params": ps[1:]}])
    with pytest.raises(TypeError, match="a set"):
        optim.Adam([{"params": set(ps)}])
    with pytest.raises(ValueError, match="group 1: invalid learning rate -1"):
        optim.SGD([{"params": ps[:2]}, {"params": ps[2:], "lr": -1}], lr=0.1)
    with pytest.raises(ValueError, match="group 0: Nesterov"):
        optim.SGD([{"params": ps, "nesterov": True}], lr=0.1, momentum=0.9, dampening=0.1)
    opt = optim.SGD(ps[:2], lr=0.1)
    with pytest.raises(ValueError, match="more than once"):
        opt.add_param_group({"params": ps[1:]})
    assert len(opt.param_groups) == 1 and opt.params == ps[:2]  # the refused group left no trace
    with pytest.raises(AttributeError, match="no attribute 'betas'"):
        opt.betas  # noqa: B018


def _stepped(make, steps=5):
    ps, _ = _twins()
    opt = make(ps)
    for gs in _grads(3, steps):
        _feed(ps, gs)
        opt.step()
    return ps, opt


MAKERS = [lambda ps: optim.AdamW(_groups(ps, {"weight_decay": 0.1}, {"lr": 0.03, "betas": (0.8, 0.9)}), lr=0.01),
          lambda ps: optim.SGD(_groups(ps, {"momentum": 0.9}, {"lr": 0.01, "weight_decay": 0.1}), lr=0.05)]


@pytest.mark.parametrize("make", MAKERS, ids=["AdamW", "SGD"])
def test_state_dict_round_trip_with_two_groups(make):
    ps, a = _stepped(make)
    sd = a.state_dict()
    assert sorted(sd["state"]) == [0, 1, 2, 3]
    clone = [Tensor(p.data.copy(), requires_grad=True) for p in ps]
    b = make(clone)
    b.lr = 9.0
    held = list(b.param_groups)
    b.load_state_dict(sd)
    assert [g["lr"] for g in b.param_groups] == [g["lr"] for g in a.param_groups]
    assert all(g is h for g, h in zip(b.param_groups, held))  # updated in place
    assert [g["params"] for g in b.param_groups] == [clone[:2], clone[2:]]
    for gs in _grads(4, 6):
        _feed(ps, gs)
        _feed(clone, gs)
        a.step()
        b.step()
    for p, q in zip(ps, clone):
        np.testing.assert_array_equal(p.data, q.data)


def test_adam_state_dict_is_torchs_with_each_groups_betas():
    mine, twin = _twins()
    a, b = {"weight_decay": 0.1}, {"betas": (0.5, 0.9)}
    opt, ref = optim.AdamW(_groups(mine, a, b), lr=0.01), torch.optim.AdamW(_groups(twin, a, b), lr=0.01)
    for gs in _grads(5, 4):
        _step_both(mine, twin, opt, ref, gs)
    ours, theirs = opt.state_dict()["state"], ref.state_dict()["state"]
    for i in range(4):
        for k in ("exp_avg", "exp_avg_sq"):
            np.testing.assert_allclose(ours[i][k], theirs[i][k].numpy(), rtol=1e-5, atol=1e-7)


def test_load_refuses_a_mismatched_state_dict_and_changes_nothing():
    make = MAKERS[0]
    ps, opt = _stepped(make)
    before = opt.state_dict()
    good = opt.state_dict()

    def bad(change):
        sd = opt.state_dict()
        change(sd)
        return sd

    one_group = _stepped(lambda ps: optim.AdamW(ps, lr=0.01))[1].state_dict()
    three = {"state": {}, "param_groups": [{**good["param_groups"][0], "params": [0]},
                                           {**good["param_groups"][1], "params": [1, 2, 3]}]}

    def lacks_eps(sd):
        del sd["param_groups"][1]["eps"]

    def wrong_shape(sd):
        sd["state"][3]["exp_avg"] = np.zeros((2, 2), np.float32)
        sd["param_groups"][0]["lr"] = 7.0  # would change were the check after it

    def stray_state(sd):
        sd["state"][9] = {}

    def bad_lr(sd):
        sd["param_groups"][1]["lr"] = -1.0

    def damaged(sd):
        del sd["state"][2]["exp_avg_sq"]

    cases = [(one_group, "1 parameter groups, this optimizer has 2"),
             (three, "group 0: state_dict is for 1 parameters, this optimizer has 2"),
             (bad(lacks_eps), r"group 1: state_dict lacks hyperparameters \['eps'\]"),
             (bad(wrong_shape), r"'exp_avg' of parameter 3 has shape \(2, 2\), the parameter has \(5,\)"),
             (bad(stray_state), "parameter 9, which no group lists"),
             (bad(bad_lr), "group 1 of the state_dict: invalid learning rate"),
             (bad(damaged), "damaged state for parameter 2"),
             ({"state": {}}, "not an optimizer state_dict"),
             (optim.SGD(ps, lr=0.1).state_dict(), "1 parameter groups")]
    for sd, msg in cases:
        with pytest.raises(ValueError, match=msg):
            opt.load_state_dict(sd)
    after = opt.state_dict()
    assert [{k: v for k, v in g.items()} for g in after["param_groups"]] == before["param_groups"]
    for i, s in before["state"].items():
        for k, v in s.items():
            np.testing.assert_array_equal(after["state"][i][k], v)


def test_loads_torchs_own_state_dict():
    """torch's layout, torch's extra group keys (foreach, amsgrad, ...) ignored."""
    mine, twin = _twins()
    a, b = {"weight_decay": 0.1}, {"weight_decay": 0.0, "lr": 0.02}
    ref = torch.optim.AdamW(_groups(twin, a, b), lr=0.01, betas=(0.9, 0.95))
    for gs in _grads(6, 5):
        _feed(twin, gs, torch_too=True)
        ref.step()
    sd = ref.state_dict()
    sd = {"state": {i: {k: (v.numpy() if k != "step" else int(v)) for k, v in s.items()}
                    for i, s in sd["state"].items()},
          "param_groups": sd["param_groups"]}
    for p, q in zip(mine, twin):
        p.data[...] = q.detach().numpy()
    opt = optim.AdamW(_groups(mine, {}, {}))
    opt.load_state_dict(sd)
    assert [g["lr"] for g in opt.param_groups] == [0.01, 0.02] and opt.betas == (0.9, 0.95)
    for gs in _grads(7, 4):
        _step_both(mine, twin, opt, ref, gs)
    _assert_same(mine, twin)
