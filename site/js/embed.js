// Descent embeds: put
//   <div data-descent="digits-draw"></div>
//   <script src="https://YOUR-DESCENT-SITE/js/embed.js" async></script>
// in any page (any origin). Each div becomes an iframe of embed/<widget>.html on the
// Descent site that sizes itself: the frame reports its height with postMessage and only
// messages from that site's origin and that very frame are believed.
(function () {
  "use strict";
  const me = document.currentScript ||
    Array.from(document.scripts).find((s) => /\/js\/embed\.js(\?|$)/.test(s.src));
  if (!me) return;
  const SITE = new URL("../", me.src);
  const ORIGIN = SITE.origin;
  const WIDGET = /^[a-z0-9-]+$/;
  const frames = new Map();
  let counter = 0;

  function mount(div) {
    if (div.dataset.descentMounted) return;
    const widget = div.getAttribute("data-descent");
    if (!WIDGET.test(widget || "")) {
      div.textContent = `Descent: unknown widget "${widget}"`;
      return;
    }
    div.dataset.descentMounted = "1";
    const id = "d" + (++counter) + "-" + Math.random().toString(36).slice(2, 8);
    const f = document.createElement("iframe");
    const src = new URL(`embed/${widget}.html`, SITE);
    src.searchParams.set("descent-id", id);
    f.src = src.href;
    f.title = div.getAttribute("data-title") || `Descent: ${widget}`;
    f.loading = div.hasAttribute("data-eager") ? "eager" : "lazy";
    f.allow = "clipboard-write";
    f.setAttribute("scrolling", "no");
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
    const h = Math.max(80, Math.min(20000, Math.round(m.height)));
    f.style.height = h + "px";
    f.dataset.sized = "1";
  });

  function scan() { document.querySelectorAll("[data-descent]").forEach(mount); }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", scan);
  else scan();
  window.DescentEmbed = {scan};
})();
