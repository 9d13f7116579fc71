"""The training loop, the recipes (models and optimisers by name) and the shipped weights."""
