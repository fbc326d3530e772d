"""Tests of mlni.image: loading, resampling (against nilearn), smoothing, averaging, indexing."""

import warnings
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest

from mlni.image import (
    concat_imgs,
    index_img,
    load,
    mean_img,
    new_img_like,
    resample_img,
    smooth_img,
)

AFFINE = np.array([[3.0, 0, 0, -30], [0, 3, 0, -40], [0, 0, 3.5, -20], [0, 0, 0, 1]])


def _img(shape=(12, 14, 10), affine=AFFINE, seed=0):
    data = np.random.default_rng(seed).standard_normal(shape)
    return nib.Nifti1Image(data, affine)


def _oblique_affine():
    theta = 0.3
    rotation = np.array([[np.cos(theta), -np.sin(theta), 0], [np.sin(theta), np.cos(theta), 0],
                         [0, 0, 1]])
    affine = np.eye(4)
    affine[:3, :3] = 2.5 * rotation
    affine[:3, 3] = [-20, -30, -10]
    return affine


def _nilearn_resample(img, target_affine, target_shape, interpolation):
    from nilearn.image import resample_img as nilearn_resample_img

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # nilearn's notices about sform / copy_header
        return nilearn_resample_img(img, target_affine=target_affine, target_shape=target_shape,
                                    interpolation=interpolation, force_resample=True,
                                    copy_header=True)


# --- load / new_img_like -------------------------------------------------------------------


def test_load_accepts_paths_and_images(tmp_path):
    img = _img()
    path = tmp_path / "img.nii.gz"
    img.to_filename(path)
    assert load(img) is img
    for source in (path, str(path)):
        loaded = load(source)
        np.testing.assert_allclose(loaded.get_fdata(), img.get_fdata(), rtol=1e-6)
        np.testing.assert_allclose(loaded.affine, AFFINE)


def test_load_errors(tmp_path):
    with pytest.raises(TypeError, match=r"'img' must be a path .* Got ndarray"):
        load(np.zeros((3, 3, 3)))
    missing = tmp_path / "nope.nii.gz"
    with pytest.raises(FileNotFoundError, match="nope.nii.gz"):
        load(missing)


def test_new_img_like_dtypes_and_affine():
    ref = _img()
    img = new_img_like(ref, np.ones((12, 14, 10), dtype=bool))
    assert img.get_data_dtype() == np.uint8
    np.testing.assert_array_equal(img.affine, AFFINE)
    img = new_img_like(ref, np.arange(8, dtype=np.int64).reshape(2, 2, 2), affine=np.eye(4))
    assert img.get_data_dtype() == np.int32
    np.testing.assert_array_equal(img.affine, np.eye(4))
    with pytest.raises(ValueError, match=r"'affine' must be a 4x4 matrix. Got shape \(3, 3\)"):
        new_img_like(ref, np.zeros((2, 2, 2)), affine=np.eye(3))


# --- resample_img ----------------------------------------------------------------------------

TARGETS = {
    "4x4 coarser, no shape": (np.array([[4.0, 0, 0, -50], [0, 4, 0, -45], [0, 0, 4, -25],
                                        [0, 0, 0, 1]]), None),
    "4x4 finer with shape": (np.array([[2.0, 0, 0, -28], [0, 2, 0, -35], [0, 0, 2, -15],
                                       [0, 0, 0, 1]]), (15, 16, 14)),
    "3x3 flipped x": (np.diag([-2.0, 2.0, 2.0]), None),
    "oblique 4x4": (_oblique_affine(), (20, 20, 12)),
    "oblique 3x3": (_oblique_affine()[:3, :3], None),
}


@pytest.mark.parametrize("interpolation", ["continuous", "linear", "nearest"])
@pytest.mark.parametrize("target", list(TARGETS))
@pytest.mark.parametrize("shape", [(12, 14, 10), (12, 14, 10, 3)])
def test_resample_img_agrees_with_nilearn(interpolation, target, shape):
    img = _img(shape)
    target_affine, target_shape = TARGETS[target]
    ours = resample_img(img, target_affine, target_shape, interpolation=interpolation)
    theirs = _nilearn_resample(img, target_affine, target_shape, interpolation)
    assert ours.shape == theirs.shape
    np.testing.assert_allclose(ours.affine, theirs.affine, atol=1e-10)
    np.testing.assert_allclose(ours.get_fdata(), theirs.get_fdata(), atol=1e-10)


