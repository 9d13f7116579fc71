"""`panel serve playground/apps/digits` serves this app at /digits (?view=draw|train): a Bokeh
directory app runs this file."""
import panel as pn

from playground.apps.digits.app import digits_app, VIEWS

if __name__.startswith("bokeh"):
    pn.extension()
    view = (pn.state.session_args.get("view") or [b""])[0].decode() or None
    digits_app(view=view if view in VIEWS else None).servable(title="Descent · Digits")
