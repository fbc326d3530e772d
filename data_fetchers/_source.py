"""Choosing between real and simulated data, the same way for every dataset.

The rules (``source`` argument of the fetchers, default ``$MLNI_DATA_SOURCE`` or "auto"):

- "simulated": generate (or reuse) the stand-in under ``simulated/<size>/``.
- "real": use the real files if they are all in place (no network access at all);
  otherwise download them; if the servers cannot be reached, fail at once with a
  message that says how to get the data.
- "auto": real files in place, else a download if the servers answer, else the
  simulated stand-in, announced by a framed notice.

A full disk or quota (while downloading or generating) raises
:class:`data_fetchers._download.NoSpaceError`, naming the folder and the space needed;
with "auto", a download that fails so falls back to the simulated stand-in.
"""

from __future__ import annotations

import textwrap
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from . import _download
from ._atomic import is_writable, sweep_tree
from ._download import FetchError, no_space_guard, unreachable_hosts
from ._paths import get_data_dir, get_source

# What a simulated stand-in takes on disk, when the fetcher does not say (measured: about
# 28 MB per dataset at size "small"; the "full" ones have the real dimensions).
SIMULATED_BYTES_GUESS = 30_000_000


@dataclass
class Dataset:
    """What the resolution needs to know about one dataset request.

    Attributes
    ----------
    title : str
        Human name, e.g. "Haxby 2001 (subject 2)".
    command : str
        Arguments of ``python -m data_fetchers download`` that fetch it.
    urls : list of str
        Every URL a download would use (for the reachability check).
    present : callable
        ``present(data_dir) -> bool``: are all real files in place?
    download : callable
        ``download(data_dir)``: download what is missing (raises FetchError).
    simulate : callable
        ``simulate() -> (root, ground_truth)``.
    simulated_bytes : int, optional
        About how much disk space the simulated stand-in takes (for the message of a
        full disk); default :data:`SIMULATED_BYTES_GUESS`.
    """

    title: str
    command: str
    urls: list
    present: Callable
    download: Callable
    simulate: Callable
    simulated_bytes: int | None = None


def how_to_get(dataset, data_dir) -> str:
    """The advice printed when the real data are not available."""
    return (
        "To work with the real data on a machine without internet access, either\n"
        f"  - run `python -m data_fetchers download {dataset.command} --data-dir DIR` on a "
        "connected machine, copy DIR here and set MLNI_DATA=DIR "
        f"(the data directory is now {data_dir}); or\n"
        "  - ask your teacher for a local mirror and set MLNI_MIRROR to its URL.\n"
        'Or pass source="simulated" (or set MLNI_DATA_SOURCE=simulated) to use the '
        "simulated stand-in."
    )


def _frame(paragraphs, width=76) -> str:
    lines = []
    for paragraph in paragraphs:
        lines.extend(
            textwrap.wrap(paragraph, width - 4, break_long_words=False, break_on_hyphens=False)
            or [""]
        )
    bar = "+" + "-" * (width - 2) + "+"
    return "\n".join([bar, *(f"| {line:<{width - 4}} |" for line in lines), bar])


def simulated_notice(dataset, reason, data_dir) -> str:
    """The framed notice printed when "auto" falls back to simulated data."""
    return _frame(
        [
            f"NOTICE: {dataset.title}: using SIMULATED data.",
            "",
            f"The real dataset is not in {data_dir} and could not be downloaded ({reason}).",
            "",
            "The simulated stand-in has the real file layout and a known ground truth "
            "(planted effects), so every step of the course runs; the numbers differ from "
            "the paper's.",
            "",
            "To get the real data: run `python -m data_fetchers download "
            f"{dataset.command}` on a connected machine and copy the data folder here "
            "(set MLNI_DATA to it), or set MLNI_MIRROR to a local mirror. "
            'source="simulated" silences this notice.',
        ]
    )


def _try_real(dataset, data_dir) -> tuple:
    """Download the real data; return ``(None, None)`` on success, else why and the error class.

    The class is :class:`FetchError` or, when the user must act first, the more specific
    :class:`~data_fetchers._download.NoSpaceError` or
    :class:`~data_fetchers._download.PartialCopyError`.
    """
    missing = unreachable_hosts(dataset.urls)
    if missing:
        return (
            f"cannot reach {', '.join(missing)} within {_download.NETWORK_TIMEOUT:g} s; "
            f"the network is checked again after {_download.UNREACHABLE_TTL:g} s, so once it "
            "is back (or the mirror is up) the same call downloads the data",
            FetchError,
        )
    if not is_writable(data_dir):
        return f"the data directory {data_dir} is not writable", FetchError
    try:
        dataset.download(data_dir)
    except (_download.PartialCopyError, _download.NoSpaceError) as exc:
        return str(exc).rstrip("."), type(exc)  # the message says what to do first
    except FetchError as exc:
        reason = f"{str(exc).rstrip('.')}. Nothing incomplete was kept; calling again retries"
        return reason, FetchError
    if not dataset.present(data_dir):
        return (
            f"files are missing in {data_dir} although their folders exist (an incomplete "
            "copy?); delete the incomplete folders and call again",
            FetchError,
        )
    return None, None


def _simulate(dataset, data_dir):
    """Generate (or reuse) the simulated stand-in; a full disk becomes a NoSpaceError."""
    folder = Path(data_dir) / "simulated"
    needed = dataset.simulated_bytes or SIMULATED_BYTES_GUESS
    with no_space_guard(folder, needed=needed, what=f"generate the simulated {dataset.title}"):
        root, truth = dataset.simulate()
    return Path(root), "simulated", truth


def resolve(dataset, *, source=None, data_dir=None) -> tuple:
    """Decide where the data come from, fetching or generating them if needed.

    Parameters
    ----------
    dataset : Dataset
        The request.
    source : {"auto", "real", "simulated"}, optional
        See the module docstring.
    data_dir : str or pathlib.Path, optional
        The data directory (default ``$MLNI_DATA`` or ``~/mlni_data``).

    Returns
    -------
    root : pathlib.Path
        The folder holding the dataset at its real layout (``root / "haxby2001"`` ...).
    source : str
        "real" or "simulated".
    ground_truth : sklearn.utils.Bunch or None
        The planted effects of simulated data, None for real data.
    """
    source = get_source(source)
    data_dir = get_data_dir(data_dir)
    if data_dir.is_dir() and is_writable(data_dir):
        sweep_tree(data_dir, depth=3)  # what processes killed midway left behind
    if source == "simulated":
        return _simulate(dataset, data_dir)
    if dataset.present(data_dir):
        return data_dir, "real", None
    reason, error = _try_real(dataset, data_dir)
    if reason is None:
        return data_dir, "real", None
    if source == "real":
        raise error(
            f"Cannot get the real {dataset.title} data: {reason}.\n" + how_to_get(dataset, data_dir)
        )
    print(simulated_notice(dataset, reason, data_dir), flush=True)
    return _simulate(dataset, data_dir)
