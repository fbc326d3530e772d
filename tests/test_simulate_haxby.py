"""Tests of the simulated Haxby dataset (data_fetchers.simulate.haxby)."""

import subprocess
import sys
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest
from scipy import ndimage
from sklearn.feature_selection import f_classif

from data_fetchers import _registry
from data_fetchers.simulate import _anatomy as ana
from data_fetchers.simulate import haxby

MASKS = tuple(name.removesuffix(".nii.gz") for name in _registry.HAXBY_MASKS.values())


@pytest.fixture(scope="module")
def generated(tmp_path_factory):
    root = tmp_path_factory.mktemp("sim")
    truth = haxby.ensure(root, subject=2, verbose=0)
    return root, truth


def read_labels(path):
    lines = Path(path).read_text().splitlines()
    rows = [line.split(" ") for line in lines[1:]]
    return lines[0], np.array([r[0] for r in rows]), np.array([int(r[1]) for r in rows])


def test_layout_dtypes_and_shapes(generated):
    root, _ = generated
    subj = root / "haxby2001" / "subj2"
    bold = nib.load(subj / "bold.nii.gz")
    assert bold.get_data_dtype() == np.int16
    assert bold.shape == (*haxby.GRIDS["small"]["shape"], 1452)
    assert bold.header.get_zooms()[3] == pytest.approx(2.5)
    # The real voxels, on the real grid's lattice (a slab of it).
    np.testing.assert_allclose(bold.affine[:3, :3], np.diag([-3.5, 3.75, 3.75]))
    full = ana.grid_affine((-3.5, 3.75, 3.75), (40, 64, 64))
    np.testing.assert_allclose(full[:3, 3], [68.25, -118.125, -118.125])
    start = (np.linalg.inv(full) @ bold.affine)[:3, 3]
    np.testing.assert_allclose(start, haxby.GRIDS["small"]["start"], atol=1e-9)
    mask = nib.load(root / "haxby2001" / "mask.nii.gz")
    assert mask.shape == bold.shape[:3]
    np.testing.assert_allclose(mask.affine, bold.affine)
    brain = mask.get_fdata() > 0
    assert 10_000 < brain.sum() < 30_000
    data = np.asarray(bold.dataobj[..., :3])
    assert data[brain].min() > 100  # baseline intensity inside the brain
    vt = nib.load(subj / "mask4_vt.nii.gz").get_fdata() > 0
    assert vt.sum() > 100 and not (vt & ~brain).any()
    for name in MASKS:
        assert nib.load(subj / f"{name}.nii.gz").shape == bold.shape[:3]
    assert nib.load(subj / "anat.nii.gz").ndim == 3


def test_labels_like_the_real_file(generated):
    root, _ = generated
    header, labels, chunks = read_labels(root / "haxby2001" / "subj2" / "labels.txt")
    assert header == "labels chunks"
    assert labels.size == 1452
    names, counts = np.unique(labels, return_counts=True)
    assert list(names) == ["bottle", "cat", "chair", "face", "house", "rest", "scissors",
                           "scrambledpix", "shoe"]
    assert all(c == 108 for n, c in zip(names, counts, strict=True) if n != "rest")
    assert list(np.unique(chunks)) == list(range(12))
    assert np.all(np.bincount(chunks) == 121)


def test_planted_regions_inside_their_masks(generated):
    """Planted region inside mask8 ("little") inside mask8b inside mask4_vt, as in the real data."""
    root, truth = generated
    subj = root / "haxby2001" / "subj2"
    face = nib.load(truth.face_region).get_fdata() > 0
    house = nib.load(truth.house_region).get_fdata() > 0
    vt = nib.load(subj / "mask4_vt.nii.gz").get_fdata() > 0
    assert face.sum() >= 10 and house.sum() >= 10 and not (face & house).any()
    for region, name in ((face, "face"), (house, "house")):
        big = nib.load(subj / f"mask8b_{name}_vt.nii.gz").get_fdata() > 0
        little = nib.load(subj / f"mask8_{name}_vt.nii.gz").get_fdata() > 0
        assert not (region & ~little).any()
        assert not (little & ~big).any()
        assert not (big & ~vt).any()
        assert region.sum() < little.sum() < big.sum()
    assert truth.effect_size > 0 and truth.noise_sd > 0


