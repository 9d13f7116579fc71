"""Save and load models: one `.npz` file, no pickle.

The file holds every array of `model.state_dict()` (PyTorch's names and shapes), plus
`__spec__`, the architecture as JSON (`model.spec()`), and `__format__`, the marker
"descent-model/1". Loading never unpickles (`allow_pickle=False`), checks everything
before touching a model, and raises `ModelFileError` saying what is wrong.

The weights load straight into PyTorch:

    import torch
    from engine import io
    net = torch.nn.Sequential(torch.nn.Linear(784, 256), torch.nn.ReLU(), torch.nn.Linear(256, 10))
    net.load_state_dict({k: torch.from_numpy(v) for k, v in io.torch_state_dict("digits.npz").items()})

or let `io.to_torch("digits.npz", torch)` build that torch module from the spec for you.
"""
import json
import os
from io import BytesIO

import numpy as np

from . import nn

FORMAT = "descent-model/1"
_MAGIC = (b"PK\x03\x04", b"PK\x05\x06")  # a zip archive (.npz), or an empty one

__all__ = ["ModelFileError", "FORMAT", "save", "dumps", "load", "load_into", "torch_state_dict",
           "to_torch", "model_size"]


class ModelFileError(ValueError):
    """A model file that cannot be loaded (damaged, not ours, or for another architecture)."""


# -- writing ------------------------------------------------------------------------------
def dumps(model):
    """The model file's bytes (for the browser: offer them as a download)."""
    try:
        spec = model.spec()
    except TypeError:  # a custom Module without a spec: weights only, use load_into
        spec = None
    buf = BytesIO()
    np.savez(buf, allow_pickle=False, __format__=np.array(FORMAT),
             __spec__=np.array(json.dumps(spec)), **model.state_dict())
    return buf.getvalue()


def save(model, path_or_file):
    """Write the model to a path or a binary file object; returns the number of bytes."""
    data = dumps(model)
    if hasattr(path_or_file, "write"):
        path_or_file.write(data)
    else:
        with open(path_or_file, "wb") as f:
            f.write(data)
    return len(data)


def model_size(src):
    """Size in bytes of a saved model (path, file bytes, or a model, which is serialised)."""
    if isinstance(src, nn.Module):
        return len(dumps(src))
    if isinstance(src, (bytes, bytearray, memoryview)):
        return len(src)
    return os.path.getsize(src)


# -- reading ------------------------------------------------------------------------------
def _bytes(src):
    if isinstance(src, (bytes, bytearray, memoryview)):
        return bytes(src)
    if hasattr(src, "read"):
        return src.read()
    if isinstance(src, (str, os.PathLike)):
        with open(src, "rb") as f:
            return f.read()
    raise TypeError(f"expected a path, a binary file or bytes, got {type(src).__name__}")


def _parse(src):
    """(spec or None, {name: array}) from a model file, or ModelFileError."""
    data = _bytes(src)
    if not data:
        raise ModelFileError("not a Descent model file: it is empty (0 bytes)")
    if data[:4] not in _MAGIC:
        raise ModelFileError(f"not a Descent model file: not an .npz archive "
                             f"(it starts with {data[:8]!r})")
    try:
        with np.load(BytesIO(data), allow_pickle=False) as z:
            arrays = {k: z[k] for k in z.files}  # reads every member: zip CRCs catch damage
    except ValueError as e:
        if "allow_pickle" in str(e):
            raise ModelFileError("refused: the file contains pickled Python objects, which can "
                                 "run code when loaded; Descent model files hold plain arrays "
                                 "only") from None
        raise ModelFileError(f"not a Descent model file: truncated or corrupted ({e})") from None
    except Exception as e:  # BadZipFile, EOFError, zlib.error, ...: whatever damage trips
        raise ModelFileError(f"not a Descent model file: truncated or corrupted "
                             f"({type(e).__name__}: {e})") from None
    fmt = arrays.pop("__format__", None)
    if fmt is None:
        raise ModelFileError("not a Descent model file: no '__format__' marker "
                             "(a plain .npz, e.g. from np.savez?)")
    if fmt.shape != () or fmt.dtype.kind != "U" or str(fmt) != FORMAT:
        raise ModelFileError(f"unsupported model format {str(fmt)[:40]!r}: "
                             f"this version of Descent reads {FORMAT!r}")
    raw = arrays.pop("__spec__", None)
    try:
        if raw is None or raw.dtype.kind != "U":
            raise ValueError
        spec = json.loads(str(raw))
    except ValueError:
        raise ModelFileError("damaged model file: '__spec__' (the architecture) is missing "
                             "or not valid JSON") from None
    return spec, arrays


def _describe(spec, other=None):
    """Linear(784→128): in→out, then the args (only those differing from `other`'s)."""
    args = dict(spec.get("args", {})) if isinstance(spec, dict) else {}
    parts = []
    for a, b in (("in_features", "out_features"), ("in_channels", "out_channels")):
        if a in args and b in args:
            parts.append(f"{args.pop(a)}→{args.pop(b)}")
    if other is not None:
        theirs = other.get("args", {})
        args = {k: v for k, v in args.items() if theirs.get(k, ...) != v}
    parts += [f"{k}={v}" for k, v in args.items()]
    kind = spec.get("type", "?") if isinstance(spec, dict) else repr(spec)
    return f"{kind}({', '.join(parts)})"


