"""Is this code running inside the book build?"""

import os

__all__ = ["in_book_build"]


def in_book_build() -> bool:
    """Whether the code runs while the static book is being built.

    Returns
    -------
    bool
        True when ``MLNI_BOOK_BUILD`` is ``"1"``, which the book's Sphinx extension
        (``_ext/mlni_book.py``) sets for the kernels that execute the chapters.
    """
    return os.environ.get("MLNI_BOOK_BUILD") == "1"
