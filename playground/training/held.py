"""A Trainer for an app whose lab Reset replaces (names, lines, gpt): the lab lives in a holder
dict (``held["m"]``), and every step, snapshot and restore goes to whichever lab is there now.

The lab answers ``step()`` (one batch's metrics), ``state()`` (what a diverged run goes back
to) and ``load_state(s)``; ``on_reset(seed)`` puts a new lab into the holder."""
from __future__ import annotations

from playground.training.trainer import Trainer


def held_trainer(held: dict, on_reset, **options) -> Trainer:
    """A Trainer over ``held["m"]``; ``options`` go to Trainer (chunk, on_chunk, on_stop...)."""
    return Trainer(lambda: held["m"].step(), snapshot=lambda: held["m"].state(),
                   restore=lambda s: held["m"].load_state(s), on_reset=on_reset, **options)
