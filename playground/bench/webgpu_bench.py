"""GFLOP/s of Descent's WebGPU matmul vs TensorFlow.js's WebGPU backend, same adapter, same run.

Opens site/webgpu/bench.html in headless Debian Chromium over a local HTTP server.
    python -m playground.bench.webgpu_bench                  # SwiftShader here (CPU: slow, small repeats)
    python -m playground.bench.webgpu_bench --real-gpu       # a machine with a GPU: don't force SwiftShader
"""
import argparse
import functools
import http.server
import pathlib
import shutil
import threading

ROOT = pathlib.Path(__file__).resolve().parents[2]
ARGS = ["--no-sandbox", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run", "--enable-unsafe-webgpu"]


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", default="128,256,512,1024,2048")
    ap.add_argument("--repeats", type=int, default=None, help="timed runs per size after a warm-up (default 1 on SwiftShader, 5 on a GPU)")
    ap.add_argument("--real-gpu", action="store_true",
                    help="use the machine's GPU (Vulkan) instead of SwiftShader; may need a display-less GPU driver")
    ap.add_argument("--chromium", default=shutil.which("chromium") or "chromium")
    args = ap.parse_args(argv)
    sizes = [int(s) for s in args.sizes.split(",")]
    repeats = args.repeats or (5 if args.real_gpu else 1)
    flags = ARGS + (["--enable-features=Vulkan", "--use-angle=vulkan", "--ignore-gpu-blocklist",
                     "--use-vulkan=native"] if args.real_gpu else ["--use-webgpu-adapter=swiftshader"])

    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(ROOT))
    handler.func.log_message = lambda *a: None
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}/site/webgpu/bench.html"

    from playwright.sync_api import sync_playwright
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=args.chromium, args=flags)
        page = browser.new_page()
        page.goto(url)
        res = page.evaluate("([sizes, repeats]) => runBench({sizes, repeats})", [sizes, repeats])
        browser.close()
    server.shutdown()

    ad = res["adapter"]
    print(f"adapter: {ad['name']} (vendor {ad['vendor'] or '?'}, architecture {ad['architecture'] or '?'})"
          f"; tfjs backend: {res['tfjsBackend'] or res['tfjsError']}")
    print(f"{'n':>6} {'descent GFLOP/s':>16} {'tfjs GFLOP/s':>13} {'ratio':>7} {'max|diff|':>10}")
    for r in res["rows"]:
        tf = f"{r['tfjs']:13.2f}" if r["tfjs"] is not None else f"{'-':>13}"
        ratio = f"{r['ratio']:6.2f}x" if r["ratio"] is not None else f"{'-':>7}"
        diff = f"{r['maxDiff']:10.2e}" if r["maxDiff"] is not None else f"{'-':>10}"
        print(f"{r['n']:>6} {r['ours']:16.2f} {tf} {ratio} {diff}   [{ad['name']}]")
    return res


if __name__ == "__main__":
    main()
