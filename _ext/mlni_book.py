"""Sphinx extension of the course book.

It marks the build for the chapters' kernels, through this process's environment, which the
kernels that execute the notebooks inherit: ``MLNI_BOOK_BUILD=1`` (read by
``mlni_course.in_book_build``) and ``MLNI_WIDGETS=static``, with which ``mlni.widgets.explore``
draws pre-rendered, kernel-free figures instead of live ipywidgets (which need a running
kernel to do anything).

It also makes the kernels draw figures inline whatever ``MPLBACKEND`` says in the
environment that started the build: with a non-interactive backend such as ``Agg``,
``plt.show()`` would draw nothing and the chapters would lose their figures.
"""

import os


def setup(app):
    os.environ["MLNI_BOOK_BUILD"] = "1"
    os.environ["MLNI_WIDGETS"] = "static"
    os.environ["MPLBACKEND"] = "module://matplotlib_inline.backend_inline"
    return {"version": "0.1", "parallel_read_safe": True, "parallel_write_safe": True}
