"""Tests for mlni.searchlight: spheres, the fast GaussianNB and LDA paths, the per-sphere path."""

import joblib
import nibabel as nib
import numpy as np
import pytest
from sklearn.discriminant_analysis import LinearDiscriminantAnalysis
from sklearn.model_selection import KFold, LeaveOneGroupOut, StratifiedKFold
from sklearn.naive_bayes import GaussianNB
from sklearn.svm import LinearSVC

import mlni._lda_searchlight as lda_engine
import mlni.searchlight as searchlight
from mlni.searchlight import search_light, sphere_neighbors

ANISOTROPIC = np.array(
    [[-3.5, 0.0, 0.0, 68.25], [0.0, 3.75, 0.0, -118.125], [0.0, 0.0, 3.75, -118.125], [0, 0, 0, 1]]
)


def _mask_img(shape=(6, 6, 5), affine=ANISOTROPIC, fill=0.7, seed=0):
    rng = np.random.default_rng(seed)
    mask = rng.random(shape) < fill
    return nib.Nifti1Image(mask.astype(np.uint8), affine)


def _data(mask_img, n_per_class=20, n_classes=2, effect=0.8, seed=0):
    """Random data with class-dependent means in the first 30 mask voxels."""
    rng = np.random.default_rng(seed)
    n_voxels = int(np.asarray(mask_img.dataobj).astype(bool).sum())
    y = rng.permutation(np.repeat(np.arange(n_classes), n_per_class))
    X = rng.normal(size=(y.size, n_voxels))
    X[:, :30] += effect * y[:, None]
    return X, y


def _brute_force_neighbors(mask_img, radius):
    mask = np.asarray(mask_img.dataobj) != 0
    ijk = np.column_stack(np.nonzero(mask))
    coords = ijk @ mask_img.affine[:3, :3].T + mask_img.affine[:3, 3]
    distances = np.sqrt(((coords[:, None, :] - coords[None, :, :]) ** 2).sum(axis=-1))
    return distances <= radius


# ----------------------------------------------------------------------------- spheres
@pytest.mark.parametrize(
    "affine",
    [np.eye(4) * [2, 2, 2, 1], ANISOTROPIC, np.diag([1.0, 4.0, 2.5, 1.0])],
    ids=["isotropic", "haxby", "strongly-anisotropic"],
)
@pytest.mark.parametrize("radius", [1.5, 4.1, 5.6, 9.3])
def test_sphere_neighbors_matches_brute_force(affine, radius):
    mask_img = _mask_img(affine=affine)
    neighbors = sphere_neighbors(mask_img, radius)
    expected = _brute_force_neighbors(mask_img, radius)
    assert neighbors.format == "csr"
    assert neighbors.shape == expected.shape
    np.testing.assert_array_equal(neighbors.toarray(), expected.astype(float))


def test_sphere_neighbors_oblique_affine():
    """World coordinates through a rotated, sheared affine, not voxel indices."""
    rotation = np.array([[0.8, -0.6, 0.1], [0.6, 0.8, 0.0], [0.0, 0.2, 1.0]]) * [3.0, 3.5, 4.0]
    affine = np.eye(4)
    affine[:3, :3] = rotation
    affine[:3, 3] = [-10.0, 4.0, 7.0]
    mask_img = _mask_img(affine=affine, seed=3)
    neighbors = sphere_neighbors(mask_img, 6.3)
    np.testing.assert_array_equal(neighbors.toarray() > 0, _brute_force_neighbors(mask_img, 6.3))


def test_sphere_neighbors_anisotropy_changes_spheres():
    """A 3.5 mm step along x is inside a 3.6 mm sphere, a 3.75 mm step along y is not."""
    mask_img = nib.Nifti1Image(np.ones((3, 3, 3), dtype=np.uint8), ANISOTROPIC)
    neighbors = sphere_neighbors(mask_img, 3.6)
    centre = 13  # voxel (1, 1, 1) in C order
    assert neighbors[centre].sum() == 3  # itself and its two x neighbours
    np.testing.assert_array_equal(neighbors[centre].indices, [4, 13, 22])


