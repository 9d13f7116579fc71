"""Python <-> WebGPU bridge in the npm Pyodide 0.29.3 core (no numpy there), in headless
Chromium: engine/backend/webgpu.py's buffer-level hook called from an asyncio task with
run_sync, and its fallbacks (no adapter, lost device) with the reason reported."""
import pathlib

import pytest

pytestmark = pytest.mark.browser
HOOK = (pathlib.Path(__file__).resolve().parent.parent / "engine/backend/webgpu.py").read_text()

BOOT = """async ([hook, code]) => {
  const {loadPyodide} = await import('/node_modules/pyodide/pyodide.mjs');
  const py = await loadPyodide({indexURL: '/node_modules/pyodide/'});
  py.FS.writeFile('/home/pyodide/descent_webgpu.py', hook);  // standalone: no numpy needed
  py.globals.set('MODULE_URL', location.origin + '/site/webgpu/matmul.js');
  return (await py.runPythonAsync(code)).toJs({dict_converter: Object.fromEntries});
}"""

PRELUDE = """
import array, asyncio, random
import descent_webgpu as w
from pyodide.ffi import can_run_sync

def rand(n, seed):
    r = random.Random(seed)
    return array.array('f', [r.uniform(-1, 1) for _ in range(n)])

def max_err(x, y):
    return max((abs(p - q) for p, q in zip(x, y)), default=0.0)

gpu = w.GPU(await w.JsLayer.connect(MODULE_URL))
try:
    await gpu.start()
except w.GPUError:
    pass
"""


def run_python(page, code):
    return page.evaluate(BOOT, [HOOK, PRELUDE + code])


def test_hook_from_asyncio_task_with_run_sync(blank_page):
    res = run_python(blank_page, """
async def task():
    out = {'can_run_sync': can_run_sync(), 'errors': {}}
    cases = {'plain': (33, 17, 29, {}), 'AT_B': (20, 31, 9, {'ta': True}),
             'A_BT': (64, 48, 40, {'tb': True}), 'batch': (5, 6, 7, {'batch': 3, 'broadcast_b': True})}
    for name, (m, k, n, kw) in cases.items():
        a = rand(kw.get('batch', 1) * m * k, 1)
        b = rand(k * n, 2)
        got = gpu.matmul(a, b, m, k, n, **kw)          # synchronous: JSPI suspends this task
        assert isinstance(got, memoryview) and got.format == 'f' and len(got) == kw.get('batch', 1) * m * n
        out['errors'][name] = max_err(got, w.matmul_python(a, b, m, k, n, **kw))
    out['type'] = type(got).__name__
    dest = array.array('f', bytes(4 * 33 * 29))  # out=: written in place (what the numpy wrapper uses)
    a, b = rand(33 * 17, 3), rand(17 * 29, 4)
    assert gpu.matmul(a, b, 33, 17, 29, out=dest) is dest
    out['errors']['out='] = max_err(dest, w.matmul_python(a, b, 33, 17, 29))
    return out

res = await asyncio.create_task(task())
res.update(adapter=gpu.adapter, ok=gpu.ok, reason=gpu.reason)
res
""")
    print(f"adapter: {res['adapter']}; max abs errors vs pure Python: {res['errors']}")
    assert res["ok"] and res["can_run_sync"] and res["type"] == "memoryview"
    assert "swiftshader" in res["adapter"].lower()
    assert all(err < 1e-4 for err in res["errors"].values()), res["errors"]


def test_without_webgpu_flag_falls_back_and_says_why(chromium_launcher, http_server):
    ctx = chromium_launcher(webgpu=False).new_context()
    page = ctx.new_page()
    page.goto(http_server + "/blank.html")
    res = run_python(page, """
async def task():
    a, b = rand(12, 1), rand(20, 2)
    got, who, why = w.matmul_buffers(gpu, a, b, 3, 4, 5)
    return {'who': who, 'why': why, 'err': max_err(got, w.matmul_python(a, b, 3, 4, 5))}
await asyncio.create_task(task())
""")
    ctx.close()
    print(f"fallback: {res}")
    assert res["who"] == "python" and res["err"] == 0
    assert "requestAdapter() returned null" in res["why"] or "no navigator.gpu" in res["why"]


def test_device_loss_falls_back_and_says_why(blank_page):
    res = run_python(blank_page, """
import js
async def task():
    a, b = rand(64 * 32, 1), rand(32 * 16, 2)
    first = w.matmul_buffers(gpu, a, b, 64, 32, 16)[1]
    js.descentGPU.device.destroy()                 # what a driver reset does to us
    got, who, why = w.matmul_buffers(gpu, a, b, 64, 32, 16)
    again = w.matmul_buffers(gpu, a, b, 64, 32, 16)[1]
    return {'first': first, 'who': who, 'why': why, 'again': again, 'ok': gpu.ok,
            'err': max_err(got, w.matmul_python(a, b, 64, 32, 16))}
await asyncio.create_task(task())
""")
    print(f"device loss: {res}")
    assert res["first"] == "webgpu" and res["who"] == "python" and res["again"] == "python"
    assert not res["ok"] and "lost" in res["why"].lower() and res["err"] < 1e-5


def test_sync_entry_cannot_run_sync_and_says_so(blank_page):
    """From a plain synchronous runPython entry JSPI cannot suspend: the hook reports it."""
    res = blank_page.evaluate("""async ([hook]) => {
      const {loadPyodide} = await import('/node_modules/pyodide/pyodide.mjs');
      const py = await loadPyodide({indexURL: '/node_modules/pyodide/'});
      py.FS.writeFile('/home/pyodide/descent_webgpu.py', hook);
      await import('/site/webgpu/matmul.js');
      await py.runPythonAsync(`import descent_webgpu as w\\ngpu = await w.GPU(await w.JsLayer.connect()).start()`);
      return py.runPython(`
try:
    gpu.matmul(b'\\\\0' * 4, b'\\\\0' * 4, 1, 1, 1); r = 'ran'
except w.GPUError as e:
    r = str(e)
r`);
    }""", [HOOK])
    assert "run_sync is not possible" in res
