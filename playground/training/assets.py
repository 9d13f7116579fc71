"""Build the playground's shipped weights with the project's own engine.

    python -m playground.training.assets [--out playground/assets/digits_classifier.npz]

Trains the digits *judge* the GAN studio uses for its mode-collapse indicator and the GAN
benchmark: the small CNN (conv3(16)-pool-conv3(32)-pool-fc128) on the MNIST-10k training
split (8,000 digits, seeded), Adam 1e-3, batch 64, 4 epochs; prints held-out accuracy and
the mean max-probability it gives real held-out digits (the yardstick for GAN samples).
Saved with ``engine.io`` (weights + JSON spec, no pickle, ~0.4 MB). About 30 s on one core.
"""
from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

ASSETS = Path(__file__).resolve().parents[1] / "assets"
CLASSIFIER_PATH = ASSETS / "digits_classifier.npz"


def classifier_model():
    from playground.training.recipes import build_model
    return build_model("cnn", batchnorm=False)


def train_classifier(epochs=4, seed=0, data=None, log=print):
    """Train the judge; returns (model in eval mode, held-out accuracy, mean max-prob)."""
    from engine import Tensor, manual_seed, optim
    from engine.data import DataLoader, load_mnist
    from engine.nn import functional as F

    (xt, yt), (xv, yv) = data or load_mnist()
    manual_seed(seed)
    model = classifier_model()
    opt = optim.Adam(model.parameters(), lr=1e-3)
    loader = DataLoader(xt, yt, batch_size=64, shuffle=True, seed=seed)
    t0 = time.perf_counter()
    for epoch in range(epochs):
        model.train()
        for xb, yb in loader:
            loss = F.cross_entropy(model(Tensor(xb)), yb)
            opt.zero_grad()
            loss.backward()
            opt.step()
        acc, conf = evaluate(model, xv, yv)
        log(f"epoch {epoch + 1}/{epochs}: held-out accuracy {acc:.4f}, mean max-prob {conf:.3f} "
            f"({time.perf_counter() - t0:.0f} s)")
    model.eval()
    return model, acc, conf


def predict_proba(model, images, batch=500):
    """Class probabilities (n, 10) for images (n, 1, 28, 28) in [0, 1]."""
    from engine import Tensor, no_grad
    model.eval()
    out = []
    with no_grad():
        for i in range(0, len(images), batch):
            out.append(model(Tensor(np.asarray(images[i:i + batch], np.float32))).softmax(-1).data)
    return np.concatenate(out) if out else np.zeros((0, 10), np.float32)


def evaluate(model, x, y):
    p = predict_proba(model, x)
    return float((p.argmax(1) == y).mean()), float(p.max(1).mean())


def load_classifier(path=None):
    """The shipped judge, or None if it has not been built (see the module docstring)."""
    from engine import io
    p = Path(path or CLASSIFIER_PATH)
    if not p.is_file():
        return None
    model = io.load(p)
    model.eval()
    return model


def main(argv=None):
    ap = argparse.ArgumentParser(prog="python -m playground.training.assets", description=__doc__.split("\n")[0])
    ap.add_argument("--out", default=str(CLASSIFIER_PATH))
    ap.add_argument("--epochs", type=int, default=4)
    ap.add_argument("--force", action="store_true", help="rebuild even if the file exists")
    args = ap.parse_args(argv)
    out = Path(args.out)
    if out.is_file() and not args.force:
        print(f"{out} exists (use --force to rebuild)")
        return
    from engine import io
    model, acc, conf = train_classifier(args.epochs)
    out.parent.mkdir(parents=True, exist_ok=True)
    n = io.save(model, out)
    print(f"wrote {out} ({n / 1e6:.2f} MB): held-out accuracy {acc:.4f}, "
          f"mean max-probability on real held-out digits {conf:.3f}")


if __name__ == "__main__":
    main()
