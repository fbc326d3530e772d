"""Multi-subject spatial ICA and the matching of spatial maps.

The resting-state chapter extracts brain networks with the recipe of Calhoun et al. (2001):
reduce each subject's time series with a PCA, stack the reduced subjects, then run a
*spatial* FastICA, in which voxels are the samples. This module keeps that recipe short
and readable, and adds the tools to compare two sets of maps:

``reduce_subject``        one subject's (n_volumes, n_voxels) data -> its main spatial patterns
``concat_ica``            the whole recipe: reduce, concatenate, spatial ICA -> maps
``orient_maps``           z-score each map and flip its sign so that its heavy tail is positive
``spatial_correlation``   Pearson correlation between every pair of maps of two sets
``match_components``      one-to-one matching of two sets of maps (Hungarian assignment)
``component_at``          the map that is strongest around a given brain coordinate
``regions_from_maps``     split thresholded maps into connected regions (nodes of a connectome)

Maps are 2D arrays of shape (n_components, n_voxels), voxels in mask order, so that
``mlni.masking.unmask(maps, mask_img)`` turns them into a 4D image.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage
from scipy.optimize import linear_sum_assignment
from sklearn.decomposition import FastICA

__all__ = [
    "reduce_subject",
    "concat_ica",
    "orient_maps",
    "spatial_correlation",
    "match_components",
    "component_at",
    "regions_from_maps",
]


def _check_2d(X, name):
    """Return ``X`` as a 2D float array or raise an error naming the parameter."""
    if not hasattr(X, "shape") and not isinstance(X, (list, tuple)):
        raise TypeError(f"'{name}' must be a 2D array. Got {type(X).__name__}.")
    X = np.asarray(X, dtype=float)
    if X.ndim != 2:
        raise ValueError(f"'{name}' must be a 2D array. Got an array of shape {X.shape}.")
    return X


def _standardize_rows(maps):
    """Give each row zero mean and unit variance (constant rows become zeros)."""
    centered = maps - maps.mean(axis=1, keepdims=True)
    std = centered.std(axis=1, keepdims=True)
    std[std == 0] = 1.0
    return centered / std


def _check_positive_int(value, name):
    """Raise unless ``value`` is a positive integer."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"'{name}' must be an integer. Got {type(value).__name__}: {value!r}.")
    if value < 1:
        raise ValueError(f"'{name}' must be a positive integer. Got {value}.")


def reduce_subject(X, n_components):
    """Summarise one subject's time series by its main spatial patterns (PCA over time).

    Parameters
    ----------
    X : array of shape (n_volumes, n_voxels)
        Cleaned (detrended, standardised) time series of one subject.
    n_components : int
        Number of patterns kept; at most ``min(n_volumes, n_voxels)``.

    Returns
    -------
    patterns : array of shape (n_components, n_voxels)
        The first right singular vectors of ``X`` scaled by their singular values, so
        that stronger patterns weigh more once subjects are concatenated.

    Notes
    -----
    fMRI runs have far fewer volumes than voxels, so the singular vectors come from the
    small (n_volumes, n_volumes) matrix ``X @ X.T``: its eigenvectors ``U`` give the
    patterns ``U.T @ X`` exactly and cheaply. The sign of each pattern is fixed so that
    its largest absolute value is positive, which makes the result deterministic.
    """
    X = _check_2d(X, "X")
    _check_positive_int(n_components, "n_components")
    if n_components > min(X.shape):
        raise ValueError(
            f"'n_components' must be at most min(n_volumes, n_voxels) = {min(X.shape)}. "
            f"Got {n_components}."
        )
    _, eigenvectors = np.linalg.eigh(X @ X.T)
    patterns = eigenvectors[:, ::-1][:, :n_components].T @ X
    peaks = patterns[np.arange(n_components), np.argmax(np.abs(patterns), axis=1)]
    return patterns * np.where(peaks < 0, -1.0, 1.0)[:, np.newaxis]


def orient_maps(maps):
    """Z-score each map and flip its sign so that its heavy tail is positive.

    ICA recovers sources up to their sign and scale. A network is a small set of voxels
    with large values, so its distribution has one heavy tail: we make that tail
    positive (positive skewness) and give every map zero mean and unit variance.

    Parameters
    ----------
    maps : array of shape (n_components, n_voxels)

    Returns
    -------
    array of shape (n_components, n_voxels)
        The oriented, z-scored maps (a new array).
    """
    maps = _check_2d(maps, "maps")
    z = _standardize_rows(maps)
    skewness = (z**3).mean(axis=1)
    signs = np.where(skewness < 0, -1.0, 1.0)
    return z * signs[:, np.newaxis]


