"""`panel serve playground/apps/gan` serves this app at /gan (?view=grid): a Bokeh
directory app runs this file."""
import panel as pn

from playground.apps.gan.app import gan_app, VIEWS

if __name__.startswith("bokeh"):
    view = (pn.state.session_args.get("view") or [b""])[0].decode() or None
    gan_app(view=view if view in VIEWS else None).servable(title="Descent · GAN studio")
