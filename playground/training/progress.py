"""What a Trainer's progress line knows: step, epoch, speed, and which backend does the maths."""
from __future__ import annotations


def value(x):
    """An int, or a callable returning one (so epochs can change mid-run)."""
    return x() if callable(x) else x


def backend_status() -> dict:
    try:
        from engine import backend
        return backend.status()
    except Exception as e:  # pragma: no cover - defensive: the UI must still render
        return {"backend": "numpy", "reason": f"backend status unavailable: {e}", "stats": {}}


def progress(step, samples, rate, seconds, steps_per_epoch=None, max_steps=None, epoch_hint=None,
             unit="samples") -> dict:
    """The Trainer's ``progress``: the epoch from the steps when an epoch has a known number
    of steps, else from the step function's own count (``epoch_hint``; a GAN has none).
    ``unit`` names what a step's "samples" count (a GPT counts tokens)."""
    epoch_float = (step / steps_per_epoch) if steps_per_epoch else (epoch_hint or 0.0)
    st = backend_status()
    return {
        "step": step, "epoch": int(epoch_float), "epoch_float": epoch_float,
        "epoch_known": bool(steps_per_epoch) or epoch_hint is not None,
        "max_steps": max_steps, "samples": samples, "samples_per_s": rate, "unit": unit,
        "elapsed_s": seconds,
        "backend": st.get("backend", "numpy"), "backend_reason": st.get("reason", ""),
    }
