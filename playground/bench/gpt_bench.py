"""nanoGPT's Shakespeare benchmark (not a test): speed beside PyTorch, then quality.

    python -m playground.bench.gpt_bench [--iters 2000] [--speed-only] [--no-reference] [--steps 40]

(a) Speed: the baby model and batch (4 layers, 4 heads, 128 channels, block 64, batch 12),
    one training step (forward, backward, clip, AdamW) in the engine and in its PyTorch
    twin (twins.torch_twin: the same weights) on the same batches, one BLAS thread and one
    torch thread, the two interleaved step by step so machine load hits both alike.
    Prints ms/step (median and fastest), tokens/s of each and the ratio engine / torch.
(b) Quality: the baby recipe (nanoGPT's CPU settings) for --iters iterations in the
    engine, its torch twin trained beside it on the same batches (--no-reference: not):
    train/val estimates at intervals, the val loss over every val character at the end
    for both, the time taken, and a sample. Issue 19's target: val <= 1.90 nats/char after
    2,000 iterations (nanoGPT's README: ~1.88 on its own tiny-Shakespeare split).
Printed, never asserted: timings on a shared machine vary.
"""
if __name__ == "__main__":  # one BLAS thread, set before numpy loads
    from playground.bench.threads import one_blas_thread
    one_blas_thread()

import argparse  # noqa: E402
import contextlib  # noqa: E402
import statistics  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402

from playground.apps.gpt.train import Run, get_lr  # noqa: E402
from playground.bench import twins  # noqa: E402
from playground.bench.threads import one_thread, openblas_info  # noqa: E402


def torch_optimizer(net, cfg, torch):
    """nanoGPT's AdamW groups for the torch twin: decay on matrices only."""
    ps = list(net.parameters())
    groups = [{"params": [p for p in ps if p.dim() >= 2], "weight_decay": cfg["weight_decay"]},
              {"params": [p for p in ps if p.dim() < 2], "weight_decay": 0.0}]
    return torch.optim.AdamW(groups, lr=cfg["lr"], betas=(0.9, cfg["beta2"]))


def torch_step(net, opt, x, y, lr, clip, torch):
    """One training step of the torch twin; returns the loss."""
    for g in opt.param_groups:
        g["lr"] = lr
    _, loss = net(torch.from_numpy(x), torch.from_numpy(y))
    opt.zero_grad(set_to_none=True)
    loss.backward()
    if clip:
        torch.nn.utils.clip_grad_norm_(net.parameters(), clip)
    opt.step()
    return loss.item()


def speed(preset="baby", steps=40, warmup=3, seed=0, data=None, **overrides):
    """Interleaved engine and torch steps on the same batches from the same weights.

    Returns {"engine": {...}, "torch": {...}, "ratio": engine tokens/s / torch's}, each
    side with ms (median), fastest (ms), tokens_per_s and the losses of its steps."""
    import torch
    run = Run(preset, seed, data, **overrides)
    net = twins.torch_twin(run.model)
    opt = torch_optimizer(net, run.cfg, torch)
    times = {"engine": [], "torch": []}
    losses = {"engine": [], "torch": []}
    with one_thread():
        for i in range(warmup + steps):
            x, y = run.batch()
            lr = get_lr(run.iter, run.cfg)
            t0 = time.perf_counter()
            le = run.step((x, y))
            t1 = time.perf_counter()
            lt = torch_step(net, opt, x, y, lr, run.cfg["grad_clip"], torch)
            t2 = time.perf_counter()
            if i >= warmup:
                times["engine"].append(t1 - t0)
                times["torch"].append(t2 - t1)
                losses["engine"].append(le)
                losses["torch"].append(lt)
    out = {}
    for side, ts in times.items():
        med = statistics.median(ts)
        out[side] = {"ms": 1e3 * med, "fastest": 1e3 * min(ts),
                     "tokens_per_s": run.tokens_per_step / med, "losses": losses[side]}
    out["ratio"] = out["engine"]["tokens_per_s"] / out["torch"]["tokens_per_s"]
    out["tokens_per_step"] = run.tokens_per_step
    return out


