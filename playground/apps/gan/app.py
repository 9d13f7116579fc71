"""GAN studio: an MNIST GAN you watch learn, and a 2-D GAN you can take apart.

MNIST GAN (MLP, ``run.py``): by default a conditional GAN with an auxiliary classifier head
on D; untick "conditional" for the vanilla GAN, or pick one digit to train on just that class.

2-D anatomy (in the spirit of GAN Lab, ``anatomy.py``): a real 2-D distribution, generated
points moving, the discriminator's opinion as a heat-map, and arrows showing where the
generator's gradient pushes each fake point; train continuously or one D step / G step at a time.

``gan_app(view="grid")`` is the compact page the site embeds in blog posts
(``embed/gan-grid.html``): the MNIST GAN's trainer, its sample grid and small loss curves.
The tabs' widgets and plots are in ``views.py``; this module composes the page.
"""
from __future__ import annotations

VIEWS = (None, "grid")  # gan_app(view=...): the whole studio, or the embed's part


def gan_app(data=None, classifier="default", view=None):
    """The GAN studio page. ``data``: MNIST arrays to use instead of loading them;
    ``classifier``: the judge model, None for none, "default" for the shipped one;
    ``view``: None for the whole studio, "grid" for the compact embed (trainer controls, the
    live sample grid and small loss curves; no judge, no 2-D tab)."""
    if view not in VIEWS:
        raise ValueError(f"unknown view {view!r}; choose one of {VIEWS}")
    grid_only = view == "grid"
    import panel as pn

    from engine.data import load_mnist
    from playground.apps.gan.views import AnatomyView, MnistView
    from playground.training.assets import load_classifier

    pn.extension()
    data = data if data is not None else load_mnist()
    judge_model = {"model": None if grid_only else
                   load_classifier() if classifier == "default" else classifier}
    mnist = MnistView(data, judge_model, judging=not grid_only)
    if grid_only:
        layout = mnist.grid_layout()
        layout.controls = mnist.controls()
        return layout
    anatomy = AnatomyView()
    layout = pn.Column("## GAN studio",
                       pn.Tabs(("MNIST GAN", mnist.layout()), ("2-D anatomy", anatomy.layout()), dynamic=False,
                               sizing_mode="stretch_width"),
                       sizing_mode="stretch_width")
    layout.controls = {**mnist.controls(), **anatomy.controls()}
    return layout
