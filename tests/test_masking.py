"""Tests of mlni.masking: apply_mask / unmask, agreement with nilearn, error messages."""

import warnings

import nibabel as nib
import numpy as np
import pytest

from mlni.image import smooth_img
from mlni.masking import apply_mask, unmask

AFFINE = np.diag([3.0, 3.0, 3.5, 1.0])
AFFINE[:3, 3] = [-30, -40, -20]
SHAPE = (9, 10, 8)


@pytest.fixture
def mask_img():
    mask = np.zeros(SHAPE, dtype=np.uint8)
    mask[2:7, 3:8, 2:6] = 1
    mask[2, 3, 2] = 0  # not a box: the order of voxels matters
    return nib.Nifti1Image(mask, AFFINE)


@pytest.fixture
def func_img():
    data = np.random.default_rng(0).standard_normal(SHAPE + (6,)).astype(np.float32)
    return nib.Nifti1Image(data, AFFINE)


def test_apply_mask_shape_order_and_dtype(func_img, mask_img):
    X = apply_mask(func_img, mask_img)
    mask = mask_img.get_fdata().astype(bool)
    assert X.shape == (6, mask.sum())
    assert X.dtype == np.float32
    assert X.flags.c_contiguous
    data = func_img.get_fdata()
    np.testing.assert_allclose(X[4], data[..., 4][mask])  # C order of the mask
    assert apply_mask(func_img, mask_img, dtype="float64").dtype == np.float64


def test_apply_mask_keeps_integer_dtype_with_none(mask_img):
    data = np.arange(np.prod(SHAPE) * 2, dtype=np.int16).reshape(SHAPE + (2,))
    X = apply_mask(nib.Nifti1Image(data, AFFINE), mask_img, dtype=None)
    assert X.dtype == np.int16


def test_apply_mask_3d_image_gives_one_row(func_img, mask_img):
    volume = nib.Nifti1Image(func_img.get_fdata()[..., 0], AFFINE)
    X = apply_mask(volume, mask_img)
    assert X.shape == (1, int(mask_img.get_fdata().sum()))


def test_apply_mask_list_stacks_samples(func_img, mask_img, tmp_path):
    path = tmp_path / "run.nii.gz"
    func_img.to_filename(path)
    volume = nib.Nifti1Image(func_img.get_fdata()[..., 0], AFFINE)
    X = apply_mask([func_img, str(path), volume], mask_img)
    assert X.shape[0] == 13
    np.testing.assert_allclose(X[6:12], X[:6])
    np.testing.assert_allclose(X[12], X[0])


@pytest.mark.parametrize("smoothing_fwhm", [None, 5.0])
def test_apply_mask_agrees_with_nilearn(func_img, mask_img, smoothing_fwhm):
    from nilearn.masking import apply_mask as nilearn_apply_mask

    ours = apply_mask(func_img, mask_img, smoothing_fwhm=smoothing_fwhm, dtype="float64")
    theirs = nilearn_apply_mask(func_img, mask_img, smoothing_fwhm=smoothing_fwhm)
    np.testing.assert_allclose(ours, theirs, rtol=1e-5, atol=1e-6)


def test_apply_mask_int16_with_smoothing_agrees_with_nilearn(func_img, mask_img):
    from nilearn.masking import apply_mask as nilearn_apply_mask

    data = (func_img.get_fdata() * 100 + 1000).astype(np.int16)  # like a raw BOLD series
    img = nib.Nifti1Image(data, AFFINE)
    ours = apply_mask(img, mask_img, smoothing_fwhm=6)
    theirs = nilearn_apply_mask(img, mask_img, smoothing_fwhm=6)
    np.testing.assert_allclose(ours, theirs, rtol=1e-6)


def test_apply_mask_smoothing_equals_smooth_then_mask(func_img, mask_img):
    direct = apply_mask(smooth_img(func_img, 6), mask_img)
    np.testing.assert_allclose(apply_mask(func_img, mask_img, smoothing_fwhm=6), direct)
    assert not np.allclose(direct, apply_mask(func_img, mask_img))


def test_apply_mask_ignores_nans_outside_the_mask(func_img, mask_img):
    data = func_img.get_fdata()
    data[0, 0, 0, :] = np.nan
    X = apply_mask(nib.Nifti1Image(data, AFFINE), mask_img, smoothing_fwhm=4)
    assert np.isfinite(X).all()


def test_apply_mask_accepts_a_4d_mask_with_one_volume(func_img, mask_img):
    mask4d = nib.Nifti1Image(mask_img.get_fdata()[..., None], AFFINE)
    np.testing.assert_array_equal(apply_mask(func_img, mask4d), apply_mask(func_img, mask_img))


