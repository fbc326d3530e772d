"""data_fetchers: the course's datasets, real (downloaded) or simulated (generated offline).

>>> from data_fetchers import fetch_haxby
>>> data = fetch_haxby(subject=2)  # doctest: +SKIP

Every fetcher takes ``source``: "real" (files in place, else a download), "simulated"
(a generated stand-in with known ground truth) or "auto" (real when present or
reachable, else simulated with a printed notice). Defaults come from the environment:

``MLNI_DATA``
    The data directory (default ``~/mlni_data``). Real data sit there at the layout of
    their archives; a folder prepared on a connected machine can be copied (even
    read-only) to offline machines. The layout is nilearn's, so a ``nilearn_data``
    folder holding these datasets works too.
``MLNI_DATA_SOURCE``
    The default ``source`` ("auto" when unset).
``MLNI_MIRROR``
    Base URL (``http://`` or ``https://``) of a local mirror of the archives (see
    :mod:`data_fetchers._registry`), e.g. a folder of archives served with
    ``python -m http.server``.

A misconfigured variable raises an error naming it. Downloads are bounded in time and
size; a full disk raises :class:`NoSpaceError` (``source="auto"`` then falls back to
simulated data); what a killed process left behind is removed by the next call.

Prefetch for a workshop: ``python -m data_fetchers download all --data-dir DIR``.
"""

from ._download import FetchError, NoSpaceError, UnsafeArchiveError
from .adhd import fetch_adhd
from .haxby import fetch_haxby
from .miyawaki import fetch_miyawaki2008

__all__ = [
    "FetchError",
    "NoSpaceError",
    "UnsafeArchiveError",
    "fetch_adhd",
    "fetch_haxby",
    "fetch_miyawaki2008",
]