def test_effect_map_holds_every_planted_difference(generated):
    root, truth = generated
    effect = nib.load(truth.effect_map).get_fdata()
    brain = nib.load(root / "haxby2001" / "mask.nii.gz").get_fdata() > 0
    face = nib.load(truth.face_region).get_fdata() > 0
    house = nib.load(truth.house_region).get_fdata() > 0
    assert not (effect[~brain] != 0).any()
    # The selective regions carry about +-EFFECT_SIZE (plus the distributed preferences).
    assert np.median(effect[face]) > 0.6 * truth.effect_size
    assert np.median(effect[house]) < -0.6 * truth.effect_size
    # Distributed preferences make it much larger than the two selective regions...
    n_effect = int(np.count_nonzero(effect))
    assert n_effect == truth.n_effect_voxels > 5 * (face.sum() + house.sum())
    # ... but it stays in visual cortex: nothing planted in front of y = -22 mm.
    ijk = np.argwhere(effect != 0)
    y_mm = (ijk @ nib.load(truth.effect_map).affine[:3, :3].T)[:, 1]
    y_mm += nib.load(truth.effect_map).affine[1, 3]
    assert y_mm.max() <= -22 + 1e-6


def f_test_share_outside(root, truth, *, margin=2, alpha=0.05):
    """Bonferroni-significant face/house F-test voxels, and the share of them lying more
    than ``margin`` voxels away from any voxel where ``effect_map`` is nonzero."""
    subj = root / "haxby2001" / "subj2"
    _, labels, _ = read_labels(subj / "labels.txt")
    brain = nib.load(root / "haxby2001" / "mask.nii.gz").get_fdata() > 0
    keep = np.isin(labels, ["face", "house"])
    X = np.asarray(nib.load(subj / "bold.nii.gz").dataobj)[brain][:, keep].T.astype(float)
    _, p_values = f_classif(X, labels[keep])
    significant = p_values < alpha / p_values.size
    effect = nib.load(truth.effect_map).get_fdata() != 0
    near = ndimage.binary_dilation(effect, iterations=margin)[brain]
    return int(significant.sum()), float((significant & ~near).sum() / significant.sum())


def test_f_test_finds_signal_only_where_effect_map_says(generated):
    root, truth = generated
    n_significant, share_outside = f_test_share_outside(root, truth)
    print(f"F-test (Bonferroni 0.05): {n_significant} voxels, {share_outside:.1%} of them more "
          "than 2 voxels from planted signal")
    assert n_significant > 50
    assert share_outside < 0.05


@pytest.mark.slow
def test_measured_statistics_are_realistic_and_match_the_docstring(generated):
    root, truth = generated
    subj = root / "haxby2001" / "subj2"
    stats = haxby.measure(subj / "bold.nii.gz", root / "haxby2001" / "mask.nii.gz",
                          subj / "labels.txt", truth.face_region)
    print(stats)
    assert stats["voxel_size"] == pytest.approx([3.5, 3.75, 3.75])
    assert 0.5 < stats["neighbour_r"] < 0.8 and 1.5 < stats["fwhm_voxels"] < 2.5
    assert 0.2 < stats["ar1"] < 0.4
    assert 50 < stats["tsnr"] < 100
    assert 0.5 < stats["effect_face_house"] < 2.0
    rows = {line.split("  ")[0]: line for line in haxby.__doc__.splitlines()}
    assert f" {stats['neighbour_r']:.2f} " in rows["neighbour correlation of residuals"]
    assert f"({stats['fwhm_voxels']:.2f})" in rows["(implied FWHM, voxels)"]
    assert f" {stats['ar1']:.2f} " in rows["AR(1) of residuals (TR 2.5 s)"]
    assert f" {stats['tsnr']:.0f} " in rows["temporal SNR (mean / std over time)"]
    assert f" {stats['effect_face_house']:.2f} " in rows["face - house effect, face region (%)"]


