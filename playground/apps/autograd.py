"""Autograd explorer: type an expression over a few scalars, see the engine's computation
graph, and step through the backward pass one node at a time (the chain rule, visible).

The expression is parsed with ``ast`` and only a whitelist of nodes and functions is
accepted (numbers, the variables, + - * / **, unary minus and a few functions); nothing
is ever passed to ``eval``. Evaluating the parsed tree builds a real ``engine`` graph;
the backward steps call each engine node's own ``_backward`` so what you see is exactly
what ``loss.backward()`` does.
"""
from __future__ import annotations

import ast
import math
import re

import numpy as np

from engine import Tensor

VARIABLES = ("a", "b", "c", "d")
FUNCTIONS = {
    "tanh": Tensor.tanh, "exp": Tensor.exp, "log": Tensor.log, "relu": Tensor.relu,
    "sigmoid": Tensor.sigmoid, "sqrt": Tensor.sqrt, "abs": Tensor.abs,
}
_BINOPS = {ast.Add: lambda x, y: x + y, ast.Sub: lambda x, y: x - y,
           ast.Mult: lambda x, y: x * y, ast.Div: lambda x, y: x / y,
           ast.Pow: lambda x, y: x ** y}
MAX_LENGTH = 200
MAX_NODES = 60


class ExpressionError(ValueError):
    """The expression cannot be used; the message says why, in plain words."""


def parse_expression(text: str) -> ast.Expression:
    """Parse and check ``text``; raise ExpressionError unless every node is whitelisted."""
    text = (text or "").strip()
    if not text:
        raise ExpressionError("Type an expression, for example a*b + tanh(c).")
    if len(text) > MAX_LENGTH:
        raise ExpressionError(f"The expression is too long ({len(text)} characters, at most {MAX_LENGTH}).")
    try:
        tree = ast.parse(text, mode="eval")
    except SyntaxError as e:
        col = f" at column {e.offset}" if e.offset else ""
        raise ExpressionError(f"That is not a valid expression{col}: {e.msg}.") from None
    count = 0
    for node in ast.walk(tree):
        count += 1
        if isinstance(node, (ast.Expression, ast.Load)) or type(node) in _BINOPS:
            continue
        if isinstance(node, (ast.USub, ast.UAdd)):
            continue
        if isinstance(node, ast.BinOp):
            if type(node.op) not in _BINOPS:
                raise ExpressionError(f"The operator {type(node.op).__name__} is not allowed; "
                                      f"use + - * / **.")
        elif isinstance(node, ast.UnaryOp):
            if not isinstance(node.op, (ast.USub, ast.UAdd)):
                raise ExpressionError("Only unary minus and plus are allowed.")
        elif isinstance(node, ast.Constant):
            if isinstance(node.value, bool) or not isinstance(node.value, (int, float)):
                raise ExpressionError(f"Only numbers are allowed as constants, not {node.value!r}.")
        elif isinstance(node, ast.Name):
            if node.id not in VARIABLES and node.id not in FUNCTIONS:
                raise ExpressionError(f"Unknown name {node.id!r}: the variables are "
                                      f"{', '.join(VARIABLES)}; the functions are {', '.join(FUNCTIONS)}.")
        elif isinstance(node, ast.Call):
            if not isinstance(node.func, ast.Name) or node.func.id not in FUNCTIONS:
                what = node.func.id if isinstance(node.func, ast.Name) else ast.unparse(node.func)
                raise ExpressionError(f"Calling {what!r} is not allowed; the functions are "
                                      f"{', '.join(FUNCTIONS)}.")
            if node.keywords or len(node.args) != 1:
                raise ExpressionError(f"{node.func.id}() takes exactly one argument.")
        else:
            raise ExpressionError(f"{type(node).__name__} is not allowed here: only numbers, the "
                                  f"variables {', '.join(VARIABLES)}, + - * / ** and "
                                  f"{', '.join(FUNCTIONS)}().")
    if count > MAX_NODES:
        raise ExpressionError(f"The expression is too big ({count} parts, at most {MAX_NODES}).")
    return tree


