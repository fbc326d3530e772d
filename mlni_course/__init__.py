"""mlni_course: what exists only to run this book, apart from the science in ``mlni``.

Modules
-------
records   record, record_table, record_figure: results kept for the prose (glue) and the
          reproduction page; load, load_table to read them back
notices   show_source: the banner saying whether a page runs on real or simulated data
build     in_book_build: whether the code runs inside the book build
chapters  the chapters' short names and pages
paper     what the paper reports (Table 1), for comparison
claims    the paper's claims, each with the records it reads and the rule that judges it
verdicts  the rules applied to the recorded values: one verdict per claim
report    the reproduction page's tables, rules, figures and versions, as Markdown

Import direction: chapters -> mlni_course -> mlni, data_fetchers. No module of ``mlni``
imports this package.
"""

from mlni_course.build import in_book_build
from mlni_course.notices import show_source
from mlni_course.records import load, load_table, record, record_figure, record_table

__all__ = [
    "in_book_build",
    "load",
    "load_table",
    "record",
    "record_figure",
    "record_table",
    "show_source",
]
