"""The GPT part of the in-page benchmark (playground/bench/{gpt_workloads,browser_gpt}.py).

On CPython: the workloads the page runs (speed, profile, quality) on the real baby recipe for
a step or two, and the report's arithmetic. In Chromium (browser mark): ``browser_bench
--gpt --quick`` and ``--gpt-quality --quick`` as subprocesses, their JSON checked for real
behaviour (the corpus reached the page, the loss fell, the profile adds up). No timing
assertions: the machine is shared.
"""
import json
import os
import subprocess
import sys

import pytest

from playground.bench import browser_bench, browser_gpt, gpt_workloads


def test_speed_times_the_baby_step_on_cpython():
    r = gpt_workloads.speed(seconds=60, max_steps=3)
    assert r["steps"] == 3 and r["tokens_per_step"] == 12 * 64
    assert r["tokens_per_s"] == pytest.approx(3 * 768 / r["seconds"])
    assert r["ms_per_step_fastest"] <= r["ms_per_step_median"] and r["ms_per_step"] > 0
    assert r["loss_first"] == pytest.approx(4.17, abs=0.1)  # ln 65: an untrained model
    assert sum(v["calls"] for v in r["matmul"].values()) >= 3 * 40


def test_profile_accounts_for_the_step():
    p = gpt_workloads.profile(steps=1)
    assert p["kind"] == "gpt" and p["steps"] == 1 and p["tokens_per_step"] == 768
    assert abs(sum(c["share"] for c in p["categories"]) - 1) < 1e-6
    assert p["matmul_shapes"] and any("(768x128)" in m["shape"] for m in p["matmul_shapes"])


def test_quality_checks_val_loss_and_samples():
    q = gpt_workloads.quality(budget=60, max_iters=3, every=1000, eval_iters=1)
    assert q["final"]["iter"] == 3 and len(q["checks"]) == 1
    assert {"train", "val", "seconds", "wall"} <= set(q["final"])
    assert q["final"]["val"] > gpt_workloads.TARGET_VAL and not q["met"] and q["crossed"] is None
    assert len(q["sample"]) == 300 and isinstance(q["sample"], str)


def test_summary_ratio_and_target():
    def run(rate, ms):
        return {"baby": {"tokens_per_s": rate, "ms_per_step": ms}}
    res = {"page": {"numpy": run(500, 1500), "wasm": run(6000, 128)}, "cpython": run(10000, 77)}
    s = browser_gpt.summarize(res)
    assert s["best"] == "wasm" and s["rows"]["wasm"]["vs_cpython"] == pytest.approx(0.6)
    assert s["target"] == {"value": pytest.approx(0.6), "target": 0.6, "met": True}
    res["page"]["wasm"] = run(5000, 150)
    assert not browser_gpt.summarize(res)["target"]["met"]


def test_options():
    a = browser_bench.parse_args(["--gpt"])
    assert a.gpt and a.gpt_seconds == 20 and not a.gpt_quality
    q = browser_bench.parse_args(["--gpt-quality"])
    assert q.gpt_budget == 600 and q.gpt_iters == 2000
    assert browser_bench.parse_args(["--gpt-quality", "--quick"]).gpt_budget < 10


def _bench(tmp_path, *args):
    why = browser_bench.missing_reason()
    if why:
        pytest.skip(f"in-page benchmark cannot run: {why}")
    out = tmp_path / "gpt.json"
    env = {**os.environ, "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    r = subprocess.run([sys.executable, "-m", "playground.bench.browser_bench", *args, "--quick",
                        "--out", str(out)], cwd=browser_bench.ROOT, env=env, capture_output=True,
                       text=True, timeout=400)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    return json.loads(out.read_text()), r.stdout


@pytest.mark.browser
def test_gpt_in_the_page_quick(tmp_path):
    res, out = _bench(tmp_path, "--gpt", "--repeats", "1")
    page = res["page"]
    assert page["blocked"] == [] and page["console_errors"] == []
    g = page["gpt"]
    assert set(g["page"]) == {"numpy", "wasm"} and page["backends"]["wasm"]["ok"]
    for runs in (*g["page"].values(), g["cpython"]):
        r = runs["baby"]
        assert r["tokens_per_s"] > 0 and r["steps"] >= 1 and r["loss_first"] == pytest.approx(4.17, abs=0.1)
    assert "wasm" in g["page"]["wasm"]["baby"]["matmul"]
    p = g["profiles"]["wasm"]
    assert abs(sum(c["share"] for c in p["categories"]) - 1) < 1e-6 and p["matmul_shapes"]
    assert "page / CPython" in out and "tokens/s" in out


@pytest.mark.browser
def test_gpt_quality_in_the_page_quick(tmp_path):
    res, out = _bench(tmp_path, "--gpt-quality")
    q = res["page"]["gpt"]["quality"]
    assert q["backend"] == "wasm" and q["checks"] and q["final"]["iter"] >= 2
    assert q["final"]["val"] < q["checks"][0]["val"] + 0.5 and len(q["sample"]) == 300
    assert "val <= 1.95" in out and "sample:" in out
