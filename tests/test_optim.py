"""Optimisers and schedules against PyTorch: same start, same gradients, same path."""
import numpy as np
import pytest

from engine import Tensor, optim
from engine.optim.lr_scheduler import CosineAnnealingLR, LinearLR, LinearWarmup, StepLR

torch = pytest.importorskip("torch")

SHAPES = [(7, 5), (5,), (3, 4, 2)]
STEPS = 20


def _grads(seed, steps=STEPS):
    """A fixed gradient sequence; parameter 1 gets no gradient every third step."""
    rng = np.random.default_rng(seed)
    return [[None if (i == 1 and k % 3 == 2) else rng.standard_normal(s).astype(np.float32)
             for i, s in enumerate(SHAPES)] for k in range(steps)]


def _twins(seed=0):
    rng = np.random.default_rng(seed)
    init = [rng.standard_normal(s).astype(np.float32) for s in SHAPES]
    ours = [Tensor(a.copy(), requires_grad=True) for a in init]
    theirs = [torch.nn.Parameter(torch.from_numpy(a.copy())) for a in init]
    return ours, theirs


def _run(make_ours, make_theirs, grads, on_step=None):
    ours, theirs = _twins()
    a, b = make_ours(ours), make_theirs(theirs)
    arrays = [p.data for p in ours]
    for k, gs in enumerate(grads):
        if on_step:
            on_step(k, a, b)
        for p, q, g in zip(ours, theirs, gs):
            p.grad = None if g is None else g.copy()
            q.grad = None if g is None else torch.from_numpy(g.copy())
        a.step()
        b.step()
        for p, q in zip(ours, theirs):
            np.testing.assert_allclose(p.data, q.detach().numpy(), rtol=2e-5, atol=2e-6,
                                       err_msg=f"step {k}")
    assert all(p.data is arr for p, arr in zip(ours, arrays)), "updates must be in place"
    return a, b


SGD_CASES = [dict(lr=0.1), dict(lr=0.05, momentum=0.9), dict(lr=0.05, momentum=0.9, nesterov=True),
             dict(lr=0.1, weight_decay=0.01), dict(lr=0.05, momentum=0.8, dampening=0.3),
             dict(lr=0.05, momentum=0.9, nesterov=True, weight_decay=0.05)]


@pytest.mark.parametrize("kw", SGD_CASES, ids=lambda kw: ",".join(f"{k}={v}" for k, v in kw.items()))
def test_sgd_matches_torch(kw):
    a, b = _run(lambda ps: optim.SGD(ps, **kw), lambda ps: torch.optim.SGD(ps, **kw), _grads(1))
    if kw.get("momentum"):
        for i in range(len(SHAPES)):
            np.testing.assert_allclose(a.state_dict()["state"][i]["momentum_buffer"],
                                       b.state_dict()["state"][i]["momentum_buffer"], rtol=1e-5, atol=1e-6)


ADAM_CASES = [(optim.Adam, torch.optim.Adam, dict()),
              (optim.Adam, torch.optim.Adam, dict(lr=0.01, betas=(0.8, 0.99), eps=1e-6, weight_decay=0.1)),
              (optim.AdamW, torch.optim.AdamW, dict(lr=0.01)),
              (optim.AdamW, torch.optim.AdamW, dict(lr=0.02, betas=(0.5, 0.9), weight_decay=0.3))]


@pytest.mark.parametrize("ours,theirs,kw", ADAM_CASES,
                         ids=lambda x: x.__name__ if isinstance(x, type) else str(x))
def test_adam_family_matches_torch(ours, theirs, kw):
    a, b = _run(lambda ps: ours(ps, **kw), lambda ps: theirs(ps, **kw), _grads(2))
    sa, sb = a.state_dict()["state"], b.state_dict()["state"]
    for i in range(len(SHAPES)):  # PyTorch's state names and meaning
        assert sa[i]["step"] == int(sb[i]["step"])
        for k in ("exp_avg", "exp_avg_sq"):
            np.testing.assert_allclose(sa[i][k], sb[i][k].numpy(), rtol=1e-5, atol=1e-7)


def test_adam_defaults_match_torch():
    a, b = optim.AdamW([Tensor(np.zeros(2))], lr=1e-3), torch.optim.AdamW([torch.zeros(2)])
    assert (a.lr, a.betas, a.eps, a.weight_decay) == tuple(
        b.defaults[k] for k in ("lr", "betas", "eps", "weight_decay"))
    assert optim.Adam([Tensor(np.zeros(2))]).weight_decay == 0


