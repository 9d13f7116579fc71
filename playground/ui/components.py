"""Panel custom components that must run on the browser's main thread.

In Pyodide the Python side lives in a Web Worker, which has no canvas events and no
``localStorage``; a ``pn.custom.JSComponent``'s ESM code runs on the main thread, and its
parameters sync both ways. Three such components:

* :class:`DrawingCanvas` — draw with mouse, pen or finger (pointer events), Clear and Undo;
  after every stroke (and every ~120 ms while drawing) it sends the ink as a base64 string
  of ``resolution x resolution`` grey bytes; :meth:`DrawingCanvas.to_array` decodes it.
* :class:`BrowserStore` — a JSON list kept in ``localStorage`` under ``key``: the browser's
  saved list arrives in ``items`` once rendered; setting ``items`` from Python writes it.
* :class:`FilePicker` — a file input whose every choice arrives as one ``file`` value (name,
  bytes and a counter together), even an empty file or the same file again.
"""
from __future__ import annotations

import base64

import numpy as np
import panel as pn
import param

__all__ = ["DrawingCanvas", "BrowserStore", "FilePicker"]


class DrawingCanvas(pn.custom.JSComponent):
    """A square drawing pad; ``image`` holds the ink (white on black) as base64 bytes."""

    image = param.String(default="", doc="base64 of resolution**2 uint8 ink values ('' = empty)")
    strokes = param.Integer(default=0, doc="number of finished strokes on the pad")
    resolution = param.Integer(default=112, doc="side of the image sent to Python")
    canvas_size = param.Integer(default=280, doc="side of the pad in CSS pixels")
    line_width = param.Number(default=22, doc="pen width in pad pixels")

    _esm = """
    export function render({ model, el }) {
      const S = model.canvas_size;
      const box = document.createElement("div");
      box.style.cssText = "display:flex;flex-direction:column;gap:6px;align-items:flex-start";
      const canvas = document.createElement("canvas");
      canvas.width = S; canvas.height = S;
      canvas.className = "descent-draw";
      canvas.style.cssText = `width:${S}px;height:${S}px;background:#000;border-radius:8px;` +
        "touch-action:none;cursor:crosshair;box-shadow:0 0 0 1px #999";
      const ctx = canvas.getContext("2d");
      const bar = document.createElement("div");
      bar.style.cssText = "display:flex;gap:8px;align-items:center";
      const mk = (label, cls) => { const b = document.createElement("button"); b.textContent = label;
        b.className = cls; b.style.cssText = "padding:4px 14px;border-radius:4px;border:1px solid #aaa;" +
        "background:#f6f6f6;cursor:pointer;font:inherit"; return b; };
      const undo = mk("Undo", "descent-undo"), clear = mk("Clear", "descent-clear");
      const hint = document.createElement("span");
      hint.textContent = "draw a digit 0–9"; hint.style.cssText = "color:#777;font-size:12px";
      bar.append(undo, clear, hint); box.append(canvas, bar); el.append(box);

      let strokes = [], cur = null, lastSent = 0;
      function redraw() {
        ctx.fillStyle = "#000"; ctx.fillRect(0, 0, S, S);
        ctx.strokeStyle = "#fff"; ctx.fillStyle = "#fff";
        ctx.lineWidth = model.line_width; ctx.lineCap = "round"; ctx.lineJoin = "round";
        for (const s of (cur ? strokes.concat([cur]) : strokes)) {
          if (s.length === 1) { ctx.beginPath(); ctx.arc(s[0][0], s[0][1], model.line_width / 2, 0, 7); ctx.fill(); continue; }
          ctx.beginPath(); ctx.moveTo(s[0][0], s[0][1]);
          for (const p of s.slice(1)) ctx.lineTo(p[0], p[1]);
          ctx.stroke();
        }
      }
      function send() {
        const all = cur ? strokes.concat([cur]) : strokes;
        model.strokes = strokes.length;
        if (!all.length) { model.image = ""; return; }
        const n = model.resolution, off = document.createElement("canvas");
        off.width = n; off.height = n;
        const o = off.getContext("2d"); o.imageSmoothingQuality = "high";
        o.drawImage(canvas, 0, 0, n, n);
        const px = o.getImageData(0, 0, n, n).data;
        let s = "";
        for (let i = 0; i < n * n; i++) s += String.fromCharCode(px[4 * i]);
        model.image = btoa(s);
      }
      const pos = (e) => { const r = canvas.getBoundingClientRect();
        return [(e.clientX - r.left) * S / r.width, (e.clientY - r.top) * S / r.height]; };
      canvas.addEventListener("pointerdown", (e) => {
        e.preventDefault(); canvas.setPointerCapture(e.pointerId); cur = [pos(e)]; redraw(); });
      canvas.addEventListener("pointermove", (e) => {
        if (!cur) return; e.preventDefault(); cur.push(pos(e)); redraw();
        const now = performance.now(); if (now - lastSent > 120) { lastSent = now; send(); } });
      const end = (e) => { if (!cur) return; strokes.push(cur); cur = null; redraw(); send(); };
      canvas.addEventListener("pointerup", end);
      canvas.addEventListener("pointercancel", end);
      undo.addEventListener("click", () => { strokes.pop(); redraw(); send(); });
      clear.addEventListener("click", () => { strokes = []; cur = null; redraw(); send(); });
      redraw();
    }
    """

    def to_array(self) -> np.ndarray | None:
        """The ink as a float32 (resolution, resolution) array in [0, 1], or None if empty."""
        if not self.image:
            return None
        raw = np.frombuffer(base64.b64decode(self.image), dtype=np.uint8)
        n = int(round(np.sqrt(raw.size)))
        if n * n != raw.size or n == 0:
            return None
        return raw.reshape(n, n).astype(np.float32) / 255.0

    @staticmethod
    def encode(img: np.ndarray) -> str:
        """Inverse of :meth:`to_array` (tests and scripted drawings)."""
        a = np.clip(np.asarray(img, dtype=np.float32) * 255 + 0.5, 0, 255).astype(np.uint8)
        return base64.b64encode(a.tobytes()).decode()


