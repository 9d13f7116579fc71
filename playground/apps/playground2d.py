"""2-D playground, in the spirit of TensorFlow Playground, on the `engine`.

Pick a dataset (or upload a CSV of x,y,label), input features, a stack of hidden layers
with an activation each, regularisation and a loss; watch the decision boundary, every
neuron's own map and the loss curves change as it trains. The whole setup lives in the
URL, and "Show me the code" writes the same network and training loop as a runnable
script for `engine` and for PyTorch.
"""
from __future__ import annotations

import io
import math

import numpy as np
import param

from engine import Tensor, nn, no_grad, optim
from engine.data import DataLoader, make_toy, train_test_split
from engine.nn import functional as F
from playground.palettes import ORANGE_BLUE

CLASSIFICATION_SETS = ("circle", "xor", "gaussians", "spiral", "moons")
REGRESSION_SETS = ("plane", "hills")
# name -> (label shown, numpy expression of the data columns x, y in about [-1, 1])
FEATURES = {
    "x": ("x", "x"), "y": ("y", "y"), "x2": ("x²", "x**2"), "y2": ("y²", "y**2"),
    "xy": ("xy", "x*y"), "sinx": ("sin(πx)", "np.sin(np.pi*x)"), "siny": ("sin(πy)", "np.sin(np.pi*y)"),
}
ACTIVATIONS = {"relu": ("ReLU", "nn.ReLU()"), "tanh": ("Tanh", "nn.Tanh()"),
               "sigmoid": ("Sigmoid", "nn.Sigmoid()"), "linear": (None, None)}
N_POINTS = 400
GRID = 48          # decision-boundary resolution
NEURON_GRID = 20   # per-neuron map resolution
MAX_LAYERS, MAX_NEURONS = 6, 8
MAX_CSV_POINTS = 5000
MIN_CSV_POINTS = 10  # with the training ratio in [0.1, 0.9] both splits keep >= 1 point


class CSVError(ValueError):
    """A malformed upload; the message names the line."""


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


