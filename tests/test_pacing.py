"""Paced: a costly redraw runs at most ~1/4 of the time, and at once after a reset."""
import time

from playground.ui.pacing import Paced


def test_a_redraw_rests_three_times_its_cost_and_runs_at_once_after_reset():
    calls = []
    paced = Paced(lambda: (calls.append(1), time.sleep(0.05)))
    assert paced() and len(calls) == 1  # the first call always runs
    assert not paced() and len(calls) == 1  # resting: 3 x 0.05 s
    time.sleep(0.16)
    assert paced() and len(calls) == 2
    paced.reset()
    assert paced() and len(calls) == 3
