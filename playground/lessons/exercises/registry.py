"""The id -> exercise map, built once from the bank: a lesson's ``{{ exercise: ID }}`` is
looked up here. To add an exercise, append it to a bank module's ``EXERCISES`` list (or add
a module to :data:`BANK`)."""
from __future__ import annotations

from .bank import backprop, digits_and_convs, first_steps, gans_and_gpus, gpt, makemore

BANK = (first_steps, backprop, digits_and_convs, gans_and_gpus, makemore, gpt)


def by_id(groups: dict) -> dict:
    """{id: exercise} from {group name: [exercise, ...]}; an id used twice is an error naming both."""
    out, where = {}, {}
    for group, exercises in groups.items():
        for ex in exercises:
            if ex.id in out:
                raise ValueError(f"exercise id {ex.id!r} is used twice: in {where[ex.id]} and in {group}")
            out[ex.id], where[ex.id] = ex, group
    return out


EXERCISES = by_id({m.__name__: m.EXERCISES for m in BANK})


def get(ex_id):
    try:
        return EXERCISES[ex_id]
    except KeyError:
        raise KeyError(f"no exercise {ex_id!r}; known: {sorted(EXERCISES)}") from None
