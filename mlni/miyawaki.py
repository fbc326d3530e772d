"""Miyawaki 2008: loading the runs, and the fast per-pixel decoding grid of the paper's Table 1.

The dataset pairs fMRI volumes of the visual cortex with the 10x10 binary images a subject
was looking at. :func:`load_runs` turns the files of :func:`data_fetchers.fetch_miyawaki2008`
into a ``(n_samples, n_voxels)`` array ``X`` and a ``(n_samples, 100)`` array of pixels ``Y``.
:func:`table1_grid` fits one classifier per pixel for 4 models x 6 values of ``C`` in 5-fold
cross-validation, as in Table 1 of Abraham et al. (2014): it follows each model's
regularisation path with exact solvers of scikit-learn's objectives (:mod:`mlni._table1_solvers`)
instead of fitting 12,000 estimators from scratch (see ``benchmarks/miyawaki_table1.py``).
"""

from __future__ import annotations

import numpy as np
import sklearn
from joblib import Parallel, delayed
from sklearn.linear_model import LassoLarsCV, LogisticRegression, Ridge
from sklearn.metrics import r2_score
from sklearn.model_selection import KFold
from sklearn.svm import SVC, LinearSVC

from mlni._checks import check_finite
from mlni._table1_solvers import fit_paths

__all__ = [
    "PIXEL_SHAPE",
    "TABLE1_CS",
    "TABLE1_MODELS",
    "encoding_r2",
    "f_scores",
    "load_labels",
    "load_runs",
    "make_classifier",
    "receptive_fields",
    "reconstruct",
    "rf_centers",
    "stimulus_blocks",
    "table1_grid",
    "table1_summary",
]

PIXEL_SHAPE = (10, 10)
TABLE1_CS = (0.0005, 0.001, 0.005, 0.01, 0.05, 0.1)
TABLE1_MODELS = ("l1_logistic", "l2_logistic", "l1_svc", "l2_svc")


def load_labels(csv_path):
    """Read one run's stimulus file as a ``(n_volumes, 100)`` array of pixels.

    Each row of the csv holds the 100 pixels of one volume (0 or 1, -1 during rest) in
    column-major order; they are put in row-major order so that pixel ``(row, col)`` is
    column ``10 * row + col`` and ``Y.reshape(-1, 10, 10)`` gives the images.
    """
    labels = np.loadtxt(csv_path, delimiter=",", dtype=np.int8, ndmin=2)
    if labels.shape[1] != 100:
        raise ValueError(f"'csv_path' must hold 100 values per row. Got {labels.shape[1]}.")
    images = labels.reshape((-1, *PIXEL_SHAPE), order="F")
    return images.reshape(len(labels), -1)


def load_runs(data, *, kind="random", keep_rest=False, hrf_shift=2, dtype="float32"):
    """Mask, clean and align the runs of the Miyawaki dataset.

    Each run is masked, detrended and standardised on its own; then the first ``hrf_shift``
    volumes and the last ``hrf_shift`` label rows are dropped, so that each volume is paired
    with the image shown ``hrf_shift`` volumes (4 s) earlier, when the haemodynamic response
    peaks.

    Parameters
    ----------
    data : sklearn.utils.Bunch
        The output of :func:`data_fetchers.fetch_miyawaki2008` (keys ``func``, ``label``,
        ``mask``).
    kind : {"random", "figure"}
        The random-image runs (training set of the original study) or the figure runs
        (shapes and letters, its test set).
    keep_rest : bool
        Keep the rest volumes (all pixels -1); they are dropped by default.
    hrf_shift : int
        Delay, in volumes, between a stimulus and the volume it is paired with.
    dtype : str
        Data type of ``X``.

    Returns
    -------
    X : ndarray of shape (n_samples, n_voxels)
    Y : ndarray of shape (n_samples, 100), int8
        Pixels in row-major order (-1 for rest rows when ``keep_rest``).
    runs : ndarray of shape (n_samples,)
        The run (0, 1, ...) each sample comes from.
    """
    from mlni.masking import apply_mask
    from mlni.signal import clean

    if kind not in ("random", "figure"):
        raise ValueError(f"'kind' must be 'random' or 'figure'. Got {kind!r}.")
    if not isinstance(hrf_shift, (int, np.integer)) or hrf_shift < 0:
        raise ValueError(f"'hrf_shift' must be a non-negative integer. Got {hrf_shift!r}.")
    pairs = [
        (func, label)
        for func, label in zip(data.func, data.label, strict=True)
        if f"data_{kind}_" in str(func)
    ]
    X, Y, runs = [], [], []
    for run, (func, label) in enumerate(pairs):
        x = clean(apply_mask(func, data.mask, dtype=dtype), detrend=True, standardize=True)
        y = load_labels(label)
        x, y = x[hrf_shift:], y[: len(y) - hrf_shift]
        if not keep_rest:
            x, y = x[y[:, 0] != -1], y[y[:, 0] != -1]
        X.append(np.asarray(x, dtype=dtype))
        Y.append(y)
        runs.append(np.full(len(y), run))
    return np.concatenate(X), np.concatenate(Y), np.concatenate(runs)


