"""The exercises of the lessons, one module per group."""
