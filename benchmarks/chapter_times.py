"""Time every chapter, and its peak memory, on the small or the full-size stand-ins.

The instructor page quotes this script's output: how long each chapter takes to run from top
to bottom in a fresh kernel, as a learner's "Run all" does, and how much memory its kernel
needs at its peak.

Usage::

    python benchmarks/chapter_times.py [--size small|full] [--data-dir DIR] [CHAPTER ...]

``--size full`` runs the chapters on the stand-ins of the real dimensions (``MLNI_SIZE=full``).
Each chapter runs in its own process with the book's settings (``MLNI_DATA_SOURCE=simulated``,
``MLNI_WIDGETS=static``); the data are generated first, and that time is reported apart, since
a workshop prepares them the day before. Chapters are named by their short names
(``haxby_decoding``, ``miyawaki_decoding``...: see :data:`mlni_course.chapters.CHAPTERS`), all
by default.
Not part of the test run.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def run_one(notebook, timeout):
    """Execute ``notebook`` in a fresh kernel; print its wall time and the kernel's peak memory.

    Runs in a child process of :func:`main`, so that ``RUSAGE_CHILDREN`` holds the kernel of
    this notebook alone (the kernel is a child of this process, waited for when it shuts down).
    """
    import nbformat
    from nbclient import NotebookClient

    book = nbformat.read(notebook, as_version=4)
    client = NotebookClient(book, timeout=timeout, kernel_name="python3",
                            resources={"metadata": {"path": str(Path(notebook).parent)}})
    start = time.perf_counter()
    client.execute()
    seconds = time.perf_counter() - start
    peak_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss  # kB on Linux
    print(json.dumps({"seconds": seconds, "peak_gb": peak_kb / 2**20}))


def prepare_data(env):
    """Generate the stand-ins the chapters read; return the time it took."""
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "data_fetchers", "download", "all", "--source",
                    "simulated", "--quiet"], env=env, check=True, cwd=ROOT)
    return time.perf_counter() - start


def main(argv=None):
    from mlni_course.chapters import CHAPTERS

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("chapters", nargs="*", metavar="CHAPTER",
                        help=f"short names among {', '.join(CHAPTERS)} (default: all)")
    parser.add_argument("--size", choices=("small", "full"), default="small")
    parser.add_argument("--data-dir", default=None,
                        help="data folder (default: $MLNI_DATA, else a temporary folder)")
    parser.add_argument("--timeout", type=int, default=3600, help="seconds per cell")
    parser.add_argument("--run-one", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.run_one:
        run_one(args.run_one, args.timeout)
        return
    unknown = [name for name in args.chapters if name not in CHAPTERS]
    if unknown:
        parser.error(f"unknown chapter(s) {unknown}; choose among {list(CHAPTERS)}")
    names = args.chapters or list(CHAPTERS)
    with tempfile.TemporaryDirectory(prefix="mlni-times-") as scratch:
        env = dict(os.environ, MLNI_SIZE=args.size, MLNI_DATA_SOURCE="simulated",
                   MLNI_WIDGETS="static", MLNI_RESULTS=str(Path(scratch) / "results"))
        env["MLNI_DATA"] = args.data_dir or env.get("MLNI_DATA") or str(Path(scratch) / "data")
        print(f"size={args.size} MLNI_DATA={env['MLNI_DATA']} cores={os.cpu_count()} "
              f"load={os.getloadavg()[0]:.2f}")
        print(f"{'generating the stand-ins':<28} {prepare_data(env):8.1f} s")
        print(f"{'chapter':<28} {'time (s)':>8} {'peak memory (GB)':>17} {'load':>5}")
        total, failed = 0.0, []
        for name in names:
            notebook = ROOT / "chapters" / f"{CHAPTERS[name]}.ipynb"
            done = subprocess.run(
                [sys.executable, __file__, "--run-one", str(notebook),
                 "--timeout", str(args.timeout)],
                env=env, cwd=notebook.parent, capture_output=True, text=True,
            )
            if done.returncode:
                # the error's own lines: the failing cell and the exception at its end
                lines = [line for line in done.stderr.splitlines() if line.strip()]
                print(f"{name:<28} FAILED\n    " + "\n    ".join(lines[-12:]), flush=True)
                failed.append(name)
                continue
            result = json.loads(done.stdout.strip().splitlines()[-1])
            total += result["seconds"]
            print(f"{name:<28} {result['seconds']:8.1f} {result['peak_gb']:17.2f} "
                  f"{os.getloadavg()[0]:5.2f}", flush=True)
        print(f"{'all chapters':<28} {total:8.1f}")
    if failed:
        sys.exit(f"{len(failed)} chapter(s) failed: {', '.join(failed)}")


if __name__ == "__main__":
    main()