def concat_ica(subjects, *, n_components=10, n_subject_components=None, random_state=2,
               max_iter=400):
    """Extract group spatial maps with concatenation ICA (PCA per subject, then spatial ICA).

    Parameters
    ----------
    subjects : list of arrays of shape (n_volumes_i, n_voxels)
        Cleaned time series, one array per subject, same voxels (same mask) for all.
    n_components : int, default=10
        Number of independent components (maps) returned.
    n_subject_components : int, optional
        Number of PCA patterns kept per subject (default ``2 * n_components``, at most the
        number of volumes of the shortest subject).
    random_state : int, default=2
        Seed of FastICA (the paper uses 2).
    max_iter : int, default=400
        Maximum number of FastICA iterations.

    Returns
    -------
    maps : array of shape (n_components, n_voxels)
        Z-scored maps with their heavy tail positive (see :func:`orient_maps`).

    Notes
    -----
    In spatial ICA the voxels are the samples: the stacked patterns, of shape
    (n_subjects * n_subject_components, n_voxels), are transposed before FastICA, and the
    estimated *sources* are the maps.
    """
    if not isinstance(subjects, (list, tuple)) or len(subjects) == 0:
        raise TypeError(
            f"'subjects' must be a non-empty list of 2D arrays. Got {type(subjects).__name__}."
        )
    subjects = [_check_2d(X, "subjects") for X in subjects]
    n_voxels = {X.shape[1] for X in subjects}
    if len(n_voxels) != 1:
        raise ValueError(
            f"'subjects' must all have the same number of voxels. Got {sorted(n_voxels)}."
        )
    _check_positive_int(n_components, "n_components")
    if n_subject_components is None:
        n_subject_components = min(2 * n_components, min(X.shape[0] for X in subjects))
    _check_positive_int(n_subject_components, "n_subject_components")
    stacked = np.vstack([reduce_subject(X, n_subject_components) for X in subjects])
    if n_components > stacked.shape[0]:
        raise ValueError(
            f"'n_components' must be at most n_subjects * n_subject_components = "
            f"{stacked.shape[0]}. Got {n_components}."
        )
    ica = FastICA(n_components=n_components, whiten="unit-variance", max_iter=max_iter,
                  random_state=random_state)
    sources = ica.fit_transform(stacked.T)
    return orient_maps(sources.T)


def spatial_correlation(maps_a, maps_b):
    """Pearson correlation between every map of ``maps_a`` and every map of ``maps_b``.

    Parameters
    ----------
    maps_a : array of shape (n_a, n_voxels)
    maps_b : array of shape (n_b, n_voxels)

    Returns
    -------
    array of shape (n_a, n_b)
        Entry ``[i, j]`` is the correlation across voxels of map ``i`` of ``maps_a`` and
        map ``j`` of ``maps_b``.
    """
    a = _check_2d(maps_a, "maps_a")
    b = _check_2d(maps_b, "maps_b")
    if a.shape[1] != b.shape[1]:
        raise ValueError(
            f"'maps_a' and 'maps_b' must have the same number of voxels. "
            f"Got {a.shape[1]} and {b.shape[1]}."
        )
    return _standardize_rows(a) @ _standardize_rows(b).T / a.shape[1]


def match_components(maps_a, maps_b, *, absolute=True):
    """Pair each map of ``maps_a`` with a distinct map of ``maps_b``, most similar first.

    The pairing maximises the summed spatial correlation over all pairs at once (the
    Hungarian algorithm, :func:`scipy.optimize.linear_sum_assignment`), so that two maps
    of ``maps_a`` never claim the same map of ``maps_b``.

    Parameters
    ----------
    maps_a : array of shape (n_a, n_voxels)
    maps_b : array of shape (n_b, n_voxels)
    absolute : bool, default=True
        Match on the absolute correlation (ICA signs are arbitrary).

    Returns
    -------
    index_a, index_b : arrays of int of shape (min(n_a, n_b),)
        Matched pairs ``(maps_a[index_a[k]], maps_b[index_b[k]])``, sorted by decreasing
        correlation.
    correlation : array of shape (min(n_a, n_b),)
        The (signed) spatial correlation of each pair.
    """
    if not isinstance(absolute, bool):
        raise TypeError(f"'absolute' must be a bool. Got {type(absolute).__name__}.")
    table = spatial_correlation(maps_a, maps_b)
    score = np.abs(table) if absolute else table
    index_a, index_b = linear_sum_assignment(score, maximize=True)
    correlation = table[index_a, index_b]
    order = np.argsort(-np.abs(correlation) if absolute else -correlation, kind="stable")
    return index_a[order], index_b[order], correlation[order]


