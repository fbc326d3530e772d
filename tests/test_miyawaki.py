"""Tests of mlni.miyawaki: loading of the runs and the per-pixel decoding / encoding helpers."""

import nibabel as nib
import numpy as np
import pytest
from sklearn.feature_selection import SelectKBest, f_classif
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import KFold, cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.svm import SVC, LinearSVC
from sklearn.utils import Bunch

from mlni import miyawaki


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
    X, Y = _planted()
    Cs = [0.001, 0.1]
    scores = miyawaki.table1_grid(X, Y, Cs=Cs, k=20, pixels=[3, 60], n_jobs=1)
    assert scores.shape == (4, 2, 2, 5)
    for m, model in enumerate(miyawaki.TABLE1_MODELS):
        for c, C in enumerate(Cs):
            pipe = make_pipeline(SelectKBest(f_classif, k=20), miyawaki.make_classifier(model, C))
            expected = cross_val_score(pipe, X.astype(float), Y[:, 3], cv=KFold(5))
            np.testing.assert_allclose(scores[m, c, 0], expected)


def test_table1_grid_threads_give_the_same_scores():
    X, Y = _planted()
    kwargs = {"models": ["l1_svc", "l2_svc"], "Cs": [0.01], "k": 10, "pixels": [0, 1, 50]}
    one = miyawaki.table1_grid(X, Y, n_jobs=1, **kwargs)
    np.testing.assert_array_equal(one, miyawaki.table1_grid(X, Y, n_jobs=2, **kwargs))


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
