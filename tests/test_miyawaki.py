"""Tests of mlni.miyawaki: loading of the runs and the per-pixel decoding / encoding helpers."""

import joblib
import nibabel as nib
import numpy as np
import pytest
from sklearn.feature_selection import SelectKBest, f_classif
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import KFold, cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.svm import SVC, LinearSVC
from sklearn.utils import Bunch

from mlni import _table1_solvers, miyawaki


def _planted(n_samples=300, n_voxels=120, n_visual=40, noise=1.5, seed=0):
    """Random binary images; the first voxels respond to one pixel each (voxel v -> pixel v)."""
    rng = np.random.default_rng(seed)
    Y = rng.integers(0, 2, size=(n_samples, 100)).astype(np.int8)
    X = noise * rng.standard_normal((n_samples, n_voxels))
    X[:, :n_visual] += Y[:, :n_visual]
    return X.astype(np.float32), Y


@pytest.fixture
def fake_dataset(tmp_path):
    """A tiny dataset with the fetcher's layout: 2 figure runs then 3 random runs."""
    rng = np.random.default_rng(1)
    mask = np.zeros((4, 4, 3), dtype=np.uint8)
    mask[1:3, 1:3, :] = 1
    nib.Nifti1Image(mask, np.eye(4)).to_filename(tmp_path / "mask.nii.gz")
    func, label = [], []
    for kind, n_runs in (("figure", 2), ("random", 3)):
        for run in range(1, n_runs + 1):
            bold = (100 + 10 * rng.standard_normal((4, 4, 3, 12))).astype(np.int16)
            path = tmp_path / f"data_{kind}_run{run:02d}.nii.gz"
            nib.Nifti1Image(bold, np.eye(4)).to_filename(path)
            images = rng.integers(0, 2, size=(12, 100))
            images[:3] = -1  # rest at the start of the run
            csv = tmp_path / f"data_{kind}_run{run:02d}_label.csv"
            np.savetxt(csv, images, fmt="%d", delimiter=",")
            func.append(str(path))
            label.append(str(csv))
    return Bunch(func=func, label=label, mask=str(tmp_path / "mask.nii.gz"))


def test_load_labels_puts_pixels_in_row_major_order(tmp_path):
    image = np.arange(100).reshape(10, 10) % 2
    image[4, 2] = 7
    csv = tmp_path / "label.csv"
    np.savetxt(csv, image.ravel(order="F")[None], fmt="%d", delimiter=",")
    pixels = miyawaki.load_labels(csv)
    assert pixels.shape == (1, 100)
    assert pixels[0, 42] == 7
    assert np.array_equal(pixels.reshape(10, 10), image)


def test_load_labels_rejects_wrong_width(tmp_path):
    csv = tmp_path / "label.csv"
    np.savetxt(csv, np.zeros((3, 99)), fmt="%d", delimiter=",")
    with pytest.raises(ValueError, match="'csv_path' must hold 100 values per row. Got 99"):
        miyawaki.load_labels(csv)


def test_load_runs_shift_rest_and_runs(fake_dataset):
    X, Y, runs = miyawaki.load_runs(fake_dataset)
    # 12 volumes - 2 shifted - first 3 rest rows of the labels = 7 samples per random run
    assert X.shape == (21, 12) and Y.shape == (21, 100)
    assert X.dtype == np.float32
    assert np.array_equal(np.unique(runs), [0, 1, 2])
    assert np.isin(Y, (0, 1)).all()
    labels = miyawaki.load_labels(fake_dataset.label[2])
    assert np.array_equal(Y[runs == 0], labels[3:10])


def test_load_runs_keeps_rest_and_reads_figure_runs(fake_dataset):
    X, Y, runs = miyawaki.load_runs(fake_dataset, kind="figure", keep_rest=True, hrf_shift=1)
    assert X.shape == (22, 12)
    assert (Y == -1).all(axis=1).sum() == 6
    x_run = X[runs == 1]  # each run is standardised on its own (before the shift)
    assert np.abs(x_run.mean(axis=0)).max() < 0.5