class BrowserStore(pn.custom.JSComponent):
    """A JSON list persisted in the browser's ``localStorage`` (main thread)."""

    key = param.String(default="descent-store")
    items = param.List(default=[], doc="the stored list; set it from Python to save")
    loaded = param.Boolean(default=False, doc="True once the browser's copy has arrived")

    # In a page converted for Pyodide, changes reach the Python worker only once the page has
    # rendered and removed `pn-loading` from <body> (Panel's pyodide-worker page); a change made
    # while rendering would stay in the browser, and the saved list would never reach Python.
    _esm = """
    export function render({ model, el }) {
      el.style.display = "none";
      const write = () => { try { window.localStorage.setItem(model.key, JSON.stringify(model.items)); } catch (e) {} };
      model.on("items", write);
      const load = () => {
        let saved = [];
        try { saved = JSON.parse(window.localStorage.getItem(model.key) || "[]"); } catch (e) { saved = []; }
        if (!Array.isArray(saved)) saved = [];
        const ids = new Set(saved.map((r) => r && r.id));
        const merged = saved.concat((model.items || []).filter((r) => !(r && ids.has(r.id))));
        if (merged.length) model.items = merged;
        model.loaded = true;
      };
      const body = document.body;
      if (!body.classList.contains("pn-loading")) { load(); return; }
      const obs = new MutationObserver(() => {
        if (!body.classList.contains("pn-loading")) { obs.disconnect(); load(); }
      });
      obs.observe(body, {attributes: true, attributeFilter: ["class"]});
    }
    """


class FilePicker(pn.custom.JSComponent):
    """A file input; each file chosen arrives as ONE change of ``file``:
    ``{"name": ..., "data": base64 of the bytes, "n": how many files were chosen so far}``.

    Why not ``pn.widgets.FileInput``: it sends the bytes and the name as two changes (a load
    between them sees the new bytes under the old name, or the old bytes under the new one),
    sends nothing for an empty file, and nothing when the same file is chosen again (the
    input's value does not change). Here the input is cleared after each read, and ``n``
    makes every choice a new value."""

    file = param.Dict(default=None, allow_None=True, doc="the last file chosen: name, data, n")
    accept = param.String(default="", doc="the input's accept attribute, e.g. '.npz'")
    label = param.String(default="", doc="a caption above the input (none when empty)")

    _esm = """
    export function render({ model, el }) {
      const input = document.createElement("input");
      input.type = "file";
      if (model.accept) input.accept = model.accept;
      input.style.cssText = "max-width:100%;font:inherit";
      if (model.label) {
        const cap = document.createElement("div");
        cap.textContent = model.label;
        cap.style.cssText = "font-size:13px;margin-bottom:2px";
        el.append(cap);
      }
      let n = 0;
      input.addEventListener("change", () => {
        const f = input.files && input.files[0];
        if (!f) return;
        const reader = new FileReader();
        reader.onload = () => {
          const url = String(reader.result), data = url.slice(url.indexOf(",") + 1);
          model.file = {name: f.name, data: data, n: ++n};
          input.value = "";  // so that choosing the same file again is a change too
        };
        reader.readAsDataURL(f);
      });
      el.append(input);
    }
    """

    @property
    def filename(self) -> str:
        return (self.file or {}).get("name", "")

    def data(self) -> bytes:
        """The chosen file's bytes (b"" when none or empty)."""
        return base64.b64decode((self.file or {}).get("data", "") or b"")

    def choose(self, raw: bytes, name: str):
        """What the browser does when a file is chosen (tests, scripts)."""
        n = (self.file or {}).get("n", 0) + 1
        self.file = {"name": name, "data": base64.b64encode(bytes(raw)).decode(), "n": n}