# ---------------------------------------------------------------------------- data

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
    for lineno, raw in enumerate(io.StringIO(text), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        parts = [p.strip() for p in line.replace(";", ",").replace("\t", ",").split(",")]
        if not rows and lineno == _first_content_line(text) and not _is_number(parts[0]):
            continue  # a header row such as "x,y,label"
        if len(parts) != 3:
            raise CSVError(f"Line {lineno}: expected 3 values (x, y, label), found {len(parts)}: {line[:60]!r}")
        vals = []
        for name, p in zip(("x", "y", "label"), parts):
            if not _is_number(p):
                raise CSVError(f"Line {lineno}: the {name} value {p[:30]!r} is not a number")
            v = float(p)
            if not math.isfinite(v):
                raise CSVError(f"Line {lineno}: the {name} value {p!r} is not a finite number")
            vals.append(v)
        if problem == "classification" and vals[2] not in (0.0, 1.0, -1.0):
            raise CSVError(f"Line {lineno}: the label {parts[2]!r} must be 0 or 1 (or -1 and 1) "
                           f"for classification")
        rows.append(vals)
        if len(rows) > MAX_CSV_POINTS:
            raise CSVError(f"Line {lineno}: too many points (at most {MAX_CSV_POINTS}).")
    if len(rows) < MIN_CSV_POINTS:
        raise CSVError(f"The file has {len(rows)} data lines; at least {MIN_CSV_POINTS} points are "
                       "needed (so that both the training and the test split get some).")
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


def build_model(setup: Setup):
    """features -> [Linear, activation, Dropout]* -> Linear(., 1)."""
    layers, width = [], len(setup.feature_list())
    for n, act in zip(setup.layer_sizes(), setup.layer_activations()):
        layers.append(nn.Linear(width, n))
        if ACTIVATIONS[act][0]:
            layers.append(getattr(nn, ACTIVATIONS[act][0])())
        if setup.dropout > 0:
            layers.append(nn.Dropout(setup.dropout))
        width = n
    layers.append(nn.Linear(width, 1))
    return nn.Sequential(*layers)


def loss_fn(out, y, setup: Setup, model=None):
    """The data loss (+ L1/L2 on weights). out (n, 1) raw output."""
    y = np.asarray(y, np.float32).reshape(-1, 1)
    if setup.problem == "regression":
        loss = F.mse_loss(out, Tensor(y))
    elif setup.effective_loss() == "cross_entropy":
        loss = F.binary_cross_entropy_with_logits(out, Tensor(y))
    else:
        loss = F.mse_loss(out.sigmoid(), Tensor(y))
    if model is not None and (setup.l1 or setup.l2):
        for name, p in model.named_parameters():
            if name.endswith("weight"):
                if setup.l1:
                    loss = loss + p.abs().sum() * setup.l1
                if setup.l2:
                    loss = loss + (p * p).sum() * setup.l2
    return loss


def make_optimizer(model, setup: Setup):
    cls = optim.Adam if setup.optimizer == "adam" else optim.SGD
    return cls(model.parameters(), lr=setup.lr)


class Playground:
    """The model, data and training state behind the page (no Panel in here: testable)."""

    def __init__(self, setup: Setup | None = None):
        self.setup = setup or Setup()
        self.custom = None  # (X, y) from an uploaded CSV
        self.rebuild()

    def data(self):
        s = self.setup
        if s.dataset == "custom" and self.custom is not None:
            X, y = self.custom
        elif s.problem == "regression":
            X, y = make_regression(s.dataset if s.dataset in REGRESSION_SETS else "plane",
                                   N_POINTS, s.noise, s.seed)
        else:
            X, y = make_toy(s.dataset if s.dataset in CLASSIFICATION_SETS else "circle",
                            N_POINTS, s.noise, s.seed)
        return train_test_split(X, y, s.ratio, s.seed)

    def rebuild(self):
        s = self.setup
        from engine import manual_seed
        manual_seed(s.seed)
        (self.Xtr, self.ytr), (self.Xte, self.yte) = self.data()
        self.features = s.feature_list()
        self.Ftr, self.Fte = featurize(self.Xtr, self.features), featurize(self.Xte, self.features)
        self.model = build_model(s)
        self.opt = make_optimizer(self.model, s)
        self.make_loader()
        self.epoch = 0.0
        self.history = {"epoch": [], "train": [], "test": []}

    def make_loader(self):
        bs = min(self.setup.batch_size, len(self.Ftr))
        self.loader = DataLoader(self.Ftr, self.ytr, batch_size=bs, shuffle=True, seed=self.setup.seed)
        self._batches = self.loader.forever()

    def step(self):
        xb, yb = next(self._batches)
        self.model.train()
        loss = loss_fn(self.model(Tensor(xb)), yb, self.setup, self.model)
        self.opt.zero_grad()
        loss.backward()
        self.opt.step()
        self.epoch += len(xb) / len(self.Ftr)
        return {"loss": loss.item(), "samples": len(xb), "epoch": self.epoch}

    def evaluate(self):
        self.model.eval()
        with no_grad():
            tr = loss_fn(self.model(Tensor(self.Ftr)), self.ytr, self.setup).item()
            te = loss_fn(self.model(Tensor(self.Fte)), self.yte, self.setup).item() if len(self.Fte) else float("nan")
        return tr, te

    def grid(self, n):
        g = np.linspace(-1.1, 1.1, n, dtype=np.float32)
        xx, yy = np.meshgrid(g, g)
        return np.stack([xx.ravel(), yy.ravel()], 1)

    def boundary(self, n=GRID):
        """(n, n) map of the output in [-1, 1] (2p - 1 for classification), row 0 = bottom."""
        self.model.eval()
        with no_grad():
            out = self.model(Tensor(featurize(self.grid(n), self.features))).data.reshape(n, n)
        if self.setup.problem == "classification":
            return (2 / (1 + np.exp(-out)) - 1).astype(np.float32)
        return np.clip(out, -1, 1).astype(np.float32)

    def neuron_maps(self, n=NEURON_GRID):
        """[(layer, neuron, (n, n) map)] for each input feature and hidden neuron."""
        self.model.eval()
        pts = featurize(self.grid(n), self.features)
        maps = [(0, i, pts[:, i].reshape(n, n)) for i in range(pts.shape[1])]
        h, layer = Tensor(pts), 0
        with no_grad():
            mods = list(self.model)
            for k, m in enumerate(mods[:-1]):
                h = m(h)
                if isinstance(mods[k + 1], nn.Linear):  # the end of a hidden layer
                    layer += 1
                    for i in range(h.shape[1]):
                        maps.append((layer, i, h.data[:, i].reshape(n, n)))
        return maps

    # -- "show me the code" --------------------------------------------------------------
    def export(self, framework="engine", epochs=None):
        if epochs is None:  # as many epochs as the page has trained (100 before training)
            epochs = max(1, round(self.epoch)) if self.epoch else 100
        return export_code(self.setup, framework, epochs, self.custom)


# ---------------------------------------------------------------------------- export

def _data_code(setup, custom):
    if setup.dataset == "custom" and custom is not None:
        X, y = custom
        return (f"X = np.array({np.round(X, 5).tolist()}, dtype=np.float32)\n"
                f"y = np.array({y.tolist()})\n")
    if setup.problem == "regression":
        name = setup.dataset if setup.dataset in REGRESSION_SETS else "plane"
        return (f"from playground.apps.playground2d import make_regression\n"
                f"X, y = make_regression({name!r}, {N_POINTS}, {setup.noise!r}, {setup.seed})\n")
    name = setup.dataset if setup.dataset in CLASSIFICATION_SETS else "circle"
    return f"X, y = make_toy({name!r}, n={N_POINTS}, noise={setup.noise!r}, seed={setup.seed})\n"


def export_code(setup: Setup, framework="engine", epochs=100, custom=None):
    """A standalone script that builds the page's network, trains it and prints the test loss."""
    if framework not in ("engine", "torch"):
        raise ValueError("framework must be 'engine' or 'torch'")
    feats = setup.feature_list()
    feat_lines = ", ".join(FEATURES[f][1] for f in feats)
    layers, width = [], len(feats)
    for n, act in zip(setup.layer_sizes(), setup.layer_activations()):
        layers.append(f"nn.Linear({width}, {n})")
        if ACTIVATIONS[act][1]:
            layers.append(ACTIVATIONS[act][1])
        if setup.dropout > 0:
            layers.append(f"nn.Dropout({setup.dropout!r})")
        width = n
    layers.append(f"nn.Linear({width}, 1)")
    model_code = "model = nn.Sequential(\n" + "".join(f"    {l},\n" for l in layers) + ")\n"
    T = "torch" if framework == "torch" else "engine"
    if setup.problem == "regression":
        data_loss = "F.mse_loss(out, target)"
    elif setup.effective_loss() == "cross_entropy":
        data_loss = "F.binary_cross_entropy_with_logits(out, target)"
    else:
        data_loss = "F.mse_loss(torch.sigmoid(out), target)" if T == "torch" else \
            "F.mse_loss(out.sigmoid(), target)"
    reg = ""
    if setup.l1 or setup.l2:
        reg = ("    if with_penalty:\n"
               "        for name, p in model.named_parameters():\n"
               "            if name.endswith('weight'):\n"
               + (f"                loss = loss + p.abs().sum() * {setup.l1!r}\n" if setup.l1 else "")
               + (f"                loss = loss + (p * p).sum() * {setup.l2!r}\n" if setup.l2 else ""))
    header = (f'"""The 2-D playground\'s network, exported for {"PyTorch" if T == "torch" else "engine"}.\n\n'
              f'Problem: {setup.problem}; dataset: {setup.dataset}; features: {", ".join(feats)}."""\n')
    imports = ("import numpy as np\nimport torch\nfrom torch import nn\nimport torch.nn.functional as F\n"
               if T == "torch" else
               "import numpy as np\nfrom engine import Tensor, manual_seed, no_grad, nn, optim\n"
               "from engine.nn import functional as F\n")
    imports += "from engine.data import DataLoader, make_toy, train_test_split\n"
    seed = (f"torch.manual_seed({setup.seed})\n" if T == "torch" else f"manual_seed({setup.seed})\n")
    to_t = "torch.from_numpy" if T == "torch" else "Tensor"
    ydtype = "np.float32"
    no_grad = "torch.no_grad()" if T == "torch" else "no_grad()"
    cls = "Adam" if setup.optimizer == "adam" else "SGD"
    opt = (f"torch.optim.{cls}(model.parameters(), lr={setup.lr!r})" if T == "torch"
           else f"optim.{cls}(model.parameters(), lr={setup.lr!r})")
    return f"""{header}
{imports}
{seed}{_data_code(setup, custom)}(X_train, y_train), (X_test, y_test) = train_test_split(X, y, ratio={setup.ratio!r}, seed={setup.seed})


def features(X):
    x, y = X[:, 0], X[:, 1]
    return np.stack([{feat_lines}], 1).astype(np.float32)


F_train, F_test = features(X_train), features(X_test)
{model_code}opt = {opt}
loader = DataLoader(F_train, y_train, batch_size={min(setup.batch_size, 10**6)}, shuffle=True, seed={setup.seed})


def compute_loss(xb, yb, with_penalty=True):
    out = model({to_t}(xb))
    target = {to_t}(np.asarray(yb, {ydtype}).reshape(-1, 1))
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


# ---------------------------------------------------------------------------- the app

def playground2d_app(location=None):
    """The Panel page. ``location``: a ``pn.state.location``-like object to sync the URL
    with (defaults to the session's; tests pass their own)."""
    import panel as pn
    from bokeh.models import ColumnDataSource, LinearColorMapper
    from playground.plots import figure

    from playground.trainer import Trainer, trainer_controls

    pn.extension()
    setup = Setup()
    loc = location if location is not None else pn.state.location
    if loc is not None:
        loc.sync(setup, {k: k for k in URL_KEYS})
    pg = Playground(setup)

    palette = ORANGE_BLUE
    cmap = LinearColorMapper(palette=palette, low=-1, high=1)
    heat_src = ColumnDataSource(dict(image=[pg.boundary()]))
    train_src = ColumnDataSource(dict(x=[], y=[], c=[]))
    test_src = ColumnDataSource(dict(x=[], y=[], c=[]))
    loss_src = ColumnDataSource(dict(epoch=[], train=[], test=[]))
    neuron_src = ColumnDataSource(dict(image=[], x=[], y=[], dw=[], dh=[]))

    heat = figure(width=380, height=380, x_range=(-1.1, 1.1), y_range=(-1.1, 1.1),
                  toolbar_location=None, title="Output (test points outlined)")
    heat.image("image", source=heat_src, x=-1.1, y=-1.1, dw=2.2, dh=2.2, color_mapper=cmap)
    heat.scatter("x", "y", source=train_src, fill_color={"field": "c", "transform": cmap},
                 line_color="white", size=6)
    heat.scatter("x", "y", source=test_src, fill_color={"field": "c", "transform": cmap},
                 line_color="black", size=7, line_width=1.5)
    curve = figure(width=380, height=200, toolbar_location=None, title="Loss", x_axis_label="epoch")
    curve.line("epoch", "train", source=loss_src, legend_label="train", color="#1f77b4", line_width=2)
    curve.line("epoch", "test", source=loss_src, legend_label="test", color="#ff7f0e", line_width=2)
    curve.legend.location = "top_right"
    neurons = figure(width=520, height=380, toolbar_location=None, match_aspect=True,
                     title="Every neuron (columns: inputs, layer 1, layer 2, …)",
                     x_axis_location=None, y_axis_location=None)
    neurons.grid.visible = False
    neurons.image("image", x="x", y="y", dw="dw", dh="dh", source=neuron_src, color_mapper=cmap)
    summary = pn.pane.Markdown("")

    def draw_points():
        def col(y):
            y = np.asarray(y, np.float32)
            return (2 * y - 1).tolist() if setup.problem == "classification" else y.tolist()
        train_src.data = dict(x=pg.Xtr[:, 0].tolist(), y=pg.Xtr[:, 1].tolist(), c=col(pg.ytr))
        test_src.data = dict(x=pg.Xte[:, 0].tolist(), y=pg.Xte[:, 1].tolist(), c=col(pg.yte))

    def draw_maps():
        heat_src.data = dict(image=[pg.boundary()])
        maps = pg.neuron_maps()
        # robust per-map scale so each neuron's pattern shows
        imgs, xs, ys = [], [], []
        per_col = {}
        for layer, i, m in maps:
            scale = max(float(np.abs(m).max()), 1e-6)
            imgs.append((m / scale).astype(np.float32))
            xs.append(layer * 1.3)
            ys.append(-i * 1.15)
            per_col[layer] = per_col.get(layer, 0) + 1
        neuron_src.data = dict(image=imgs, x=xs, y=ys, dw=[1.0] * len(imgs), dh=[1.0] * len(imgs))

    def on_chunk(metrics):
        tr, te = pg.evaluate()
        loss_src.stream(dict(epoch=[pg.epoch], train=[tr], test=[te]), rollover=1000)
        pg.history["epoch"].append(pg.epoch)
        pg.history["train"].append(tr)
        pg.history["test"].append(te)
        summary.object = f"**Epoch {pg.epoch:.1f}** · train loss {tr:.3f} · test loss {te:.3f}"
        draw_maps()

    trainer = Trainer(pg.step, chunk=20, on_chunk=on_chunk,
                      snapshot=lambda: pg.model.state_dict(),
                      restore=lambda sd: pg.model.load_state_dict(sd),
                      on_reset=lambda seed: restart(seed))
    controls = trainer_controls(trainer, seed=False)

    def restart(seed=None):
        pg.rebuild()
        loss_src.data = dict(epoch=[], train=[], test=[])
        draw_points()
        draw_maps()
        tr, te = pg.evaluate()
        summary.object = f"**Epoch 0** · train loss {tr:.3f} · test loss {te:.3f}"

    # -- widgets bound to the setup --------------------------------------------------------
    w = {}
    w["problem"] = pn.widgets.RadioButtonGroup.from_param(setup.param.problem, name="Problem")
    w["dataset"] = pn.widgets.Select.from_param(setup.param.dataset, name="Dataset")
    w["noise"] = pn.widgets.FloatSlider.from_param(setup.param.noise, step=0.05, name="Noise")
    w["ratio"] = pn.widgets.FloatSlider.from_param(setup.param.ratio, step=0.05, name="Training ratio")
    feat_box = pn.widgets.CheckButtonGroup(label="Features", value=setup.feature_list(),
                                           options={FEATURES[k][0]: k for k in FEATURES})
    w["features"] = feat_box
    w["dropout"] = pn.widgets.FloatSlider.from_param(setup.param.dropout, step=0.05, name="Dropout")
    w["l1"] = pn.widgets.Select(label="L1", width=140, options=[0.0, 0.0001, 0.001, 0.003, 0.01, 0.03, 0.1], value=setup.l1)
    w["l2"] = pn.widgets.Select(label="L2", width=140, options=[0.0, 0.0001, 0.001, 0.003, 0.01, 0.03, 0.1], value=setup.l2)
    w["loss"] = pn.widgets.Select.from_param(setup.param.loss, name="Loss")
    w["optimizer"] = pn.widgets.Select.from_param(setup.param.optimizer, name="Optimizer")
    w["lr"] = pn.widgets.Select(label="Learning rate", options=[0.00001, 0.0001, 0.001, 0.003, 0.01,
                                                               0.03, 0.1, 0.3, 1.0, 3.0, 10.0], value=setup.lr)
    w["batch_size"] = pn.widgets.IntSlider.from_param(setup.param.batch_size, start=1, end=100, name="Batch size")
    w["seed"] = pn.widgets.IntInput.from_param(setup.param.seed, name="Seed")
    for k in ("l1", "l2", "lr"):
        if getattr(setup, k) not in w[k].options:
            w[k].options = sorted(set(w[k].options) | {getattr(setup, k)})
        w[k].link(setup, value=k)
    feat_box.param.watch(lambda e: setattr(setup, "features", ",".join(e.new) or "x"), "value")

    layers_box = pn.Column()
    add_layer = pn.widgets.Button(label="+ layer", width=80)
    remove_layer = pn.widgets.Button(label="− layer", width=80)

    def render_layers(*_):
        rows = []
        for i, (n, act) in enumerate(zip(setup.layer_sizes(), setup.layer_activations())):
            ni = pn.widgets.IntInput(label=f"Layer {i + 1} neurons", value=n, start=1, end=MAX_NEURONS, width=130)
            ai = pn.widgets.Select(label="activation", value=act, options=list(ACTIVATIONS), width=110)
            ni.param.watch(lambda e, i=i: _set_layer(i, neurons=e.new), "value")
            ai.param.watch(lambda e, i=i: _set_layer(i, act=e.new), "value")
            rows.append(pn.Row(ni, ai))
        layers_box.objects = rows

    def _set_layer(i, neurons=None, act=None):
        sizes, acts = setup.layer_sizes(), setup.layer_activations()
        if neurons is not None:
            sizes[i] = neurons
        if act is not None:
            acts[i] = act
        setup.param.update(hidden=",".join(map(str, sizes)), activations=",".join(acts))

    def on_add(_):
        sizes, acts = setup.layer_sizes(), setup.layer_activations()
        if len(sizes) < MAX_LAYERS:
            setup.param.update(hidden=",".join(map(str, sizes + [4])), activations=",".join(acts + [acts[-1] if acts else "tanh"]))

    def on_remove(_):
        sizes, acts = setup.layer_sizes(), setup.layer_activations()
        if sizes:
            setup.param.update(hidden=",".join(map(str, sizes[:-1])), activations=",".join(acts[:-1]))

    add_layer.on_click(on_add)
    remove_layer.on_click(on_remove)

    upload = pn.widgets.FileInput(accept=".csv,text/csv", label="Upload CSV")
    upload_msg = pn.pane.Alert("", alert_type="danger", visible=False)

    def on_upload(e):
        if e.new is None:
            return
        try:
            X, y = parse_csv(e.new, setup.problem)
        except CSVError as err:
            upload_msg.object, upload_msg.alert_type, upload_msg.visible = str(err), "danger", True
            return
        pg.custom = (X, y)
        upload_msg.object = f"Loaded {len(y)} points from {upload.filename or 'your file'}."
        upload_msg.alert_type, upload_msg.visible = "success", True
        if setup.dataset == "custom":
            trainer.rebuild(f"new points from {upload.filename or 'your file'}")
        else:
            setup.dataset = "custom"

    upload.param.watch(on_upload, "value")

    code_engine = pn.widgets.CodeEditor(value="", language="python", readonly=True, height=360,
                                        sizing_mode="stretch_width")
    code_torch = pn.widgets.CodeEditor(value="", language="python", readonly=True, height=360,
                                       sizing_mode="stretch_width")
    show_code = pn.widgets.Button(label="Show me the code", button_type="success")

    def on_code(_):
        code_engine.value = pg.export("engine")
        code_torch.value = pg.export("torch")

    show_code.on_click(on_code)

    # -- reactions to setup changes ----------------------------------------------------------
    restart_keys = ["problem", "dataset", "noise", "ratio", "features", "hidden", "activations",
                    "dropout", "seed", "optimizer"]

    def on_setup(*events):
        names = {e.name for e in events}
        if "problem" in names:
            sets = CLASSIFICATION_SETS if setup.problem == "classification" else REGRESSION_SETS
            if setup.dataset not in sets and setup.dataset != "custom":
                setup.dataset = sets[0]
                return  # that change calls us again
        if "features" in names and feat_box.value != setup.feature_list():
            feat_box.value = setup.feature_list()
        if names & {"hidden", "activations"}:
            render_layers()
        if setup.dataset == "custom" and pg.custom is None:
            upload_msg.object, upload_msg.alert_type, upload_msg.visible = (
                "Upload a CSV of x,y,label to use your own points.", "warning", True)
        if names & set(restart_keys):
            trainer.rebuild(", ".join(f"{e.name} → {_short(e.new)}" for e in events
                                      if e.name in restart_keys))
        else:
            if "lr" in names:
                trainer.queue(lambda: setattr(pg.opt, "lr", setup.lr), f"learning rate {setup.lr}")
            if "batch_size" in names:
                trainer.queue(pg.make_loader, f"batch size {setup.batch_size}")
            for k in ("l1", "l2"):
                if k in names and w[k].value != getattr(setup, k):
                    w[k].value = getattr(setup, k)
            if "lr" in names and w["lr"].value != setup.lr:
                w["lr"].value = setup.lr

    setup.param.watch(on_setup, URL_KEYS)
    render_layers()
    restart()

    sidebar = pn.Column(
        "### Data", w["problem"], w["dataset"], w["noise"], w["ratio"], upload, upload_msg,
        "### Features", feat_box,
        "### Hidden layers", pn.Row(add_layer, remove_layer), layers_box,
        "### Training", w["loss"], w["optimizer"], w["lr"], w["batch_size"], w["dropout"], pn.Row(w["l1"], w["l2"]),
        w["seed"], width=330)
    main = pn.Column(
        controls, summary, pn.Row(pn.Column(pn.pane.Bokeh(heat), pn.pane.Bokeh(curve)), pn.pane.Bokeh(neurons)),
        show_code, pn.Tabs(("engine", code_engine), ("PyTorch", code_torch)),
        sizing_mode="stretch_width")
    layout = pn.Row(sidebar, main, sizing_mode="stretch_width")
    layout.controls = dict(setup=setup, playground=pg, trainer=trainer, widgets=w, heat=heat_src,
                           neurons=neuron_src, loss=loss_src, train_points=train_src,
                           test_points=test_src, upload=upload, upload_msg=upload_msg,
                           code_engine=code_engine, code_torch=code_torch, show_code=show_code,
                           add_layer=add_layer, remove_layer=remove_layer, layers=layers_box,
                           summary=summary, trainer_controls=controls)
    return layout


def _short(v, n=24):
    """A setting's value for a status line, cut to ``n`` characters."""
    text = str(v)
    return text if len(text) <= n else text[:n - 1] + "…"


if __name__.startswith("bokeh"):
    playground2d_app().servable(title="Descent · 2-D playground")