def test_load_runs_errors(fake_dataset):
    with pytest.raises(ValueError, match="'kind' must be 'random' or 'figure'. Got 'test'"):
        miyawaki.load_runs(fake_dataset, kind="test")
    with pytest.raises(ValueError, match="'hrf_shift' must be a non-negative integer. Got -1"):
        miyawaki.load_runs(fake_dataset, hrf_shift=-1)


def test_make_classifier_models():
    assert isinstance(miyawaki.make_classifier("l1_logistic", 0.1), LogisticRegression)
    svc = miyawaki.make_classifier("l1_svc", 0.1)
    assert isinstance(svc, LinearSVC) and svc.penalty == "l1" and svc.dual is False
    assert miyawaki.make_classifier("l2_svc", 0.01).kernel == "linear"
    assert isinstance(miyawaki.make_classifier("l2_svc", 0.01), SVC)
    with pytest.raises(ValueError, match="'model' must be one of .* Got 'lasso'"):
        miyawaki.make_classifier("lasso", 1.0)


def test_l1_models_are_sparse_and_l2_models_are_not():
    # Fitted, not inspected: an "l1" model that silently falls back to l2 (scikit-learn < 1.8
    # ignores l1_ratio with liblinear) has no zero weights and fails here.
    rng = np.random.default_rng(0)
    X = rng.standard_normal((200, 60))
    y = (X[:, 0] + X[:, 1] + 0.5 * rng.standard_normal(200) > 0).astype(int)
    for model in ("l1_logistic", "l1_svc"):
        coef = miyawaki.make_classifier(model, 0.05).fit(X, y).coef_.ravel()
        assert np.mean(coef == 0) > 0.5, (model, np.mean(coef == 0))
        assert set(np.flatnonzero(coef)) >= {0, 1}, model
    for model in ("l2_logistic", "l2_svc"):
        coef = miyawaki.make_classifier(model, 0.05).fit(X, y).coef_.ravel()
        assert np.mean(coef == 0) == 0, model


def test_make_classifier_refuses_old_sklearn(monkeypatch):
    monkeypatch.setattr(miyawaki.sklearn, "__version__", "1.6.1")
    with pytest.raises(RuntimeError, match="needs scikit-learn >= 1.8.*Got scikit-learn 1.6.1"):
        miyawaki.make_classifier("l1_logistic", 0.1)
    assert miyawaki.make_classifier("l2_logistic", 0.1).C == 0.1


def test_f_scores_match_f_classif():
    X, Y = _planted()
    scores = miyawaki.f_scores(X, Y[:, :5])
    for j in range(5):
        np.testing.assert_allclose(scores[j], f_classif(X.astype(float), Y[:, j])[0], rtol=1e-8)


def test_f_scores_rejects_rest_rows():
    X, Y = _planted()
    Y[0] = -1
    with pytest.raises(ValueError, match="'Y' must hold only 0 and 1"):
        miyawaki.f_scores(X, Y)


def test_table1_grid_equals_pipelines():
    # The same accuracies as scikit-learn's pipelines, up to the test samples that lie on
    # the decision boundary within the solvers' tolerances (the SVC at a tiny C is almost a
    # constant b, known to libsvm's tolerance only; liblinear's l1 solvers visit the voxels
    # in a random order): every mean within 0.02, nearly every fold identical.
    X, Y = _planted()
    Cs = [0.1, 0.001]  # in any order
    scores = miyawaki.table1_grid(X, Y, Cs=Cs, k=20, pixels=[3, 60], n_jobs=1)
    assert scores.shape == (4, 2, 2, 5)
    expected = np.empty_like(scores)
    for m, model in enumerate(miyawaki.TABLE1_MODELS):
        for c, C in enumerate(Cs):
            for j, pixel in enumerate([3, 60]):
                pipe = make_pipeline(SelectKBest(f_classif, k=20),
                                     miyawaki.make_classifier(model, C))
                expected[m, c, j] = cross_val_score(pipe, X.astype(float), Y[:, pixel],
                                                    cv=KFold(5))
    assert np.abs(scores.mean(axis=-1) - expected.mean(axis=-1)).max() <= 0.02
    assert np.mean(scores == expected) >= 0.9


