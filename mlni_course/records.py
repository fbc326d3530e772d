"""What each chapter computes, kept for the prose (glue) and for the reproduction page.

A chapter records a result with one call, in a cell hidden from learners:

* :func:`record` keeps a number or a short text, with its type (an integer stays an integer)
  and its unit, and glues it so the prose can show it (``{glue:text}`key:.2f```);
* :func:`record_table` keeps a pandas DataFrame (Table 1, an ARI table, ...);
* :func:`record_figure` keeps a picture at print resolution, with the chapter section it comes
  from, for the reproduction page.

Nothing is printed and nothing is returned, so a record call never shows on a page. Each
chapter's records are one JSON file under ``$MLNI_RESULTS`` (default ``~/.cache/mlni/results``),
replaced atomically on every call; :func:`load` reads them back with their types.
"""

from __future__ import annotations

import json
import math
import os
import tempfile
from numbers import Integral, Real
from pathlib import Path

import numpy as np

from mlni_course.chapters import CHAPTERS

__all__ = ["load", "load_table", "record", "record_figure", "record_table", "results_dir"]

SOURCES = ("real", "simulated")
FIGURE_DPI = 150


def results_dir() -> Path:
    """The folder of the recorded results: ``$MLNI_RESULTS``, else ``~/.cache/mlni/results``."""
    folder = os.environ.get("MLNI_RESULTS") or Path.home() / ".cache" / "mlni" / "results"
    return Path(folder).expanduser()


def _check_chapter(chapter):
    if chapter not in CHAPTERS:
        raise ValueError(f"'chapter' must be one of {', '.join(CHAPTERS)}. Got {chapter!r}.")
    return chapter


def _check_key(key):
    if not isinstance(key, str) or not key or not key.replace("_", "").isalnum():
        raise ValueError(
            f"'key' must be a non-empty name of letters, digits and underscores. Got {key!r}."
        )
    return key


def _check_source(source):
    if source not in SOURCES:
        raise ValueError(f"'source' must be 'real' or 'simulated'. Got {source!r}.")
    return source


def _check_text(value, name):
    if value is not None and not isinstance(value, str):
        raise TypeError(f"'{name}' must be a string or None. Got {type(value).__name__}.")
    return value


def _check_labels(chapter, key, source, **texts):
    """Check what every record carries besides its value."""
    _check_chapter(chapter)
    _check_key(key)
    _check_source(source)
    for name, text in texts.items():
        _check_text(text, name)


def _plain(value, name="value"):
    """``value`` as a JSON-ready Python scalar, and its type name."""
    if isinstance(value, (bool, np.bool_)):
        return bool(value), "bool"
    if isinstance(value, (Integral, np.integer)):
        return int(value), "int"
    if isinstance(value, (Real, np.floating)):
        value = float(value)
        if not math.isfinite(value):
            raise ValueError(f"'{name}' must be a finite number. Got {value!r}.")
        return value, "float"
    if isinstance(value, str):
        return value, "str"
    raise TypeError(
        f"'{name}' must be a number, a bool or a string. Got {type(value).__name__}: {value!r}."
    )


def _path(chapter) -> Path:
    return results_dir() / f"{chapter}.json"


def _read(chapter) -> dict:
    path = _path(chapter)
    if not path.is_file():
        return {"chapter": chapter, "doc": CHAPTERS[chapter], "entries": {}}
    return json.loads(path.read_text())


def _write(chapter, key, entry) -> None:
    folder = results_dir()
    folder.mkdir(parents=True, exist_ok=True)
    content = _read(chapter)
    content["entries"][key] = entry
    fd, tmp = tempfile.mkstemp(prefix=f".{chapter}.", suffix=".json", dir=folder)
    try:
        with os.fdopen(fd, "w") as stream:
            json.dump(content, stream, indent=1, sort_keys=True)
        os.replace(tmp, _path(chapter))
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _glue(key, value) -> None:
    """Glue ``value`` under ``key`` for the page's prose when running in a kernel."""
    try:
        from IPython import get_ipython
    except ImportError:  # plain Python, no kernel: nothing to glue into
        return
    if get_ipython() is None:
        return
    from myst_nb import glue

    glue(key, value, display=False)


def record(chapter, key, value, *, source, unit=None, paper=None, section=None, glue=True):
    """Keep one value a chapter computed, and glue it for the chapter's prose.

    Parameters
    ----------
    chapter : str
        The chapter's short name, a key of :data:`mlni_course.chapters.CHAPTERS`
        (e.g. ``"haxby_decoding"``).
    key : str
        The quantity: letters, digits and underscores (e.g. ``"accuracy_anova_svc"``). It is
        also the glue name, so it must be unique within the chapter.
    value : int, float, bool or str
        What this run found. numpy scalars are accepted; integers stay integers.
    source : {"real", "simulated"}
        Which data the value was computed on (``bunch.source``).
    unit : str, optional
        What the number measures, e.g. ``"accuracy"``, ``"voxels"``, ``"s"``, ``"ARI"``.
    paper : str, optional
        What the paper says about the same quantity, in its own terms.
    section : str, optional
        The anchor (heading slug) of the chapter section that computed it, for links.
    glue : bool, default=True
        Also glue the value (myst-nb) so the prose can show it: ``{glue:text}`key:.2f```.

    Returns
    -------
    None
    """
    _check_labels(chapter, key, source, unit=unit, paper=paper, section=section)
    plain, kind = _plain(value)
    _write(chapter, key, {"kind": kind, "value": plain, "unit": unit, "paper": paper,
                          "section": section, "source": source})
    if glue:
        _glue(key, plain)