def quality(iters=2000, preset="baby", seed=0, eval_every=250, data=None, log=print,
            reference=False, **overrides):
    """Train the recipe for iters iterations; with reference=True the torch twin trains
    beside it, step for step on the same batches from the same weights.

    Returns {"val" (every val character), "estimate" (nanoGPT's 20-batch estimate at the
    end: {"train", "val"}), "seconds" (engine steps only), "history": [(iter, train, val)],
    "sample"}, and with reference {"torch": {"val", "seconds"}}."""
    run = Run(preset, seed, data, max_iters=iters, **overrides)
    if reference:
        import torch
        net = twins.torch_twin(run.model)
        opt = torch_optimizer(net, run.cfg, torch)
    history, spent = [], {"engine": 0.0, "torch": 0.0}
    with one_thread() if reference else contextlib.nullcontext():
        for it in range(iters):
            x, y = run.batch()
            lr = get_lr(run.iter, run.cfg)
            t0 = time.perf_counter()
            run.step((x, y))
            spent["engine"] += time.perf_counter() - t0
            if reference:
                t0 = time.perf_counter()
                torch_step(net, opt, x, y, lr, run.cfg["grad_clip"], torch)
                spent["torch"] += time.perf_counter() - t0
            if (it + 1) % eval_every == 0 or it + 1 == iters:
                est = run.estimate_loss()
                history.append((it + 1, est["train"], est["val"]))
                log(f"  iter {it + 1:5d}: train {est['train']:.4f}  val {est['val']:.4f}  "
                    f"({spent['engine']:.0f} s)")
        out = {"val": run.evaluate("val"), "estimate": est, "seconds": spent["engine"],
               "history": history,
               "sample": run.sample(max_new_tokens=300, rng=np.random.default_rng(seed))}
        if reference:
            out["torch"] = {"val": torch_loss(net, *run.windows("val"), torch),
                            "seconds": spent["torch"]}
    return out


def torch_loss(net, x, y, torch, batch_size=64):
    """The twin's mean loss over windows x, y (as Run.evaluate)."""
    net.eval()
    total = 0.0
    with torch.no_grad():
        for i in range(0, len(x), batch_size):
            xb, yb = (torch.from_numpy(a[i:i + batch_size]) for a in (x, y))
            total += net(xb, yb)[1].item() * len(xb)
    net.train()
    return total / len(x)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--iters", type=int, default=2000)
    p.add_argument("--steps", type=int, default=40, help="timed steps in the speed part")
    p.add_argument("--speed-only", action="store_true")
    p.add_argument("--no-reference", action="store_true",
                   help="quality: train the engine only (not the torch twin beside it)")
    p.add_argument("--seed", type=int, default=0)
    a = p.parse_args(argv)
    import torch
    print(f"OpenBLAS {openblas_info()}, torch {torch.__version__}")
    s = speed(steps=a.steps, seed=a.seed)
    print(f"(a) speed, baby model, {s['tokens_per_step']} tokens/step, median of {a.steps} "
          f"interleaved steps (fastest in brackets):")
    for side in ("engine", "torch"):
        r = s[side]
        print(f"  {side:6s}: {r['ms']:7.1f} ms/step ({r['fastest']:.1f})  "
              f"{r['tokens_per_s']:8.0f} tokens/s")
    print(f"  engine / torch tokens/s: {s['ratio']:.2f}x   (target >= 1.0x)")
    if a.speed_only:
        return
    print(f"(b) quality: baby recipe, {a.iters} iterations, engine"
          f"{'' if a.no_reference else ' and its torch twin on the same batches'}:")
    q = quality(a.iters, seed=a.seed, reference=not a.no_reference)
    est = q["estimate"]
    print(f"  engine: val {q['val']:.4f} nats/char over the whole val split (20-batch estimate "
          f"{est['val']:.4f}, train {est['train']:.4f}); target <= 1.90, nanoGPT README ~1.88")
    print(f"          {q['seconds']:.0f} s of training, "
          f"{a.iters * s['tokens_per_step'] / q['seconds']:.0f} tokens/s")
    if "torch" in q:
        t = q["torch"]
        print(f"  torch : val {t['val']:.4f} over the whole val split, {t['seconds']:.0f} s, "
              f"{a.iters * s['tokens_per_step'] / t['seconds']:.0f} tokens/s")
    print("  sample (temperature 1.0):\n" + q["sample"])


if __name__ == "__main__":
    main()
