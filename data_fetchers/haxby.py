"""The Haxby et al. 2001 dataset: ventral temporal responses to faces, houses and objects."""

from __future__ import annotations

import numbers
from pathlib import Path

from sklearn.utils import Bunch

from . import _registry
from ._download import install_archive, install_file
from ._paths import get_size, get_source, simulated_root
from ._source import Dataset, resolve

T_R = _registry.HAXBY_T_R
TITLE = "Haxby et al. (2001), faces and objects"
DESCRIPTION = """\
Haxby et al. (2001), Science 293:2425. Six subjects viewed grey-scale pictures of eight
categories (bottle, cat, chair, face, house, scissors, scrambled picture, shoe) in
blocks, in 12 runs of 121 volumes (TR 2.5 s, voxels 3.5 x 3.75 x 3.75 mm). labels.txt
gives one row per volume: the category ("rest" between blocks) and the run ("chunks").
Masks: ventral temporal cortex (mask4_vt) and face- / house-selective voxels (mask8b_*,
and the smaller mask8_* "little" masks, which lie inside them). Distributed by PyMVPA, CC-BY-SA 3.0.
"""


def check_subject(subject) -> int:
    """Validate a Haxby subject number (an integer from 1 to 6)."""
    if isinstance(subject, bool) or not isinstance(subject, numbers.Integral):
        raise TypeError(
            f"'subject' must be an integer from 1 to 6. Got {type(subject).__name__}: {subject!r}."
        )
    if int(subject) not in _registry.HAXBY_SUBJECTS:
        raise ValueError(f"'subject' must be an integer from 1 to 6. Got {subject!r}.")
    return int(subject)


def subject_files(subject) -> list:
    """The files of one subject's folder (no anat.nii.gz for subject 6)."""
    return [f for f in _registry.HAXBY_FILES if not (subject == 6 and f == "anat.nii.gz")]


def is_present(data_dir, subject) -> bool:
    """Whether the real files of ``subject`` and the whole-brain mask are in ``data_dir``."""
    folder = Path(data_dir) / "haxby2001"
    files = [f"subj{subject}/{name}" for name in subject_files(subject)] + ["mask.nii.gz"]
    return all((folder / name).is_file() for name in files)


def download(data_dir, subject, *, verbose=1) -> None:
    """Download what is missing of the real data of ``subject`` into ``data_dir``."""
    folder = Path(data_dir) / "haxby2001"
    subject_dir = folder / f"subj{subject}"
    files = subject_files(subject)
    if not all((subject_dir / name).is_file() for name in files):
        install_archive(
            _registry.haxby_archive(subject),
            subject_dir,
            files,
            data_dir=data_dir,
            verbose=verbose,
        )
    if not (folder / "mask.nii.gz").is_file():
        install_file(
            _registry.haxby_mask(), folder / "mask.nii.gz", data_dir=data_dir, verbose=verbose
        )


def make_bunch(root, subject, *, source, ground_truth=None) -> Bunch:
    """The fetcher's Bunch for the dataset stored under ``root / "haxby2001"``."""
    folder = Path(root) / "haxby2001"
    subject_dir = folder / f"subj{subject}"
    return Bunch(
        title=TITLE,
        func=[str(subject_dir / "bold.nii.gz")],
        session_target=str(subject_dir / "labels.txt"),
        mask=str(folder / "mask.nii.gz"),
        **{key: str(subject_dir / name) for key, name in _registry.HAXBY_MASKS.items()},
        anat=None if subject == 6 else str(subject_dir / "anat.nii.gz"),
        t_r=T_R,
        description=DESCRIPTION,
        source=source,
        ground_truth=ground_truth,
    )


def fetch_haxby(subject=2, *, data_dir=None, source=None, size=None, verbose=1) -> Bunch:
    """Fetch one subject of the Haxby 2001 dataset, real or simulated.

    Parameters
    ----------
    subject : int, default=2
        The subject, from 1 to 6 (subject 6 has no anatomical image).
    data_dir : str or pathlib.Path, optional
        The data directory (default ``$MLNI_DATA`` or ``~/mlni_data``).
    source : {"auto", "real", "simulated"}, optional
        Where the data come from (default ``$MLNI_DATA_SOURCE`` or "auto"): see
        :mod:`data_fetchers`. The real archive is about 290 MB per subject, checked
        against its published MD5 checksum.
    size : {"small", "full"}, optional
        Size of the simulated stand-in ("full" has the real dimensions; default
        ``$MLNI_SIZE`` or "small"). Ignored for real data.
    verbose : int, default=1
        0 is silent; 1 prints progress.

    Returns
    -------
    sklearn.utils.Bunch
        ``func`` (list with the 4D BOLD path), ``session_target`` (labels.txt), ``mask``
        (whole brain), ``mask_vt``, ``mask_face``, ``mask_house``, ``mask_face_little``,
        ``mask_house_little``, ``anat`` (None for subject 6), ``t_r`` (2.5),
        ``title``, ``description``, ``source`` ("real" or "simulated") and ``ground_truth`` (the
        planted effects of simulated data, else None). Paths are ``str``.
    """
    subject = check_subject(subject)
    size = get_size(size)
    source = get_source(source)

    def simulate():
        from .simulate import haxby as simulated

        root = simulated_root(data_dir, size)
        truth = simulated.ensure(root, subject=subject, size=size, verbose=verbose)
        return root, truth

    dataset = Dataset(
        title=f"Haxby 2001 (subject {subject})",
        command=f"haxby --subjects {subject}",
        urls=[
            _registry.url_of(_registry.haxby_archive(subject)),
            _registry.url_of(_registry.haxby_mask()),
        ],
        present=lambda path: is_present(path, subject),
        download=lambda path: download(path, subject, verbose=verbose),
        simulate=simulate,
    )
    root, used, truth = resolve(dataset, source=source, data_dir=data_dir)
    return make_bunch(root, subject, source=used, ground_truth=truth)
