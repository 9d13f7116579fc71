"""Descent's WGSL matmul kernel on a native WebGPU implementation (wgpu-py / wgpu-native).

What it measures: the exact WGSL that site/webgpu/matmul.js generates (dumped by
playground/bench/wgsl_dump.mjs, which imports matmul.js's own kernel() and CONFIG), compiled
by wgpu-native and run on whatever adapter it finds (on a GPU machine: Vulkan), dispatched the
way matmul.js dispatches it (same bindings, same 32-byte uniform, ceil(N/TN) x ceil(M/TM) x
batch workgroups, buffers pooled at power-of-two sizes). For each product shape the bench
workloads use it times

  round trip   what the page pays per product: write A, B and the uniform, make the bind
               group, one dispatch + copy to a MAP_READ buffer, submit, map, copy out, unmap;
  kernel only  n dispatches in one compute pass, one submit: GPU timestamps around the pass
               when the adapter has 'timestamp-query' (raw ticks, read as ns), and wall time / n;

checks each result against a float64 numpy product (max |err| / max |ref|, on fresh random
inputs, output poisoned with NaN first), and times float32 numpy on this machine's CPU.

What it is NOT: the in-page path. The page runs this WGSL through the browser's WebGPU
(Chromium: Dawn, its own WGSL compiler and validation, process hops for map/read-back),
called from Pyodide through JS. Here the same shader text goes through wgpu-native (naga)
to Vulkan from CPython. Kernel-only numbers say what the shader itself can do on the GPU;
round-trip numbers are a floor for the page's per-product cost, not its measurement.

    node playground/bench/wgsl_dump.mjs wgsl.json
    python playground/bench/wgsl_native.py --wgsl wgsl.json --json report.json
(with no --wgsl it runs node itself.)
"""
import argparse
import json
import os
import pathlib
import platform
import re
import subprocess
import sys
import tempfile
import time

import numpy as np

ROOT = pathlib.Path(__file__).resolve().parents[2]

# (name, M, K, N, ta, tb, batch): op(A) is M x K, op(B) is K x N, flags as engine/nn/functional.py
# passes them (Linear stores W as out x in: forward x @ W^T, grad_x = g @ W, grad_W = g^T @ x).
SHAPES = [
    ("mlp fc1 fwd  x@W^T", 64, 784, 256, False, True, 1),
    ("mlp fc1 gx   g@W", 64, 256, 784, False, False, 1),
    ("mlp fc1 gW   g^T@x", 256, 64, 784, True, False, 1),
    ("mlp fc2 fwd  x@W^T", 64, 256, 128, False, True, 1),
    ("mlp fc2 gx   g@W", 64, 128, 256, False, False, 1),
    ("mlp fc2 gW   g^T@x", 128, 64, 256, True, False, 1),
    ("mlp fc3 fwd  x@W^T", 64, 128, 10, False, True, 1),
    ("mlp fc3 gx   g@W", 64, 10, 128, False, False, 1),
    ("mlp fc3 gW   g^T@x", 10, 64, 128, True, False, 1),
    ("cnn conv2 fwd cols@W^T", 7744, 144, 32, False, True, 1),
    ("cnn conv2 gW  g^T@cols", 32, 7744, 144, True, False, 1),
    ("cnn conv2 gx  g@W", 7744, 32, 144, False, False, 1),
    ("cnn conv1 fwd cols@W^T", 43264, 9, 16, False, True, 1),
    ("cnn conv1 gW  g^T@cols", 16, 43264, 9, True, False, 1),
    ("square 512", 512, 512, 512, False, False, 1),
    ("square 1024", 1024, 1024, 1024, False, False, 1),
    ("square 2048", 2048, 2048, 2048, False, False, 1),
    ("square 2048 A^T B", 2048, 2048, 2048, True, False, 1),
    ("square 2048 A B^T", 2048, 2048, 2048, False, True, 1),
]


