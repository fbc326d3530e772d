"""Tests of the simulated Miyawaki 2008 dataset (data_fetchers.simulate.miyawaki)."""

import nibabel as nib
import numpy as np
import pytest

from data_fetchers import _registry
from data_fetchers.simulate import _anatomy, miyawaki


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
    assert len(first.split(",")) == 100 and set(first.split(",")) == {"-1"}  # starts at rest
    _, random = masked_run(folder, "random", 1)
    assert random.shape == (145, 100)
    rest = (random == -1).all(axis=1)
    assert ((random >= 0).all(axis=1) | rest).all()  # a row is an image or rest, never mixed
    shown = random[~rest]
    assert len(shown) == 22 * 3 and (shown.sum(axis=1) == 50).all()  # balanced images
    # The real design: each image for 3 volumes (6 s), then 3 volumes (6 s) of rest.
    onsets = np.flatnonzero(np.diff(rest.astype(int)) == -1) + 1
    assert len(onsets) == 22 and (np.diff(onsets) == 6).all()
    blocks = np.stack([random[t : t + 3] for t in onsets])
    assert (blocks == blocks[:, :1]).all() and len({b[0].tobytes() for b in blocks}) == 22
    assert rest[onsets + 3].all() and rest[onsets + 5].all()
    _, figure = masked_run(folder, "figure", 1)
    assert (figure == -1).all(axis=1).sum() > 20
    shown = figure[(figure >= 0).all(axis=1)].reshape(-1, 10, 10, order="F")
    expected = {miyawaki.figure_image(name).tobytes() for name in miyawaki.FIGURES}
    assert {im.astype(np.int8).tobytes() for im in shown} <= expected


def test_facts_come_from_the_registry():
    assert miyawaki.ROI_NAMES is _registry.MIYAWAKI_ROI_NAMES
    assert (miyawaki.T_R, miyawaki.N_SCANS) == (_registry.MIYAWAKI_T_R, _registry.MIYAWAKI_N_SCANS)
    assert miyawaki.GRIDS["full"]["n_voxels"] == _registry.MIYAWAKI_N_MASK_VOXELS
    assert miyawaki.RUNS is _registry.MIYAWAKI_RUNS


def test_cortical_magnification():
    """Horton & Hoyt (1991): distance K ln(1 + E / A) mm from the fovea; central pixels get
    many more voxels than peripheral ones."""
    eccentricity = np.array([0.0, 1.0, 5.0, 10.0])
    distance = 17.3 * np.log1p(eccentricity / 0.75)
    np.testing.assert_allclose(miyawaki.eccentricity_at(distance), eccentricity, atol=1e-12)
    center, _, _, _, _, visual = miyawaki._retinotopy(
        np.column_stack([np.full(400, -10.0), np.linspace(-104, -60, 400), np.full(400, 5.0)]),
        np.random.default_rng(0),
    )
    ecc = np.hypot(*(center[visual] - 4.5).T)
    assert np.mean(ecc < 2) > 2 * np.mean((ecc > 4) & (ecc < 6))


def test_smooth_noise():
    mask = np.zeros((12, 12, 12), dtype=bool)
    mask[2:10, 2:10, 2:10] = True
    noise = _anatomy.smooth_noise(np.random.default_rng(0), mask, 300, fwhm=2.0, rho=0.3)
    assert noise.shape == (300, mask.sum()) and noise.dtype == np.float32
    assert abs(noise.std() - 1) < 1e-5
    cube = noise.reshape(300, 8, 8, 8)
    space = np.corrcoef(cube[..., :-1].ravel(), cube[..., 1:].ravel())[0, 1]
    time = np.corrcoef(noise[:-1].ravel(), noise[1:].ravel())[0, 1]
    assert 0.6 < space < 0.8  # exp(-1 / (4 sigma^2)) = 0.71 for a FWHM of 2 voxels
    assert 0.25 < time < 0.35
    white = _anatomy.smooth_noise(np.random.default_rng(0), mask, 300, fwhm=0.0)
    cube = white.reshape(300, 8, 8, 8)
    assert abs(np.corrcoef(cube[..., :-1].ravel(), cube[..., 1:].ravel())[0, 1]) < 0.02


def test_noise_is_spatially_smooth_in_the_data(generated):
    """Voxels without a receptive field carry noise correlated with their neighbours'."""
    folder, truth = generated
    mask = nib.load(folder / "mask" / "mask.nii.gz").get_fdata() > 0
    data = np.asarray(nib.load(folder / "func" / "data_random_run02.nii.gz").dataobj, float)
    quiet = np.zeros(mask.shape, dtype=bool)
    quiet[mask] = ~truth.visual
    pairs = quiet[:-1] & quiet[1:]  # neighbours along x, both without pRF
    a, b = data[:-1][pairs], data[1:][pairs]
    a = a - a.mean(axis=1, keepdims=True)
    b = b - b.mean(axis=1, keepdims=True)
    r = (a * b).sum(axis=1) / np.sqrt((a**2).sum(axis=1) * (b**2).sum(axis=1))
    assert pairs.sum() > 20 and np.median(r) > 0.3


def test_ground_truth_shapes(generated):
    _, truth = generated
    n = truth.n_mask_voxels
    assert truth.prf_center.shape == (n, 2) and truth.prf_size.shape == (n,)
    assert truth.visual.dtype == bool and 0.5 < truth.visual.mean() < 0.95
    assert np.isnan(truth.prf_center[~truth.visual]).all()
    assert np.isfinite(truth.prf_center[truth.visual]).all()
    assert truth.hrf_delay == 2
    assert (truth.prf_gain[truth.visual] > 0).all() and (truth.prf_gain[~truth.visual] == 0).all()


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
    # 396 image volumes: |r| of an unrelated voxel is about 0.04 on average
    assert corr[2][near].mean() > 0.2 > 0.08 > np.abs(corr[2][far]).mean()
    assert corr[2][near].mean() > corr[0][near].mean() + 0.1  # the HRF delay matters
    assert np.abs(corr[2][~truth.visual]).mean() < 0.08


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


def test_prf_weights_integrate_the_gaussian_over_each_pixel():
    """A central pRF falls wholly on the image; one centred off the image mostly misses it."""
    center = np.array([[4.0, 2.0], [4.5, 4.5], [-1.5, -1.5]])
    weights = miyawaki._prf_weights(center, np.array([0.5, 0.3, 1.0]))
    np.testing.assert_allclose(weights[:2].sum(axis=1), 1.0, atol=1e-4)
    assert weights[2].sum() < 0.05
    flat = np.ravel_multi_index((4, 2), (10, 10), order="F")
    assert weights[0].argmax() == flat and 0.4 < weights[0, flat] < 0.5  # (2 Phi(1) - 1)^2
    around = np.ravel_multi_index(([4, 4, 5, 5], [4, 5, 4, 5]), (10, 10), order="F")
    np.testing.assert_allclose(weights[1, around], 0.25, atol=1e-3)  # shared by four pixels
