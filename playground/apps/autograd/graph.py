"""The autograd explorer's model, no Panel in it: a safe parser for expressions over a few
scalars, and the engine graph they build with its backward pass one node at a time.

The expression is parsed with ``ast`` and only a whitelist of nodes and functions is
accepted (numbers, the variables, + - * / **, unary minus and a few functions); nothing
is ever passed to ``eval``. Evaluating the parsed tree builds a real ``engine`` graph;
the backward steps call each engine node's own ``grad_fn`` so what you see is exactly
what ``loss.backward()`` does. The app is ``playground.apps.autograd.app``.
"""
from __future__ import annotations

import ast
import math

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
                return _constant(node, _BINOPS[type(node.op)](np.float64(x), y))
            if not isinstance(x, Tensor):
                x = Tensor(np.float64(x))
            return _BINOPS[type(node.op)](x, y)
        if isinstance(node, ast.Call):
            x = ev(node.args[0])
            if isinstance(x, Tensor):
                return FUNCTIONS[node.func.id](x)
            return _constant(node, FUNCTIONS[node.func.id](Tensor(np.float64(x))).data)
        raise ExpressionError(f"{type(node).__name__} is not allowed.")  # unreachable

    with np.errstate(all="ignore"):
        out = ev(tree)
    if not isinstance(out, Tensor) or not out.requires_grad:
        raise ExpressionError("The expression uses no variable, so there is nothing to differentiate; "
                              f"use some of {', '.join(VARIABLES)}.")
    return out, leaves


def _constant(node, value) -> float:
    """A part without variables, folded to one number (it is no node of the graph): it must be
    a finite number, or the learner is told which part is not."""
    v = float(value)
    if not math.isfinite(v):
        raise ExpressionError(f"{ast.unparse(node)} = {fmt(v)}: that part is not a number (a division "
                              "by zero, the log or square root of a negative number, or an overflow). "
                              "Change it.")
    return v


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
                stack.extend((p, False) for p in reversed(t.parents))
        for i, t in enumerate(order):
            index[id(t)] = i
        for i, t in enumerate(order):
            if t.parents:
                kind, label = "op", t.op
            elif id(t) in names:
                kind, label = "var", names[id(t)]
            else:
                kind, label = "const", fmt(float(t.data))
            self.nodes.append({"tensor": t, "kind": kind, "label": label,
                               "parents": [index[id(p)] for p in t.parents]})
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
            self.last_message = f"∂out/∂{name} = {fmt(g)} (a leaf: its .grad)"
            return self.last_message
        t = nd["tensor"]
        with np.errstate(all="ignore"):
            parent_grads = t.grad_fn(np.asarray(g, dtype=t.data.dtype))
        lines = []
        for p, pg in zip(nd["parents"], parent_grads):
            if pg is None or not self.nodes[p]["tensor"].requires_grad:
                continue
            pg = float(np.asarray(pg).sum())
            local = pg / g if g not in (0.0,) and math.isfinite(g) else float("nan")
            self.grads[p] = self.grads.get(p, 0.0) + pg
            local_txt = fmt(local) if math.isfinite(local) else "·"
            lines.append(f"∂out/∂{self.name(p)} += ∂out/∂{name} · ∂{name}/∂{self.name(p)} "
                         f"= {fmt(g)} × {local_txt} = {fmt(pg)}")
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
            args = ", ".join(fmt(float(self.nodes[p]["tensor"].data)) for p in nd["parents"])
            where = f"{self.name(i)}: {nd['label']}({args}) = {fmt(value)}" if nd["parents"] else self.name(i)
            return (f"out = {fmt(float(self.out.data))}: the value stops being a number at {where} "
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


def fmt(v):
    """A number as the graph shows it (4 significant digits; ? for none yet)."""
    if v is None:
        return "?"
    if not math.isfinite(v):
        return str(v)
    return f"{v:.4g}"
