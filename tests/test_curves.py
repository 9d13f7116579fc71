"""playground.ui.curves: a run that blows up is drawn at a cap and marked, legends go above."""
import numpy as np
import pytest

pytest.importorskip("bokeh")
from bokeh.models import ColumnDataSource, Legend  # noqa: E402
from bokeh.plotting import figure  # noqa: E402

from playground.ui.curves import Capped, add_marks, legend_above  # noqa: E402


def test_values_above_the_cap_are_cut_and_marked():
    src, marks = ColumnDataSource(dict(step=[], a=[], b=[])), ColumnDataSource(dict(step=[], y=[]))
    c = Capped(src, marks, factor=2.0)
    c.stream(dict(step=[1], a=[3.0], b=[2.0]), ys=("a", "b"))
    c.stream(dict(step=[2], a=[2.5], b=[1.5]), ys=("a", "b"))
    assert marks.data["step"] == [] and c.cap == 6.0
    c.stream(dict(step=[3], a=[7e30], b=[float("nan")]), ys=("a", "b"))
    assert src.data["a"] == [3.0, 2.5, 6.0] and src.data["b"][-1] == 6.0
    assert marks.data["step"] == [3] and marks.data["y"] == [6.0]
    c.mark(4)
    assert marks.data["step"] == [3, 4]
    c.reset(a=[], b=[])
    assert src.data["step"] == [] and marks.data["step"] == [] and c.cap is None


def test_legend_moves_above_the_plot_area():
    f = figure()
    f.line([0, 1], [0, 1], legend_label="x")
    add_marks(f, ColumnDataSource(dict(step=[], y=[])))
    legend_above(f)
    assert not [r for r in f.center if isinstance(r, Legend)]
    assert [r for r in f.above if isinstance(r, Legend)]
    assert np.all([len(leg.items) == 1 for leg in f.above if isinstance(leg, Legend)])


def test_after_a_divergence_the_undone_points_go_and_one_mark_stays():
    class T:  # what the trainer says after restoring: failed at step 7, back at step 4
        diverged = {"step": 7, "restored": 4}
    src, marks = ColumnDataSource(dict(step=[], a=[])), ColumnDataSource(dict(step=[], y=[]))
    c = Capped(src, marks)
    for s, v in ((2, 3.0), (4, 2.9), (6, 1e9)):
        c.stream(dict(step=[s], a=[v]), ys=("a",))
    assert marks.data["step"] == [6]
    c.diverged(T, 4)
    assert src.data == {"step": [2, 4], "a": [3.0, 2.9]} and marks.data["step"] == [7]
    c.diverged(T, 4)  # a second divergence from the same place: still one mark there
    assert marks.data["step"] == [7] and src.data["step"] == [2, 4]
