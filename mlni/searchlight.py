"""Searchlight: cross-validated decoding in a small sphere around every voxel.

The searchlight (Kriegeskorte et al., 2006) asks, for every voxel, how well a classifier
that only sees the voxels of a small sphere centred there predicts the target. The result
is a map of cross-validated accuracies.

Two ways to compute it are offered by :func:`search_light`:

* ``estimator="gnb"``: a fast whole-brain path for Gaussian naive Bayes. A naive Bayes
  classifier treats voxels as independent, so its log-likelihood is a sum of per-voxel
  terms. For each cross-validation fold we compute the per-voxel class means and variances
  once, then sum the per-voxel terms over every sphere at once with a single sparse matrix
  product ``neighbors @ terms``. The accuracies are those of
  :class:`sklearn.naive_bayes.GaussianNB` refit on every sphere.
* any scikit-learn estimator object: the classic path, one ``cross_val_score`` per sphere,
  spread over processes with joblib.

:func:`sphere_neighbors` builds the sparse voxel-by-voxel matrix of spheres used by both.
"""

from __future__ import annotations

from numbers import Integral, Real
from pathlib import Path

import nibabel as nib
import numpy as np
from joblib import Parallel, delayed, effective_n_jobs
from scipy import sparse
from sklearn.base import clone
from sklearn.model_selection import check_cv, cross_val_score
from sklearn.neighbors import NearestNeighbors
from tqdm import tqdm

__all__ = ["sphere_neighbors", "search_light"]

# GaussianNB adds VAR_SMOOTHING * (largest feature variance) to every variance.
_VAR_SMOOTHING = 1e-9
# Spheres where that addition is larger than this fraction of a class variance are
# computed exactly, one by one, instead of with the first-order correction.
_TAYLOR_LIMIT = 1e-6
# Upper bound (in float64 numbers) of the block of per-voxel terms multiplied at once.
_BLOCK_SIZE = 2**23


def _load_mask(mask_img, name="mask_img"):
    """Return (boolean 3D array, affine) of a mask given as a path or a nibabel image."""
    if isinstance(mask_img, (str, Path)):
        mask_img = nib.load(mask_img)
    if not isinstance(mask_img, nib.spatialimages.SpatialImage):
        raise TypeError(
            f"'{name}' must be a path or a nibabel image. Got {type(mask_img).__name__}."
        )
    data = np.asarray(mask_img.dataobj)
    if data.ndim != 3:
        raise ValueError(f"'{name}' must be a 3D image. Got an image of shape {data.shape}.")
    mask = np.isfinite(data) & (data != 0)
    if not mask.any():
        raise ValueError(f"'{name}' is empty: it has no non-zero voxel.")
    return mask, mask_img.affine


def _check_radius(radius):
    if isinstance(radius, bool) or not isinstance(radius, Real):
        raise TypeError(f"'radius' must be a number (mm). Got {type(radius).__name__}.")
    if not np.isfinite(radius) or radius <= 0:
        raise ValueError(f"'radius' must be positive. Got {radius}.")
    return float(radius)


def sphere_neighbors(mask_img, radius):
    """Sparse matrix of the mask voxels lying in a sphere around each mask voxel.

    Distances are measured in millimetres, in world coordinates given by the image's
    affine, so voxels that are not cubic (e.g. 3.5 x 3.75 x 3.75 mm) are handled.

    Parameters
    ----------
    mask_img : str, pathlib.Path or nibabel image
        3D mask; its non-zero voxels are the voxels of the analysis, in the order of
        ``numpy.nonzero`` (the order of ``mlni.masking.apply_mask``).
    radius : float
        Radius of the spheres in mm. A voxel belongs to a sphere when its distance to the
        centre is at most ``radius``; the centre always belongs to its own sphere.

    Returns
    -------
    neighbors : scipy.sparse.csr_matrix of shape (n_voxels, n_voxels)
        ``neighbors[i, j]`` is 1.0 when mask voxel ``j`` lies in the sphere centred on mask
        voxel ``i``, else 0 (float64, so that it can be multiplied with data directly).
    """
    radius = _check_radius(radius)
    mask, affine = _load_mask(mask_img)
    ijk = np.column_stack(np.nonzero(mask)).astype(float)
    coords = ijk @ affine[:3, :3].T + affine[:3, 3]
    search = NearestNeighbors(radius=radius).fit(coords)
    neighbors = search.radius_neighbors_graph(coords, mode="connectivity")
    neighbors = sparse.csr_matrix(neighbors, dtype=np.float64)
    neighbors.sort_indices()
    return neighbors


