"""`python -m engine.data build-mnist | build-names`: the build-time converters (build.py)."""
from .build import main

main()
