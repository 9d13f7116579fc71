"""The Python that runs inside a page's worker around the app (site/templates/worker.js calls it).

The worker boots Pyodide, installs our wheel, then uses these: `later` (pyodide_http until the
packages loaded after the start arrive), `backends` (install a matmul backend, say which runs)
and `bridge` (Panel's page <-> worker messages). Each imports only what it needs, when the
worker asks for it: nothing here is imported while a page boots that was not imported before.
"""
