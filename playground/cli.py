"""`descent` command line: train the default digits model on CPython, run benchmarks."""
import argparse
import sys
import time

import numpy as np


def train_digits(model="mlp", epochs=None, batch_size=64, lr=1e-3, seed=0, out=None):
    """Train a digits classifier with a progress bar; returns held-out accuracy."""
    from tqdm import tqdm

    import engine
    from engine import data, nn, optim
    from playground.recipes import digits_model, DIGITS_EPOCHS

    (xtr, ytr), (xte, yte) = data.load_mnist()
    engine.manual_seed(seed)
    net = digits_model(model)
    opt = optim.Adam(net.parameters(), lr=lr)
    epochs = epochs or DIGITS_EPOCHS[model]
    loader = data.DataLoader(xtr, ytr, batch_size=batch_size, shuffle=True, seed=seed)
    print(f"Training {model} ({net.num_parameters():,} parameters) on {len(xtr):,} MNIST digits, "
          f"{epochs} epochs, Adam lr={lr}, batch {batch_size}; matmul backend: "
          f"{engine.backend.status()['backend']}")
    t0 = time.perf_counter()
    for epoch in range(1, epochs + 1):
        net.train()
        bar = tqdm(loader, desc=f"epoch {epoch}/{epochs}", unit="batch", leave=False)
        for xb, yb in bar:
            loss = nn.functional.cross_entropy(net(engine.Tensor(xb)), yb)
            opt.zero_grad()
            loss.backward()
            opt.step()
            bar.set_postfix(loss=f"{loss.item():.3f}")
        acc = evaluate(net, xte, yte)
        print(f"epoch {epoch}/{epochs}: loss {loss.item():.4f}, held-out accuracy {acc:.2%}")
    secs = time.perf_counter() - t0
    print(f"Held-out accuracy: {acc:.2%} on {len(xte):,} digits "
          f"({epochs * len(xtr) / secs:,.0f} samples/s, {secs:.1f} s)")
    if out:
        from engine import io
        print(f"Saved the model to {out} ({io.save(net, out):,} bytes)")
    return acc


def evaluate(net, x, y, batch=500):
    import engine
    net.eval()
    with engine.no_grad():
        pred = np.concatenate([net(engine.Tensor(x[i:i + batch])).data.argmax(1)
                               for i in range(0, len(x), batch)])
    return float((pred == y).mean())


def main(argv=None):
    p = argparse.ArgumentParser(prog="descent", description=__doc__)
    sub = p.add_subparsers(dest="cmd", required=True)
    t = sub.add_parser("train", help="train a model on CPython with a progress bar")
    t.add_argument("what", choices=["digits"])
    t.add_argument("--model", choices=["softmax", "mlp", "cnn"], default="mlp")
    t.add_argument("--epochs", type=int)
    t.add_argument("--batch-size", type=int, default=64)
    t.add_argument("--lr", type=float, default=1e-3)
    t.add_argument("--seed", type=int, default=0)
    t.add_argument("--out", help="save the trained model here (.npz)")
    from playground import site_builder
    site_builder.add_subcommands(sub)
    a = p.parse_args(argv)
    if a.cmd in site_builder.COMMANDS:
        return site_builder.run_command(a)
    if a.cmd == "train":
        try:
            train_digits(a.model, a.epochs, a.batch_size, a.lr, a.seed, a.out)
        except FileNotFoundError as e:
            sys.exit(str(e))


if __name__ == "__main__":
    main()
