"""A digits run: the model choice and its hyper-parameters, the model and its optimiser, the
data order, one training step, the held-out evaluation, model files. No Panel here: the app
(app.py) shows a run; scripts (check.py, ``descent train``) drive one on their own.

The learning rate follows the engine's cosine schedule over the run's epochs (to 2 % of
``lr``), measured in samples seen: a batch-size change mid-run keeps the curve.
"""
from __future__ import annotations

import datetime as _dt
import math
import time

import numpy as np
import param

import engine
from engine import nn
from engine import data as edata
from engine import io as eio
from engine.optim.lr_scheduler import cosine
from engine.tensor import Tensor, rng as engine_rng
from playground.training.recipes import ACTIVATIONS, LR_FLOOR, RECIPES, build_model, make_optimizer
from playground.training.trainer import Trainer

LR_OPTIONS = [1e-4, 3e-4, 1e-3, 3e-3, 1e-2, 3e-2, 0.1, 0.3, 1.0, 3.0, 10.0, 100.0]
MODEL_NAMES = {"softmax": "Softmax regression", "mlp": "MLP", "cnn": "CNN"}
OPTIMISERS = {"adam": "Adam", "adamw": "AdamW", "sgd": "SGD + momentum"}
STRUCTURAL = ("model_kind", "layers", "width", "activation", "dropout")  # need a new model
LIVE = ("optimizer", "lr", "batch_size", "augment", "schedule", "epochs")  # apply mid-run
EVAL_EVERY = 0.25      # held-out evaluation every quarter epoch
EVAL_SLICE = 500       # ... spread over chunks, this many digits each


# --------------------------------------------------------------------------- data

_DATA = {}


def use_digits_data(data):
    """Provide MNIST arrays ``((x_train, y_train), (x_test, y_test))`` yourself, e.g. in the
    browser after fetching the .npz: ``use_digits_data(engine.data.load_mnist_bytes(b))``."""
    _DATA["d"] = data


def digits_data():
    """MNIST-10k, loaded once per process (the browser fetches the .npz once)."""
    if "d" not in _DATA:
        _DATA["d"] = edata.load_mnist()
    return _DATA["d"]


# --------------------------------------------------------------------------- models

def modules(model):
    """The model's layers in order (a lone layer is a list of one)."""
    return list(model) if isinstance(model, nn.Sequential) else [model]


def weight_layers(model):
    return [m for m in modules(model) if isinstance(m, (nn.Linear, nn.Conv2d))]


def describe(model) -> str:
    """'784-256-128-10' for MLPs, layer names otherwise."""
    parts = []
    for m in modules(model):
        if isinstance(m, nn.Linear):
            if not parts:
                parts.append(str(m.in_features))
            parts.append(str(m.out_features))
        elif isinstance(m, nn.Conv2d):
            parts.append(f"conv{m.kernel_size if isinstance(m.kernel_size, int) else m.kernel_size[0]}"
                         f"({m.out_channels})")
        elif isinstance(m, (nn.MaxPool2d,)):
            parts.append("pool")
    return "-".join(parts)


def layer_names(model):
    """'Linear 1', 'Conv2d 2', …: one per weight layer."""
    return [f"{type(m).__name__} {i}" for i, m in enumerate(weight_layers(model), 1)]


def layer_outputs(model, x):
    """Per weight layer: its output after the following activation (the last: logits)."""
    outs, h, pending = [], Tensor(x), None
    model.eval()
    with engine.no_grad():
        for m in modules(model):
            h = m(h)
            if isinstance(m, (nn.Linear, nn.Conv2d)):
                if pending is not None:
                    outs.append(pending)
                pending = h.data
            elif pending is not None and not isinstance(m, (nn.Flatten, nn.MaxPool2d, nn.Dropout)):
                pending = h.data  # the activation right after the layer
        if pending is not None:
            outs.append(pending)
    return outs


