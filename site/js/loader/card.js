// The progress card while Python boots: one row per stage with its bytes, then either hidden
// (the app runs) or a failure message with "Try again". Inside an embed it says when its size
// changes (the "descent:card" event; embedding.js passes the height on).
(function () {
  "use strict";
  const L = window.DescentLoader;
  const el = L.el;
  const state = {};  // stage -> {state, loaded, total, detail, t0, t1}
  let card = null;

  function mb(n) {
    if (!n) return "0 MB";
    return n < 1e5 ? (n / 1e3).toFixed(0) + " kB" : (n / 1e6).toFixed(1) + " MB";
  }

  const changed = () => document.dispatchEvent(new Event("descent:card"));

  function ensure() {
    if (card || !document.body) return card;
    card = el("div", "descent-loader");
    card.setAttribute("role", "status");
    card.setAttribute("aria-live", "polite");
    card.appendChild(el("div", "descent-loader-title", "Starting Python in your browser"));
    const list = el("ol", "descent-stages");
    for (const [key, label] of L.stages) {
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
    changed();
    return card;
  }

  function paint(key) {
    if (!ensure()) return;
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

  function set(key, patch) {
    state[key] = Object.assign(state[key] || {loaded: 0, total: 0, state: "pending"}, patch);
    paint(key);
  }

  // A stage became active: the ones before it that never reported are done.
  function reached(key) {
    for (const [k] of L.stages) {
      if (k === key) break;
      if (!state[k] || state[k].state === "pending") set(k, {state: "done"});
    }
  }

  function fail(stage, kind, message) {
    L.card.failed = true;
    if (stage) set(stage, {state: "failed"});
    if (!ensure()) return;
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
    changed();
  }

  function hide() {
    if (card && !L.card.failed) { card.classList.add("hidden"); changed(); }
  }

  L.state = state;
  L.card = {ensure, set, reached, fail, hide, failed: false};
})();
