"""playground.bench.gpt_bench's parts on a tiny GPT: the two sides train alike, quality reports."""
import pytest

pytest.importorskip("torch")

from playground.bench import gpt_bench  # noqa: E402

TEXT = ("First Citizen:\nBefore we proceed any further, hear me speak.\n\nAll:\nSpeak, speak.\n"
        * 40)
DATA = (TEXT[:3000], TEXT[3000:])
TINY = dict(n_layer=1, n_embd=32, block_size=16, batch_size=8)


def test_speed_runs_both_sides_on_the_same_batches_and_weights():
    s = gpt_bench.speed("nano", steps=4, warmup=1, data=DATA, **TINY)
    eng, tor = s["engine"]["losses"], s["torch"]["losses"]
    assert len(eng) == len(tor) == 4
    # the same start and batches: the losses agree step after step (float32 drift only)
    for a, b in zip(eng, tor):
        assert abs(a - b) < 2e-3, (eng, tor)
    assert s["tokens_per_step"] == 8 * 16
    for side in ("engine", "torch"):
        assert 0 < s[side]["fastest"] <= s[side]["ms"]
    assert s["ratio"] == pytest.approx(s["engine"]["tokens_per_s"] / s["torch"]["tokens_per_s"])


def test_quality_reports_history_a_sample_and_the_torch_reference():
    lines = []
    q = gpt_bench.quality(40, "nano", eval_every=20, data=DATA, log=lines.append,
                          reference=True, warmup_iters=5, lr=3e-3, eval_iters=4, **TINY)
    assert [h[0] for h in q["history"]] == [20, 40] and len(lines) == 2
    assert q["estimate"]["val"] == q["history"][-1][2]
    assert q["history"][-1][1] < q["history"][0][1]
    assert len(q["sample"]) == 300 and set(q["sample"]) <= set(TEXT)
    # the twin trained on the same batches from the same start: the same val loss, near enough
    assert abs(q["torch"]["val"] - q["val"]) < 0.02, (q["val"], q["torch"])
    assert q["seconds"] > 0 and q["torch"]["seconds"] > 0
