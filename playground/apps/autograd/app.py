"""Autograd explorer: type an expression over a few scalars, see the engine's computation
graph, and step through the backward pass one node at a time (the chain rule, visible).

The parser and the graph (no Panel) are in ``graph.py``; this module is the page.
"""
from __future__ import annotations

import re

import numpy as np

from playground.apps.autograd.graph import FUNCTIONS, VARIABLES, ExpressionError, Graph, build, fmt

__all__ = ["autograd_app", "ExpressionError", "Graph", "build"]
COLUMN_PX, ROW_PX = 100, 80   # the least room one node gets: its three labels fit in 11 px type


def _plain(text: str) -> str:
    """``text`` escaped for the Markdown alert, so ``__import__`` or ``*`` show as typed."""
    return re.sub(r"([\\`*_\[\]<>#|~])", r"\\\1", text)


# ---------------------------------------------------------------------------- the app

def autograd_app():
    import panel as pn
    from bokeh.models import ColumnDataSource, LabelSet, Range1d
    from playground.ui.layout import wrap_row
    from playground.ui.plots import figure

    from playground.ui.session import document_safe

    pn.extension()
    expr = pn.widgets.TextInput(label="Expression", value="a*b + tanh(c)", width=280)
    inputs = {v: pn.widgets.FloatInput(label=v, value=val, step=0.1, width=64)
              for v, val in zip(VARIABLES, (2.0, -3.0, 0.5, 1.0))}
    step_btn = pn.widgets.Button(label="Backward: one node", button_type="primary")
    run_btn = pn.widgets.Button(label="Backward: all")
    reset_btn = pn.widgets.Button(label="Reset gradients")
    message = pn.pane.Alert("", alert_type="danger", visible=False)
    chain = pn.pane.Str("", styles={"font-size": "14px"}, stylesheets=["pre { white-space: pre-wrap; }"],
                        sizing_mode="stretch_width")
    result = pn.pane.Markdown("")

    nodes_src = ColumnDataSource(dict(x=[], y=[], label=[], value=[], grad=[], color=[], line=[]))
    edges_src = ColumnDataSource(dict(xs=[], ys=[]))
    # fixed ranges, set to fit each graph (nothing to pan or zoom); the plot fills the column's
    # width and is never narrower than its columns need (then its box scrolls sideways)
    fig = figure(height=300, tools="", toolbar_location=None, title="Computation graph: inputs → output",
                 x_range=Range1d(-0.55, 2.55), y_range=Range1d(-1.5, 1.5), sizing_mode="stretch_width",
                 x_axis_location=None, y_axis_location=None, min_border=10)
    plot = pn.pane.Bokeh(fig, sizing_mode="stretch_width")
    fig.grid.visible = False
    fig.multi_line("xs", "ys", source=edges_src, line_color="#999", line_width=2)
    fig.rect("x", "y", width=0.8, height=0.7, source=nodes_src, fill_color="color",
             line_color="line", line_width=3)
    for field, dy, style in (("label", 0.17, "bold"), ("value", -0.02, "normal"), ("grad", -0.2, "normal")):
        fig.add_layout(LabelSet(x="x", y="y", text=field, source=nodes_src, text_align="center",
                                text_font_size="11px", text_font_style=style,
                                text_baseline="middle", y_offset=int(dy * 100)))

    state = {"graph": None}

    def redraw():
        g = state["graph"]
        if g is None:
            nodes_src.data = dict(x=[], y=[], label=[], value=[], grad=[], color=[], line=[])
            edges_src.data = dict(xs=[], ys=[])
            return
        xy = g.layout()
        cols = {"x": [], "y": [], "label": [], "value": [], "grad": [], "color": [], "line": []}
        for i, nd in enumerate(g.nodes):
            x, y = xy[i]
            gr = g.grad(i) if nd["tensor"].requires_grad else None
            cols["x"].append(x)
            cols["y"].append(y)
            cols["label"].append(nd["label"] if nd["kind"] != "op" else f"{nd['label']}")
            cols["value"].append(f"val {fmt(float(nd['tensor'].data))}")
            cols["grad"].append("" if not nd["tensor"].requires_grad else f"grad {fmt(gr)}")
            cols["color"].append({"var": "#cfe8ff", "const": "#eeeeee", "op": "#fff2cc"}[nd["kind"]])
            cols["line"].append("#d62728" if i == g.current else "#555555")
        xs, ys = [], []
        for i, nd in enumerate(g.nodes):
            for p in nd["parents"]:
                xs.append([xy[p][0] + 0.4, xy[i][0] - 0.4])
                ys.append([xy[p][1], xy[i][1]])
        nodes_src.data = cols
        edges_src.data = dict(xs=xs, ys=ys)
        depth = max(nd["depth"] for nd in g.nodes)
        rows = max(sum(nd["depth"] == d for nd in g.nodes) for d in range(depth + 1))
        fig.x_range.update(start=-0.55, end=depth + 0.55)
        fig.y_range.update(start=-rows / 2, end=rows / 2)
        fig.height = ROW_PX * rows + 40
        plot.min_width = int(COLUMN_PX * (depth + 1.1))
        chain.object = g.last_message

    @document_safe  # the expression box's Enter key arrives without the document lock
    def rebuild(*_):
        try:
            out, leaves = build(expr.value, {k: w.value for k, w in inputs.items()})
        except ExpressionError as e:
            state["graph"] = None
            message.object, message.alert_type, message.visible = _plain(str(e)), "danger", True
            result.object, chain.object = "", ""
            redraw()
            return
        g = Graph(out, leaves)
        state["graph"] = g
        why = g.not_a_number()  # not an error: the graph still shows where it happens
        message.object, message.alert_type, message.visible = _plain(why or ""), "warning", bool(why)
        with np.errstate(all="ignore"):
            for t in leaves.values():
                t.grad = None
            try:
                out.backward()
                grads = ", ".join(f"∂out/∂{n} = {fmt(float(t.grad))}" for n, t in sorted(leaves.items()))
            except Exception:  # a non-finite output: the step-through still shows why
                grads = "non-finite output"
        result.object = f"**out = {fmt(float(out.data))}**  ·  engine's `backward()`: {grads}"
        redraw()

    def on_step(_):
        if state["graph"] is not None:
            state["graph"].step()
            redraw()

    def on_run(_):
        if state["graph"] is not None:
            state["graph"].run()
            redraw()

    def on_reset(_):
        if state["graph"] is not None:
            state["graph"].reset()
            redraw()

    expr.param.watch(rebuild, "value")
    for w in inputs.values():
        w.param.watch(rebuild, "value")
    step_btn.on_click(on_step)
    run_btn.on_click(on_run)
    reset_btn.on_click(on_reset)
    rebuild()

    help_md = pn.pane.Markdown(
        f"Variables: {', '.join(VARIABLES)}. Operators: `+ - * / **`. Functions: "
        f"{', '.join(f'`{f}`' for f in FUNCTIONS)}. Subtraction shows as `+` of a `neg` node "
        "because that is how the engine computes it. A graph wider than the page scrolls sideways.")
    layout = pn.Column(
        "## Autograd explorer",
        wrap_row(expr, *inputs.values()), help_md, message, result,
        wrap_row(step_btn, run_btn, reset_btn),
        pn.Column(plot, sizing_mode="stretch_width", styles={"overflow-x": "auto"}), chain,
        sizing_mode="stretch_width")
    # handles for tests
    layout.controls = dict(expr=expr, inputs=inputs, step=step_btn, run=run_btn, reset=reset_btn,
                           message=message, chain=chain, result=result, nodes=nodes_src,
                           edges=edges_src, state=state, figure=fig, plot=plot)
    return layout
