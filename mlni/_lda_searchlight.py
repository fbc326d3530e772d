"""Whole-brain searchlight for shrinkage LDA (private engine of :mod:`mlni.searchlight`).

``LinearDiscriminantAnalysis(solver="lsqr", shrinkage=...)`` trained on the p voxels of one
sphere needs, for each class c of the training fold, the class means ``m_c`` and the class
covariance ``C_c`` of those voxels (p x p), plus, for Ledoit-Wolf shrinkage, two sums over
the sphere. It then solves the p x p system ``sigma @ coef = means`` for the pooled shrunk
covariance ``sigma``. What does not depend on the sphere is computed once:

* the cross-products ``x[v] * x[w]`` of every pair of voxels that share a sphere. A pair is
  a voxel and one of the few displacements (dx, dy, dz) found inside the spheres, so the
  pairs form a table of shape (n_voxels, n_displacements). The samples are grouped once
  into "atoms" (same class, same training folds), and the table is computed per atom, so
  that the covariance of a fold and class is a weighted sum of atoms. The table of each
  class summed over all its atoms is kept too: with K-fold, a training fold's table is that
  total minus the fold's test atoms (one subtraction per class and fold);
* per fold and class: the mean and variance of every voxel.

Per fold, for all spheres at once (NumPy): the shrinkage intensity of every sphere in
closed form. The sums over each sphere's block that Ledoit-Wolf's formula needs are a
stencil: for each offset from the centre, a fixed weighted sum of the table's row at that
offset. Then sphere by sphere, in compiled code (:mod:`mlni._lda_kernel`, with numba): the
p x p blocks of the class covariances are read from the table, ``sigma`` is assembled,
factored (Cholesky) and solved, and the test samples are scored. Spheres at the edge of the
mask have fewer voxels; they are stored padded with a dummy voxel, which the kernel skips.

The cross-products and the covariance tables read per sphere are kept in single precision
(half the memory traffic), and so are the inner sums of ``beta_``; means, variances, the
assembly of ``sigma`` and the solves are in double precision. A (sphere, fold) pair whose
predictions could change by that rounding (a test sample within a relative
``_SINGLE_TOLERANCE`` of the decision boundary, scaled by a bound of how much the system
amplifies rounding errors) is recomputed in double precision from the data themselves
(:func:`_exact_accuracy`), and so are the spheres holding a voxel whose variance in a class
is small next to its mean there (``_SINGLE_FRAGILE``) and those whose ``sigma`` is not
positive definite in single precision. The few pairs that are still within a relative
``_TIE_TOLERANCE`` of a tie, whose ``sigma`` is nearly singular (``_CONDITION_TOLERANCE``:
no shrinkage and fewer training samples than voxels, or collinear voxels), or where a class
is constant on a voxel of the sphere, are refitted with scikit-learn itself.
"""

from __future__ import annotations

from numbers import Real

import numpy as np
from scipy import sparse
from sklearn.discriminant_analysis import LinearDiscriminantAnalysis
from tqdm import tqdm

from mlni._lda_kernel import pair_cross_products, sphere_accuracies, sphere_square_sums

# A prediction whose margin is below this fraction of its magnitude is refitted exactly.
_TIE_TOLERANCE = 1e-8
# A sigma whose condition number times p times the double-precision epsilon is above this
# (a bound of the relative error of a solve) is nearly singular: scikit-learn's least-squares
# solution may differ from a solve's, so the sphere is refitted with scikit-learn.
_CONDITION_TOLERANCE = 1e-8
# Single precision (the covariances read per sphere) is trusted for a prediction whose
# margin is above this fraction of its magnitude; the spheres with a smaller margin are
# recomputed in double precision. The largest rounding error seen at the real Haxby size
# (simulated data, KFold(4)) is 2.1e-7: 1e-5 recomputes 0.7% of the (sphere, fold) pairs.
_SINGLE_TOLERANCE = 1e-5
# Single precision is not trusted either on a voxel where a class's variance is below this
# fraction of its mean square (variance + mean ** 2): the covariances, computed as mean
# cross-products minus products of means, would lose too many digits. The spheres holding
# such a voxel are computed in double precision.
_SINGLE_FRAGILE = 0.1
# The single-precision tolerance of a sphere grows with a bound of how much its system
# amplifies rounding errors (``p * max(diag(sigma))`` times a bound of the norm of sigma's
# inverse: ``1 / min(shrinkage diagonal)``, or, when that is larger than needed, the squared
# Frobenius norm of the inverse Cholesky factor) above _SINGLE_TOLERANCE / _SINGLE_EPSILON
# (1000; 250 to 480 at the real Haxby size with Ledoit-Wolf). The errors seen are below
# 1e-9 times that bound.
_SINGLE_EPSILON = 1e-8
# A class whose variance on a voxel is below this fraction of the voxel's mean square is
# treated as constant there (scikit-learn then does not rescale it): refitted exactly.
_CONSTANT_TOLERANCE = 1e-10
# Number of spheres per batch where NumPy builds stacks of p x p blocks (the recomputation in
# double precision, the sparse block sums): bounds their memory (1024 spheres of 19 voxels:
# 3 MB per stack).
_SPHERES_PER_BATCH = 1024
# Largest table of cross-products (2**26 numbers, 256 MB in single precision) kept for all
# folds at once; beyond (many folds, e.g. leave-one-out), each fold's table is computed in turn.
_MAX_TABLE_SIZE = 2**26