def test_unmask_roundtrip_and_shapes(func_img, mask_img):
    X = apply_mask(func_img, mask_img)
    img4d = unmask(X, mask_img)
    assert img4d.shape == SHAPE + (6,)
    np.testing.assert_allclose(apply_mask(img4d, mask_img), X)
    mask = mask_img.get_fdata().astype(bool)
    assert np.all(img4d.get_fdata()[~mask] == 0)
    img3d = unmask(X[2], mask_img)
    assert img3d.shape == SHAPE
    np.testing.assert_allclose(img3d.get_fdata(), img4d.get_fdata()[..., 2])
    np.testing.assert_array_equal(img3d.affine, AFFINE)
    assert unmask(X[:1], mask_img).shape == SHAPE + (1,)


def test_unmask_agrees_with_nilearn(mask_img):
    from nilearn.masking import unmask as nilearn_unmask

    n_voxels = int(mask_img.get_fdata().sum())
    X = np.random.default_rng(1).standard_normal((3, n_voxels))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        theirs = nilearn_unmask(X, mask_img).get_fdata()
    np.testing.assert_allclose(unmask(X, mask_img).get_fdata(), theirs)


def test_unmask_booleans_become_uint8(mask_img):
    n_voxels = int(mask_img.get_fdata().sum())
    img = unmask(np.ones(n_voxels, dtype=bool), mask_img)
    assert img.get_data_dtype() == np.uint8


def test_mask_errors(func_img):
    two_values = np.zeros(SHAPE)
    two_values[1, 1, 1], two_values[2, 2, 2] = 1, 2
    with pytest.raises(ValueError, match=r"'mask_img' must be binary .* Got values \[0.0, 1.0, "
                       r"2.0\]"):
        apply_mask(func_img, nib.Nifti1Image(two_values, AFFINE))
    with pytest.raises(ValueError, match="'mask_img' is empty"):
        apply_mask(func_img, nib.Nifti1Image(np.zeros(SHAPE), AFFINE))
    with pytest.raises(ValueError, match=r"'mask_img' must be a 3D image. Got a 4D image of shape "
                       r"\(9, 10, 8, 6\)"):
        apply_mask(func_img, func_img)
    with_nan = np.ones(SHAPE)
    with_nan[0, 0, 0] = np.nan
    with pytest.raises(ValueError, match="'mask_img' must be binary .* and non-finite values"):
        unmask(np.zeros(3), nib.Nifti1Image(with_nan, AFFINE))


def test_apply_mask_grid_errors(func_img, mask_img):
    small = nib.Nifti1Image(np.ones((9, 10, 7)), AFFINE)
    with pytest.raises(ValueError, match=r"'imgs' and 'mask_img' must have the same 3D shape. Got "
                       r"\(9, 10, 8\) and \(9, 10, 7\)"):
        apply_mask(func_img, small)
    shifted = nib.Nifti1Image(mask_img.get_fdata(), np.eye(4))
    with pytest.raises(ValueError, match=r"must have the same affine. Got\n\[\[ *3\."):
        apply_mask(func_img, shifted)
    with pytest.raises(ValueError, match=r"'imgs\[1\]' and 'mask_img' must have the same 3D"):
        apply_mask([func_img, nib.Nifti1Image(np.ones((9, 10, 7, 2)), AFFINE)], mask_img)
    with pytest.raises(ValueError, match="'imgs' must not be an empty list"):
        apply_mask([], mask_img)
    with pytest.raises(ValueError, match=r"'imgs' must be a 3D or 4D image. Got a 2D image"):
        apply_mask(nib.Nifti1Image(np.ones((9, 10)), AFFINE), mask_img)
    with pytest.raises(TypeError, match=r"'imgs' must be a path .* Got ndarray"):
        apply_mask(np.ones(SHAPE), mask_img)


def test_apply_mask_nan_inside_mask_error(func_img, mask_img):
    data = func_img.get_fdata()
    data[4, 5, 3, 2] = np.nan
    img = nib.Nifti1Image(data, AFFINE)
    with pytest.raises(ValueError, match=r"'imgs' must contain only finite values inside the "
                       r"mask. Got 1 NaN"):
        apply_mask(img, mask_img)
    with pytest.raises(ValueError, match="only finite values inside the mask"):
        apply_mask(img, mask_img, smoothing_fwhm=4)


def test_unmask_errors(mask_img):
    n_voxels = int(mask_img.get_fdata().sum())
    with pytest.raises(ValueError, match=rf"one column per mask voxel \({n_voxels}\). Got shape "
                       rf"\(2, {n_voxels + 1}\)"):
        unmask(np.zeros((2, n_voxels + 1)), mask_img)
    with pytest.raises(ValueError, match=r"'X' must be 1D .* or 2D .* Got shape \(1, 1, "):
        unmask(np.zeros((1, 1, n_voxels)), mask_img)
