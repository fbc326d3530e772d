"""The pre-flight check a participant runs the day before a workshop: ``mlni-course check``.

Each check returns a :class:`Result`: a status (``ok``, ``warn`` or ``fail``), what was found,
and for anything but ``ok`` what to do about it. :func:`run_checks` runs them all and
:func:`report` turns the results into the text printed by the command, ending with a verdict.

The checks: Python and the versions of the course's dependencies, the imports the chapters
need, the data folder and what it holds (real or simulated, which datasets), the results
folder, free disk and memory, and a computation of a few seconds that decodes planted
data with the chapters' estimators (and compiles the searchlight's loop once for all).
"""

from __future__ import annotations

import importlib
import importlib.metadata
import importlib.util
import os
import re
import shutil
import sys
import textwrap
import time
from dataclasses import dataclass
from pathlib import Path

#: Statuses, from best to worst.
STATUSES = ("ok", "warn", "fail")

#: Memory one chapter needs at most (the chapters' budget), in GB.
CHAPTER_MEMORY_GB = 1.5
#: Free disk needed besides the data: results, figures, caches of the tools, in GB.
WORK_DISK_GB = 0.5
#: Free disk the real datasets need (archives and unpacked files), in GB.
REAL_DATA_DISK_GB = 2.0
#: Above this many seconds, the computation check warns that the machine is slow.
SLOW_SECONDS = 40.0

#: The packages whose versions decide the results (compared with requirements.txt).
SCIENCE_PACKAGES = (
    "numpy", "scipy", "scikit-learn", "nibabel", "nilearn", "matplotlib", "pandas", "joblib",
    "numba",
)
#: Modules the chapters import, and modules of the local route (JupyterLab with MyST).
CHAPTER_MODULES = (
    "mlni", "data_fetchers", "mlni_course", "numpy", "scipy", "sklearn", "nibabel", "nilearn",
    "matplotlib", "pandas", "ipywidgets", "requests", "tqdm", "numba",
)
LAB_MODULES = ("jupyterlab", "jupyterlab_myst", "ipykernel")

INSTALL = "in a copy of the repository, run `pip install -r requirements.txt`"
REPOSITORY = Path(__file__).resolve().parents[1]


@dataclass
class Result:
    """The outcome of one check.

    Attributes
    ----------
    name : str
        What was checked, e.g. "scikit-learn".
    status : {"ok", "warn", "fail"}
    detail : str
        What was found.
    fix : str
        What to do about it (empty when the status is "ok").
    """

    name: str
    status: str
    detail: str
    fix: str = ""

    def __post_init__(self):
        if self.status not in STATUSES:
            raise ValueError(f"'status' must be one of {STATUSES}. Got {self.status!r}.")


def _version_tuple(version) -> tuple:
    return tuple(int(part) for part in re.findall(r"\d+", version.split("+")[0])[:3])


def _installed(distribution):
    try:
        return importlib.metadata.version(distribution)
    except importlib.metadata.PackageNotFoundError:
        return None


def declared_floors(distribution="mlni-course") -> dict:
    """``{package: floor}`` of the ``>=`` requirements of the installed course (no extras)."""
    try:
        requirements = importlib.metadata.requires(distribution) or []
    except importlib.metadata.PackageNotFoundError:
        return {}
    floors = {}
    for line in requirements:
        if "extra ==" in line:
            continue
        match = re.match(r"^\s*([A-Za-z0-9_.-]+)(\[[^\]]*\])?\s*>=\s*([0-9][0-9.]*)", line)
        if match:
            floors[match[1].lower()] = match[3]
    return floors


def pinned_versions(path=None) -> dict:
    """``{package: version}`` of the exact pins in ``requirements.txt`` (empty if absent)."""
    path = Path(path) if path is not None else REPOSITORY / "requirements.txt"
    if not path.is_file():
        return {}
    pins = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        match = re.match(r"^\s*([A-Za-z0-9_.-]+)==([^\s;#]+)", line)
        if match:
            pins[match[1].lower().replace("_", "-")] = match[2]
    return pins