@pytest.mark.parametrize("how", ["attribute", "param_groups"])
def test_lr_change_mid_run_applies(how):
    def change(k, a, b):
        if k == 10:
            if how == "attribute":
                a.lr = 0.003
            else:
                for g in a.param_groups:
                    g["lr"] = 0.003
            b.param_groups[0]["lr"] = 0.003
    for ours, theirs, kw in [(optim.SGD, torch.optim.SGD, dict(momentum=0.9)),
                             (optim.Adam, torch.optim.Adam, {})]:
        a, _ = _run(lambda ps: ours(ps, lr=0.05, **kw), lambda ps: theirs(ps, lr=0.05, **kw),
                    _grads(3), on_step=change)
        assert a.lr == 0.003


def test_changed_lr_is_not_ignored():
    p = Tensor(np.ones(3, np.float32), requires_grad=True)
    opt = optim.SGD([p], lr=0.1)
    p.grad = np.ones(3, np.float32)
    opt.step()
    opt.lr = 0.0
    opt.step()
    np.testing.assert_allclose(p.data, 0.9)


def test_grad_not_modified_and_none_skipped():
    p, q = Tensor(np.ones(4, np.float32), requires_grad=True), Tensor(np.ones(2, np.float32), requires_grad=True)
    g = np.broadcast_to(np.float32(0.5), (4,))  # read-only, as autograd may hand out
    p.grad = g
    for opt in (optim.SGD([p, q], lr=0.1, momentum=0.9, weight_decay=0.1), optim.AdamW([p, q])):
        opt.step()
        assert p.grad is g and np.all(g == 0.5)
        np.testing.assert_array_equal(q.data, 1.0)
        assert 1 not in opt.state


def test_zero_grad():
    p = Tensor(np.ones(2, np.float32), requires_grad=True)
    p.grad = np.ones(2, np.float32)
    opt = optim.SGD([p], lr=0.1)
    opt.zero_grad(set_to_none=False)
    np.testing.assert_array_equal(p.grad, 0)
    opt.zero_grad()
    assert p.grad is None