def check_shrinkage(shrinkage):
    """Return ``"auto"`` or a float in [0, 1]."""
    if isinstance(shrinkage, str) and shrinkage == "auto":
        return shrinkage
    if isinstance(shrinkage, bool) or not isinstance(shrinkage, Real):
        raise TypeError(
            f"The shrinkage of \"lda\" must be 'auto' or a number in [0, 1]. Got {shrinkage!r}."
        )
    if not 0 <= shrinkage <= 1:
        raise ValueError(f'The shrinkage of "lda" must be in [0, 1]. Got {shrinkage}.')
    return float(shrinkage)


def lda_search_light(X, y, mask, neighbors, centres, folds, shrinkage="auto", progress=False):
    """Mean over folds of the per-sphere accuracy of lsqr LDA with shrinkage.

    Parameters
    ----------
    X : array of shape (n_samples, n_voxels)
    y : array of shape (n_samples,)
    mask : boolean 3D array whose non-zero voxels are the columns of ``X``.
    neighbors : scipy.sparse.csr_matrix of shape (n_spheres, n_voxels)
        Row i holds the voxels of the sphere centred on voxel ``centres[i]``.
    centres : array of shape (n_spheres,)
    folds : list of (train, test) index arrays
    shrinkage : "auto" or float in [0, 1]
    progress : bool

    Returns
    -------
    scores : array of shape (n_spheres,)
    """
    X = np.asarray(X, dtype=np.float64)
    X_centred = X - X.mean(axis=0)  # LDA is unchanged by a shift; this avoids cancellation
    codes = np.unique(y, return_inverse=True)[1].ravel()
    pairs = _PairTable(mask, neighbors, centres)
    atoms, atom_weights = _atoms(codes, folds)
    per_fold = atoms.shape[0] * (pairs.n_voxels + 1) * (pairs.n_half + 1) > _MAX_TABLE_SIZE
    table = moments = atom_codes = totals = None
    if not per_fold:
        table = pairs.cross_products(X_centred, atoms)
        moments = _moments(X_centred, atoms)
        atom_codes = codes[atoms[:, 0]]
        totals = [
            table[atom_codes == c].sum(axis=0, dtype=np.float64).astype(np.float32)
            for c in range(codes.max() + 1)
        ]
    block_sums = None
    if not pairs.stencil_exact:
        starts = range(0, neighbors.shape[0], _SPHERES_PER_BATCH)
        index = [pairs.block_index(slice(start, start + _SPHERES_PER_BATCH)) for start in starts]
        block_sums = _block_sums(index, pairs, neighbors.shape[0])
    # beta_ from the data in single precision, as the tables: (n_voxels, n_samples)
    X_single_T = None
    if shrinkage == "auto":
        X_single_T = np.ascontiguousarray(X_centred.T, dtype=np.float32)

    def fold_statistics(k):
        train, test = folds[k]
        weights, fold_table, fold_moments, fold_codes = atom_weights[k], table, moments, None
        if per_fold:  # atoms of this fold only: its training samples of each class
            fold_atoms, (weights,) = _atoms(codes, [(train, test)])
            fold_table = pairs.cross_products(X_centred, fold_atoms)
            fold_moments = _moments(X_centred, fold_atoms)
            fold_codes = codes[fold_atoms[:, 0]]
        stats = _fold_statistics(
            codes,
            train,
            weights,
            fold_moments,
            fold_table,
            pairs,
            shrinkage,
            atom_codes if fold_codes is None else fold_codes,
            totals,
        )
        if shrinkage == "auto":  # the two sums over each sphere of Ledoit-Wolf's formula
            stats["beta_"] = _beta_sums(X_single_T, codes, train, stats, pairs.members, pairs.sizes)
            stats["delta_"] = _sphere_sums(stats.pop("squared_correlations"), pairs, block_sums)
        X_test = X_centred[test]
        # (n_voxels + 1, n_test): the dummy voxel is 0
        stats["test_values"] = np.zeros((pairs.n_voxels + 1, test.size))
        stats["test_values"][:-1] = X_test.T
        # the largest norm of a test sample on each sphere is at most this bound
        stats["test_norms"] = np.sqrt(neighbors @ (X_test**2).max(axis=0))  # (n_spheres,)
        target = np.searchsorted(stats["present"], codes[test])
        unseen = stats["present"][np.minimum(target, stats["present"].size - 1)] != codes[test]
        target[unseen] = -1  # a class absent from the training fold is never predicted
        stats["target"] = target
        return stats

    accuracies = np.empty((len(folds), neighbors.shape[0]))
    bar = tqdm(total=len(folds), desc="folds", disable=not progress)
    for k, (train, test) in enumerate(folds):
        stats = fold_statistics(k)
        accuracies[k], unsure, singular = _fold_accuracy(pairs, stats, shrinkage)
        # a sphere holding a voxel that is constant in a class is refitted with scikit-learn;
        # one whose sigma is not positive definite in single precision is recomputed
        exact = stats["constant"][pairs.members].any(axis=1)
        unsure |= singular | stats["fragile"][pairs.members].any(axis=1)
        fold = (X_centred, codes, train, test)
        recompute = np.flatnonzero(unsure & ~exact)
        for start in range(0, recompute.size, _SPHERES_PER_BATCH):  # a batch at most
            again = recompute[start : start + _SPHERES_PER_BATCH]
            accuracies[k, again], exact[again] = _exact_accuracy(
                fold, pairs.members[again], pairs.sizes[again], stats, shrinkage
            )
        for s in np.flatnonzero(exact):
            voxels = pairs.members[s, : pairs.sizes[s]]
            lda = LinearDiscriminantAnalysis(solver="lsqr", shrinkage=shrinkage)
            lda.fit(X[np.ix_(train, voxels)], y[train])
            accuracies[k, s] = lda.score(X[np.ix_(test, voxels)], y[test])
        bar.update()
    bar.close()
    return accuracies.mean(axis=0)