def _check_data(X, y, mask):
    X = np.asarray(X)
    if X.ndim != 2:
        raise ValueError(f"'X' must be a 2D array (n_samples, n_voxels). Got shape {X.shape}.")
    y = np.asarray(y)
    if y.ndim != 1 or y.shape[0] != X.shape[0]:
        raise ValueError(
            f"'y' must be 1D with one label per row of 'X' ({X.shape[0]}). Got shape {y.shape}."
        )
    n_voxels = int(mask.sum())
    if X.shape[1] != n_voxels:
        raise ValueError(
            f"'X' must have one column per mask voxel ({n_voxels}). Got {X.shape[1]} columns."
        )
    classes = np.unique(y)
    if classes.size < 2:
        raise ValueError(f"'y' must contain at least two classes. Got only {classes.tolist()}.")
    return X, y


def _centres(mask, affine, process_mask_img):
    """Indices (into the mask voxels) of the sphere centres."""
    if process_mask_img is None:
        return np.arange(int(mask.sum()))
    process, process_affine = _load_mask(process_mask_img, "process_mask_img")
    if process.shape != mask.shape or not np.allclose(process_affine, affine):
        raise ValueError(
            "'process_mask_img' must be on the grid of 'mask_img' (same shape and affine). "
            f"Got shape {process.shape} for mask shape {mask.shape}."
        )
    centres = np.flatnonzero(process[mask])
    if centres.size == 0:
        raise ValueError("'process_mask_img' has no voxel inside 'mask_img'.")
    return centres


def search_light(
    X,
    y,
    mask_img,
    *,
    radius,
    estimator="gnb",
    cv,
    groups=None,
    n_jobs=1,
    progress=True,
    process_mask_img=None,
):
    """Cross-validated accuracy of a classifier restricted to a sphere around each voxel.

    Parameters
    ----------
    X : array of shape (n_samples, n_voxels)
        Masked data, one column per non-zero voxel of ``mask_img``.
    y : array of shape (n_samples,)
        Class labels (at least two classes).
    mask_img : str, pathlib.Path or nibabel image
        3D mask that produced the columns of ``X``.
    radius : float
        Sphere radius in mm (see :func:`sphere_neighbors`).
    estimator : "gnb" or scikit-learn classifier, default="gnb"
        ``"gnb"`` runs the fast whole-brain Gaussian naive Bayes searchlight; its
        accuracies equal those of :class:`~sklearn.naive_bayes.GaussianNB` refit on each
        sphere (computed in float64, so give float64 data to compare). Any estimator
        object is cloned and cross-validated on each sphere in turn.
    cv : int or cross-validation splitter
        As in :func:`sklearn.model_selection.cross_val_score` (an int means stratified
        K-fold). The same folds are used for every sphere.
    groups : array of shape (n_samples,), optional
        Group labels (e.g. runs) passed to the splitter, for leave-runs-out schemes.
    n_jobs : int, default=1
        Processes for the per-sphere path (-1: all cores). The "gnb" path ignores it.
    progress : bool, default=True
        Show a progress bar (over spheres, or over folds for "gnb").
    process_mask_img : str, pathlib.Path or nibabel image, optional
        Only compute spheres centred on voxels of this mask (same grid as ``mask_img``);
        spheres still use every voxel of ``mask_img``.

    Returns
    -------
    scores : array of shape (n_voxels,)
        Mean accuracy over folds of the sphere centred on each mask voxel; NaN for voxels
        outside ``process_mask_img``. Put back in a brain with ``mlni.masking.unmask``.
    """
    radius = _check_radius(radius)
    mask, affine = _load_mask(mask_img)
    X, y = _check_data(X, y, mask)
    if isinstance(estimator, str):
        if estimator != "gnb":
            raise ValueError(
                f"'estimator' must be \"gnb\" or an estimator object. Got {estimator!r}."
            )
    elif not (hasattr(estimator, "fit") and hasattr(estimator, "predict")):
        raise TypeError(
            "'estimator' must be \"gnb\" or a scikit-learn classifier with fit and predict. "
            f"Got {type(estimator).__name__}."
        )
    if isinstance(n_jobs, bool) or not isinstance(n_jobs, Integral):
        raise TypeError(f"'n_jobs' must be an integer. Got {type(n_jobs).__name__}.")
    centres = _centres(mask, affine, process_mask_img)
    neighbors = sphere_neighbors(mask_img, radius)[centres]
    folds = list(check_cv(cv, y, classifier=True).split(X, y, groups))
    scores = np.full(X.shape[1], np.nan)
    if isinstance(estimator, str):
        scores[centres] = _gnb_search_light(X, y, neighbors, folds, progress)
    else:
        scores[centres] = _generic_search_light(X, y, neighbors, estimator, folds, n_jobs, progress)
    return scores