def test_trains_with_autograd():
    """A least-squares fit through the engine's own autograd."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal((64, 3)).astype(np.float32)
    y = x @ np.array([[1.0], [-2.0], [0.5]], np.float32) + 0.3
    w, b = Tensor(np.zeros((3, 1), np.float32), requires_grad=True), Tensor(np.zeros(1, np.float32), requires_grad=True)
    opt = optim.Adam([w, b], lr=0.05)
    for _ in range(400):
        opt.zero_grad()
        loss = ((Tensor(x) @ w + b - y) ** 2).mean()
        loss.backward()
        opt.step()
    assert loss.item() < 1e-4


def test_state_dict_round_trip_continues_identically():
    grads = _grads(4)
    for make in (lambda ps: optim.Adam(ps, lr=0.01, weight_decay=0.1),
                 lambda ps: optim.SGD(ps, lr=0.05, momentum=0.9, nesterov=True)):
        ours, _ = _twins()
        a = make(ours)
        for gs in grads[:8]:
            for p, g in zip(ours, gs):
                p.grad = g
            a.step()
        sd = a.state_dict()
        clone = [Tensor(p.data.copy(), requires_grad=True) for p in ours]
        b = make(clone)
        b.lr = 123.0
        b.load_state_dict(sd)
        assert b.lr == a.lr
        for gs in grads[8:]:
            for p, q, g in zip(ours, clone, gs):
                p.grad = q.grad = g
            a.step()
            b.step()
        for p, q in zip(ours, clone):
            np.testing.assert_array_equal(p.data, q.data)


def test_state_dict_is_a_copy_and_bad_ones_change_nothing():
    ours, _ = _twins()
    opt = optim.SGD(ours, lr=0.1, momentum=0.9)
    for p in ours:
        p.grad = np.ones(p.shape, np.float32)
    opt.step()
    sd = opt.state_dict()
    opt.step()
    assert not np.array_equal(sd["state"][0]["momentum_buffer"], opt.state[0]["momentum_buffer"])
    before = opt.state_dict()
    bad = opt.state_dict()
    bad["state"][0]["momentum_buffer"] = np.zeros((2, 2), np.float32)
    bad["param_groups"][0]["lr"] = 9.0
    with pytest.raises(ValueError, match=r"shape \(2, 2\).*\(7, 5\)"):
        opt.load_state_dict(bad)
    with pytest.raises(ValueError, match="for 1 parameters, this optimizer has 3"):
        opt.load_state_dict({"state": {}, "param_groups": [{**before["param_groups"][0], "params": [0]}]})
    with pytest.raises(ValueError, match="lacks hyperparameters"):
        opt.load_state_dict(optim.Adam(ours).state_dict())
    assert opt.lr == 0.1
    np.testing.assert_array_equal(opt.state[0]["momentum_buffer"], before["state"][0]["momentum_buffer"])


def test_bad_arguments_are_explained():
    ps = [Tensor(np.zeros(2), requires_grad=True)]
    with pytest.raises(ValueError, match="empty parameter list"):
        optim.SGD([], lr=0.1)
    with pytest.raises(ValueError, match="Nesterov"):
        optim.SGD(ps, lr=0.1, nesterov=True)
    with pytest.raises(ValueError, match="betas"):
        optim.Adam(ps, betas=(0.9, 1.0))
    with pytest.raises(ValueError, match="learning rate"):
        optim.Adam(ps, lr=-1)
    with pytest.raises(TypeError, match="not an engine Tensor"):
        optim.SGD([np.zeros(2)], lr=0.1)
    with pytest.raises(ValueError, match="more than once"):
        optim.Adam(ps + ps)
    with pytest.raises(TypeError, match="as a list"):
        optim.SGD(ps[0], lr=0.1)  # one Tensor, not a list of them


# -- schedules ---------------------------------------------------------------------------
SCHEDULES = [
    (StepLR, torch.optim.lr_scheduler.StepLR, dict(step_size=3, gamma=0.5)),
    (StepLR, torch.optim.lr_scheduler.StepLR, dict(step_size=1)),
    (CosineAnnealingLR, torch.optim.lr_scheduler.CosineAnnealingLR, dict(T_max=10)),
    (CosineAnnealingLR, torch.optim.lr_scheduler.CosineAnnealingLR, dict(T_max=7, eta_min=0.01)),
    (LinearLR, torch.optim.lr_scheduler.LinearLR, dict()),
    (LinearLR, torch.optim.lr_scheduler.LinearLR, dict(start_factor=0.1, end_factor=0.5, total_iters=8)),
]


@pytest.mark.parametrize("ours,theirs,kw", SCHEDULES,
                         ids=lambda x: x.__name__ if isinstance(x, type) else str(x))
def test_schedule_matches_torch(ours, theirs, kw):
    p = Tensor(np.zeros(2, np.float32), requires_grad=True)
    q = torch.nn.Parameter(torch.zeros(2))
    a_opt, b_opt = optim.SGD([p], lr=0.1, momentum=0.9), torch.optim.SGD([q], lr=0.1, momentum=0.9)
    a, b = ours(a_opt, **kw), theirs(b_opt, **kw)
    for epoch in range(3 * STEPS // 2):  # past T_max: cosine turns back up, as in PyTorch
        assert a.get_last_lr() == pytest.approx(b.get_last_lr(), rel=1e-9, abs=1e-12), f"epoch {epoch}"
        assert a_opt.lr == pytest.approx(b_opt.param_groups[0]["lr"], rel=1e-9, abs=1e-12)
        a_opt.step()
        b_opt.step()
        a.step()
        b.step()


def test_schedule_drives_the_update():
    p = Tensor(np.zeros(1, np.float32), requires_grad=True)
    opt = optim.SGD([p], lr=1.0)
    sched = StepLR(opt, step_size=2, gamma=0.1)
    for _ in range(4):
        p.grad = np.ones(1, np.float32)
        opt.step()
        sched.step()
    np.testing.assert_allclose(p.data, -(1 + 1 + 0.1 + 0.1), rtol=1e-6)


def test_linear_warmup():
    opt = optim.SGD([Tensor(np.zeros(1), requires_grad=True)], lr=0.4)
    sched = LinearWarmup(opt, warmup_steps=4)
    lrs = []
    for _ in range(6):
        lrs.append(sched.get_last_lr()[0])
        sched.step()
    assert lrs == pytest.approx([0.1, 0.2, 0.3, 0.4, 0.4, 0.4])
    one = LinearWarmup(optim.SGD([Tensor(np.zeros(1), requires_grad=True)], lr=0.4), 1)
    assert one.get_last_lr() == [0.4]


def test_scheduler_state_dict():
    opt = optim.SGD([Tensor(np.zeros(1), requires_grad=True)], lr=1.0)
    a = CosineAnnealingLR(opt, T_max=10)
    for _ in range(4):
        a.step()
    sd = a.state_dict()
    b = CosineAnnealingLR(optim.SGD([Tensor(np.zeros(1), requires_grad=True)], lr=1.0), T_max=10)
    b.load_state_dict(sd)
    a.step()
    b.step()
    assert a.get_last_lr() == b.get_last_lr()


def test_optimises_a_module_from_its_parameters_generator():
    from engine import nn
    net = nn.Sequential(nn.Linear(3, 8), nn.Tanh(), nn.Linear(8, 1))
    x = Tensor(np.random.default_rng(0).standard_normal((32, 3)).astype(np.float32))
    y = Tensor(x.data.sum(axis=1, keepdims=True))
    opt = optim.AdamW(net.parameters(), lr=0.02)
    losses = []
    for _ in range(150):
        opt.zero_grad()
        loss = ((net(x) - y) ** 2).mean()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < 0.05 * losses[0]
    assert len(opt.state_dict()["state"]) == len(list(net.parameters())) == 4