def check_python() -> Result:
    """The Python that runs the course (pip refuses to install the course below 3.10)."""
    version = ".".join(map(str, sys.version_info[:3]))
    return Result("Python", "ok", f"Python {version} ({sys.executable})")


def check_versions(floors=None, pins=None) -> list:
    """Each dependency installed at or above its floor; the science stack at the tested pins.

    scikit-learn below 1.8 fails whatever the floors say: the l1 model of chapter 5 would
    silently be an l2 model.
    """
    floors = declared_floors() if floors is None else floors
    pins = pinned_versions() if pins is None else pins
    floors = {**floors, "scikit-learn": max(floors.get("scikit-learn", "1.8"), "1.8",
                                            key=_version_tuple)}
    results = []
    for package in sorted(set(floors) | set(SCIENCE_PACKAGES)):
        installed = _installed(package)
        floor, pin = floors.get(package), pins.get(package)
        if installed is None:
            results.append(Result(package, "fail", "not installed", INSTALL))
        elif floor and _version_tuple(installed) < _version_tuple(floor):
            results.append(Result(package, "fail", f"{installed}, the course needs >= {floor}",
                                  INSTALL))
        elif pin and package in SCIENCE_PACKAGES and installed != pin:
            results.append(Result(
                package, "warn", f"{installed}, the course was tested with {pin}",
                f"results may differ slightly from the book's; {INSTALL} for the tested set",
            ))
        elif package in SCIENCE_PACKAGES:
            results.append(Result(package, "ok", installed))
    return results


def check_imports(modules=CHAPTER_MODULES, lab_modules=LAB_MODULES) -> list:
    """The modules the chapters import (fail) and those of JupyterLab with MyST (warn)."""
    results, broken, missing_lab = [], [], []
    for module in modules:
        try:
            importlib.import_module(module)
        except Exception as error:  # any import error is reported, not raised
            broken.append(f"{module} ({type(error).__name__}: {error})")
    for module in lab_modules:
        if importlib.util.find_spec(module) is None:
            missing_lab.append(module)
    if broken:
        results.append(Result("imports", "fail", "cannot import " + "; ".join(broken), INSTALL))
    else:
        results.append(Result("imports", "ok", f"{len(modules)} modules the chapters use"))
    if missing_lab:
        results.append(Result(
            "JupyterLab", "warn", "missing: " + ", ".join(missing_lab),
            f"needed to run the chapters on this machine with their boxes rendered; {INSTALL}",
        ))
    else:
        results.append(Result("JupyterLab", "ok", "JupyterLab with MyST rendering"))
    return results


def datasets_in(data_dir) -> dict:
    """What ``data_dir`` holds for each dataset of the course.

    Returns
    -------
    dict
        ``{title: kinds}`` where ``kinds`` lists "real", "simulated (small)" and
        "simulated (full)" for the versions present.
    """
    from data_fetchers import adhd, haxby, miyawaki
    from data_fetchers._paths import SIZES, simulated_root

    tests = {
        "Haxby 2001, subject 2": lambda root: haxby.is_present(root, 2),
        "Miyawaki 2008": miyawaki.is_present,
        "ADHD-200, 10 subjects": lambda root: adhd.is_present(root, adhd.subject_ids(10)),
    }
    found = {}
    for title, present in tests.items():
        kinds = ["real"] if present(data_dir) else []
        kinds += [f"simulated ({size})" for size in SIZES
                  if present(simulated_root(data_dir, size))]
        found[title] = kinds
    return found


def _data_servers_reachable() -> bool:
    from data_fetchers import _registry
    from data_fetchers._download import unreachable_hosts

    remotes = [_registry.haxby_archive(2), _registry.miyawaki_archive(), _registry.adhd_metadata()]
    return not unreachable_hosts([_registry.url_of(remote) for remote in remotes])


