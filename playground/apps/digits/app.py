"""Digits — the Hello World of machine learning, watched from the inside.

Train a softmax regression, an MLP or a small CNN on 8,000 MNIST digits and see it learn:
train and held-out curves, the confusion matrix, the held-out digits it gets wrong, the
first layer's weights as images, per-layer activation and gradient histograms (dead ReLUs
show up as a spike at 0). Draw your own digit and watch the class probabilities on every
stroke. Runs are kept in the browser ("Your runs"); models save to and load from the
engine's open ``.npz`` format.

``digits_app(**state)`` returns the Panel object; ``DigitsApp`` is the object behind it
(tests drive it directly; its figures are in digits_plots.py, its widgets and layouts in
digits_views.py). ``panel serve
playground/apps/digits/app.py`` serves it.
``digits_app(view="draw")`` and ``digits_app(view="train")`` are the compact pages the site
embeds in blog posts (``embed/digits-draw.html``, ``embed/digits-train.html``): the drawing
pad with the shipped classifier, or the trainer with its curves.
"""
from __future__ import annotations

import datetime as _dt
import io as _io
import math
import time

import numpy as np
import panel as pn
import param

import engine
from engine import nn
from engine import data as edata
from engine.tensor import Tensor, rng as engine_rng
from playground.apps.digits.plots import DigitsPlots, _layers
from playground.apps.digits.views import LR_OPTIONS, MODEL_NAMES, OPTIMISERS, VIEWS, DigitsViews
from playground.training.recipes import ACTIVATIONS, RECIPES, build_model, make_optimizer
from playground.training.trainer import Trainer

__all__ = ["digits_app", "DigitsApp", "build_model", "RECIPES", "use_digits_data", "check_recipe"]


EVAL_EVERY = 0.25      # held-out evaluation every quarter epoch
EVAL_SLICE = 500       # ... spread over chunks, this many digits each
STREAM_EVERY_S = 0.3   # train-curve points at most this often


# --------------------------------------------------------------------------- models

def describe(model) -> str:
    """'784-256-128-10' for MLPs, layer names otherwise."""
    parts = []
    for m in _layers(model):
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


def _load_data():
    return edata.load_mnist()


_DATA_CACHE = {}


def use_digits_data(data):
    """Provide MNIST arrays ``((x_train, y_train), (x_test, y_test))`` yourself, e.g. in the
    browser after fetching the .npz: ``use_digits_data(engine.data.load_mnist_bytes(b))``."""
    _DATA_CACHE["d"] = data


def digits_data():
    """MNIST-10k, loaded once per process (the browser fetches the .npz once)."""
    if "d" not in _DATA_CACHE:
        _DATA_CACHE["d"] = _load_data()
    return _DATA_CACHE["d"]


# --------------------------------------------------------------------------- the app

