"""playground.curves: a run that blows up is drawn at a cap and marked, legends go above."""
import numpy as np
import pytest

pytest.importorskip("bokeh")
from bokeh.models import ColumnDataSource, Legend  # noqa: E402
from bokeh.plotting import figure  # noqa: E402

from playground.curves import Capped, add_marks, legend_above  # noqa: E402


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
