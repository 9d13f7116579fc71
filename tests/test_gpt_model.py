"""The GPT of playground/apps/gpt: shapes, causality, tied weights, gradients, optimiser
groups, the schedule, save/load, sampling, a short training run, PyTorch parity."""
import io as bytes_io
import math

import numpy as np
import pytest

import engine
from engine import io
from playground.apps.gpt.model import GPT, PRESETS, GPTConfig
from playground.apps.gpt.train import Run, get_batch, get_lr, recipe

TINY = GPTConfig(block_size=8, vocab_size=11, n_layer=2, n_head=2, n_embd=16)
TEXT = ("First Citizen:\nBefore we proceed any further, hear me speak.\n\nAll:\nSpeak, speak.\n"
        * 40)


def tiny(seed=0, **kw):
    engine.manual_seed(seed)
    return GPT(GPTConfig(**{**vars(TINY), **kw}))


def ids(b, t, v=11, seed=1):
    return np.random.default_rng(seed).integers(0, v, (b, t))


def tiny_run(**kw):
    return Run("nano", seed=0, data=(TEXT[:3000], TEXT[3000:]), n_layer=1, n_embd=32,
               block_size=16, batch_size=8, **kw)


def test_shapes_loss_and_parameter_counts():
    m = tiny()
    x = ids(3, 8)
    logits, loss = m(x)
    assert logits.shape == (3, 8, 11) and loss is None
    _, loss = m(x, ids(3, 8, seed=2))
    assert loss.shape == () and abs(loss.item() - math.log(11)) < 0.2  # small init: ~uniform
    with pytest.raises(ValueError, match="block_size"):
        m(ids(1, 9))
    nano = GPT(GPTConfig(**{k: PRESETS["nano"][k] for k in ("n_layer", "n_head", "n_embd")}))
    baby = GPT(GPTConfig())
    print("parameters: nano", nano.num_parameters(), "baby", baby.num_parameters())
    assert 0.1e6 < nano.num_parameters() < 0.25e6
    assert 0.75e6 < baby.num_parameters() < 0.85e6


def test_causal_a_future_token_does_not_change_earlier_logits():
    m = tiny()
    x = ids(2, 8)
    y = x.copy()
    y[:, 5] = (y[:, 5] + 1) % 11
    a, b = m(x)[0].data, m(y)[0].data
    np.testing.assert_array_equal(a[:, :5], b[:, :5])
    assert np.abs(a[:, 5:] - b[:, 5:]).max() > 1e-4


def test_tied_weight_is_one_parameter_and_gets_both_gradients():
    m = tiny()
    assert m.lm_head.weight is m.wte.weight
    names = [n for n, _ in m.named_parameters()]
    assert "wte.weight" in names and "lm_head.weight" not in names
    sd = m.state_dict()
    np.testing.assert_array_equal(sd["wte.weight"], sd["lm_head.weight"])
    x, y = ids(2, 8), ids(2, 8, seed=3)
    m(x, y)[1].backward()
    # the same weights untied: the tied gradient is the sum of the two uses' gradients
    u = tiny()
    u.lm_head.weight = engine.nn.Parameter(u.wte.weight.data.copy())
    u(x, y)[1].backward()
    both = u.wte.weight.grad + u.lm_head.weight.grad
    np.testing.assert_allclose(m.wte.weight.grad, both, rtol=1e-5, atol=1e-7)
    assert np.abs(u.wte.weight.grad).max() > 0 and np.abs(u.lm_head.weight.grad).max() > 0


def test_gradients_match_finite_differences_in_float64():
    m = tiny(n_layer=1, n_embd=8, block_size=4).double()
    x, y = ids(2, 4), ids(2, 4, seed=4)
    _, loss = m(x, y)
    loss.backward()
    rng = np.random.default_rng(0)
    for name, p in m.named_parameters():
        for _ in range(3):
            i = tuple(rng.integers(0, s) for s in p.shape)
            old = p.data[i]
            p.data[i] = old + 1e-6
            up = m(x, y)[1].item()
            p.data[i] = old - 1e-6
            down = m(x, y)[1].item()
            p.data[i] = old
            num = (up - down) / 2e-6
            assert abs(num - p.grad[i]) < 1e-6 + 1e-4 * abs(num), name


