"""Names (makemore): the model ladder and its app."""
