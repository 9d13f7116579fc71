"""A file upload that reaches Python in one piece: the file's name and bytes together.

Panel's ``FileInput`` syncs ``value``, ``filename`` and ``mime_type`` as separate changes; in
the Pyodide page the first goes to the worker at once and the others follow in a later
message, so Python saw new bytes with the previous file's name (and an empty file, or the
same bytes again, sent no ``value`` change at all). Here the browser reads the file and sets
one property, ``upload = {name, data, at}``: every choice of a file is exactly one event."""
from __future__ import annotations

import base64
import itertools

import panel as pn
import param

_count = itertools.count(1)


class Upload(pn.custom.JSComponent):
    """A file button; ``upload`` holds the last file as {name, data (base64), at}."""

    accept = param.String(default=".csv,text/csv")
    label = param.String(default="Upload CSV")
    upload = param.Dict(default={}, doc="{name, data: base64 bytes, at: a unique stamp}")

    _esm = """
    export function render({ model, el }) {
      const label = document.createElement("label");
      label.style.cssText = "display:flex;flex-direction:column;gap:2px;font-size:13px";
      const input = document.createElement("input");
      input.type = "file";
      input.accept = model.accept;
      input.style.cssText = "max-width:100%;font:inherit";
      label.append(model.label, input);
      el.append(label);
      input.addEventListener("change", async () => {
        const f = input.files && input.files[0];
        if (!f) return;
        const bytes = new Uint8Array(await f.arrayBuffer());
        let s = "";
        for (let i = 0; i < bytes.length; i += 0x8000) s += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
        model.upload = {name: f.name, data: btoa(s), at: Date.now() + Math.random()};  // one change
        input.value = "";  // choosing the same file again is a new upload
      });
    }
    """

    def file(self):
        """(name, bytes) of the last upload, or (None, None)."""
        u = self.upload or {}
        if "name" not in u:
            return None, None
        return u["name"], base64.b64decode(u.get("data") or "")

    def send(self, name, data: bytes):
        """Upload from Python (tests, scripts) as the browser does."""
        self.upload = {"name": name, "data": base64.b64encode(data).decode(), "at": next(_count)}
