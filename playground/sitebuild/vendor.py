"""Third-party browser assets the pages load from this site instead of CDNs."""
from __future__ import annotations

import re
import shutil
from pathlib import Path

from .common import BOKEH_VERSION, PANEL_VERSION, ROOT, BuildError

# Ace (Panel's CodeEditor) loads its language mode, theme and snippets on demand from the
# folder of ace.js: the pages never name them, so they are listed here. Without them the
# editor has no highlighting and no auto-indent (a typed function body is an IndentationError).
ACE_DEFAULT_THEME = "github_light_default"  # panel.widgets.CodeEditor's default

def copy_vendor(out: Path, pages: list[str]):
    import bokeh
    import panel
    bk_static = Path(bokeh.__file__).parent / "server" / "static" / "js"
    pn_dist = Path(panel.__file__).parent / "dist"
    vb = out / "vendor" / "bokeh"
    vb.mkdir(parents=True)
    for part in ("", "-gl", "-widgets", "-tables"):
        shutil.copy2(bk_static / f"bokeh{part}.min.js", vb / f"bokeh{part}-{BOKEH_VERSION}.min.js")
    vp = out / "vendor" / "panel" / PANEL_VERSION / "dist"
    vp.mkdir(parents=True)
    shutil.copy2(pn_dist / "panel.min.js", vp / "panel.min.js")
    for d in ("css", "assets", "images", "bundled/reactiveesm", "bundled/theme", "bundled/css"):
        if (pn_dist / d).is_dir():
            shutil.copytree(pn_dist / d, vp / d, dirs_exist_ok=True)
    # anything else a page references (found in the pre-rendered documents)
    pat = re.compile(re.escape(f"vendor/panel/{PANEL_VERSION}/dist/") + r"([^\"'\s)\\]+)")
    missing = set()
    for text in pages:
        for rel in pat.findall(text):
            rel = rel.split("?")[0]
            src = pn_dist / rel
            if not (vp / rel).exists():
                if src.is_file():
                    (vp / rel).parent.mkdir(parents=True, exist_ok=True)
                    shutil.copy2(src, vp / rel)
                else:
                    missing.add(rel)
    if missing:
        raise BuildError(f"pages reference Panel files that the installed panel lacks: {sorted(missing)}")
    ace = next((p.parent for p in vp.glob("bundled/aceplot/*/*/ace.js")), None)
    if ace is not None:
        _copy_ace_extras(pn_dist / ace.relative_to(vp), ace)


def ace_languages_and_themes():
    """The languages and themes of every CodeEditor in playground/ (read from the source)."""
    langs, themes = set(), set()
    for f in (ROOT / "playground").rglob("*.py"):
        for call in re.findall(r"CodeEditor\((.*?)\)", f.read_text(), re.S):
            langs.update(re.findall(r"language=[\"'](\w+)", call))
            themes.update(re.findall(r"theme=[\"'](\w+)", call) or [ACE_DEFAULT_THEME])
    return sorted(langs), sorted(themes)


def _copy_ace_extras(src: Path, dst: Path):
    langs, themes = ace_languages_and_themes()
    names = ([f"mode-{x}.js" for x in langs] + [f"snippets/{x}.js" for x in langs] +
             [f"theme-{x}.js" for x in themes] + ["ext-searchbox.js"])
    lacking = [n for n in names if not (src / n).is_file()]
    if lacking:
        raise BuildError(f"Ace files the code editors need are not in the installed panel: {lacking}")
    for n in names:
        (dst / n).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(src / n, dst / n)
