"""The 2-D playground's parts: data (datasets, CSV uploads), run (the setup, model and
training state) and export (the code the page shows) have no Panel in them; upload is the
browser side of a CSV upload. The page that composes them is ``playground.apps.playground2d``."""
