"""The 2-D playground: data, run (no Panel), export, and the app (`panel serve playground/apps/playground2d`)."""
