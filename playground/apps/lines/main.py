"""`panel serve playground/apps/lines` serves this app at /lines: a Bokeh
directory app runs this file."""

from playground.apps.lines.app import lines_app

if __name__.startswith("bokeh"):
    lines_app().servable(title="Descent · count the lines")