def test_sphere_neighbors_symmetric_with_centre(tmp_path):
    mask_img = _mask_img()
    path = tmp_path / "mask.nii.gz"
    nib.save(mask_img, path)
    neighbors = sphere_neighbors(path, 5.6)  # a path works too
    assert (neighbors != neighbors.T).nnz == 0
    np.testing.assert_array_equal(neighbors.diagonal(), 1.0)


# --------------------------------------------------------------- fast path == GaussianNB
@pytest.mark.parametrize(
    "cv", [KFold(4), StratifiedKFold(3, shuffle=True, random_state=0), 5], ids=str
)
def test_gnb_path_equals_gaussian_nb_per_sphere(cv):
    mask_img = _mask_img()
    X, y = _data(mask_img, n_classes=3)
    fast = search_light(X, y, mask_img, radius=5.6, cv=cv, progress=False)
    slow = search_light(X, y, mask_img, radius=5.6, cv=cv, estimator=GaussianNB(), progress=False)
    np.testing.assert_allclose(fast, slow, rtol=0, atol=1e-12)
    assert fast[:30].mean() > fast[60:].mean() + 0.1  # the planted effect is found


def test_gnb_path_leave_runs_out_with_string_labels():
    mask_img = _mask_img(seed=1)
    X, y = _data(mask_img, n_per_class=24, seed=1)
    labels = np.array(["face", "house"])[y]
    runs = np.tile(np.arange(6), 8)
    kwargs = dict(radius=4.0, cv=LeaveOneGroupOut(), groups=runs, progress=False)
    fast = search_light(X, labels, mask_img, **kwargs)
    slow = search_light(X, labels, mask_img, estimator=GaussianNB(), **kwargs)
    np.testing.assert_allclose(fast, slow, rtol=0, atol=1e-12)


@pytest.mark.parametrize("slack", [np.inf, 1e-10], ids=["all-exact", "default"])
def test_gnb_path_with_tiny_and_zero_variances(monkeypatch, slack):
    """Voxels whose variances differ by 1e8, and constant voxels: var_smoothing matters."""
    monkeypatch.setattr(searchlight, "_ROUNDING_SLACK", slack)
    mask_img = _mask_img(seed=2)
    X, y = _data(mask_img, seed=2)
    rng = np.random.default_rng(2)
    X *= np.exp(rng.normal(scale=3.0, size=X.shape[1]))
    X[:, 3] = 7.0
    X[:, 40] = np.round(X[:, 40] > 0)
    cv = KFold(4)
    fast = search_light(X, y, mask_img, radius=7.0, cv=cv, progress=False)
    slow = search_light(X, y, mask_img, radius=7.0, cv=cv, estimator=GaussianNB(), progress=False)
    np.testing.assert_allclose(fast, slow, rtol=0, atol=1e-12)


@pytest.mark.parametrize("slack", [np.inf, 1e-10], ids=["all-exact", "default"])
def test_gnb_path_in_blocks_of_test_samples(monkeypatch, slack):
    """Large test sets are processed in blocks of test samples: same result."""
    mask_img = _mask_img(seed=9)
    X, y = _data(mask_img, n_classes=3, seed=9)
    kwargs = dict(radius=5.6, cv=KFold(3), progress=False)
    whole = search_light(X, y, mask_img, **kwargs)
    monkeypatch.setattr(searchlight, "_BLOCK_SIZE", 2000)  # a few test samples per block
    monkeypatch.setattr(searchlight, "_ROUNDING_SLACK", slack)
    blocks = search_light(X, y, mask_img, **kwargs)
    np.testing.assert_allclose(blocks, whole, rtol=0, atol=1e-12)


def test_gnb_path_class_missing_from_a_training_fold():
    mask_img = _mask_img(seed=4)
    X, y = _data(mask_img, n_per_class=10, n_classes=3, seed=4)
    order = np.argsort(y, kind="stable")
    folds = [(order[:20], order[20:]), (order[10:], order[:10])]  # class 2 never trained on
    fast = search_light(X, y, mask_img, radius=5.6, cv=folds, progress=False)
    kwargs = dict(radius=5.6, cv=folds, progress=False)
    slow = search_light(X, y, mask_img, estimator=GaussianNB(), **kwargs)
    np.testing.assert_allclose(fast, slow, rtol=0, atol=1e-12)


