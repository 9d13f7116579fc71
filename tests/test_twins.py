"""The one torch twin (playground.bench.twins.torch_twin) for every model the benchmarks pair:
the same architecture, the same weights, the same outputs as the engine model."""
import numpy as np
import pytest

torch = pytest.importorskip("torch")

import engine  # noqa: E402
from playground.apps.names import model as M  # noqa: E402
from playground.bench import twins  # noqa: E402


def _same_weights(net, twin):
    ours, theirs = twins.engine_weights(net), twins.torch_weights(twin)
    assert list(ours) == list(theirs)
    for k in ours:
        np.testing.assert_array_equal(ours[k], theirs[k], err_msg=k)


@pytest.mark.parametrize("kind", ["mlp", "cnn"])
def test_bench_nets(kind):
    net = twins.engine_model(kind, seed=0)
    twin = twins.torch_twin(net)
    _same_weights(net, twin)
    x = np.random.default_rng(0).random((4, 1, 28, 28), dtype=np.float32)
    with torch.no_grad():
        ref = twin(torch.from_numpy(x)).numpy()
    np.testing.assert_allclose(net(engine.Tensor(x)).data, ref, atol=1e-5)


@pytest.mark.parametrize("kind,t", [("mlp", 3), ("transformer", 9)])
def test_names_models(kind, t):
    engine.manual_seed(0)
    net = M.build(kind)
    twin = twins.torch_twin(net)
    _same_weights(net, twin)
    x = np.random.default_rng(0).integers(0, M.V, (5, t))
    with torch.no_grad():
        ref = twin(torch.from_numpy(x)).numpy()
    np.testing.assert_allclose(net(x).data, ref, atol=1e-5)


def test_no_twin_for_the_neural_bigram():
    with pytest.raises(TypeError, match="no twin for NeuralBigram"):
        twins.torch_twin(M.build("neural"))