def _gnb_search_light(X, y, neighbors, folds, progress):
    """Mean over folds of the per-sphere GaussianNB accuracy, all spheres at once."""
    accuracies = np.zeros((len(folds), neighbors.shape[0]))
    for k, (train, test) in enumerate(tqdm(folds, desc="folds", disable=not progress)):
        accuracies[k] = _gnb_fold_accuracy(X, y, neighbors, train, test)
    return accuracies.mean(axis=0)


def _gnb_fold_accuracy(X, y, neighbors, train, test):
    """Per-sphere accuracy of GaussianNB trained on ``train`` and tested on ``test``."""
    X_train = X[train].astype(np.float64)
    X_test = X[test].astype(np.float64)
    classes, codes = np.unique(y[train], return_inverse=True)
    log_prior = np.log(np.bincount(codes) / codes.size)
    mean = np.stack([X_train[codes == c].mean(axis=0) for c in range(classes.size)])
    var = np.stack([X_train[codes == c].var(axis=0) for c in range(classes.size)])
    # GaussianNB's smoothing: 1e-9 times the largest (all-class) variance in the sphere.
    starts = neighbors.indptr[:-1]
    epsilon = _VAR_SMOOTHING * np.maximum.reduceat(X_train.var(axis=0)[neighbors.indices], starts)
    # The sparse product needs epsilon to be negligible against every variance in the sphere.
    min_var = np.minimum.reduceat(var.min(axis=0)[neighbors.indices], starts)
    taylor = (epsilon <= _TAYLOR_LIMIT * min_var) & (min_var > 0)

    jll = np.empty((neighbors.shape[0], X_test.shape[0], classes.size))
    for rows, jll_function in [(taylor, _jll_sparse_product), (~taylor, _jll_exact)]:
        if rows.any():
            jll[rows] = jll_function(X_test, mean, var, neighbors[rows], epsilon[rows])
    jll += log_prior

    target = np.searchsorted(classes, y[test])
    target[classes[np.minimum(target, classes.size - 1)] != y[test]] = -1  # unseen class
    return (jll.argmax(axis=2) == target).mean(axis=1)