def test_gnb_path_float32_data():
    mask_img = _mask_img(seed=5)
    X, y = _data(mask_img, seed=5)
    X = X.astype(np.float32)
    fast = search_light(X, y, mask_img, radius=5.6, cv=KFold(4), progress=False)
    slow = search_light(
        X, y, mask_img, radius=5.6, cv=KFold(4), estimator=GaussianNB(), progress=False
    )
    np.testing.assert_allclose(fast, slow, rtol=0, atol=1e-12)


@pytest.mark.filterwarnings("ignore:Use a custom estimator:UserWarning")
@pytest.mark.parametrize(
    ("name", "reference_estimator"),
    [("gnb", GaussianNB()), ("lda", LinearDiscriminantAnalysis(solver="lsqr", shrinkage="auto"))],
)
def test_fast_paths_equal_nilearn_searchlight(name, reference_estimator):
    nilearn_decoding = pytest.importorskip("nilearn.decoding")
    mask_img = _mask_img(shape=(6, 7, 5), seed=6)
    mask = np.asarray(mask_img.dataobj) != 0
    X, y = _data(mask_img, seed=6)
    data = np.zeros(mask.shape + (X.shape[0],))
    data[mask] = X.T
    imgs = nib.Nifti1Image(data, mask_img.affine)
    reference = nilearn_decoding.SearchLight(
        mask_img, radius=5.6, estimator=reference_estimator, cv=KFold(4), n_jobs=1
    ).fit(imgs, y)
    ours = search_light(X, y, mask_img, radius=5.6, cv=KFold(4), estimator=name, progress=False)
    np.testing.assert_allclose(ours, reference.scores_[mask], rtol=0, atol=1e-12)


# ------------------------------------------------------------- fast path == shrinkage LDA
def _lda_sphere_by_sphere(X, y, mask_img, radius, folds, shrinkage="auto"):
    """The reference: scikit-learn's LDA refitted on every sphere (brute-force spheres)."""
    spheres = _brute_force_neighbors(mask_img, radius)
    scores = np.empty(X.shape[1])
    for centre, inside in enumerate(spheres):
        fold_scores = []
        for train, test in folds:
            lda = LinearDiscriminantAnalysis(solver="lsqr", shrinkage=shrinkage)
            lda.fit(X[train][:, inside], y[train])
            fold_scores.append(lda.score(X[test][:, inside], y[test]))
        scores[centre] = np.mean(fold_scores)
    return scores


def _unbalanced_case(n_classes, seed):
    """Spheres cut by the mask's edges, folds whose class counts differ, uneven scales."""
    mask_img = _mask_img(shape=(6, 6, 5), fill=0.6, seed=seed)
    rng = np.random.default_rng(seed)
    n_voxels = int(np.asarray(mask_img.dataobj).sum())
    y = rng.permutation(np.repeat(np.arange(n_classes), [22, 14, 10][:n_classes]))
    X = rng.normal(size=(y.size, n_voxels)) + 0.4 * rng.normal(size=(y.size, 1))  # correlated
    X[:, :30] += 0.8 * (y[:, None] == 1)
    X = X * np.exp(rng.normal(size=n_voxels)) + 50.0  # voxel scales; a mean far from 0
    folds = list(KFold(4).split(X, y))
    return mask_img, X, y, folds


@pytest.fixture
def closed_form_only(monkeypatch):
    """No refit with scikit-learn: every sphere comes from the closed form."""

    class Forbidden:
        def __init__(self, *args, **kwargs):
            raise AssertionError("a sphere was refitted with scikit-learn")

    monkeypatch.setattr(lda_engine, "_TIE_TOLERANCE", -np.inf)
    monkeypatch.setattr(lda_engine, "LinearDiscriminantAnalysis", Forbidden)


