"""The gpt app's widgets and what they do: ``GPTView`` holds the lab (lab.py), its trainer and
the plots (plots.py), and keeps them in step.

Train pressed: the trainer calls ``lab.step()`` (one batch) chunk after chunk. After each
chunk, ``on_chunk`` streams a few more characters of the current sample (a fresh one starts
once the last has been read for a moment) and, at most a quarter of the time (``Paced``),
measures one more val batch; when the val pass is complete the curve gets its point and the
attention map follows the new weights. While nothing trains, a sample streams in an asyncio
task instead. A knob edit is checked first (``lab.check_knobs``): a wrong one is answered in
words and changes nothing; the batch, learning rate and iterations change the running model,
the others need a new one (the trainer's Apply / Reset). Save and load, and the pretrained
baby GPT (downloaded first where the page fetches it only when asked), replace the lab
through the trainer's Reset (``loaded``).
"""
from __future__ import annotations

import asyncio
import html
import io
import time

import numpy as np
import panel as pn

from playground.apps.gpt.lab import KNOBS, LIVE, GPTLab, check_knobs, fetch_pretrained, pretrained_download
from playground.apps.gpt.model import PRESETS
from playground.apps.gpt.plots import GPTPlots
from playground.training.held import held_trainer
from playground.ui.components import FilePicker
from playground.ui.pacing import Paced
from playground.ui.session import locked, server_doc

SAMPLE_CHARS = 300   # the length of a sample
STREAM_SECONDS = 0.04  # sampling after each chunk of training: a few characters' worth
READ_SECONDS = 4.0   # a complete sample stays this long before a fresh one starts
# pre-wrap keeps the play's lines; overflow-wrap breaks an untrained model's endless "words"
TEXT_STYLE = ("white-space: pre-wrap; overflow-wrap: anywhere; margin: 0; font: 13px/1.35 ui-monospace, "
              "monospace; background: #fafaf7; border: 1px solid #e4e4dc; border-radius: 4px; padding: 6px 8px")


def say(alert, text, ok=True):
    """Show ``text`` in ``alert`` (green when ``ok``, red when not); no text hides it."""
    alert.object, alert.alert_type, alert.visible = text, "success" if ok else "danger", bool(text)


def duration(seconds):
    return f"{seconds / 60:.0f} min" if seconds >= 90 else f"{seconds:.0f} s"


