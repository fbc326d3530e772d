"""A hermetic test session, for the unit tests (``tests/``) and the chapters (``chapters/``).

This file sits at the root so that pytest reads it whichever paths it is given
(``python -m pytest``, ``pytest tests``, ``pytest chapters/03_haxby_decoding.ipynb``).
Before any test runs, and so before nbval starts the chapters' kernels (which inherit this
process's environment), it sets:

- ``MLNI_DATA`` and ``MLNI_RESULTS`` to folders of this session under the system's temporary
  folder, unless they are set already (set them to reuse the simulated data between runs):
  a test run never writes to ``~/mlni_data`` or ``~/.cache/mlni``;
- ``MLNI_DATA_SOURCE=simulated``: no test downloads the real datasets (500 MB);
- ``MLNI_SIZE=small``: the chapters run on the small stand-ins, whose outputs their checks
  describe (time the full-size ones with ``benchmarks/chapter_times.py``);
- ``MLNI_WIDGETS=static``: the chapters draw their pre-rendered sliders, as in the book.
"""

import os
import shutil
import tempfile

_CREATED = []


def pytest_configure(config):
    for variable, name in (("MLNI_DATA", "data"), ("MLNI_RESULTS", "results")):
        if not os.environ.get(variable):
            folder = tempfile.mkdtemp(prefix=f"mlni-test-{name}-")
            _CREATED.append(folder)
            os.environ[variable] = folder
    os.environ["MLNI_DATA_SOURCE"] = "simulated"
    os.environ["MLNI_SIZE"] = "small"
    os.environ["MLNI_WIDGETS"] = "static"


def pytest_unconfigure(config):
    while _CREATED:
        shutil.rmtree(_CREATED.pop(), ignore_errors=True)


def pytest_report_header(config):
    return (f"mlni: MLNI_DATA={os.environ.get('MLNI_DATA')} "
            f"MLNI_RESULTS={os.environ.get('MLNI_RESULTS')} MLNI_DATA_SOURCE=simulated "
            "MLNI_SIZE=small MLNI_WIDGETS=static")
