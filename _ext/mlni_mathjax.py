"""Sphinx extension of the course book: formulas rendered by a local MathJax, no CDN.

Sphinx loads MathJax 3 from a CDN by default, so a room without internet would see
``\\(C\\)`` instead of formulas. This extension takes MathJax 3.2.2 from the Python package
``django-static-mathjax`` (JavaScript files only; installed by ``requirements.txt``; the name
says Django but the package is just MathJax's files), copies what the HTML pages need into
the built site's ``_static/mathjax/`` when the build finishes, and points ``mathjax_path``
there. Nothing of MathJax is committed to the repository.

Without the package the build warns and keeps Sphinx's CDN address.
"""

from __future__ import annotations

import importlib.util
import shutil
from pathlib import Path

from sphinx.util import logging

logger = logging.getLogger(__name__)

#: Where the copy goes, relative to the built site's ``_static`` folder.
TARGET = "mathjax"
#: The combined component the pages load (TeX and MathML input, HTML-CSS output).
ENTRY = "tex-mml-chtml.js"
#: What the entry point loads on demand: TeX extensions, fonts, menu, accessibility.
PARTS = ("input", "output/chtml", "output/chtml.js", "ui", "a11y", "sre", "adaptors")


def mathjax_folder():
    """The folder of MathJax's ``es5`` build in the installed package, or None."""
    spec = importlib.util.find_spec("mathjax")
    if spec is None or not spec.submodule_search_locations:
        return None
    package = Path(next(iter(spec.submodule_search_locations)))
    folder = package / "static" / "mathjax" / "es5"
    return folder if (folder / ENTRY).is_file() else None


def copy_mathjax(source, static_dir) -> Path:
    """Copy the entry point, what it loads and MathJax's licence into ``static_dir/mathjax``."""
    source, target = Path(source), Path(static_dir) / TARGET
    target.mkdir(parents=True, exist_ok=True)
    shutil.copy2(source / ENTRY, target / ENTRY)
    for part in PARTS:
        if (source / part).is_dir():
            shutil.copytree(source / part, target / part, dirs_exist_ok=True)
        elif (source / part).is_file():
            (target / part).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source / part, target / part)
    licence = source.parent / "LICENSE"
    if licence.is_file():
        shutil.copy2(licence, target / "LICENSE")
    return target


def _use_local_mathjax(app, config):
    folder = mathjax_folder()
    if folder is None:
        logger.warning(
            "mlni_mathjax: the package django-static-mathjax is not installed, so the site "
            "loads MathJax from a CDN and shows no formulas offline; run "
            "`pip install -r requirements.txt`."
        )
        return
    config.mathjax_path = f"{TARGET}/{ENTRY}"
    app.mlni_mathjax_folder = folder


def _copy_after_build(app, exception):
    folder = getattr(app, "mlni_mathjax_folder", None)
    if exception is not None or folder is None or app.builder.format != "html":
        return
    target = copy_mathjax(folder, Path(app.outdir) / "_static")
    logger.info(f"mlni_mathjax: MathJax copied to {target}")


def setup(app):
    app.connect("config-inited", _use_local_mathjax)
    app.connect("build-finished", _copy_after_build)
    return {"version": "0.1", "parallel_read_safe": True, "parallel_write_safe": True}