@pytest.mark.parametrize("shrinkage", ["auto", 0.0, 0.3, 1.0])
@pytest.mark.parametrize("n_classes", [2, 3])
def test_lda_path_equals_lda_refit_sphere_by_sphere(closed_form_only, n_classes, shrinkage):
    mask_img, X, y, folds = _unbalanced_case(n_classes, seed=n_classes)
    sizes = _brute_force_neighbors(mask_img, 5.6).sum(axis=1)
    assert sizes.min() < sizes.max() - 5  # spheres cut by the edges of the mask
    counts = np.array([np.bincount(y[train], minlength=n_classes) for train, _ in folds])
    assert len({tuple(c) for c in counts}) > 1  # class counts differ between folds
    estimator = "lda" if shrinkage == "auto" else ("lda", shrinkage)
    fast = search_light(X, y, mask_img, radius=5.6, cv=folds, estimator=estimator, progress=False)
    expected = _lda_sphere_by_sphere(X, y, mask_img, 5.6, folds, shrinkage)
    np.testing.assert_allclose(fast, expected, rtol=0, atol=1e-12)
    assert fast[:30].mean() > fast[60:].mean()  # the planted effect is found


@pytest.mark.parametrize("radius", [1.0, 3.6])
def test_lda_path_tiny_spheres(closed_form_only, radius):
    """Spheres of one voxel (no shrinkage for one feature) or a few voxels."""
    mask_img, X, y, folds = _unbalanced_case(2, seed=8)
    assert _brute_force_neighbors(mask_img, radius).sum(axis=1).min() == 1
    for shrinkage in ["auto", 0.2]:
        estimator = "lda" if shrinkage == "auto" else ("lda", shrinkage)
        fast = search_light(X, y, mask_img, radius=radius, cv=folds, estimator=estimator)
        expected = _lda_sphere_by_sphere(X, y, mask_img, radius, folds, shrinkage)
        np.testing.assert_allclose(fast, expected, rtol=0, atol=1e-12)


def test_lda_path_default_tolerance_and_search_light_reference():
    """With its default tie check, against the generic path with the same estimator."""
    mask_img, X, y, folds = _unbalanced_case(2, seed=5)
    labels = np.array(["face", "house"])[y]
    runs = np.tile(np.arange(4), 12)[: y.size]
    kwargs = dict(radius=4.5, cv=LeaveOneGroupOut(), groups=runs, progress=False)
    fast = search_light(X, labels, mask_img, estimator="lda", **kwargs)
    lda = LinearDiscriminantAnalysis(solver="lsqr", shrinkage="auto")
    slow = search_light(X, labels, mask_img, estimator=lda, **kwargs)
    np.testing.assert_allclose(fast, slow, rtol=0, atol=1e-12)


def test_lda_path_class_missing_from_a_training_fold(closed_form_only):
    mask_img, X, y, _ = _unbalanced_case(3, seed=4)
    order = np.argsort(y, kind="stable")
    n_two = int((y < 2).sum())
    folds = [(order[:n_two], order[n_two:]), (order[10:], order[:10])]  # class 2 untrained
    fast = search_light(X, y, mask_img, radius=5.6, cv=folds, estimator="lda", progress=False)
    expected = _lda_sphere_by_sphere(X, y, mask_img, 5.6, folds)
    np.testing.assert_allclose(fast, expected, rtol=0, atol=1e-12)


def test_lda_path_refits_spheres_with_a_constant_voxel(monkeypatch):
    """A voxel constant within a class: those spheres are refitted with scikit-learn."""
    refits = []

    class Counting(LinearDiscriminantAnalysis):
        def fit(self, X, y):
            refits.append(X.shape[1])
            return super().fit(X, y)

    monkeypatch.setattr(lda_engine, "LinearDiscriminantAnalysis", Counting)
    mask_img, X, y, folds = _unbalanced_case(2, seed=6)
    X[:, 3] = 7.0
    fast = search_light(X, y, mask_img, radius=5.6, cv=folds, estimator="lda", progress=False)
    expected = _lda_sphere_by_sphere(X, y, mask_img, 5.6, folds)
    np.testing.assert_allclose(fast, expected, rtol=0, atol=1e-12)
    n_spheres_with_voxel_3 = int(_brute_force_neighbors(mask_img, 5.6)[:, 3].sum())
    assert len(refits) == len(folds) * n_spheres_with_voxel_3


