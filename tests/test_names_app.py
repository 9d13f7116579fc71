"""The names app: every model trains, samples, plots; the controls do what they say."""
import numpy as np
import pytest

pytest.importorskip("panel")
from engine.data import DEFAULT_NAMES_PATH  # noqa: E402

if not DEFAULT_NAMES_PATH.is_file():
    pytest.skip("names data missing (make engine/_data/names.txt.gz)", allow_module_level=True)

from playground.apps.names import model as M  # noqa: E402
from playground.apps.names.app import names_app  # noqa: E402
from playground.apps.names.lab import NamesLab  # noqa: E402


def test_bigram_counts_reach_the_table_and_its_val_loss():
    lab = NamesLab("bigram")
    for _ in range(lab.steps_per_epoch):
        lab.step()
    assert lab.seen == len(lab.train) and (lab.live_counts == lab.counts).all()
    val = lab.evaluate()
    assert 2.40 < val < 2.52  # ~2.45, makemore's figure
    names = lab.sample(20, rng=np.random.default_rng(0))
    assert all(set(n) <= set(M.VOCAB[1:]) for n in names)


def test_neural_bigram_converges_to_the_counts():
    lab = NamesLab("neural")
    gap0 = np.abs(lab.current_probs() - lab.probs).max()
    for _ in range(300):
        lab.step()
    gap = np.abs(lab.current_probs() - lab.probs).max()
    assert gap < gap0 / 2
    assert lab.evaluate() < M.bigram_nll(lab.probs, lab.val) + 0.05


def test_mlp_learns_and_its_embeddings_move():
    lab = NamesLab("mlp", val_limit=800)
    e0, v0 = lab.embedding_2d().copy(), lab.evaluate()
    for _ in range(400):
        lab.step()
    assert lab.evaluate() < min(v0 - 0.5, 2.5)
    assert lab.embedding_2d().shape == (27, 2) and not np.allclose(lab.embedding_2d(), e0)
    assert all(n.startswith("ka") for n in lab.sample(8, prefix="Ka", rng=np.random.default_rng(1)))


def test_transformer_trains_and_shows_causal_attention():
    lab = NamesLab("transformer", val_limit=400)
    v0 = lab.evaluate()
    for _ in range(40):
        r = lab.step()
    assert np.isfinite(r["loss"]) and lab.evaluate() < v0 - 0.4
    labels, w = lab.attention_map("emma")
    assert labels == [".", "e", "m", "m", "a"] and w.shape == (5, 5)
    assert np.allclose(w.sum(axis=1), 1) and np.allclose(np.triu(w, 1), 0)  # no peeking ahead


def test_temperature_changes_the_samples():
    lab = NamesLab("bigram")
    for _ in range(lab.steps_per_epoch):
        lab.step()
    cold = lab.sample(200, temperature=0.2, rng=np.random.default_rng(0))
    hot = lab.sample(200, temperature=2.0, rng=np.random.default_rng(0))
    assert len(set(cold)) < len(set(hot))


def test_the_app_trains_samples_and_fills_every_plot():
    app = names_app(val_limit=300)
    c = app.controls
    c["trainer"].run_steps(20)
    c["refresh"](2.5)
    assert len(c["curve"].data["step"]) >= 1 and c["samples"].object.startswith("**Samples:**")
    assert c["heat"].data["image"][0].shape == (27, 27)
    assert len(c["emb"].data["x"]) == 27
    assert "MLP (Bengio 2003)" in c["table"].object and "2.17" in c["table"].object
    c["prefix"].value = "zo"
    names = c["samples"].object.split("**Samples:** ")[1].split(", ")
    assert all(n.startswith("zo") for n in names)
    c["trainer"].pause()
    c["kind"].value = "transformer"
    c["trainer"].reset()
    assert c["lab"]["m"].kind == "transformer"
    c["trainer"].run_steps(3)
    c["look"].value = "anna"
    assert c["att"].data["image"][0].shape == (5, 5)
    assert "MLP (Bengio 2003) | 2." in c["table"].object or "MLP (Bengio 2003) | 3." in c["table"].object
    c["kind"].value = "bigram"
    c["trainer"].reset()
    c["trainer"].run_steps(3)
    assert "Counted" in c["note"].object


