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

Per sphere, in batches of thousands of spheres at once: the p x p blocks of the class
covariances are read from the table, the shrinkage intensity is computed in closed form,
``sigma`` is assembled and the small systems are solved together (``numpy.linalg.solve``
on a stack of matrices), and the test samples are scored. Spheres at the edge of the mask
have fewer voxels: they are padded with a dummy voxel whose row and column are those of
the identity, which leaves their solution unchanged. The sums over each sphere's block
that Ledoit-Wolf's formula needs are a stencil: for each offset from the centre, a fixed
weighted sum of the table's row at that offset.

The cross-products and the covariance tables read per sphere are kept in single precision
(half the memory traffic; the blocks of all classes are read in one gather), and so are
the sums of ``beta_``; means, variances and the solves are in double precision. A (sphere,
fold) pair whose predictions could change by that rounding (a test sample within a
relative ``_SINGLE_TOLERANCE`` of the decision boundary) is recomputed in double precision
from the data themselves (:func:`_exact_accuracy`), and so are the spheres holding a voxel
whose variance in a class is small next to its mean there (``_SINGLE_FRAGILE``). The few
pairs that are still within a relative ``_TIE_TOLERANCE`` of a tie, or where a class is
constant on a voxel of the sphere, are refitted with scikit-learn itself.
"""

from __future__ import annotations

import itertools
from numbers import Real

import numpy as np
from scipy import sparse
from sklearn.discriminant_analysis import LinearDiscriminantAnalysis
from tqdm import tqdm

# A prediction whose margin is below this fraction of its magnitude is refitted exactly.
_TIE_TOLERANCE = 1e-8
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
# amplifies rounding errors (``p * max(diag(sigma)) / min(shrinkage diagonal)``): above
# _SINGLE_TOLERANCE / _SINGLE_EPSILON (1000; 250 to 480 at the real Haxby size with
# Ledoit-Wolf). The errors seen are below 1e-9 times that bound. With little shrinkage the
# bound is large and most spheres are computed in double precision (no shrinkage: all).
_SINGLE_EPSILON = 1e-8
# A class whose variance on a voxel is below this fraction of the voxel's mean square is
# treated as constant there (scikit-learn then does not rescale it): refitted exactly.
_CONSTANT_TOLERANCE = 1e-10
# Number of spheres per batch: bounds the memory of the per-sphere blocks and keeps them in
# cache (1024 spheres of 19 voxels: 3 MB per p x p stack; 4096 was measured 20% slower).
_SPHERES_PER_BATCH = 1024
# Number of voxels per block when computing the cross-products of the pairs.
_VOXELS_PER_BLOCK = 32
# Largest table of cross-products (float64 numbers, 512 MB) kept for all folds at once;
# beyond (many folds, e.g. leave-one-out), each fold's table is computed in turn.
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
    batches = [
        slice(start, start + _SPHERES_PER_BATCH)
        for start in range(0, neighbors.shape[0], _SPHERES_PER_BATCH)
    ]
    block_sums = None
    if not pairs.stencil_exact:
        index = [pairs.block_index(batch) for batch in batches]
        block_sums = _block_sums(index, pairs, neighbors.shape[0])
    # beta_ in single precision, as the tables
    neighbors_single = neighbors.astype(np.float32)
    X_single = X_centred.astype(np.float32) if shrinkage == "auto" else None

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
            stats["beta_"] = _beta_sums(X_single, codes, train, stats, neighbors_single)
            stats["delta_"] = _sphere_sums(stats.pop("squared_correlations"), pairs, block_sums)
        X_test = X_centred[test]
        stats["test_values"] = np.ascontiguousarray(X_test.T)  # (n_voxels, n_test)
        # the largest norm of a test sample on each sphere is at most this bound
        stats["test_norms"] = np.sqrt(neighbors @ (X_test**2).max(axis=0))  # (n_spheres,)
        target = np.searchsorted(stats["present"], codes[test])
        unseen = stats["present"][np.minimum(target, stats["present"].size - 1)] != codes[test]
        target[unseen] = -1  # a class absent from the training fold is never predicted
        stats["target"] = target
        return stats

    accuracies = np.empty((len(folds), neighbors.shape[0]))
    unsure, exact = np.zeros((2, len(folds), neighbors.shape[0]), dtype=bool)
    # folds in groups whose tables fit in memory together: each sphere's block index is
    # computed once per group
    n_cells = (pairs.n_voxels + 1) * (pairs.n_half + 1) * (codes.max() + 1)
    group = max(1, _MAX_TABLE_SIZE // n_cells)
    bar = tqdm(total=len(folds), desc="folds", disable=not progress)
    for first in range(0, len(folds), group):
        ks = range(first, min(first + group, len(folds)))
        stats = [fold_statistics(k) for k in ks]
        for batch in batches:
            index = pairs.block_index(batch)
            for k, fold_stats in zip(ks, stats, strict=True):
                accuracies[k, batch], unsure[k, batch], exact[k, batch] = _batch_accuracy(
                    pairs, batch, index, fold_stats, shrinkage
                )
        for k, fold_stats in zip(ks, stats, strict=True):
            train, test = folds[k]
            fold = (X_centred, codes, train, test)
            recompute = np.flatnonzero(unsure[k] & ~exact[k])
            for start in range(0, recompute.size, _SPHERES_PER_BATCH):  # a batch at most
                again = recompute[start : start + _SPHERES_PER_BATCH]
                accuracies[k, again], exact[k, again] = _exact_accuracy(
                    fold, pairs.members[again], pairs.sizes[again], fold_stats, shrinkage
                )
            for s in np.flatnonzero(exact[k]):
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
        self._cell_code = (2 * self.column + self.from_b).ravel()
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
        # one gather from a flat table coding (column, from_b) as 2 * column + from_b
        n_offsets = self.column.shape[0]
        cell = self._cell_code[offsets[:, :, None] * n_offsets + offsets[:, None, :]]
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
        values = np.zeros((self.n_voxels + 1, atoms.size), dtype=np.float32)
        values[:-1] = X[atoms.ravel()].T
        values[:, atoms.ravel() < 0] = 0.0  # padding samples: zero
        by_atom = values.reshape(self.n_voxels + 1, n_atoms, atom_size)
        table = np.zeros((n_atoms, self.n_voxels + 1, self.n_half + 1), dtype=np.float32)
        for start in range(0, self.n_voxels, _VOXELS_PER_BLOCK):
            rows = slice(start, min(start + _VOXELS_PER_BLOCK, self.n_voxels))
            others = by_atom[self.partners[rows]]  # (block, n_half, n_atoms, atom_size)
            np.einsum("vjan,van->avj", others, by_atom[rows], out=table[:, rows, :-1])
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
        "packed": tables.view(np.dtype((np.void, 4 * present.size))).ravel(),
        "squared_correlations": squared_correlations,
    }


def _beta_sums(X_single, codes, train, stats, neighbors):
    """Ledoit-Wolf's ``beta_`` of each class on each sphere: (n_spheres, n_classes).

    The sum over the class's samples i of ``(sum over the sphere's voxels j of z_ij ** 2)
    ** 2``, where ``z`` are the standardized values: one sparse product gives the inner sums
    (in single precision, from ``X_single``, the centred data in single precision).
    """
    rows = [train[codes[train] == c] for c in stats["present"]]
    squares = X_single[np.concatenate(rows)]  # the training samples, class by class
    start = 0
    for i, samples in enumerate(rows):
        scale = np.where(stats["constant"][:-1], 1.0, stats["variance"][i, :-1])
        block = squares[start : start + samples.size]
        block -= stats["means"][i, :-1].astype(np.float32)
        block **= 2
        block *= (1.0 / scale).astype(np.float32)
        start += samples.size
    inner = neighbors @ np.ascontiguousarray(squares.T)  # (n_spheres, n_training samples)
    inner **= 2
    bounds = np.cumsum([0] + [samples.size for samples in rows])
    return np.stack([inner[:, a:b].sum(axis=1) for a, b in itertools.pairwise(bounds)], axis=1)


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


def _batch_accuracy(pairs, batch, index, stats, shrinkage):
    """Accuracy on the test samples of LDA trained on each sphere of a batch of spheres.

    The class covariances are read in single precision. Also returns which spheres have
    predictions that this rounding could change (to recompute in double precision with
    :func:`_exact_accuracy`), and which have a constant voxel (to refit with scikit-learn).
    """
    members, sizes = pairs.members[batch], pairs.sizes[batch]
    priors, counts = stats["priors"], stats["counts"]
    n_spheres, p_max = members.shape
    real = members < pairs.n_voxels
    # means and variances of the classes on each voxel of each sphere, in one gather
    voxels = stats["per_voxel"][members]  # (n_spheres, p_max, 2 * n_classes)
    means, variance = voxels[..., : priors.size], voxels[..., priors.size :]
    delta_ = stats["delta_"][batch] if shrinkage == "auto" else None
    beta_ = stats["beta_"][batch] if shrinkage == "auto" else None
    weights, diagonal = _shrinkage(variance, real, sizes, priors, counts, delta_, beta_, shrinkage)
    # the blocks of all classes in one gather; their weighted sum as a stack of products
    blocks = np.take(stats["packed"], index).view(np.float32).reshape(n_spheres, p_max * p_max, -1)
    sigma = np.matmul(blocks, weights.astype(np.float32)[:, :, None]).astype(np.float64)
    sigma[:, :: p_max + 1, 0] += diagonal
    sigma = sigma.reshape(n_spheres, p_max, p_max)
    exact = stats["constant"][members].any(axis=1)
    coef, intercept = _coefficients(sigma, means, priors, exact)
    # x_test[sphere] @ coef for every sphere at once: a sparse (n_spheres, n_voxels) matrix
    # holding each sphere's coefficients times the test data
    indptr = np.concatenate([[0], np.cumsum(sizes)])
    scores = np.stack(
        [
            sparse.csr_matrix(
                (coef[..., k][real], members[real], indptr), shape=(n_spheres, pairs.n_voxels)
            )
            @ stats["test_values"]
            for k in range(coef.shape[2])
        ],
        axis=2,
    )
    scores += intercept[:, None, :]
    # an upper bound, over the test samples, of sum |x_j coef_j| + |intercept|
    # (Cauchy-Schwarz): the scale of the rounding errors of the scores
    coef_norm = np.sqrt(np.einsum("spk,spk->sk", coef, coef))
    magnitude = (stats["test_norms"][batch, None] * coef_norm + np.abs(intercept)).max(axis=1)
    # the single-precision covariances change sigma by about eps * p * max(diag(sigma)) (at
    # most _SINGLE_FRAGILE digits are lost), and the inverse of sigma is at most 1 / min of
    # the diagonal added by the shrinkage (the covariances are positive semi-definite): a
    # bound of the relative error of the coefficients
    largest = sigma[:, np.arange(p_max), np.arange(p_max)].max(axis=1)
    with np.errstate(divide="ignore"):
        amplification = sizes * largest / np.where(real, diagonal, np.inf).min(axis=1)
    tolerance = np.maximum(_SINGLE_TOLERANCE, _SINGLE_EPSILON * amplification)
    predicted, unsure = _predictions(scores, tolerance * magnitude, 1.0)
    unsure |= stats["fragile"][members].any(axis=1)
    accuracy = (predicted == stats["target"]).mean(axis=1)
    return accuracy, unsure, exact


def _exact_accuracy(fold, members, sizes, stats, shrinkage):
    """Accuracy of a few spheres computed in double precision from the data themselves.

    Returns the accuracies and which spheres have a prediction within ``_TIE_TOLERANCE`` of
    a tie (or a score that is not finite): those are to be refitted with scikit-learn.
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
    refit = np.zeros(n_spheres, dtype=bool)
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
