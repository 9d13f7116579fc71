"""The in-page benchmark's quick run: it boots, trains in the page and in TF.js, and reports.

Runs ``python -m playground.bench.browser_bench --quick`` (under a minute) as a subprocess,
the way ``make bench-browser`` does, and checks the JSON report for real behaviour: figures
are positive, the loss fell in the page and in TF.js, the profile accounts for the step.
No timing assertions (the machine is shared).
"""
import json
import os
import subprocess
import sys

import pytest

from playground.bench import browser_bench, browser_report, step_profile, workloads

pytestmark = pytest.mark.browser

WHY = browser_bench.missing_reason()


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    if WHY:
        pytest.skip(f"in-page benchmark cannot run: {WHY}")
    out = tmp_path_factory.mktemp("bench") / "bench-browser.json"
    env = {**os.environ, "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    r = subprocess.run([sys.executable, "-m", "playground.bench.browser_bench", "--quick", "--out", str(out)],
                       cwd=browser_bench.ROOT, env=env, capture_output=True, text=True, timeout=240)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    return json.loads(out.read_text()), r.stdout


def test_every_field(report):
    res, _ = report
    assert set(res) >= {"config", "page", "cpython", "summary", "seconds"}
    assert set(res["page"]) >= {"boot", "backends", "runs", "profiles", "js", "blocked", "console_errors"}
    assert set(res["page"]["boot"]["stages"]) == {"runtime", "numpy", "wheel", "import", "data"}
    assert set(res["summary"]) == {"table", "versus_js", "targets"}
    assert set(res["summary"]["targets"]) == set(browser_report.TARGETS)
    for wl in ("mlp", "cnn", "digits", "gan"):
        for where in (res["page"]["runs"]["numpy"], res["cpython"]["runs"]):
            assert {"samples_per_s", "steps_per_s", "steps", "loss_first", "loss_last", "matmul"} <= set(where[wl])
        assert {"numpy", "cpython", "numpy/cpython"} <= set(res["summary"]["table"][wl])
    assert set(res["page"]["js"]) >= {"tfjs-wasm", "tfjs-cpu", "convnetjs"}
    # wasm: either it ran or the report says why not
    wasm = res["page"]["backends"]["wasm"]
    assert wasm["ok"] == ("wasm" in res["page"]["runs"]) and wasm["reason"]


def test_boot_and_page_training(report):
    res, out = report
    page = res["page"]
    assert page["boot"]["isolated"] is True and page["boot"]["pyodide"].startswith("0.29")
    assert all(v > 0 for v in page["boot"]["stages"].values())
    assert page["blocked"] == [] and page["console_errors"] == []
    for be, runs in page["runs"].items():
        for wl, r in runs.items():
            assert r["samples_per_s"] > 0 and r["steps"] >= 1, (be, wl)
            assert sum(v["calls"] for v in r["matmul"].values()) > 0, (be, wl)
        assert runs["mlp"]["loss_fell"] and runs["mlp"]["loss_last"] < runs["mlp"]["loss_first"] - 0.3
        assert runs["digits"]["loss_fell"]
        assert 0.2 < runs["mlp"]["accuracy"] <= 1 and 0.1 < runs["digits"]["accuracy"] <= 1
        assert 0 <= runs["gan"]["judge"]["mean_max_prob"] <= 1
    for wl, r in res["cpython"]["runs"].items():
        assert r["samples_per_s"] > 0 and r["loss_fell"], wl
    for wl, row in res["summary"]["table"].items():
        assert row["numpy"] > 0 and row["cpython"] > 0 and row["numpy/cpython"] > 0
    assert "page numpy/CPython" in out and "Descent / TF.js-wasm" in out


