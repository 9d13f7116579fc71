"""makemore benchmark (not a test): val loss per model, Descent beside PyTorch, same run.

    python -m playground.bench.names_bench [--mlp-steps 20000] [--tf-steps 2000] [--quick]

On the names data (engine.data.load_names, val split), one BLAS thread and one torch
thread, each model is trained twice from the same initial weights on the same batches:
with Descent's engine and with PyTorch (playground.bench.twins.torch_twin). Prints val loss
(nats per character, the end included), samples/s (characters predicted per second) and
the ratio. Targets (issue 11): bigram ~2.45, MLP <= 2.20, transformer <= 2.10, MLP
samples/s >= 1.0x PyTorch. Printed, never asserted: timings on a shared machine vary.
"""
if __name__ == "__main__":  # one BLAS thread, set before numpy loads
    from playground.bench.threads import one_blas_thread
    one_blas_thread()

import argparse  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402

from engine.data import load_names  # noqa: E402
from playground.apps.names import model as M  # noqa: E402
from playground.bench import twins  # noqa: E402


def _schedule(step, steps, lr):
    """The learning rate: full for 3/4 of the run, then a tenth (makemore's step decay)."""
    return lr if step < 0.75 * steps else lr / 10


def train_engine(m, steps):
    t, samples = time.perf_counter(), 0
    for i in range(steps):
        m.set_lr(_schedule(i, steps, m.lr0))
        samples += m.step()["samples"]
    return samples / (time.perf_counter() - t)


def train_torch(m, twin, torch, steps):
    """The same batches (the same seed) through the PyTorch twin, same optimiser settings."""
    rng = np.random.default_rng(m.seed)
    wd = 0.01 if m.kind == "transformer" else 0.0
    opt = torch.optim.AdamW(twin.parameters(), lr=m.lr0, weight_decay=wd)
    xtr, ytr = torch.from_numpy(m.xtr), torch.from_numpy(m.ytr)
    t, samples = time.perf_counter(), 0
    for i in range(steps):
        for g in opt.param_groups:
            g["lr"] = _schedule(i, steps, m.lr0)
        ix = torch.from_numpy(rng.integers(0, len(m.xtr), m.batch))
        x, y = xtr[ix], ytr[ix]
        if y.ndim == 2:
            k = int((y >= 0).sum(1).max())
            x, y = x[:, :k], y[:, :k]
        logits = twin(x)
        loss = torch.nn.functional.cross_entropy(logits.reshape(-1, M.V), y.reshape(-1),
                                                 ignore_index=-1)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        samples += int((y >= 0).sum())
    rate = samples / (time.perf_counter() - t)
    with torch.no_grad():
        xv, yv = torch.from_numpy(m.xva), torch.from_numpy(m.yva)
        val = float(torch.nn.functional.cross_entropy(twin(xv).reshape(-1, M.V), yv.reshape(-1),
                                                      ignore_index=-1))
    return rate, val


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--mlp-steps", type=int, default=20000)
    p.add_argument("--tf-steps", type=int, default=2000)
    p.add_argument("--neural-steps", type=int, default=300)
    p.add_argument("--quick", action="store_true", help="a few hundred steps each (smoke test)")
    a = p.parse_args(argv)
    if a.quick:
        a.mlp_steps, a.tf_steps, a.neural_steps = 300, 30, 50
    import torch
    torch.set_num_threads(1)
    tr, va, te = load_names()
    print(f"names: {len(tr)} train / {len(va)} val / {len(te)} test; one BLAS thread, torch "
          f"{torch.__version__} one thread")
    rows = []
    probs = M.bigram_probs(M.bigram_counts(tr))
    rows.append(("bigram counts", M.bigram_nll(probs, va), None, None, None))
    neural = M.NamesModel("neural", tr, va)
    rate = train_engine(neural, a.neural_steps)
    dist = np.abs(np.exp(neural.model.W.weight.data.T) / np.exp(neural.model.W.weight.data.T)
                  .sum(1, keepdims=True) - probs).max()
    rows.append((f"neural bigram ({a.neural_steps} SGD steps; max |P - counts| {dist:.3f})",
                 neural.evaluate(), None, rate, None))
    for kind, steps, label in (("mlp", a.mlp_steps, "MLP 3x10 -> 200 tanh"),
                               ("transformer", a.tf_steps, "transformer 2x(64, 4 heads)")):
        m = M.NamesModel(kind, tr, va)
        twin = twins.torch_twin(m.model)  # the same initial weights
        rate = train_engine(m, steps)
        trate, tval = train_torch(m, twin, torch, steps)
        rows.append((f"{label} ({steps} steps, batch {m.batch})", m.evaluate(), tval, rate, trate))
        if kind == "mlp":
            print("MLP samples:", ", ".join(m.sample(12, rng=np.random.default_rng(1))))
        else:
            print("transformer samples:", ", ".join(m.sample(12, rng=np.random.default_rng(1))))
    print(f"\n{'model':58s} {'val Descent':>11s} {'val torch':>9s} {'chars/s':>9s} "
          f"{'torch':>9s} {'ratio':>6s}")
    for name, val, tval, rate, trate in rows:
        f = lambda v, fmt: format(v, fmt) if v is not None else "—"  # noqa: E731
        ratio = f"{rate / trate:.2f}x" if rate and trate else "—"
        print(f"{name:58s} {val:11.4f} {f(tval, '9.4f'):>9s} {f(rate, '9.0f'):>9s} "
              f"{f(trate, '9.0f'):>9s} {ratio:>6s}")
    print("\ntargets: bigram ~2.45, MLP <= 2.20, transformer <= 2.10 (val, nats/char); "
          "MLP chars/s >= 1.0x PyTorch")
    print("makemore (Karpathy, names.txt): " + "; ".join(
        f"{M.TITLES[k]} {v:.2f} ({d})" if v else f"{M.TITLES[k]}: {d}"
        for k, (v, d) in M.MAKEMORE.items()))


if __name__ == "__main__":
    main()