def build(text: str, values: dict):
    """Parse ``text`` and evaluate it with engine Tensors. Returns (output, leaves), where
    leaves maps each used variable name to its Tensor (requires_grad=True)."""
    tree = parse_expression(text)
    leaves = {}

    def ev(node):
        if isinstance(node, ast.Expression):
            return ev(node.body)
        if isinstance(node, ast.Constant):
            return float(node.value)
        if isinstance(node, ast.Name):
            if node.id in FUNCTIONS:
                raise ExpressionError(f"{node.id} is a function: call it, e.g. {node.id}(a).")
            if node.id not in leaves:
                value = values.get(node.id, 0.0)
                if value is None:  # the learner emptied the variable's box
                    raise ExpressionError(f"{node.id} has no value: type a number in its box.")
                leaves[node.id] = Tensor(np.float64(value), requires_grad=True)
            return leaves[node.id]
        if isinstance(node, ast.UnaryOp):
            x = ev(node.operand)
            return -x if isinstance(node.op, ast.USub) else x
        if isinstance(node, ast.BinOp):
            x, y = ev(node.left), ev(node.right)
            if isinstance(node.op, ast.Pow) and isinstance(x, Tensor) and not isinstance(y, Tensor):
                return x ** y
            if not isinstance(x, Tensor) and not isinstance(y, Tensor):
                try:
                    return float(_BINOPS[type(node.op)](x, y))
                except (ZeroDivisionError, OverflowError) as e:
                    raise ExpressionError(f"{ast.unparse(node)}: {e}.") from None
            if not isinstance(x, Tensor):
                x = Tensor(np.float64(x))
            return _BINOPS[type(node.op)](x, y)
        if isinstance(node, ast.Call):
            x = ev(node.args[0])
            x = x if isinstance(x, Tensor) else Tensor(np.float64(x))
            return FUNCTIONS[node.func.id](x)
        raise ExpressionError(f"{type(node).__name__} is not allowed.")  # unreachable

    with np.errstate(all="ignore"):
        out = ev(tree)
    if not isinstance(out, Tensor) or not out.requires_grad:
        raise ExpressionError("The expression uses no variable, so there is nothing to differentiate; "
                              f"use some of {', '.join(VARIABLES)}.")
    return out, leaves


class Graph:
    """The engine graph under ``out`` as plain nodes, plus a step-by-step backward pass."""

    def __init__(self, out: Tensor, leaves: dict):
        self.out = out
        names = {id(t): n for n, t in leaves.items()}
        self.nodes, index = [], {}
        order, stack = [], [(out, False)]
        while stack:  # post-order DFS: parents before children
            t, done = stack.pop()
            if done:
                order.append(t)
            elif id(t) not in index:
                index[id(t)] = None
                stack.append((t, True))
                stack.extend((p, False) for p in reversed(t._parents))
        for i, t in enumerate(order):
            index[id(t)] = i
        for i, t in enumerate(order):
            if t._parents:
                kind, label = "op", t.op
            elif id(t) in names:
                kind, label = "var", names[id(t)]
            else:
                kind, label = "const", _fmt(float(t.data))
            self.nodes.append({"tensor": t, "kind": kind, "label": label,
                               "parents": [index[id(p)] for p in t._parents]})
        depth = []
        for nd in self.nodes:
            depth.append(1 + max((depth[p] for p in nd["parents"]), default=-1))
        for nd, d in zip(self.nodes, depth):
            nd["depth"] = d
        self.reset()

    def reset(self):
        """Forget all gradients: the backward pass starts again from the output."""
        self.grads = {len(self.nodes) - 1: 1.0}
        self.done = set()
        self.pending = [i for i in reversed(range(len(self.nodes)))
                        if self.nodes[i]["tensor"].requires_grad]
        self.current = None
        self.last_message = "∂out/∂out = 1: the backward pass starts at the output."

    @property
    def finished(self):
        return not self.pending

    def step(self) -> str:
        """Propagate the gradient through one node; return the chain-rule line shown."""
        if not self.pending:
            self.current = None
            self.last_message = "Backward pass complete: every variable holds its gradient."
            return self.last_message
        i = self.pending.pop(0)
        self.current, self.done = i, self.done | {i}
        nd = self.nodes[i]
        g = self.grads.get(i, 0.0)
        name = self.name(i)
        if not nd["parents"]:
            self.last_message = f"∂out/∂{name} = {_fmt(g)} (a leaf: its .grad)"
            return self.last_message
        t = nd["tensor"]
        with np.errstate(all="ignore"):
            parent_grads = t._backward(np.asarray(g, dtype=t.data.dtype))
        lines = []
        for p, pg in zip(nd["parents"], parent_grads):
            if pg is None or not self.nodes[p]["tensor"].requires_grad:
                continue
            pg = float(np.asarray(pg).sum())
            local = pg / g if g not in (0.0,) and math.isfinite(g) else float("nan")
            self.grads[p] = self.grads.get(p, 0.0) + pg
            local_txt = _fmt(local) if math.isfinite(local) else "·"
            lines.append(f"∂out/∂{self.name(p)} += ∂out/∂{name} · ∂{name}/∂{self.name(p)} "
                         f"= {_fmt(g)} × {local_txt} = {_fmt(pg)}")
        self.last_message = "\n".join(lines) or f"{name}: no gradient flows further."
        return self.last_message

    def run(self):
        while self.pending:
            self.step()
        self.step()

    def not_a_number(self) -> str | None:
        """Why the output is nan or ±inf, in plain words (the first node that is), or None."""
        for i, nd in enumerate(self.nodes):
            value = float(nd["tensor"].data)
            if math.isfinite(value):
                continue
            args = ", ".join(_fmt(float(self.nodes[p]["tensor"].data)) for p in nd["parents"])
            where = f"{self.name(i)}: {nd['label']}({args}) = {_fmt(value)}" if nd["parents"] else self.name(i)
            return (f"out = {_fmt(float(self.out.data))}: the value stops being a number at {where} "
                    "(a division by zero, the log or square root of a negative number, or an "
                    "overflow). The gradients through it are not numbers either; change the "
                    "inputs or the expression.")
        return None

    def name(self, i):
        nd = self.nodes[i]
        if nd["kind"] != "op":
            return nd["label"]
        return f"n{i}[{nd['label']}]"

    def grad(self, i):
        return self.grads.get(i) if (i in self.done or i == len(self.nodes) - 1) else None

    def layout(self):
        """x = depth, y spread within each depth column."""
        cols = {}
        for i, nd in enumerate(self.nodes):
            cols.setdefault(nd["depth"], []).append(i)
        xy = {}
        for d, ids in cols.items():
            for k, i in enumerate(ids):
                xy[i] = (float(d), (len(ids) - 1) / 2 - k)
        return xy


