// Main thread of the in-page benchmark: starts the two workers and relays calls.
// bench.call("py" | "js", op, args) -> Promise of the worker's result (the driver awaits it).
"use strict";
(() => {
  const workers = {};
  const pending = new Map();
  let nextId = 0;
  window.benchErrors = [];

  function worker(name) {
    if (!workers[name]) {
      const w = new Worker(`${name}_worker.js`);
      w.onmessage = (e) => {
        const { id, ok, result, error } = e.data;
        const p = pending.get(id);
        pending.delete(id);
        if (p) ok ? p.resolve(result) : p.reject(new Error(error));
      };
      w.onerror = (e) => {
        const msg = `${name} worker: ${e.message} (${e.filename}:${e.lineno})`;
        window.benchErrors.push(msg);
        for (const [id, p] of pending) { pending.delete(id); p.reject(new Error(msg)); }
      };
      workers[name] = w;
    }
    return workers[name];
  }

  function call(name, op, args) {
    const id = nextId++;
    return new Promise((resolve, reject) => {
      pending.set(id, { resolve, reject });
      worker(name).postMessage({ id, op, args });
    });
  }

  function log(line) {
    const el = document.getElementById("log");
    if (el) el.textContent += line + "\n";
  }

  window.bench = { call, log, isolated: () => self.crossOriginIsolated === true };
})();
