"""Keep the key numbers each chapter computes, for the book's reproduction page.

Each chapter calls :func:`record` for the numbers the paper also reports. They are kept in
one small JSON file per chapter under ``$MLNI_RESULTS`` (default ``~/.cache/mlni/results``),
written atomically, so the reproduction page can put this run's values next to the paper's.
"""

from __future__ import annotations

import json
import math
import os
import tempfile
import time
from numbers import Real
from pathlib import Path

__all__ = ["record", "record_figure", "load", "results_dir"]


def results_dir() -> Path:
    """The folder holding the recorded results (``$MLNI_RESULTS`` or ``~/.cache/mlni/results``)."""
    folder = os.environ.get("MLNI_RESULTS") or Path.home() / ".cache" / "mlni" / "results"
    return Path(folder).expanduser()


def _check_name(name, value) -> str:
    if not isinstance(value, str) or not value or not value.replace("_", "").isalnum():
        raise ValueError(
            f"'{name}' must be a non-empty name of letters, digits and underscores. Got {value!r}."
        )
    return value


def _check_value(value):
    if isinstance(value, bool) or not isinstance(value, (Real, str)):
        raise TypeError(f"'value' must be a number or a string. Got {type(value).__name__}.")
    if isinstance(value, Real):
        value = float(value)
        if not math.isfinite(value):
            raise ValueError(f"'value' must be a finite number. Got {value!r}.")
    return value


def record(chapter, key, value, *, paper=None, source):
    """Save one number computed by a chapter.

    Parameters
    ----------
    chapter : str
        The chapter's short name, e.g. ``"haxby_decoding"``.
    key : str
        The quantity, e.g. ``"accuracy_svc"`` or ``"table1_l1_logistic_C0.01"`` (dots allowed
        in a key).
    value : float or str
        What this run found.
    paper : str, optional
        What the paper reports for the same quantity, as it would be printed (``".63+-.11"``).
    source : {"real", "simulated"}
        Which data the value was computed on (``bunch.source``).

    Returns
    -------
    dict
        The stored entry.
    """
    _check_name("chapter", chapter)
    _check_name("key", key.replace(".", "_").replace("-", "_") if isinstance(key, str) else key)
    value = _check_value(value)
    if source not in ("real", "simulated"):
        raise ValueError(f"'source' must be 'real' or 'simulated'. Got {source!r}.")
    if paper is not None and not isinstance(paper, str):
        raise TypeError(f"'paper' must be a string or None. Got {type(paper).__name__}.")
    folder = results_dir()
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{chapter}.json"
    entries = load(chapter)
    entry = {"value": value, "paper": paper, "source": source, "time": time.time()}
    entries[key] = entry
    fd, tmp = tempfile.mkstemp(prefix=f".{chapter}.", suffix=".json", dir=folder)
    with os.fdopen(fd, "w") as stream:
        json.dump(entries, stream, indent=1, sort_keys=True)
    os.replace(tmp, path)
    return entry


def record_figure(chapter, key, fig, *, paper, source, dpi=70):
    """Save a small picture of a figure that reproduces one of the paper's figures.

    Parameters
    ----------
    chapter : str
        The chapter's short name, e.g. ``"searchlight"``.
    key : str
        A name for the figure, e.g. ``"figure2"``.
    fig : matplotlib.figure.Figure
        The figure, as the chapter shows it (it is not closed).
    paper : str
        Which figure of the paper it corresponds to, e.g. ``"Figure 2 (right)"``.
    source : {"real", "simulated"}
        Which data the figure was computed on.
    dpi : int, default=70
        Resolution of the saved thumbnail.

    Returns
    -------
    dict
        The stored entry; its ``value`` is the PNG file's path.
    """
    from matplotlib.figure import Figure

    if not isinstance(fig, Figure):
        raise TypeError(f"'fig' must be a matplotlib Figure. Got {type(fig).__name__}.")
    _check_name("chapter", chapter)
    _check_name("key", key)
    folder = results_dir() / "figures"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{chapter}-{key}.png"
    fd, tmp = tempfile.mkstemp(prefix=f".{chapter}-{key}.", suffix=".png", dir=folder)
    os.close(fd)
    fig.savefig(tmp, dpi=dpi, bbox_inches="tight")
    os.replace(tmp, path)
    return record(chapter, key, str(path), paper=paper, source=source)


def load(chapter=None):
    """Read recorded results.

    Parameters
    ----------
    chapter : str, optional
        One chapter's short name. When None, all chapters are read.

    Returns
    -------
    dict
        ``{key: entry}`` for one chapter, or ``{chapter: {key: entry}}`` for all. Missing
        files give empty dicts.
    """
    folder = results_dir()
    if chapter is not None:
        path = folder / f"{_check_name('chapter', chapter)}.json"
        return json.loads(path.read_text()) if path.is_file() else {}
    if not folder.is_dir():
        return {}
    return {path.stem: json.loads(path.read_text()) for path in sorted(folder.glob("*.json"))}
