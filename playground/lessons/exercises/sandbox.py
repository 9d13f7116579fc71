"""Running a learner's code: a fresh namespace (numpy as ``np``), its printout captured, its
errors described with the line in the learner's code, and a time guard.

The guard is a ``sys.settrace`` hook on the learner's own frames that raises
:class:`ExerciseTimeout` once the time is up (no threads needed, so it works in Pyodide too;
a single long numpy call is not interruptible).
"""
from __future__ import annotations

import contextlib
import io
import sys
import time
import traceback
from typing import Any

import numpy as np

FILENAME = "<your code>"
TIME_LIMIT = 3.0


class ExerciseTimeout(Exception):
    """The learner's code ran past the time limit (an endless loop?)."""


@contextlib.contextmanager
def time_guard(seconds):
    deadline = time.monotonic() + seconds

    def local(frame, event, arg):
        if time.monotonic() > deadline:
            raise ExerciseTimeout(f"your code ran for more than {seconds:g} s (an endless loop?)")
        return local

    def glob(frame, event, arg):
        return local if frame.f_code.co_filename == FILENAME else None

    old = sys.gettrace()
    sys.settrace(glob)
    try:
        yield
    finally:
        sys.settrace(old)


def locate(exc: BaseException, code: str) -> str:
    """'line N: `source`' for the deepest frame of the learner's code in the traceback."""
    lines = code.splitlines()
    hit = None
    for fr in traceback.extract_tb(exc.__traceback__):
        if fr.filename == FILENAME:
            hit = fr.lineno
    if hit is None and isinstance(exc, SyntaxError) and exc.lineno:
        hit = exc.lineno
    if hit is None:
        return ""
    src = lines[hit - 1].strip() if 0 < hit <= len(lines) else ""
    return f"line {hit}: `{src}`" if src else f"line {hit}"


def describe_error(exc, code):
    where = locate(exc, code)
    name = type(exc).__name__
    msg = exc.msg if isinstance(exc, SyntaxError) else str(exc)
    return f"**{name}** {('at ' + where) if where else ''}: {msg}".strip()


def run_code(code: str, seconds: float = TIME_LIMIT):
    """Execute ``code`` in a fresh namespace (numpy as ``np``); returns (namespace, printed, error)."""
    ns: dict[str, Any] = {"np": np, "__name__": "__lesson__"}
    out = io.StringIO()
    try:
        compiled = compile(code, FILENAME, "exec")
        with contextlib.redirect_stdout(out), time_guard(seconds):
            exec(compiled, ns)
    except BaseException as e:  # noqa: BLE001 - the learner's code may raise anything
        if isinstance(e, KeyboardInterrupt):
            raise
        return ns, out.getvalue(), e
    return ns, out.getvalue(), None