def _sklearn_version():
    return tuple(int(part) for part in sklearn.__version__.split(".")[:2])


def _require_l1_ratio_liblinear():
    """Refuse scikit-learn < 1.8, where ``l1_ratio`` is ignored by the liblinear solver.

    Before 1.8, ``LogisticRegression(l1_ratio=1.0, solver="liblinear")`` keeps the default
    ``penalty="l2"`` and fits an l2 model without a word: the "l1" row of Table 1 would be wrong.
    """
    if _sklearn_version() < (1, 8):
        raise RuntimeError(
            "The l1 logistic regression of Table 1 needs scikit-learn >= 1.8 (before it, "
            "l1_ratio=1.0 is ignored by liblinear and the model is silently l2). Got "
            f"scikit-learn {sklearn.__version__}: run `pip install -r requirements.txt`."
        )


def make_classifier(model, C):
    """Return the scikit-learn classifier of Table 1 for one ``model`` name and ``C``.

    ``"l1_logistic"`` and ``"l2_logistic"`` are :class:`~sklearn.linear_model.LogisticRegression`
    with the liblinear solver (scikit-learn's default when the paper was written),
    ``"l1_svc"`` is :class:`~sklearn.svm.LinearSVC` with the squared hinge loss solved in the
    primal, ``"l2_svc"`` is :class:`~sklearn.svm.SVC` with a
    linear kernel.

    Raises
    ------
    RuntimeError
        For ``"l1_logistic"`` with scikit-learn < 1.8, which would silently fit an l2 model.
    """
    if model not in TABLE1_MODELS:
        raise ValueError(f"'model' must be one of {', '.join(TABLE1_MODELS)}. Got {model!r}.")
    if model == "l1_logistic":
        _require_l1_ratio_liblinear()
        return LogisticRegression(C=C, l1_ratio=1.0, solver="liblinear")
    if model == "l2_logistic":
        return LogisticRegression(C=C, solver="liblinear")
    if model == "l1_svc":
        return LinearSVC(C=C, penalty="l1", loss="squared_hinge", dual=False)
    return SVC(C=C, kernel="linear")


def f_scores(X, Y):
    """ANOVA F-scores of every voxel for every pixel at once.

    The same numbers as ``sklearn.feature_selection.f_classif(X, Y[:, j])[0]`` for each
    column ``j`` of a binary ``Y``, computed with two matrix products instead of 100 calls.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_voxels)
    Y : ndarray of shape (n_samples, n_pixels)
        Binary (0/1) targets.

    Returns
    -------
    ndarray of shape (n_pixels, n_voxels)
    """
    X = check_finite(np.asarray(X, dtype=np.float64), name="X")
    Y = np.asarray(Y, dtype=np.float64)
    if not np.isin(Y, (0.0, 1.0)).all():
        raise ValueError("'Y' must hold only 0 and 1 (rest rows removed).")
    n = len(X)
    n1 = Y.sum(axis=0)[:, None]
    sum_all = X.sum(axis=0)
    sum1 = Y.T @ X
    mean = sum_all / n
    ss_total = (X**2).sum(axis=0) - n * mean**2
    mean1 = sum1 / np.maximum(n1, 1)
    mean0 = (sum_all - sum1) / np.maximum(n - n1, 1)
    ss_between = n1 * (mean1 - mean) ** 2 + (n - n1) * (mean0 - mean) ** 2
    ss_within = np.maximum(ss_total - ss_between, np.finfo(float).tiny)
    return ss_between / (ss_within / (n - 2))