def load_wgsl(path):
    if path is None:
        path = pathlib.Path(tempfile.mkdtemp()) / "wgsl.json"
        subprocess.run(["node", str(ROOT / "playground/bench/wgsl_dump.mjs"), str(path)], check=True)
    return json.loads(pathlib.Path(path).read_text())


def operands(rng, M, K, N, ta, tb, batch):
    a = rng.standard_normal((batch, K, M) if ta else (batch, M, K)).astype(np.float32)
    b = rng.standard_normal((batch, N, K) if tb else (batch, K, N)).astype(np.float32)
    return a, b


def reference(a, b, ta, tb, dtype=np.float64):
    a, b = a.astype(dtype, copy=False), b.astype(dtype, copy=False)
    return np.matmul(a.swapaxes(-1, -2) if ta else a, b.swapaxes(-1, -2) if tb else b)


def pow2(nbytes):
    return max(256, 1 << (max(4, nbytes) - 1).bit_length())


class Kernel:
    """matmul.js's device state, minus the browser: one pipeline, one uniform, pooled buffers."""

    def __init__(self, wgpu, wg):
        self.wgpu = wgpu
        self.TM, self.TN = wg["TM"], wg["TN"]
        self.all_adapters = [dict(a.info) for a in wgpu.gpu.enumerate_adapters_sync()]
        adapter = wgpu.gpu.request_adapter_sync(power_preference="high-performance")
        if adapter is None:
            raise RuntimeError("wgpu.gpu.request_adapter_sync() returned None: no adapter")
        if adapter.info.get("adapter_type") != "DiscreteGPU":  # a GPU is listed but not picked: take it
            gpus = [a for a in wgpu.gpu.enumerate_adapters_sync() if a.info.get("adapter_type") == "DiscreteGPU"]
            adapter = gpus[0] if gpus else adapter
        self.adapter = adapter
        lim = adapter.limits
        self.timestamps = "timestamp-query" in adapter.features
        self.device = adapter.request_device_sync(
            required_features=["timestamp-query"] if self.timestamps else [],
            required_limits={"max-storage-buffer-binding-size": lim["max-storage-buffer-binding-size"],
                             "max-buffer-size": lim["max-buffer-size"]})
        t0 = time.perf_counter()
        module = self.device.create_shader_module(code=wg["code"])
        self.pipeline = self.device.create_compute_pipeline(
            layout="auto", compute={"module": module, "entry_point": "main"})
        self.compile_s = time.perf_counter() - t0
        U = wgpu.BufferUsage
        self.params = self.device.create_buffer(size=32, usage=U.UNIFORM | U.COPY_DST)
        # wgpu-py 0.32's queue.on_submitted_work_done_sync() fails (callback signature), so a
        # submit is awaited by mapping a 4-byte buffer its last command copies into
        self.fence = self.device.create_buffer(size=256, usage=U.MAP_READ | U.COPY_DST)
        if self.timestamps:
            self.qset = self.device.create_query_set(type="timestamp", count=2)
            self.qbuf = self.device.create_buffer(size=256, usage=U.QUERY_RESOLVE | U.COPY_SRC)
            self.qread = self.device.create_buffer(size=256, usage=U.MAP_READ | U.COPY_DST)

    def buffers(self, a, b, out_bytes):
        U, d = self.wgpu.BufferUsage, self.device
        S = U.STORAGE
        return (d.create_buffer(size=pow2(a.nbytes), usage=S | U.COPY_DST),
                d.create_buffer(size=pow2(b.nbytes), usage=S | U.COPY_DST),
                d.create_buffer(size=pow2(out_bytes), usage=S | U.COPY_SRC | U.COPY_DST),
                d.create_buffer(size=pow2(out_bytes), usage=U.MAP_READ | U.COPY_DST))

    def uniform(self, M, K, N, ta, tb, batch, bcA=False, bcB=False):
        sa, sb = (0 if bcA else M * K), (0 if bcB else K * N)
        return np.array([M, K, N, int(ta), int(tb), sa, sb, 0], np.uint32)

    def bind(self, bufA, bufB, bufC):
        return self.device.create_bind_group(layout=self.pipeline.get_bind_group_layout(0), entries=[
            {"binding": 0, "resource": {"buffer": bufA}}, {"binding": 1, "resource": {"buffer": bufB}},
            {"binding": 2, "resource": {"buffer": bufC}}, {"binding": 3, "resource": {"buffer": self.params}}])

    def groups(self, M, N, batch):
        return (-(-N // self.TN), -(-M // self.TM), batch)

    def round_trip(self, bufs, a, b, M, K, N, ta, tb, batch):
        """One product the way matmul.js's matmul() does it; returns the result array."""
        bufA, bufB, bufC, read = bufs
        q, nbytes = self.device.queue, batch * M * N * 4
        q.write_buffer(bufA, 0, a)
        q.write_buffer(bufB, 0, b)
        q.write_buffer(self.params, 0, self.uniform(M, K, N, ta, tb, batch))
        bind = self.bind(bufA, bufB, bufC)
        enc = self.device.create_command_encoder()
        p = enc.begin_compute_pass()
        p.set_pipeline(self.pipeline)
        p.set_bind_group(0, bind)
        p.dispatch_workgroups(*self.groups(M, N, batch))
        p.end()
        enc.copy_buffer_to_buffer(bufC, 0, read, 0, nbytes)
        q.submit([enc.finish()])
        read.map_sync(self.wgpu.MapMode.READ, 0, nbytes)
        out = np.frombuffer(read.read_mapped(0, nbytes, copy=True), np.float32).reshape(batch, M, N)
        read.unmap()
        return out

    def kernel_only(self, bind, bufC, M, N, batch, n):
        """n dispatches in one pass, one submit; returns (wall s, GPU pass s or None)."""
        enc = self.device.create_command_encoder()
        tw = ({"query_set": self.qset, "beginning_of_pass_write_index": 0, "end_of_pass_write_index": 1}
              if self.timestamps else None)
        p = enc.begin_compute_pass(timestamp_writes=tw)
        p.set_pipeline(self.pipeline)
        p.set_bind_group(0, bind)
        g = self.groups(M, N, batch)
        for _ in range(n):
            p.dispatch_workgroups(*g)
        p.end()
        if self.timestamps:
            enc.resolve_query_set(self.qset, 0, 2, self.qbuf, 0)
            enc.copy_buffer_to_buffer(self.qbuf, 0, self.qread, 0, 16)
        enc.copy_buffer_to_buffer(bufC, 0, self.fence, 0, 4)
        cmd = enc.finish()
        t0 = time.perf_counter()
        self.device.queue.submit([cmd])
        self.fence.map_sync(self.wgpu.MapMode.READ, 0, 4)
        wall = time.perf_counter() - t0
        self.fence.unmap()
        gpu = None
        if self.timestamps:
            self.qread.map_sync(self.wgpu.MapMode.READ, 0, 16)
            t = np.frombuffer(self.qread.read_mapped(0, 16, copy=True), np.uint64)
            self.qread.unmap()
            gpu = (int(t[1]) - int(t[0])) * 1e-9 if t[1] > t[0] else None
        return wall, gpu


def rel_err(c, ref):
    if not np.all(np.isfinite(c)):
        return float("nan")
    return float(np.max(np.abs(c - ref)) / max(np.max(np.abs(ref)), 1e-30))


def bench_shape(kern, rng, shape, budget):
    name, M, K, N, ta, tb, batch = shape
    flops = 2.0 * M * K * N * batch
    a, b = operands(rng, M, K, N, ta, tb, batch)
    bufs = kern.buffers(a, b, batch * M * N * 4)
    q = kern.device.queue
    # correctness: poison C, run once, compare with float64; then again on fresh inputs
    errs = []
    for _ in range(2):
        q.write_buffer(bufs[2], 0, np.full(batch * M * N, np.nan, np.float32))
        c = kern.round_trip(bufs, a, b, M, K, N, ta, tb, batch)
        errs.append(rel_err(c, reference(a, b, ta, tb)))
        a, b = operands(rng, M, K, N, ta, tb, batch)
    # round trip: warm, then repeats sized to the budget; median
    kern.round_trip(bufs, a, b, M, K, N, ta, tb, batch)
    t0 = time.perf_counter()
    kern.round_trip(bufs, a, b, M, K, N, ta, tb, batch)
    t1 = time.perf_counter() - t0
    reps = int(min(50, max(3, budget / max(t1, 1e-6))))
    rts = []
    for _ in range(reps):
        t0 = time.perf_counter()
        kern.round_trip(bufs, a, b, M, K, N, ta, tb, batch)
        rts.append(time.perf_counter() - t0)
    rt = float(np.median(rts))
    # kernel only: the inputs already sit in bufA/bufB
    q.write_buffer(kern.params, 0, kern.uniform(M, K, N, ta, tb, batch))
    bind = kern.bind(*bufs[:3])
    kern.kernel_only(bind, bufs[2], M, N, batch, 2)
    w1, g1 = kern.kernel_only(bind, bufs[2], M, N, batch, 1)
    one = g1 if g1 else w1
    n = int(min(2000, max(5, budget / max(one, 1e-7))))
    walls, gpus = [], []
    for _ in range(3):
        w, g = kern.kernel_only(bind, bufs[2], M, N, batch, n)
        walls.append(w / n)
        if g:
            gpus.append(g / n)
    kw = float(np.min(walls))
    kg = float(np.min(gpus)) if gpus else None
    # check the result the timed dispatches left behind too
    c = kern.round_trip(bufs, a, b, M, K, N, ta, tb, batch)
    errs.append(rel_err(c, reference(a, b, ta, tb)))
    # numpy float32 on this machine's CPU, same op (transposes as views)
    a2, b2 = (a[0], b[0]) if batch == 1 else (a, b)
    f = lambda: np.matmul(a2.swapaxes(-1, -2) if ta else a2, b2.swapaxes(-1, -2) if tb else b2)
    f()
    t0 = time.perf_counter(); f(); t1 = time.perf_counter() - t0
    nr = int(min(200, max(3, (budget / 2) / max(t1, 1e-6))))
    nps = []
    for _ in range(nr):
        t0 = time.perf_counter(); f(); nps.append(time.perf_counter() - t0)
    npt = float(np.median(nps))
    for buf in bufs:
        buf.destroy()
    gf = lambda t: flops / t / 1e9 if t else None
    return {"name": name, "M": M, "K": K, "N": N, "ta": ta, "tb": tb, "batch": batch,
            "workgroups": list(kern.groups(M, N, batch)), "gflop": flops / 1e9,
            "round_trip_ms": rt * 1e3, "round_trip_reps": reps, "round_trip_gflops": gf(rt),
            "kernel_wall_ms": kw * 1e3, "kernel_wall_gflops": gf(kw),
            "kernel_gpu_ms": kg * 1e3 if kg else None, "kernel_gpu_gflops": gf(kg), "kernel_n": n,
            "numpy_cpu_ms": npt * 1e3, "numpy_cpu_gflops": gf(npt), "max_rel_err": max(errs),
            "rel_errs": errs}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--wgsl", help="JSON from wgsl_dump.mjs (default: run node now)")
    ap.add_argument("--json", help="write the report here")
    ap.add_argument("--only", help="regex: shapes whose name matches")
    ap.add_argument("--budget", type=float, default=0.5, help="seconds per timing phase per shape")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--require-gpu", action="store_true", help="stop (after listing adapters) unless a DiscreteGPU is picked")
    args = ap.parse_args(argv)
    wg = load_wgsl(args.wgsl)
    report = {"what": "site/webgpu/matmul.js WGSL via wgpu-py/wgpu-native (not the in-page Chromium/Dawn path)",
              "wgsl_source": wg["source"], "wgsl_sha256": wg["sha256"], "config": wg["config"],
              "TM": wg["TM"], "TN": wg["TN"], "python": sys.version.split()[0], "numpy": np.__version__,
              "machine": platform.machine(), "cpu_count": os.cpu_count(), "rows": []}
    kern = None
    try:  # no wgpu, no adapter, no device: say so and stop cleanly
        import wgpu
        report["wgpu"] = wgpu.__version__
        try:
            kern = Kernel(wgpu, wg)
        except (OSError, RuntimeError, wgpu.GPUError) as e:
            report["skipped"] = f"{type(e).__name__}: {e}"
    except ImportError as e:
        report["skipped"] = f"{type(e).__name__}: {e}"
    if kern is None:
        print(f"skipped: {report['skipped']}")
        if args.json:
            pathlib.Path(args.json).write_text(json.dumps(report, indent=1))
        return report
    info = dict(kern.adapter.info)
    report["adapter"] = info
    report["adapters_found"] = kern.all_adapters
    report["timestamp_query"] = kern.timestamps
    report["compile_s"] = kern.compile_s
    report["limits"] = {k: kern.adapter.limits[k] for k in (
        "max-storage-buffer-binding-size", "max-buffer-size", "max-compute-workgroups-per-dimension",
        "max-compute-workgroup-storage-size")}
    print(f"adapter: {info.get('device')} | {info.get('description')} | vendor_id {info.get('vendor_id')}"
          f" | {info.get('adapter_type')} | backend {info.get('backend_type')}")
    print(f"wgpu {wgpu.__version__}, WGSL sha256 {wg['sha256'][:12]} TM={wg['TM']} TN={wg['TN']},"
          f" timestamps {'yes' if kern.timestamps else 'no'}, compile {kern.compile_s * 1e3:.0f} ms")
    if args.require_gpu and info.get("adapter_type") != "DiscreteGPU":
        report["skipped"] = f"no DiscreteGPU adapter among {kern.all_adapters}"
        print(f"skipped: {report['skipped']}")
        if args.json:
            pathlib.Path(args.json).write_text(json.dumps(report, indent=1))
        return report
    rng = np.random.default_rng(args.seed)
    shapes = [s for s in SHAPES if not args.only or re.search(args.only, s[0])]
    hdr = (f"{'product':<24} {'MxKxN':>16} {'rt ms':>8} {'rt GF/s':>8} {'k ms':>8} {'k GF/s':>8}"
           f" {'gpu GF/s':>8} {'np GF/s':>8} {'rel err':>8}")
    print(hdr)
    for s in shapes:
        r = bench_shape(kern, rng, s, args.budget)
        report["rows"].append(r)
        g = f"{r['kernel_gpu_gflops']:8.1f}" if r["kernel_gpu_gflops"] else f"{'-':>8}"
        print(f"{r['name']:<24} {r['M']:>5}x{r['K']}x{r['N']:<5} {r['round_trip_ms']:8.3f} {r['round_trip_gflops']:8.1f}"
              f" {r['kernel_wall_ms']:8.4f} {r['kernel_wall_gflops']:8.1f} {g} {r['numpy_cpu_gflops']:8.1f}"
              f" {r['max_rel_err']:8.1e}", flush=True)
        if args.json:  # keep what we have if a later shape dies
            pathlib.Path(args.json).write_text(json.dumps(report, indent=1))
    if args.json:
        pathlib.Path(args.json).write_text(json.dumps(report, indent=1))
    return report


if __name__ == "__main__":
    main()
