"""Helpers refuse bad input with an error naming the parameter, never a silent wrong answer.

One mask checker (images and paths) and one positive-number checker serve every module.
"""

from __future__ import annotations

import math

import nibabel as nib
import numpy as np
import pytest

from mlni import decomposition, masking, searchlight
from mlni._checks import check_mask_img, check_positive
from mlni.miyawaki import f_scores, receptive_fields
from mlni.signal import clean


def mask_img(values=(0, 1), shape=(6, 6, 6)):
    data = np.full(shape, values[0], dtype="float32")
    data[1:5, 1:5, 1:5] = values[1]
    return nib.Nifti1Image(data, np.diag([2.0, 2.0, 2.0, 1.0]))


@pytest.fixture
def mask_path(tmp_path):
    path = tmp_path / "mask.nii.gz"
    nib.save(mask_img(), path)
    return path


def maps_for(mask, n_components=3, seed=0):
    n_voxels = int(np.asarray(mask.dataobj).astype(bool).sum())
    return np.random.default_rng(seed).standard_normal((n_components, n_voxels))


# -- receptive_fields ----------------------------------------------------------------------


def stimuli(n_samples=30, seed=0):
    rng = np.random.default_rng(seed)
    Y = rng.integers(0, 2, (n_samples, 100)).astype(float)
    X = Y[:, :4] + 0.1 * rng.standard_normal((n_samples, 4))
    return X, Y


def test_receptive_fields_refuses_a_transposed_X():
    X, Y = stimuli()
    assert receptive_fields(Y, X, max_iter=5).shape == (4, 10, 10)
    with pytest.raises(
        ValueError,
        match=r"'X_voxels' must have shape \(n_samples, n_voxels\) with n_samples = 30, .* "
        r"Got shape \(4, 30\) \(transposed\?\)\.",
    ):
        receptive_fields(Y, X.T)


def test_receptive_fields_refuses_mis_sized_inputs():
    X, Y = stimuli()
    with pytest.raises(ValueError, match=r"'X_voxels' .* Got shape \(60, 2\)\.$"):
        receptive_fields(Y, X.reshape(60, 2))  # same number of values, other rows
    with pytest.raises(ValueError, match=r"'X_voxels' .* Got shape \(29, 4\)"):
        receptive_fields(Y, X[:-1])
    with pytest.raises(ValueError, match=r"'Y' must have shape \(n_samples, 100\).*\(30, 99\)"):
        receptive_fields(Y[:, :-1], X)
    X[3, 1] = np.nan
    with pytest.raises(ValueError, match=r"'X_voxels' must contain only finite values. Got 1 "):
        receptive_fields(Y, X)


# -- decomposition -------------------------------------------------------------------------


def test_component_at_and_regions_accept_mask_paths(mask_path):
    img = mask_img()
    maps = maps_for(img)
    index, values = decomposition.component_at(maps, img, (4.0, 4.0, 4.0))
    assert decomposition.component_at(maps, mask_path, (4.0, 4.0, 4.0))[0] == index
    assert decomposition.component_at(maps, str(mask_path), (4.0, 4.0, 4.0))[1] == (
        pytest.approx(values)
    )
    labels, components = decomposition.regions_from_maps(maps, img, threshold=0.5, min_size=1)
    from_path = decomposition.regions_from_maps(maps, mask_path, threshold=0.5, min_size=1)
    np.testing.assert_array_equal(from_path[0], labels)
    np.testing.assert_array_equal(from_path[1], components)


def test_component_at_refuses_a_nan_coordinate():
    img = mask_img()
    with pytest.raises(ValueError, match=r"'coord' must hold finite values .* Got \[nan, 0\.0, "):
        decomposition.component_at(maps_for(img), img, (math.nan, 0.0, 0.0))


def test_decomposition_refuses_non_binary_masks_and_bad_numbers(tmp_path):
    bad = mask_img(values=(0, 2))
    maps = maps_for(mask_img())
    with pytest.raises(ValueError, match=r"'mask_img' must be binary .* Got values \[0\.0, 2\.0\]"):
        decomposition.component_at(maps, bad, (0, 0, 0))
    with pytest.raises(ValueError, match=r"'mask_img' must be binary"):
        decomposition.regions_from_maps(maps, bad)
    with pytest.raises(FileNotFoundError, match=r"'mask_img': no such file: '.*nope\.nii\.gz'"):
        decomposition.regions_from_maps(maps, tmp_path / "nope.nii.gz")
    with pytest.raises(ValueError, match=r"'radius' must be positive\. Got nan"):
        decomposition.component_at(maps, mask_img(), (0, 0, 0), radius=math.nan)
    with pytest.raises(TypeError, match=r"'radius' must be a number\. Got str: '6'"):
        decomposition.component_at(maps, mask_img(), (0, 0, 0), radius="6")
    with pytest.raises(ValueError, match=r"'threshold' must be a number, not NaN\. Got nan"):
        decomposition.regions_from_maps(maps, mask_img(), threshold=math.nan)


