"""Shared by every stage of the site build: pinned versions and addresses, the apps and
embeds the site has, small helpers."""
from __future__ import annotations


import re
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SITE_SRC = ROOT / "site"
PYODIDE_VERSION = "0.29.3"
PYODIDE_CDN = f"https://cdn.jsdelivr.net/pyodide/v{PYODIDE_VERSION}/full/"
BOKEH_VERSION = "3.9.2"
PANEL_VERSION = "1.9.4"
# addresses that must not survive in an offline bundle (and, but for Pyodide's, in any build)
CDN_PATTERNS = ("cdn.jsdelivr.net/pyodide", "cdn.holoviz.org", "cdn.bokeh.org",
                "pypi.org", "files.pythonhosted.org")
# what the pages fetch from the Pyodide distribution; its python_stdlib.zip is not among them:
# the site ships it compiled (stdlib/, sitebuild.wheels.compile_stdlib)
RUNTIME_FILES = ("pyodide.js", "pyodide.asm.js", "pyodide.asm.wasm", "pyodide-lock.json")
# Environment markers of Pyodide 0.29 (CPython 3.13, emscripten) for dependency resolution.
PYODIDE_ENV = {"python_version": "3.13", "python_full_version": "3.13.2", "sys_platform": "emscripten",
               "platform_system": "Emscripten", "platform_machine": "wasm32", "os_name": "posix",
               "implementation_name": "cpython", "platform_python_implementation": "CPython",
               "extra": ""}


@dataclass
class App:
    slug: str
    module: str
    func: str
    title: str
    blurb: str
    data: bool = False
    embed: str = ""


@dataclass
class Embed:
    widget: str
    app: str
    kwargs: dict = field(default_factory=dict)
    blurb: str = ""


APPS = [
    App("digits", "playground.apps.digits", "digits_app", "Digits",
        "Train softmax, MLP or CNN on MNIST and watch it learn: curves, confusion matrix, "
        "mistakes, weights. Draw your own digit.", data=True, embed="digits-train"),
    App("gan", "playground.apps.gan", "gan_app", "GAN studio",
        "A GAN learns to write digits; a 2-D GAN shows the anatomy: discriminator heat-map, "
        "gradients on fake points.", data=True, embed="gan-grid"),
    App("playground2d", "playground.apps.playground2d", "playground2d_app", "2-D playground",
        "TensorFlow-Playground-style: datasets, features, layers, decision boundary; "
        "upload your points; export the code.", embed="playground-2d"),
    App("autograd", "playground.apps.autograd", "autograd_app", "Autograd explorer",
        "Type an expression, see its computation graph and step through the backward pass.",
        embed="autograd"),
    App("lines", "playground.apps.lines", "lines_app", "Count the lines",
        "Train a small CNN to count lines in images and look at what it gets wrong.", embed="lines"),
    App("names", "playground.apps.names", "names_app", "Names (makemore)",
        "Made-up names one letter at a time: bigram counts, a neural bigram, an MLP, a tiny "
        "transformer. Sample live, set the temperature, complete your prefix.", embed="names"),
]
EMBEDS = [
    Embed("digits-draw", "digits", {"view": "draw"}, "Draw a digit, see the model's guess."),
    Embed("digits-train", "digits", {"view": "train"}, "Train a digits classifier, watch the curves."),
    Embed("gan-grid", "gan", {"view": "grid"}, "The GAN's samples as they improve."),
    Embed("playground-2d", "playground2d", {}, "The 2-D playground."),
    Embed("autograd", "autograd", {}, "The autograd explorer."),
    Embed("lines", "lines", {}, "Count the lines."),
    Embed("names", "names", {}, "makemore: names from counts to attention."),
]


class BuildError(RuntimeError):
    """The build cannot go on; the message says why and what to do."""


def log(msg):
    print(msg, flush=True)


def human(n):
    return f"{n / 1e6:.1f} MB" if n >= 1e5 else f"{n / 1e3:.0f} kB"


def _norm(name):
    return re.sub(r"[-_.]+", "-", name).lower()

def _files(out: Path):
    return sorted(p for p in out.rglob("*") if p.is_file())


def _rel(out, p):
    return p.relative_to(out).as_posix()

def _project_version():
    m = re.search(r'^version\s*=\s*"([^"]+)"', (ROOT / "pyproject.toml").read_text(), re.M)
    return m.group(1) if m else "0"


NOT_CACHED = {"build.json", "sw.js", "version.json"}
TEXT_SUFFIXES = {".html", ".js", ".mjs", ".css", ".json", ".webmanifest", ".txt", ".md", ".svg"}
