"""Time the Table 1 grid of Abraham et al. (2014) at the real size of the Miyawaki dataset.

4 models x 6 values of C x 100 pixels x 5 folds = 12,000 fits on 2,860 samples x 5,438 voxels.
Both sides run in the same process, on the same folds and the same selected voxels:

- :func:`mlni.miyawaki.table1_grid` on all the pixels;
- scikit-learn's estimators (:func:`mlni.miyawaki.make_classifier`) fitted one by one, on
  ``--sk-pixels`` pixels spread over the image (the whole grid takes 15-30 minutes on 2
  cores), its time extrapolated to all the pixels and labelled as such.

The agreement is measured on those pixels: the largest difference of mean accuracy over
(model, C), and the relative gap between the objective each solver minimises at our
solution and at scikit-learn's (negative: ours is lower, i.e. closer to the optimum).

The data are the simulated stand-in of size "full" (``--data simulated``, the default), the
real data (``--data real``) or random arrays with a planted retinotopic signal
(``--data synthetic``, no files needed).

Usage::

    MLNI_DATA=/work/mlni_data python benchmarks/miyawaki_table1.py [--n-jobs 2] [--sk-pixels 4]
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np
from joblib import Parallel, delayed
from sklearn.model_selection import KFold
from threadpoolctl import threadpool_limits

from mlni import _table1_solvers, miyawaki
from mlni_course.paper import TABLE1


def planted_arrays(n_samples=2860, n_voxels=5438, n_visual=1500, noise=3.0, seed=0):
    """Random 10x10 images and voxels whose signal is a Gaussian receptive field plus noise."""
    rng = np.random.default_rng(seed)
    Y = rng.integers(0, 2, size=(n_samples, 100)).astype(np.int8)
    rows, cols = np.divmod(np.arange(100), 10)
    centers = rng.uniform(0, 9, size=(n_visual, 2))
    distance2 = (rows - centers[:, :1]) ** 2 + (cols - centers[:, 1:]) ** 2
    fields = np.exp(-distance2 / 2.0).astype(np.float32)
    X = noise * rng.standard_normal((n_samples, n_voxels), dtype=np.float32)
    X[:, :n_visual] += (Y - np.float32(0.5)) @ fields.T
    X -= X.mean(axis=0)
    X /= X.std(axis=0)
    return X, Y


def load(kind, size):
    """The (X, Y) arrays of the random runs, and a description of where they come from."""
    if kind == "synthetic":
        return (*planted_arrays(), "random arrays with a planted signal")
    from data_fetchers import fetch_miyawaki2008

    source, size = ("real", "small") if kind == "real" else ("simulated", size)
    data = fetch_miyawaki2008(source=source, size=size, verbose=0)
    X, Y, _ = miyawaki.load_runs(data)
    return X, Y, f"fetch_miyawaki2008(source={source!r}, size={size!r})"


def sklearn_pixel(X, y, folds, selected, models, Cs):
    """scikit-learn's estimators fitted one by one: accuracies and weights of every fit."""
    scores = np.empty((len(models), len(Cs), len(folds)))
    weights = []
    with threadpool_limits(limits=1):
        for f, (train, test) in enumerate(folds):
            Z = X[np.ix_(train, selected[f])].astype(np.float64)
            Z_test = X[np.ix_(test, selected[f])].astype(np.float64)
            fold_weights = np.empty((len(models), len(Cs), Z.shape[1] + 1))
            for m, model in enumerate(models):
                for c, C in enumerate(Cs):
                    clf = miyawaki.make_classifier(model, C).fit(Z, y[train])
                    scores[m, c, f] = clf.score(Z_test, y[test])
                    fold_weights[m, c] = np.append(clf.coef_.ravel(), clf.intercept_)
            weights.append(fold_weights)
    return scores, weights


