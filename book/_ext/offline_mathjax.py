"""Serve MathJax from the built book itself, so maths renders with no network at build or view time.

MathJax 3 comes from the `django-static-mathjax` package (a dependency in pyproject.toml): a plain copy of
MathJax's own distribution under the import name `mathjax`, usable without Django. `mathjax_path` in
_config.yml names the combined component to load (relative to `_static/`, so it starts with `mathjax/`);
after an HTML build this extension copies that component into `_static/mathjax/`, with the parts of MathJax
that it loads lazily (TeX extensions autoloaded by macros, the CHTML fonts, the context menu and its
accessibility tools) and MathJax's licence. The Sphinx/myst `mathjax3_config` applies unchanged.
"""
from __future__ import annotations

import importlib.util
import shutil
from pathlib import Path

from sphinx.application import Sphinx
from sphinx.errors import ExtensionError

STATIC_DIR = "mathjax"  # under _static/
# Loaded on demand by the combined components, relative to MathJax's es5/ folder.
LAZY = ("input/tex/extensions", "output/chtml/fonts/woff-v2", "ui", "a11y", "sre")


def mathjax_es5() -> Path:
    """MathJax's es5/ folder as installed by django-static-mathjax."""
    spec = importlib.util.find_spec("mathjax")
    roots = list(spec.submodule_search_locations or []) if spec else []
    for root in roots:
        es5 = Path(root) / "static" / "mathjax" / "es5"
        if (es5 / "startup.js").is_file():
            return es5
    raise ExtensionError("MathJax is not installed: the book serves its own copy from the "
                         "`django-static-mathjax` package (`pip install django-static-mathjax`, or `make install`)")


def _component(app: Sphinx) -> str:
    path = str(app.config.mathjax_path)
    if "://" in path or path.startswith("//") or not path.startswith(STATIC_DIR + "/"):
        raise ExtensionError(f"mathjax_path must name a MathJax component under _static/{STATIC_DIR}/ "
                             f"(e.g. {STATIC_DIR}/tex-mml-chtml.js), not {path!r}: the book renders offline")
    return path[len(STATIC_DIR) + 1:]


def check_config(app: Sphinx, config) -> None:
    component = _component(app)
    if not (mathjax_es5() / component).is_file():
        raise ExtensionError(f"mathjax_path: MathJax has no component {component!r}")


def copy_mathjax(app: Sphinx, exc: Exception | None) -> None:
    if exc is not None or app.builder.format != "html":
        return
    es5 = mathjax_es5()
    dest = Path(app.outdir) / "_static" / STATIC_DIR
    component = _component(app)
    (dest / component).parent.mkdir(parents=True, exist_ok=True)
    shutil.copy2(es5 / component, dest / component)
    for sub in LAZY:
        shutil.copytree(es5 / sub, dest / sub, dirs_exist_ok=True)
    shutil.copy2(es5.parent / "LICENSE", dest / "LICENSE")


def setup(app: Sphinx) -> dict:
    app.setup_extension("sphinx.ext.mathjax")
    app.connect("config-inited", check_config)
    app.connect("build-finished", copy_mathjax)
    return {"version": "1.0", "parallel_read_safe": True, "parallel_write_safe": True}