def record_table(chapter, key, table, *, source, unit=None, paper=None, section=None,
                 glue=True):
    """Keep a table a chapter computed (cells of numbers, bools or strings).

    Parameters
    ----------
    chapter, key, source, unit, paper, section
        As in :func:`record`.
    table : pandas.DataFrame
        Index and columns are kept as strings; cells keep their types.
    glue : bool, default=True
        Also glue the DataFrame, so the prose can show it with ``{glue:}`key```.

    Returns
    -------
    None
    """
    import pandas as pd

    _check_labels(chapter, key, source, unit=unit, paper=paper, section=section)
    if not isinstance(table, pd.DataFrame):
        raise TypeError(f"'table' must be a pandas DataFrame. Got {type(table).__name__}.")
    rows = [
        [_plain(cell, f"table[{row!r}, {col!r}]")[0]
         for col, cell in zip(table.columns, values, strict=True)]
        for row, values in zip(table.index, table.itertuples(index=False), strict=True)
    ]
    _write(chapter, key, {
        "kind": "table", "index": [str(i) for i in table.index],
        "columns": [str(c) for c in table.columns], "data": rows,
        "index_name": None if table.index.name is None else str(table.index.name),
        "unit": unit, "paper": paper, "section": section, "source": source,
    })
    if glue:
        _glue(key, table)


def record_figure(chapter, key, fig, *, source, paper, section, caption, dpi=FIGURE_DPI):
    """Keep a figure that redraws one of the paper's, at print resolution.

    Parameters
    ----------
    chapter, key, source
        As in :func:`record`.
    fig : matplotlib.figure.Figure
        The figure as the chapter shows it (it is not closed).
    paper : str
        The paper's figure it corresponds to, e.g. ``"Figure 2"``.
    section : str
        The anchor of the chapter section that computed it (the heading's slug, e.g.
        ``"a-whole-brain-searchlight"``), so the reproduction page can link to it.
    caption : str
        One or two sentences saying what is drawn.
    dpi : int, default=150
        Resolution of the saved PNG; at least 150.

    Returns
    -------
    None
    """
    from matplotlib.figure import Figure

    _check_chapter(chapter)
    _check_key(key)
    _check_source(source)
    if not isinstance(fig, Figure):
        raise TypeError(f"'fig' must be a matplotlib Figure. Got {type(fig).__name__}.")
    for name, text in (("paper", paper), ("section", section), ("caption", caption)):
        if not isinstance(text, str) or not text:
            raise ValueError(f"'{name}' must be a non-empty string. Got {text!r}.")
    if isinstance(dpi, bool) or not isinstance(dpi, Integral) or dpi < FIGURE_DPI:
        raise ValueError(f"'dpi' must be an integer of at least {FIGURE_DPI}. Got {dpi!r}.")
    folder = results_dir() / "figures"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{chapter}-{key}.png"
    fd, tmp = tempfile.mkstemp(prefix=f".{chapter}-{key}.", suffix=".png", dir=folder)
    os.close(fd)
    try:
        fig.savefig(tmp, dpi=int(dpi), bbox_inches="tight")
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    _write(chapter, key, {"kind": "figure", "path": str(path), "paper": paper,
                          "section": section, "caption": caption, "source": source,
                          "unit": None})


def load(chapter=None):
    """Read what the chapters recorded.

    Parameters
    ----------
    chapter : str, optional
        One chapter's short name; None reads every chapter.

    Returns
    -------
    dict
        For one chapter, ``{key: entry}``; for all, ``{chapter: {key: entry}}`` (chapters that
        recorded nothing are left out). Each entry has ``kind`` (``"int"``, ``"float"``,
        ``"bool"``, ``"str"``, ``"table"`` or ``"figure"``), ``source``, ``unit``, ``paper``,
        ``section`` and, by kind, ``value``; ``index``, ``columns``, ``data``; or ``path``,
        ``caption``.
    """
    if chapter is not None:
        return _read(_check_chapter(chapter))["entries"]
    return {name: entries for name in CHAPTERS if (entries := _read(name)["entries"])}


def load_table(entry):
    """The DataFrame of a ``"table"`` entry returned by :func:`load`.

    Parameters
    ----------
    entry : dict
        One entry of kind ``"table"``.

    Returns
    -------
    pandas.DataFrame
    """
    import pandas as pd

    if not isinstance(entry, dict) or entry.get("kind") != "table":
        raise ValueError(f"'entry' must be a recorded table (kind 'table'). Got {entry!r:.80}.")
    index = pd.Index(entry["index"], name=entry.get("index_name"))
    return pd.DataFrame(entry["data"], index=index, columns=entry["columns"])
