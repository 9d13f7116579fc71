"""The gpt app (issue 19): the lab without Panel (knobs checked, samples streamed, attention
maps, save and load, a diverging run stopped and restored) and the Panel app built from it
(knob edits, sampling, files, the pretrained model, an embed that fits a narrow column)."""
import numpy as np
import pytest

from engine.data import DEFAULT_SHAKESPEARE_PATH

if not DEFAULT_SHAKESPEARE_PATH.is_file():
    pytest.skip("Shakespeare corpus missing (make engine/_data/shakespeare.txt.gz)", allow_module_level=True)

from playground.apps.gpt.lab import KNOBS, GPTLab, check_knobs  # noqa: E402
from playground.apps.gpt.model import PRESETS  # noqa: E402


@pytest.fixture(scope="module")
def nano():
    return {k: PRESETS["nano"][k] for k in KNOBS}


def logits(lab, text="ROMEO:\nBut soft"):
    lab.run.model.eval()
    return lab.run.model(lab.encode(text)[None])[0].data


# --------------------------------------------------------------------------- the lab

def test_presets_give_the_issue_shapes():
    nano, baby = GPTLab("nano"), GPTLab("baby")
    assert nano.knobs["n_layer"] == 2 and nano.knobs["n_embd"] == 64 and nano.knobs["block_size"] == 64
    assert baby.knobs == {k: PRESETS["baby"][k] for k in KNOBS}
    assert (baby.knobs["n_layer"], baby.knobs["n_head"], baby.knobs["n_embd"], baby.knobs["batch_size"]) == (4, 4, 128, 12)
    n, b = nano.run.model.num_parameters(), baby.run.model.num_parameters()
    assert 0.05e6 < n < 0.3e6 and 0.7e6 < b < 0.9e6, (n, b)
    assert baby.tokens_per_step == 12 * 64
    edited = GPTLab("nano", n_layer=3, n_embd=96, n_head=6, block_size=32, lr=2e-3)
    cfg = edited.run.model.config
    assert (cfg.n_layer, cfg.n_embd, cfg.n_head, cfg.block_size) == (3, 96, 6, 32)
    assert edited.run.cfg["lr"] == 2e-3 and edited.run.cfg["min_lr"] == pytest.approx(2e-4)


@pytest.mark.parametrize("change, words", [
    ({"n_embd": 64, "n_head": 3}, "multiple of the heads"),
    ({"n_layer": 0}, "layers must be from 1"),
    ({"n_head": 2.5}, "heads must be a whole number"),
    ({"block_size": None}, "block must be a whole number"),
    ({"lr": 0.0}, "learning rate must be above 0"),
    ({"lr": float("nan")}, "learning rate must be a number"),
    ({"dropout": 1.0}, "dropout is a probability"),
    ({"batch_size": -4}, "batch must be from 1"),
    ({"max_iters": 0}, "iterations must be from 1"),
])
def test_a_wrong_knob_is_answered_in_words(nano, change, words):
    assert check_knobs(nano) == ""
    assert words in check_knobs({**nano, **change})
    with pytest.raises(ValueError, match=words):
        GPTLab("nano", **change)


def test_a_sample_streams_one_character_at_a_time():
    lab = GPTLab("nano")
    gen = lab.stream("ROMEO:", 40, temperature=0.9, top_k=10, rng=np.random.default_rng(1))
    first = next(gen)
    assert isinstance(first, str) and len(first) == 1
    rest = "".join(gen)
    assert len(rest) == 39 and set(first + rest) <= set(lab.run.vocab.chars)
    again = "".join(lab.stream("ROMEO:", 40, 0.9, 10, np.random.default_rng(1)))
    assert again == first + rest  # the same seed, the same sample
    greedy = ["".join(lab.stream("A", 20, 1.0, 1, np.random.default_rng(s))) for s in (0, 1)]
    assert greedy[0] == greedy[1]  # top-k 1: the likeliest character every time
    with pytest.raises(ValueError, match="not in the vocabulary: 'é'"):
        lab.stream("café", 10)
    with pytest.raises(ValueError, match="temperature"):
        lab.stream("A", 10, temperature=0)


