// This page and embedding: the "Copy embed snippet" button of an app page (DescentLoader.snippet)
// and, inside an embed iframe, its height reported to the embedding page (js/embed.js sizes the
// frame with it).
(function () {
  "use strict";
  const L = window.DescentLoader;
  const EMBED = document.documentElement.hasAttribute("data-descent-embed");

  function snippet(widget) {
    return `<div data-descent="${widget}"></div>\n` +
      `<script src="${new URL("js/embed.js", L.siteRoot).href}" async></` + `script>`;
  }

  function setupEmbedButton() {
    const btn = document.querySelector("[data-embed-widget]");
    if (!btn) return;
    btn.addEventListener("click", async () => {
      const text = snippet(btn.dataset.embedWidget);
      let box = document.querySelector(".descent-snippet");
      if (!box) {
        box = L.el("div", "descent-snippet");
        box.appendChild(L.el("p", null, "Paste this into your blog post or page:"));
        const pre = L.el("textarea");
        pre.readOnly = true;
        pre.rows = 3;
        box.appendChild(pre);
        const close = L.el("button", "secondary", "Close");
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
  // their shadow roots); the card says when it appears, fails or hides ("descent:card").
  function reportSize() {
    if (!EMBED || window.parent === window || !document.body) return;
    const id = new URLSearchParams(location.search).get("descent-id") || "";
    let last = -1;
    const send = () => {
      let h = document.body.getBoundingClientRect().height;
      const card = document.querySelector(".descent-loader:not(.hidden)");
      if (card) h = Math.max(h, card.offsetTop + card.offsetHeight + 16);
      h = Math.ceil(h);
      if (h !== last) {
        last = h;
        // the height is not a secret: any embedding origin may read it; embed.js checks our origin
        window.parent.postMessage({type: "descent:size", id, height: h}, "*");
      }
    };
    document.addEventListener("descent:card", send);
    new ResizeObserver(send).observe(document.body);
    window.addEventListener("load", send);
    send();
  }

  L.snippet = snippet;
  const ready = () => { setupEmbedButton(); reportSize(); };
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", ready, {once: true});
  else ready();
})();