@pytest.fixture
def recomputed(monkeypatch):
    """The number of spheres of each call to the double-precision recomputation."""
    calls = []
    exact_accuracy = lda_engine._exact_accuracy

    def counting(fold, members, sizes, stats, shrinkage):
        calls.append(members.shape[0])
        return exact_accuracy(fold, members, sizes, stats, shrinkage)

    monkeypatch.setattr(lda_engine, "_exact_accuracy", counting)
    return calls


@pytest.mark.parametrize("shrinkage", ["auto", 0.3])
def test_lda_path_recomputed_in_double_precision(
    closed_form_only, recomputed, monkeypatch, shrinkage
):
    """Every sphere recomputed from the data in double precision: the same accuracies."""
    monkeypatch.setattr(lda_engine, "_SINGLE_TOLERANCE", np.inf)
    for n_classes in [2, 3]:
        mask_img, X, y, folds = _unbalanced_case(n_classes, seed=10 + n_classes)
        estimator = "lda" if shrinkage == "auto" else ("lda", shrinkage)
        kwargs = dict(radius=5.6, cv=folds, estimator=estimator, progress=False)
        fast = search_light(X, y, mask_img, **kwargs)
        expected = _lda_sphere_by_sphere(X, y, mask_img, 5.6, folds, shrinkage)
        np.testing.assert_allclose(fast, expected, rtol=0, atol=1e-12)
        assert sum(recomputed) == len(folds) * X.shape[1]
        recomputed.clear()


@pytest.mark.parametrize("shrinkage", ["auto", 0.0, 1e-6])
def test_lda_path_fewer_training_samples_than_voxels(shrinkage):
    """Training folds of 9 samples for spheres of up to 19 voxels: without shrinkage the
    covariance is singular and scikit-learn's least-squares solution is the reference."""
    mask_img, X, y, folds = _unbalanced_case(2, seed=3)
    folds = [(test, train) for train, test in folds]  # train on the small part
    largest_sphere = _brute_force_neighbors(mask_img, 5.6).sum(axis=1).max()
    assert max(train.size for train, _ in folds) < largest_sphere
    estimator = "lda" if shrinkage == "auto" else ("lda", shrinkage)
    fast = search_light(X, y, mask_img, radius=5.6, cv=folds, estimator=estimator, progress=False)
    expected = _lda_sphere_by_sphere(X, y, mask_img, 5.6, folds, shrinkage)
    np.testing.assert_allclose(fast, expected, rtol=0, atol=1e-12)


@pytest.mark.parametrize("shrinkage", ["auto", 0.0, 1e-4, 0.3])
def test_lda_path_well_conditioned_spheres_need_no_recomputation(recomputed, shrinkage):
    """With enough samples, even without shrinkage, almost every sphere is computed from the
    single-precision tables: few are recomputed in double precision."""
    mask_img = _mask_img(shape=(8, 8, 6), fill=0.8, seed=1)
    X, y = _data(mask_img, n_per_class=60)
    estimator = "lda" if shrinkage == "auto" else ("lda", shrinkage)
    search_light(X, y, mask_img, radius=5.6, cv=KFold(4), estimator=estimator, progress=False)
    assert sum(recomputed) < 0.05 * 4 * X.shape[1]


def test_lda_kernel_pair_cross_products_equal_einsum():
    from mlni._lda_kernel import pair_cross_products

    rng = np.random.default_rng(0)
    n_atoms, n_voxels, atom_size, n_half = 3, 40, 7, 9
    values = rng.normal(size=(n_atoms, n_voxels + 1, atom_size)).astype(np.float32)
    values[:, -1] = 0.0  # the dummy voxel
    partners = rng.integers(0, n_voxels + 1, size=(n_voxels, n_half))
    table = np.full((n_atoms, n_voxels + 1, n_half + 1), 7.0, dtype=np.float32)
    pair_cross_products(values, partners, table)
    expected = np.einsum("avn,avjn->avj", values[:, :-1], values[:, partners].astype(float))
    np.testing.assert_allclose(table[:, :-1, :-1], expected, rtol=1e-6, atol=1e-6)
    assert (table[:, -1] == 7.0).all() and (table[:, :, -1] == 7.0).all()  # left as is