def _top_k(scores, k):
    """Indices (sorted) of the ``k`` largest scores of each row."""
    part = np.argpartition(-scores, k - 1, axis=1)[:, :k]
    return np.sort(part, axis=1)


def _sklearn_weights(model, C, Z, y):
    """Weights (intercept last) of scikit-learn's estimator of Table 1, fitted on (Z, y)."""
    clf = make_classifier(model, C).fit(Z, y)
    return np.append(clf.coef_.ravel(), clf.intercept_)


def _fit_pixel(X, y, folds, selected, models, Cs):
    """Accuracies of every model and C on every fold for one pixel: (n_models, n_Cs, n_folds).

    ``X`` holds the columns the pixel selects in at least one fold; ``selected[f]`` indexes
    them for fold ``f``.
    """
    from threadpoolctl import threadpool_limits

    scores = np.empty((len(models), len(Cs), len(folds)))
    order = np.argsort(Cs)  # the path goes from the strongest to the weakest penalty
    with threadpool_limits(limits=1):  # one core per pixel: parallelism is across pixels
        for f, (train, test) in enumerate(folds):
            Z = X[np.ix_(train, selected[f])].astype(np.float64)
            weights, _ = fit_paths(Z, y[train], models, Cs[order], _sklearn_weights)
            Z_test = X[np.ix_(test, selected[f])].astype(np.float64)
            decision = weights[..., :-1] @ Z_test.T + weights[..., -1:]  # (models, Cs, test)
            # scikit-learn predicts the class 1 where the decision function is positive
            scores[:, order, f] = ((decision > 0) == (y[test] == 1)).mean(axis=-1)
    return scores


def table1_grid(X, Y, *, models=TABLE1_MODELS, Cs=TABLE1_CS, k=500, n_folds=5, pixels=None,
                n_jobs=None):
    """Cross-validated accuracy of one classifier per pixel, for several models and C.

    Gives the answers of ``cross_val_score`` on
    ``make_pipeline(SelectKBest(f_classif, k=k), make_classifier(model, C))`` with
    ``KFold(n_folds)`` for every pixel, model and C, in a small fraction of the time.

    How:

    1. For each fold, the F-test of :func:`f_scores` ranks the voxels for all pixels at once
       on the training samples; the ``k`` best voxels of a pixel serve every model and C.
    2. For each pixel and fold, each model is fitted along its **regularisation path**: from
       the smallest C (strongest penalty, simplest solution: for the l1 models often all
       weights zero, which a one-line test of the gradient proves optimal) to the largest,
       each fit starting from the previous solution (a *warm start*), so that each needs only
       a few Newton steps. The objectives are exactly scikit-learn's: liblinear's logistic
       regressions and l1 linear SVC penalise the intercept like a weight (an extra feature
       of value 1, ``intercept_scaling=1``); libsvm's SVC leaves it unpenalised.
    3. The l1 models work on an **active set**: only the voxels with a non-zero weight, plus
       the few zero weights whose gradient says they should enter, take part in the Newton
       step; the others stay at zero. The l2 logistic model uses Newton steps solved by
       conjugate gradients; the SVC an active-set method on the samples (inside, on or
       outside the margin). See :mod:`mlni._table1_solvers`.
    4. Each solution is checked against its optimality conditions; the rare one that did not
       reach them is refitted with scikit-learn. The solutions are at least as good as
       liblinear's and libsvm's (their objective is never more than ``1e-6`` relatively
       above, and often below since those solvers stop earlier): the accuracies agree with
       scikit-learn's up to test samples that lie on the decision boundary.
    5. Pixels are independent tasks run through :mod:`joblib` (worker processes by default,
       as many small NumPy calls hold the GIL: two threads ran slower than one): within
       ``with joblib.parallel_config(backend="dask"):`` they are spread over a
       dask.distributed cluster.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_voxels)
    Y : ndarray of shape (n_samples, n_pixels)
        Binary pixels, rest rows removed.
    models : sequence of str
        Names from :data:`TABLE1_MODELS`.
    Cs : sequence of float
        Values of the inverse regularisation strength ``C``.
    k : int
        Number of voxels kept by the F-test.
    n_folds : int
        Number of contiguous (unshuffled) folds.
    pixels : sequence of int, optional
        Pixel indices (columns of ``Y``) to decode; all by default.
    n_jobs : int, optional
        Number of parallel pixels (joblib's ``n_jobs``; ``None``: joblib's default, 1 unless
        set by :func:`joblib.parallel_config`; -1: all cores).

    Returns
    -------
    ndarray of shape (n_models, n_Cs, n_pixels, n_folds)
        Test accuracy of each model, C, pixel and fold.
    """
    models = tuple(models)
    for model in models:
        if model not in TABLE1_MODELS:
            raise ValueError(f"'models' must hold names from {TABLE1_MODELS}. Got {model!r}.")
    Cs = np.asarray(Cs, dtype=float)
    if Cs.ndim != 1 or not len(Cs) or (Cs <= 0).any():
        raise ValueError(f"'Cs' must be a non-empty list of positive numbers. Got {Cs.tolist()}.")
    pixels = np.arange(Y.shape[1]) if pixels is None else np.asarray(pixels, dtype=int)
    if not 0 < k <= X.shape[1]:
        raise ValueError(f"'k' must be between 1 and n_voxels={X.shape[1]}. Got {k!r}.")
    Y = np.asarray(Y)[:, pixels]
    folds = list(KFold(n_folds).split(X))
    # (n_folds, n_pixels, k): the voxels each pixel keeps in each fold, for every model and C
    selected = np.stack([_top_k(f_scores(X[train], Y[train]), k) for train, _ in folds])
    jobs = []
    for j in range(len(pixels)):
        used, local = np.unique(selected[:, j], return_inverse=True)
        # each task gets only the columns its pixel uses: little to send to a remote worker
        jobs.append(delayed(_fit_pixel)(X[:, used], Y[:, j], folds,
                                        local.reshape(n_folds, k), models, Cs))
    # processes, not threads: the solvers make many small NumPy calls that hold the GIL,
    # and two threads of them ran slower than one
    return np.stack(Parallel(n_jobs=n_jobs, prefer="processes")(jobs), axis=2)