def test_smooth_ar1_noise_has_the_requested_statistics():
    mask = np.ones((24, 24, 24), dtype=bool)
    noise = ana.smooth_ar1_noise(np.random.default_rng(0), 400, mask, fwhm=2.0, rho=0.3, sd=2.0)
    assert noise.shape == (400, mask.sum()) and noise.dtype == np.float32
    assert noise.std() == pytest.approx(2.0, rel=0.05)
    z = noise / noise.std(axis=0)
    assert (z[1:] * z[:-1]).mean() == pytest.approx(0.3, abs=0.03)
    volumes = z.reshape(400, 24, 24, 24)
    r = (volumes[:, 1:] * volumes[:, :-1]).mean()
    assert r == pytest.approx(2 ** (-2 / 2.0**2), abs=0.03)


def test_ground_truth_is_loaded_again_quickly(generated):
    root, truth = generated
    again = haxby.ensure(root, subject=2, verbose=0)
    assert again.face_region == truth.face_region
    assert isinstance(again.face_region, str)
    np.testing.assert_array_equal(again.face_centers, truth.face_centers)


@pytest.mark.slow
def test_concurrent_generation_is_valid_and_deterministic(generated, tmp_path):
    """Two processes generate at once; both succeed and match the fixture byte for byte."""
    root, _ = generated
    code = ("import sys; from data_fetchers.simulate import haxby; "
            "haxby.ensure(sys.argv[1], subject=2, verbose=0)")
    procs = [subprocess.Popen([sys.executable, "-c", code, str(tmp_path)]) for _ in range(2)]
    assert [p.wait(timeout=600) for p in procs] == [0, 0]
    reference = root / "haxby2001"
    files = sorted(p.relative_to(reference) for p in reference.rglob("*") if p.is_file())
    new = sorted(p.relative_to(tmp_path / "haxby2001")
                 for p in (tmp_path / "haxby2001").rglob("*") if p.is_file())
    assert files == new
    for rel in files:
        assert (reference / rel).read_bytes() == (tmp_path / "haxby2001" / rel).read_bytes(), rel


def test_subject_6_has_no_anat_and_a_crash_leaves_nothing(tmp_path, monkeypatch):
    def broken(folder, *args):
        (folder / "bold.nii.gz").write_text("partial")
        raise RuntimeError("disk full")

    monkeypatch.setattr(haxby, "_simulate", lambda subject, size: None)
    monkeypatch.setattr(haxby, "_write_subject", broken)
    with pytest.raises(RuntimeError, match="disk full"):
        haxby.ensure(tmp_path, subject=6, verbose=0)
    assert list((tmp_path / "haxby2001").iterdir()) == []


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"subject": 7}, ValueError, r"'subject' must be an integer from 1 to 6\. Got 7\."),
        ({"subject": 0}, ValueError, r"'subject' must be an integer from 1 to 6\. Got 0\."),
        ({"subject": "2"}, TypeError, r"'subject' must be an integer .* Got str: '2'\."),
        ({"subject": True}, TypeError, r"'subject' must be an integer .* Got bool: True\."),
        ({"size": "medium"}, ValueError, r"'size' must be one of 'small', 'full'\. Got 'medium'"),
        ({"verbose": "yes"}, TypeError, r"'verbose' must be an int\. Got str: 'yes'\."),
    ],
)
def test_bad_arguments(tmp_path, kwargs, error, match):
    with pytest.raises(error, match=match):
        haxby.ensure(tmp_path, **kwargs)
    assert not (tmp_path / "haxby2001").exists()