@pytest.mark.parametrize(
    ("call", "name"),
    [
        (lambda X: decomposition.reduce_subject(X, 2), "X"),
        (lambda X: decomposition.orient_maps(X), "maps"),
        (lambda X: decomposition.spatial_correlation(X, np.ones_like(X)), "maps_a"),
        (lambda X: decomposition.concat_ica([X, X], n_components=2), "subjects"),
        (lambda X: decomposition.component_at(X[:, :64], mask_img(), (4, 4, 4)), "maps"),
    ],
)
def test_decomposition_refuses_nan(call, name):
    X = np.random.default_rng(0).standard_normal((10, 80))
    X[2, 5] = np.nan
    with pytest.raises(ValueError, match=rf"'{name}' must contain only finite values\. Got 1 "):
        call(X)


def test_f_scores_refuses_nan():
    X, Y = stimuli()
    X[0, 0] = np.inf
    with pytest.raises(ValueError, match=r"'X' must contain only finite values\. Got 1 NaN or"):
        f_scores(X, Y)


# -- signal.clean --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "btype"),
    [
        (dict(low_pass=0.1), "lowpass"),
        (dict(high_pass=0.01), "highpass"),
        (dict(low_pass=0.1, high_pass=0.01), "bandpass"),
    ],
)
def test_clean_refuses_a_series_too_short_for_its_filter(kwargs, btype):
    signals = np.random.default_rng(0).standard_normal((10, 3))
    with pytest.raises(
        ValueError,
        match=rf"'signals' is too short to be filtered: the {btype} Butterworth filter \(order "
        r"5\) needs more than \d+ time points\. Got 10\.",
    ):
        clean(signals, t_r=2.0, **kwargs)
    assert clean(signals, t_r=2.0).shape == (10, 3)  # no filter: fine


def test_clean_filters_the_shortest_series_it_accepts():
    for n in range(2, 60):
        try:
            clean(np.random.default_rng(n).standard_normal((n, 2)), t_r=2.0, high_pass=0.01)
        except ValueError as exc:
            assert "too short to be filtered" in str(exc)
        else:
            break
    assert 10 < n < 60  # then every longer series is filtered without scipy's padlen error
    clean(np.random.default_rng(0).standard_normal((n + 1, 2)), t_r=2.0, high_pass=0.01)


# -- searchlight: the same masks as apply_mask ---------------------------------------------


def test_searchlight_refuses_the_masks_apply_mask_refuses(mask_path):
    bad = mask_img(values=(0, 2))
    imgs = nib.Nifti1Image(np.ones((6, 6, 6, 4), "float32"), bad.affine)
    with pytest.raises(ValueError, match=r"'mask_img' must be binary") as masking_error:
        masking.apply_mask(imgs, bad)
    with pytest.raises(ValueError, match=r"'mask_img' must be binary") as searchlight_error:
        searchlight.sphere_neighbors(bad, radius=3.0)
    assert str(searchlight_error.value) == str(masking_error.value)
    X = np.zeros((4, 64))
    with pytest.raises(ValueError, match=r"'mask_img' must be binary .* Got values \[0\.0, 2\."):
        searchlight.search_light(X, np.array([0, 1, 0, 1]), bad, radius=3.0, cv=2)
    with pytest.raises(ValueError, match=r"'process_mask_img' must be binary"):
        searchlight.search_light(X, np.array([0, 1, 0, 1]), mask_path, radius=3.0, cv=2,
                                 process_mask_img=bad)  # fmt: skip
    assert searchlight.sphere_neighbors(mask_path, radius=2.0).shape == (64, 64)


# -- the shared checkers -------------------------------------------------------------------


def test_one_mask_checker_for_images_and_paths(mask_path):
    img, mask = check_mask_img(mask_path)
    img2, mask2 = check_mask_img(str(mask_path))
    np.testing.assert_array_equal(mask, mask2)
    assert mask.sum() == 64 and img.shape == (6, 6, 6)
    nan_mask = mask_img(values=(0, 1))
    nan_mask.get_fdata()[0, 0, 0] = np.nan
    with pytest.raises(ValueError, match=r"'m' must be binary .* and non-finite values"):
        check_mask_img(nib.Nifti1Image(nan_mask.get_fdata(), nan_mask.affine), name="m")


@pytest.mark.parametrize(
    ("value", "kwargs", "error", "match"),
    [
        (0, {}, ValueError, r"'p' must be positive\. Got 0\."),
        (math.inf, {}, ValueError, r"'p' must be positive\. Got inf\."),
        (-1, dict(allow_zero=True), ValueError, r"'p' must be non-negative\. Got -1\."),
        (2.0, dict(integer=True), TypeError, r"'p' must be an integer\. Got float: 2\.0\."),
        (True, dict(integer=True), TypeError, r"'p' must be an integer\. Got bool: True\."),
        (0, dict(integer=True), ValueError, r"'p' must be a positive integer\. Got 0\."),
        ("1", {}, TypeError, r"'p' must be a number\. Got str: '1'\."),
    ],
)
def test_one_positive_number_checker(value, kwargs, error, match):
    with pytest.raises(error, match=match):
        check_positive(value, name="p", **kwargs)
    assert check_positive(np.int64(3), name="p", integer=True) == 3