def check_data(data_dir=None, *, network=True) -> list:
    """The data folder: where, writable, which datasets it holds, and what the chapters will do."""
    from data_fetchers._atomic import is_writable
    from data_fetchers._paths import get_data_dir, get_source

    folder = get_data_dir(data_dir)
    try:
        source = get_source()
    except ValueError as error:
        return [Result("data source", "fail", str(error), "set MLNI_DATA_SOURCE to auto, real "
                       "or simulated, or unset it")]
    results = [Result("data source", "ok", f"MLNI_DATA_SOURCE={source}")]
    if not folder.exists():
        parent = next((p for p in folder.parents if p.exists()), Path(folder.anchor))
        writable = is_writable(parent)
    else:
        writable = is_writable(folder)
    found = datasets_in(folder) if folder.is_dir() else {}
    held = {title: kinds for title, kinds in found.items() if kinds}
    if not writable and len(held) < 3:
        results.append(Result(
            "data folder", "fail", f"{folder} cannot be written and lacks datasets",
            "set MLNI_DATA to a folder you can write to, or to a complete copy of the data",
        ))
    else:
        state = "exists" if folder.is_dir() else "does not exist yet (created on first use)"
        results.append(Result("data folder", "ok", f"{folder} {state}"
                              + ("" if writable else ", read-only")))
    missing_real = []
    for title in ("Haxby 2001, subject 2", "Miyawaki 2008", "ADHD-200, 10 subjects"):
        kinds = found.get(title, [])
        if "real" in kinds:
            results.append(Result(title, "ok", "real data in place"))
            continue
        missing_real.append(title)
        if kinds and source == "simulated":
            results.append(Result(title, "ok", ", ".join(kinds) + " in place"))
        elif kinds:
            results.append(Result(
                title, "warn", ", ".join(kinds) + " in place, no real data",
                "the chapters use the simulated stand-in unless the data servers answer; for "
                "the real data run `python -m data_fetchers download all` on a connected "
                "machine (or get the folder from your teacher) and set MLNI_DATA to it",
            ))
        else:
            results.append(Result(
                title, "warn", "nothing in place yet",
                "the first chapter that needs it downloads it (or, offline, generates the "
                "stand-in in under a minute); to be ready the day before run `python -m "
                "data_fetchers download all` (real) or add `--source simulated`",
            ))
    if missing_real and source != "simulated" and network:
        if _data_servers_reachable():
            results.append(Result("data servers", "ok", "reachable: missing real data can "
                                  "be downloaded (about 500 MB)"))
        else:
            results.append(Result(
                "data servers", "warn", "unreachable from here: the chapters will use the "
                "simulated stand-ins, and say so",
                "for the real data, copy a data folder prepared on a connected machine and "
                "set MLNI_DATA to it; otherwise nothing to do",
            ))
    return results


def check_results_dir() -> Result:
    """The folder where the chapters record their results can be written."""
    from data_fetchers._atomic import is_writable
    from mlni_course.records import results_dir

    folder = Path(results_dir())
    parent = next((p for p in (folder, *folder.parents) if p.exists()), Path(folder.anchor))
    if not is_writable(parent):
        return Result("results folder", "fail", f"{folder} cannot be written",
                      "set MLNI_RESULTS to a folder you can write to")
    return Result("results folder", "ok", str(folder))


def _memory_gb():
    """(total, available) memory in GB, or (None, None) when they cannot be read."""
    try:
        import psutil

        memory = psutil.virtual_memory()
        return memory.total / 1e9, memory.available / 1e9
    except ImportError:
        pass
    try:
        page = os.sysconf("SC_PAGE_SIZE")
        total = os.sysconf("SC_PHYS_PAGES") * page / 1e9
        available = os.sysconf("SC_AVPHYS_PAGES") * page / 1e9
        return total, available
    except (ValueError, OSError, AttributeError):
        return None, None