def test_attention_is_a_causal_t_by_t_map_per_head():
    lab = GPTLab("nano")
    chars, w = lab.attention("To be, or not", layer=1, head=3)
    assert chars == list("To be, or not") and w.shape == (13, 13)
    assert np.allclose(w.sum(axis=1), 1, atol=1e-5) and np.allclose(np.triu(w, 1), 0)  # no peeking ahead
    other = lab.attention("To be, or not", layer=0, head=0)[1]
    assert not np.allclose(w, other)  # another head, another map
    long = "x" * 100
    assert len(lab.attention(long)[0]) == lab.knobs["block_size"]  # the last block_size characters
    with pytest.raises(ValueError, match="no head 5 in layer 1"):
        lab.attention("abc", 0, 4)
    with pytest.raises(ValueError, match="not in the vocabulary"):
        lab.attention("naïve")


def test_training_lowers_the_val_loss_measured_in_slices():
    lab = GPTLab("nano", lr=3e-3, max_iters=200)
    v0 = lab.evaluate()
    assert v0 == pytest.approx(np.log(65), abs=0.15)  # a fresh model guesses uniformly
    got = [lab.evaluate_some() for _ in range(8)]
    assert got[:-1] == [None] * 7 and got[-1] == pytest.approx(v0)  # the same fixed val batches
    for _ in range(60):
        out = lab.step()
    assert out["samples"] == 12 * 64 == lab.tokens_per_step and np.isfinite(out["loss"])
    assert lab.iter == 60 and lab.evaluate() < v0 - 0.6