def test_optimizer_decays_only_matrices():
    m = tiny()
    opt = m.configure_optimizers(0.1, 1e-3, (0.9, 0.99))
    assert isinstance(opt, engine.optim.AdamW)  # one optimiser, two groups, as nanoGPT's
    decay, rest = opt.param_groups
    assert decay["weight_decay"] == 0.1 and rest["weight_decay"] == 0.0
    assert decay["betas"] == rest["betas"] == (0.9, 0.99)
    assert all(p.ndim >= 2 for p in decay["params"]) and all(p.ndim < 2 for p in rest["params"])
    assert len(decay["params"]) == 2 + 4 * TINY.n_layer  # wte (= lm_head), wpe; 4 Linears a block
    assert len(rest["params"]) == 2 * TINY.n_layer + 1  # the LayerNorm gains (no biases)
    assert sum(p is m.wte.weight for p in opt.params) == 1  # tied: counted once
    assert len(opt.params) == len(list(m.parameters()))
    opt.lr = 5e-4
    assert [g["lr"] for g in opt.param_groups] == [5e-4, 5e-4]


def test_lr_schedule_warms_up_then_decays_to_min_lr():
    cfg = recipe("baby")
    assert get_lr(0, cfg) == pytest.approx(1e-3 / 101)
    assert get_lr(50, cfg) == pytest.approx(1e-3 * 51 / 101)
    assert get_lr(100, cfg) == pytest.approx(1e-3)
    assert get_lr(1050, cfg) == pytest.approx((1e-3 + 1e-4) / 2)
    assert get_lr(2000, cfg) == pytest.approx(1e-4) and get_lr(5000, cfg) == pytest.approx(1e-4)
    with pytest.raises(ValueError, match="unknown setting"):
        recipe("baby", learning_rate=1)


def test_get_batch_targets_are_inputs_shifted():
    data = np.arange(100)
    x, y = get_batch(data, 8, 5, np.random.default_rng(0))
    assert x.shape == y.shape == (5, 8)
    np.testing.assert_array_equal(y, x + 1)
    with pytest.raises(ValueError, match="too short"):
        get_batch(data[:8], 8, 5, np.random.default_rng(0))


def test_sampling_is_seeded_and_top_k_1_is_argmax():
    m = tiny()
    p = np.array([1, 2, 3])
    a = m.generate(p, 20, rng=np.random.default_rng(5))
    b = m.generate(p, 20, rng=np.random.default_rng(5))
    np.testing.assert_array_equal(a, b)
    assert len(a) == 23 and (a[:3] == p).all()
    s = list(m.stream(p, 20, rng=np.random.default_rng(5)))
    assert s == list(a[3:])  # stream yields what generate appends
    g = m.generate(p, 12, top_k=1, rng=np.random.default_rng(6))  # longer than block_size
    seq = list(p)
    with engine.no_grad():
        for _ in range(12):
            seq.append(int(m(np.array([seq[-8:]]))[0].data[0, -1].argmax()))
    assert list(g) == seq
    assert m.training  # generate restores the mode it found
    with pytest.raises(ValueError, match="at least one token"):
        m.generate(np.array([], int), 3)


def test_attention_rows_are_causal_distributions():
    m = tiny()
    ws = m.attention(np.array([1, 2, 3, 4, 5]))
    assert len(ws) == 2 and ws[0].shape == (2, 5, 5)
    for w in ws:
        np.testing.assert_allclose(w.sum(-1), 1, atol=1e-5)
        assert np.triu(w, 1).max() == 0
    assert all(b.attn.weights is None for b in m.h)  # kept only when asked


def test_save_load_round_trip_gives_the_same_logits(tmp_path):
    r = tiny_run()
    for _ in range(3):
        r.step()
    path = tmp_path / "run.npz"
    r.save(path)
    r2 = Run.load(path, data=(TEXT[:3000], TEXT[3000:]))
    assert r2.iter == 3 and r2.cfg == r.cfg
    x, _ = r.batch()
    np.testing.assert_array_equal(r.model(x)[0].data, r2.model(x)[0].data)
    assert r2.model.lm_head.weight is r2.model.wte.weight  # the tie survives loading
    m = io.load(path)  # a plain engine model file too
    np.testing.assert_array_equal(m(x)[0].data, r.model(x)[0].data)
    r2.step()  # and it trains on