def check_memory(total=None, available=None) -> Result:
    """Enough memory for one chapter at a time (the chapters' budget is 1.5 GB)."""
    if total is None:
        total, available = _memory_gb()
    if total is None:
        return Result("memory", "warn", "could not be measured",
                      f"make sure {CHAPTER_MEMORY_GB} GB are free for the chapters")
    detail = f"{available:.1f} GB available of {total:.1f} GB"
    if total < CHAPTER_MEMORY_GB + 0.5:
        return Result("memory", "fail", detail, "use a machine with at least 2 GB of memory, "
                      "or the course on Binder or Colab")
    if available < CHAPTER_MEMORY_GB:
        return Result("memory", "warn", detail, f"a chapter needs up to {CHAPTER_MEMORY_GB} "
                      "GB: close other programs, run one notebook at a time")
    return Result("memory", "ok", detail)


def check_disk(data_dir=None, *, real_data_missing=True, free_gb=None) -> Result:
    """Free disk where the data go: the real data need about 2 GB, work files 0.5 GB."""
    from data_fetchers._paths import get_data_dir

    folder = get_data_dir(data_dir)
    if free_gb is None:
        existing = next((p for p in (folder, *folder.parents) if p.exists()), Path(folder.anchor))
        free_gb = shutil.disk_usage(existing).free / 1e9
    needed = WORK_DISK_GB + (REAL_DATA_DISK_GB if real_data_missing else 0.0)
    detail = f"{free_gb:.1f} GB free where the data go ({folder})"
    if free_gb < WORK_DISK_GB:
        return Result("disk", "fail", detail, f"free at least {needed:.1f} GB there, or set "
                      "MLNI_DATA to a folder on another disk")
    if free_gb < needed:
        return Result("disk", "warn", detail, f"the real data need about {needed:.1f} GB: "
                      "free some space or use the simulated stand-ins")
    return Result("disk", "ok", detail)