def component_at(maps, mask_img, coord, *, radius=6.0):
    """Index of the map with the largest mean value in a sphere around a coordinate.

    Used to name a component by its anatomy, e.g. the default mode network by its
    posterior cingulate / precuneus hub near MNI (0, -52, 26).

    Parameters
    ----------
    maps : array of shape (n_components, n_voxels)
        Maps in the voxel order of ``mask_img`` (oriented, see :func:`orient_maps`).
    mask_img : nibabel image
        The 3D mask that defines the voxels of ``maps``.
    coord : sequence of 3 floats
        World (e.g. MNI) coordinate in mm.
    radius : float, default=6.0
        Sphere radius in mm; the nearest mask voxel is used when none is inside.

    Returns
    -------
    index : int
        The component with the largest mean value in the sphere.
    values : array of shape (n_components,)
        The mean value of each component in the sphere.
    """
    maps = _check_2d(maps, "maps")
    coord = np.asarray(coord, dtype=float)
    if coord.shape != (3,):
        raise ValueError(f"'coord' must have 3 values (x, y, z in mm). Got {coord.tolist()}.")
    if not radius > 0:
        raise ValueError(f"'radius' must be positive. Got {radius}.")
    mask = np.asarray(mask_img.dataobj) != 0
    if mask.sum() != maps.shape[1]:
        raise ValueError(
            f"'maps' has {maps.shape[1]} voxels but 'mask_img' has {int(mask.sum())}."
        )
    ijk = np.column_stack(np.nonzero(mask))
    xyz = ijk @ mask_img.affine[:3, :3].T + mask_img.affine[:3, 3]
    distance = np.linalg.norm(xyz - coord, axis=1)
    inside = distance <= radius
    if not inside.any():
        inside = distance == distance.min()
    values = maps[:, inside].mean(axis=1)
    return int(np.argmax(values)), values


def regions_from_maps(maps, mask_img, *, threshold=2.0, min_size=10):
    """Split network maps into spatially connected regions.

    Every voxel goes to the map in which it has the largest value, if that value is above
    ``threshold``; the voxels of each map are then split into connected clusters (voxels
    sharing a face), and clusters smaller than ``min_size`` voxels are dropped. A network
    such as the default mode network thus gives several regions (its hubs), which can be
    the nodes of a connectome.

    Parameters
    ----------
    maps : array of shape (n_components, n_voxels)
        Oriented maps (see :func:`orient_maps`) in the voxel order of ``mask_img``.
    mask_img : nibabel image
        The 3D mask that defines the voxels of ``maps``.
    threshold : float, default=2.0
        Minimum value for a voxel to belong to a region.
    min_size : int, default=10
        Minimum number of voxels of a region.

    Returns
    -------
    labels : array of int of shape (n_voxels,)
        Region of each voxel, 1 to n_regions, 0 for voxels in no region. Regions are
        numbered by component, then by decreasing size.
    region_component : array of int of shape (n_regions,)
        The map each region comes from (``region_component[label - 1]``).
    """
    maps = _check_2d(maps, "maps")
    _check_positive_int(min_size, "min_size")
    mask = np.asarray(mask_img.dataobj) != 0
    if mask.sum() != maps.shape[1]:
        raise ValueError(
            f"'maps' has {maps.shape[1]} voxels but 'mask_img' has {int(mask.sum())}."
        )
    winner = np.argmax(maps, axis=0)
    strong = maps.max(axis=0) > threshold
    labels = np.zeros(maps.shape[1], dtype=int)
    region_component = []
    volume = np.zeros(mask.shape, dtype=bool)
    for k in range(maps.shape[0]):
        volume[mask] = strong & (winner == k)
        clusters, n_clusters = ndimage.label(volume)
        in_mask = clusters[mask]
        sizes = np.bincount(in_mask, minlength=n_clusters + 1)[1:]
        for cluster in np.argsort(-sizes, kind="stable"):
            if sizes[cluster] < min_size:
                break
            region_component.append(k)
            labels[in_mask == cluster + 1] = len(region_component)
    return labels, np.array(region_component, dtype=int)
