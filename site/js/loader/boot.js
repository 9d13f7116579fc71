// Starts the app's Python worker (the page Panel generated calls DescentLoader.worker instead
// of `new Worker`), turns the worker's messages into the card and the matmul bar, and says
// when the app is interactive: DescentLoader.interactiveAt, and a "descent:interactive" event
// (offline.js registers the service worker then). DescentLoader.python(code) runs Python in
// the worker once it has booted (automated checks, the console).
(function () {
  "use strict";
  const L = window.DescentLoader;
  const card = L.card;
  let current = null;
  let calls = 0;

  const backendBar = () => document.querySelector(".descent-backend");

  function fail(stage, kind, message) {
    if (!document.body) {  // shown once the page has a body
      document.addEventListener("DOMContentLoaded", () => fail(stage, kind, message), {once: true});
      return;
    }
    card.fail(stage, kind, message);
    document.body.classList.remove("pn-loading");
    const b = backendBar();
    if (b) b.textContent = "Python did not start";
  }

  function onMessage(ev) {
    const m = ev.data || {};
    if (m.type === "descent:stage") {
      const patch = {state: m.state, detail: m.detail};
      // when each stage began and ended (ms since navigation): boot seconds per stage
      if (m.state === "active") patch.t0 = performance.now();
      else patch.t1 = performance.now();
      if (m.total != null) patch.total = m.total;
      if (m.loaded != null) patch.loaded = m.loaded;
      card.set(m.stage, patch);
      if (m.state === "active") card.reached(m.stage);
    } else if (m.type === "descent:progress") {
      card.set(m.stage, {loaded: m.loaded, total: m.total});
    } else if (m.type === "descent:fail") {
      fail(m.stage, m.kind, m.message);
    } else if (m.type === "descent:backend") {
      const b = backendBar();
      if (b) { b.textContent = "matmul: " + m.text; b.title = m.text; }
    } else if (m.type === "render") {
      card.set("app", {state: "done", t1: performance.now()});
      const b = backendBar();
      if (b && /starting/.test(b.textContent)) b.textContent = "matmul: numpy (looking for a faster backend…)";
      setTimeout(card.hide, 400);
    }
  }

  function noWasm() {
    try {
      if (typeof WebAssembly !== "object" || typeof WebAssembly.instantiate !== "function") return true;
      const m = new WebAssembly.Module(Uint8Array.of(0, 97, 115, 109, 1, 0, 0, 0));
      return !(m instanceof WebAssembly.Module);
    } catch (e) {
      return true;
    }
  }

  function worker(url) {
    const stub = {postMessage() {}, addEventListener() {}, terminate() {}};
    if (noWasm()) {
      fail("runtime", "no-wasm", "This browser cannot run WebAssembly (it is missing or turned off, " +
        "e.g. by a security policy or a 'JIT-less' mode), so Python cannot run here. Use a current " +
        "Chrome, Edge, Firefox or Safari with WebAssembly enabled, or the desktop mode " +
        "(descent serve-local).");
      return stub;
    }
    if (typeof Worker !== "function") {
      fail("runtime", "no-worker", "This browser cannot start Web Workers, which Descent needs to run Python.");
      return stub;
    }
    if (location.protocol === "file:") {
      fail("runtime", "file", "Descent pages must be served over HTTP, not opened as files: run " +
        "`descent serve-site` (or any static server) and open the http:// address it prints.");
      return stub;
    }
    const w = new Worker(url);
    current = w;
    w.addEventListener("message", onMessage);
    w.addEventListener("error", (e) => {
      fail(null, "worker", "The Python worker stopped: " + (e.message || "unknown error"));
    });
    card.set("runtime", {state: "active"});
    return w;
  }

  // Run Python in the app's worker (after boot): resolves with the value as text.
  function python(code) {
    return new Promise((resolve, reject) => {
      if (!current) { reject(new Error("no worker")); return; }
      const id = ++calls;
      const on = (ev) => {
        const m = ev.data || {};
        if (m.type !== "descent:python-result" || m.id !== id) return;
        current.removeEventListener("message", on);
        (m.ok ? resolve : reject)(m.ok ? m.value : new Error(m.value));
      };
      current.addEventListener("message", on);
      current.postMessage({type: "descent:python", id, code});
    });
  }

  // Time to interactive: Panel removes the body's pn-loading class once the live app replaced
  // the pre-rendered one (a failure removes it too, without an interactiveAt).
  function watchInteractive() {
    const settled = () => document.dispatchEvent(new Event("descent:interactive"));
    if (!document.body.classList.contains("pn-loading")) { settled(); return; }
    const obs = new MutationObserver(() => {
      if (document.body.classList.contains("pn-loading")) return;
      if (!card.failed) L.interactiveAt = performance.now();
      obs.disconnect();
      settled();
    });
    obs.observe(document.body, {attributes: true, attributeFilter: ["class"]});
  }

  Object.assign(L, {worker, fail, python});
  if (document.documentElement.hasAttribute("data-descent-app")) {
    const ready = () => { card.ensure(); watchInteractive(); };
    if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", ready, {once: true});
    else ready();
  }
})();
