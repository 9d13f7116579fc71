"""GPT on Shakespeare (nanoGPT's first experiment): the model, its training run, its app."""
