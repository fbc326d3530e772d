"""Sphinx extension of the course book.

It marks the build for the chapters' kernels, through this process's environment, which the
kernels that execute the notebooks inherit: ``MLNI_BOOK_BUILD=1`` (read by
``mlni_course.in_book_build``) and ``MLNI_WIDGETS=static``, with which ``mlni.widgets.explore``
draws pre-rendered, kernel-free figures instead of live ipywidgets (which need a running
kernel to do anything).

It also makes the kernels draw figures inline whatever ``MPLBACKEND`` says in the
environment that started the build: with a non-interactive backend such as ``Agg``,
``plt.show()`` would draw nothing and the chapters would lose their figures.

Finally it keeps the reproduction page current. That page only reads what the chapters
recorded, so its own source rarely changes and an incremental build would keep its old
output. Whenever Sphinx re-reads any other notebook (a chapter changed, so it re-executes and
records again), the reproduction page is re-read too; its notebook metadata
``"mystnb": {"execution_mode": "force"}`` then makes myst-nb execute it again instead of
reusing the jupyter-cache. The page is also moved to the end of the documents to read, so
that it runs after the chapters and reads their new records; reading stays serial for that.
"""

import os
from pathlib import Path

#: The page that collects the chapters' records.
REPRODUCTION_DOC = "chapters/10_reproduction"


def _is_notebook(env, docname):
    return Path(env.doc2path(docname)).suffix == ".ipynb"


def reread_reproduction(app, env, added, changed, removed):
    """``env-get-outdated`` handler: the reproduction page, when any other notebook is re-read.

    Returns
    -------
    list of str
        ``[REPRODUCTION_DOC]`` when a notebook other than it was added or changed (and it is
        part of the book), else an empty list.
    """
    if REPRODUCTION_DOC not in env.found_docs or REPRODUCTION_DOC in added | changed:
        return []
    if any(name != REPRODUCTION_DOC and _is_notebook(env, name) for name in added | changed):
        return [REPRODUCTION_DOC]
    return []


def read_reproduction_last(app, env, docnames):
    """``env-before-read-docs`` handler: move the reproduction page to the end of ``docnames``."""
    if REPRODUCTION_DOC in docnames:
        docnames.remove(REPRODUCTION_DOC)
        docnames.append(REPRODUCTION_DOC)


def setup(app):
    os.environ["MLNI_BOOK_BUILD"] = "1"
    os.environ["MLNI_WIDGETS"] = "static"
    os.environ["MPLBACKEND"] = "module://matplotlib_inline.backend_inline"
    app.connect("env-get-outdated", reread_reproduction)
    app.connect("env-before-read-docs", read_reproduction_last)
    # Parallel reading would run the reproduction page alongside the chapters it reads.
    return {"version": "0.2", "parallel_read_safe": False, "parallel_write_safe": True}