def test_lda_kernel_sphere_square_sums_equal_loop():
    from mlni._lda_kernel import sphere_square_sums

    rng = np.random.default_rng(1)
    n_voxels, n_samples = 30, 11
    values = rng.random((n_voxels + 1, n_samples)).astype(np.float32)
    sizes = rng.integers(1, 6, size=12)
    members = np.full((12, 5), n_voxels)
    for s, size in enumerate(sizes):
        members[s, :size] = rng.choice(n_voxels, size, replace=False)
    bounds = np.array([0, 4, 11])
    sums = sphere_square_sums(members, sizes, values, bounds)
    for s, size in enumerate(sizes):
        inner = values[members[s, :size]].astype(float).sum(axis=0)
        for c in range(2):
            expected = (inner[bounds[c] : bounds[c + 1]] ** 2).sum()
            np.testing.assert_allclose(sums[s, c], expected, rtol=1e-6)


def test_lda_sphere_sums_stencil_equals_sparse_block_sums():
    """Sums over each sphere's block: by the stencil, and by the sparse fallback."""
    mask_img, X, y, folds = _unbalanced_case(2, seed=9)
    mask = np.asarray(mask_img.dataobj) != 0
    neighbors = sphere_neighbors(mask_img, 5.6)
    centres = np.arange(X.shape[1])
    pairs = lda_engine._PairTable(mask, neighbors, centres)
    assert pairs.stencil_exact
    rng = np.random.default_rng(0)
    tables = [rng.random((pairs.n_voxels + 1, pairs.n_half + 1)) for _ in range(2)]
    for table in tables:  # the dummy voxel and the padding column are zero
        table[-1], table[:, -1] = 0.0, 0.0
        table[:, :-1][pairs.partners == pairs.n_voxels] = 0.0
    index = [pairs.block_index(slice(0, X.shape[1]))]
    block_sums = lda_engine._block_sums(index, pairs, X.shape[1])
    np.testing.assert_allclose(
        lda_engine._sphere_sums(tables, pairs, None),
        lda_engine._sphere_sums(tables, pairs, block_sums),
        rtol=1e-6,  # the stencil is in single precision
    )


def test_lda_path_nearly_constant_voxel():
    """A voxel whose variance within each class is tiny next to its class means."""
    mask_img, X, y, folds = _unbalanced_case(2, seed=12)
    rng = np.random.default_rng(12)
    X[:, 4] = 60.0 + 3.0 * y + 1e-4 * rng.normal(size=y.size)
    X[:, 5] = 60.0 + 0.01 * rng.normal(size=y.size)
    fast = search_light(X, y, mask_img, radius=5.6, cv=folds, estimator="lda", progress=False)
    expected = _lda_sphere_by_sphere(X, y, mask_img, 5.6, folds)
    np.testing.assert_allclose(fast, expected, rtol=0, atol=1e-12)


@pytest.mark.parametrize("shrinkage", [0.0, 1e-4])
def test_lda_path_ill_conditioned_spheres(shrinkage):
    """Two nearly collinear voxels and little shrinkage: rounding is amplified."""
    mask_img, X, y, folds = _unbalanced_case(2, seed=13)
    rng = np.random.default_rng(13)
    X[:, 21] = X[:, 20] + 1e-5 * X[:, 20].std() * rng.normal(size=y.size)
    kwargs = dict(radius=5.6, cv=folds, estimator=("lda", shrinkage), progress=False)
    fast = search_light(X, y, mask_img, **kwargs)
    expected = _lda_sphere_by_sphere(X, y, mask_img, 5.6, folds, shrinkage)
    np.testing.assert_allclose(fast, expected, rtol=0, atol=1e-12)