def table1_summary(scores, *, models=TABLE1_MODELS, Cs=TABLE1_CS):
    """Table 1 as a DataFrame: 'mean+-std' over pixels of the fold-averaged accuracy.

    Parameters
    ----------
    scores : ndarray of shape (n_models, n_Cs, n_pixels, n_folds)
        The output of :func:`table1_grid`.

    Returns
    -------
    pandas.DataFrame
        One row per model, one column per C, cells formatted as the paper's (``.63+-.11``).
    """
    import pandas as pd

    per_pixel = np.asarray(scores).mean(axis=-1)
    mean, std = per_pixel.mean(axis=-1), per_pixel.std(axis=-1)
    cells = [[_fmt(mean[m, c], std[m, c]) for c in range(len(Cs))] for m in range(len(models))]
    return pd.DataFrame(cells, index=list(models), columns=[f"C={C:g}" for C in Cs])


def _fmt(mean, std):
    """Format like the paper: ``.63+-.11``."""
    return f"{mean:.2f}".lstrip("0") + "+-" + f"{std:.2f}".lstrip("0")


def stimulus_blocks(Y):
    """Number the blocks of consecutive samples that show the same image.

    Returns an int array of shape (n_samples,): 0 for the first block, 1 for the next, ...
    Averaging the predictions of a block gives a less noisy reconstruction of its image.
    """
    Y = np.asarray(Y)
    changed = np.any(Y[1:] != Y[:-1], axis=1)
    return np.concatenate([[0], np.cumsum(changed)])


def reconstruct(X_train, Y_train, X_test, *, model="l1_logistic", C=0.05, k=500, n_jobs=2):
    """Train one classifier per pixel on ``X_train`` and predict the pixels of ``X_test``.

    Each pixel uses ``SelectKBest(f_classif, k)`` then :func:`make_classifier`. Returns a
    ``(n_test, n_pixels)`` array of predicted pixels (0 or 1).
    """
    top = _top_k(f_scores(X_train, Y_train), k)

    def fit_predict(j):
        clf = make_classifier(model, C).fit(X_train[:, top[j]], Y_train[:, j])
        return clf.predict(X_test[:, top[j]])

    columns = Parallel(n_jobs=n_jobs, prefer="threads")(
        delayed(fit_predict)(j) for j in range(Y_train.shape[1])
    )
    return np.stack(columns, axis=1)


