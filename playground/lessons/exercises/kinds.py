"""The kinds of self-checking exercise (pure Python + numpy: runs in pytest and in Pyodide).

Three kinds, all with an ``id`` a lesson refers to (``{{ exercise: ID }}``):

* :class:`CodeExercise` — the learner writes one function. :meth:`CodeExercise.check` runs it
  on fresh random cases against a reference; when the answer is wrong it compares the
  learner's outputs with each *known mistake* (a function computing the classic wrong answer)
  and answers with that mistake's hint (wrong sign, forgot the mean, ...). Errors are reported
  with the line number in the learner's code; error messages matching a known pattern (shape
  mismatch ...) get their own hint too. ``wrong_answers`` lists, per mistake id, a piece of
  code that makes that mistake: the tests check each one gets its own hint.
* :class:`ChoiceQuestion` — one correct option; every wrong option explains itself.
* :class:`NumberQuestion` — a number within a tolerance; known wrong numbers get a hint.

Learner code runs under :mod:`.sandbox`'s time guard; the exercises themselves live in
:mod:`.bank` and are looked up through :mod:`.registry`.
"""
from __future__ import annotations

import contextlib
import io
import re
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from .sandbox import TIME_LIMIT, ExerciseTimeout, describe_error, run_code, time_guard


@dataclass
class Result:
    ok: bool
    message: str                 # Markdown shown to the learner
    diagnosis: str = ""          # "correct", a mistake id, "error", "timeout", "wrong", "shape"...
    output: str = ""             # what the code printed


@dataclass
class Mistake:
    id: str
    hint: str
    fn: Callable | None = None              # computes the wrong answer (code exercises)
    error: str | None = None                # or: a regex on the error message it causes
    value: float | None = None              # or: the wrong number (number questions)


def _as_tuple(v):
    return v if isinstance(v, tuple) else (v,)


def _close(a, b, rtol, atol):
    a, b = _as_tuple(a), _as_tuple(b)
    if len(a) != len(b):
        return False
    for x, y in zip(a, b):
        try:
            x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
        except (TypeError, ValueError):
            return False
        if x.shape != y.shape or not np.allclose(x, y, rtol=rtol, atol=atol, equal_nan=False):
            return False
    return True


def _fmt(v, digits=4):
    if isinstance(v, tuple):
        return "(" + ", ".join(_fmt(x, digits) for x in v) + ")"
    if callable(v):
        return getattr(v, "__name__", "f")
    a = np.asarray(v)
    if a.ndim == 0 and a.dtype.kind in "iu":
        return str(int(a))
    if a.ndim == 0:
        try:
            return f"{float(a):.{digits}g}"
        except (TypeError, ValueError):
            return repr(v)
    return np.array2string(a.astype(np.float64) if a.dtype.kind in "fiub" else a, precision=3,
                           threshold=8, edgeitems=2, suppress_small=True)


# ------------------------------------------------------------------ exercise kinds