def test_resample_img_keeps_nans_where_nilearn_does():
    data = _img().get_fdata()
    data[5, 5, 5] = np.nan
    img = nib.Nifti1Image(data, AFFINE)
    target_affine, target_shape = TARGETS["4x4 finer with shape"]
    ours = resample_img(img, target_affine, target_shape, interpolation="linear").get_fdata()
    theirs = _nilearn_resample(img, target_affine, target_shape, "linear").get_fdata()
    np.testing.assert_array_equal(np.isnan(ours), np.isnan(theirs))
    assert np.isnan(ours).any()
    # nilearn fills the NaN from its neighbours before interpolating, we use 0: values agree
    # away from the NaN voxel
    ijk = np.indices(target_shape).reshape(3, -1).T
    world = ijk @ target_affine[:3, :3].T + target_affine[:3, 3]
    nan_world = AFFINE[:3, :3] @ [5, 5, 5] + AFFINE[:3, 3]
    far = (np.linalg.norm(world - nan_world, axis=1) > 8).reshape(target_shape)
    np.testing.assert_allclose(ours[far], theirs[far], atol=1e-10)


def test_resample_img_identity_and_nearest_labels():
    img = _img()
    same = resample_img(img, AFFINE, img.shape)
    np.testing.assert_allclose(same.get_fdata(), img.get_fdata(), atol=1e-10)
    labels = nib.Nifti1Image(np.random.default_rng(0).integers(0, 4, (12, 14, 10)).astype(
        np.int16), AFFINE)
    out = resample_img(labels, np.diag([2.0, 2.0, 2.0]), interpolation="nearest")
    assert out.get_data_dtype() == np.int16
    assert set(np.unique(out.get_fdata())) <= {0, 1, 2, 3}


def test_resample_img_interpolated_integers_become_floats():
    data = np.random.default_rng(0).integers(0, 1000, (12, 14, 10)).astype(np.int16)
    img = nib.Nifti1Image(data, AFFINE)
    out = resample_img(img, np.diag([2.0, 2.0, 2.0]), interpolation="linear")
    assert out.get_data_dtype() == np.float32
    reference = resample_img(nib.Nifti1Image(data.astype(np.float64), AFFINE),
                             np.diag([2.0, 2.0, 2.0]), interpolation="linear")
    np.testing.assert_allclose(out.get_fdata(), reference.get_fdata(), rtol=1e-6)
    wide = nib.Nifti1Image(data.astype(np.int32), AFFINE)
    assert resample_img(wide, np.diag([2.0, 2.0, 2.0])).get_data_dtype() == np.float64


def test_resample_img_errors():
    img = _img()
    with pytest.raises(ValueError, match=r"'interpolation' must be one of .* Got 'cubic'"):
        resample_img(img, np.eye(4), interpolation="cubic")
    with pytest.raises(ValueError, match=r"'target_affine' must be a 3x3 or 4x4 .* \(2, 2\)"):
        resample_img(img, np.eye(2))
    with pytest.raises(ValueError, match=r"must be 4x4 when 'target_shape' is given"):
        resample_img(img, np.eye(3), target_shape=(4, 4, 4))
    with pytest.raises(ValueError, match=r"'target_shape' must have 3 values. Got \(4, 4\)"):
        resample_img(img, np.eye(4), target_shape=(4, 4))
    with pytest.raises(ValueError, match="does not contain any of the image"):
        resample_img(img, np.diag([2.0, 2.0, 2.0, 1.0]))  # the image lies at negative x, y, z
    with pytest.raises(ValueError, match=r"'img' must be a 3D or 4D image. Got a 2D image"):
        resample_img(nib.Nifti1Image(np.zeros((3, 3)), np.eye(4)), np.eye(4))


# --- smooth_img ------------------------------------------------------------------------------


@pytest.mark.parametrize("fwhm", [4.0, [3.0, 6.0, 0.0]])
@pytest.mark.parametrize("shape", [(12, 14, 10), (12, 14, 10, 2)])
def test_smooth_img_agrees_with_nilearn(fwhm, shape):
    from nilearn.image import smooth_img as nilearn_smooth_img

    img = _img(shape)
    ours = smooth_img(img, fwhm).get_fdata()
    np.testing.assert_allclose(ours, nilearn_smooth_img(img, fwhm).get_fdata(), atol=1e-10)


def test_smooth_img_sigma_follows_voxel_size():
    data = np.zeros((21, 21, 21))
    data[10, 10, 10] = 1.0
    affine = np.diag([1.0, 2.0, 4.0, 1.0])
    smoothed = smooth_img(nib.Nifti1Image(data, affine), 8.0).get_fdata()
    sigma_mm = 8.0 / np.sqrt(8 * np.log(2))
    for axis, size in enumerate((1.0, 2.0, 4.0)):
        profile = smoothed.sum(axis=tuple(a for a in range(3) if a != axis))
        positions = (np.arange(21) - 10) * size
        measured = np.sqrt((profile * positions**2).sum() / profile.sum())
        assert measured == pytest.approx(sigma_mm, rel=0.05)


def test_smooth_img_none_zero_and_errors():
    img = _img()
    for fwhm in (None, 0):
        out = smooth_img(img, fwhm)
        assert out is not img
        np.testing.assert_array_equal(out.get_fdata(), img.get_fdata())
    with pytest.raises(ValueError, match=r"'fwhm' must be None, a non-negative .* Got -2"):
        smooth_img(img, -2)
    with pytest.raises(ValueError, match=r"'fwhm' must be .* Got \[1, 2\]"):
        smooth_img(img, [1, 2])


