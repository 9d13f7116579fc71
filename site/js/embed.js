// Descent embeds: put
//   <div data-descent="digits-draw"></div>
//   <script src="https://YOUR-DESCENT-SITE/js/embed.js" async></script>
// in any page (any origin). Each div becomes an iframe of embed/<widget>.html on the
// Descent site, as wide as the div, as tall as what it shows (and following it): the frame
// reports its height with postMessage and only messages from that site's origin and that very
// frame are believed. A name the site has no embed for says so in the div, with the names.
(function () {
  "use strict";
  const me = document.currentScript ||
    Array.from(document.scripts).find((s) => /\/js\/embed\.js(\?|$)/.test(s.src));
  if (!me) return;
  const SITE = new URL("../", me.src);
  const ORIGIN = SITE.origin;
  // the embeds this site has: written here by the build (sitebuild EMBEDS)
  const NAMES = /*@EMBEDS@*/null;
  const frames = new Map();
  let counter = 0;

  function distance(a, b) {  // edits between two names (Levenshtein)
    let row = Array.from({length: b.length + 1}, (_, j) => j);
    for (let i = 1; i <= a.length; i++) {
      const next = [i];
      for (let j = 1; j <= b.length; j++) {
        next[j] = Math.min(row[j] + 1, next[j - 1] + 1, row[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
      }
      row = next;
    }
    return row[b.length];
  }

  function unknown(div, widget) {
    const near = NAMES.map((n) => [distance(widget, n), n]).sort((x, y) => x[0] - y[0])[0];
    const box = document.createElement("div");
    box.setAttribute("role", "note");
    box.style.cssText = "box-sizing:border-box;max-width:100%;padding:10px 14px;border:1px dashed #b42318;" +
      "border-radius:8px;background:#fdf3f2;color:#5c1710;font:14px/1.45 system-ui,sans-serif;" +
      "overflow-wrap:anywhere";
    const b = document.createElement("b");
    b.textContent = `Descent has no embed called "${widget}".`;
    box.append(b, " ");
    if (near && near[0] <= 3) box.append(`Did you mean "${near[1]}"? `);
    box.append("The embeds are: ");
    NAMES.forEach((n, i) => {
      const c = document.createElement("code");
      c.textContent = n;
      box.append(c, i < NAMES.length - 1 ? ", " : ".");
    });
    div.replaceChildren(box);
  }

  function mount(div) {
    if (div.dataset.descentMounted) return;
    div.dataset.descentMounted = "1";
    const widget = (div.getAttribute("data-descent") || "").trim();
    if (NAMES && !NAMES.includes(widget)) { unknown(div, widget); return; }
    const id = "d" + (++counter) + "-" + Math.random().toString(36).slice(2, 8);
    const f = document.createElement("iframe");
    const src = new URL(`embed/${encodeURIComponent(widget)}.html`, SITE);
    src.searchParams.set("descent-id", id);
    f.src = src.href;
    f.title = div.getAttribute("data-title") || `Descent: ${widget}`;
    f.loading = div.hasAttribute("data-eager") ? "eager" : "lazy";
    f.allow = "clipboard-write";
    f.setAttribute("scrolling", "no");
    // the height until the frame says how tall it is
    f.style.cssText = "width:100%;border:0;display:block;overflow:hidden;" +
      `height:${parseInt(div.getAttribute("data-height") || "480", 10)}px`;
    div.appendChild(f);
    frames.set(id, f);
  }

  window.addEventListener("message", (e) => {
    if (e.origin !== ORIGIN) return;
    const m = e.data;
    if (!m || m.type !== "descent:size" || typeof m.height !== "number") return;
    const f = frames.get(m.id);
    if (!f || e.source !== f.contentWindow) return;
    const h = Math.max(80, Math.min(20000, Math.ceil(m.height)));
    f.style.height = h + "px";
    f.dataset.sized = "1";
  });

  function scan() { document.querySelectorAll("[data-descent]").forEach(mount); }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", scan);
  else scan();
  window.DescentEmbed = {scan};
})();