def test_lda_path_in_small_batches(monkeypatch):
    mask_img, X, y, folds = _unbalanced_case(2, seed=7)
    kwargs = dict(radius=5.6, cv=folds, estimator="lda", progress=False)
    whole = search_light(X, y, mask_img, **kwargs)
    monkeypatch.setattr(lda_engine, "_SPHERES_PER_BATCH", 7)
    np.testing.assert_array_equal(search_light(X, y, mask_img, **kwargs), whole)
    monkeypatch.setattr(lda_engine, "_SINGLE_TOLERANCE", np.inf)  # all recomputed, by 7
    np.testing.assert_allclose(search_light(X, y, mask_img, **kwargs), whole, rtol=0, atol=1e-12)
    monkeypatch.undo()
    monkeypatch.setattr(lda_engine, "_MAX_TABLE_SIZE", 100)  # one fold's table at a time
    np.testing.assert_allclose(search_light(X, y, mask_img, **kwargs), whole, rtol=0, atol=1e-12)


# ------------------------------------------------------------------- per-sphere path
@pytest.mark.parametrize("estimator", ["gnb", "lda"])
def test_process_mask_restricts_centres(estimator):
    mask_img = _mask_img(seed=7)
    mask = np.asarray(mask_img.dataobj) != 0
    process = np.zeros(mask.shape, dtype=np.uint8)
    process[:, :, 2:4] = 1
    process_img = nib.Nifti1Image(process, mask_img.affine)
    X, y = _data(mask_img, seed=7)
    kwargs = dict(radius=5.6, cv=KFold(4), progress=False, estimator=estimator)
    full = search_light(X, y, mask_img, **kwargs)
    part = search_light(X, y, mask_img, process_mask_img=process_img, **kwargs)
    inside = process[mask] == 1
    np.testing.assert_array_equal(part[inside], full[inside])
    assert np.isnan(part[~inside]).all()


@pytest.mark.slow
def test_generic_path_parallel_equals_serial(capsys):
    mask_img = _mask_img(shape=(4, 4, 3), seed=8)
    X, y = _data(mask_img, seed=8)
    kwargs = dict(radius=4.0, cv=KFold(3), estimator=LinearSVC(C=0.1))
    serial = search_light(X, y, mask_img, n_jobs=1, progress=True, **kwargs)
    assert "spheres" in capsys.readouterr().err  # the progress bar
    parallel = search_light(X, y, mask_img, n_jobs=2, progress=False, **kwargs)
    np.testing.assert_array_equal(serial, parallel)
    assert np.all((serial >= 0) & (serial <= 1))


@pytest.mark.slow
def test_generic_path_on_a_dask_cluster():
    """joblib.parallel_config(backend="dask") sends the spheres to a dask cluster."""
    distributed = pytest.importorskip("distributed")
    mask_img = _mask_img(shape=(4, 4, 3), seed=8)
    X, y = _data(mask_img, seed=8)
    kwargs = dict(radius=4.0, cv=KFold(3), estimator=LinearSVC(C=0.1), progress=False)
    local = search_light(X, y, mask_img, **kwargs)
    with (
        distributed.LocalCluster(
            processes=False, n_workers=1, threads_per_worker=2, dashboard_address=None
        ) as cluster,
        distributed.Client(cluster) as client,
        distributed.get_task_stream(client) as tasks,
        joblib.parallel_config(backend="dask"),
    ):
        on_dask = search_light(X, y, mask_img, n_jobs=-1, **kwargs)
    assert len(tasks.data) > 0  # the chunks of spheres ran on the cluster
    np.testing.assert_array_equal(on_dask, local)


# ---------------------------------------------------------------------------- errors
def test_errors_on_radius():
    mask_img = _mask_img()
    X, y = _data(mask_img)
    with pytest.raises(ValueError, match=r"'radius' must be positive. Got -2"):
        search_light(X, y, mask_img, radius=-2, cv=3)
    with pytest.raises(ValueError, match=r"'radius' must be positive. Got 0"):
        sphere_neighbors(mask_img, 0)
    with pytest.raises(TypeError, match=r"'radius' must be a number \(mm\). Got str"):
        sphere_neighbors(mask_img, "5")


