// Python side of the in-page benchmark: Pyodide + numpy + the descent wheel in a Web Worker
// (as on the site). All benchmark logic is Python: playground.bench.workloads.page_command.
"use strict";
let py = null;

const now = () => performance.now() / 1000;

async function boot({ indexURL, wheelURL, dataURL }) {
  const stages = {};
  let t = now();
  importScripts(indexURL + "pyodide.js");
  py = await loadPyodide({ indexURL });
  stages.runtime = now() - t; t = now();
  await py.loadPackage("numpy");
  stages.numpy = now() - t; t = now();
  await py.loadPackage(wheelURL);
  stages.wheel = now() - t; t = now();
  py.runPython("import engine, playground.bench.workloads");
  stages.import = now() - t; t = now();
  const buf = await (await fetch(dataURL)).arrayBuffer();
  py.FS.writeFile("/tmp/mnist10k.npz", new Uint8Array(buf));
  const info = await command({ cmd: "data", path: "/tmp/mnist10k.npz" });
  stages.data = now() - t;
  return { stages, info, python: py.runPython("import sys; sys.version.split()[0]"),
           numpy: py.runPython("import numpy; numpy.__version__"), pyodide: py.version,
           isolated: self.crossOriginIsolated === true };
}

async function command(req) {
  py.globals.set("_bench_request", JSON.stringify(req));
  const out = await py.runPythonAsync(
    "from playground.bench.workloads import page_command\nawait page_command(_bench_request)");
  return JSON.parse(out);
}

onmessage = async (e) => {
  const { id, op, args } = e.data;
  try {
    const result = op === "boot" ? await boot(args) : await command(args);
    postMessage({ id, ok: true, result });
  } catch (err) {
    postMessage({ id, ok: false, error: String((err && err.message) || err) });
  }
};