def encoding_r2(Y, X, *, alpha=100.0, n_splits=10):
    """Predictive r2 of every voxel from the pixels, with a ridge model and KFold(n_splits).

    One multi-output :class:`~sklearn.linear_model.Ridge` per fold predicts all voxels at
    once; the r2 of each voxel on the left-out fold is averaged over folds.

    Returns
    -------
    ndarray of shape (n_voxels,)
    """
    scores = []
    for train, test in KFold(n_splits).split(Y):
        ridge = Ridge(alpha=alpha).fit(Y[train], X[train])
        scores.append(r2_score(X[test], ridge.predict(Y[test]), multioutput="raw_values"))
    return np.mean(scores, axis=0)


def receptive_fields(Y, X_voxels, *, max_iter=10):
    """Sparse receptive fields: one :class:`~sklearn.linear_model.LassoLarsCV` per voxel.

    Parameters
    ----------
    Y : ndarray of shape (n_samples, 100)
        The stimulus pixels.
    X_voxels : ndarray of shape (n_samples, n_voxels)
        The signals of the voxels of interest (a 1D array is one voxel).

    Returns
    -------
    ndarray of shape (n_voxels, 10, 10)
        The coefficients of each voxel's model, as an image.

    Raises
    ------
    ValueError
        If ``Y`` is not (n_samples, 100), if ``X_voxels`` does not have one row per row of
        ``Y`` (a transposed array is not silently reshaped), or if either holds NaN or inf.
    """
    Y = np.asarray(Y, dtype=float)
    n_pixels = int(np.prod(PIXEL_SHAPE))
    if Y.ndim != 2 or Y.shape[1] != n_pixels:
        raise ValueError(
            f"'Y' must have shape (n_samples, {n_pixels}): one row of pixels per sample. "
            f"Got shape {Y.shape}."
        )
    X_voxels = np.asarray(X_voxels, dtype=float)
    if X_voxels.ndim == 1:
        X_voxels = X_voxels[:, None]
    if X_voxels.ndim != 2 or X_voxels.shape[0] != len(Y):
        hint = " (transposed?)" if X_voxels.ndim == 2 and X_voxels.shape[1] == len(Y) else ""
        raise ValueError(
            f"'X_voxels' must have shape (n_samples, n_voxels) with n_samples = {len(Y)}, "
            f"the number of rows of 'Y'. Got shape {X_voxels.shape}{hint}."
        )
    check_finite(Y, name="Y")
    check_finite(X_voxels, name="X_voxels")
    fields = [LassoLarsCV(max_iter=max_iter).fit(Y, x).coef_ for x in X_voxels.T]
    return np.reshape(fields, (-1, *PIXEL_SHAPE))


def rf_centers(fields, *, fraction=0.0):
    """Centre of mass (row, col) of the positive part of each receptive field.

    Parameters
    ----------
    fields : ndarray of shape (n_fields, n_rows, n_cols)
        Receptive fields, e.g. from :func:`receptive_fields` or ridge coefficients.
    fraction : float
        Only coefficients above ``fraction`` times the field's maximum count (0 keeps every
        positive coefficient; 0.5 keeps the peak, which resists broad noisy weights).

    Returns
    -------
    ndarray of shape (n_fields, 2)
        NaN for a field without a positive coefficient.
    """
    if not 0 <= fraction < 1:
        raise ValueError(f"'fraction' must be in [0, 1). Got {fraction!r}.")
    fields = np.asarray(fields, dtype=float)
    peak = fields.max(axis=(1, 2), keepdims=True)
    fields = np.where((fields > 0) & (fields >= fraction * peak), fields, 0.0)
    rows, cols = np.indices(fields.shape[1:])
    total = fields.sum(axis=(1, 2))
    with np.errstate(invalid="ignore", divide="ignore"):
        center = np.stack([(fields * rows).sum(axis=(1, 2)), (fields * cols).sum(axis=(1, 2))], 1)
        return center / total[:, None]
