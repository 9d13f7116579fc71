"""What defines a run (``Setup``, synced to the URL) and the state behind the page
(``Playground``: data, model, optimiser, one training step, the maps it draws)."""
from __future__ import annotations

import numpy as np
import param

from engine import Tensor, manual_seed, nn, no_grad
from engine.data import DataLoader, make_toy, train_test_split
from engine.nn import functional as F

from playground.training.recipes import make_optimizer

from .data import CLASSIFICATION_SETS, FEATURES, N_POINTS, REGRESSION_SETS, featurize, make_regression
from .export import ACTIVATIONS, activation, export_code

GRID = 100    # the output map's resolution
COARSE = 50   # the grid the network is evaluated on while training (drawn at GRID, interpolated)
NEURON = 25   # each neuron's map: NEURON x NEURON
MAX_LAYERS, MAX_NEURONS = 6, 8


class Setup(param.Parameterized):
    """Everything that defines a run; synced to the URL query string."""
    problem = param.Selector(default="classification", objects=["classification", "regression"])
    dataset = param.Selector(default="circle", objects=list(CLASSIFICATION_SETS + REGRESSION_SETS) + ["custom"])
    noise = param.Number(default=0.0, bounds=(0, 0.5))
    ratio = param.Number(default=0.5, bounds=(0.1, 0.9), doc="fraction of points used for training")
    features = param.String(default="x,y")
    hidden = param.String(default="4,2", doc="neurons per hidden layer, comma separated")
    activations = param.String(default="tanh,tanh", doc="one activation per hidden layer")
    dropout = param.Number(default=0.0, bounds=(0, 0.9))
    l1 = param.Number(default=0.0, bounds=(0, 1))
    l2 = param.Number(default=0.0, bounds=(0, 1))
    loss = param.Selector(default="cross_entropy", objects=["cross_entropy", "squared"])
    optimizer = param.Selector(default="adam", objects=["adam", "sgd"])
    lr = param.Number(default=0.03, bounds=(1e-5, 10))
    batch_size = param.Integer(default=10, bounds=(1, 1000))
    seed = param.Integer(default=0, bounds=(0, None))

    def __init__(self, **params):
        super().__init__(**params)
        if self.problem == "regression":
            self.loss = "squared"

    @param.depends("problem", watch=True)
    def _loss_follows_problem(self):
        # regression has one loss; back on classification, its usual one
        self.loss = "squared" if self.problem == "regression" else "cross_entropy"

    # -- parsed views, always valid (bad strings fall back to something sensible) ---------
    def feature_list(self):
        fs = [f for f in self.features.split(",") if f in FEATURES]
        return fs or ["x", "y"]

    def layer_sizes(self):
        out = []
        for s in self.hidden.split(","):
            try:
                out.append(min(MAX_NEURONS, max(1, int(s))))
            except ValueError:
                continue
        return out[:MAX_LAYERS]

    def layer_activations(self):
        acts = [a for a in self.activations.split(",") if a]
        n = len(self.layer_sizes())
        acts = [a if a in ACTIVATIONS else "tanh" for a in acts][:n]
        return acts + [acts[-1] if acts else "tanh"] * (n - len(acts))

    def effective_loss(self):
        return "squared" if self.problem == "regression" else self.loss


URL_KEYS = [p for p in Setup.param if p != "name"]


def split(setup: Setup, custom=None):
    """((X_train, y_train), (X_test, y_test)): the setup's dataset, or the uploaded points."""
    s = setup
    if s.dataset == "custom" and custom is not None:
        X, y = custom
    elif s.problem == "regression":
        X, y = make_regression(s.dataset if s.dataset in REGRESSION_SETS else "plane", N_POINTS, s.noise, s.seed)
    else:
        X, y = make_toy(s.dataset if s.dataset in CLASSIFICATION_SETS else "circle", N_POINTS, s.noise, s.seed)
    return train_test_split(X, y, s.ratio, s.seed)


def build_model(setup: Setup):
    """features -> [Linear, activation, Dropout]* -> Linear(., 1)."""
    layers, width = [], len(setup.feature_list())
    for n, act in zip(setup.layer_sizes(), setup.layer_activations()):
        layers.append(nn.Linear(width, n))
        cls = activation(act)
        if cls:
            layers.append(cls())
        if setup.dropout > 0:
            layers.append(nn.Dropout(setup.dropout))
        width = n
    layers.append(nn.Linear(width, 1))
    return nn.Sequential(*layers)


def loss_fn(out, y, setup: Setup, model=None):
    """The data loss (+ L1/L2 on weights). out (n, 1) raw output."""
    y = np.asarray(y, np.float32).reshape(-1, 1)
    if setup.effective_loss() == "squared":
        loss = F.mse_loss(out if setup.problem == "regression" else out.sigmoid(), Tensor(y))
    else:
        loss = F.binary_cross_entropy_with_logits(out, Tensor(y))
    if model is not None and (setup.l1 or setup.l2):
        for name, p in model.named_parameters():
            if name.endswith("weight"):
                if setup.l1:
                    loss = loss + p.abs().sum() * setup.l1
                if setup.l2:
                    loss = loss + (p * p).sum() * setup.l2
    return loss


def grid(n):
    """(n*n, 2) points covering [-1.1, 1.1]², row by row from the bottom."""
    g = np.linspace(-1.1, 1.1, n, dtype=np.float32)
    xx, yy = np.meshgrid(g, g)
    return np.stack([xx.ravel(), yy.ravel()], 1)