def test_tfjs_and_convnetjs_trained(report):
    res, _ = report
    js = res["page"]["js"]
    assert js["tfjs_version"] == "4.22.0"
    mlp = js["tfjs-wasm"]["mlp"]
    assert mlp["simd"] is True and mlp["threads"] is False and mlp["backend"] == "wasm"
    assert mlp["samples_per_s"] > 0 and mlp["loss_fell"] and mlp["loss_last"] < mlp["loss_first"] - 0.3
    assert js["tfjs-wasm"]["cnn"]["error"].startswith("cannot train")
    assert "Conv2DBackpropFilter" in js["tfjs-wasm"]["cnn"]["error"]
    for name, kind in (("tfjs-cpu", "mlp"), ("tfjs-cpu", "cnn"), ("convnetjs", "mlp"), ("convnetjs", "cnn")):
        r = js[name][kind]
        assert "error" not in r and r["samples_per_s"] > 0 and r["steps"] >= 1, (name, kind)
    assert js["tfjs-cpu"]["mlp"]["loss_fell"]
    vs = res["summary"]["versus_js"]
    assert vs["mlp"]["vs_tfjs_wasm"] > 0 and vs["cnn"]["vs_tfjs_wasm"] is None  # nothing to compare
    assert vs["cnn"]["fastest_js"] in ("tfjs-cpu", "convnetjs") and vs["cnn"]["vs_fastest_js"] > 0


def test_profile_accounts_for_the_step(report):
    res, _ = report
    for be, profs in res["page"]["profiles"].items():
        for kind in ("mlp", "cnn"):
            p = profs[kind]
            cats = {c["category"]: c for c in p["categories"]}
            assert set(cats) <= set(step_profile.CATEGORIES)
            assert abs(sum(c["share"] for c in cats.values()) - 1) < 1e-6
            assert cats["products"]["ms_per_step"] > 0 and cats["optimizer"]["ms_per_step"] > 0
            total = sum(c["ms_per_step"] for c in cats.values())
            assert 0.3 * p["ms_per_step_profiled"] < total < 1.5 * p["ms_per_step_profiled"]
            assert p["top"] and all(e["ms_per_step"] >= 0 for e in p["top"])
        assert "im2col / col2im" in {c["category"] for c in profs["cnn"]["categories"]}


def test_profile_categories_on_cpython():
    """The grouping itself, without a browser: an engine step's time lands in engine categories."""
    from playground.bench import twins
    data, why = twins.mnist_or_reason()
    if data is None:
        pytest.skip(why)
    p = workloads.profile_steps("cnn", data, steps=2)
    cats = {c["category"]: c["share"] for c in p["categories"]}
    assert cats["products"] > 0.05 and cats["im2col / col2im"] > 0.01 and cats["pooling"] > 0.01
    assert cats.get("other", 0) < 0.05


def test_recipe_race_on_cpython():
    """--recipes' workload without a browser: checks at the interval, the target's verdict,
    measuring outside the training clock; digits stops where its recipe ends."""
    from playground.bench import twins
    data, why = twins.mnist_or_reason()
    if data is None:
        pytest.skip(why)
    (x, y), test = data
    small = ((x[:256], y[:256]), test)  # 20 epochs of 256 images: the recipe ends early
    r = workloads.recipe_race("digits", small, budget=60, every=0.5)
    assert r["final"]["epochs"] == pytest.approx(20, abs=0.3) and r["final"]["seconds"] < 60
    assert all(0 <= c["accuracy"] <= 1 for c in r["checks"])
    assert [c["seconds"] for c in r["checks"]] == sorted(c["seconds"] for c in r["checks"])
    assert r["met"] == (r["crossed"] is not None) and r["target"]["accuracy"] == 0.97
    g = workloads.recipe_race("gan", data, budget=1.0, every=0.5)
    assert g["checks"] and {"mean_max_prob", "classes", "steps", "wall"} <= set(g["final"])
    assert g["final"]["seconds"] >= 1.0 and g["final"]["wall"] >= g["final"]["seconds"]
    assert not g["met"]  # one second of GAN training draws noise
    n = workloads.recipe_race("names", data, budget=1.0, every=0.5)
    assert n["target"]["val_loss"] == 2.3 and n["final"]["val_loss"] < n["checks"][0]["val_loss"] + 0.05
    assert len(n["final"]["names"]) == 8 and all(set(s) <= set("abcdefghijklmnopqrstuvwxyz") for s in n["final"]["names"])


def test_recipes_option():
    a = browser_bench.parse_args(["--recipes"])
    assert a.recipes and a.recipe_budgets == {"digits": 120.0, "gan": 300.0, "names": 120.0}
    assert browser_bench.parse_args(["--recipes", "--quick"]).recipe_budgets["gan"] < 10