def _jll_sparse_product(X_test, mean, var, neighbors, epsilon):
    """Log-likelihood (without prior) of each test sample, per sphere and class.

    Exact to float precision when ``epsilon / var`` is below about 1e-6 in every sphere:
    ``log(v + e) = log(v) + e / v`` and ``d / (v + e) = d / v - e * d / v**2`` up to
    ``(e / v)**2``, so every term is a sum over the sphere's voxels of a per-voxel quantity,
    times 1 or ``e``: a product of ``neighbors`` with a matrix of per-voxel terms.
    """
    n_test, n_classes = X_test.shape[0], mean.shape[0]
    jll = np.empty((neighbors.shape[0], n_test, n_classes))
    safe_var = np.where(var > 0, var, 1.0)  # voxels outside these spheres may have var 0
    block = max(1, _BLOCK_SIZE // (2 * X_test.shape[1]))
    for c in range(n_classes):
        terms = np.column_stack([np.log(2 * np.pi * safe_var[c]), 1 / safe_var[c]])
        sums = neighbors @ terms
        jll[:, :, c] = -0.5 * (sums[:, 0] + epsilon * sums[:, 1])[:, None]
        for start in range(0, n_test, block):
            rows = slice(start, start + block)
            scaled = (X_test[rows] - mean[c]) ** 2 / safe_var[c]
            sums = neighbors @ np.vstack([scaled, scaled / safe_var[c]]).T
            n_rows = scaled.shape[0]
            jll[:, rows, c] -= 0.5 * (sums[:, :n_rows] - epsilon[:, None] * sums[:, n_rows:])
    return jll


def _jll_exact(X_test, mean, var, neighbors, epsilon):
    """Same as :func:`_jll_sparse_product`, computed term by term (for tiny variances)."""
    n_test, n_classes = X_test.shape[0], mean.shape[0]
    starts, voxels = neighbors.indptr[:-1], neighbors.indices
    sphere_eps = np.repeat(epsilon, np.diff(neighbors.indptr))  # epsilon of each entry
    jll = np.empty((neighbors.shape[0], n_test, n_classes))
    block = max(1, _BLOCK_SIZE // voxels.size)
    with np.errstate(divide="ignore", invalid="ignore"):  # as GaussianNB on constant data
        for c in range(n_classes):
            smoothed = var[c, voxels] + sphere_eps
            jll[:, :, c] = -0.5 * np.add.reduceat(np.log(2 * np.pi * smoothed), starts)[:, None]
            for start in range(0, n_test, block):
                rows = slice(start, start + block)
                quad = (X_test[rows][:, voxels] - mean[c, voxels]) ** 2 / smoothed
                jll[:, rows, c] -= 0.5 * np.add.reduceat(quad, starts, axis=1).T
    return jll


def _generic_search_light(X, y, neighbors, estimator, folds, n_jobs, progress):
    """Mean cross-validated accuracy of ``estimator`` refit on each sphere."""
    spheres = [
        neighbors.indices[neighbors.indptr[i] : neighbors.indptr[i + 1]]
        for i in range(neighbors.shape[0])
    ]
    n_chunks = min(len(spheres), 50 * effective_n_jobs(n_jobs))
    chunks = np.array_split(np.arange(len(spheres)), n_chunks)
    bar = tqdm(total=len(spheres), desc="spheres", disable=not progress)
    if effective_n_jobs(n_jobs) == 1:
        results = (
            _score_spheres(X, y, [spheres[i] for i in chunk], estimator, folds) for chunk in chunks
        )
    else:
        results = Parallel(n_jobs=n_jobs, return_as="generator")(
            delayed(_score_spheres)(X, y, [spheres[i] for i in chunk], estimator, folds)
            for chunk in chunks
        )
    scores = []
    for chunk_scores in results:
        scores.append(chunk_scores)
        bar.update(chunk_scores.size)
    bar.close()
    return np.concatenate(scores)


def _score_spheres(X, y, spheres, estimator, folds):
    """Mean cross-validated accuracy of ``estimator`` on each sphere of a chunk."""
    scores = np.empty(len(spheres))
    for i, voxels in enumerate(spheres):
        fold_scores = cross_val_score(clone(estimator), X[:, voxels], y, cv=folds)
        scores[i] = fold_scores.mean()
    return scores