def test_a_corrupt_or_foreign_file_is_refused_and_the_run_is_untouched(tmp_path):
    r = tiny_run()
    r.step()
    before = {k: v.copy() for k, v in r.model.state_dict().items()}
    model, it = r.model, r.iter
    buf = bytes_io.BytesIO()
    r.save(buf)
    good = buf.getvalue()
    for bad in (good[:len(good) // 2], b"not a model", b""):
        for _ in range(2):  # twice: the second try meets the same clear error
            with pytest.raises(io.ModelFileError):
                r.restore(bad)
    other = Run("nano", seed=0, data=("abc" * 100, "abc" * 10), n_layer=1, n_embd=32,
                block_size=16, batch_size=8)
    with pytest.raises(io.ModelFileError, match="vocabulary"):
        r.restore(_bytes(other))
    with pytest.raises(io.ModelFileError, match="not a saved GPT"):
        r.restore(io.dumps(engine.nn.Linear(3, 2)))  # a model file, not a GPT's
    assert r.model is model and r.iter == it
    for k, v in r.model.state_dict().items():
        np.testing.assert_array_equal(v, before[k])
    r.restore(good)  # after the failures a good file still loads
    r.step()


def _bytes(run):
    buf = bytes_io.BytesIO()
    run.save(buf)
    return buf.getvalue()


def test_a_tiny_run_learns():
    r = tiny_run(warmup_iters=5, max_iters=60, lr=3e-3)
    first = r.estimate_loss(4)
    for _ in range(60):
        r.step()
    last = r.estimate_loss(4)
    assert last["train"] < first["train"] - 0.8, (first, last)
    assert r.tokens_per_step == 8 * 16


def test_torch_twin_gives_the_same_logits(tmp_path):
    torch = pytest.importorskip("torch")
    from playground.apps.gpt.torch_gpt import load_torch
    r = tiny_run()
    r.step()
    path = tmp_path / "run.npz"
    r.save(path)
    net = load_torch(path)
    x, _ = r.batch()
    r.model.eval()
    with torch.no_grad():
        ref = net(torch.from_numpy(x))[0].numpy()
    assert np.abs(ref - r.model(x)[0].data).max() < 1e-4


def test_loss_and_gradients_match_the_torch_twin():
    torch = pytest.importorskip("torch")
    from playground.apps.gpt.torch_gpt import twin
    m = tiny()
    net = twin(m, torch)
    x, y = ids(3, 8), ids(3, 8, seed=7)
    _, loss = m(x, y)
    loss.backward()
    _, ref = net(torch.from_numpy(x), torch.from_numpy(y))
    ref.backward()
    assert abs(loss.item() - ref.item()) < 1e-5
    grads = {n: p.grad.numpy() for n, p in net.named_parameters()}
    assert set(grads) == {n for n, _ in m.named_parameters()}  # torch dedupes the tie too
    for n, p in m.named_parameters():
        np.testing.assert_allclose(p.grad, grads[n], rtol=1e-3, atol=1e-6, err_msg=n)


def test_evaluate_averages_every_window_of_the_split():
    r = tiny_run()
    x, y = r.windows("val")
    assert x.shape == y.shape and x.shape[1] == 16 and len(x) == (len(r.val_data) - 1) // 16
    np.testing.assert_array_equal(x.ravel()[1:], y.ravel()[:-1])
    whole = r.evaluate("val", batch_size=len(x))
    assert r.evaluate("val", batch_size=3) == pytest.approx(whole, rel=1e-5)
    with engine.no_grad():
        assert whole == pytest.approx(r.model(x, y)[1].item(), rel=1e-5)
    assert r.model.training


def test_evaluation_runs_in_eval_mode_and_restores_the_mode():
    r = tiny_run(dropout=0.5)
    assert r.evaluate() == r.evaluate()  # dropout off: the same number twice
    state = r.eval_rng.bit_generator.state
    first = r.estimate_loss(2)
    r.eval_rng.bit_generator.state = state
    assert r.estimate_loss(2) == first  # same batches, no dropout noise
    assert r.model.training and r.model.h[0].mlp.dropout.training
    r.model.eval()
    r.evaluate()
    r.estimate_loss(1)
    assert not r.model.training  # a model in eval mode stays there


def test_run_load_refuses_what_is_not_a_gpt_run():
    for bad in (b"", b"PK\x03\x04 damaged", io.dumps(engine.nn.Linear(3, 2))):
        with pytest.raises(io.ModelFileError):
            Run.load(bad, data=(TEXT[:3000], TEXT[3000:]))


def test_the_command_line_trains_prints_and_saves(tmp_path, capsys):
    from playground.apps.gpt.train import main
    out = tmp_path / "nano.npz"
    main(["--preset", "nano", "--iters", "3", "--log", "1", "--out", str(out)])
    text = capsys.readouterr().out
    assert "nano: 0.107 M parameters" in text and "iter 2: loss" in text
    assert "iter 3: train" in text and "over every val character" in text
    r = Run.load(out)
    assert r.iter == 3 and r.preset == "nano" and r.cfg["max_iters"] == 3