def test_smooth_img_replaces_nans():
    data = _img().get_fdata()
    data[3, 3, 3] = np.nan
    out = smooth_img(nib.Nifti1Image(data, AFFINE), 5).get_fdata()
    assert np.isfinite(out).all()


# --- mean_img, index_img, concat_imgs ---------------------------------------------------------


def test_mean_img_of_4d_and_lists(tmp_path):
    img4d = _img((12, 14, 10, 4))
    data = img4d.get_fdata()
    np.testing.assert_allclose(mean_img(img4d).get_fdata(), data.mean(axis=3))
    volumes = [index_img(img4d, i) for i in range(4)]
    np.testing.assert_allclose(mean_img(volumes).get_fdata(), data.mean(axis=3))
    path = tmp_path / "part.nii.gz"
    index_img(img4d, slice(0, 3)).to_filename(path)
    both = mean_img([path, volumes[3]]).get_fdata()  # every volume counts once
    np.testing.assert_allclose(both, data.mean(axis=3), rtol=1e-5, atol=1e-6)
    assert mean_img(volumes[0]).shape == (12, 14, 10)


def test_mean_img_errors():
    with pytest.raises(ValueError, match="'imgs' must not be an empty list"):
        mean_img([])
    other = _img(affine=np.eye(4))
    with pytest.raises(ValueError, match=r"'imgs\[0\]' and 'imgs\[1\]' must have the same affine"):
        mean_img([_img(), other])


def test_index_img_variants():
    img = _img((12, 14, 10, 5))
    data = img.get_fdata()
    assert index_img(img, 2).shape == (12, 14, 10)
    np.testing.assert_array_equal(index_img(img, -1).get_fdata(), data[..., 4])
    np.testing.assert_array_equal(index_img(img, np.int64(1)).get_fdata(), data[..., 1])
    np.testing.assert_array_equal(index_img(img, slice(1, 3)).get_fdata(), data[..., 1:3])
    np.testing.assert_array_equal(index_img(img, [4, 0]).get_fdata(), data[..., [4, 0]])
    keep = np.array([True, False, True, False, False])
    np.testing.assert_array_equal(index_img(img, keep).get_fdata(), data[..., keep])
    np.testing.assert_array_equal(index_img(img, 0).affine, AFFINE)


def test_index_img_from_disk_and_never_a_view(tmp_path):
    img = _img((12, 14, 10, 5))
    path = tmp_path / "four.nii.gz"
    img.to_filename(path)
    data = img.get_fdata()
    np.testing.assert_allclose(index_img(path, 3).get_fdata(), data[..., 3], rtol=1e-6)
    np.testing.assert_allclose(index_img(path, slice(1, 4)).get_fdata(), data[..., 1:4],
                               rtol=1e-6)
    out = index_img(img, slice(0, 2))
    np.asanyarray(out.dataobj)[:] = 0
    assert np.any(img.get_fdata()[..., :2] != 0)  # the input image is untouched


def test_index_img_errors():
    img = _img((12, 14, 10, 5))
    with pytest.raises(IndexError, match="'index' 5 is out of range .* 5 volumes"):
        index_img(img, 5)
    with pytest.raises(IndexError, match=r"'index' values must be in \[-5, 4\]. Got 0 to 7"):
        index_img(img, [0, 7])
    with pytest.raises(ValueError, match=r"boolean 'index' must have one value per volume \(5\)"):
        index_img(img, np.ones(3, dtype=bool))
    with pytest.raises(TypeError, match="'index' must be an int, a slice, or ints or booleans"):
        index_img(img, [0.5, 1.5])
    with pytest.raises(ValueError, match=r"'imgs' must be a 4D image. Got a 3D image"):
        index_img(_img(), 0)


def test_concat_imgs():
    img4d = _img((12, 14, 10, 3))
    volume = _img(seed=1)
    out = concat_imgs([img4d, volume, volume])
    assert out.shape == (12, 14, 10, 5)
    np.testing.assert_array_equal(out.get_fdata()[..., 3], volume.get_fdata())
    np.testing.assert_array_equal(out.get_fdata()[..., :3], img4d.get_fdata())
    with pytest.raises(ValueError, match=r"must have the same 3D shape. Got \(12, 14, 10\) and "
                       r"\(12, 14, 9\)"):
        concat_imgs([volume, _img((12, 14, 9))])
    with pytest.raises(ValueError, match="'imgs' must not be an empty list"):
        concat_imgs([])


def test_functions_accept_paths(tmp_path):
    path = Path(tmp_path) / "four.nii.gz"
    _img((12, 14, 10, 2)).to_filename(path)
    assert index_img(str(path), 0).shape == (12, 14, 10)
    assert smooth_img(path, 3).shape == (12, 14, 10, 2)
    assert resample_img(path, np.diag([4.0, 4.0, 4.0])).ndim == 4
