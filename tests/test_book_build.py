"""The reproduction page stays current in an incremental book build.

A tiny book (the course's ``_ext``, a toy chapter that records a value, a toy reproduction
page that shows it) is built twice: after the toy chapter's value changes, the second,
incremental build must re-execute the reproduction page and show the new value.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

CONFIG = """\
title: tiny
only_build_toc_files: true
execute:
  execute_notebooks: cache
  timeout: 60
  raise_on_error: true
sphinx:
  local_extensions:
    mlni_book: _ext
  config:
    myst_heading_anchors: 3
"""

TOC = """\
format: jb-book
root: chapters/01_sklearn_concepts
chapters:
  - file: chapters/10_reproduction
"""

READ_VALUE = """\
from IPython.display import Markdown
from mlni_course import load
from mlni_course.report import section_link

entry = load("sklearn_concepts")["toy_value"]
Markdown(f"toy value = {entry['value']}, from {section_link('sklearn_concepts', entry['section'])}")
"""


def _notebook(cells, metadata=None):
    return {
        "cells": [{"cell_type": kind, "metadata": {}, "source": source,
                   **({"outputs": [], "execution_count": None} if kind == "code" else {})}
                  for kind, source in cells],
        "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3",
                                    "language": "python"}, **(metadata or {})},
        "nbformat": 4, "nbformat_minor": 5,
    }


def _write_chapter(book, value):
    record = (f"from mlni_course import record\nrecord('sklearn_concepts', 'toy_value', {value}, "
              "source='simulated', section='1-a-section')")
    notebook = _notebook([("markdown", "# Toy chapter\n\n## 1. A section"), ("code", record)])
    (book / "chapters" / "01_sklearn_concepts.ipynb").write_text(json.dumps(notebook))


def _make_book(book, repro_metadata):
    (book / "chapters").mkdir(parents=True)
    shutil.copytree(ROOT / "_ext", book / "_ext", ignore=shutil.ignore_patterns("__pycache__"))
    (book / "_config.yml").write_text(CONFIG)
    (book / "_toc.yml").write_text(TOC)
    _write_chapter(book, 3)
    repro = _notebook([("markdown", "# Toy reproduction"), ("code", READ_VALUE)],
                      repro_metadata)
    (book / "chapters" / "10_reproduction.ipynb").write_text(json.dumps(repro))


def _build(book, results):
    path = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
    env = {**os.environ, "PYTHONPATH": path, "MLNI_RESULTS": str(results)}
    command = [sys.executable, "-c", "from jupyter_book.cli.main import main; main()",
               "build", str(book)]
    done = subprocess.run(command,
                          env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return (book / "_build" / "html" / "chapters" / "10_reproduction.html").read_text()


@pytest.mark.slow
def test_reproduction_page_follows_a_changed_chapter(tmp_path):
    book = tmp_path / "book"
    repro_metadata = json.loads((ROOT / "chapters" / "10_reproduction.ipynb").read_text())[
        "metadata"]["mystnb"]
    assert repro_metadata["execution_mode"] == "force"
    _make_book(book, {"mystnb": repro_metadata})
    first = _build(book, tmp_path / "results")
    assert "toy value = 3" in first
    # the section link resolves to the chapter's heading (Sphinx drops the number from the id)
    assert '<a class="reference internal" href="01_sklearn_concepts.html#a-section">' in first
    _write_chapter(book, 4)
    second = _build(book, tmp_path / "results")
    assert "toy value = 4" in second and "toy value = 3" not in second


def _extension():
    import importlib.util

    spec = importlib.util.spec_from_file_location("mlni_book", ROOT / "_ext" / "mlni_book.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class _Env:
    """The two things the handlers use of a Sphinx build environment."""

    found_docs = {"chapters/index", "chapters/04_searchlight", "chapters/10_reproduction",
                  "chapters/contributing"}

    def doc2path(self, docname):
        return f"/book/{docname}.{'md' if docname.endswith(('index', 'contributing')) else 'ipynb'}"


@pytest.mark.parametrize(("added", "changed", "expected"), [
    (set(), {"chapters/04_searchlight"}, ["chapters/10_reproduction"]),
    ({"chapters/04_searchlight"}, set(), ["chapters/10_reproduction"]),
    (set(), {"chapters/contributing"}, []),            # a Markdown page records nothing
    (set(), {"chapters/10_reproduction"}, []),         # already re-read
    (set(), set(), []),
])
def test_reread_reproduction(added, changed, expected):
    assert _extension().reread_reproduction(None, _Env(), added, changed, set()) == expected


def test_reproduction_is_read_last():
    docnames = ["chapters/04_searchlight", "chapters/10_reproduction", "chapters/contributing"]
    _extension().read_reproduction_last(None, _Env(), docnames)
    assert docnames == ["chapters/04_searchlight", "chapters/contributing",
                        "chapters/10_reproduction"]