def upsample(a, m):
    """Bilinear interpolation of an (n, n) map over [-1.1, 1.1]² onto the (m, m) grid."""
    t = np.linspace(0, len(a) - 1, m, dtype=np.float32)  # grid(m)'s points in a's index units
    i = np.minimum(t.astype(int), len(a) - 2)
    w = (t - i)[:, None]
    rows = a[i] * (1 - w) + a[i + 1] * w                   # (m, n)
    return rows[:, i] * (1 - w.T) + rows[:, i + 1] * w.T    # (m, m)


class Playground:
    """The model, data and training state behind the page (no Panel in here: testable)."""

    def __init__(self, setup: Setup | None = None):
        self.setup = setup or Setup()
        self.custom = None  # (X, y) from an uploaded CSV
        self.rebuild()

    def data(self):
        return split(self.setup, self.custom)

    def rebuild(self):
        s = self.setup
        manual_seed(s.seed)
        (self.Xtr, self.ytr), (self.Xte, self.yte) = self.data()
        self.features = s.feature_list()
        self.Ftr, self.Fte = featurize(self.Xtr, self.features), featurize(self.Xte, self.features)
        self.Fgrid = {n: featurize(grid(n), self.features) for n in (GRID, COARSE)}  # once per model
        self.model = build_model(s)
        self.opt = make_optimizer("adam" if s.optimizer == "adam" else "sgd", self.model.parameters(),
                                  s.lr, momentum=0.0)
        self.make_loader()
        self.epoch = 0.0

    def make_loader(self):
        bs = min(self.setup.batch_size, len(self.Ftr))
        self.loader = DataLoader(self.Ftr, self.ytr, batch_size=bs, shuffle=True, seed=self.setup.seed)
        self._batches = self.loader.forever()

    def step(self):
        xb, yb = next(self._batches)
        self.model.train()
        with np.errstate(over="ignore", invalid="ignore"):  # a blow-up is caught and reported by the Trainer
            loss = loss_fn(self.model(Tensor(xb)), yb, self.setup, self.model)
            self.opt.zero_grad()
            loss.backward()
            self.opt.step()
        self.epoch += len(xb) / len(self.Ftr)
        return {"loss": loss.item(), "samples": len(xb), "epoch": self.epoch}

    def snapshot(self):
        return self.model.state_dict(), self.epoch

    def restore(self, snap):
        self.model.load_state_dict(snap[0])
        self.epoch = snap[1]

    def evaluate(self):
        self.model.eval()
        with no_grad(), np.errstate(over="ignore", invalid="ignore"):
            tr = loss_fn(self.model(Tensor(self.Ftr)), self.ytr, self.setup).item()
            te = loss_fn(self.model(Tensor(self.Fte)), self.yte, self.setup).item() if len(self.Fte) else float("nan")
        return tr, te

    def maps(self, exact=True):
        """One forward pass over a grid: the output map (GRID, GRID) in [-1, 1] (2p - 1 for
        classification, row 0 = bottom) and one (NEURON, NEURON, k) array per column of the
        network (the k input features, then each hidden layer's k neurons).

        ``exact=False`` evaluates the COARSE grid and draws the output by bilinear interpolation
        of its logits: a quarter of the work, for the frames drawn while training (Pyodide's
        numpy has no SIMD tanh: 100 x 100 points cost about a millisecond more a frame)."""
        n = GRID if exact else COARSE
        F, e = self.Fgrid[n], n // NEURON
        sub = lambda a: a.reshape(n, n, -1)[::e, ::e].copy()  # noqa: E731  (a copy: the big arrays go at once)
        cols = [sub(F)]
        self.model.eval()
        mods, h = list(self.model), Tensor(F)
        with no_grad(), np.errstate(over="ignore", invalid="ignore"):
            for j, m in enumerate(mods):
                h = m(h)
                if j + 1 < len(mods) and isinstance(mods[j + 1], nn.Linear):  # the end of a hidden layer
                    cols.append(sub(h.data))
            out = h.data.reshape(n, n) if exact else upsample(h.data.reshape(n, n), GRID)
            if self.setup.problem == "classification":
                out = np.tanh(out / 2)  # = 2 sigmoid(out) - 1, without overflow
        return np.clip(np.nan_to_num(out), -1, 1).astype(np.float32), cols

    @staticmethod
    def mosaic(cols, gap=6):
        """Every neuron's map in one image (a column per layer, neuron 0 on top, NaN between
        maps), each on its own scale so its pattern shows: one array to send, not one each."""
        k = cols[0].shape[0]
        rows = max(c.shape[2] for c in cols)
        out = np.full((rows * (k + gap) - gap, len(cols) * (k + gap) - gap), np.nan, np.float32)
        for j, c in enumerate(cols):
            c = c / np.maximum(np.abs(c).max(axis=(0, 1)), 1e-6)  # (k, k, m)
            for i in range(c.shape[2]):
                y = (rows - 1 - i) * (k + gap)  # row 0 is the bottom
                out[y:y + k, j * (k + gap):j * (k + gap) + k] = c[:, :, i]
        return out

    # -- "show me the code" --------------------------------------------------------------
    def export(self, framework="engine", epochs=None):
        if epochs is None:  # as many epochs as the page has trained (100 before training)
            epochs = max(1, round(self.epoch)) if self.epoch else 100
        return export_code(self.setup, framework, epochs, ((self.Xtr, self.ytr), (self.Xte, self.yte)))
