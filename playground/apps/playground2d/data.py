"""The playground's points: TF Playground's regression sets, CSV uploads, input features."""
from __future__ import annotations

import io
import math

import numpy as np

CLASSIFICATION_SETS = ("circle", "xor", "gaussians", "spiral", "moons")
REGRESSION_SETS = ("plane", "hills")
# name -> (label shown, numpy expression of the data columns x, y in about [-1, 1])
FEATURES = {
    "x": ("x", "x"), "y": ("y", "y"), "x2": ("x²", "x**2"), "y2": ("y²", "y**2"),
    "xy": ("xy", "x*y"), "sinx": ("sin(πx)", "np.sin(np.pi*x)"), "siny": ("sin(πy)", "np.sin(np.pi*y)"),
}
N_POINTS = 400
MAX_CSV_POINTS = 5000
MIN_CSV_POINTS = 10  # with the training ratio in [0.1, 0.9] both splits keep >= 1 point


class CSVError(ValueError):
    """A malformed upload; the message names the line."""


def make_regression(name, n, noise, seed):
    """TF Playground's regression sets: a tilted plane, or a few Gaussian hills; y in [-1, 1]."""
    rng = np.random.default_rng(seed)
    X = rng.uniform(-1, 1, (n, 2)).astype(np.float32)
    if name == "plane":
        y = (X[:, 0] + X[:, 1]) / 2
    elif name == "hills":
        centres = np.array([[-.6, .6, 1], [.6, .6, -1], [-.6, -.6, -1], [.6, -.6, 1], [0, 0, 1]])
        y = np.zeros(n)
        for cx, cy, s in centres:
            y += s * np.exp(-((X[:, 0] - cx) ** 2 + (X[:, 1] - cy) ** 2) / (2 * 0.12))
        y = np.clip(y, -1, 1)
    else:
        raise ValueError(f"unknown regression set {name!r}; choose one of {REGRESSION_SETS}")
    y = y + rng.normal(0, 1, n) * noise * 0.5
    return X, y.astype(np.float32)


def plural(n, word):
    return f"{n} {word}" + ("" if n == 1 else "s")


def read_upload(name, data, problem="classification"):
    """An uploaded file judged on its own name and bytes: (X, y, message). Raises CSVError
    with a message that starts with the file's name."""
    name = name or "your file"
    if not data:
        raise CSVError(f"{name}: the file is empty; it needs lines of x,y,label.")
    try:
        X, y = parse_csv(data, problem)
    except CSVError as e:
        msg = str(e)
        raise CSVError(f"{name}: {msg[0].lower()}{msg[1:]}") from None
    return X, y, f"Loaded {plural(len(y), 'point')} from {name}."


def parse_csv(text, problem="classification"):
    """Parse ``x,y,label`` lines (an optional header, ``#`` comments and blank lines allowed).

    Returns X float32 (n, 2), y (int64 0/1 for classification, float32 for regression).
    Raises CSVError naming the first bad line."""
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8-sig")
        except UnicodeDecodeError:
            raise CSVError("The file is not UTF-8 text; save it as a plain .csv file.") from None
    rows = []
    first = _first_content_line(text)
    for lineno, raw in enumerate(io.StringIO(text), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        parts = [p.strip() for p in line.replace(";", ",").replace("\t", ",").split(",")]
        if not rows and lineno == first and not _is_number(parts[0]):
            continue  # a header row such as "x,y,label"
        if len(parts) != 3:
            raise CSVError(f"Line {lineno}: expected 3 values (x, y, label), found {len(parts)}: {line[:60]!r}")
        vals = []
        for col, p in zip(("x", "y", "label"), parts):
            if not _is_number(p):
                raise CSVError(f"Line {lineno}: the {col} value {p[:30]!r} is not a number")
            v = float(p)
            if not math.isfinite(v):
                raise CSVError(f"Line {lineno}: the {col} value {p!r} is not a finite number")
            vals.append(v)
        if problem == "classification" and vals[2] not in (0.0, 1.0, -1.0):
            raise CSVError(f"Line {lineno}: the label {parts[2]!r} must be 0 or 1 (or -1 and 1) "
                           f"for classification")
        rows.append(vals)
        if len(rows) > MAX_CSV_POINTS:
            raise CSVError(f"Line {lineno}: too many points (at most {MAX_CSV_POINTS}).")
    if not rows:
        raise CSVError("The file has no data lines; it needs lines of x,y,label.")
    if len(rows) < MIN_CSV_POINTS:
        raise CSVError(f"The file has {plural(len(rows), 'data line')}; at least {MIN_CSV_POINTS} points "
                       "are needed (so that both the training and the test split get some).")
    a = np.array(rows, dtype=np.float64)
    X = a[:, :2]
    span = np.abs(X).max()
    if span > 1:  # bring the points into the playground's [-1, 1] square
        X = X / span
    if problem == "classification":
        y = (a[:, 2] > 0).astype(np.int64)
        if len(set(y.tolist())) < 2:
            raise CSVError("All points have the same label; classification needs both 0 and 1.")
    else:
        y = a[:, 2].astype(np.float32)
    return X.astype(np.float32), y


def _first_content_line(text):
    for i, raw in enumerate(io.StringIO(text), 1):
        s = raw.strip()
        if s and not s.startswith("#"):
            return i
    return 0


def _is_number(s):
    try:
        float(s)
        return True
    except ValueError:
        return False


def featurize(X, features):
    x, y = X[:, 0], X[:, 1]
    env = {"x": x, "y": y, "np": np}
    return np.stack([eval(FEATURES[f][1], {"__builtins__": {}}, env)  # noqa: S307 - fixed table
                     for f in features], 1).astype(np.float32)
