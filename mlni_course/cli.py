"""The ``mlni-course`` command.

Examples
--------
The day before a workshop, on each participant's machine::

    mlni-course check
    mlni-course check --data-dir /media/usb/mlni_data --no-network

Student copies of the chapters (no solutions, no answers), for a classroom::

    mlni-course student out/

After changing the repository URL in ``_config.yml``, rewrite the Colab cells::

    mlni-course colab-cells
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

REPOSITORY = Path(__file__).resolve().parents[1]


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``mlni-course``."""
    parser = argparse.ArgumentParser(
        prog="mlni-course",
        description="Tools for the course 'Machine learning for neuroimaging with scikit-learn'.",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    check = commands.add_parser(
        "check",
        help="pre-flight check of this machine (versions, data, disk, memory, a computation)",
        description="Check that this machine is ready for the course; exit status 1 if not.",
    )
    check.add_argument("--data-dir", default=None, help="data folder (default: $MLNI_DATA)")
    check.add_argument("--no-network", action="store_true",
                       help="do not probe the data servers")
    check.add_argument("--no-compute", action="store_true",
                       help="skip the computation (a few seconds)")
    student = commands.add_parser(
        "student",
        help="write copies of the chapters without solutions and answers",
        description="Write student copies of the chapters: exercises left to fill in.",
    )
    student.add_argument("out_dir", help="folder to write the copies into")
    student.add_argument("--chapters-dir", default=str(REPOSITORY / "chapters"),
                         help="folder of the chapters (default: the repository's chapters/)")
    colab = commands.add_parser(
        "colab-cells",
        help="rewrite the Colab setup cell of every chapter from _config.yml's repository URL",
        description="Rewrite (or with --check, compare) the Colab setup cells.",
    )
    colab.add_argument("--check", action="store_true",
                       help="only report the notebooks whose cell differs (exit status 1)")
    colab.add_argument("--book-dir", default=str(REPOSITORY),
                       help="folder of _config.yml and chapters/ (default: the repository)")
    return parser


def _check(args) -> int:
    from mlni_course.check import report, run_checks, verdict

    results = run_checks(args.data_dir, network=not args.no_network,
                         compute=not args.no_compute)
    print(report(results))
    return 1 if verdict(results)[0] == "fail" else 0


def _student(args) -> int:
    from mlni_course.student import write_student_copies

    written = write_student_copies(args.chapters_dir, args.out_dir)
    for path in written:
        print(path)
    print(f"{len(written)} student notebooks written to {args.out_dir}: solutions and answers "
          "removed, each exercise left as a cell that raises NotImplementedError.")
    return 0


def _colab_cells(args) -> int:
    from mlni_course.colab import sync_colab_cells

    changed = sync_colab_cells(args.book_dir, write=not args.check)
    if args.check:
        for path in changed:
            print(f"{path}: the Colab setup cell does not match _config.yml")
        return 1 if changed else 0
    print(f"{len(changed)} notebook(s) rewritten")
    return 0


def main(argv=None) -> int:
    """Run the command line; return the exit status."""
    args = build_parser().parse_args(argv)
    handlers = {"check": _check, "student": _student, "colab-cells": _colab_cells}
    try:
        return handlers[args.command](args)
    except (ValueError, FileNotFoundError) as error:
        print(f"mlni-course {args.command}: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
