""""Show me the code": the page's network and training loop as a standalone script, for
`engine` or for PyTorch, with the page's own points written into it (so the PyTorch file
needs nothing but torch and numpy)."""
from __future__ import annotations

import numpy as np

from playground.training.recipes import ACTIVATIONS as LAYERS

from .data import FEATURES

# the activations the page offers, in its menu's order: names from the recipes' one table
# (whose engine classes are named as PyTorch's), and "linear" for no activation layer
ACTIVATIONS = ("relu", "tanh", "sigmoid", "linear")


def activation(name):
    """The engine class of an offered activation; None for "linear"."""
    return LAYERS.get(name)


def _array(a):
    """Python source for a numpy array: float32 values in their shortest exact form."""
    a = np.asarray(a)
    if a.dtype.kind == "f":
        items = ", ".join(str(v) for v in a.astype(np.float32).ravel())
        shape = f".reshape(-1, {a.shape[1]})" if a.ndim == 2 else ""
        return f"np.array([{items}], np.float32){shape}"
    return f"np.array([{', '.join(str(int(v)) for v in a.ravel())}])"


def _data_code(setup, data):
    (Xtr, ytr), (Xte, yte) = data
    where = ("your uploaded points" if setup.dataset == "custom" else
             f"dataset {setup.dataset}, noise {setup.noise!r}, seed {setup.seed}")
    return (f"# the page's points ({where}): {len(ytr)} to train on, {len(yte)} to test on\n"
            f"X_train = {_array(Xtr)}\ny_train = {_array(ytr)}\n"
            f"X_test = {_array(Xte)}\ny_test = {_array(yte)}\n")


def _model_code(setup):
    feats = setup.feature_list()
    layers, width = [], len(feats)
    for n, act in zip(setup.layer_sizes(), setup.layer_activations()):
        layers.append(f"nn.Linear({width}, {n})")
        cls = activation(act)
        if cls:
            layers.append(f"nn.{cls.__name__}()")
        if setup.dropout > 0:
            layers.append(f"nn.Dropout({setup.dropout!r})")
        width = n
    layers.append(f"nn.Linear({width}, 1)")
    return "model = nn.Sequential(\n" + "".join(f"    {l},\n" for l in layers) + ")\n"


def export_code(setup, framework="engine", epochs=100, data=None):
    """A standalone script that builds the page's network, trains it on ``data`` (the page's
    ((X_train, y_train), (X_test, y_test))) and prints the test loss."""
    if framework not in ("engine", "torch"):
        raise ValueError("framework must be 'engine' or 'torch'")
    torch = framework == "torch"
    feats = setup.feature_list()
    if setup.problem == "regression":
        data_loss = "F.mse_loss(out, target)"
    elif setup.effective_loss() == "cross_entropy":
        data_loss = "F.binary_cross_entropy_with_logits(out, target)"
    else:
        data_loss = "F.mse_loss(torch.sigmoid(out), target)" if torch else "F.mse_loss(out.sigmoid(), target)"
    reg = ""
    if setup.l1 or setup.l2:
        reg = ("    if with_penalty:\n"
               "        for name, p in model.named_parameters():\n"
               "            if name.endswith('weight'):\n"
               + (f"                loss = loss + p.abs().sum() * {setup.l1!r}\n" if setup.l1 else "")
               + (f"                loss = loss + (p * p).sum() * {setup.l2!r}\n" if setup.l2 else ""))
    cls = "Adam" if setup.optimizer == "adam" else "SGD"
    bs = setup.batch_size
    if torch:
        head = ("import numpy as np\nimport torch\nfrom torch import nn\nimport torch.nn.functional as F\n"
                "from torch.utils.data import DataLoader, TensorDataset\n\n"
                f"torch.manual_seed({setup.seed})\n")
        as_t, opt, no_grad = "torch.from_numpy", f"torch.optim.{cls}", "torch.no_grad()"
        loader = (f"loader = DataLoader(TensorDataset(torch.from_numpy(F_train), torch.from_numpy(np.asarray(y_train, np.float32))),\n"
                  f"                    batch_size={bs}, shuffle=True)\n")
    else:
        head = ("import numpy as np\nfrom engine import Tensor, manual_seed, no_grad, nn, optim\n"
                "from engine.data import DataLoader\nfrom engine.nn import functional as F\n\n"
                f"manual_seed({setup.seed})\n")
        as_t, opt, no_grad = "Tensor", f"optim.{cls}", "no_grad()"
        loader = f"loader = DataLoader(F_train, y_train, batch_size={bs}, shuffle=True, seed={setup.seed})\n"
    header = (f'"""The 2-D playground\'s network, exported for {"PyTorch" if torch else "engine"}.\n\n'
              f'Problem: {setup.problem}; dataset: {setup.dataset}; features: {", ".join(feats)}."""\n')
    return f"""{header}{head}{_data_code(setup, data)}

def features(X):
    x, y = X[:, 0], X[:, 1]
    return np.stack([{", ".join(FEATURES[f][1] for f in feats)}], 1).astype(np.float32)


F_train, F_test = features(X_train), features(X_test)
{_model_code(setup)}opt = {opt}(model.parameters(), lr={setup.lr!r})
{loader}

def compute_loss(xb, yb, with_penalty=True):
    out = model({as_t}(np.asarray(xb, np.float32)))
    target = {as_t}(np.asarray(yb, np.float32).reshape(-1, 1))
    loss = {data_loss}
{reg}    return loss


for epoch in range({epochs}):
    model.train()
    for xb, yb in loader:
        loss = compute_loss(xb, yb)
        opt.zero_grad()
        loss.backward()
        opt.step()

model.eval()
with {no_grad}:
    train_loss = compute_loss(F_train, y_train, with_penalty=False).item()
    test_loss = compute_loss(F_test, y_test, with_penalty=False).item()
print(f"train loss: {{train_loss:.4f}}")
print(f"test loss: {{test_loss:.4f}}")
"""