def first_layer_tiles(model):
    """The first weight layer as images, and how many to a row: Linear rows as 28x28,
    Conv2d kernels as k x k; (None, 1) for a model with neither."""
    for m in modules(model):
        if isinstance(m, nn.Linear) and m.in_features == 784:
            w = m.weight.data[:32].reshape(-1, 28, 28)
            return w, (5 if len(w) <= 10 else 8)
        if isinstance(m, nn.Conv2d):
            w = m.weight.data[:, 0]
            return w, 8
    return None, 1


def check_classifier(model, x, what="a 1x28x28 digit"):
    """Raise ValueError unless ``model`` maps digits ``x`` (two of them) to 10 classes."""
    model.eval()
    with engine.no_grad():
        out = model(Tensor(x[:2]))
    if out.shape != (2, 10):
        raise ValueError(f"it maps {what} to shape {out.shape[1:]}, not 10 classes")


def _copy_state(state):
    return {k: {n: (np.array(v, copy=True) if isinstance(v, np.ndarray) else v)
                for n, v in d.items()} for k, d in state.items()}


# --------------------------------------------------------------------------- the run

class DigitsRun(param.Parameterized):
    """The choices (parameters, for widgets to show) and the state of one training run."""

    model_kind = param.Selector(default="mlp", objects=list(MODEL_NAMES), label="Model")
    layers = param.Integer(default=2, bounds=(1, 4), label="Hidden layers")
    width = param.Selector(default=512, objects=[16, 32, 64, 128, 256, 512], label="Width (halves per layer)")
    dropout = param.Selector(default=0.1, objects=[0.0, 0.1, 0.25, 0.5], label="Dropout")
    activation = param.Selector(default="relu", objects=list(ACTIVATIONS), label="Activation")
    optimizer = param.Selector(default="adam", objects=list(OPTIMISERS), label="Optimiser")
    lr = param.Selector(default=1e-3, objects=LR_OPTIONS, label="Learning rate")
    batch_size = param.Selector(default=64, objects=[16, 32, 64, 128, 256], label="Batch size")
    epochs = param.Integer(default=20, bounds=(1, 60), label="Epochs")
    augment = param.Boolean(default=True, label="Augment (shift ±2 px, rotate ±10°)")
    schedule = param.Selector(default="cosine", objects=["cosine", "constant"], label="LR schedule")

    def __init__(self, data=None, seed=0, recipe=True, **state):
        kind = state.get("model_kind", "mlp")
        if recipe:  # defaults of the chosen model's recipe, overridden by explicit state
            state = {**RECIPES[kind], **state}
        super().__init__(**state)
        (self.xtr, self.ytr), (self.xte, self.yte) = data if data is not None else digits_data()
        self.n_train = len(self.ytr)
        self.loaded = None           # a model to start the next build from (a file, the shipped one)
        self.model_note = ""
        self.build(seed)

    def trainer(self, **hooks) -> Trainer:
        """A Trainer for this run's steps (chunks of 20 steps or ~0.2 s), restoring its
        snapshots on divergence, rebuilding it on Reset; ``hooks`` replace or add callbacks."""
        t = None  # the steps so far and those left: the run's end, even if epochs change

        def max_steps():
            return (t.step if t is not None else 0) + self.steps_left()
        t = Trainer(self.step, **{"chunk": 20, "chunk_seconds": 0.2, "snapshot": self.snapshot,
                                  "restore": self.restore, "on_reset": self.build,
                                  "max_steps": max_steps, **hooks})
        return t

    def build(self, seed):
        """A fresh run: model (or the loaded one), optimiser, data order."""
        engine.manual_seed(seed)
        if self.loaded is not None:
            self.model, self.loaded = self.loaded, None
        else:
            self.model = build_model(self.model_kind, self.layers, self.width, self.activation,
                                     self.dropout)
            self.model_note = ""
        self.opt = make_optimizer(self.optimizer, self.model.parameters(), self.lr)
        self.rng = np.random.default_rng(seed)
        self.order = self.rng.permutation(self.n_train)
        self.pos = 0
        self.samples_seen = 0
        self.next_eval = EVAL_EVERY
        self.eval_parts = None  # held-out logits so far, while an evaluation is under way
        self.run_id = f"{time.time():.3f}-{seed}"
        self.run_started = _dt.datetime.now().strftime("%Y-%m-%d %H:%M")
        self.last_eval = None

    @property
    def epoch(self) -> float:
        return self.samples_seen / self.n_train

    def steps_left(self) -> int:
        remaining = self.epochs * self.n_train - self.samples_seen
        return max(0, math.ceil(remaining / self.batch_size))

    def lr_now(self) -> float:
        if self.schedule == "cosine":
            return cosine(min(1.0, self.epoch / self.epochs), self.lr, LR_FLOOR * self.lr)
        return self.lr

    def apply_lr(self):
        """The optimiser takes today's rate now (not only at the next step)."""
        self.opt.lr = self.lr_now()

    def new_optimizer(self):
        """A fresh optimiser of the chosen kind (its state starts over), at today's rate."""
        self.opt = make_optimizer(self.optimizer, self.model.parameters(), self.lr_now())

    # ------------------------------------------------------------------ training
    def _next_batch(self, bs):
        idx = self.order[self.pos:self.pos + bs]
        self.pos += len(idx)
        if self.pos >= self.n_train:  # epoch boundary: a fresh shuffle
            self.order = self.rng.permutation(self.n_train)
            self.pos = 0
        return idx

    def step(self) -> dict:
        idx = self._next_batch(self.batch_size)
        xb, yb = self.xtr[idx], self.ytr[idx]
        if self.augment:
            xb = edata.augment(xb, self.rng, max_shift=2, max_rot_deg=10)
        self.opt.lr = self.lr_now()
        self.model.train()
        logits = self.model(Tensor(xb))
        loss = nn.functional.cross_entropy(logits, yb)
        self.opt.zero_grad()
        loss.backward()   # raises NonFiniteLossError on NaN/inf: the trainer stops and restores
        self.opt.step()
        self.samples_seen += len(idx)
        return {"loss": float(loss.item()), "acc": float((logits.data.argmax(1) == yb).mean()),
                "samples": len(idx), "epoch": self.epoch}

    def snapshot(self):
        return {"model": self.model.state_dict(), "opt": _copy_state(self.opt.state),
                "samples_seen": self.samples_seen, "pos": self.pos, "order": self.order,
                "rng": self.rng.bit_generator.state, "engine_rng": engine_rng().bit_generator.state}

    def restore(self, s):
        self.model.load_state_dict(s["model"])
        self.opt.state = _copy_state(s["opt"])
        self.opt.zero_grad()  # the failed step's gradients are not the restored model's
        self.samples_seen, self.pos, self.order = s["samples_seen"], s["pos"], s["order"]
        self.rng.bit_generator.state = s["rng"]
        engine_rng().bit_generator.state = s["engine_rng"]  # dropout: the same masks again

    # ------------------------------------------------------------------ evaluation
    def predict_logits(self, x, batch=500):
        self.model.eval()
        with engine.no_grad():
            return np.concatenate([self.model(Tensor(x[i:i + batch])).data
                                   for i in range(0, len(x), batch)])

    def evaluate(self, logits=None) -> dict:
        """Held-out loss, accuracy, predictions and probabilities (kept in ``last_eval``)."""
        logits = self.predict_logits(self.xte) if logits is None else logits
        z = logits - logits.max(1, keepdims=True)
        logp = z - np.log(np.exp(z).sum(1, keepdims=True))
        pred = logits.argmax(1)
        self.last_eval = {"loss": float(-logp[np.arange(len(self.yte)), self.yte].mean()),
                          "acc": float((pred == self.yte).mean()), "pred": pred,
                          "prob": np.exp(logp), "epoch": self.epoch}
        return self.last_eval

    def evaluate_in_slices(self, due: bool) -> dict | None:
        """One slice of the held-out digits per call once an evaluation is ``due`` (a whole
        one is about a second of numpy in the browser, long enough to delay a click: Pause);
        the evaluation when its last slice is done, else None."""
        if due and self.eval_parts is None:
            self.eval_parts = []
            self.next_eval = (math.floor(self.epoch / EVAL_EVERY) + 1) * EVAL_EVERY
        if self.eval_parts is None:
            return None
        i = len(self.eval_parts) * EVAL_SLICE
        self.eval_parts.append(self.predict_logits(self.xte[i:i + EVAL_SLICE]))
        if i + EVAL_SLICE < len(self.xte):
            return None
        logits, self.eval_parts = np.concatenate(self.eval_parts), None
        return self.evaluate(logits)

    @property
    def test_accuracy(self):
        return self.last_eval["acc"] if self.last_eval else float("nan")

    def classify(self, img):
        """A drawing (any square size, ink 1 on 0) as the model sees it (28x28) and its class
        probabilities."""
        x = edata.preprocess_drawing(img)
        logits = self.predict_logits(x[None, None])[0]
        p = np.exp(logits - logits.max())
        return x, p / p.sum()

    def inference_ms(self, repeats=20):
        """Median milliseconds to classify one digit (batch of 1)."""
        x = self.xte[:1]
        times = []
        for _ in range(repeats):
            t = time.perf_counter()
            self.predict_logits(x)
            times.append(time.perf_counter() - t)
        return 1000 * float(np.median(times))

    # ------------------------------------------------------------------ the record of a run
    def hyper(self, seed) -> dict:
        d = {"model": MODEL_NAMES[self.model_kind] if not self.model_note else "loaded",
             "arch": describe(self.model), "optimizer": OPTIMISERS[self.optimizer],
             "lr": self.lr, "batch": self.batch_size, "epochs": round(self.epoch, 2),
             "augment": self.augment, "schedule": self.schedule, "seed": seed}
        if not self.model_note:
            d["activation"], d["dropout"] = self.activation, self.dropout
        return d

    def record(self, seconds, seed) -> dict | None:
        """This run as an entry of "Your runs", or None while there is nothing to show."""
        if self.last_eval is None or not math.isfinite(self.last_eval["loss"]):
            return None
        return {"id": self.run_id, "acc": round(self.test_accuracy, 4), **self.hyper(seed),
                "seconds": round(seconds, 1), "when": self.run_started}

    # ------------------------------------------------------------------ model files
    def save_bytes(self) -> bytes:
        return eio.dumps(self.model)

    def read_model(self, raw: bytes):
        """The digits model in a saved file; raises (ModelFileError, ValueError) if it is none."""
        if not raw:
            raise ValueError("the file is empty")
        model = eio.load(bytes(raw))
        check_classifier(model, self.xte)
        return model

    def take(self, model, note):
        """Start the next build (the trainer's Reset) from ``model``."""
        self.loaded, self.model_note = model, note

    def shipped_classifier(self, classifier="default"):
        """(model, "") for a model that already reads digits: the shipped classifier
        (``playground/assets/digits_classifier.npz``, built by ``python -m
        playground.training.assets``) for "default", or the model given; (None, why) when
        there is none or it cannot be used."""
        try:
            if classifier == "default":
                from playground.training.assets import CLASSIFIER_PATH, load_classifier
                model = load_classifier()
                if model is None:
                    return None, (f"the shipped classifier ({CLASSIFIER_PATH.parent.name}/"
                                  f"{CLASSIFIER_PATH.name}) is not here")
            else:
                model = classifier
            if model is None:
                return None, "no classifier was given"
            check_classifier(model, self.xte, "a digit")
        except Exception as e:  # a damaged file, or a model that is not a digits classifier
            return None, f"the shipped classifier could not be used ({e})"
        return model, ""