def _objectives(Z, y, models, Cs, weights):
    A, _ = _table1_solvers.design(Z, y)
    return np.array([[_table1_solvers.objective(model, A, weights[m, c], C)
                      for c, C in enumerate(Cs)] for m, model in enumerate(models)])


@pytest.mark.parametrize("seed", [0, 1])
def test_fit_paths_reach_the_scikit_learn_objectives(seed):
    # Stated tolerance: the objective of each solution is never above scikit-learn's by more
    # than 1e-6 (relative), and at most 1e-3 below it (liblinear and libsvm stop a little
    # before the optimum). Samples / features as at real size (2,288 x 500), scaled down.
    X, Y = _planted(n_samples=460, n_voxels=100, noise=1.5, seed=seed)
    Z, y = X.astype(float), Y[:, seed]
    models, Cs = miyawaki.TABLE1_MODELS, np.array([0.0005, 0.002, 0.01])
    weights, converged = _table1_solvers.fit_paths(Z, y, models, Cs, miyawaki._sklearn_weights)
    assert converged.all()  # no refit with scikit-learn: these are our own solutions
    theirs = np.stack([[miyawaki._sklearn_weights(model, C, Z, y) for C in Cs]
                       for model in models])
    ours = _objectives(Z, y, models, Cs, weights)
    gap = (ours - _objectives(Z, y, models, Cs, theirs)) / np.abs(ours)
    assert gap.max() <= 1e-6
    assert gap.min() >= -1e-3
    # where liblinear's l1 solution is all zeros (strongest penalty), so is ours, exactly
    for m in (0, 2):
        if not theirs[m, 0].any():
            assert not weights[m, 0].any()


def test_fit_paths_refit_what_did_not_converge(monkeypatch):
    X, Y = _planted(n_samples=200, n_voxels=40)
    Z, y = X.astype(float), Y[:, 0]

    def stuck(A, Cs, loss, **kwargs):
        return [(np.zeros(A.shape[1]), False) for _ in Cs]

    monkeypatch.setattr(_table1_solvers, "l1_path", stuck)
    calls = []

    def fallback(model, C, Z, y):
        calls.append((model, C))
        return miyawaki._sklearn_weights(model, C, Z, y)

    weights, converged = _table1_solvers.fit_paths(Z, y, ["l1_logistic", "l2_logistic"],
                                                   np.array([0.01, 0.1]), fallback)
    assert calls == [("l1_logistic", 0.01), ("l1_logistic", 0.1)]
    assert converged.tolist() == [[False, False], [True, True]]
    # liblinear shuffles the coordinates at random: its solutions agree to its tolerance
    np.testing.assert_allclose(weights[0, 1], miyawaki._sklearn_weights("l1_logistic", 0.1,
                                                                         Z, y), atol=1e-3)


@pytest.mark.slow
def test_table1_grid_runs_on_a_dask_cluster():
    distributed = pytest.importorskip("distributed")
    X, Y = _planted()
    kwargs = {"Cs": [0.005, 0.05], "k": 10, "pixels": [0, 1, 50]}
    local = miyawaki.table1_grid(X, Y, n_jobs=1, **kwargs)
    with distributed.LocalCluster(processes=False, n_workers=1, threads_per_worker=2,
                                  dashboard_address=None) as cluster:
        with distributed.Client(cluster) as client, joblib.parallel_config(backend="dask"):
            with distributed.get_task_stream(client) as tasks:
                remote = miyawaki.table1_grid(X, Y, **kwargs)
    np.testing.assert_array_equal(local, remote)
    # one task per pixel, run by the cluster's worker
    assert sum("_fit_pixel" in task["key"] for task in tasks.data) == 3


@pytest.mark.parametrize("backend", [None, "threading"])
def test_table1_grid_in_parallel_gives_the_same_scores(backend):
    # worker processes by default; threads when asked
    X, Y = _planted()
    kwargs = {"models": ["l1_svc", "l2_svc"], "Cs": [0.01], "k": 10, "pixels": [0, 1, 50]}
    one = miyawaki.table1_grid(X, Y, n_jobs=1, **kwargs)
    if backend is None:
        two = miyawaki.table1_grid(X, Y, n_jobs=2, **kwargs)
    else:
        with joblib.parallel_config(backend=backend):
            two = miyawaki.table1_grid(X, Y, n_jobs=2, **kwargs)
    np.testing.assert_array_equal(one, two)


