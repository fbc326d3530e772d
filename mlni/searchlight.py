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
  :class:`sklearn.naive_bayes.GaussianNB` refit on every sphere, including its variance
  smoothing (``1e-9`` times the largest variance in the sphere): the few predictions that
  smoothing or float rounding could flip are recomputed sphere by sphere.
* ``estimator="lda"``: a fast whole-brain path for shrinkage linear discriminant analysis,
  :class:`~sklearn.discriminant_analysis.LinearDiscriminantAnalysis` with
  ``solver="lsqr", shrinkage="auto"`` (Ledoit-Wolf), the classifier that searchlight
  toolboxes use by default. ``("lda", 0.1)`` fixes the shrinkage instead. The covariance of
  every pair of nearby voxels is computed once per fold and class; then each sphere's small
  covariance block is read off, shrunk in closed form and the p x p system of LDA solved,
  sphere by sphere in code compiled with numba (see :mod:`mlni._lda_searchlight`). The
  accuracies are those of the estimator refit on every sphere.
* any scikit-learn estimator object: the classic path, one ``cross_val_score`` per sphere,
  spread with joblib (processes by default, or any joblib backend such as dask, chosen
  with ``joblib.parallel_config``).

:func:`sphere_neighbors` builds the sparse voxel-by-voxel matrix of spheres used by both.
"""

from __future__ import annotations

from numbers import Integral, Real

import numpy as np
from joblib import Parallel, delayed, effective_n_jobs
from scipy import sparse
from scipy.spatial import cKDTree
from sklearn.base import clone
from sklearn.model_selection import check_cv, cross_val_score
from tqdm import tqdm

from mlni._checks import check_mask_img
from mlni._lda_searchlight import check_shrinkage, lda_search_light

__all__ = ["sphere_neighbors", "search_light"]

# GaussianNB adds VAR_SMOOTHING * (largest feature variance) to every variance.
_VAR_SMOOTHING = 1e-9
# Relative slack for float rounding when deciding that a prediction is certain.
_ROUNDING_SLACK = 1e-10
# Upper bound (in float64 numbers) of the block of per-voxel terms multiplied at once.
_BLOCK_SIZE = 2**23


def _load_mask(mask_img, name="mask_img"):
    """Return (boolean 3D array, affine) of a mask given as a path or a nibabel image.

    The checks are those of :func:`mlni._checks.check_mask_img` (binary, 3D, non-empty), so
    the searchlight accepts exactly the masks that :func:`mlni.masking.apply_mask` accepts.
    """
    img, mask = check_mask_img(mask_img, name=name)
    return mask, img.affine


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
    pairs = cKDTree(coords).query_pairs(radius, output_type="ndarray")  # i < j, d <= radius
    n_voxels = coords.shape[0]
    rows = np.concatenate([pairs[:, 0], pairs[:, 1], np.arange(n_voxels)])
    cols = np.concatenate([pairs[:, 1], pairs[:, 0], np.arange(n_voxels)])
    values = np.ones(rows.size)
    neighbors = sparse.csr_matrix((values, (rows, cols)), shape=(n_voxels, n_voxels))
    neighbors.sort_indices()
    return neighbors


def _check_data(X, y, mask):
    X = np.asarray(X)
    if X.ndim != 2:
        raise ValueError(f"'X' must be a 2D array (n_samples, n_voxels). Got shape {X.shape}.")
    if not np.isfinite(X).all():
        raise ValueError(
            f"'X' must not contain NaN or infinite values. Got {(~np.isfinite(X)).sum()}."
        )
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
    estimator : "gnb", "lda", ("lda", shrinkage) or scikit-learn classifier, default="gnb"
        ``"gnb"`` runs the fast whole-brain Gaussian naive Bayes searchlight; its
        accuracies equal those of :class:`~sklearn.naive_bayes.GaussianNB` refit on each
        sphere. ``"lda"`` runs the fast whole-brain searchlight of
        ``LinearDiscriminantAnalysis(solver="lsqr", shrinkage="auto")`` (Ledoit-Wolf
        shrinkage), with the accuracies of that estimator refit on each sphere;
        ``("lda", 0.1)`` uses the fixed shrinkage 0.1 (any number in [0, 1]) instead.
        Both give the accuracies of float64 computations (the LDA path reads its
        covariances in float32 and recomputes in float64 every sphere whose predictions
        that rounding could change; scikit-learn computes in the data's dtype, so with
        float32 data a prediction at a near-exact tie could differ). Any estimator object
        is cloned and cross-validated on each sphere in turn (the slow, general path).
    cv : int or cross-validation splitter
        As in :func:`sklearn.model_selection.cross_val_score` (an int means stratified
        K-fold). The same folds are used for every sphere.
    groups : array of shape (n_samples,), optional
        Group labels (e.g. runs) passed to the splitter, for leave-runs-out schemes.
    n_jobs : int, default=1
        Workers for the per-sphere path (-1: all cores, or all workers of the backend set
        with ``joblib.parallel_config``, e.g. a dask cluster). "gnb" and "lda" ignore it.
    progress : bool, default=True
        Show a progress bar (over spheres, or over folds for "gnb" and "lda").
    process_mask_img : str, pathlib.Path or nibabel image, optional
        Only compute spheres centred on voxels of this mask (same grid as ``mask_img``);
        spheres still use every voxel of ``mask_img``.

    Returns
    -------
    scores : array of shape (n_voxels,)
        Mean accuracy over folds of the sphere centred on each mask voxel; NaN for voxels
        outside ``process_mask_img``. Put back in a brain with ``mlni.masking.unmask``.

    Examples
    --------
    >>> from sklearn.model_selection import KFold
    >>> scores = search_light(X, y, "mask.nii.gz", radius=5.6, cv=KFold(4))  # doctest: +SKIP
    >>> lda_scores = search_light(X, y, "mask.nii.gz", radius=5.6, cv=KFold(4),
    ...                           estimator="lda")  # doctest: +SKIP
    >>> svc_scores = search_light(X, y, "mask.nii.gz", radius=5.6, cv=KFold(4),
    ...                           estimator=LinearSVC(), process_mask_img=two_slices,
    ...                           n_jobs=2)  # doctest: +SKIP
    """
    radius = _check_radius(radius)
    mask, affine = _load_mask(mask_img)
    X, y = _check_data(X, y, mask)
    fast = _check_estimator(estimator)
    if isinstance(n_jobs, bool) or not isinstance(n_jobs, Integral):
        raise TypeError(f"'n_jobs' must be an integer. Got {type(n_jobs).__name__}.")
    centres = _centres(mask, affine, process_mask_img)
    neighbors = sphere_neighbors(mask_img, radius)
    if centres.size < neighbors.shape[0]:
        neighbors = neighbors[centres]
    folds = list(check_cv(cv, y, classifier=True).split(X, y, groups))
    scores = np.full(X.shape[1], np.nan)
    if fast == "gnb":
        scores[centres] = _gnb_search_light(X, y, neighbors, folds, progress)
    elif fast is not None:
        scores[centres] = lda_search_light(X, y, mask, neighbors, centres, folds, fast[1], progress)
    else:
        scores[centres] = _generic_search_light(X, y, neighbors, estimator, folds, n_jobs, progress)
    return scores


