"""The autograd explorer: safe parsing, the engine graph, and the step-by-step backward pass."""
import math

import pytest

pytest.importorskip("panel")
from playground.apps.autograd.app import ExpressionError, Graph, autograd_app, build  # noqa: E402


@pytest.mark.parametrize("text", [
    '__import__("os").system("echo hi")', "a.__class__", "open('x')", "[a, b]", "lambda: a",
    "a if b else c", "a < b", "x + 1", "exp(a, b)", "exp(a=1)", "(a).real", "a[0]", "f'{a}'",
    "'text' * a", "True + a", "a +", "", "a" * 300, "1 + 2",
])
def test_unsafe_or_bad_expressions_are_refused(text):
    with pytest.raises(ExpressionError) as e:
        build(text, {"a": 1.0, "b": 2.0, "c": 3.0})
    assert str(e.value)  # a message a learner can read


def test_values_and_grads_match_calculus():
    out, leaves = build("a*b + tanh(c)", {"a": 2.0, "b": -3.0, "c": 0.5})
    assert out.item() == pytest.approx(-6 + math.tanh(0.5))
    g = Graph(out, leaves)
    g.run()
    grads = {g.nodes[i]["label"]: g.grads[i] for i, nd in enumerate(g.nodes) if nd["kind"] == "var"}
    assert grads["a"] == pytest.approx(-3.0)
    assert grads["b"] == pytest.approx(2.0)
    assert grads["c"] == pytest.approx(1 - math.tanh(0.5) ** 2, rel=1e-6)
    out.backward()  # the engine's own backward agrees with the stepped one
    for name, t in leaves.items():
        assert float(t.grad) == pytest.approx(grads[name], rel=1e-6)


def test_reused_variable_accumulates_and_pow_constant():
    out, leaves = build("a*a + a**3 - 2/b", {"a": 1.5, "b": 4.0})
    g = Graph(out, leaves)
    g.run()
    ga = next(g.grads[i] for i, nd in enumerate(g.nodes) if nd["label"] == "a")
    gb = next(g.grads[i] for i, nd in enumerate(g.nodes) if nd["label"] == "b")
    assert ga == pytest.approx(2 * 1.5 + 3 * 1.5 ** 2)
    assert gb == pytest.approx(2 / 16)


def test_app_step_through_highlights_one_node_at_a_time():
    app = autograd_app()
    c = app.controls
    assert c["nodes"].data["label"] == ["a", "b", "*", "c", "tanh", "+"]
    assert all(g in ("", "grad ?") for g in c["nodes"].data["grad"][:-1])
    c["step"].clicks += 1
    assert c["nodes"].data["line"].count("#d62728") == 1  # the current node is highlighted
    assert "×" in c["chain"].object  # the chain-rule product is shown
    c["run"].clicks += 1
    grads = c["nodes"].data["grad"]
    assert grads[0] == "grad -3" and grads[1] == "grad 2"
    c["reset"].clicks += 1
    assert c["nodes"].data["grad"][0] == "grad ?"


def test_app_controls_rebuild_and_bad_input_message():
    app = autograd_app()
    c = app.controls
    c["inputs"]["a"].value = 5.0
    assert "out = -14.5" in c["result"].object.replace("−", "-") or "-14.54" in c["result"].object
    c["expr"].value = "__import__('os')"
    assert c["message"].visible and "not allowed" in c["message"].object
    assert c["nodes"].data["label"] == []
    c["expr"].value = "sigmoid(a) * exp(d)"
    assert not c["message"].visible
    assert "sigmoid" in c["nodes"].data["label"] and "exp" in c["nodes"].data["label"]


def test_app_explains_a_value_that_is_not_a_number_and_an_empty_box():
    app = autograd_app()
    c = app.controls
    c["inputs"]["a"].value = 0.0
    c["expr"].value = "a/0"
    assert c["message"].visible and c["message"].alert_type == "warning"
    assert "out = nan" in c["message"].object and "/(0, 0)" in c["message"].object
    assert c["nodes"].data["label"] == ["a", "0", "/"]  # the graph still shows where
    c["run"].clicks += 1                                 # and backward does not crash
    c["expr"].value = "exp(exp(exp(b)))"
    c["inputs"]["b"].value = 3.0
    assert "= inf" in c["message"].object and "exp(" in c["message"].object
    c["expr"].value = "a*b"
    assert not c["message"].visible
    c["inputs"]["a"].value = None                        # the learner emptied the box
    assert c["message"].visible and c["message"].alert_type == "danger"
    assert "a has no value" in c["message"].object


@pytest.mark.parametrize("text, part", [("a*log(-1)", "log(-1) = nan"), ("log(-1) + b", "log(-1) = nan"),
                                        ("sqrt(-4)*a", "sqrt(-4) = nan"), ("a + 1/0", "1 / 0 = inf"),
                                        ("a*(-1)**0.5", "(-1) ** 0.5 = nan"), ("a*10**400", "10 ** 400 = inf")])
def test_a_constant_part_that_is_not_a_number_is_named(text, part):
    # a part without variables is folded to one number (no node of its own): the message names it
    with pytest.raises(ExpressionError) as e:
        build(text, {"a": 1.0, "b": 2.0})
    assert str(e.value).startswith(part + ": that part is not a number"), str(e.value)
    out, leaves = build("a*exp(2)", {"a": 1.0})  # finite constants still fold
    assert out.item() == pytest.approx(math.exp(2))


def test_app_names_the_constant_part_that_is_not_a_number():
    c = autograd_app().controls
    c["expr"].value = "a*log(-1)"
    assert c["message"].visible and "log(-1) = nan" in c["message"].object.replace("\\", "")


def test_the_graph_fits_its_ranges_and_gets_room_for_its_labels():
    from playground.apps.autograd.app import COLUMN_PX, ROW_PX
    c = autograd_app().controls
    fig, plot = c["figure"], c["plot"]
    for text, columns, rows in (("a*b + tanh(c)", 3, 3), ("a*b + tanh(c*d) - a", 5, 4), ("a", 1, 1)):
        c["expr"].value = text
        nodes = c["nodes"].data
        assert max(nodes["x"]) + 1 == columns
        for x, y in zip(nodes["x"], nodes["y"]):  # each 0.8 x 0.7 box inside the visible ranges
            assert fig.x_range.start <= x - 0.4 and x + 0.4 <= fig.x_range.end, (text, x)
            assert fig.y_range.start <= y - 0.35 and y + 0.35 <= fig.y_range.end, (text, y)
        assert fig.height >= ROW_PX * rows
        assert plot.min_width >= COLUMN_PX * columns
    assert fig.tools == []  # nothing to pan or zoom: the whole graph is always in view