def _plain(text: str) -> str:
    """``text`` escaped for the Markdown alert, so ``__import__`` or ``*`` show as typed."""
    return re.sub(r"([\\`*_\[\]<>#|~])", r"\\\1", text)


def _fmt(v):
    if v is None:
        return "?"
    if not math.isfinite(v):
        return str(v)
    return f"{v:.4g}"


# ---------------------------------------------------------------------------- the app

def autograd_app():
    import panel as pn
    from bokeh.models import ColumnDataSource, LabelSet
    from playground.plots import figure

    from playground.trainer import document_safe

    pn.extension()
    expr = pn.widgets.TextInput(label="Expression", value="a*b + tanh(c)", width=320)
    inputs = {v: pn.widgets.FloatInput(label=v, value=val, step=0.1, width=80)
              for v, val in zip(VARIABLES, (2.0, -3.0, 0.5, 1.0))}
    step_btn = pn.widgets.Button(label="Backward: one node", button_type="primary")
    run_btn = pn.widgets.Button(label="Backward: all")
    reset_btn = pn.widgets.Button(label="Reset gradients")
    message = pn.pane.Alert("", alert_type="danger", visible=False)
    chain = pn.pane.Str("", styles={"font-size": "14px"})
    result = pn.pane.Markdown("")

    nodes_src = ColumnDataSource(dict(x=[], y=[], label=[], value=[], grad=[], color=[], line=[]))
    edges_src = ColumnDataSource(dict(xs=[], ys=[]))
    fig = figure(height=380, width=760, toolbar_location=None, title="Computation graph "
                 "(left: inputs → right: output)", x_axis_location=None, y_axis_location=None)
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
            cols["value"].append(f"val {_fmt(float(nd['tensor'].data))}")
            cols["grad"].append("" if not nd["tensor"].requires_grad else f"grad {_fmt(gr)}")
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
        fig.x_range.start, fig.x_range.end = -0.6, depth + 0.6
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
                grads = ", ".join(f"∂out/∂{n} = {_fmt(float(t.grad))}" for n, t in sorted(leaves.items()))
            except Exception:  # a non-finite output: the step-through still shows why
                grads = "non-finite output"
        result.object = f"**out = {_fmt(float(out.data))}**  ·  engine's `backward()`: {grads}"
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
        "because that is how the engine computes it.")
    layout = pn.Column(
        "## Autograd explorer",
        pn.Row(expr, *inputs.values()), help_md, message, result,
        pn.Row(step_btn, run_btn, reset_btn), pn.pane.Bokeh(fig), chain,
        sizing_mode="stretch_width")
    # handles for tests
    layout.controls = dict(expr=expr, inputs=inputs, step=step_btn, run=run_btn, reset=reset_btn,
                           message=message, chain=chain, result=result, nodes=nodes_src,
                           edges=edges_src, state=state)
    return layout


if __name__.startswith("bokeh"):
    autograd_app().servable(title="Descent · autograd explorer")