@dataclass
class CodeExercise:
    id: str
    title: str
    prompt: str                      # Markdown
    func: str                        # the function the learner defines
    starter: str
    solution: str
    reference: Callable
    cases: Callable[[np.random.Generator], list]   # -> list of argument tuples
    mistakes: list[Mistake] = field(default_factory=list)
    wrong_answers: dict[str, str] = field(default_factory=dict)
    hint: str = ""
    example: tuple | None = None     # arguments used by Run
    rtol: float = 1e-5
    atol: float = 1e-7
    kind: str = "code"

    def _call(self, fn, args):
        with time_guard(TIME_LIMIT):
            return fn(*[np.copy(a) if isinstance(a, np.ndarray) else a for a in args])

    def run(self, code: str) -> Result:
        """The Run button: execute, and call the function on the example if there is one."""
        ns, printed, err = run_code(code)
        if err is not None:
            return Result(False, describe_error(err, code), "error", printed)
        fn = ns.get(self.func)
        if self.example is not None and callable(fn):
            buf = io.StringIO()
            try:
                with contextlib.redirect_stdout(buf):
                    val = self._call(fn, self.example)
            except Exception as e:  # noqa: BLE001
                return Result(False, describe_error(e, code), "error", printed + buf.getvalue())
            printed += buf.getvalue() + f"{self.func}{_fmt(self.example)} = {_fmt(val)}\n"
        return Result(True, "Ran without errors. Press **Check** to test it.", "ran", printed)

    def check(self, code: str, seed: int | None = None) -> Result:
        ns, printed, err = run_code(code)
        if err is not None:
            return self._error(err, code, printed)
        fn = ns.get(self.func)
        if not callable(fn):
            return Result(False, f"Define a function called `{self.func}` (check the spelling).",
                          "missing", printed)
        rng = np.random.default_rng(seed)
        cases = self.cases(rng)
        got, want = [], []
        for args in cases:
            try:
                g = self._call(fn, args)
            except Exception as e:  # noqa: BLE001
                return self._error(e, code, printed)
            got.append(g)
            want.append(self.reference(*args))
        if all(_close(g, w, self.rtol, self.atol) for g, w in zip(got, want)):
            return Result(True, f"**Correct!** It matched the reference on {len(cases)} fresh random "
                                f"cases, e.g. `{self.func}{_fmt(cases[0])}` = `{_fmt(got[0])}`.",
                          "correct", printed)
        for m in self.mistakes:
            if m.fn is None:
                continue
            try:
                wrong = [m.fn(*args) for args in cases]
            except Exception:  # noqa: BLE001 - that mistake cannot be what they did
                continue
            if all(_close(g, w, self.rtol, self.atol) for g, w in zip(got, wrong)):
                return Result(False, f"Not yet. {m.hint}", m.id, printed)
        i = next(k for k, (g, w) in enumerate(zip(got, want)) if not _close(g, w, self.rtol, self.atol))
        g, w = _as_tuple(got[i]), _as_tuple(want[i])
        if len(g) != len(w):
            return Result(False, f"Not yet: return {len(w)} value{'s' if len(w) > 1 else ''} "
                                 f"(you returned {len(g)}).", "arity", printed)
        for x, y in zip(g, w):
            xs, ys = np.shape(x), np.shape(y)
            if xs != ys:
                return Result(False, f"Not yet: a result has shape `{xs}` but should have shape "
                                     f"`{ys}`.", "shape", printed)
        return Result(False, f"Not yet: for `{self.func}{_fmt(cases[i])}` you returned "
                             f"`{_fmt(got[i])}`, expected `{_fmt(want[i])}`.", "wrong", printed)

    def _error(self, err, code, printed):
        text = describe_error(err, code)
        if isinstance(err, ExerciseTimeout):
            return Result(False, f"{text}. Look for a loop that never ends.", "timeout", printed)
        for m in self.mistakes:
            if m.error and re.search(m.error, f"{type(err).__name__}: {err}"):
                return Result(False, f"{text}\n\n{m.hint}", m.id, printed)
        return Result(False, text, "error", printed)


@dataclass
class ChoiceQuestion:
    id: str
    title: str
    prompt: str
    options: list[str]
    answer: int
    explanations: dict[int, str] = field(default_factory=dict)   # why each wrong option is wrong
    why: str = ""                                                # shown with "Correct!"
    hint: str = ""
    kind: str = "choice"

    @property
    def solution(self):
        return self.options[self.answer]

    def check(self, choice) -> Result:
        if choice is None or choice == "":
            return Result(False, "Pick an answer first.", "empty")
        i = self.options.index(choice) if isinstance(choice, str) else int(choice)
        if i == self.answer:
            return Result(True, f"**Correct!** {self.why}".strip(), "correct")
        return Result(False, f"Not quite. {self.explanations.get(i, 'Try another one.')}", f"option-{i}")


@dataclass
class NumberQuestion:
    id: str
    title: str
    prompt: str
    answer: float
    rtol: float = 1e-3
    mistakes: list[Mistake] = field(default_factory=list)
    why: str = ""
    hint: str = ""
    kind: str = "number"

    @property
    def solution(self):
        return f"{self.answer:g}"

    def check(self, value) -> Result:
        text = "" if value is None else str(value).strip()
        if not text:
            return Result(False, "Type a number first.", "empty")
        try:
            v = float(text.replace(",", "").replace("_", ""))
        except ValueError:
            return Result(False, f"`{value}` is not a number.", "nan")
        if not np.isfinite(v):
            return Result(False, f"`{text}` is not a finite number.", "nan")
        if np.isclose(v, self.answer, rtol=self.rtol, atol=0):
            return Result(True, f"**Correct!** {self.why}".strip(), "correct")
        for m in self.mistakes:
            if m.value is not None and np.isclose(v, m.value, rtol=self.rtol, atol=0):
                return Result(False, f"Not quite. {m.hint}", m.id)
        direction = "too big" if v > self.answer else "too small"
        return Result(False, f"Not quite: {v:g} is {direction}.", "wrong")