def _check_estimator(estimator):
    """Return "gnb", ("lda", shrinkage) for the fast paths, or None for an estimator object."""
    expected = '\'estimator\' must be "gnb", "lda", ("lda", shrinkage) or an estimator'
    if isinstance(estimator, str):
        if estimator == "gnb":
            return "gnb"
        if estimator == "lda":
            return ("lda", "auto")
        raise ValueError(f"{expected} object. Got {estimator!r}.")
    if isinstance(estimator, tuple):
        if len(estimator) != 2 or not (isinstance(estimator[0], str) and estimator[0] == "lda"):
            raise ValueError(f"{expected} object. Got {estimator!r}.")
        return ("lda", check_shrinkage(estimator[1]))
    if not (hasattr(estimator, "fit") and hasattr(estimator, "predict")):
        raise TypeError(f"{expected} with fit and predict. Got {type(estimator).__name__}.")
    return None


def _gnb_search_light(X, y, neighbors, folds, progress):
    """Mean over folds of the per-sphere GaussianNB accuracy, all spheres at once."""
    accuracies = np.zeros((len(folds), neighbors.shape[0]))
    for k, (train, test) in enumerate(tqdm(folds, desc="folds", disable=not progress)):
        accuracies[k] = _gnb_fold_accuracy(X, y, neighbors, train, test)
    return accuracies.mean(axis=0)


