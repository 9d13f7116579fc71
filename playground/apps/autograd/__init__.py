"""Autograd explorer: an expression's graph and its backward pass (`panel serve playground/apps/autograd`)."""