class DigitsApp(DigitsViews, DigitsPlots, param.Parameterized):
    """The digits playground's state and widgets; ``view`` is the page."""

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

    _structural = ("model_kind", "layers", "width", "activation", "dropout")

    def __init__(self, data=None, seed=0, recipe=True, **state):
        kind = state.get("model_kind", "mlp")
        if recipe:  # defaults of the chosen model's recipe, overridden by explicit state
            state = {**RECIPES[kind], **state}
        super().__init__(**state)
        (self.xtr, self.ytr), (self.xte, self.yte) = data if data is not None else digits_data()
        self.n_train = len(self.ytr)
        self._loaded = None          # a model loaded from a file, used by the next build
        self._last_view = 0.0
        self._last_stream = 0.0
        self._pending = []
        self.model_note = ""
        self._inside = False         # the "Inside the model" figures: built by show_inside()
        self._make_sources()
        self.trainer = Trainer(
            self._step, chunk=20, chunk_seconds=0.2, seed=seed,
            on_chunk=self._on_chunk, snapshot=self._snapshot, restore=self._restore,
            on_reset=self._build, on_stop=self._on_stop,
            max_steps=self._max_steps)
        self._make_widgets()
        self._build(seed)
        self.param.watch(self._structural_change, list(self._structural))
        self.param.watch(self._live_change, ["optimizer", "lr", "batch_size", "augment",
                                             "schedule", "epochs"])

    # ------------------------------------------------------------------ run state
    def _build(self, seed):
        """A fresh run: model (or the loaded one), optimiser, data order; clears the plots."""
        engine.manual_seed(seed)
        if self._loaded is not None:
            self.model, self._loaded = self._loaded, None
        else:
            self.model = build_model(self.model_kind, self.layers, self.width, self.activation,
                                     self.dropout)
            self.model_note = ""
            if hasattr(self, "file_msg"):  # "Loaded x.npz …" no longer describes this model
                self.file_msg.visible = False
        self.opt = make_optimizer(self.optimizer, self.model.parameters(), self.lr)
        self.rng = np.random.default_rng(seed)
        self.order = self.rng.permutation(self.n_train)
        self.pos = 0
        self.samples_seen = 0
        self.next_eval = EVAL_EVERY
        self._eval_parts = None  # held-out logits so far, while an evaluation is under way
        self.run_id = f"{time.time():.3f}-{seed}"
        self.run_started = _dt.datetime.now().strftime("%Y-%m-%d %H:%M")
        self.last_eval = None
        self._pending = []
        self._clear_curves()
        self._make_hist_figures()
        self._evaluate()
        self._refresh_views(force=True)
        self._refresh_model_info()

    def _epoch_float(self):
        return self.samples_seen / self.n_train

    def _max_steps(self):
        remaining = self.epochs * self.n_train - getattr(self, "samples_seen", 0)
        step = self.trainer.step if hasattr(self, "trainer") else 0
        return step + max(0, math.ceil(remaining / self.batch_size))

    def _current_lr(self):
        if self.schedule == "cosine":
            t = min(1.0, self._epoch_float() / self.epochs)
            return self.lr * (0.02 + 0.98 * 0.5 * (1 + math.cos(math.pi * t)))
        return self.lr

    def _next_batch(self, bs):
        idx = self.order[self.pos:self.pos + bs]
        self.pos += len(idx)
        if self.pos >= self.n_train:  # epoch boundary: a fresh shuffle
            self.order = self.rng.permutation(self.n_train)
            self.pos = 0
        return idx

    def _step(self):
        idx = self._next_batch(self.batch_size)
        xb, yb = self.xtr[idx], self.ytr[idx]
        if self.augment:
            xb = edata.augment(xb, self.rng, max_shift=2, max_rot_deg=10)
        self.opt.lr = self._current_lr()
        self.model.train()
        logits = self.model(Tensor(xb))
        loss = nn.functional.cross_entropy(logits, yb)
        self.opt.zero_grad()
        loss.backward()   # raises NonFiniteLossError on NaN/inf: the trainer stops and restores
        self.opt.step()
        self.samples_seen += len(idx)
        return {"loss": float(loss.item()), "acc": float((logits.data.argmax(1) == yb).mean()),
                "samples": len(idx), "epoch": self._epoch_float()}

    def _snapshot(self):
        return {"model": self.model.state_dict(), "opt": _copy_state(self.opt.state),
                "samples_seen": self.samples_seen, "pos": self.pos, "order": self.order,
                "rng": self.rng.bit_generator.state, "engine_rng": engine_rng().bit_generator.state}

    def _restore(self, s):
        self.model.load_state_dict(s["model"])
        self.opt.state = _copy_state(s["opt"])
        self.opt.zero_grad()  # the failed step's gradients are not the restored model's
        self.samples_seen, self.pos, self.order = s["samples_seen"], s["pos"], s["order"]
        self.rng.bit_generator.state = s["rng"]
        engine_rng().bit_generator.state = s["engine_rng"]  # dropout: the same masks again
        self._evaluate()
        self._refresh_views(force=True)

    # ------------------------------------------------------------------ evaluation
    def predict_logits(self, x, batch=500):
        self.model.eval()
        with engine.no_grad():
            out = np.concatenate([self.model(Tensor(x[i:i + batch])).data
                                  for i in range(0, len(x), batch)])
        return out

    def _evaluate(self, logits=None):
        logits = self.predict_logits(self.xte) if logits is None else logits
        z = logits - logits.max(1, keepdims=True)
        logp = z - np.log(np.exp(z).sum(1, keepdims=True))
        pred = logits.argmax(1)
        loss = float(-logp[np.arange(len(self.yte)), self.yte].mean())
        acc = float((pred == self.yte).mean())
        self.last_eval = {"loss": loss, "acc": acc, "pred": pred, "prob": np.exp(logp),
                          "epoch": self._epoch_float()}
        if math.isfinite(loss):
            self._stream_point(self.test_src, self._epoch_float(), loss, acc, rollover=2000)
        self._update_confusion()
        self._update_mistakes()
        self.acc_fig.title.text = f"Accuracy — held-out {acc:.2%}"
        return acc

    @property
    def test_accuracy(self):
        return self.last_eval["acc"] if self.last_eval else float("nan")

    def _on_chunk(self, metrics):
        self._pending.extend(metrics)
        now = time.perf_counter()
        due_eval = self._epoch_float() >= self.next_eval or self.trainer.finished
        if due_eval or now - self._last_stream >= STREAM_EVERY_S:
            self._flush_train_points()
            self._last_stream = now
        if due_eval and self._eval_parts is None:
            self._eval_parts = []
            self.next_eval = (math.floor(self._epoch_float() / EVAL_EVERY) + 1) * EVAL_EVERY
        if self._eval_parts is not None:
            # One slice of the held-out digits per chunk: a whole evaluation is about a second
            # of numpy in the browser, long enough to delay a click (Pause).
            i = len(self._eval_parts) * EVAL_SLICE
            self._eval_parts.append(self.predict_logits(self.xte[i:i + EVAL_SLICE]))
            if i + EVAL_SLICE >= len(self.xte):
                logits, self._eval_parts = np.concatenate(self._eval_parts), None
                self._evaluate(logits)
        self._refresh_views()

    def _flush_train_points(self):
        """One point (the mean over the steps since the last one) per flush: few, cheap patches."""
        if not self._pending:
            return
        ms, self._pending = self._pending, []
        self._stream_point(self.train_src, ms[-1]["epoch"], float(np.mean([m["loss"] for m in ms])),
                           float(np.mean([m["acc"] for m in ms])), rollover=4000)

    def _on_stop(self, trainer):
        if trainer.error and trainer.diverged:  # its steps since the restored point are undone
            self._pending = [m for m in self._pending if m["epoch"] <= self._epoch_float()]
            self._flush_train_points()
            self._mark_divergence()
        self._flush_train_points()
        if trainer.step and not trainer.error:
            self._evaluate()
        self._refresh_views(force=True)
        self._refresh_model_info()
        self._record_run()

    # ------------------------------------------------------------------ changes
    def _structural_change(self, *events):
        what = ", ".join(f"{e.name.replace('_', ' ')} → {e.new}" for e in events)
        self.trainer.rebuild(f"Model changed ({what})")

    def _live_change(self, *events):
        for e in events:
            if e.name == "epochs":
                self.trainer._update_progress()
                continue
            label = f"{self.param[e.name].label.split(' (')[0].lower()} → {e.new}"
            if e.name == "optimizer":
                self.trainer.queue(self._swap_optimizer, label + " (fresh optimiser state)")
            elif e.name == "lr":
                self.trainer.queue(lambda: setattr(self.opt, "lr", self._current_lr()), label)
            else:  # batch size, augmentation, schedule: read at every step already
                self.trainer.queue(lambda: None, label)

    def _swap_optimizer(self):
        self.opt = make_optimizer(self.optimizer, self.model.parameters(), self._current_lr())

    # ------------------------------------------------------------------ drawing
    def _predict_drawing(self, *_):
        img = self.canvas.to_array() if hasattr(self, "canvas") else None
        if img is None:
            self.seen_src.data = {"image": [np.zeros((28, 28), np.float32)]}
            self.prob_src.data = {**dict(self.prob_src.data), "p": [0.0] * 10,
                                  "color": ["#9db4d6"] * 10}
            self.prob_fig.title.text = "Class probabilities (draw a digit)"
            self.drawing_probs = None
            return None
        x = edata.preprocess_drawing(img)
        logits = self.predict_logits(x[None, None])[0]
        p = np.exp(logits - logits.max())
        p /= p.sum()
        top = int(p.argmax())
        self.drawing_probs = p
        self.seen_src.data = {"image": [np.flipud(x)]}
        self.prob_src.data = {**dict(self.prob_src.data), "p": [float(v) for v in p],
                              "color": ["#d62728" if i == top else "#9db4d6" for i in range(10)]}
        self.prob_fig.title.text = f"Class probabilities — guess: {top} ({p[top]:.0%})"
        return p

    # ------------------------------------------------------------------ runs, files
    def _hyper(self):
        d = {"model": MODEL_NAMES[self.model_kind] if not self.model_note else "loaded",
             "arch": describe(self.model), "optimizer": OPTIMISERS[self.optimizer],
             "lr": self.lr, "batch": self.batch_size, "epochs": round(self._epoch_float(), 2),
             "augment": self.augment, "schedule": self.schedule, "seed": self.trainer.seed}
        if not self.model_note:
            d["activation"], d["dropout"] = self.activation, self.dropout
        return d

    def _record_run(self):
        if not self.trainer.step or self.last_eval is None or not math.isfinite(self.last_eval["loss"]):
            return
        entry = {"id": self.run_id, "acc": round(self.test_accuracy, 4), **self._hyper(),
                 "seconds": round(self.trainer.train_seconds, 1), "when": self.run_started}
        runs = [r for r in self.store.items if r.get("id") != self.run_id] + [entry]
        self.store.items = runs[-50:]

    def _render_runs(self, *_):
        runs = sorted(self.store.items, key=lambda r: -float(r.get("acc", 0)))
        if not runs:
            self.runs_pane.object = "<i>No runs yet: train a model and it appears here (kept in this browser).</i>"
            return
        head = ("<tr><th></th><th>held-out</th><th>model</th><th>optimiser</th><th>lr</th>"
                "<th>batch</th><th>epochs</th><th>aug</th><th>time</th><th>when</th></tr>")
        rows = []
        for i, r in enumerate(runs[:20]):
            best = i == 0
            rows.append(
                f"<tr style='{'background:#fff4c2;font-weight:600' if best else ''}'>"
                f"<td>{'★ best' if best else i + 1}</td><td>{float(r.get('acc', 0)):.2%}</td>"
                f"<td>{_esc(r.get('model'))} {_esc(r.get('arch', ''))}</td><td>{_esc(r.get('optimizer'))}</td>"
                f"<td>{_esc(r.get('lr'))}</td><td>{_esc(r.get('batch'))}</td><td>{_esc(r.get('epochs'))}</td>"
                f"<td>{'yes' if r.get('augment') else 'no'}</td><td>{_esc(r.get('seconds'))} s</td>"
                f"<td>{_esc(r.get('when'))}</td></tr>")
        self.runs_pane.object = ("<table class='descent-runs' style='border-collapse:collapse;font-size:13px'>"
                                 + head + "".join(rows) + "</table>"
                                 "<style>.descent-runs td,.descent-runs th{padding:2px 8px;"
                                 "border-bottom:1px solid #ddd;text-align:left}</style>")

    def save_bytes(self) -> bytes:
        from engine import io as eio
        return eio.dumps(self.model)

    def _download(self):
        data = self.save_bytes()
        self._refresh_model_info(size=len(data))
        return _io.BytesIO(data)

    def load_bytes(self, raw: bytes, filename: str = "model file") -> bool:
        """Load a saved model; on any problem say so and leave the current model as it is."""
        from engine import io as eio
        try:
            if not raw:
                raise ValueError("the file is empty")
            model = eio.load(bytes(raw))
            model.eval()
            with engine.no_grad():
                out = model(Tensor(self.xte[:2]))
            if out.shape != (2, 10):
                raise ValueError(f"it maps a 1x28x28 digit to shape {out.shape[1:]}, not 10 classes")
        except Exception as e:  # ModelFileError, or a valid file that is not a digits model
            self.file_msg.object = (f"Could not load {filename}: {e} — "
                                    f"the current model is unchanged.")
            self.file_msg.alert_type = "danger"
            self.file_msg.visible = True
            return False
        self._loaded = model
        self.model_note = f"loaded from {filename}"
        self.trainer.reset()
        self.file_msg.object = (f"Loaded {filename} ({describe(self.model)}): held-out accuracy "
                                f"{self.test_accuracy:.2%}. Train continues from these weights.")
        self.file_msg.alert_type = "success"
        self.file_msg.visible = True
        return True

    def _on_upload(self, event):
        """Each file chosen arrives whole (name and bytes in one change): judge it alone."""
        if event.new:
            self.load_bytes(self.upload.data(), self.upload.filename or "the chosen file")

    def use_shipped_classifier(self, classifier="default") -> bool:
        """Start from a model that already reads digits: the shipped classifier
        (``playground/assets/digits_classifier.npz``, built by ``python -m
        playground.training.assets``) for "default", or the model given. False, with the reason in
        ``shipped_problem``, when there is none or it cannot be used; the model is then kept."""
        self.shipped = False
        self.shipped_problem = ""
        try:
            if classifier == "default":
                from playground.training.assets import CLASSIFIER_PATH, load_classifier
                model = load_classifier()
                if model is None:
                    self.shipped_problem = (f"the shipped classifier ({CLASSIFIER_PATH.parent.name}/"
                                            f"{CLASSIFIER_PATH.name}) is not here")
                    return False
            else:
                model = classifier
            if model is None:
                self.shipped_problem = "no classifier was given"
                return False
            model.eval()
            with engine.no_grad():
                out = model(Tensor(self.xte[:2]))
            if out.shape != (2, 10):
                raise ValueError(f"it maps a digit to shape {out.shape[1:]}, not 10 classes")
        except Exception as e:  # a damaged file, or a model that is not a digits classifier
            self.shipped_problem = f"the shipped classifier could not be used ({e})"
            return False
        self._loaded = model
        self.model_note = "shipped classifier"
        self.trainer.reset()
        self.shipped = True
        return True

    def inference_ms(self, repeats=20):
        """Median milliseconds to classify one digit (batch of 1)."""
        x = self.xte[:1]
        times = []
        for _ in range(repeats):
            t = time.perf_counter()
            self.predict_logits(x)
            times.append(time.perf_counter() - t)
        return 1000 * float(np.median(times))

    def _refresh_model_info(self, size=None):
        if not hasattr(self, "model_info"):
            return
        try:
            size = size if size is not None else len(self.save_bytes())
            size_txt = f"{size / 1024:,.0f} KB on disk"
        except Exception as e:  # engine.io missing or a model it cannot write
            size_txt = f"size unknown ({type(e).__name__})"
        n = self.model.num_parameters()
        note = f" ({self.model_note})" if self.model_note else ""
        self.model_info.object = (f"**{describe(self.model)}**{note} · {n:,} parameters · "
                                  f"{size_txt} · {self.inference_ms():.2f} ms per digit")


