"""Command line: prefetch the course's datasets, e.g. before a workshop.

Examples
--------
Download the real data on a connected machine, then copy the folder to offline ones::

    python -m data_fetchers download all --data-dir /shared/mlni_data
    python -m data_fetchers download haxby --subjects 1 2 3
    python -m data_fetchers download adhd --subjects 40

Generate the simulated stand-ins (no network needed)::

    python -m data_fetchers download all --source simulated --size full
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ._download import FetchError
from .adhd import fetch_adhd
from .haxby import fetch_haxby
from .miyawaki import fetch_miyawaki2008

DATASETS = ("haxby", "miyawaki", "adhd")


def _folder(text) -> str:
    """The ``--data-dir`` option: a non-empty path (an empty one would mean the current folder)."""
    if not text.strip():
        raise argparse.ArgumentTypeError(
            f"must be a folder path. Got {text!r} (an empty path would mean the current folder)"
        )
    if Path(text).expanduser().exists() and not Path(text).expanduser().is_dir():
        raise argparse.ArgumentTypeError(f"must be a folder, not a file. Got {text!r}")
    return text


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``python -m data_fetchers``."""
    parser = argparse.ArgumentParser(
        prog="python -m data_fetchers",
        description="Fetch the datasets of the course 'Machine learning for neuroimaging'.",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    down = commands.add_parser(
        "download",
        help="download (or generate) datasets into the data directory",
        description="Download the real datasets (or generate the simulated stand-ins).",
    )
    down.add_argument(
        "dataset", nargs="?", default="all", choices=(*DATASETS, "all"), help="default: all"
    )
    down.add_argument(
        "--source",
        default="real",
        choices=("real", "simulated", "auto"),
        help="real: download (default); simulated: generate stand-ins; auto: real if possible",
    )
    down.add_argument(
        "--size",
        default=None,
        choices=("small", "full"),
        help="size of simulated data (default: $MLNI_SIZE, else small)",
    )
    down.add_argument(
        "--data-dir", type=_folder, default=None, help="data directory (default: $MLNI_DATA)"
    )
    down.add_argument(
        "--subjects",
        type=int,
        nargs="+",
        default=None,
        metavar="N",
        help="haxby: subject numbers (default: 2); adhd: number of subjects (default: 10)",
    )
    down.add_argument("--quiet", action="store_true", help="no progress output")
    return parser


def _jobs(args):
    """(label, fetcher call) for each dataset to fetch."""
    options = dict(data_dir=args.data_dir, source=args.source, size=args.size)
    options["verbose"] = 0 if args.quiet else 1
    names = DATASETS if args.dataset == "all" else (args.dataset,)
    jobs = []
    for name in names:
        if name == "haxby":
            for subject in args.subjects or [2]:
                jobs.append((f"haxby subject {subject}", fetch_haxby, (subject,), options))
        elif name == "miyawaki":
            jobs.append(("miyawaki", fetch_miyawaki2008, (), options))
        else:
            subjects = args.subjects or [10]
            if len(subjects) != 1:
                raise ValueError(
                    f"'--subjects' for adhd must be one number (how many subjects). Got {subjects}."
                )
            jobs.append((f"adhd {subjects[0]} subjects", fetch_adhd, (subjects[0],), options))
    return jobs


def _location(bunch) -> str:
    """The dataset folder of a fetcher's Bunch (the ancestor named after the dataset)."""
    path = Path(bunch.func[0])
    for parent in path.parents:
        if parent.name in ("haxby2001", "miyawaki2008", "adhd"):
            return str(parent)
    return str(path.parent)


def main(argv=None) -> int:
    """Run the command line; return the exit code (0 on success, 1 on failure)."""
    args = build_parser().parse_args(argv)
    summary = []
    try:
        for label, fetcher, positional, options in _jobs(args):
            bunch = fetcher(*positional, **options)
            summary.append(f"  {label:<22} {bunch.source:<9} {_location(bunch)}")
    except (FetchError, ValueError, TypeError, OSError) as exc:
        first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        print(f"error: {first_line}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        return 130
    print("Datasets ready:")
    print("\n".join(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
