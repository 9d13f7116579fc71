"""The one list of the apps the site has and the embeds it offers. The site build makes a page
per app and per embed from it, the lessons link to these apps, `descent serve-local` serves
them. Plain data: importing it imports no app."""
from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class App:
    slug: str
    module: str
    func: str
    title: str
    blurb: str
    data: tuple = ()  # the data files its page fetches beside the wheel (playground.sitebuild.data)
    embed: str = ""


@dataclass
class Embed:
    widget: str
    app: str
    kwargs: dict = field(default_factory=dict)
    blurb: str = ""


APPS = [
    App("digits", "playground.apps.digits.app", "digits_app", "Digits",
        "Train softmax, MLP or CNN on MNIST and watch it learn: curves, confusion matrix, "
        "mistakes, weights. Draw your own digit.", data=("mnist",), embed="digits-train"),
    App("gan", "playground.apps.gan.app", "gan_app", "GAN studio",
        "A GAN learns to write digits; a 2-D GAN shows the anatomy: discriminator heat-map, "
        "gradients on fake points.", data=("mnist",), embed="gan-grid"),
    App("playground2d", "playground.apps.playground2d.app", "playground2d_app", "2-D playground",
        "TensorFlow-Playground-style: datasets, features, layers, decision boundary; "
        "upload your points; export the code.", embed="playground-2d"),
    App("autograd", "playground.apps.autograd.app", "autograd_app", "Autograd explorer",
        "Type an expression, see its computation graph and step through the backward pass.",
        embed="autograd"),
    App("lines", "playground.apps.lines.app", "lines_app", "Count the lines",
        "Train a small CNN to count lines in images and look at what it gets wrong.", embed="lines"),
    App("names", "playground.apps.names.app", "names_app", "Names (makemore)",
        "Made-up names one letter at a time: bigram counts, a neural bigram, an MLP, a tiny "
        "transformer. Sample live, set the temperature, complete your prefix.", embed="names"),
    App("gpt", "playground.apps.gpt.app", "gpt_app", "GPT on Shakespeare",
        "nanoGPT's first experiment: a character-level GPT trained on Shakespeare, live. Loss curves, "
        "samples as it learns, attention maps; load the pretrained baby GPT.",
        data=("shakespeare", "gpt-baby"), embed="gpt"),
]
EMBEDS = [
    Embed("digits-draw", "digits", {"view": "draw"}, "Draw a digit, see the model's guess."),
    Embed("digits-train", "digits", {"view": "train"}, "Train a digits classifier, watch the curves."),
    Embed("gan-grid", "gan", {"view": "grid"}, "The GAN's samples as they improve."),
    Embed("playground-2d", "playground2d", {}, "The 2-D playground."),
    Embed("autograd", "autograd", {}, "The autograd explorer."),
    Embed("lines", "lines", {}, "Count the lines."),
    Embed("names", "names", {}, "makemore: names from counts to attention."),
    Embed("gpt", "gpt", {}, "A GPT trained on Shakespeare, sampled as it learns."),
]