class _PairTable:
    """Spheres as padded lists of voxels, and pairs of voxels as (voxel, displacement) cells.

    ``members[s]`` are the voxels of sphere s, padded with the dummy voxel ``n_voxels``;
    ``partners[v, j]`` is the voxel at the j-th stored displacement from voxel ``v``
    (``n_voxels`` if outside the mask). A table has one row per voxel plus a zero row for
    the dummy voxel, and one column per stored displacement plus a zero padding column.
    """

    def __init__(self, mask, neighbors, centres):
        ijk = np.column_stack(np.nonzero(mask))
        self.n_voxels = ijk.shape[0]
        self.width = 2 * np.array(mask.shape) + 1  # displacement codes: mixed radix
        self.sizes = np.diff(neighbors.indptr)
        n_spheres, p_max = neighbors.shape[0], self.sizes.max()
        rows = np.repeat(np.arange(n_spheres), self.sizes)
        columns = np.arange(neighbors.indices.size) - np.repeat(neighbors.indptr[:-1], self.sizes)
        self.members = np.full((n_spheres, p_max), self.n_voxels, dtype=np.intp)
        self.members[rows, columns] = neighbors.indices
        # each member is its centre plus one of a few offsets; two members of a sphere
        # differ by a difference of two offsets: the displacements
        member_codes = self._encode(ijk[neighbors.indices] - ijk[np.asarray(centres)[rows]])
        offset_codes, which = np.unique(member_codes, return_inverse=True)
        offsets = self._decode(offset_codes)
        self.offset_index = np.full((n_spheres, p_max), offset_codes.size, dtype=np.intp)
        self.offset_index[rows, columns] = which.ravel()
        differences = self._encode(offsets[None, :, :] - offsets[:, None, :])  # [a, b]: b - a
        displacements, position = np.unique(differences, return_inverse=True)
        position = position.reshape(differences.shape)
        # a displacement d and its opposite -d give the same pairs, read from either end:
        # only "half" of them (0 and one of each +-d, by code) are stored
        zero = self._encode(np.zeros(3, dtype=np.intp))
        half = displacements >= zero
        self.n_half = int(half.sum())
        column_of = np.cumsum(half) - 1
        mirror = np.searchsorted(displacements, 2 * zero - displacements)
        n_offsets = offset_codes.size
        self.from_b = np.zeros((n_offsets + 1,) * 2, dtype=bool)  # read the pair at voxel b
        self.from_b[:-1, :-1] = ~half[position]
        self.column = np.full((n_offsets + 1,) * 2, self.n_half, dtype=np.intp)  # pad: zero
        self.column[:-1, :-1] = np.where(
            half[position], column_of[position], column_of[mirror[position]]
        )
        # (column, from_b) of each pair of offsets coded as 2 * column + from_b
        self.cell_code = 2 * self.column + self.from_b
        self.partners = self._partners(mask, ijk, self._decode(displacements[half]))
        # a sum over a sphere's block as a stencil: the block of the sphere centred on v
        # reads, for each offset r, the cells (spokes[v, r], j) with weight stencil[r, j]
        spokes = self._partners(mask, ijk, offsets)[np.asarray(centres)]
        reader = np.where(self.from_b, np.arange(n_offsets + 1), np.arange(n_offsets + 1)[:, None])
        stencil = np.zeros((n_offsets, self.n_half + 1))
        np.add.at(stencil, (reader[:-1, :-1], self.column[:-1, :-1]), 1.0)
        # few cells: no (multithreaded) BLAS; in single precision, as the tables
        self.stencil = sparse.csr_matrix(stencil, dtype=np.float32)
        # flat index of (r, spokes[s, r]) into an (n_offsets, n_voxels + 1) array
        self.spoke_index = spokes + (self.n_voxels + 1) * np.arange(n_offsets)
        # valid if each sphere holds every mask voxel at one of the offsets from its centre
        in_mask = (spokes < self.n_voxels).sum(axis=1)
        self.stencil_exact = bool(np.array_equal(in_mask, self.sizes))
        # the partner of every cell of a table, -1 (the dummy voxel) on the padding column
        self.cell_partners = np.pad(self.partners, ((0, 0), (0, 1)), constant_values=-1)

    def _encode(self, diff):
        shifted = diff + self.width // 2
        return (shifted[..., 0] * self.width[1] + shifted[..., 1]) * self.width[2] + shifted[..., 2]

    def _decode(self, codes):
        k = codes % self.width[2]
        j = (codes // self.width[2]) % self.width[1]
        i = codes // (self.width[2] * self.width[1])
        return np.column_stack([i, j, k]) - self.width // 2

    def _partners(self, mask, ijk, displacements):
        """(n_voxels + 1, n_displacements): the voxel at each displacement from each voxel."""
        # the index of every voxel in a grid padded by the largest displacement, so that
        # every displacement lands in the grid (on the dummy voxel outside the mask)
        pad = int(np.abs(displacements).max(initial=0))
        lookup = np.full(np.array(mask.shape) + 2 * pad, self.n_voxels, dtype=np.intp)
        lookup[tuple(slice(pad, pad + n) for n in mask.shape)][mask] = np.arange(self.n_voxels)
        strides = np.array([lookup.shape[1] * lookup.shape[2], lookup.shape[2], 1])
        partners = np.full((self.n_voxels + 1, len(displacements)), self.n_voxels, dtype=np.intp)
        partners[:-1] = lookup.ravel()[((ijk + pad) @ strides)[:, None] + displacements @ strides]
        return partners

    def block_index(self, batch):
        """Flat index of each sphere's p x p block into a (n_voxels + 1, n_half + 1) table."""
        offsets, members = self.offset_index[batch], self.members[batch]
        cell = self.cell_code[offsets[:, :, None], offsets[:, None, :]]
        reader = np.where(cell & 1, members[:, None, :], members[:, :, None])
        reader *= self.n_half + 1
        reader += cell >> 1
        return reader

    def cross_products(self, X, atoms):
        """Sum over each atom's samples of ``x[v] * x[partner]``: (n_atoms, n_voxels + 1,
        n_half + 1), zero on the dummy voxel's row and on the padding column.

        ``atoms`` is an (n_atoms, atom_size) array of sample indices padded with -1.
        """
        n_atoms, atom_size = atoms.shape
        values = np.zeros((n_atoms, self.n_voxels + 1, atom_size), dtype=np.float32)
        present = atoms >= 0  # padding samples: zero
        values[:, :-1] = np.where(present[:, None, :], X[atoms].transpose(0, 2, 1), 0.0)
        table = np.zeros((n_atoms, self.n_voxels + 1, self.n_half + 1), dtype=np.float32)
        pair_cross_products(values, self.partners[:-1], table)
        return table


def _sphere_sums(tables, pairs, block_sums):
    """Sum of each (n_cells,) table of ``tables`` over each sphere's block: (n_spheres, K)."""
    if block_sums is not None:
        return block_sums @ np.column_stack([table.ravel() for table in tables])
    sums = np.zeros((pairs.spoke_index.shape[0], len(tables)))
    for k, table in enumerate(tables):
        per_offset = pairs.stencil @ np.ascontiguousarray(table.T)  # (n_offsets, n_voxels + 1)
        per_offset[:, -1] = 0.0  # the dummy voxel
        sums[:, k] = per_offset.ravel()[pairs.spoke_index].sum(axis=1)
    return sums


def _block_sums(index, pairs, n_spheres):
    """Sparse (n_spheres, n_cells) matrix: its product with a table sums each sphere's block.

    A block is symmetric and its cells (a, b) and (b, a) are the same table cell: the upper
    triangle is kept, off-diagonal cells with weight 2. Padding cells are left out.
    """
    upper_a, upper_b = np.triu_indices(pairs.members.shape[1])
    weight = np.where(upper_a == upper_b, 1.0, 2.0)
    data, columns, counts = [], [], []
    for batch_index, start in zip(index, range(0, n_spheres, _SPHERES_PER_BATCH), strict=True):
        sizes = pairs.sizes[start : start + len(batch_index)]
        real = upper_b[None, :] < sizes[:, None]  # upper_a <= upper_b
        columns.append(batch_index[:, upper_a, upper_b][real])
        data.append(np.broadcast_to(weight, real.shape)[real])
        counts.append(real.sum(axis=1))
    indptr = np.concatenate([[0], np.cumsum(np.concatenate(counts))])
    n_cells = (pairs.n_voxels + 1) * (pairs.n_half + 1)
    return sparse.csr_matrix(
        (np.concatenate(data), np.concatenate(columns), indptr), shape=(n_spheres, n_cells)
    )


def _atoms(codes, folds):
    """Group the samples that have the same class and the same training folds.

    Returns the atoms, an (n_atoms, atom_size) array of sample indices padded with -1, and
    ``weights[k]``, an (n_atoms, n_classes) array: how many times each atom's samples are
    in the training set of fold k, in the column of the atom's class.
    """
    n_samples, n_classes = codes.size, codes.max() + 1
    counts = np.zeros((n_samples, len(folds)), dtype=np.intp)
    for k, (train, _) in enumerate(folds):
        np.add.at(counts[:, k], train, 1)
    used = np.flatnonzero(counts.any(axis=1))
    unique, which = np.unique(np.column_stack([codes, counts])[used], axis=0, return_inverse=True)
    which = which.ravel()
    order = np.argsort(which, kind="stable")
    position = np.arange(order.size) - np.searchsorted(which[order], which[order])
    atoms = np.full((unique.shape[0], np.bincount(which).max()), -1, dtype=np.intp)
    atoms[which[order], position] = used[order]
    weights = np.zeros((len(folds), unique.shape[0], n_classes))
    weights[:, np.arange(unique.shape[0]), unique[:, 0]] = unique[:, 1:].T
    return atoms, weights


def _class_sum(table, weights, members, total=None):
    """``sum_a weights[a] * table[a]``: the cross-products of one class in a training fold.

    ``members`` are the atoms of the class and ``weights[a]`` how many times atom a is in
    the training set. If ``total``, the sum of the tables of all of ``members``, is given and
    fewer of them differ from weight 1 than are trained on (as with K-fold: train = all -
    test), the sum is computed as ``total + sum_a (weights[a] - 1) * table[a]`` over those.
    """
    trained = members[weights[members] != 0]
    changed = members[weights[members] != 1]
    if total is not None and changed.size < trained.size:
        second = total.copy()
        for a in changed:
            second += float(weights[a] - 1) * table[a]
        return second
    second = float(weights[trained[0]]) * table[trained[0]]
    for a in trained[1:]:
        second += float(weights[a]) * table[a]
    return second


def _moments(X, atoms):
    """Sums of ``x`` and of ``x ** 2`` over each atom's samples: (2, n_atoms, n_voxels)."""
    moments = np.empty((2, atoms.shape[0], X.shape[1]))
    for a, samples in enumerate(atoms):
        x = X[samples[samples >= 0]]
        moments[0, a] = x.sum(axis=0)
        moments[1, a] = np.einsum("nv,nv->v", x, x)
    return moments


def _fold_statistics(
    codes, train, weights, moments, table, pairs, shrinkage, atom_codes, totals=None
):
    """Class priors, means, variances and covariance tables of one training fold.

    ``moments`` holds the sums of x and x ** 2 over each atom (:func:`_moments`);
    ``atom_codes`` is the class of each atom of ``table``; ``totals``, if given, holds per
    class the sum of the tables of all its atoms (computed once for all folds).
    """
    counts = np.bincount(codes[train], minlength=weights.shape[1]).astype(float)
    present = np.flatnonzero(counts)
    if present.size < 2:
        raise ValueError(
            "'cv' must put at least two classes in every training fold (LDA cannot be fit "
            f"on one class). Got a training fold with the single class index {present[0]}."
        )
    counts = counts[present]
    sums = np.einsum("ak,mav->mkv", weights[:, present], moments) / counts[:, None]
    means = np.pad(sums[0], ((0, 0), (0, 1)))  # dummy voxel: mean 0, variance 1
    variance = np.pad(sums[1] - sums[0] ** 2, ((0, 0), (0, 1)), constant_values=1.0)
    mean_square = counts @ (variance + means**2) / counts.sum()
    constant = (variance <= _CONSTANT_TOLERANCE * mean_square).any(axis=0)
    fragile = (variance < _SINGLE_FRAGILE * (variance + means**2)).any(axis=0)
    scale = np.where(constant, 1.0, variance)  # spheres with a constant voxel are refitted
    partners = pairs.cell_partners
    # the covariance of each (voxel, displacement) cell, one column per class, in single
    # precision (as the cross-products): read per sphere as one item of n_classes numbers
    tables = np.empty((pairs.n_voxels + 1, pairs.n_half + 1, present.size), dtype=np.float32)
    squared_correlations = []
    for i, c in enumerate(present):
        members = np.flatnonzero(atom_codes == c)
        total = None if totals is None else totals[c]
        second = _class_sum(table, weights[:, c], members, total)
        second /= counts[i]
        single = means[i].astype(np.float32)
        second -= single[:, None] * single[partners]
        tables[..., i] = second
        if shrinkage == "auto":  # squared correlations, for Ledoit-Wolf's delta
            second **= 2
            single = scale[i].astype(np.float32)
            second /= single[:, None] * single[partners]
            squared_correlations.append(second)
    # per voxel: the means, then the variances (0 on the dummy voxel) of the classes
    per_voxel = np.concatenate([means, variance]).T.copy()
    per_voxel[-1, present.size :] = 0.0
    return {
        "present": present,
        "priors": counts / counts.sum(),
        "counts": counts,
        "means": means,
        "variance": variance,
        "constant": constant,
        "fragile": fragile,
        "per_voxel": per_voxel,
        "tables": tables,
        "squared_correlations": squared_correlations,
    }


def _beta_sums(X_single_T, codes, train, stats, members, sizes):
    """Ledoit-Wolf's ``beta_`` of each class on each sphere: (n_spheres, n_classes).

    The sum over the class's samples i of ``(sum over the sphere's voxels j of z_ij ** 2)
    ** 2``, where ``z`` are the standardized values, computed in single precision from
    ``X_single_T``, the centred data (n_voxels, n_samples); the inner sums are summed sphere
    by sphere in compiled code (:func:`mlni._lda_kernel.sphere_square_sums`).
    """
    rows = [train[codes[train] == c] for c in stats["present"]]
    bounds = np.cumsum([0] + [samples.size for samples in rows])
    squares = np.zeros((X_single_T.shape[0] + 1, bounds[-1]), dtype=np.float32)
    for i, samples in enumerate(rows):
        scale = np.where(stats["constant"][:-1], 1.0, stats["variance"][i, :-1])
        block = squares[:-1, bounds[i] : bounds[i + 1]]
        np.take(X_single_T, samples, axis=1, out=block)
        block -= stats["means"][i, :-1, None].astype(np.float32)
        block **= 2
        block *= (1.0 / scale).astype(np.float32)[:, None]
    return sphere_square_sums(members, sizes, squares, bounds)


def _shrinkage(variance, real, sizes, priors, counts, delta_, beta_, shrinkage):
    """Weights and diagonal of the covariance of scikit-learn's LDA on each sphere.

    That covariance is the sum over classes of ``prior * ((1 - alpha) * C + alpha * target)``,
    where ``C`` is the class's empirical covariance on the sphere. For Ledoit-Wolf ("auto"),
    alpha is computed on the standardized voxels from ``delta_``, the sum over the block of
    the squared correlations, and ``beta_`` (both (n_spheres, n_classes)), and the target is
    the diagonal of variances; for a fixed shrinkage the target is ``trace(C) / p`` times the
    identity (``shrunk_covariance``). ``variance`` is (n_spheres, p_max, n_classes), zero on
    the padding. Returns ``prior * (1 - alpha)``, (n_spheres, n_classes), and the diagonal
    to add, (n_spheres, p_max), which is 1 on the padding.
    """
    p = sizes.astype(float)[:, None]
    if shrinkage == "auto":
        beta = (beta_ / counts - delta_) / (p * counts)
        delta = (delta_ - p) / p  # the standardized voxels have mean variance mu = 1
        beta = np.minimum(beta, delta)
        with np.errstate(invalid="ignore", divide="ignore"):
            alpha = np.where(beta == 0, 0.0, beta / delta)
        alpha[sizes == 1] = 0.0
        target = variance
    else:
        alpha = np.full((sizes.size, priors.size), shrinkage)
        target = (variance.sum(axis=1, keepdims=True) / p[:, :, None]) * real[..., None]
    return priors * (1 - alpha), np.einsum("spk,sk->sp", target, priors * alpha) + ~real


def _coefficients(sigma, means, priors, exact):
    """Coefficients (n_spheres, p_max, n_directions) and intercepts of LDA on each sphere."""
    if priors.size == 2:  # as scikit-learn: one direction, the difference of the classes
        coef = _solve(sigma, means[..., 1:] - means[..., :1], exact)
        total = means[..., 1:] + means[..., :1]
        intercept = -0.5 * np.einsum("spk,spk->sk", total, coef) + np.log(priors[1] / priors[0])
    else:
        coef = _solve(sigma, means, exact)
        intercept = -0.5 * np.einsum("spk,spk->sk", means, coef) + np.log(priors)
    return coef, intercept


def _predictions(scores, magnitude, tolerance):
    """Predicted class index of each (sphere, test sample), and the spheres to recompute.

    A sphere is recomputed if one of its predictions has a margin below ``tolerance`` times
    ``magnitude`` (the scale of the scores of each sphere), or if a score is not finite.
    """
    if scores.shape[2] == 1:
        predicted, margin = (scores[..., 0] > 0).astype(int), np.abs(scores[..., 0])
    else:
        predicted = scores.argmax(axis=2)
        ordered = np.sort(scores, axis=2)
        margin = ordered[..., -1] - ordered[..., -2]
    unsure = (margin <= tolerance * magnitude[:, None]).any(axis=1)
    unsure |= ~np.isfinite(scores).all(axis=(1, 2))
    return predicted, unsure


def _fold_accuracy(pairs, stats, shrinkage):
    """Accuracy on the test samples of LDA trained on every sphere, for one fold.

    The shrinkage of every sphere is computed here, the rest sphere by sphere in compiled
    code (:func:`mlni._lda_kernel.sphere_accuracies`), from the class covariances read in
    single precision. Also returns which spheres have predictions that this rounding could
    change, and which have a ``sigma`` that is not positive definite in single precision:
    both to recompute in double precision with :func:`_exact_accuracy`.
    """
    members, sizes = pairs.members, pairs.sizes
    priors, counts = stats["priors"], stats["counts"]
    real = members < pairs.n_voxels
    variance = stats["per_voxel"][members][..., priors.size :]  # (n_spheres, p_max, n_classes)
    delta_ = stats.get("delta_")
    beta_ = stats.get("beta_")
    weights, diagonal = _shrinkage(variance, real, sizes, priors, counts, delta_, beta_, shrinkage)
    return sphere_accuracies(
        members,
        sizes,
        pairs.offset_index,
        pairs.cell_code,
        stats["tables"],
        weights,
        diagonal,
        np.ascontiguousarray(stats["means"].T),
        np.log(priors),
        stats["test_values"],
        stats["test_norms"],
        stats["target"],
        _SINGLE_TOLERANCE,
        _SINGLE_EPSILON,
    )


def _exact_accuracy(fold, members, sizes, stats, shrinkage):
    """Accuracy of a few spheres computed in double precision from the data themselves.

    Returns the accuracies and which spheres have a prediction within ``_TIE_TOLERANCE`` of
    a tie (or a score that is not finite), or a ``sigma`` so ill-conditioned that a solve's
    rounding could reach that tolerance: those are to be refitted with scikit-learn.
    """
    X_centred, codes, train, test = fold
    priors, counts, present = stats["priors"], stats["counts"], stats["present"]
    n_spheres, p_max = members.shape
    real = members < X_centred.shape[1]
    data = X_centred[:, np.where(real, members, 0)] * real  # (n_samples, n_spheres, p_max)
    data = np.ascontiguousarray(data.transpose(1, 2, 0))  # (n_spheres, p_max, n_samples)
    voxels = stats["per_voxel"][members]  # (n_spheres, p_max, 2 * n_classes)
    means, variance = voxels[..., : present.size], voxels[..., present.size :]
    delta_, beta_ = np.empty((2, n_spheres, present.size))
    covariances = []
    for i, c in enumerate(present):
        centred = data[:, :, train[codes[train] == c]] - means[..., i, None]
        covariances.append(np.matmul(centred, centred.transpose(0, 2, 1)) / counts[i])
        # the variances from the centred data (two passes, as scikit-learn): 0 on padding
        variance[..., i] = np.diagonal(covariances[i], axis1=1, axis2=2)
        if shrinkage == "auto":
            scale = np.sqrt(np.where(real, variance[..., i], 1.0))
            correlation = covariances[i] / (scale[:, :, None] * scale[:, None, :])
            delta_[:, i] = np.einsum("spq,spq->s", correlation, correlation)
            centred /= scale[..., None]
            inner = np.einsum("spn,spn->sn", centred, centred)
            beta_[:, i] = np.einsum("sn,sn->s", inner, inner)
    weights, diagonal = _shrinkage(variance, real, sizes, priors, counts, delta_, beta_, shrinkage)
    sigma = sum(weights[:, i, None, None] * covariance for i, covariance in enumerate(covariances))
    sigma[:, np.arange(p_max), np.arange(p_max)] += diagonal
    # a (nearly) singular sigma, as with no shrinkage and fewer training samples than voxels:
    # scikit-learn's least-squares solution is not the one of a solve; refitted with it
    # (padding voxels get a diagonal inside the real block's spectrum: the same condition)
    on_diagonal = sigma[:, np.arange(p_max), np.arange(p_max)]
    largest = np.where(real, on_diagonal, -np.inf).max(axis=1, keepdims=True)
    block = sigma.copy()
    block[:, np.arange(p_max), np.arange(p_max)] = np.where(real, on_diagonal, largest)
    with np.errstate(invalid="ignore", divide="ignore"):
        condition = np.linalg.cond(block)
    refit = ~(condition * sizes * np.finfo(float).eps < _CONDITION_TOLERANCE)
    coef, intercept = _coefficients(sigma, means, priors, refit)
    tested = data[:, :, test]  # (n_spheres, p_max, n_test)
    scores = np.einsum("spn,spk->snk", tested, coef) + intercept[:, None, :]
    magnitude = np.einsum("spn,spk->snk", np.abs(tested), np.abs(coef)) + np.abs(intercept)[:, None]
    predicted, unsure = _predictions(scores, magnitude.max(axis=(1, 2)), _TIE_TOLERANCE)
    return (predicted == stats["target"]).mean(axis=1), refit | unsure


def _solve(sigma, rhs, exact):
    """``numpy.linalg.solve`` per sphere; spheres with a singular ``sigma`` get ``exact``."""
    try:
        return np.linalg.solve(sigma, rhs)
    except np.linalg.LinAlgError:
        coef = np.zeros_like(rhs)
        for s in range(sigma.shape[0]):
            try:
                coef[s] = np.linalg.solve(sigma[s], rhs[s])
            except np.linalg.LinAlgError:
                exact[s] = True
        return coef
