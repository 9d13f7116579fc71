"""A full training run, engine vs PyTorch 2.13 CPU, from identical weights on identical batches.

Both models start from engine's seeded init (copied into the torch twin), see the same
MNIST batches in the same order and train with Adam(lr=1e-3) on cross-entropy. Then:

* the loss at every step agrees to ``LOSS_RTOL`` (relative), and
* every final weight agrees to ``W_ATOL`` (absolute), and the whole *update*
  (final - initial weights) of each tensor agrees to ``UPDATE_RTOL`` in relative norm.

Why these tolerances. Each step differs only by float32 rounding (~6e-8 relative per
op: OpenBLAS and torch's MKL/oneDNN kernels sum in different orders), and each step's
difference feeds the next, so the gap grows slowly with the step count. Measured here
over 40 steps (numpy 2.2.5 + OpenBLAS 0.3.28, torch 2.13.0): loss rel. diff <= 2.8e-7,
max |weight diff| <= 9.3e-7 (weights ~0.05, moved by up to 0.04), update rel. diff
<= 9.1e-7. The bounds leave 10-30x headroom for other BLAS kernels and still sit far
below what a real bug gives (a wrong bias correction or eps placement in Adam, a
mis-ordered conv weight, a missing bias gradient: >= 1e-3 within a few steps). One
caveat: Adam's first steps are ~lr * sign(g), so a gradient that is zero up to rounding
could flip one weight by ~lr; it does not happen with these models and data (always-zero
border pixels give exactly zero gradients in both), but a lone weight off by ~1e-3 would
mean that, not a bug.
"""
import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("engine.nn")
pytest.importorskip("engine.optim")

from playground.bench import twins  # noqa: E402

STEPS = 40
LOSS_RTOL = 1e-5     # relative, per step
W_ATOL = 1e-5        # absolute, per weight
UPDATE_RTOL = 1e-5   # ||update_engine - update_torch|| / ||update_torch||, per tensor


pytestmark = pytest.mark.usefixtures("twins_one_thread")  # one BLAS thread for both engines


def _run_both(kind, mnist):
    (x, y), _ = mnist
    net = twins.engine_model(kind, seed=0)
    twin = twins.torch_twin(net)
    w0 = twins.engine_weights(net)
    assert set(w0) == set(twins.torch_weights(twin)), "state_dict names differ from torch's"
    eng_losses, _ = twins.train_engine(net, x, y, epochs=1, max_steps=STEPS)
    ref_losses, _ = twins.train_torch(twin, x, y, epochs=1, max_steps=STEPS)
    return w0, np.array(eng_losses), np.array(ref_losses), twins.engine_weights(net), \
        twins.torch_weights(twin)


@pytest.mark.parametrize("kind", ["mlp", "cnn"])
def test_training_run_matches_torch(kind, twins_mnist):
    w0, eng_losses, ref_losses, w_eng, w_ref = _run_both(kind, twins_mnist)
    assert len(eng_losses) == len(ref_losses) == STEPS
    assert ref_losses[-1] < 0.7 * ref_losses[0], "the reference run did not learn: bad setup"

    loss_err = np.abs(eng_losses - ref_losses) / np.abs(ref_losses)
    assert loss_err.max() < LOSS_RTOL, (
        f"{kind}: losses diverge from torch's; first step over tolerance: "
        f"{int(np.argmax(loss_err > LOSS_RTOL))}, max rel. diff {loss_err.max():.2e}\n"
        f"engine {eng_losses[:5]} ...\ntorch  {ref_losses[:5]} ...")

    for name, ref in w_ref.items():
        eng = w_eng[name]
        assert eng.shape == ref.shape, f"{kind} {name}: shape {eng.shape} vs torch {ref.shape}"
        w_err = float(np.abs(eng - ref).max())
        assert w_err < W_ATOL, f"{kind} {name}: max |engine - torch| = {w_err:.2e}"
        d_ref, d_eng = ref - w0[name], eng - w0[name]
        u_err = float(np.linalg.norm(d_eng - d_ref) / np.linalg.norm(d_ref))
        assert u_err < UPDATE_RTOL, f"{kind} {name}: update differs by {u_err:.2e} (rel. norm)"
