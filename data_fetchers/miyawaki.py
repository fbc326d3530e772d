"""The Miyawaki et al. 2008 dataset: visual cortex responses to 10 x 10 binary images."""

from __future__ import annotations

from pathlib import Path

from sklearn.utils import Bunch

from . import _registry
from ._download import install_archive
from ._paths import get_size, get_source, simulated_root
from ._source import Dataset, resolve

TITLE = "Miyawaki et al. (2008), visual image reconstruction"
_N_RANDOM = sum(kind == "random" for kind, _ in _registry.MIYAWAKI_RUNS)
_N_FIGURE = len(_registry.MIYAWAKI_RUNS) - _N_RANDOM
DESCRIPTION = f"""\
Miyawaki et al. (2008), Neuron 60:915. One subject viewed 10 x 10 binary images (checkerboard
patches), TR {_registry.MIYAWAKI_T_R:g} s: {_N_RANDOM} runs of random images
({_registry.MIYAWAKI_N_SCANS} volumes each; each image shown for 6 s, then 6 s of rest; usually
for training) and {_N_FIGURE} runs of geometric figures and letters (for testing). Each label csv
has one row per volume with 100 comma-separated pixels (0/1; -1 during rest), reshaped (10, 10)
in Fortran order. mask/mask.nii.gz is the visual-cortex mask
({_registry.MIYAWAKI_N_MASK_VOXELS} voxels); 38 ROI masks give retinotopic areas (V1d ... VP)
and eccentricity bands (lag) per hemisphere; bg.nii.gz is a background.
"""


def func_files() -> list:
    """Relative paths of the 32 BOLD runs: 12 figure runs, then 20 random runs."""
    return [f"func/{_registry.miyawaki_run_stem(*run)}.nii.gz" for run in _registry.MIYAWAKI_RUNS]


def label_files() -> list:
    """Relative paths of the 32 label tables, in the order of :func:`func_files`."""
    return [
        f"label/{_registry.miyawaki_run_stem(*run)}_label.csv" for run in _registry.MIYAWAKI_RUNS
    ]


def roi_files() -> list:
    """Relative paths of the 38 ROI masks."""
    return [f"mask/{name}.nii.gz" for name in _registry.MIYAWAKI_ROI_NAMES]


def all_files() -> list:
    """Every file of the dataset, relative to its ``miyawaki2008`` folder."""
    return func_files() + label_files() + ["mask/mask.nii.gz"] + roi_files() + ["bg.nii.gz"]


def is_present(data_dir) -> bool:
    """Whether all real files are in ``data_dir / "miyawaki2008"``."""
    folder = Path(data_dir) / "miyawaki2008"
    return all((folder / name).is_file() for name in all_files())


def download(data_dir, *, verbose=1) -> None:
    """Download and unpack the real archive into ``data_dir / "miyawaki2008"``."""
    install_archive(
        _registry.miyawaki_archive(),
        Path(data_dir) / "miyawaki2008",
        all_files(),
        data_dir=data_dir,
        verbose=verbose,
    )


def make_bunch(root, *, source, ground_truth=None) -> Bunch:
    """The fetcher's Bunch for the dataset stored under ``root / "miyawaki2008"``."""
    folder = Path(root) / "miyawaki2008"
    return Bunch(
        title=TITLE,
        func=[str(folder / name) for name in func_files()],
        label=[str(folder / name) for name in label_files()],
        mask=str(folder / "mask" / "mask.nii.gz"),
        mask_roi=[str(folder / name) for name in roi_files()],
        background=str(folder / "bg.nii.gz"),
        description=DESCRIPTION,
        source=source,
        ground_truth=ground_truth,
    )


def fetch_miyawaki2008(*, data_dir=None, source=None, size=None, verbose=1) -> Bunch:
    """Fetch the Miyawaki 2008 dataset, real or simulated.

    Parameters
    ----------
    data_dir : str or pathlib.Path, optional
        The data directory (default ``$MLNI_DATA`` or ``~/mlni_data``).
    source : {"auto", "real", "simulated"}, optional
        Where the data come from (default ``$MLNI_DATA_SOURCE`` or "auto"): see
        :mod:`data_fetchers`. The real archive (about 160 MB) has no published checksum:
        the download is checked for its known size, a complete gzip stream, safe
        members and every expected file before it is put in place.
    size : {"small", "full"}, optional
        Size of the simulated stand-in ("full" has the real dimensions; default
        ``$MLNI_SIZE`` or "small"). Ignored for real data.
    verbose : int, default=1
        0 is silent; 1 prints progress.

    Returns
    -------
    sklearn.utils.Bunch
        ``func`` (32 paths: 12 figure runs then 20 random runs), ``label`` (32 csv paths,
        same order), ``mask``, ``mask_roi`` (38 paths), ``background``, ``title``, ``description``,
        ``source`` ("real" or "simulated") and ``ground_truth`` (the receptive fields
        planted in simulated data, else None). Paths are ``str``.
    """
    size = get_size(size)
    source = get_source(source)

    def simulate():
        from .simulate import miyawaki as simulated

        root = simulated_root(data_dir, size)
        return root, simulated.ensure(root, size=size, verbose=verbose)

    dataset = Dataset(
        title="Miyawaki 2008",
        command="miyawaki",
        urls=[_registry.url_of(_registry.miyawaki_archive())],
        present=is_present,
        download=lambda path: download(path, verbose=verbose),
        simulate=simulate,
    )
    root, used, truth = resolve(dataset, source=source, data_dir=data_dir)
    return make_bunch(root, source=used, ground_truth=truth)
