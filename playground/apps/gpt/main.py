"""`panel serve playground/apps/gpt` serves this app at /gpt: a Bokeh directory app runs
this file."""

from playground.apps.gpt.app import gpt_app

if __name__.startswith("bokeh"):
    gpt_app().servable(title="Descent · GPT on Shakespeare")
