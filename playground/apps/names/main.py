"""`panel serve playground/apps/names` serves this app at /names: a Bokeh
directory app runs this file."""

from playground.apps.names.app import names_app

if __name__.startswith("bokeh"):
    names_app().servable(title="Descent · names")