def _gnb_fold_accuracy(X, y, neighbors, train, test):
    """Per-sphere accuracy of GaussianNB trained on ``train`` and tested on ``test``.

    GaussianNB's joint log-likelihood of a test sample for class c, on a sphere, is
    ``log prior_c - 0.5 * sum_j [log(2 pi (v_cj + e)) + (x_j - m_cj)**2 / (v_cj + e)]`` over
    the sphere's voxels j, where ``e`` (the variance smoothing) depends on the sphere. The
    first sum is cheap and computed exactly. The second is computed for all spheres and
    test samples with one sparse product, ignoring ``e``, which overestimates it by at most
    ``e / min(v)`` of its value (about 1e-9 on usual data). Where that bound (or float
    rounding) could change the winning class, the sphere is recomputed term by term.
    """
    X_train = np.asarray(X[train], dtype=np.float64)
    X_test = np.asarray(X[test], dtype=np.float64)
    classes, codes = np.unique(y[train], return_inverse=True)
    log_prior = np.log(np.bincount(codes) / codes.size)
    mean = np.stack([X_train[codes == c].mean(axis=0) for c in range(classes.size)])
    var = np.stack([X_train[codes == c].var(axis=0) for c in range(classes.size)])
    starts, voxels = neighbors.indptr[:-1], neighbors.indices
    total_var = X_train.var(axis=0)
    epsilon = _VAR_SMOOTHING * np.maximum.reduceat(total_var[voxels], starts)
    entry_epsilon = np.repeat(epsilon, np.diff(neighbors.indptr))
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):  # constant voxels
        log_det = np.column_stack(
            [np.add.reduceat(np.log(2 * np.pi * (v[voxels] + entry_epsilon)), starts) for v in var]
        )  # (n_spheres, n_classes), exact
        ratio = epsilon / np.minimum.reduceat(var.min(axis=0)[voxels], starts)
        jll = _quad_sparse_product(X_test, mean, var, neighbors)  # (n_spheres, n_classes, n_test)
        bound = jll.max(axis=1)  # error from ignoring epsilon, plus rounding: see docstring
        bound *= (0.5 * ratio + _ROUNDING_SLACK)[:, None]
        bound += (_ROUNDING_SLACK * np.abs(log_det).max(axis=1))[:, None]
        jll *= -0.5
        jll += (log_prior - 0.5 * log_det)[:, :, None]
        predicted, gap = _top_two(jll)
        unsure = ~(gap > bound).all(axis=1) & (classes.size > 1)
    if unsure.any():
        exact = _jll_exact(X_test, mean, var, neighbors[unsure], epsilon[unsure])
        predicted[unsure] = (exact + log_prior).argmax(axis=2)

    target = np.searchsorted(classes, y[test])
    target[classes[np.minimum(target, classes.size - 1)] != y[test]] = -1  # unseen class
    return (predicted == target).mean(axis=1)


def _top_two(jll):
    """Index of the largest ``jll[:, c]`` over c (first one on ties) and its lead on the next."""
    if jll.shape[1] == 2:
        return (jll[:, 1] > jll[:, 0]).astype(int), np.abs(jll[:, 1] - jll[:, 0])
    best, second = jll[:, 0].copy(), np.full_like(jll[:, 0], -np.inf)
    predicted = np.zeros(best.shape, dtype=int)
    for c in range(1, jll.shape[1]):
        better = jll[:, c] > best
        second = np.where(better, best, np.maximum(second, jll[:, c]))
        best = np.where(better, jll[:, c], best)
        predicted[better] = c
    return predicted, best - second


def _quad_sparse_product(X_test, mean, var, neighbors):
    """Sum over each sphere of ``(x - mean)**2 / var``: (n_spheres, n_classes, n_test)."""
    n_classes, n_voxels = mean.shape
    n_spheres, n_test = neighbors.shape[0], X_test.shape[0]
    inv_var = 1 / np.where(var > 0, var, 1.0)  # zero variances go to the exact path anyway
    X_test_t = np.ascontiguousarray(X_test.T)  # (n_voxels, n_test)
    block = max(1, _BLOCK_SIZE // (n_classes * n_voxels))
    quad = None if block >= n_test else np.empty((n_spheres, n_classes, n_test))
    for start in range(0, n_test, block):
        rows = slice(start, start + block)
        n_rows = X_test_t[:, rows].shape[1]
        terms = np.empty((n_voxels, n_classes, n_rows))
        for c in range(n_classes):
            np.subtract(X_test_t[:, rows], mean[c][:, None], out=terms[:, c])
            np.square(terms[:, c], out=terms[:, c])
            terms[:, c] *= inv_var[c][:, None]
        # the one sparse product: every sphere, class and test sample at once
        sums = neighbors @ terms.reshape(n_voxels, n_classes * n_rows)
        if quad is None:
            return sums.reshape(n_spheres, n_classes, n_rows)
        quad[:, :, rows] = sums.reshape(n_spheres, n_classes, n_rows)
    return quad


def _jll_exact(X_test, mean, var, neighbors, epsilon):
    """GaussianNB's log-likelihood without prior, term by term, for a few spheres."""
    n_test, n_classes = X_test.shape[0], mean.shape[0]
    starts, voxels = neighbors.indptr[:-1], neighbors.indices
    entry_epsilon = np.repeat(epsilon, np.diff(neighbors.indptr))
    jll = np.empty((neighbors.shape[0], n_test, n_classes))
    block = max(1, _BLOCK_SIZE // voxels.size)
    with np.errstate(divide="ignore", invalid="ignore"):  # as GaussianNB on constant data
        for c in range(n_classes):
            smoothed = var[c, voxels] + entry_epsilon
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
    # through joblib even with one job, so that joblib.parallel_config can send the chunks
    # to another backend (e.g. a dask cluster); return_as="generator" feeds the progress bar
    parallel = Parallel(n_jobs=n_jobs, return_as="generator")
    n_chunks = min(len(spheres), 50 * effective_n_jobs(n_jobs))
    chunks = np.array_split(np.arange(len(spheres)), n_chunks)
    bar = tqdm(total=len(spheres), desc="spheres", disable=not progress)
    results = parallel(
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
