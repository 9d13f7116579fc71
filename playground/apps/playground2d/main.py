"""`panel serve playground/apps/playground2d` serves this app at /playground2d: a Bokeh
directory app runs this file."""

from playground.apps.playground2d.app import playground2d_app

if __name__.startswith("bokeh"):
    playground2d_app().servable(title="Descent · 2-D playground")
