"""What every app's page is made of: controls, plots, palettes, the Bokeh document lock."""
