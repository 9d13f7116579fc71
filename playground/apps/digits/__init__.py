"""Digits: train a classifier on MNIST and watch it learn (`panel serve playground/apps/digits`)."""
