"""The page's loader (site/js/loader/): its scripts, in the order every page loads them, and the
one list of boot stages, which its card shows and the worker (site/templates/worker.js) runs."""
from __future__ import annotations

import html
import json
import re

from .common import BuildError

# (key, what the card says), in the order the worker's boot() begins them
STAGES = (
    ("runtime", "Python runtime (Pyodide)"),
    ("packages", "Packages (numpy, bokeh, panel)"),
    ("wheel", "Descent (engine + apps)"),
    ("data", "Data (data sets, trained weights)"),
    ("app", "Starting the app"),
)
# classic scripts, not modules: the page Panel generated calls DescentLoader.worker() while it
# is parsed; `common` first (what the others share, the stages on its tag)
SCRIPTS = ("common", "card", "boot", "offline", "embedding")


def loader_tags(prefix=""):
    """The <script> tags of the loader for a page `prefix` below the site's root."""
    stages = html.escape(json.dumps(STAGES), quote=True)
    return "".join(f'<script src="{prefix}js/loader/{name}.js"'
                   + (f' data-stages="{stages}"' if name == "common" else "") + "></script>\n"
                   for name in SCRIPTS)


def check_stages(worker_js: str) -> str:
    """The worker template, checked to begin the stages of STAGES, in their order."""
    begun = re.findall(r'^\s*begin\("(\w+)"', worker_js, re.M)
    if begun != [key for key, _ in STAGES]:
        raise BuildError(f"site/templates/worker.js begins the stages {begun}, the loader shows "
                         f"{[key for key, _ in STAGES]} (sitebuild.loader.STAGES): make them agree")
    return worker_js
