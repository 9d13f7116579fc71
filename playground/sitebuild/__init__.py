"""Build the static Descent site: `descent build-site [--out _site] [--offline-dist PATH]`.

What a build writes (every address relative, so any static host at any path serves it):

    index.html                gallery of apps, embeddable widgets and lessons
    <app>.html, <app>.js      one page per app: Panel's `pyodide-worker` conversion,
                              post-processed (see below); the .js is the Web Worker
    embed/<widget>.html, .js  the same without chrome, for iframes (see js/embed.js)
    lessons/<slug>.html, .js  one Pyodide page per lessons/NN-slug.md: lesson_page(slug, text=...,
                              links="site") converted and post-processed like an app
    js/ css/                  the loader (js/loader/), embed.js, styles (from site/js, site/css)
    webgpu/matmul.js          the WebGPU matmul module (engine.backend.webgpu's hook)
    vendor/bokeh/, vendor/panel/<ver>/dist/   BokehJS + Panel JS/CSS from the installed packages
    wheels/                   descent (built here), bokeh + panel + their pure dependencies
                              that the Pyodide distribution lacks (downloaded from PyPI, cached)
    data/                     the data pages fetch beside the wheel: mnist10k.npz (digits),
                              shakespeare.txt.gz, gpt_baby.npz (sitebuild.data)
    sw.js, manifest.webmanifest, icons/, version.json

Pyodide and its own packages (numpy...) come from the pinned CDN address by default;
`--offline-dist` vendors them from a full Pyodide distribution into a self-contained copy.

Why `panel convert` plus post-processing, not a template of our own: the conversion gives
the pre-rendered app (visible while Python boots) and Panel's page<->worker patch protocol
for this exact Panel version. What it cannot do is replaced: its worker's boot (one
`micropip.install`, PyPI/CDN wheel addresses, one "Error while installing packages"
message) becomes site/templates/worker.js with staged, measured progress; its service
worker (reloads the page on update, cache per app title) becomes one versioned, site-wide
sw.js; its CDN addresses for BokehJS/Panel become local files.

The stages, one module each: `convert` (the scripts panel convert turns into pages),
`wheels` (what the browser installs, compiled to bytecode by `pycompile.mjs`), `kernels`
(the WebAssembly SIMD kernels, compiled by clang), `postprocess` (our pages and workers
around Panel's output), `loader` (the page's loader scripts and the one list of boot stages),
`vendor` (BokehJS, Panel, Ace served from the site), `data` (the data files beside the
wheel), `pages` (index, manifest, service worker), `offline` (the bundle with Pyodide
inside), `serve`, and `build`, which runs them in order. `common` holds what they share; the
apps and embeds come from playground.apps.registry.
The `descent` command line (playground/cli.py) calls build_site, serve_site and serve_local.
"""
from .build import build_site  # noqa: F401
from .common import (  # noqa: F401
                     NOT_CACHED,
                     PYODIDE_CDN,
                     PYODIDE_VERSION,
                     RUNTIME_FILES,
                     TEXT_SUFFIXES,
                     BuildError,
)
from .convert import app_stub, available_apps, index_lessons, lesson_stub, read_lessons  # noqa: F401
from .loader import SCRIPTS, STAGES, check_stages, loader_tags  # noqa: F401
from .offline import check_dist, make_offline_bundle, offline_cdn_refs  # noqa: F401
from .pages import index_page, write_service_worker  # noqa: F401
from .serve import serve_local, serve_site  # noqa: F401
from .wheels import AFTER_BOOT, read_lock  # noqa: F401
