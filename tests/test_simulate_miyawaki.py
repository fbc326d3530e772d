"""Tests of the simulated Miyawaki 2008 dataset (data_fetchers.simulate.miyawaki)."""

import nibabel as nib
import numpy as np
import pytest

from data_fetchers.simulate import miyawaki


@pytest.fixture(scope="module")
def generated(tmp_path_factory):
    root = tmp_path_factory.mktemp("sim")
    truth = miyawaki.ensure(root, verbose=0)
    return root / "miyawaki2008", truth


def masked_run(folder, kind, number):
    mask = nib.load(folder / "mask" / "mask.nii.gz").get_fdata() > 0
    data = np.asarray(nib.load(folder / "func" / f"data_{kind}_run{number:02d}.nii.gz").dataobj)
    labels = np.loadtxt(folder / "label" / f"data_{kind}_run{number:02d}_label.csv",
                        delimiter=",", dtype=int)
    return data[mask].T.astype(float), labels


def test_layout_and_formats(generated):
    folder, truth = generated
    func = sorted(p.name for p in (folder / "func").iterdir())
    assert func == sorted([f"data_figure_run{i:02d}.nii.gz" for i in range(1, 13)]
                          + [f"data_random_run{i:02d}.nii.gz" for i in range(1, 21)])
    labels = sorted(p.name for p in (folder / "label").iterdir())
    assert labels == sorted(f.replace(".nii.gz", "_label.csv") for f in func)
    rois = {p.name for p in (folder / "mask").iterdir()}
    assert rois == {"mask.nii.gz"} | {f"{n}.nii.gz" for n in miyawaki.ROI_NAMES}
    assert len(miyawaki.ROI_NAMES) == 38 and "LHlag10to11" in miyawaki.ROI_NAMES
    img = nib.load(folder / "func" / "data_random_run01.nii.gz")
    assert img.get_data_dtype() == np.int16 and img.shape[3] == 145
    assert nib.load(folder / "bg.nii.gz").shape == img.shape[:3]
    mask = nib.load(folder / "mask" / "mask.nii.gz").get_fdata() > 0
    assert mask.sum() == 2500 == truth.n_mask_voxels
    for name in ("LHV1d", "RHlag2to3"):
        roi = nib.load(folder / "mask" / f"{name}.nii.gz").get_fdata() > 0
        assert roi.any() and not (roi & ~mask).any()


def test_labels(generated):
    folder, _ = generated
    first = (folder / "label" / "data_random_run01_label.csv").read_text().splitlines()[0]
    assert len(first.split(",")) == 100 and set(first.split(",")) <= {"0", "1"}
    _, random = masked_run(folder, "random", 1)
    assert random.shape == (145, 100)
    assert (random[:143] >= 0).all()  # after the 2-volume shift no rest row is left
    assert (random[:143].sum(axis=1) == 50).all()  # balanced images
    _, figure = masked_run(folder, "figure", 1)
    assert (figure == -1).all(axis=1).sum() > 20
    shown = figure[(figure >= 0).all(axis=1)].reshape(-1, 10, 10, order="F")
    expected = {miyawaki.figure_image(name).tobytes() for name in miyawaki.FIGURES}
    assert {im.astype(np.int8).tobytes() for im in shown} <= expected


def test_ground_truth_shapes(generated):
    _, truth = generated
    n = truth.n_mask_voxels
    assert truth.prf_center.shape == (n, 2) and truth.prf_size.shape == (n,)
    assert truth.visual.dtype == bool and 0.5 < truth.visual.mean() < 0.95
    assert np.isnan(truth.prf_center[~truth.visual]).all()
    assert np.isfinite(truth.prf_center[truth.visual]).all()
    assert truth.hrf_delay == 2


def test_centre_pixels_drive_the_voxels_with_central_prfs(generated):
    """Correlation of voxels with a central pixel, 2 volumes later, follows the pRFs."""
    folder, truth = generated
    X, Y = zip(*(masked_run(folder, "random", i) for i in range(1, 7)), strict=True)
    pixel = np.ravel_multi_index((4, 4), (10, 10), order="F")
    corr = {}
    for shift in (0, 2):
        x = np.vstack([x[shift:] for x in X])
        y = np.concatenate([y[: len(y) - shift, pixel] for y in Y])
        keep = y >= 0
        x, y = x[keep] - x[keep].mean(axis=0), y[keep] - y[keep].mean()
        corr[shift] = (x * y[:, None]).sum(axis=0) / np.sqrt((x**2).sum(axis=0) * (y**2).sum())
    near = truth.visual & (np.abs(truth.prf_center - 4).max(axis=1) < 0.5)
    far = truth.visual & (np.abs(truth.prf_center - 4).max(axis=1) > 3)
    assert near.sum() > 5
    assert corr[2][near].mean() > 0.2 > 0.05 > np.abs(corr[2][far]).mean()
    assert corr[2][near].mean() > corr[0][near].mean() + 0.1  # the HRF delay matters
    assert np.abs(corr[2][~truth.visual]).mean() < 0.05


def test_deterministic_and_loaded_again(generated, tmp_path):
    folder, truth = generated
    again = miyawaki.ensure(folder.parent, verbose=0)
    np.testing.assert_array_equal(again.prf_center, truth.prf_center)
    other = miyawaki.ensure(tmp_path, verbose=0)
    np.testing.assert_array_equal(other.prf_size, truth.prf_size)
    for rel in ("func/data_random_run07.nii.gz", "label/data_figure_run03_label.csv",
                "mask/mask.nii.gz", "mask/RHV3A.nii.gz", "ground_truth/prf_center.npy"):
        assert (folder / rel).read_bytes() == (tmp_path / "miyawaki2008" / rel).read_bytes()


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"size": "large"}, ValueError, r"'size' must be one of 'small', 'full'\. Got 'large'"),
        ({"size": None}, ValueError, r"'size' must be one of .* Got None"),
        ({"verbose": 0.5}, TypeError, r"'verbose' must be an int\. Got float: 0\.5\."),
    ],
)
def test_bad_arguments(tmp_path, kwargs, error, match):
    with pytest.raises(error, match=match):
        miyawaki.ensure(tmp_path, **kwargs)
    assert not (tmp_path / "miyawaki2008").exists()
