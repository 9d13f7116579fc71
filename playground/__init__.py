"""Descent playground: Panel apps over the engine, and the shared Trainer."""
