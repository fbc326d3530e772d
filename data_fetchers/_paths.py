"""Where the course keeps its data, and which source (real or simulated) it reads.

Two environment variables steer every fetcher:

``MLNI_DATA``
    The data directory (default ``~/mlni_data``). Real datasets unpack there at the
    layout of their archives (``haxby2001/``, ``miyawaki2008/``, ``adhd/``); simulated
    stand-ins live apart under ``simulated/<size>/`` so they are never mistaken for
    real data.
``MLNI_DATA_SOURCE``
    The default ``source`` of the fetchers: ``"auto"`` (default), ``"real"`` or
    ``"simulated"``.
"""

from __future__ import annotations

import os
from pathlib import Path

SOURCES = ("auto", "real", "simulated")
SIZES = ("small", "full")


def get_data_dir(data_dir=None) -> Path:
    """Return the course's data directory as an absolute path.

    Parameters
    ----------
    data_dir : str or pathlib.Path, optional
        An explicit directory. When None, ``$MLNI_DATA`` is used, else ``~/mlni_data``.

    Returns
    -------
    pathlib.Path
        The directory (it is not created here: a read-only copy prepared by a teacher
        must stay usable).
    """
    if data_dir is None:
        data_dir = os.environ.get("MLNI_DATA") or Path.home() / "mlni_data"
    if not isinstance(data_dir, (str, os.PathLike)):
        raise TypeError(
            f"'data_dir' must be a path (str or pathlib.Path). Got {type(data_dir).__name__}: "
            f"{data_dir!r}."
        )
    return Path(data_dir).expanduser().resolve()


def get_source(source=None) -> str:
    """Validate ``source``, falling back to ``$MLNI_DATA_SOURCE`` then ``"auto"``.

    Parameters
    ----------
    source : {"auto", "real", "simulated"}, optional
        The requested source. None means ``$MLNI_DATA_SOURCE``, or ``"auto"``.

    Returns
    -------
    str
        One of ``"auto"``, ``"real"``, ``"simulated"``.
    """
    where = "'source'"
    if source is None:
        source = os.environ.get("MLNI_DATA_SOURCE") or "auto"
        where = "The environment variable MLNI_DATA_SOURCE"
    if source not in SOURCES:
        raise ValueError(f"{where} must be one of {', '.join(map(repr, SOURCES))}. Got {source!r}.")
    return source


def check_size(size) -> str:
    """Validate the size of a simulated dataset (``"small"`` or ``"full"``)."""
    if size not in SIZES:
        raise ValueError(f"'size' must be one of {', '.join(map(repr, SIZES))}. Got {size!r}.")
    return size


def simulated_root(data_dir, size) -> Path:
    """Return the folder that holds the simulated stand-ins of a given ``size``."""
    return get_data_dir(data_dir) / "simulated" / check_size(size)