def test_heat_map_and_attention_map_are_drawn_inside_their_plots():
    """Both images sit on flipped y-ranges (row 0 at the top): the image must start at the
    range's low end, or it is drawn outside the plot and the plot stays empty (it did)."""
    import panel as pn
    from bokeh.models import GlyphRenderer, Image
    layout = names_app()
    figs = [m for m in layout.select(pn.pane.Bokeh)]
    images = [(f.object, r.glyph) for f in figs for r in f.object.renderers
              if isinstance(r, GlyphRenderer) and isinstance(r.glyph, Image)]
    assert len(images) == 2
    for fig, g in images:
        lo, hi = sorted((fig.y_range.start, fig.y_range.end))
        assert g.y == lo and g.y + g.dh == hi, (fig.title.text, g.y, g.dh, lo, hi)
        lo, hi = sorted((fig.x_range.start, fig.x_range.end))
        assert g.x == lo and g.x + g.dw == hi


def test_evaluate_table_is_the_models_own_next_letter_distribution():
    lab = NamesLab("neural", val_limit=300)
    for _ in range(50):
        lab.step()
    loss, table = lab.model.evaluate("val", table=True)
    assert loss == pytest.approx(lab.model.evaluate("val"))
    # the neural bigram looks at one letter only: its average is its softmax(W) row
    seen = np.bincount(lab.model.xva[:, -1], minlength=M.V) > 0
    assert np.allclose(table[seen], lab.current_probs()[seen], atol=1e-5)
    assert np.allclose(table.sum(axis=1), 1)


def test_transformer_evaluate_in_length_sorted_chunks_gives_the_same_loss():
    lab = NamesLab("transformer", val_limit=200)
    for _ in range(5):
        lab.step()
    m = lab.model
    from engine import no_grad
    with no_grad():
        m.model.eval()
        whole = m.loss(m.xva, m.yva).item()  # one pass, every column
    assert m.evaluate("val", chunk=37) == pytest.approx(whole, rel=1e-4)


def test_mlp_heat_map_follows_the_model_while_it_trains():
    app = names_app(val_limit=200)
    c = app.controls
    before = c["heat"].data["image"][0].copy()
    c["trainer"].run_steps(200)
    c["flush"]()
    after = c["heat"].data["image"][0]
    assert np.abs(after - before).max() > 0.05 and np.allclose(after.sum(axis=1), 1)
    assert np.allclose(after, c["lab"]["m"].current_probs())


def test_switching_model_after_training_then_train_trains_the_new_model():
    import asyncio
    app = names_app(val_limit=200)
    c = app.controls
    c["trainer"].run_steps(10)
    c["kind"].value = "neural"

    async def go():
        c["trainer"].start()
        await asyncio.sleep(0.5)
        c["trainer"].pause()
        await c["trainer"]._task if c["trainer"]._task else None
    asyncio.run(go())
    assert c["lab"]["m"].kind == "neural" and c["lab"]["m"].steps > 0
    assert "Reset first" not in c["trainer"].status


def test_divergence_is_marked_capped_and_the_restored_model_shown():
    app = names_app(val_limit=200)
    c = app.controls
    t = c["trainer"]
    t.run_steps(30)
    c["flush"]()
    for _ in range(2):  # a second divergence behaves like the first
        c["lab"]["m"].model.set_lr(1e6)
        t.run_steps(200)
        assert t.status.startswith("Stopped:") and "Restored" in t.status, t.status
        ys = np.array(c["curve"].data["train"] + c["curve"].data["val"])
        assert np.isfinite(ys).all() and ys.max() <= 2.5 * c["curve"].data["train"][0] + 1e-9
        assert len(c["spikes"].data["step"]) >= 1
        m = c["lab"]["m"]
        assert all(np.isfinite(p.data).all() for p in m.model.model.parameters())
        assert m.steps == t.step and m.model.opt.lr == 1e6  # the learner's choice stays
        assert np.allclose(c["heat"].data["image"][0], m.current_probs())


def test_evaluation_in_slices_gives_the_whole_pass_and_training_goes_on_between():
    lab = NamesLab("transformer", val_limit=450)
    whole = lab.evaluate()
    got, slices = None, 0
    while got is None:
        got = lab.evaluate_some()
        slices += 1
    assert slices == 5 and got == pytest.approx(whole)  # 450 names in slices of 100
    assert lab.evaluate_some() is None  # a new pass started
    lab.step()  # gradients are on again between slices
    assert all(p.grad is not None for p in lab.model.model.parameters())