def test_save_load_twice_after_training_and_a_corrupt_file(tmp_path):
    lab = GPTLab("nano", n_layer=1, lr=3e-3)
    for _ in range(10):
        lab.step()
    raw = lab.save_bytes()
    for _ in range(2):  # the same file twice
        back = GPTLab.load(raw, source="gpt.npz")
        assert np.allclose(logits(back), logits(lab), atol=1e-6)
        assert back.iter == 10 and back.knobs == lab.knobs and "gpt.npz (trained 10 iterations)" in back.source
    for _ in range(5):  # and after more training
        back.step()
    again = GPTLab.load(back.save_bytes())
    assert again.iter == 15 and np.allclose(logits(again), logits(back), atol=1e-6)
    for bad in (b"", b"not a file", raw[: len(raw) // 2], raw[:100] + bytes(200) + raw[300:]):
        with pytest.raises(ValueError, match="could not load"):
            GPTLab.load(bad)
    digits = tmp_path / "other.npz"
    from engine import io, nn
    io.save(nn.Sequential(nn.Linear(2, 2)), digits)
    with pytest.raises(ValueError, match="could not load"):  # a model file, not a GPT run
        GPTLab.load(digits.read_bytes())


def test_the_pretrained_file_loads_and_its_absence_is_said(tmp_path, monkeypatch):
    monkeypatch.setenv("DESCENT_GPT_BABY", str(tmp_path / "none.npz"))
    with pytest.raises(ValueError, match="not here.*make playground/assets/gpt_baby.npz"):
        GPTLab.pretrained()
    lab = GPTLab("nano", n_layer=1)
    lab.step()
    (tmp_path / "gpt_baby.npz").write_bytes(lab.save_bytes())
    monkeypatch.setenv("DESCENT_GPT_BABY", str(tmp_path / "gpt_baby.npz"))
    got = GPTLab.pretrained()
    assert got.source.startswith("the pretrained baby GPT") and np.allclose(logits(got), logits(lab), atol=1e-6)


# --------------------------------------------------------------------------- the app

pn = pytest.importorskip("panel")


@pytest.fixture
def app():
    from playground.apps.gpt.app import gpt_app
    return gpt_app()


def text_of(c):
    return c["view"].text


def test_the_app_trains_draws_the_curve_speed_and_a_sample(app):
    c = app.controls
    c["trainer"].run_steps(12)
    c["flush"]()
    assert c["curve"].data["step"] == [12] and 3 < c["curve"].data["val"][0] < 4.4
    assert "iteration 12 of 2,000" in c["speed"].object and "tokens/s" in c["speed"].object
    assert "ms/step" in c["speed"].object
    t = c["trainer"]  # the shared progress line counts tokens, as the speed line does
    assert t.progress["unit"] == "tokens" and t.samples == 12 * c["lab"]["m"].tokens_per_step
    c["prompt"].value = "KING"  # a new prompt: a fresh sample begins with it
    assert text_of(c).startswith("KING") and len(text_of(c)) == 4 + 300
    assert "KING" in c["text"].object and c["sample_msg"].visible is False
    c["prompt"].value = "KING€"
    assert c["sample_msg"].visible and "'€'" in c["sample_msg"].object
    assert text_of(c).startswith("KING") and "€" not in text_of(c)  # the last sample stays
    img = c["att"].data["image"][0]
    assert img.shape == (len(c["line"].value),) * 2
    c["trainer"].reset()  # a new model: the last one's sample goes with it
    assert text_of(c) == "" and c["view"].stream is None and "what it writes shows here" in c["text"].object


def test_a_wrong_knob_leaves_the_model_untouched_and_a_right_one_builds_a_new_one(app):
    c = app.controls
    c["trainer"].run_steps(3)
    model = c["lab"]["m"]
    c["knobs"]["n_head"].value = 3
    assert c["knob_msg"].visible and "multiple of the heads" in c["knob_msg"].object
    assert c["lab"]["m"] is model and not c["trainer"].pending_reset
    c["trainer"].apply_pending()  # nothing waits: the model stays
    assert c["lab"]["m"] is model
    c["knobs"]["n_head"].value = 4  # back as it was: nothing to do
    assert not c["knob_msg"].visible and not c["trainer"].pending_reset
    c["knobs"]["n_layer"].value = 3  # a new architecture: waits for Apply (the run is kept)
    assert "layers → 3" in c["trainer"].pending_reset and c["lab"]["m"] is model
    c["trainer"].apply_pending()
    assert c["lab"]["m"] is not model and c["lab"]["m"].knobs["n_layer"] == 3
    assert list(c["layer"].options) == ["1", "2", "3"]
    c["knobs"]["max_iters"].value = 50  # live: the run's length, no new model
    m = c["lab"]["m"]
    assert m.max_iters == 50 and c["trainer"].progress["max_steps"] == 50
    c["trainer"].run_steps(100)
    assert c["lab"]["m"] is m and m.iter == 50 and c["trainer"].finished
    c["trainer"].start()
    assert "Raise the iterations" in c["trainer"].status


def test_the_preset_sets_every_knob_and_builds_it(app):
    c = app.controls
    c["preset"].value = "baby"
    assert {k: x.value for k, x in c["knobs"].items()} == {k: PRESETS["baby"][k] for k in KNOBS}
    assert c["lab"]["m"].knobs["n_embd"] == 128  # untrained: built at once
    assert "0.8" in c["about"].object and "baby" in c["about"].object


def test_a_diverging_run_stops_restores_and_does_it_again(app):
    c = app.controls
    t = c["trainer"]
    t.run_steps(10)
    c["flush"]()
    c["knobs"]["lr"].value = 1e6
    texts = []
    for _ in range(2):
        t.run_steps(200)
        assert t.error and "diverged" in t.error and "Restored the last good weights" in t.error, t.status
        texts.append(t.error.split(" at step")[0])
        m = c["lab"]["m"]
        assert all(np.isfinite(p.data).all() for p in m.run.model.parameters())
        ys = np.asarray(c["curve"].data["train"] + c["curve"].data["val"], float)
        assert np.isfinite(ys).all() and len(c["spikes"].data["step"]) >= 1
    assert texts[0] == texts[1]


def test_save_load_and_the_pretrained_button_keep_or_replace_the_model(app, tmp_path, monkeypatch):
    c = app.controls
    c["trainer"].run_steps(6)
    raw = c["download"].callback().getvalue()
    assert "Saved" in c["file_msg"].object
    c["trainer"].run_steps(4)
    trained = c["lab"]["m"]
    for name in ("junk.npz", "empty.npz"):
        c["upload"].choose(b"junk" if name == "junk.npz" else b"", name)
        assert "could not load" in c["file_msg"].object and "unchanged" in c["file_msg"].object
        assert c["lab"]["m"] is trained and trained.iter == 10
    for _ in range(2):  # the same file twice
        c["upload"].choose(raw, "mine.npz")
        m = c["lab"]["m"]
        assert m is not trained and m.iter == 6 and "Loaded mine.npz" in c["file_msg"].object
        assert len(text_of(c)) == 300  # its sample, read at once without an event loop
        assert c["trainer"].step == 0 and "iteration 6 of" in c["speed"].object
        curve = c["curve"].data  # the loaded run's val loss is where its curve starts
        assert curve["step"] == [6] and 3 < curve["val"][0] < 4.4 and np.isnan(curve["train"][0])
        assert not c["spikes"].data["step"] and f"val loss {curve['val'][0]:.3f}" in c["about"].object
    c["trainer"].run_steps(3)  # and it trains on from there
    assert c["lab"]["m"].iter == 9
    monkeypatch.setenv("DESCENT_GPT_BABY", str(tmp_path / "missing.npz"))
    c["pretrained"].clicks += 1
    assert "not here" in c["file_msg"].object and c["lab"]["m"].iter == 9
    (tmp_path / "gpt_baby.npz").write_bytes(raw)
    monkeypatch.setenv("DESCENT_GPT_BABY", str(tmp_path / "gpt_baby.npz"))
    c["pretrained"].clicks += 1
    assert "pretrained baby GPT" in c["file_msg"].object and c["lab"]["m"].iter == 6


def test_the_pretrained_button_downloads_it_when_the_page_fetches_it_lazily(app, tmp_path, monkeypatch):
    """As in the page (the worker names the address, not a file): the button downloads it
    from the site first; a 404 says so and keeps the model; then it loads, twice, after training."""
    import functools
    import http.server
    import socket
    import threading
    site = tmp_path / "site"
    (site / "data").mkdir(parents=True)
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(
        http.server.SimpleHTTPRequestHandler, directory=str(site)))
    srv.RequestHandlerClass.log_message = lambda *a: None
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    lab = GPTLab("nano", n_layer=1)
    lab.step()
    raw = lab.save_bytes()
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("DESCENT_GPT_BABY", str(tmp_path / "not-here.npz"))
    monkeypatch.setenv("DESCENT_GPT_BABY_URL", f"http://127.0.0.1:{srv.server_address[1]}/data/gpt_baby.npz")
    monkeypatch.setenv("DESCENT_GPT_BABY_BYTES", str(len(raw)))
    from playground.apps.gpt.lab import pretrained_download
    c = app.controls
    try:
        c["trainer"].run_steps(3)
        before = c["lab"]["m"]
        assert pretrained_download() == f"{len(raw) / 1e6:.1f} MB"
        with socket.socket() as sk:  # a port nobody listens on
            sk.bind(("127.0.0.1", 0))
            closed = sk.getsockname()[1]
        with monkeypatch.context() as m:  # nobody answers (offline): said, the model kept
            m.setenv("DESCENT_GPT_BABY_URL", f"http://127.0.0.1:{closed}/data/gpt_baby.npz")
            c["pretrained"].clicks += 1
            assert "no answer" in c["file_msg"].object and "offline" in c["file_msg"].object
            assert c["lab"]["m"] is before and not c["pretrained"].disabled
        c["pretrained"].clicks += 1  # not on the site: HTTP 404
        msg = c["file_msg"].object
        assert "could not download the pretrained baby GPT" in msg and "404" in msg and "unchanged" in msg, msg
        assert c["lab"]["m"] is before and not c["pretrained"].disabled
        (site / "data" / "gpt_baby.npz").write_bytes(raw)
        for _ in range(2):
            c["pretrained"].clicks += 1
            assert "Loaded the pretrained baby GPT" in c["file_msg"].object, c["file_msg"].object
            assert c["lab"]["m"] is not before and c["lab"]["m"].iter == 1 and not c["pretrained"].disabled
            assert np.allclose(logits(c["lab"]["m"]), logits(lab), atol=1e-6)
            assert pretrained_download() == ""  # downloaded once: the second press reads the file
            c["trainer"].run_steps(2)
    finally:
        srv.shutdown()
        srv.server_close()


def test_the_app_fits_a_narrow_column(app):
    from test_embed_views import fits_narrow_columns
    fits_narrow_columns(app)


def test_the_registry_ships_the_corpus_and_weights_beside_the_wheel():
    from playground.apps.registry import APPS, EMBEDS
    from playground.sitebuild import data as D
    gpt = next(a for a in APPS if a.slug == "gpt")
    assert gpt.data == ("shakespeare", "gpt-baby") and any(e.widget == "gpt" and e.app == "gpt" for e in EMBEDS)
    files, size = D.page_data(gpt.data, {"shakespeare": 10, "gpt-baby": 5, "mnist": 7})
    assert [f["env"] for f in files] == ["DESCENT_SHAKESPEARE", "DESCENT_GPT_BABY"]
    # the app page and embed fetch the weights when asked: only the corpus counts at boot
    assert [f["lazy"] for f in files] == [False, True] and size == 10 and files[1]["bytes"] == 5
    files, size = D.page_data(gpt.data, {"shakespeare": 10, "gpt-baby": 5}, at_boot=True)  # a lesson
    assert not any(f["lazy"] for f in files) and size == 15
    assert D.page_data(gpt.data, {"shakespeare": 10})[1] == 10  # the weights not built: the page goes without
    from playground.sitebuild.convert import lesson_data
    text = "---\ntitle: T\nsummary: s\norder: 10\nnext:\n---\n# T\n\n{{ widget: gpt }}\n\n{{ widget: names }}\n"
    assert lesson_data(text) == ("shakespeare", "gpt-baby")


# --------------------------------------------------------------------------- under panel serve

@pytest.mark.browser
def test_under_panel_serve_it_trains_streams_and_pauses(chromium_launcher):
    """The same app on CPython (`panel serve`, the document lock): Train, the sample grows while
    it trains, Pause, and Sample streams a fresh one from an asyncio task."""
    import re
    import time
    from conftest import SCREENSHOTS, panel_serve
    with panel_serve("playground/apps/gpt", probe="/gpt") as base:
        ctx = chromium_launcher(webgpu=False).new_context(viewport={"width": 1400, "height": 1000})
        pg = ctx.new_page()
        errors = []
        pg.on("console", lambda m: m.type == "error" and errors.append(m.text))
        pg.on("pageerror", lambda e: errors.append(str(e)))
        try:
            pg.goto(base + "/gpt", timeout=60_000)
            button = pg.get_by_role("button", name="Train", exact=True).first
            button.wait_for(timeout=60_000)
            button.click()
            text = pg.locator("pre").first
            text.wait_for(timeout=60_000)
            sizes = []
            for _ in range(12):
                sizes.append(len(text.inner_text()))
                time.sleep(0.5)
            assert max(sizes) > 20 and len(set(sizes)) > 3, sizes
            pg.get_by_text(re.compile(r"[\d,]+ tokens/s · \d+ ms/step · about")).first.wait_for(timeout=10_000)
            pg.get_by_role("button", name="Pause", exact=True).first.click()
            pg.get_by_text(re.compile(r"^Paused at step \d+")).first.wait_for(timeout=10_000)
            pg.get_by_role("button", name="Sample", exact=True).first.click()
            seen = []
            for _ in range(40):  # a fresh sample, seen growing (not arriving whole)
                seen.append(len(text.inner_text()))
                time.sleep(0.05)
            grew = [n for n in dict.fromkeys(seen) if 0 < n < 300]
            assert len(grew) >= 2 and seen[-1] >= max(grew), seen
            SCREENSHOTS.mkdir(parents=True, exist_ok=True)
            pg.screenshot(path=str(SCREENSHOTS / "gpt-panel-serve.png"))
            assert not errors, errors
        finally:
            ctx.close()