def test_table1_grid_finds_the_planted_pixels():
    X, Y = _planted(noise=0.6)
    scores = miyawaki.table1_grid(X, Y, models=["l2_svc"], Cs=[0.01], k=10, pixels=[0, 99])
    accuracy = scores.mean(axis=-1)[0, 0]
    assert accuracy[0] > 0.7  # pixel 0 drives voxel 0
    assert accuracy[1] < 0.65  # pixel 99 drives no voxel


def test_table1_grid_errors():
    X, Y = _planted()
    with pytest.raises(ValueError, match="'models' must hold names from .* Got 'knn'"):
        miyawaki.table1_grid(X, Y, models=["knn"])
    message = r"'Cs' must be a non-empty list of positive numbers. Got \[0.0\]"
    with pytest.raises(ValueError, match=message):
        miyawaki.table1_grid(X, Y, Cs=[0.0])
    with pytest.raises(ValueError, match="'k' must be between 1 and n_voxels=120. Got 500"):
        miyawaki.table1_grid(X, Y, k=500)


def test_table1_summary_formats_like_the_paper():
    scores = np.full((4, 6, 3, 5), 0.5)
    scores[0, 3, :, :] = [[0.6], [0.7], [0.8]]
    table = miyawaki.table1_summary(scores)
    assert table.shape == (4, 6)
    assert list(table.columns)[3] == "C=0.01"
    assert table.loc["l1_logistic", "C=0.01"] == ".70+-.08"
    assert table.loc["l2_svc", "C=0.1"] == ".50+-.00"


def test_stimulus_blocks():
    Y = np.array([[0, 1], [0, 1], [1, 1], [1, 1], [1, 1], [0, 0]])
    assert miyawaki.stimulus_blocks(Y).tolist() == [0, 0, 1, 1, 1, 2]


def test_reconstruct_predicts_planted_pixels():
    X, Y = _planted(n_samples=400, noise=0.6)
    predicted = miyawaki.reconstruct(X[:300], Y[:300], X[300:], C=0.1, k=10, n_jobs=1)
    assert predicted.shape == (100, 100)
    assert np.isin(predicted, (0, 1)).all()
    assert np.mean(predicted[:, :40] == Y[300:, :40]) > 0.7


def test_encoding_r2_is_high_for_driven_voxels():
    X, Y = _planted(noise=0.5)
    r2 = miyawaki.encoding_r2(Y, X, alpha=100.0, n_splits=5)
    assert r2.shape == (120,)
    assert r2[:40].min() > 0.1
    assert r2[40:].max() < 0.05


def test_receptive_fields_and_centers():
    X, Y = _planted(noise=0.5)
    fields = miyawaki.receptive_fields(Y, X[:, [0, 23]], max_iter=10)
    assert fields.shape == (2, 10, 10)
    assert np.argmax(fields[0]) == 0 and np.argmax(fields[1]) == 23
    centers = miyawaki.rf_centers(fields)
    np.testing.assert_allclose(centers, [[0, 0], [2, 3]], atol=0.5)


def test_rf_centers_nan_without_positive_weight():
    fields = np.zeros((2, 10, 10))
    fields[0, 4, 6] = 2.0
    fields[1, 1, 1] = -1.0
    centers = miyawaki.rf_centers(fields)
    assert centers[0].tolist() == [4.0, 6.0]
    assert np.isnan(centers[1]).all()


def test_rf_centers_fraction_keeps_the_peak():
    field = np.zeros((1, 10, 10))
    field[0, 2, 2], field[0, 8, 8] = 1.0, 0.2
    assert miyawaki.rf_centers(field, fraction=0.5)[0].tolist() == [2.0, 2.0]
    assert miyawaki.rf_centers(field)[0, 0] == pytest.approx(3.0)
    with pytest.raises(ValueError, match=r"'fraction' must be in \[0, 1\). Got 1.5"):
        miyawaki.rf_centers(field, fraction=1.5)


