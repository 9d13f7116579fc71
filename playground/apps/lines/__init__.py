"""Count the lines: a small CNN, its lab and its app."""