def _copy_state(state):
    return {k: {n: (np.array(v, copy=True) if isinstance(v, np.ndarray) else v)
                for n, v in d.items()} for k, d in state.items()}


def _esc(v):
    import html
    return html.escape(str(v if v is not None else ""))


def digits_app(view=None, classifier="default", **state) -> pn.viewable.Viewable:
    """The Digits playground as a Panel object; ``state`` sets initial widget values
    (model_kind, layers, width, activation, optimizer, lr, batch_size, epochs, augment,
    schedule, seed, data=((x_train, y_train), (x_test, y_test))).

    ``view``: None for the whole app; "draw" for the drawing pad with a model that already
    reads digits (``classifier``: "default" = the shipped one, or a model; when there is none
    the page says so and offers Train); "train" for the trainer and its curves."""
    if view not in VIEWS:
        raise ValueError(f"unknown view {view!r}; choose one of {VIEWS}")
    app = DigitsApp(**state)
    if view == "draw":
        app.use_shipped_classifier(classifier)
    return app.view(view)


def check_recipe(kind="mlp", epochs=None, seed=0, verbose=True):
    """Train ``kind``'s default recipe exactly as the app does (no browser); returns the
    held-out accuracy. ``python -m playground.apps.digits.app mlp`` prints it."""
    app = DigitsApp(model_kind=kind, seed=seed, **({"epochs": epochs} if epochs else {}))
    t0, last = time.perf_counter(), -1
    while not app.trainer.finished:
        app.trainer.run_steps(200)
        if app.trainer.error:
            raise RuntimeError(app.trainer.error)
        if verbose and int(app._epoch_float()) != last:
            last = int(app._epoch_float())
            print(f"  epoch {app._epoch_float():5.2f}: held-out {app.test_accuracy:.2%} "
                  f"({time.perf_counter() - t0:.0f} s)", flush=True)
    acc = app._evaluate()
    if verbose:
        print(f"{kind} ({describe(app.model)}, {app.epochs} epochs, {app.optimizer} lr {app.lr}, "
              f"batch {app.batch_size}, augment {app.augment}, {app.schedule}): held-out "
              f"{acc:.2%} in {time.perf_counter() - t0:.0f} s", flush=True)
    return acc


if __name__ == "__main__":
    import sys
    for kind in sys.argv[1:] or ["mlp", "cnn"]:
        check_recipe(kind)
