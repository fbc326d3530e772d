"""Tests of mlni.decomposition on small synthetic data with known sources."""

import nibabel as nib
import numpy as np
import pytest

from mlni.decomposition import (
    component_at,
    concat_ica,
    match_components,
    orient_maps,
    reduce_subject,
    regions_from_maps,
    spatial_correlation,
)

N_VOXELS = 600
N_NETWORKS = 4


def _sources(seed=0):
    """Sparse, heavy-tailed spatial sources: each network is a block of 60 voxels."""
    rng = np.random.default_rng(seed)
    sources = 0.05 * rng.standard_normal((N_NETWORKS, N_VOXELS))
    for k in range(N_NETWORKS):
        sources[k, 100 * k : 100 * k + 60] += 1.0 + 0.2 * rng.standard_normal(60)
    return sources


def _subjects(sources, n_subjects=3, n_volumes=80, seed=0):
    """Time series that mix the sources with random time courses plus noise."""
    rng = np.random.default_rng(seed)
    subjects = []
    for _ in range(n_subjects):
        time_courses = rng.standard_normal((n_volumes, sources.shape[0]))
        X = time_courses @ sources + 0.3 * rng.standard_normal((n_volumes, sources.shape[1]))
        X -= X.mean(axis=0)
        X /= X.std(axis=0)
        subjects.append(X)
    return subjects


def test_reduce_subject_shape_and_variance():
    X = _subjects(_sources())[0]
    patterns = reduce_subject(X, 5)
    assert patterns.shape == (5, N_VOXELS)
    norms = np.linalg.norm(patterns, axis=1)
    assert np.all(np.diff(norms) <= 1e-8), "patterns must come by decreasing singular value"
    # the four planted networks stand out from the noise patterns
    assert norms[3] > 2 * norms[4]
    # the patterns are the scaled right singular vectors (up to sign)
    _, s, vt = np.linalg.svd(X, full_matrices=False)
    np.testing.assert_allclose(np.abs(patterns), np.abs(s[:5, None] * vt[:5]), atol=1e-6)


def test_reduce_subject_errors():
    X = np.zeros((10, 20))
    with pytest.raises(ValueError, match="'n_components' must be at most min"):
        reduce_subject(X, 11)
    with pytest.raises(ValueError, match="'n_components' must be a positive integer. Got 0"):
        reduce_subject(X, 0)
    with pytest.raises(TypeError, match="'n_components' must be an integer"):
        reduce_subject(X, 2.5)
    with pytest.raises(ValueError, match="'X' must be a 2D array"):
        reduce_subject(np.zeros(5), 1)
    with pytest.raises(TypeError, match="'X' must be a 2D array. Got str"):
        reduce_subject("data", 1)


def test_orient_maps_zscores_and_flips():
    maps = -3.0 * _sources() + 7.0
    oriented = orient_maps(maps)
    np.testing.assert_allclose(oriented.mean(axis=1), 0, atol=1e-10)
    np.testing.assert_allclose(oriented.std(axis=1), 1, atol=1e-10)
    # the block of network k is now positive
    for k in range(N_NETWORKS):
        assert oriented[k, 100 * k : 100 * k + 60].mean() > 1.0
    # a constant map does not divide by zero
    assert np.all(orient_maps(np.ones((1, 5))) == 0)


def test_concat_ica_recovers_sources():
    sources = _sources()
    maps = concat_ica(_subjects(sources), n_components=N_NETWORKS, random_state=2)
    assert maps.shape == (N_NETWORKS, N_VOXELS)
    _, _, r = match_components(sources, maps)
    assert np.all(r > 0.9), f"every planted source should be found, got r = {r}"


def test_concat_ica_errors():
    subjects = _subjects(_sources(), n_subjects=2, n_volumes=10)
    with pytest.raises(TypeError, match="'subjects' must be a non-empty list"):
        concat_ica([])
    with pytest.raises(ValueError, match="same number of voxels"):
        concat_ica([subjects[0], subjects[1][:, :50]])
    with pytest.raises(ValueError, match="'n_components' must be at most n_subjects"):
        concat_ica(subjects, n_components=25, n_subject_components=10)


