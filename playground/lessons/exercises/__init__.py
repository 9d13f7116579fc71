"""Exercises: the kinds, the sandbox that runs a learner's code, the bank of the lessons'
exercises and the registry that looks them up by id."""
