"""The data files a page fetches beside the wheel, not inside it: the wheel every page downloads
stays small, and each page fetches only what its app (``App.data`` in playground.apps.registry)
or its lesson's widgets read. The worker (site/templates/worker.js) writes each file into
Pyodide's file system and names it in the environment variable the Python side reads
(``engine.data.load_mnist`` reads DESCENT_MNIST, and so on); the service worker caches them
on first use and the offline bundle carries them. A ``lazy`` file (the pretrained baby GPT,
3.3 MB, read only when asked for) is not fetched at boot on an app page or embed: the worker
names its address in ``<env>_URL`` (and its bytes in ``<env>_BYTES``) and the Python side
fetches it when asked. A lesson fetches all its files at boot (its widgets may read them at
start: lesson 10 opens on the pretrained GPT)."""
from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from playground.apps.registry import APPS

from .common import ROOT, BuildError


@dataclass(frozen=True)
class DataFile:
    file: str      # its name under data/ on the site
    source: Path   # where the build finds it (its environment variable, if set, wins)
    env: str       # the variable the Python side reads the path from
    label: str     # what the loading card says
    make: str      # how to build it when it is missing
    required: bool = True  # else a build without it leaves it out, with a note
    lazy: bool = False     # an app page fetches it when asked, not at boot

    def path(self) -> Path:
        return Path(os.environ.get(self.env) or self.source)


DATA = {
    "mnist": DataFile("mnist10k.npz", ROOT / "engine" / "_data" / "mnist10k.npz", "DESCENT_MNIST",
                      "MNIST-10k", "python -m engine.data build-mnist"),
    "shakespeare": DataFile("shakespeare.txt.gz", ROOT / "engine" / "_data" / "shakespeare.txt.gz",
                            "DESCENT_SHAKESPEARE", "Shakespeare", "make engine/_data/shakespeare.txt.gz"),
    # the pretrained baby GPT: without it the gpt app says so and trains from scratch
    "gpt-baby": DataFile("gpt_baby.npz", ROOT / "playground" / "assets" / "gpt_baby.npz", "DESCENT_GPT_BABY",
                         "baby GPT weights", "make playground/assets/gpt_baby.npz", required=False, lazy=True),
}
# lesson widgets (playground.lessons.widgets) that read data: every app's, and digits-draw (the
# digits app cut down)
WIDGET_DATA = {**{a.slug: a.data for a in APPS}, "digits-draw": ("mnist",)}


def check_names():
    """Every name an app asks for is a file here (a typo stops the build, not the page)."""
    unknown = sorted({n for a in APPS for n in a.data} - set(DATA))
    if unknown:
        raise BuildError(f"playground.apps.registry names data {unknown} that sitebuild.data.DATA lacks")


def missing_required(names=None):
    """A BuildError's message for the first required file that is not there, or ''."""
    for name in names or DATA:
        d = DATA[name]
        if d.required and not d.path().is_file():
            return f"{d.path()} not found: {d.make}"
    return ""


def copy_data(dest: Path):
    """Copy every data file there is into ``dest`` (the site's data/); returns ({name: size},
    notes about the optional files left out). A missing required file stops the build."""
    check_names()
    if why := missing_required():
        raise BuildError(why)
    sizes, notes = {}, []
    for name, d in DATA.items():
        if not d.path().is_file():
            notes.append(f"data {name}: {d.path()} not built ({d.make}): the pages go without it")
            continue
        shutil.copy2(d.path(), dest / d.file)
        sizes[name] = (dest / d.file).stat().st_size
    return sizes, notes


def page_data(names, sizes, at_boot=False):
    """The worker's list for a page that reads ``names``: [{url, file, env, label, bytes, lazy}]
    of those the build has (``sizes``: copy_data's), and the bytes fetched at boot. ``at_boot``:
    fetch the lazy ones at boot too (a lesson)."""
    got = [n for n in dict.fromkeys(names) if n in sizes]
    files = [{"url": f"data/{DATA[n].file}", "file": DATA[n].file, "env": DATA[n].env, "label": DATA[n].label,
              "bytes": sizes[n], "lazy": DATA[n].lazy and not at_boot} for n in got]
    return files, sum(f["bytes"] for f in files if not f["lazy"])
