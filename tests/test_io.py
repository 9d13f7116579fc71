"""Model files: round trips, refusal of bad files (model untouched), and PyTorch loading."""
import json
from io import BytesIO

import numpy as np
import pytest

from engine import Tensor, io, manual_seed, nn
from engine.io import ModelFileError

torch = pytest.importorskip("torch")


def mlp(hidden=128):
    return nn.Sequential(nn.Linear(784, hidden), nn.ReLU(), nn.Linear(hidden, 10))


def cnn():
    return nn.Sequential(nn.Conv2d(1, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Conv2d(8, 16, 3), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
                         nn.Linear(16 * 6 * 6, 32), nn.ReLU(), nn.Linear(32, 10))


def trained_cnn():
    """A CNN whose BatchNorm running statistics are not the initial ones."""
    m = cnn()
    m(Tensor(np.random.default_rng(1).standard_normal((8, 1, 28, 28)).astype(np.float32)))
    return m.eval()


X = np.random.default_rng(0).standard_normal((5, 784)).astype(np.float32)
IMAGES = X.reshape(5, 1, 28, 28)


def snapshot(model):
    return {k: (v.dtype.str, v.shape, v.tobytes()) for k, v in model.state_dict().items()}


def rewrite(data, change):
    """The file's arrays, passed through change(dict), saved again as an npz."""
    with np.load(BytesIO(data)) as z:
        arrays = {k: z[k] for k in z.files}
    change(arrays)
    buf = BytesIO()
    np.savez(buf, **arrays)
    return buf.getvalue()


# -- round trips ------------------------------------------------------------------------
@pytest.mark.parametrize("make,x", [(mlp, X), (trained_cnn, IMAGES)], ids=["mlp", "cnn"])
def test_round_trip_gives_identical_outputs(tmp_path, make, x):
    manual_seed(0)
    model = make().eval()
    want = model(Tensor(x)).data
    path = tmp_path / "model.npz"
    n = io.save(model, path)
    assert n == path.stat().st_size == io.model_size(path) == io.model_size(model)
    f = BytesIO()
    assert io.save(model, f) == n
    for src in (path, str(path), f.getvalue(), bytearray(f.getvalue()), BytesIO(f.getvalue())):
        again = io.load(src).eval()
        assert again.spec() == model.spec()
        np.testing.assert_array_equal(again(Tensor(x)).data, want)
    other = make().eval()
    assert io.load_into(other, f.getvalue()) is other
    np.testing.assert_array_equal(other(Tensor(x)).data, want)
    assert snapshot(other) == snapshot(model)


def test_file_layout_is_plain_npz():
    model = mlp()
    with np.load(BytesIO(io.dumps(model)), allow_pickle=False) as z:
        assert str(z["__format__"]) == "descent-model/1"
        assert z["__spec__"].shape == () and json.loads(str(z["__spec__"])) == model.spec()
        assert sorted(z.files) == sorted([*model.state_dict(), "__spec__", "__format__"])


def test_custom_module_without_spec_saves_weights_only():
    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(4, 2)

        def forward(self, x):
            return self.fc(x)

    data = io.dumps(Net())
    with pytest.raises(ModelFileError, match="no architecture spec.*load_into"):
        io.load(data)
    target = Net()
    io.load_into(target, data)
    assert snapshot(target)["fc.weight"] == snapshot(io.load_into(Net(), data))["fc.weight"]


# -- bad files are refused, the model left as it was -----------------------------------
GOOD = io.dumps(mlp())


def _flip(data, positions):
    b = bytearray(data)
    for i in positions:
        b[i] ^= 0xFF
    return bytes(b)


def _npy(a):
    f = BytesIO()
    np.save(f, a)
    return f.getvalue()


MODEL_SPECIFIC = {"spec-mismatch"}  # a fine file, for another model
BAD_FILES = {
    "corrupted": (_flip(GOOD, range(len(GOOD) // 2, len(GOOD) // 2 + 16)), "truncated or corrupted"),
    "truncated": (GOOD[: len(GOOD) // 2], "truncated or corrupted"),
    "truncated-tail": (GOOD[:-30], "truncated or corrupted"),
    "truncated-header": (GOOD[:40], "truncated or corrupted"),
    "empty": (b"", "empty"),
    "text": (b"label,pixel0,pixel1\n5,0,0\n", r"not an \.npz archive \(it starts with b'label,pi'\)"),
    "npy": (_npy(np.zeros(3)), r"not an \.npz archive"),
    "plain-npz": (rewrite(GOOD, lambda a: a.pop("__format__")), "no '__format__' marker"),
    "future-format": (rewrite(GOOD, lambda a: a.update(__format__=np.array("descent-model/2"))),
                      "unsupported model format 'descent-model/2'"),
    "bad-spec-json": (rewrite(GOOD, lambda a: a.update(__spec__=np.array("{nope"))), "not valid JSON"),
    "pickle": (rewrite(GOOD, lambda a: a.update({"0.bias": np.array([{"x": 1}], dtype=object)})),
               "pickled Python objects"),
    "spec-mismatch": (io.dumps(mlp(256)),
                      r"architecture differs: file has Linear\(784→256\) at '0', model has Linear\(784→128\)"),
    "shape-mismatch": (rewrite(GOOD, lambda a: a.update({"2.weight": np.zeros((10, 64), np.float32)})),
                       r"'2.weight' has shape \(10, 64\) in the file, \(10, 128\) in the model"),
    "dtype-mismatch": (rewrite(GOOD, lambda a: a.update({"2.bias": a["2.bias"].astype(np.float64)})),
                       "'2.bias' is float64 in the file, float32 in the model"),
    "missing-name": (rewrite(GOOD, lambda a: a.pop("2.bias")), "missing from the file: 2.bias"),
    "extra-name": (rewrite(GOOD, lambda a: a.update({"3.weight": np.zeros(2, np.float32)})),
                   "not in the model: 3.weight"),
    "nan": (rewrite(GOOD, lambda a: a["0.weight"].__setitem__((3, 5), np.nan)),
            r"'0.weight' has 1 NaN/inf values"),
    "inf": (rewrite(GOOD, lambda a: a["2.bias"].__setitem__(0, np.inf)), r"'2.bias' has 1 NaN/inf"),
}


@pytest.mark.parametrize("case", BAD_FILES)
def test_bad_file_is_refused_and_model_unchanged(case):
    data, message = BAD_FILES[case]
    model = mlp()
    before = snapshot(model)
    with pytest.raises(ModelFileError, match=message):
        io.load_into(model, data)
    assert snapshot(model) == before
    with pytest.raises(ModelFileError, match=message):
        io.load_into(model, BytesIO(data))  # a file object, as from open(..., "rb")
    assert snapshot(model) == before
    if case not in MODEL_SPECIFIC:  # load() builds the file's own architecture
        with pytest.raises(ModelFileError, match=message):
            io.load(data)


def test_spec_mismatch_messages():
    def refuse(model, src):
        with pytest.raises(ModelFileError) as e:
            io.load_into(model, io.dumps(src))
        return str(e.value)
    assert "at the top level" in refuse(mlp(), nn.Linear(784, 10))
    assert "file has ReLU() at '1', model has Tanh()" in refuse(
        nn.Sequential(nn.Linear(784, 128), nn.Tanh(), nn.Linear(128, 10)), mlp())
    assert "has 3 layers ['0', '1', '2'], model's has 2" in refuse(
        nn.Sequential(nn.Linear(784, 128), nn.ReLU()), mlp())
    assert "file has Conv2d(1→8, padding=1) at '0', model has Conv2d(1→8, padding=0)" in refuse(
        nn.Sequential(nn.Conv2d(1, 8, 3)), nn.Sequential(nn.Conv2d(1, 8, 3, padding=1)))


def test_unknown_layer_type_cannot_be_rebuilt():
    bad = rewrite(GOOD, lambda a: a.update(__spec__=np.array(json.dumps({"type": "NoSuchLayer"}))))
    with pytest.raises(ModelFileError, match="cannot rebuild the architecture.*NoSuchLayer"):
        io.load(bad)


def test_random_damage_is_refused_or_harmless():
    """Flip a few random bytes anywhere: either refused, or (metadata no reader checks) the
    very same weights. Never silently different weights."""
    model = mlp(16)
    data, want = io.dumps(model), snapshot(model)
    rng = np.random.default_rng(0)
    refused = 0
    for _ in range(60):
        damaged = _flip(data, rng.integers(0, len(data), 3))
        try:
            got = io.load(damaged)
        except ModelFileError as e:
            refused += 1
            assert str(e).startswith(("not a Descent model file", "unsupported", "damaged",
                                      "weights do not fit", "refused", "cannot rebuild"))
            continue
        assert snapshot(got) == want
    assert refused > 40


# -- PyTorch ------------------------------------------------------------------------------
def test_saved_mlp_loads_into_pytorch(tmp_path):
    """How a saved model loads into PyTorch: build the same torch.nn.Sequential, then
    load_state_dict with torch tensors made from io.torch_state_dict(file)."""
    model = mlp().eval()
    io.save(model, tmp_path / "mlp.npz")
    net = torch.nn.Sequential(torch.nn.Linear(784, 128), torch.nn.ReLU(), torch.nn.Linear(128, 10))
    net.load_state_dict({k: torch.from_numpy(v) for k, v in io.torch_state_dict(tmp_path / "mlp.npz").items()})
    with torch.no_grad():
        got = net(torch.from_numpy(X)).numpy()
    np.testing.assert_allclose(got, model(Tensor(X)).data, rtol=1e-5, atol=1e-5)


def test_saved_cnn_loads_into_pytorch(tmp_path):
    model = trained_cnn()
    io.save(model, tmp_path / "cnn.npz")
    tnn = torch.nn
    net = tnn.Sequential(tnn.Conv2d(1, 8, 3, padding=1), tnn.BatchNorm2d(8), tnn.ReLU(), tnn.MaxPool2d(2),
                         tnn.Conv2d(8, 16, 3), tnn.ReLU(), tnn.MaxPool2d(2), tnn.Flatten(),
                         tnn.Linear(16 * 6 * 6, 32), tnn.ReLU(), tnn.Linear(32, 10)).eval()
    net.load_state_dict({k: torch.from_numpy(v) for k, v in io.torch_state_dict(tmp_path / "cnn.npz").items()})
    assert int(net[1].num_batches_tracked) == 1
    want = model(Tensor(IMAGES)).data
    with torch.no_grad():
        np.testing.assert_allclose(net(torch.from_numpy(IMAGES)).numpy(), want, rtol=1e-4, atol=1e-5)
        built = io.to_torch(tmp_path / "cnn.npz", torch).eval()  # the same, built from the spec
        np.testing.assert_allclose(built(torch.from_numpy(IMAGES)).numpy(), want, rtol=1e-4, atol=1e-5)
    assert str(built) == str(net)
