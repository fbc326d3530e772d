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
``MLNI_SIZE``
    The default ``size`` of the simulated stand-ins: ``"small"`` (default) or ``"full"``
    (the real dimensions; for timing the chapters at a realistic size).
``MLNI_MIRROR``
    The base URL (``http://`` or ``https://``) of a local mirror of the archives.

A misconfigured variable raises an error that names it and echoes its value.
"""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import urlsplit

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
    where = "'data_dir'"
    if data_dir is None:
        data_dir = os.environ.get("MLNI_DATA") or Path.home() / "mlni_data"
        where = "The environment variable MLNI_DATA"
    if not isinstance(data_dir, (str, os.PathLike)):
        raise TypeError(
            f"'data_dir' must be a path (str or pathlib.Path). Got {type(data_dir).__name__}: "
            f"{data_dir!r}."
        )
    if not str(data_dir).strip():
        raise ValueError(
            f"{where} must be a folder path. Got {str(data_dir)!r} (an empty path would mean "
            "the current folder)."
        )
    path = Path(data_dir).expanduser().resolve()
    existing = path
    while not existing.exists() and existing.parent != existing:
        existing = existing.parent
    if not existing.is_dir():
        inside = "" if existing == path else f" (inside the file {existing})"
        raise ValueError(
            f"{where} must be a folder, not a file. Got {str(data_dir)!r}{inside}. "
            "Point it to a folder (it is created when needed)."
        )
    return path


def get_mirror() -> str | None:
    """The base URL of the local mirror from ``$MLNI_MIRROR`` (None when unset or empty).

    Raises
    ------
    ValueError
        If the variable is not an ``http://`` or ``https://`` URL with a host.
    """
    mirror = os.environ.get("MLNI_MIRROR", "").strip()
    if not mirror:
        return None
    parts = urlsplit(mirror)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        if "://" not in mirror:
            advice = f" It has no scheme: did you mean 'http://{mirror}'?"
        elif parts.scheme == "file":
            advice = (
                " To use a folder of archives, serve it with `python -m http.server 8000 "
                "--directory FOLDER` and set MLNI_MIRROR=http://localhost:8000."
            )
        else:
            advice = ""
        raise ValueError(
            "The environment variable MLNI_MIRROR must be an http:// or https:// URL with a "
            f"host, e.g. http://192.168.1.10:8000. Got {mirror!r}.{advice}"
        )
    try:
        parts.port  # noqa: B018 (raises on a bad port)
    except ValueError as exc:
        raise ValueError(
            f"The environment variable MLNI_MIRROR has a bad port ({exc}). Got {mirror!r}."
        ) from exc
    return mirror


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
    return _choice(source, "source", "MLNI_DATA_SOURCE", SOURCES, "auto")


def check_size(size) -> str:
    """Validate the size of a simulated dataset (``"small"`` or ``"full"``)."""
    if size not in SIZES:
        raise ValueError(f"'size' must be one of {', '.join(map(repr, SIZES))}. Got {size!r}.")
    return size


def get_size(size=None) -> str:
    """Validate ``size``, falling back to ``$MLNI_SIZE`` then ``"small"``.

    Parameters
    ----------
    size : {"small", "full"}, optional
        The requested size of the simulated stand-ins. None means ``$MLNI_SIZE``, or
        ``"small"``.

    Returns
    -------
    str
        ``"small"`` or ``"full"``.
    """
    return _choice(size, "size", "MLNI_SIZE", SIZES, "small")


def _choice(value, name, variable, choices, default):
    """``value``, or ``$variable``, or ``default``; checked against ``choices``.

    The error names the parameter when ``value`` was given, else the environment variable.
    """
    where = f"'{name}'"
    if value is None:
        value = os.environ.get(variable) or default
        where = f"The environment variable {variable}"
    if value not in choices:
        raise ValueError(f"{where} must be one of {', '.join(map(repr, choices))}. Got {value!r}.")
    return value


def simulated_root(data_dir, size) -> Path:
    """Return the folder that holds the simulated stand-ins of a given ``size``."""
    return get_data_dir(data_dir) / "simulated" / check_size(size)