def _spec_difference(file, model, path=""):
    """A sentence on the first place two specs differ, or None if they are the same."""
    if file == model:
        return None
    where = f"at '{path}'" if path else "at the top level"
    if not (isinstance(file, dict) and isinstance(model, dict)) or file.get("type") != model.get("type"):
        return f"file has {_describe(file)} {where}, model has {_describe(model)}"
    if file.get("args") != model.get("args"):
        return (f"file has {_describe(file, model)} {where}, "
                f"model has {_describe(model, file)}")
    kids = [s.get("children", []) for s in (file, model)]
    names = [s.get("names", [str(i) for i in range(len(k))]) for s, k in zip((file, model), kids)]
    if names[0] != names[1]:
        return (f"file's {file['type']} {where} has {len(names[0])} layers {names[0]}, "
                f"model's has {len(names[1])} {names[1]}")
    for name, a, b in zip(names[0], *kids):
        if diff := _spec_difference(a, b, f"{path}.{name}" if path else name):
            return diff
    return f"the specs differ {where}: file {json.dumps(file)[:200]}, model {json.dumps(model)[:200]}"


def _check_spec(model, spec):
    try:
        mine = json.loads(json.dumps(model.spec()))
    except TypeError:  # a custom Module without a spec: names and shapes must do
        return
    if spec is not None and (diff := _spec_difference(spec, mine)):
        raise ModelFileError(f"architecture differs: {diff}")


def _check_weights(model, arrays):
    expected = {name: (v.shape, v.dtype) for name, v in model.state_dict().items()}
    problems = []
    if missing := [k for k in expected if k not in arrays]:
        problems.append(f"missing from the file: {', '.join(missing)}")
    if unexpected := [k for k in arrays if k not in expected]:
        problems.append(f"not in the model: {', '.join(unexpected)}")
    for name, (shape, dtype) in expected.items():
        a = arrays.get(name)
        if a is None:
            continue
        if a.shape != shape:
            problems.append(f"'{name}' has shape {a.shape} in the file, {shape} in the model")
        elif a.dtype != dtype:
            problems.append(f"'{name}' is {a.dtype} in the file, {dtype} in the model")
        elif a.dtype.kind == "f" and not np.isfinite(a).all():
            bad = a.size - int(np.isfinite(a).sum())
            problems.append(f"'{name}' has {bad} NaN/inf values (saved after training "
                            f"diverged?)")
    if problems:
        raise ModelFileError("weights do not fit the model: " + "; ".join(problems))


def load_into(model, src):
    """Load a saved model's weights into `model` (path, binary file, or bytes).

    Everything is checked first — the file, its format, the architecture, every name,
    shape and dtype, no NaN/inf — and on any problem ModelFileError is raised with the
    model left exactly as it was. Returns the model."""
    spec, arrays = _parse(src)
    _check_spec(model, spec)
    _check_weights(model, arrays)
    model.load_state_dict(arrays, strict=True)
    return model


def load(src):
    """A new model built from the file's spec (nn.from_spec) with its weights.
    It starts in training mode, as a freshly built model does: call .eval() for inference."""
    spec, arrays = _parse(src)
    if spec is None:
        raise ModelFileError("the file has no architecture spec (saved from a custom Module): "
                             "build the model yourself and use load_into(model, file)")
    try:
        model = nn.from_spec(spec)
    except Exception as e:
        raise ModelFileError(f"cannot rebuild the architecture from the file's spec: {e}") from None
    _check_weights(model, arrays)
    model.load_state_dict(arrays, strict=True)
    return model


# -- PyTorch ------------------------------------------------------------------------------
def torch_state_dict(src):
    """{name: numpy array} for `torch_model.load_state_dict({k: torch.from_numpy(v) ...})`:
    Descent already uses PyTorch's names and layouts (Linear weight (out, in), Conv2d
    weight (out, in, kh, kw), BatchNorm's running stats and num_batches_tracked)."""
    _, arrays = _parse(src)
    return {k: np.ascontiguousarray(v) for k, v in arrays.items()}


def to_torch(src, torch):
    """The equivalent torch.nn module with the saved weights: `io.to_torch(path, torch)`.
    You pass the torch module in: engine itself never imports torch (it runs in Pyodide).
    Descent's layer names and arguments are PyTorch's, so the spec maps one to one."""
    def build(spec):
        if spec["type"] in ("Sequential", "ModuleList"):
            kids = [build(c) for c in spec["children"]]
            names = spec.get("names", [str(i) for i in range(len(kids))])
            container = getattr(torch.nn, spec["type"])()
            for name, kid in zip(names, kids):
                container.add_module(name, kid)
            return container
        if not hasattr(torch.nn, spec["type"]):
            raise ValueError(f"no torch.nn.{spec['type']} to build")
        return getattr(torch.nn, spec["type"])(**spec.get("args", {}))

    spec, arrays = _parse(src)
    net = build(spec)
    net.load_state_dict({k: torch.from_numpy(np.ascontiguousarray(v)) for k, v in arrays.items()})
    return net
