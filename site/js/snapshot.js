// Descent: makes the start-up snapshot of the Python runtime for this browser's next visits.
// Started by an app's worker once its page is interactive (site/templates/worker.js,
// makeSnapshot), in a worker of its own so the app keeps running meanwhile: it starts a
// second, bare Pyodide, imports the standard-library modules the pages import, takes a copy
// of its memory (the interpreter and those modules) and keeps it in CacheStorage. The next
// page of this site starts Python from it instead of starting it anew. Made here, in this
// browser, from the same files: never downloaded.
"use strict";
self.onmessage = async (ev) => {
  const {indexURL, cache, key, imports} = ev.data || {};
  try {
    importScripts(indexURL + "pyodide.js");
    const py = await loadPyodide({indexURL, _makeSnapshot: true});
    // the standard-library modules the pages import (listed by the build): imported once here,
    // not at every start. Those this Pyodide lacks are skipped; none loads a library of its own.
    py.runPython(`def _descent_imports(names):
    for name in names:
        try:
            __import__(name)
        except Exception:
            pass
_descent_imports(${JSON.stringify(imports || [])})
del _descent_imports`);
    const bytes = py.makeMemorySnapshot();
    const store = await caches.open(cache);
    await store.put(key, new Response(bytes, {headers: {"content-type": "application/octet-stream"}}));
    self.postMessage({ok: true, bytes: bytes.length});
  } catch (e) {
    self.postMessage({ok: false, error: String((e && e.message) || e).split("\n")[0]});
  }
};