def test_spatial_correlation_matches_numpy():
    rng = np.random.default_rng(3)
    a, b = rng.standard_normal((3, 50)), rng.standard_normal((2, 50))
    expected = np.corrcoef(np.vstack([a, b]))[:3, 3:]
    np.testing.assert_allclose(spatial_correlation(a, b), expected, atol=1e-12)
    with pytest.raises(ValueError, match="same number of voxels. Got 50 and 40"):
        spatial_correlation(a, b[:, :40])


def test_match_components_is_one_to_one_and_sign_aware():
    sources = _sources()
    permuted = -sources[[2, 0, 3, 1]]
    index_a, index_b, r = match_components(sources, permuted)
    assert sorted(index_b) == [0, 1, 2, 3]
    assert dict(zip(index_a, index_b, strict=True)) == {0: 1, 1: 3, 2: 0, 3: 2}
    np.testing.assert_allclose(r, -1.0)
    # without absolute values, negative matches are avoided when possible
    _, _, r_signed = match_components(sources[:2], np.vstack([-sources[:2], sources[:2]]),
                                      absolute=False)
    np.testing.assert_allclose(r_signed, 1.0)
    with pytest.raises(TypeError, match="'absolute' must be a bool"):
        match_components(sources, sources, absolute="yes")


def _mask_img():
    mask = np.zeros((10, 10, 10), dtype=np.uint8)
    mask[2:8, 2:8, 2:8] = 1
    affine = np.diag([2.0, 2.0, 2.0, 1.0])
    affine[:3, 3] = -10.0
    return nib.Nifti1Image(mask, affine)


def test_component_at_finds_the_local_map():
    mask_img = _mask_img()
    n_voxels = int(np.asarray(mask_img.dataobj).sum())
    maps = np.zeros((3, n_voxels))
    ijk = np.column_stack(np.nonzero(np.asarray(mask_img.dataobj)))
    xyz = ijk * 2.0 - 10.0
    near = np.linalg.norm(xyz - [4.0, 4.0, 4.0], axis=1) < 3
    maps[1, near] = 5.0
    maps[2, np.all(xyz == -6.0, axis=1)] = 1.0
    index, values = component_at(maps, mask_img, (4, 4, 4), radius=4)
    assert index == 1 and values.shape == (3,)
    # far outside the mask the nearest voxel is used
    index, _ = component_at(maps, mask_img, (-100, -100, -100))
    assert index == 2


def test_component_at_errors():
    mask_img = _mask_img()
    maps = np.zeros((2, 216))
    with pytest.raises(ValueError, match="'coord' must have 3 values"):
        component_at(maps, mask_img, (0, 0))
    with pytest.raises(ValueError, match="'radius' must be positive. Got -2"):
        component_at(maps, mask_img, (0, 0, 0), radius=-2)
    with pytest.raises(ValueError, match="'maps' has 10 voxels but 'mask_img' has 216"):
        component_at(np.zeros((2, 10)), mask_img, (0, 0, 0))


def test_regions_from_maps_splits_networks():
    mask_img = _mask_img()
    mask = np.asarray(mask_img.dataobj) != 0
    volumes = np.zeros((2,) + mask.shape)
    volumes[0, 2:4, 2:4, 2:5] = 3.0      # network 0: two separate blobs of 12 and 8 voxels
    volumes[0, 6:8, 6:8, 6:8] = 3.0
    volumes[1, 2:8, 6:8, 2:4] = 2.5      # network 1: one blob of 24 voxels
    volumes[1, 7, 2, 7] = 9.0            # and a lone voxel, too small to count
    maps = volumes[:, mask]
    labels, region_component = regions_from_maps(maps, mask_img, threshold=2, min_size=5)
    assert region_component.tolist() == [0, 0, 1]
    assert np.bincount(labels).tolist()[1:] == [12, 8, 24]
    # voxels strong in two maps go to the stronger one; regions are sorted by size
    maps[0, labels == 3] = 2.6
    labels2, region_component2 = regions_from_maps(maps, mask_img, threshold=2, min_size=5)
    assert region_component2.tolist() == [0, 0, 0]
    assert np.bincount(labels2).tolist()[1:] == [24, 12, 8]


def test_regions_from_maps_errors():
    mask_img = _mask_img()
    with pytest.raises(ValueError, match="'maps' has 5 voxels but 'mask_img' has 216"):
        regions_from_maps(np.zeros((2, 5)), mask_img)
    with pytest.raises(ValueError, match="'min_size' must be a positive integer. Got 0"):
        regions_from_maps(np.zeros((2, 216)), mask_img, min_size=0)
