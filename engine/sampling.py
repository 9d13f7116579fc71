"""Sampling from a model's output: turn logits into choices (numpy, no autograd).

    probs = softmax(logits / temperature)      # temperature < 1: bolder, > 1: wilder
    keep only the top_k largest (optional)     # never pick something very unlikely
    draw one index per row in proportion       # torch.multinomial

Every function takes a numpy Generator `rng` (default: engine's seeded one) so a run can
be repeated exactly.
"""
import numpy as np

from .tensor import Tensor, rng as _engine_rng

__all__ = ["softmax", "top_k_logits", "multinomial", "sample_logits"]


def _arr(x):
    return np.asarray(x.data if isinstance(x, Tensor) else x, dtype=np.float64)


def softmax(logits, temperature=1.0):
    """Probabilities over the last axis of logits / temperature (max subtracted first)."""
    if temperature <= 0:
        raise ValueError(f"temperature must be > 0, got {temperature} (for the most likely "
                         f"choice use argmax)")
    z = _arr(logits) / temperature
    z = z - z.max(axis=-1, keepdims=True)
    p = np.exp(z)
    return p / p.sum(axis=-1, keepdims=True)


def top_k_logits(logits, k):
    """Logits with all but the k largest of each row set to -inf (ties at the k-th kept)."""
    z = _arr(logits)
    if k is None or k >= z.shape[-1]:
        return z
    if k < 1:
        raise ValueError(f"top_k must be >= 1, got {k}")
    kth = np.sort(z, axis=-1)[..., -k][..., None]
    return np.where(z < kth, -np.inf, z)


def multinomial(probs, num_samples=1, replacement=False, rng=None):
    """As torch.multinomial: indices drawn in proportion to each row of (unnormalised) probs.

    probs (C,) -> (num_samples,); (N, C) -> (N, num_samples)."""
    p = _arr(probs)
    rng = rng or _engine_rng()
    if (p < 0).any() or not np.isfinite(p).all():
        raise ValueError("multinomial: probabilities must be finite and >= 0")
    rows = p.reshape(-1, p.shape[-1])
    if (rows.sum(axis=1) <= 0).any():
        raise ValueError("multinomial: every row needs a positive total")
    if not replacement and num_samples > (rows > 0).sum(axis=1).min():
        raise ValueError(f"multinomial: cannot draw {num_samples} distinct indices from a row "
                         f"with fewer non-zero probabilities (use replacement=True)")
    out = np.empty((len(rows), num_samples), np.int64)
    for i, row in enumerate(rows):
        out[i] = rng.choice(len(row), size=num_samples, replace=replacement, p=row / row.sum())
    return out.reshape(p.shape[:-1] + (num_samples,))


def sample_logits(logits, temperature=1.0, top_k=None, rng=None):
    """One index per row of logits (..., C): softmax(top_k(logits) / temperature), drawn.

    Vectorised over rows (inverse-CDF with one uniform number per row), so sampling a
    batch of names costs one numpy pass per character."""
    p = softmax(top_k_logits(logits, top_k), temperature)
    rng = rng or _engine_rng()
    cdf = np.cumsum(p, axis=-1)
    u = rng.random(p.shape[:-1] + (1,)) * cdf[..., -1:]
    return np.minimum((cdf < u).sum(axis=-1), p.shape[-1] - 1)
