"""`panel serve playground/apps/autograd` serves this app at /autograd: a Bokeh
directory app runs this file."""

from playground.apps.autograd.app import autograd_app

if __name__.startswith("bokeh"):
    autograd_app().servable(title="Descent · autograd explorer")
