"""Serving: a built site on localhost, or every app and lesson on CPython (panel serve)."""
from __future__ import annotations

from pathlib import Path

from .common import BuildError, log
from .convert import available_apps

# ------------------------------------------------------------------ serving

def site_server(folder, host="127.0.0.1", port=8000):
    """An HTTP server for a built site (the right types for .wasm/.mjs), not yet serving:
    call serve_forever() (serve_site, the boot benchmark)."""
    import functools
    import http.server

    class Handler(http.server.SimpleHTTPRequestHandler):
        extensions_map = {**http.server.SimpleHTTPRequestHandler.extensions_map,
                          ".js": "text/javascript", ".mjs": "text/javascript", ".wasm": "application/wasm",
                          ".webmanifest": "application/manifest+json", ".whl": "application/zip"}

        def log_message(self, fmt, *args):
            pass

    return http.server.ThreadingHTTPServer((host, port), functools.partial(Handler, directory=str(folder)))


def serve_site(folder="_site", host="127.0.0.1", port=8000, open_browser=False):
    """Serve a built site on localhost."""
    folder = Path(folder)
    if not (folder / "index.html").is_file():
        raise BuildError(f"{folder}/index.html not found: run `descent build-site --out {folder}` first")
    srv = site_server(folder, host, port)
    url = f"http://{host}:{srv.server_address[1]}/"
    log(f"Serving {folder} at {url} (Ctrl+C to stop)")
    if open_browser:
        import webbrowser
        webbrowser.open(url)
    try:
        srv.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        srv.server_close()


def serve_local(port=5006, show=False):
    """Every lesson (/NN-slug) and app (/NAME) on CPython with Panel's server (BLAS numpy, no
    browser Python): playground.lessons.serve.serve_lessons, whose links between lessons and apps
    point at these routes."""
    from playground.lessons.format import lesson_index
    from playground.lessons.serve import serve_lessons
    apps, notes = available_apps()
    for n in notes:
        log(f"  note: {n}")
    try:
        index = lesson_index()
    except (OSError, ValueError) as e:
        raise BuildError(f"a lesson does not follow the format: {e}") from None
    log(f"Serving on CPython at http://localhost:{port}/ (Ctrl+C to stop)")
    log(f"  lessons: {', '.join('/' + d['slug'] for d in index) or 'none'}")
    log(f"  apps: {', '.join('/' + a.slug for a, _, _ in apps)}")
    try:
        serve_lessons(port=port, show=show, apps=True)
    except KeyboardInterrupt:
        pass
    return 0
