"""The lessons runtime: the format, progress, the page, the widgets, the exercises."""