def test_solve_refined_matches_float64_and_handles_singular_systems():
    rng = np.random.default_rng(0)
    Z = rng.standard_normal((30, 40))
    M = np.zeros((31, 31))
    M[:30, :30] = Z @ Z.T
    M[:30, 30] = M[30, :30] = rng.choice([-1.0, 1.0], 30)
    rhs = rng.standard_normal(31)
    np.testing.assert_allclose(_table1_solvers._solve_refined(M, rhs), np.linalg.solve(M, rhs),
                               rtol=1e-9, atol=1e-12)
    # rank 1 and a right-hand side out of its range: the least-squares solution
    u = rng.standard_normal(5)
    singular, rhs = np.outer(u, u), rng.standard_normal(5)
    np.testing.assert_allclose(_table1_solvers._solve_refined(singular, rhs),
                               np.linalg.lstsq(singular, rhs, rcond=None)[0], atol=1e-12)


def test_margin_solve_matches_the_whole_system_and_refuses_singular_grams():
    rng = np.random.default_rng(0)
    Z_on, w_inside = rng.standard_normal((30, 40)), rng.standard_normal(40)
    s_on, c = rng.choice([-1.0, 1.0], 30), 0.3
    M = np.zeros((31, 31))
    M[:30, :30] = Z_on @ Z_on.T
    M[:30, 30] = M[30, :30] = s_on
    rhs = np.append(1.0 - Z_on @ w_inside, c)
    gram = (Z_on @ Z_on.T).astype(np.float32)
    solution = _table1_solvers._margin_solve(gram, Z_on, s_on, w_inside, c)
    np.testing.assert_allclose(solution, np.linalg.solve(M, rhs), rtol=1e-9, atol=1e-12)
    # more samples than features: the Gram block is singular, the caller solves in float64
    Z_wide = rng.standard_normal((50, 40))
    gram = (Z_wide @ Z_wide.T).astype(np.float32)
    assert _table1_solvers._margin_solve(gram, Z_wide, rng.choice([-1.0, 1.0], 50),
                                         w_inside, c) is None


def test_svc_solve_keeps_its_gram_block_and_sums_up_to_date():
    # samples leave and join the margin (the buffer of the Gram block, too small at first,
    # grows) and a few cross it: after each call, the cached Gram block is that of the samples
    # on the margin, the cached sum that of the rows inside, and the solution meets its
    # equations
    rng = np.random.default_rng(1)
    n, p, C = 80, 30, 0.1
    Zy, s = rng.standard_normal((n, p)), rng.choice([-1.0, 1.0], n)
    cache = (np.zeros(0, int), np.empty((8, 8), np.float32), np.zeros(n, bool), np.zeros(p))
    on, inside = np.zeros(n, bool), np.zeros(n, bool)
    inside[:30] = rng.random(30) < 0.5  # the first 30 samples are inside or outside
    for size in (6, 25, 20, 28, 5, 28, 27):
        on[:] = False
        on[30 + rng.choice(n - 30, size, replace=False)] = True
        crossing = rng.choice(30, 3, replace=False)
        inside[crossing] = ~inside[crossing]
        alpha, w, b, cache = _table1_solvers._svc_solve(Zy, Zy.astype(np.float32), s, C,
                                                        inside, on, cache)
        index, buffer, cached_inside, inside_sum = cache
        assert sorted(index) == np.flatnonzero(on).tolist()
        Z_on = Zy[index].astype(np.float32)
        np.testing.assert_allclose(buffer[:size, :size], Z_on @ Z_on.T, rtol=1e-5, atol=1e-4)
        np.testing.assert_allclose(inside_sum, Zy[inside].sum(axis=0), atol=1e-12)
        assert (cached_inside == inside).all()
        assert (alpha[inside] == C).all() and not alpha[~inside & ~on].any()
        np.testing.assert_allclose(w, Zy.T @ alpha, atol=1e-10)
        np.testing.assert_allclose(Zy[on] @ w + b * s[on], 1.0, atol=1e-9)
        assert abs(s @ alpha) <= 1e-10