def objective_gaps(X, y, folds, selected, models, Cs, sk_weights):
    """Relative gap (ours - scikit-learn's) / |scikit-learn's| of every objective, and refits."""
    gaps, refits = [], 0
    for f, (train, _) in enumerate(folds):
        Z = X[np.ix_(train, selected[f])].astype(np.float64)
        ours, converged = _table1_solvers.fit_paths(Z, y[train], models, Cs,
                                                    miyawaki._sklearn_weights)
        refits += int((~converged).sum())
        A, _ = _table1_solvers.design(Z, y[train])
        for m, model in enumerate(models):
            for c, C in enumerate(Cs):
                theirs = _table1_solvers.objective(model, A, sk_weights[f][m, c], C)
                gaps.append((_table1_solvers.objective(model, A, ours[m, c], C) - theirs)
                            / abs(theirs))
    return np.array(gaps).reshape(len(folds), len(models), len(Cs)), refits


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", choices=["simulated", "real", "synthetic"], default="simulated")
    parser.add_argument("--size", choices=["small", "full"], default="full")
    parser.add_argument("--n-pixels", type=int, default=100)
    parser.add_argument("--sk-pixels", type=int, default=4)
    parser.add_argument("--n-jobs", type=int, default=2)
    args = parser.parse_args(argv)
    models, Cs = miyawaki.TABLE1_MODELS, np.asarray(miyawaki.TABLE1_CS)

    start = time.perf_counter()
    X, Y, origin = load(args.data, args.size)
    print(f"data: {origin}: X {X.shape}, Y {Y.shape} ({time.perf_counter() - start:.1f} s)")
    pixels = np.unique(np.linspace(0, 99, args.n_pixels).round().astype(int))
    start = time.perf_counter()
    scores = miyawaki.table1_grid(X, Y, pixels=pixels, n_jobs=args.n_jobs)
    ours = time.perf_counter() - start
    print(f"table1_grid: {scores.size} fits ({len(pixels)} pixels) in {ours:.1f} s,"
          f" n_jobs={args.n_jobs}, load average {os.getloadavg()[0]:.1f}")

    # scikit-learn, one estimator at a time, on the same folds and voxels, for a few pixels
    sk_pixels = pixels[np.unique(np.linspace(0, len(pixels) - 1, args.sk_pixels).round()
                                 .astype(int))]
    Ysk = Y[:, sk_pixels]
    folds = list(KFold(5).split(X))
    selected = np.stack([miyawaki._top_k(miyawaki.f_scores(X[train], Ysk[train]), 500)
                         for train, _ in folds])
    start = time.perf_counter()
    results = Parallel(n_jobs=args.n_jobs, prefer="threads")(
        delayed(sklearn_pixel)(X, Ysk[:, j], folds, selected[:, j], models, Cs)
        for j in range(len(sk_pixels)))
    sk_time = (time.perf_counter() - start) * len(pixels) / len(sk_pixels)
    print(f"load average after scikit-learn: {os.getloadavg()[0]:.1f}")
    print(f"scikit-learn one by one: {len(sk_pixels)} pixels {sk_pixels.tolist()} in"
          f" {sk_time * len(sk_pixels) / len(pixels):.1f} s, extrapolated to {len(pixels)}"
          f" pixels: {sk_time:.0f} s, n_jobs={args.n_jobs}")
    print(f"\n{'':28s}{'table1_grid':>14s}{'scikit-learn':>14s}")
    print(f"{'time, ' + str(len(pixels)) + ' pixels (s)':28s}{ours:14.1f}{sk_time:14.0f}"
          f"   (scikit-learn extrapolated from {len(sk_pixels)} pixels)")
    print(f"speed-up: {sk_time / ours:.1f}x")

    sk_scores = np.stack([r[0] for r in results], axis=2)
    where = np.searchsorted(pixels, sk_pixels)
    difference = scores[:, :, where].mean(axis=(2, 3)) - sk_scores.mean(axis=(2, 3))
    print(f"\nagreement on the {len(sk_pixels)} pixels:")
    print(f"  max |mean accuracy difference| over (model, C): {np.abs(difference).max():.4f}")
    print(f"  fold accuracies identical: {np.mean(scores[:, :, where] == sk_scores):.1%}")
    with threadpool_limits(limits=1):  # small problems: many BLAS threads only contend
        gaps = [objective_gaps(X, Ysk[:, j], folds, selected[:, j], models, Cs, results[j][1])
                for j in range(len(sk_pixels))]
    refits = sum(g[1] for g in gaps)
    gaps = np.concatenate([g[0] for g in gaps])
    print("  relative objective gap (ours - scikit-learn's) / |scikit-learn's|,"
          " negative: ours lower")
    for m, model in enumerate(models):
        print(f"    {model:12s} max {gaps[:, m].max():+.1e}  median {np.median(gaps[:, m]):+.1e}")
    print(f"  solutions refitted with scikit-learn (optimality not reached): {refits}"
          f" of {gaps.size}")

    table = miyawaki.table1_summary(scores)
    paper = {model: list(cells) for model, cells in TABLE1.items()}
    print("\nthis run:\n" + table.to_string())
    print("\npaper:\n" + table.copy().assign(**{
        column: [paper[model][c] for model in table.index]
        for c, column in enumerate(table.columns)
    }).to_string())


if __name__ == "__main__":
    main()
