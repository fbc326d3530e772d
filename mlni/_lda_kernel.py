"""Compiled loops of the shrinkage-LDA searchlight (private to :mod:`mlni`; numba).

* :func:`sphere_accuracies`, for every sphere of one fold: read the sphere's p x p block of
  the class covariances from the single-precision tables, assemble the shrunk pooled
  covariance ``sigma`` in double precision, factor it (Cholesky), solve for the
  coefficients, score the test samples and count the correct predictions. Done sphere by
  sphere, the p x p matrices stay in the processor's cache (the NumPy version of this step,
  a gather of all the blocks, a stacked ``numpy.linalg.solve`` and a sparse product for the
  scores, spent most of its time moving them through memory). It also says which spheres to
  recompute more precisely: a prediction whose margin is within the rounding error of the
  tables, or a ``sigma`` that is not numerically positive definite.
* :func:`pair_cross_products`: the table of cross-products of every voxel with the voxels at
  each displacement from it, per group of samples.
* :func:`sphere_square_sums`: the sums over each sphere that Ledoit-Wolf's ``beta_`` needs.

The functions are compiled on first use and cached on disk (``cache=True``); they run on one
core.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit


@njit(cache=True, nogil=True, error_model="numpy", fastmath={"contract", "reassoc"})
def sphere_accuracies(
    members,
    sizes,
    offset_index,
    cell_code,
    tables,
    weights,
    diagonal,
    means,
    log_priors,
    test_values,
    test_norms,
    target,
    single_tolerance,
    single_epsilon,
):
    """Accuracy of LDA on each sphere of one fold, and the spheres to recompute.

    Parameters
    ----------
    members : int array (n_spheres, p_max)
        The voxels of each sphere, its ``sizes[s]`` first entries being real.
    sizes : int array (n_spheres,)
    offset_index : int array (n_spheres, p_max)
        The offset of each member from the sphere's centre.
    cell_code : int array (n_offsets + 1, n_offsets + 1)
        For two offsets a, b: ``2 * column + from_b``, the column of the pair's displacement
        in a table and whether the pair is read on the row of voxel b (else of voxel a).
    tables : float32 array (n_voxels + 1, n_columns, n_classes)
        The class covariances of every (voxel, displacement) cell.
    weights : float array (n_spheres, n_classes)
        The weight of each class's covariance in ``sigma`` (prior times one minus shrinkage).
    diagonal : float array (n_spheres, p_max)
        What the shrinkage adds to the diagonal of ``sigma``.
    means : float array (n_voxels + 1, n_classes)
    log_priors : float array (n_classes,)
    test_values : float array (n_voxels + 1, n_test)
    test_norms : float array (n_spheres,)
        A bound of the norm of the test samples on each sphere.
    target : int array (n_test,)
        The class index of each test sample (-1 for a class absent from training).
    single_tolerance, single_epsilon : float
        A prediction is unsure if its margin is below ``max(single_tolerance, single_epsilon
        * amplification)`` times the scale of its scores.

    Returns
    -------
    accuracy : float array (n_spheres,)
    unsure : bool array (n_spheres,)
        Some prediction could change with the rounding of the tables, or a score is not finite.
    singular : bool array (n_spheres,)
        ``sigma`` is not numerically positive definite (the accuracy is not computed).
    """
    n_spheres, p_max = members.shape
    n_classes = tables.shape[2]
    n_test = test_values.shape[1]
    two = n_classes == 2
    n_directions = 1 if two else n_classes
    accuracy = np.zeros(n_spheres)
    unsure = np.zeros(n_spheres, dtype=np.bool_)
    singular = np.zeros(n_spheres, dtype=np.bool_)
    sigma = np.empty((p_max, p_max))
    rhs = np.empty(p_max)
    work = np.empty(p_max)
    inverse_diagonal = np.empty(p_max)
    coef = np.empty((n_directions, p_max))
    intercept = np.empty(n_directions)
    scores = np.empty((n_directions, n_test))
    for s in range(n_spheres):
        p = sizes[s]
        # sigma = sum over classes of weight * covariance block, plus the shrinkage diagonal;
        # its upper triangle, row by row (row a of it is column a of the Cholesky factor)
        for a in range(p):
            for b in range(a, p):
                cell = cell_code[offset_index[s, a], offset_index[s, b]]
                row = members[s, b] if cell & 1 else members[s, a]
                column = cell >> 1
                value = 0.0
                for k in range(n_classes):
                    value += weights[s, k] * tables[row, column, k]
                sigma[a, b] = value
            sigma[a, a] += diagonal[s, a]
        largest, smallest = 0.0, math.inf
        for a in range(p):
            largest = max(largest, sigma[a, a])
            smallest = min(smallest, diagonal[s, a])
        # Cholesky: sigma = U.T @ U, U upper triangular, in place; each update is a
        # contiguous row operation (no reduction chains)
        for j in range(p):
            pivot = sigma[j, j]
            if not pivot > 0.0:  # also catches NaN
                singular[s] = True
                break
            inverse = 1.0 / math.sqrt(pivot)
            for i in range(j, p):
                sigma[j, i] *= inverse
            inverse_diagonal[j] = inverse
            for m in range(j + 1, p):
                factor = sigma[j, m]
                for i in range(m, p):
                    sigma[m, i] -= factor * sigma[j, i]
        if singular[s]:
            continue
        # right-hand sides: the difference of the two class means, or every class mean
        for k in range(n_directions):
            for a in range(p):
                v = members[s, a]
                rhs[a] = means[v, 1] - means[v, 0] if two else means[v, k]
            for i in range(p):  # U.T @ z = rhs
                rhs[i] *= inverse_diagonal[i]
                for m in range(i + 1, p):
                    rhs[m] -= sigma[i, m] * rhs[i]
            for i in range(p - 1, -1, -1):  # U @ coef = z
                value = rhs[i]
                for m in range(i + 1, p):
                    value -= sigma[i, m] * coef[k, m]
                coef[k, i] = value * inverse_diagonal[i]
        magnitude = 0.0
        for k in range(n_directions):
            dot, norm = 0.0, 0.0
            for a in range(p):
                v = members[s, a]
                centre = means[v, 1] + means[v, 0] if two else means[v, k]
                dot += centre * coef[k, a]
                norm += coef[k, a] * coef[k, a]
            if two:
                intercept[k] = -0.5 * dot + (log_priors[1] - log_priors[0])
            else:
                intercept[k] = -0.5 * dot + log_priors[k]
            magnitude = max(magnitude, test_norms[s] * math.sqrt(norm) + abs(intercept[k]))
        # the relative error of the coefficients is bounded by eps * p * max(diag(sigma))
        # times the norm of sigma's inverse: the tolerance of a margin grows with that
        # amplification. The norm is at most 1 / min(shrinkage diagonal); when that bound is
        # too loose (little or no shrinkage), the squared Frobenius norm of U's inverse
        amplification = p * largest / smallest if smallest > 0.0 else math.inf
        if single_epsilon * amplification > single_tolerance:
            amplification = min(amplification, p * largest * _inverse_norm_bound(sigma, p, work))
        tolerance = max(single_tolerance, single_epsilon * amplification) * magnitude
        for k in range(n_directions):
            for n in range(n_test):
                scores[k, n] = intercept[k]
            for a in range(p):
                factor = coef[k, a]
                v = members[s, a]
                for n in range(n_test):
                    scores[k, n] += factor * test_values[v, n]
        correct = 0
        for n in range(n_test):
            if two:
                predicted = 1 if scores[0, n] > 0.0 else 0
                margin = abs(scores[0, n])
                finite = math.isfinite(scores[0, n])
            else:
                predicted, best, second, finite = 0, -math.inf, -math.inf, True
                for k in range(n_classes):
                    value = scores[k, n]
                    finite = finite and math.isfinite(value)
                    if value > best:
                        predicted, second, best = k, best, value
                    elif value > second:
                        second = value
                margin = best - second
            if not finite or not margin > tolerance:
                unsure[s] = True
            if predicted == target[n]:
                correct += 1
        accuracy[s] = correct / n_test
    return accuracy, unsure, singular


@njit(cache=True, nogil=True, error_model="numpy", fastmath={"contract", "reassoc"})
def _inverse_norm_bound(factor, p, work):
    """An upper bound of the 2-norm of sigma's inverse, from its Cholesky factor U.

    ``factor[:p, :p]`` holds U in its upper triangle (sigma = U.T @ U); the bound is the
    squared Frobenius norm of U's inverse, found column by column in ``work``.
    """
    total = 0.0
    for j in range(p):  # column j of U's inverse, by back substitution
        work[j] = 1.0 / factor[j, j]
        total += work[j] * work[j]
        for i in range(j - 1, -1, -1):
            value = 0.0
            for m in range(i + 1, j + 1):
                value -= factor[i, m] * work[m]
            work[i] = value / factor[i, i]
            total += work[i] * work[i]
    return total


@njit(cache=True, nogil=True, fastmath={"contract", "reassoc"})
def pair_cross_products(values, partners, table):
    """Fill ``table[a, v, j]`` with the sum over atom a's samples of ``x[v] * x[partners[v, j]]``.

    Parameters
    ----------
    values : float32 array (n_atoms, n_voxels + 1, atom_size)
        The samples of each atom on each voxel (zero on the dummy voxel and on padding).
    partners : int array (n_voxels, n_half)
        The voxel at each stored displacement from each voxel (the dummy voxel if outside).
    table : float32 array (n_atoms, n_voxels + 1, n_half + 1)
        Written for the first n_voxels rows and n_half columns; the rest is left as is.
        The sums are accumulated in double precision.
    """
    n_atoms, _, atom_size = values.shape
    n_voxels, n_half = partners.shape
    for a in range(n_atoms):
        for v in range(n_voxels):
            for j in range(n_half):
                w = partners[v, j]
                total = 0.0
                for n in range(atom_size):
                    total += np.float64(values[a, v, n]) * np.float64(values[a, w, n])
                table[a, v, j] = total


@njit(cache=True, nogil=True, fastmath={"contract", "reassoc"})
def sphere_square_sums(members, sizes, values, bounds):
    """Per sphere and class: the sum over the class's samples of (sum over the sphere of x) ** 2.

    Parameters
    ----------
    members : int array (n_spheres, p_max)
    sizes : int array (n_spheres,)
    values : float32 array (n_voxels + 1, n_samples)
        One column per sample, the samples of class c being columns ``bounds[c]`` to
        ``bounds[c + 1]``.
    bounds : int array (n_classes + 1,)

    Returns
    -------
    sums : float array (n_spheres, n_classes)
    """
    n_spheres = members.shape[0]
    n_classes = bounds.size - 1
    sums = np.zeros((n_spheres, n_classes))
    inner = np.empty(values.shape[1], dtype=np.float32)
    for s in range(n_spheres):
        inner[:] = 0.0
        for a in range(sizes[s]):
            v = members[s, a]
            for n in range(inner.size):
                inner[n] += values[v, n]
        for c in range(n_classes):
            total = 0.0
            for n in range(bounds[c], bounds[c + 1]):
                total += np.float64(inner[n]) * np.float64(inner[n])
            sums[s, c] = total
    return sums