class GPTView:
    """Preset and knobs, sampling, attention, files, the plots and the trainer."""

    def __init__(self, data=None):
        w = pn.widgets
        self.data = data
        self.preset = w.RadioButtonGroup(options=list(PRESETS), value="nano", width=160)
        self.knob = {k: (w.FloatInput if k in ("lr", "dropout") else w.IntInput)(
            label=label.capitalize(), value=PRESETS["nano"][k], width={"lr": 78, "max_iters": 68}.get(k, 64))
            for k, (label, _, _) in KNOBS.items()}
        self.knob_msg = pn.pane.Alert("", visible=False, sizing_mode="stretch_width", margin=(4, 5))
        self.speed = pn.pane.Markdown("", sizing_mode="stretch_width", margin=(0, 5))
        self.about = pn.pane.Markdown("", sizing_mode="stretch_width", margin=(0, 5),
                                      styles={"font-size": "12px", "color": "#555"})

        self.temperature = w.FloatSlider(label="Temperature", start=0.1, end=2.0, step=0.05, value=0.8, width=120)
        self.top_k = w.IntInput(label="Top-k (0: all)", value=0, width=80)
        self.prompt = w.TextInput(label="Prompt to continue", placeholder="e.g. ROMEO:", value="", width=130)
        self.resample = w.Button(label="Sample", width=75, align="end")
        self.sample_msg = pn.pane.Alert("", visible=False, sizing_mode="stretch_width", margin=(4, 5))
        self.text_pane = pn.pane.HTML("", sizing_mode="stretch_width", min_height=120)

        self.layer = w.Select(label="Layer", options={"1": 0}, width=70)
        self.head = w.Select(label="Head", options={"1": 0}, width=70)
        self.line = w.TextInput(label="A line to look at", value="ROMEO: But soft, what light", width=180)
        self.att_msg = pn.pane.Alert("", visible=False, sizing_mode="stretch_width", margin=(4, 5))

        self.download = w.FileDownload(callback=self.download_bytes, filename="gpt.npz", label="Save (.npz)",
                                       width=130)
        self.upload = FilePicker(accept=".npz", label="Load a saved GPT (.npz):", width=260, height=50)
        self.use_pretrained = w.Button(label="Load the pretrained baby GPT", width=230, color="success")
        self.file_msg = pn.pane.Alert("", visible=False, sizing_mode="stretch_width", margin=(4, 5))

        self.lab = {"m": GPTLab("nano", data=data)}  # replaced on Reset
        self.rng = np.random.default_rng(0)
        self.loaded = None  # a lab to start the next build from (a file, the pretrained one)
        self.plots = GPTPlots()
        self.losses = []  # train losses since the curve's last point
        self.paced = Paced(self.advance)
        self.stream, self.text, self.done_at, self.task = None, "", 0.0, None
        self.recent = []  # (time, iteration) of the last chunks: the time left
        self.quiet = False  # True while code sets the knobs (a preset, a loaded file)
        self.trainer = held_trainer(self.lab, self.build, chunk=5, chunk_seconds=0.2, on_chunk=self.on_chunk,
                                    on_stop=self.on_stop, max_steps=self.max_steps, unit="tokens",
                                    limit="the iterations")
        self.trainer.param.watch(lambda e: self.show_speed(), "progress")

        self.preset.param.watch(self.on_preset, "value")
        for k, x in self.knob.items():
            x.param.watch(lambda e, k=k: self.on_knob(k), "value")
        for x in (self.temperature, self.top_k, self.prompt):
            x.param.watch(lambda e: self.sample(), "value")
        self.resample.on_click(lambda e: self.sample())
        for x in (self.layer, self.head, self.line):
            x.param.watch(lambda e: self.show_attention(), "value")
        self.upload.param.watch(self.on_upload, "file")
        self.use_pretrained.on_click(lambda e: self.load_pretrained())
        self.refresh()
        self.show_text()

    def max_steps(self):
        """The run ends at the lab's iterations, wherever it started (a loaded run)."""
        m, t = self.lab["m"], getattr(self, "trainer", None)  # (called while the trainer is made)
        return (t.step if t else 0) + max(m.max_iters - m.iter, 0)

    # ------------------------------------------------------------------ knobs

    def knobs(self):
        return {k: x.value for k, x in self.knob.items()}

    def show_knobs(self, knobs, preset):
        """Set the widgets without acting on it (a preset chosen, a file loaded)."""
        self.quiet = True
        try:
            self.preset.value = preset
            for k, x in self.knob.items():
                x.value = knobs[k]
        finally:
            self.quiet = False

    def on_preset(self, e):
        if self.quiet:
            return
        self.show_knobs({k: PRESETS[e.new][k] for k in KNOBS}, e.new)
        say(self.knob_msg, "")
        self.trainer.rebuild(f"preset → {e.new}")

    def on_knob(self, key):
        """A knob edited: a wrong setting is answered and changes nothing; a live one applies
        at the next chunk; the others wait for a new model (Apply, Train or Reset)."""
        if self.quiet:
            return
        knobs = self.knobs()
        if why := check_knobs(knobs):
            say(self.knob_msg, f"{why}. The current model is unchanged.", ok=False)
            return
        say(self.knob_msg, "")
        m, label, value = self.lab["m"], KNOBS[key][0], knobs[key]
        rebuild = [k for k in KNOBS if k not in LIVE and knobs[k] != m.knobs[k]]
        if not rebuild and all(knobs[k] == m.knobs[k] for k in LIVE):
            return  # back to what the model has
        if key in LIVE and not rebuild:
            self.trainer.queue(lambda: self.set_live(m, key, value), f"{label} {value:g}")
        else:
            self.trainer.rebuild(f"{label} → {value:g}")

    def set_live(self, m, key, value):
        m.set_live(key, value)
        self.trainer.update_progress()  # the run's length may have changed
        self.show_speed()

    # ------------------------------------------------------------------ training

    def build(self, seed=0):
        """Reset: the loaded lab, else a new model from the knobs (kept if they are wrong)."""
        if self.loaded is not None:
            lab, self.loaded = self.loaded, None
            lab.record(float("nan"), lab.evaluate())  # where the loaded run starts: its val loss
        else:
            knobs = self.knobs()
            if why := check_knobs(knobs):
                say(self.knob_msg, f"{why}. The current model is kept.", ok=False)
                return
            lab = GPTLab(self.preset.value, seed, self.data, **knobs)
        self.lab["m"] = lab
        self.rng = np.random.default_rng(seed)  # samples of their own: training's draws stay as they were
        self.losses, self.recent = [], []
        self.stream, self.text, self.done_at = None, "", 0.0  # the last model's sample goes with it
        self.show_text()
        self.paced.reset()
        self.plots.show_history(lab.history)
        self.download.filename = f"gpt-{lab.preset}.npz"
        self.refresh()

    def on_chunk(self, metrics):
        self.losses.extend(x["loss"] for x in metrics)
        now = time.perf_counter()
        self.recent = [r for r in self.recent if now - r[0] < 20] + [(now, self.lab["m"].iter)]
        self.paced()
        if self.stream is None and now - self.done_at > READ_SECONDS:
            self.new_sample()
        self.stream_some(STREAM_SECONDS)

    def advance(self, finish=False):
        """One more val batch (``finish``: all that are left); when the pass is complete the
        curve gets its point and the attention map the new weights."""
        m = self.lab["m"]
        val = m.evaluate_some()
        while finish and val is None:
            val = m.evaluate_some()
        if val is not None and self.losses:
            train = sum(self.losses) / len(self.losses)
            self.losses = []
            m.record(train, val)
            self.plots.add_losses(m.iter, train, val)
            self.refresh()

    def on_stop(self, t):
        if t.error:  # diverged: the weights were restored; mark where, show the restored model
            self.plots.diverged(t, self.lab["m"].iter)
            self.losses = []
            self.lab["m"].passing = None
            self.refresh()
        elif self.losses:
            self.advance(finish=True)
        self.show_speed()
        if self.stream is not None:
            self.start_streaming()  # the sample under way goes on without training

    # ------------------------------------------------------------------ drawing

    def refresh(self):
        m = self.lab["m"]
        n_layer, n_head = m.run.model.config.n_layer, m.run.model.config.n_head
        if len(self.layer.options) != n_layer or len(self.head.options) != n_head:
            self.layer.options = {str(i + 1): i for i in range(n_layer)}
            self.head.options = {str(i + 1): i for i in range(n_head)}
        val = m.history["val"][-1] if m.history["val"] else None
        self.about.object = (f"{m.preset}-shaped GPT: {m.run.model.num_parameters() / 1e6:.2f} M parameters, "
                             f"{m.knobs['n_layer']} layers × {m.knobs['n_head']} heads × {m.knobs['n_embd']} "
                             f"channels, block {m.knobs['block_size']} · weights: {m.source}"
                             + (f" · val loss {val:.3f}" if val is not None else ""))
        self.show_speed()
        self.show_attention()

    def show_speed(self):
        """Iterations, the training speed (tokens/s, ms per step) and the time left, from the
        trainer's rate and the wall-clock rate of the last chunks."""
        m, p = self.lab["m"], self.trainer.progress
        parts = [f"iteration {m.iter:,} of {m.max_iters:,}"]
        steps_s = p.get("samples_per_s", 0) / m.tokens_per_step  # the trainer counts tokens
        if steps_s and self.trainer.step:
            parts += [f"**{steps_s * m.tokens_per_step:,.0f} tokens/s**", f"{1000 / steps_s:.0f} ms/step"]
        if len(self.recent) > 1 and self.trainer.running:
            (t0, i0), (t1, i1) = self.recent[0], self.recent[-1]
            if i1 > i0:
                parts.append(f"about {duration((m.max_iters - m.iter) * (t1 - t0) / (i1 - i0))} left")
        self.speed.object = " · ".join(parts)

    def show_text(self):
        shown = html.escape(self.text)
        if not shown and self.stream is None:  # nothing sampled yet
            shown = "<i style='color:#888'>Train, or press Sample: what it writes shows here.</i>"
        self.text_pane.object = f"<pre style='{TEXT_STYLE}'>{shown}</pre>"

    def show_attention(self):
        try:
            chars, w = self.lab["m"].attention(self.line.value or "\n", self.layer.value or 0, self.head.value or 0)
        except ValueError as e:
            say(self.att_msg, f"{e}: the map shows the last line it could read.", ok=False)
            return
        say(self.att_msg, "")
        self.plots.show_attention(chars, w, self.layer.value or 0, self.head.value or 0)

    # ------------------------------------------------------------------ sampling

    def new_sample(self):
        """A fresh sample from the current weights (the prompt first); False, and said, when
        the prompt or top-k cannot be used."""
        k = self.top_k.value
        if k is None or k < 0:
            say(self.sample_msg, "top-k is how many likeliest characters to draw from: 0 (all) or more.", False)
            return False
        try:
            self.stream = self.lab["m"].stream(self.prompt.value, SAMPLE_CHARS, self.temperature.value, k, self.rng)
        except ValueError as e:
            say(self.sample_msg, f"{e}: this model knows only the characters of the plays.", ok=False)
            self.stream = None
            return False
        say(self.sample_msg, "")
        self.text = self.prompt.value
        self.show_text()
        return True

    def stream_some(self, seconds):
        """More characters of the current sample for about ``seconds``; False once complete."""
        if self.stream is None:
            return False
        got, t = [], time.perf_counter()
        for c in self.stream:
            got.append(c)
            if time.perf_counter() - t > seconds:
                break
        else:
            self.stream, self.done_at = None, time.perf_counter()
        self.text += "".join(got)
        self.show_text()
        return self.stream is not None

    def sample(self):
        """A fresh sample: streamed by the training loop while it runs, else by a task."""
        if self.new_sample() and not self.trainer.running:
            self.start_streaming()

    def start_streaming(self):
        if self.task is not None and not self.task.done():
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # no loop (a script, a test): the whole sample now
            self.finish_sample()
            return
        self.task = loop.create_task(self.streaming())

    async def streaming(self):
        gap = 0.02 if server_doc() is not None else 0
        while self.stream is not None and not self.trainer.running:
            await locked(self.stream_some, 0.05)
            await asyncio.sleep(gap)

    def finish_sample(self):
        """The rest of the current sample now (scripts and tests)."""
        while self.stream_some(1.0):
            pass
        return self.text

    # ------------------------------------------------------------------ files

    def download_bytes(self):
        data = self.lab["m"].save_bytes()
        say(self.file_msg, f"Saved {len(data) / 1e3:,.0f} kB: the model, its vocabulary and settings (no pickle).")
        return io.BytesIO(data)

    def on_upload(self, event):
        if event.new:
            raw, name = self.upload.data(), self.upload.filename or "the chosen file"
            self.load(lambda: GPTLab.load(raw, self.data, source=name))

    def load_pretrained(self):
        """Load it; where the page fetches it only when asked, download it first in a task (the
        button waits meanwhile; a failed download keeps the current model)."""
        if not (size := pretrained_download()):
            return self.load(lambda: GPTLab.pretrained(self.data))
        self.use_pretrained.disabled = True
        say(self.file_msg, f"Downloading the pretrained baby GPT ({size})…")
        try:
            self.fetching = asyncio.get_running_loop().create_task(self.download_pretrained())
        except RuntimeError:  # no loop (a script, a test): download now
            asyncio.run(self.download_pretrained())

    async def download_pretrained(self):
        try:
            await fetch_pretrained()
        except ValueError as e:
            return await locked(self.fetched, f"{e}. The current model is unchanged.")
        await locked(self.fetched, "")

    def fetched(self, why):
        self.use_pretrained.disabled = False
        if why:
            say(self.file_msg, why, ok=False)
        else:
            self.load(lambda: GPTLab.pretrained(self.data))

    def load(self, make):
        """Replace the lab by ``make()``'s; on any problem say so and keep the current one."""
        try:
            lab = make()
        except ValueError as e:
            say(self.file_msg, f"{e}. The current model is unchanged.", ok=False)
            return False
        self.show_knobs(lab.knobs, lab.preset)
        say(self.knob_msg, "")
        self.loaded = lab
        self.trainer.reset()  # build() takes the loaded lab
        more = ("raise the iterations and Train to go on" if lab.iter >= lab.max_iters else
                "Train continues from these weights")
        say(self.file_msg, f"Loaded {lab.source}: its sample streams in below; {more}.")
        self.sample()
        return True

    # ------------------------------------------------------------------ the page

    def controls(self):
        """The handles tests and lessons reach for."""
        p = self.plots
        return dict(view=self, trainer=self.trainer, lab=self.lab, preset=self.preset, knobs=self.knob,
                    knob_msg=self.knob_msg, temperature=self.temperature, top_k=self.top_k, prompt=self.prompt,
                    resample=self.resample, text=self.text_pane, sample_msg=self.sample_msg, layer=self.layer,
                    head=self.head, line=self.line, att=p.att_src, att_msg=self.att_msg, curve=p.curve_src,
                    spikes=p.spikes, speed=self.speed, about=self.about, download=self.download,
                    upload=self.upload, pretrained=self.use_pretrained, file_msg=self.file_msg,
                    flush=lambda: self.advance(finish=True))
