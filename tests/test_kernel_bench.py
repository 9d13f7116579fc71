"""playground/bench/kernel_bench.py: both builds of the kernels timed in Chromium (browser mark),
the timed GEMM checked against a product recomputed in the page, and the report's arithmetic.
No timing assertions: the machine is shared."""
import pytest

from playground.bench import kernel_bench


@pytest.mark.browser
def test_both_builds_are_timed_and_compute_the_product():
    paths = kernel_bench.default_builds()
    best = kernel_bench.run(paths, rounds=2, repeats=2)
    assert set(best) == set(paths)
    for r in best.values():
        assert len(r["gemm"]) == len(kernel_bench.SHAPES) and min(r["gemm"]) > 0
        assert r["check"] < 1e-4  # the first row of the last product, recomputed in JavaScript
        assert r["gelu"] > 0 and len(r["attention"]) == 2 and min(r["attention"]) > 0


def test_report_prints_each_shape_with_its_gflops_and_the_reference():
    n = len(kernel_bench.SHAPES)
    best = {"a/kernels.wasm": {"gemm": [2.0] * n, "check": 1e-7, "gelu": 0.5, "attention": [0.6, 0.9]},
            "b/kernels.wasm": {"gemm": [1.0] * n, "check": 2e-7, "gelu": 0.4, "attention": [0.5, 0.8]}}
    lines = []
    kernel_bench.report(best, ([0.5] * n, 1.5), lines.append)
    m, k, nn, _, _ = kernel_bench.SHAPES[0]
    row = next(ln for ln in lines if ln.strip().startswith(f"({m}x{k})"))
    assert f"{kernel_bench.gflops(2.0, m, k, nn):5.1f}" in row and f"{kernel_bench.gflops(0.5, m, k, nn):5.1f}" in row
    assert "a/kernels.wasm" in lines[1] and "b/kernels.wasm" in lines[1]  # same names: told apart
    total = next(ln for ln in lines if "all seven" in ln).split()
    assert total[-3:] == [f"{2.0 * n:.3f}", f"{1.0 * n:.3f}", f"{0.5 * n:.3f}"]
    assert any("GELU" in ln and "1.500" in ln for ln in lines)
