// The service worker (sw.js: the site, the runtime and the packages, cached for offline use)
// and the offer to load a new version (never a forced reload).
//
// It caches the whole site when it installs (the offline bundle: ~26 MB with the runtime); on a
// first visit that competed with Python's start for this machine's two cores (README: the boot
// figures). An app page registers it once the app is interactive (boot.js's
// "descent:interactive": or has failed), or after a minute; any other page once it has loaded.
(function () {
  "use strict";
  const L = window.DescentLoader;
  const EMBED = document.documentElement.hasAttribute("data-descent-embed");

  function offerUpdate(reg) {
    if (EMBED || document.querySelector(".descent-update")) return;
    const bar = L.el("div", "descent-update");
    bar.setAttribute("role", "alert");
    bar.appendChild(L.el("span", null, "A new version of Descent is ready. It loads when you reload " +
      "(finish or save your training first)."));
    const go = L.el("button", null, "Reload now");
    go.addEventListener("click", () => {
      window.__descentAskedUpdate = true;
      if (reg.waiting) reg.waiting.postMessage({type: "skip-waiting"});
      else location.reload();
    });
    const later = L.el("button", "secondary", "Later");
    later.addEventListener("click", () => bar.remove());
    bar.append(go, later);
    document.body.appendChild(bar);
  }

  function register() {
    if (!("serviceWorker" in navigator) || location.protocol === "file:") return;
    let reloading = false;
    navigator.serviceWorker.addEventListener("controllerchange", () => {
      // only after the visitor pressed "Reload now" (the new worker waits until asked)
      if (window.__descentAskedUpdate && !reloading) { reloading = true; location.reload(); }
    });
    navigator.serviceWorker.register(new URL("sw.js", L.siteRoot).href, {scope: L.siteRoot}).then((reg) => {
      if (!reg) return;  // a test browser that blocks service workers resolves with nothing
      const watch = (w) => w && w.addEventListener("statechange", () => {
        if (w.state === "installed" && navigator.serviceWorker.controller) offerUpdate(reg);
      });
      if (reg.waiting && navigator.serviceWorker.controller) offerUpdate(reg);
      watch(reg.installing);
      reg.addEventListener("updatefound", () => watch(reg.installing));
    }).catch((e) => console.warn("[descent] service worker not registered:", e.message));
  }

  let registered = false;
  function registerOnce() {
    if (registered) return;
    registered = true;
    register();
  }
  if (document.documentElement.hasAttribute("data-descent-app")) {
    document.addEventListener("descent:interactive", registerOnce, {once: true});
    setTimeout(registerOnce, 60000);
  } else if (document.readyState === "complete") registerOnce();
  else window.addEventListener("load", registerOnce, {once: true});
})();