def test_errors_on_data():
    mask_img = _mask_img()
    X, y = _data(mask_img)
    with pytest.raises(ValueError, match=r"'y' must be 1D with one label per row of 'X' \(40\)"):
        search_light(X, y[:-1], mask_img, radius=5.6, cv=3)
    with pytest.raises(ValueError, match=r"'X' must have one column per mask voxel \(\d+\)"):
        search_light(X[:, :-1], y, mask_img, radius=5.6, cv=3)
    with pytest.raises(ValueError, match=r"'X' must be a 2D array"):
        search_light(X[0], y, mask_img, radius=5.6, cv=3)
    X_nan = X.copy()
    X_nan[3, 4] = np.nan
    with pytest.raises(ValueError, match=r"'X' must not contain NaN or infinite values. Got 1"):
        search_light(X_nan, y, mask_img, radius=5.6, cv=3)
    with pytest.raises(ValueError, match=r"'y' must contain at least two classes. Got only \[1\]"):
        search_light(X, np.ones_like(y), mask_img, radius=5.6, cv=3)


def test_errors_on_masks():
    mask_img = _mask_img()
    X, y = _data(mask_img)
    four_d = nib.Nifti1Image(np.ones((3, 3, 3, 2), dtype=np.uint8), np.eye(4))
    with pytest.raises(ValueError, match=r"'mask_img' must be a 3D image. Got .*\(3, 3, 3, 2\)"):
        sphere_neighbors(four_d, 5.0)
    empty = nib.Nifti1Image(np.zeros((3, 3, 3), dtype=np.uint8), np.eye(4))
    with pytest.raises(ValueError, match=r"'mask_img' is empty"):
        search_light(X, y, empty, radius=5.6, cv=3)
    with pytest.raises(TypeError, match=r"'mask_img' must be a path or a nibabel image. Got ndarr"):
        sphere_neighbors(np.ones((3, 3, 3)), 5.0)
    other_grid = nib.Nifti1Image(np.ones((3, 3, 3), dtype=np.uint8), np.eye(4))
    with pytest.raises(ValueError, match=r"'process_mask_img' must be on the grid of 'mask_img'"):
        search_light(X, y, mask_img, radius=5.6, cv=3, process_mask_img=other_grid)
    outside = np.asarray(mask_img.dataobj) == 0
    outside_img = nib.Nifti1Image(outside.astype(np.uint8), mask_img.affine)
    with pytest.raises(ValueError, match=r"'process_mask_img' has no voxel inside 'mask_img'"):
        search_light(X, y, mask_img, radius=5.6, cv=3, process_mask_img=outside_img)


def test_errors_on_estimator_and_jobs():
    mask_img = _mask_img()
    X, y = _data(mask_img)
    expected = r"'estimator' must be \"gnb\", \"lda\", \(\"lda\", shrinkage\) or an estimator"
    with pytest.raises(ValueError, match=expected + r" object. Got 'svc'"):
        search_light(X, y, mask_img, radius=5.6, cv=3, estimator="svc")
    with pytest.raises(ValueError, match=expected + r" object. Got \('qda', 0.1\)"):
        search_light(X, y, mask_img, radius=5.6, cv=3, estimator=("qda", 0.1))
    with pytest.raises(ValueError, match=expected + r" object. Got \('lda', 0.1, 2\)"):
        search_light(X, y, mask_img, radius=5.6, cv=3, estimator=("lda", 0.1, 2))
    with pytest.raises(TypeError, match=expected + r" with fit and predict. Got int"):
        search_light(X, y, mask_img, radius=5.6, cv=3, estimator=3)
    with pytest.raises(ValueError, match=r"The shrinkage of \"lda\" must be in \[0, 1\]. Got 1.5"):
        search_light(X, y, mask_img, radius=5.6, cv=3, estimator=("lda", 1.5))
    with pytest.raises(TypeError, match=r"must be 'auto' or a number in \[0, 1\]. Got 'ledoit'"):
        search_light(X, y, mask_img, radius=5.6, cv=3, estimator=("lda", "ledoit"))
    one_class_fold = [(np.flatnonzero(y == 0), np.flatnonzero(y == 1))]
    with pytest.raises(ValueError, match=r"'cv' must put at least two classes in every training"):
        search_light(X, y, mask_img, radius=5.6, cv=one_class_fold, estimator="lda")
    with pytest.raises(TypeError, match=r"'n_jobs' must be an integer. Got float"):
        search_light(X, y, mask_img, radius=5.6, cv=3, n_jobs=2.0)
