"""Turn what `panel convert` wrote into our pages and workers: local BokehJS/Panel, our
loader and chrome, our boot sequence (site/templates/worker.js) around Panel's app code."""
from __future__ import annotations

import html
import json
import re

from .common import BuildError
from .loader import loader_tags

_PANEL_CDN = "https://cdn.holoviz.org/panel/"
_BOKEH_CDN = "https://cdn.bokeh.org/bokeh/release/"


# The messages Panel's page sends its worker; our worker.js handles exactly these, in order.
PANEL_MESSAGES = ("rendered", "patch", "location")


def panel_app_code(worker_js: str):
    """The app's Python (init_doc ... write_doc), and a check that Panel's worker handles the
    messages our worker.js replaces its handler for (a Panel upgrade that changes them stops
    the build instead of silently dropping a message)."""
    m = re.search(r"const \[docs_json, render_items, root_ids\] = await self\.pyodide\.runPythonAsync\(`(.*?)`\)\n",
                  worker_js, re.S)
    if not m:
        raise BuildError("the worker that panel convert generated has an unexpected shape (Panel upgrade?)")
    code = m.group(1)  # kept as Panel wrote it: the body of a JS template literal
    h = worker_js.find("self.onmessage")
    end = worker_js.rfind("startApplication()")
    if h < 0 or end < h:
        raise BuildError("could not find Panel's worker message handlers")
    handlers = worker_js[h:end]
    seen = set(re.findall(r"msg\.type === '(\w+)'", handlers))
    if seen != set(PANEL_MESSAGES):
        raise BuildError(f"Panel's worker handles {sorted(seen)}, site/templates/worker.js handles "
                         f"{sorted(PANEL_MESSAGES)}: update the template for this Panel version")
    return code


def postprocess_page(page: str, *, name: str, converted_as: str, prefix: str, title: str, embed_widget: str, is_embed: bool,
                     app_slug: str, is_lesson: bool = False):
    """Point the page at local BokehJS/Panel, our loader and manifest; drop Panel's service
    worker registration (it reloads the page on update); add the chrome (not in embeds; no
    embed button on lessons)."""
    page = page.replace(_PANEL_CDN, f"{prefix}vendor/panel/").replace(_BOKEH_CDN, f"{prefix}vendor/bokeh/")
    page = re.sub(r"<script type=\"text/javascript\">\s*if \('serviceWorker' in navigator\).*?</script>\s*",
                  "", page, count=1, flags=re.S)
    if "serviceWorker.register" in page:
        raise BuildError(f"{name}: could not remove Panel's service worker registration")
    new, n = re.subn(r'new Worker\("\./' + re.escape(converted_as) + r'\.js"\)',
                     f'DescentLoader.worker("./{name}.js")', page)
    if n != 1:
        raise BuildError(f"{name}: could not find the worker start in the converted page")
    page = new
    head = (f'<meta name="viewport" content="width=device-width, initial-scale=1">\n'
            f'<link rel="manifest" href="{prefix}manifest.webmanifest">\n'
            f'<link rel="icon" href="{prefix}icons/favicon.ico">\n'
            f'<meta name="theme-color" content="#23395d">\n'
            f'<link rel="stylesheet" href="{prefix}css/descent.css">\n'
            + loader_tags(prefix))
    page = page.replace("</head>", head + "</head>", 1)
    attrs = ' data-descent-app' + (' data-descent-embed' if is_embed else '') + (' data-descent-lesson' if is_lesson else '')
    page = page.replace('<html lang="en">', f'<html lang="en"{attrs}>', 1)
    if not is_embed:
        bar = (f'<header class="descent-bar-top">'
               f'<a class="descent-home" href="{prefix}index.html">Descent</a>'
               f'<span class="descent-app-title">{html.escape(title)}</span>'
               f'<span class="descent-backend" title="which matmul backend runs">matmul: starting…</span>'
               + ("" if is_lesson else
                  f'<button class="descent-embed-btn" data-embed-widget="{embed_widget}">Copy embed snippet</button>')
               + '</header>\n')
        page = re.sub(r"(<body[^>]*>)", r"\1\n" + bar.replace("\\", "\\\\"), page, count=1)
    else:
        # below the app, in the flow (a fixed badge covered the app's bottom-right corner)
        badge = (f'<a class="descent-embed-badge" href="{prefix}{app_slug}.html" target="_blank" '
                 f'rel="noopener">Descent ↗</a>\n')
        page, n = re.subn(r"(<div id=\"[^\"]+\" data-root-id=[^>]*></div>)", r"\1\n" + badge, page, count=1)
        if n != 1:
            raise BuildError(f"{name}: could not find the app's root in the converted page")
    return page


def make_worker(template: str, *, code: str, config: dict):
    js = template.replace("/*@CONFIG@*/{}", json.dumps(config, indent=1))
    return js.replace('/*@APP_CODE@*/""', "`" + code + "`")