def computation(n_samples=216, n_features=50000, seed=0) -> dict:
    """Decode planted data with the chapters' estimators; return what the check looks at.

    An ANOVA + linear SVC pipeline cross-validated over 12 runs (chapter 3's decoder) on
    ``n_samples`` volumes of ``n_features`` voxels, of which 50 carry the class; then
    chapter 5's l1 logistic regression, which must be sparse; then chapter 4's whole-brain
    shrinkage-LDA searchlight on a small volume, which compiles its loop with numba the
    first time (numba keeps it on disk: the chapter does not wait for it).

    Returns
    -------
    dict
        ``accuracy`` (mean cross-validated accuracy), ``nonzero`` (share of non-zero l1
        weights), ``searchlight`` (mean searchlight accuracy of the spheres centred on the
        informative voxels) and ``seconds`` (wall time).
    """
    import nibabel as nib
    import numpy as np
    from sklearn.feature_selection import SelectKBest, f_classif
    from sklearn.model_selection import KFold, LeaveOneGroupOut, cross_val_score
    from sklearn.pipeline import make_pipeline
    from sklearn.svm import LinearSVC

    from mlni.miyawaki import make_classifier
    from mlni.searchlight import search_light

    start = time.perf_counter()
    rng = np.random.default_rng(seed)
    y = np.tile([0, 1], n_samples // 2)
    groups = np.repeat(np.arange(12), -(-n_samples // 12))[:n_samples]
    X = rng.standard_normal((n_samples, n_features))
    X[:, :50] += 0.8 * (2 * y[:, None] - 1)
    decoder = make_pipeline(SelectKBest(f_classif, k=500), LinearSVC(C=0.01))
    accuracy = cross_val_score(decoder, X, y, groups=groups, cv=LeaveOneGroupOut()).mean()
    l1 = make_classifier("l1_logistic", 0.05).fit(X[:, :5000], y)
    nonzero = float(np.mean(l1.coef_ != 0))
    # a 6 x 6 x 6 volume of 3 mm voxels whose first 20 voxels carry the class
    mask_img = nib.Nifti1Image(np.ones((6, 6, 6), np.uint8), np.diag([3.0, 3.0, 3.0, 1.0]))
    X_volume = rng.standard_normal((48, 216))
    y_volume = np.tile([0, 1], 24)
    X_volume[:, :20] += 0.8 * (2 * y_volume[:, None] - 1)
    scores = search_light(X_volume, y_volume, mask_img, radius=4.0, estimator="lda",
                          cv=KFold(4), progress=False)
    return {"accuracy": float(accuracy), "nonzero": nonzero,
            "searchlight": float(scores[:20].mean()), "seconds": time.perf_counter() - start}


def check_computation(**kwargs) -> Result:
    """Run :func:`computation` (2 seconds on 2 cores, 4 the first time) and judge it."""
    try:
        outcome = computation(**kwargs)
    except Exception as error:  # report any failure of the stack, with its type
        return Result("computation", "fail", f"{type(error).__name__}: {error}", INSTALL)
    detail = (f"decoding accuracy {outcome['accuracy']:.2f} on planted data, l1 model with "
              f"{outcome['nonzero']:.1%} non-zero weights, LDA searchlight accuracy "
              f"{outcome['searchlight']:.2f} on the planted voxels, in "
              f"{outcome['seconds']:.1f} s")
    if outcome["accuracy"] < 0.9 or outcome["nonzero"] > 0.2 or outcome["searchlight"] < 0.8:
        return Result("computation", "fail", detail, "the numerical libraries give wrong "
                      f"results: {INSTALL} in a fresh virtual environment")
    if outcome["seconds"] > SLOW_SECONDS:
        return Result("computation", "warn", detail, "this machine is slow: chapters will "
                      "take several minutes each; consider Binder, Colab or a JupyterHub")
    return Result("computation", "ok", detail)


def run_checks(data_dir=None, *, network=True, compute=True) -> list:
    """Run every check and return the list of :class:`Result`."""
    results = [check_python(), *check_versions(), *check_imports()]
    imports_ok = all(r.status != "fail" for r in results if r.name == "imports")
    if not imports_ok:
        return results
    data = check_data(data_dir, network=network)
    results += data
    real_missing = any(r.status != "ok" or "real" not in r.detail for r in data
                       if r.name.startswith(("Haxby", "Miyawaki", "ADHD")))
    results += [check_results_dir(), check_disk(data_dir, real_data_missing=real_missing),
                check_memory()]
    if compute:
        results.append(check_computation())
    return results


def verdict(results) -> tuple:
    """``(worst status, one-line verdict)`` of a list of results."""
    failures = sum(r.status == "fail" for r in results)
    warnings = sum(r.status == "warn" for r in results)
    if failures:
        return "fail", (f"NOT READY: {failures} problem(s) to fix (lines marked FAIL), "
                        f"{warnings} warning(s).")
    if warnings:
        return "warn", (f"READY, with {warnings} warning(s): read the lines marked warn; "
                        "the course runs as it is.")
    return "ok", "READY: everything the course needs is in place."


def report(results) -> str:
    """The text printed by ``mlni-course check``."""
    labels = {"ok": "  ok", "warn": "warn", "fail": "FAIL"}
    width = max(len(r.name) for r in results)
    lines = ["mlni-course check: is this machine ready for the course?", ""]
    for result in results:
        lines.append(f"[{labels[result.status]}] {result.name:<{width}}  {result.detail}")
        if result.fix:
            indent = " " * (width + 9)
            lines += textwrap.wrap(f"-> {result.fix}", 100, initial_indent=indent,
                                   subsequent_indent=indent + "   ", break_on_hyphens=False)
    lines += ["", verdict(results)[1]]
    return "\n".join(lines)

