"""The ADHD-200 resting-state sample of 40 subjects (preprocessed, MNI space)."""

from __future__ import annotations

import numbers
from pathlib import Path

from sklearn.utils import Bunch

from . import _registry
from ._download import install_archive, install_file
from ._paths import get_size, get_source, simulated_root
from ._source import Dataset, resolve

T_R = _registry.ADHD_T_R
N_MAX = len(_registry.ADHD_IDS)
TITLE = "ADHD-200 resting state (40-subject release)"
DESCRIPTION = """\
ADHD-200 resting-state sample (Milham et al. 2012), 40 subjects preprocessed and
registered to MNI space (3 mm voxels, 61 x 73 x 61, 176 volumes, TR 2.0 s). Each subject
has a BOLD file and a csv of confound regressors (csf, white matter, motion, CompCor).
The phenotypic table gives diagnosis, age, sex and motion summaries. The subjects come
in the order of Abraham et al. 2014 (its ten subjects first), then the others by id.
"""


def check_n_subjects(n_subjects) -> int:
    """Validate the number of ADHD subjects (an integer from 1 to 40)."""
    if isinstance(n_subjects, bool) or not isinstance(n_subjects, numbers.Integral):
        raise TypeError(
            f"'n_subjects' must be an integer from 1 to {N_MAX}. "
            f"Got {type(n_subjects).__name__}: {n_subjects!r}."
        )
    if not 1 <= int(n_subjects) <= N_MAX:
        raise ValueError(f"'n_subjects' must be an integer from 1 to {N_MAX}. Got {n_subjects!r}.")
    return int(n_subjects)


def subject_ids(n_subjects) -> list:
    """The first ``n_subjects`` ids in the course's order (the paper's ten first)."""
    return list(_registry.ADHD_IDS[: check_n_subjects(n_subjects)])


def _subject_files(subject_id) -> list:
    return list(_registry.adhd_subject_files(subject_id))


def is_present(data_dir, ids) -> bool:
    """Whether the phenotypic table and the files of every subject in ``ids`` are present."""
    folder = Path(data_dir) / "adhd"
    files = [f"data/{i}/{name}" for i in ids for name in _subject_files(i)]
    return all((folder / name).is_file() for name in [_registry.ADHD_PHENOTYPIC, *files])


def download(data_dir, ids, *, verbose=1) -> None:
    """Download what is missing of the real data of ``ids`` into ``data_dir / "adhd"``."""
    folder = Path(data_dir) / "adhd"
    table = folder / _registry.ADHD_PHENOTYPIC
    if not table.is_file():
        install_file(
            _registry.adhd_metadata(),
            table,
            data_dir=data_dir,
            member=_registry.ADHD_PHENOTYPIC,
            verbose=verbose,
        )
    for subject_id in ids:
        subject_dir = folder / "data" / subject_id
        files = _subject_files(subject_id)
        if not all((subject_dir / name).is_file() for name in files):
            install_archive(
                _registry.adhd_archive(subject_id),
                subject_dir,
                files,
                data_dir=data_dir,
                verbose=verbose,
            )


def make_bunch(root, ids, *, source, ground_truth=None) -> Bunch:
    """The fetcher's Bunch for the dataset stored under ``root / "adhd"``."""
    folder = Path(root) / "adhd"
    return Bunch(
        title=TITLE,
        func=[str(folder / "data" / i / _subject_files(i)[0]) for i in ids],
        confounds=[str(folder / "data" / i / _subject_files(i)[1]) for i in ids],
        phenotypic=str(folder / _registry.ADHD_PHENOTYPIC),
        subject_ids=list(ids),
        t_r=T_R,
        description=DESCRIPTION,
        source=source,
        ground_truth=ground_truth,
    )


def fetch_adhd(n_subjects=10, *, data_dir=None, source=None, size=None, verbose=1) -> Bunch:
    """Fetch resting-state data of the ADHD-200 sample, real or simulated.

    Parameters
    ----------
    n_subjects : int, default=10
        How many subjects, from 1 to 40. The first ten are the subjects of Abraham et al.
        2014, in the paper's order (3902469, 7774305, ...).
    data_dir : str or pathlib.Path, optional
        The data directory (default ``$MLNI_DATA`` or ``~/mlni_data``).
    source : {"auto", "real", "simulated"}, optional
        Where the data come from (default ``$MLNI_DATA_SOURCE`` or "auto"): see
        :mod:`data_fetchers`. The real archives (one per subject plus a metadata archive)
        have no published checksum: each download is checked for a complete gzip stream,
        safe members and the expected files.
    size : {"small", "full"}, optional
        Size of the simulated stand-in, both with the release's 3 mm voxels: "full" has the
        real grid and 176 volumes, "small" a slab of 23 axial slices and 100 volumes
        (default ``$MLNI_SIZE`` or "small"). Ignored for real data.
    verbose : int, default=1
        0 is silent; 1 prints progress.

    Returns
    -------
    sklearn.utils.Bunch
        ``func`` (BOLD paths), ``confounds`` (csv paths), ``phenotypic`` (csv path),
        ``subject_ids`` (str ids), ``t_r`` (2.0), ``title``, ``description``, ``source`` ("real" or
        "simulated") and ``ground_truth`` (the networks planted in simulated data, else
        None). Paths are ``str``.
    """
    ids = subject_ids(n_subjects)
    size = get_size(size)
    source = get_source(source)

    def simulate():
        from .simulate import adhd as simulated

        root = simulated_root(data_dir, size)
        return root, simulated.ensure(root, subject_ids=ids, size=size, verbose=verbose)

    remotes = [_registry.adhd_metadata()] + [_registry.adhd_archive(i) for i in ids]
    dataset = Dataset(
        title=f"ADHD-200 ({len(ids)} subjects)",
        command=f"adhd --subjects {len(ids)}",
        urls=[_registry.url_of(remote) for remote in remotes],
        present=lambda path: is_present(path, ids),
        download=lambda path: download(path, ids, verbose=verbose),
        simulate=simulate,
    )
    root, used, truth = resolve(dataset, source=source, data_dir=data_dir)
    return make_bunch(root, ids, source=used, ground_truth=truth)
