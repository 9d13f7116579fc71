// Descent page loader: the progress card for the Python boot (runtime, packages, our
// wheel, data, app) with sizes, specific failure messages, the service worker with an
// update offer (never a forced reload), the "copy embed snippet" button, and, inside an
// embed iframe, the height reports to the embedding page.
(function () {
  "use strict";
  const script = document.currentScript;
  const SITE_ROOT = new URL(script.getAttribute("data-site-root") || "../", script.src).href;
  const EMBED = document.documentElement.hasAttribute("data-descent-embed");
  const STAGES = [
    ["runtime", "Python runtime (Pyodide)"],
    ["packages", "Packages (numpy, bokeh, panel)"],
    ["wheel", "Descent (engine + apps)"],
    ["data", "Data (MNIST digits)"],
    ["app", "Starting the app"],
  ];
  const state = {};
  let card = null;
  let current = null;
  let calls = 0;
  let failed = false;
  let sendSize = () => {};  // inside an embed: tell the embedding page our height (reportSize)

  function mb(n) {
    if (!n) return "0 MB";
    return n < 1e5 ? (n / 1e3).toFixed(0) + " kB" : (n / 1e6).toFixed(1) + " MB";
  }

  function el(tag, cls, text) {
    const e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text != null) e.textContent = text;
    return e;
  }

  function ensureCard() {
    if (card || !document.body) return card;
    card = el("div", "descent-loader");
    card.setAttribute("role", "status");
    card.setAttribute("aria-live", "polite");
    card.appendChild(el("div", "descent-loader-title", "Starting Python in your browser"));
    const list = el("ol", "descent-stages");
    for (const [key, label] of STAGES) {
      const li = el("li", "descent-stage pending");
      li.dataset.stage = key;
      const head = el("div", "descent-stage-head");
      head.appendChild(el("span", "descent-stage-label", label));
      head.appendChild(el("span", "descent-stage-size", ""));
      li.appendChild(head);
      const bar = el("div", "descent-bar");
      bar.appendChild(el("div", "descent-bar-fill"));
      li.appendChild(bar);
      list.appendChild(li);
    }
    card.appendChild(list);
    card.appendChild(el("div", "descent-loader-msg", ""));
    document.body.appendChild(card);
    for (const k in state) paint(k);
    sendSize();
    return card;
  }

  function paint(key) {
    if (!ensureCard()) return;
    const s = state[key];
    const li = card.querySelector(`[data-stage="${key}"]`);
    if (!li || !s) return;
    li.className = "descent-stage " + s.state;
    const size = li.querySelector(".descent-stage-size");
    let txt = "";
    if (s.state === "skipped") txt = s.detail || "skipped";
    else if (s.total) txt = `${mb(s.loaded)} / ${mb(s.total)}`;
    else if (s.loaded) txt = mb(s.loaded);
    if (s.state === "done") txt = (s.total || s.loaded) ? mb(Math.max(s.total, s.loaded)) + " ✓" : "✓";
    size.textContent = txt;
    const fill = li.querySelector(".descent-bar-fill");
    const frac = s.state === "done" ? 1 : (s.total ? Math.min(1, s.loaded / s.total) : 0);
    fill.style.width = (100 * frac).toFixed(1) + "%";
    li.classList.toggle("indeterminate", s.state === "active" && !s.total);
  }

  function setState(key, patch) {
    state[key] = Object.assign(state[key] || {loaded: 0, total: 0, state: "pending"}, patch);
    paint(key);
  }

  function fail(stage, kind, message) {
    failed = true;
    if (stage) setState(stage, {state: "failed"});
    if (!ensureCard()) {
      document.addEventListener("DOMContentLoaded", () => fail(stage, kind, message), {once: true});
      return;
    }
    card.classList.add("failed");
    card.querySelector(".descent-loader-title").textContent = "Descent could not start";
    const msg = card.querySelector(".descent-loader-msg");
    msg.textContent = message;
    msg.dataset.kind = kind;
    if (!card.querySelector(".descent-retry")) {
      const b = el("button", "descent-retry", "Try again");
      b.addEventListener("click", () => location.reload());
      card.appendChild(b);
    }
    document.body.classList.remove("pn-loading");
    const b = document.querySelector(".descent-backend");
    if (b) b.textContent = "Python did not start";
    sendSize();
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
      setState(m.stage, patch);
      if (m.state === "active") {
        for (const [k] of STAGES) {
          if (k === m.stage) break;
          if (!state[k] || state[k].state === "pending") setState(k, {state: "done"});
        }
      }
    } else if (m.type === "descent:progress") {
      setState(m.stage, {loaded: m.loaded, total: m.total});
    } else if (m.type === "descent:fail") {
      fail(m.stage, m.kind, m.message);
    } else if (m.type === "descent:backend") {
      const b = document.querySelector(".descent-backend");
      if (b) { b.textContent = "matmul: " + m.text; b.title = m.text; }
    } else if (m.type === "render") {
      setState("app", {state: "done", t1: performance.now()});
      const b = document.querySelector(".descent-backend");
      if (b && /starting/.test(b.textContent)) b.textContent = "matmul: numpy (looking for a faster backend…)";
      setTimeout(() => { if (card && !failed) { card.classList.add("hidden"); sendSize(); } }, 400);
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

  // Called instead of `new Worker(...)` by the page Panel generated.
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
    setState("runtime", {state: "active"});
    return w;
  }

  // ---------------------------------------------------------------- service worker
  function offerUpdate(reg) {
    if (EMBED || document.querySelector(".descent-update")) return;
    const bar = el("div", "descent-update");
    bar.setAttribute("role", "alert");
    bar.appendChild(el("span", null, "A new version of Descent is ready. It loads when you reload " +
      "(finish or save your training first)."));
    const go = el("button", null, "Reload now");
    go.addEventListener("click", () => {
      window.__descentAskedUpdate = true;
      if (reg.waiting) reg.waiting.postMessage({type: "skip-waiting"});
      else location.reload();
    });
    const later = el("button", "secondary", "Later");
    later.addEventListener("click", () => bar.remove());
    bar.append(go, later);
    document.body.appendChild(bar);
  }

  function registerSW() {
    if (!("serviceWorker" in navigator) || location.protocol === "file:") return;
    let reloading = false;
    navigator.serviceWorker.addEventListener("controllerchange", () => {
      // only after the visitor pressed "Reload now" (the new worker waits until asked)
      if (window.__descentAskedUpdate && !reloading) { reloading = true; location.reload(); }
    });
    navigator.serviceWorker.register(new URL("sw.js", SITE_ROOT).href, {scope: SITE_ROOT}).then((reg) => {
      if (!reg) return;  // a test browser that blocks service workers resolves with nothing
      const watch = (w) => w && w.addEventListener("statechange", () => {
        if (w.state === "installed" && navigator.serviceWorker.controller) offerUpdate(reg);
      });
      if (reg.waiting && navigator.serviceWorker.controller) offerUpdate(reg);
      watch(reg.installing);
      reg.addEventListener("updatefound", () => watch(reg.installing));
    }).catch((e) => console.warn("[descent] service worker not registered:", e.message));
  }

  // ---------------------------------------------------------------- embeds
  function snippet(widget) {
    return `<div data-descent="${widget}"></div>\n` +
      `<script src="${new URL("js/embed.js", SITE_ROOT).href}" async></` + `script>`;
  }

  function setupEmbedButton() {
    const btn = document.querySelector("[data-embed-widget]");
    if (!btn) return;
    btn.addEventListener("click", async () => {
      const text = snippet(btn.dataset.embedWidget);
      let box = document.querySelector(".descent-snippet");
      if (!box) {
        box = el("div", "descent-snippet");
        box.appendChild(el("p", null, "Paste this into your blog post or page:"));
        const pre = el("textarea");
        pre.readOnly = true;
        pre.rows = 3;
        box.appendChild(pre);
        const close = el("button", "secondary", "Close");
        close.addEventListener("click", () => box.remove());
        box.appendChild(close);
        btn.insertAdjacentElement("afterend", box);
      }
      const ta = box.querySelector("textarea");
      ta.value = text;
      let ok = false;
      try { await navigator.clipboard.writeText(text); ok = true; } catch (e) {
        ta.select();
        try { ok = document.execCommand("copy"); } catch (e2) { ok = false; }
      }
      btn.textContent = ok ? "Copied ✓" : "Copy embed snippet";
      setTimeout(() => { btn.textContent = "Copy embed snippet"; }, 2000);
    });
  }

  // Inside an embed the page is as tall as its content (css: html and body are not stretched
  // to the frame), so the body's height is what the frame must be; while the loader card shows,
  // the frame must hold it too. The body is watched for size (Bokeh's layouts resize it from
  // their shadow roots); the card sends it when it appears, fails or hides.
  function reportSize() {
    if (!EMBED || window.parent === window || !document.body) return;
    const id = new URLSearchParams(location.search).get("descent-id") || "";
    let last = -1;
    sendSize = () => {
      let h = document.body.getBoundingClientRect().height;
      if (card && !card.classList.contains("hidden")) h = Math.max(h, card.offsetTop + card.offsetHeight + 16);
      h = Math.ceil(h);
      if (h !== last) {
        last = h;
        // the height is not a secret: any embedding origin may read it; embed.js checks our origin
        window.parent.postMessage({type: "descent:size", id, height: h}, "*");
      }
    };
    new ResizeObserver(() => sendSize()).observe(document.body);
    window.addEventListener("load", () => sendSize());
    sendSize();
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

  window.DescentLoader = {worker, fail, state, snippet, python};

  // The service worker caches the whole site when it installs (the offline bundle: ~26 MB with
  // the runtime); on a first visit that competed with Python's start for this machine's two
  // cores (README: the boot figures). An app page registers it once the app is interactive
  // (or has failed, or after a minute), any other page once it has loaded.
  let registered = false;
  function registerOnce() {
    if (registered) return;
    registered = true;
    registerSW();
  }
  if (document.documentElement.hasAttribute("data-descent-app")) setTimeout(registerOnce, 60000);
  else if (document.readyState === "complete") registerOnce();
  else window.addEventListener("load", registerOnce, {once: true});

  // Time to interactive: Panel removes the body's pn-loading class once the live app replaced
  // the pre-rendered one.
  function watchInteractive() {
    if (!document.body.classList.contains("pn-loading")) { registerOnce(); return; }
    const obs = new MutationObserver(() => {
      if (document.body.classList.contains("pn-loading")) return;
      if (!failed) window.DescentLoader.interactiveAt = performance.now();
      obs.disconnect();
      registerOnce();
    });
    obs.observe(document.body, {attributes: true, attributeFilter: ["class"]});
  }

  const ready = () => {
    if (document.documentElement.hasAttribute("data-descent-app")) { ensureCard(); watchInteractive(); }
    setupEmbedButton();
    reportSize();
  };
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", ready, {once: true});
  else ready();
})();
