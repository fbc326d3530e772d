"""Tests of the simulated ADHD resting-state dataset (data_fetchers.simulate.adhd)."""

import subprocess
import sys

import nibabel as nib
import numpy as np
import pandas as pd
import pytest
from scipy import ndimage
from sklearn.cluster import KMeans
from sklearn.metrics import adjusted_rand_score

from data_fetchers import _registry
from data_fetchers.simulate import _anatomy, adhd

IDS = ["3902469", "7774305", "3699991"]
N_SCANS = adhd.GRIDS["small"]["n_scans"]


def _bold(base, sid):
    return nib.load(base / "data" / sid / _registry.adhd_subject_files(sid)[0])


def _confounds(base, sid):
    return pd.read_csv(base / "data" / sid / _registry.adhd_subject_files(sid)[1], sep="\t")


@pytest.fixture(scope="module")
def generated(tmp_path_factory):
    root = tmp_path_factory.mktemp("sim")
    truth = adhd.ensure(root, subject_ids=IDS, verbose=0)
    return root / "adhd", truth


def test_layout_dtypes_and_shapes(generated):
    base, truth = generated
    for sid in IDS:
        img = _bold(base, sid)
        assert img.shape == (*adhd.GRIDS["small"]["shape"], N_SCANS)
        assert img.get_data_dtype() == np.int16
        assert img.header.get_zooms() == (3.0, 3.0, 3.0, _registry.ADHD_T_R)
        np.testing.assert_allclose(img.affine[:3, 3], adhd.GRIDS["small"]["origin"])
    networks = nib.load(truth.networks)
    assert networks.shape == (*adhd.GRIDS["small"]["shape"], len(truth.network_names))
    assert "default mode" in truth.network_names
    parcels = np.asarray(nib.load(truth.parcels).dataobj)
    assert np.issubdtype(parcels.dtype, np.integer)
    assert set(np.unique(parcels)) == set(range(truth.n_parcels + 1))
    assert 90 <= truth.n_parcels <= adhd.N_PARCELS
    n_sources = len(truth.network_names) + len(truth.subnetwork_names)
    assert n_sources > 10  # more sources than the 10 components the paper extracts
    assert [tc.shape for tc in truth.time_courses] == [(N_SCANS, n_sources)] * len(IDS)
    assert nib.load(truth.subnetworks).shape[-1] == len(truth.subnetwork_names)
    assert truth.subject_ids == IDS


def test_confounds_and_phenotypic_tables(generated):
    base, _ = generated
    table = _confounds(base, IDS[0])
    assert list(table.columns) == list(adhd.CONFOUND_COLUMNS)
    assert table.shape == (N_SCANS, 17) and np.isfinite(table.to_numpy()).all()
    pheno = pd.read_csv(base / _registry.ADHD_PHENOTYPIC)
    assert len(pheno) == 40 and {"Subject", "adhd", "age", "sex"} <= set(pheno.columns)
    assert pheno["Subject"].apply(lambda s: f"{s:07d}").tolist() == list(
        _registry.ADHD_SORTED_IDS)


def test_confounds_describe_the_planted_nuisance(generated):
    """The csf and wm columns follow the planted physiological signals; motion is realistic."""
    base, truth = generated
    for k, sid in enumerate(IDS):
        table = _confounds(base, sid)
        physio = truth.physio_time_courses[k]
        assert np.corrcoef(table["csf"], physio[:, 0])[0, 1] > 0.8
        assert np.corrcoef(table["wm"], physio[:, 1])[0, 1] > 0.5
        motion = table.filter(like="motion").to_numpy()
        fd = (np.abs(np.diff(motion[:, 3:], axis=0)).sum(axis=1)
              + 50 * np.abs(np.diff(motion[:, :3], axis=0)).sum(axis=1))
        assert 0.05 < fd.mean() < 0.4  # mm, framewise displacement (Power et al. 2012)


def test_motion_leaks_into_the_signal(generated):
    """Regressing out the confounds lowers the variance at the edge of the brain."""
    base, truth = generated
    sid = IDS[0]
    brain = nib.load(truth.brain_mask).get_fdata() > 0
    data = np.asarray(_bold(base, sid).dataobj)[brain].T.astype(float)
    confounds = _confounds(base, sid)
    design = confounds.filter(like="motion").to_numpy()
    design = np.column_stack([np.ones(N_SCANS), np.arange(N_SCANS), design])
    residual = data - design @ np.linalg.lstsq(design, data, rcond=None)[0]
    detrended = data - design[:, :2] @ np.linalg.lstsq(design[:, :2], data, rcond=None)[0]
    edge = (brain & ~ndimage.binary_erosion(brain))[brain]
    assert residual[:, edge].var(axis=0).mean() < 0.7 * detrended[:, edge].var(axis=0).mean()
    assert residual[:, ~edge].var(axis=0).mean() > 0.8 * detrended[:, ~edge].var(axis=0).mean()


def test_realistic_statistics(generated):
    """Neighbour correlation, network SNR and temporal SNR in the ranges of real 3 mm data."""
    base, truth = generated
    brain = nib.load(truth.brain_mask).get_fdata() > 0
    data = np.asarray(_bold(base, IDS[0]).dataobj)
    assert 0.5 < _anatomy.neighbour_correlation(data, brain) < 0.85
    gm = nib.load(truth.tissues).get_fdata()[..., 2] > 0
    tsnr = np.median(data[gm].mean(axis=1) / data[gm].std(axis=1))
    assert 30 < tsnr < 120
    networks = nib.load(truth.networks).get_fdata()
    dmn = truth.network_names.index("default mode")
    peak = networks[..., dmn] > 0.8
    course = truth.time_courses[0][:, dmn]
    r = [np.corrcoef(v, course)[0, 1] for v in data[peak].astype(float)]
    assert 0.25 < np.median(r) < 0.75  # a voxel is far from its network's time course


def test_anticorrelated_networks(generated):
    _, truth = generated
    names = truth.network_names
    for sid_courses in truth.time_courses:
        r = np.corrcoef(sid_courses[:, names.index("default mode")],
                        sid_courses[:, names.index("dorsal attention")])[0, 1]
        assert r < -0.2


def test_spatial_regression_recovers_the_network_time_courses(generated):
    """After confound regression, the planted maps explain the data with the planted courses."""
    base, truth = generated
    brain = nib.load(truth.brain_mask).get_fdata() > 0
    maps = nib.load(truth.networks).get_fdata()[brain]
    inside = maps.max(axis=0) > 0  # networks inside the field of view
    dmn = truth.network_names.index("default mode")
    for k, sid in enumerate(IDS):
        volumes = ndimage.gaussian_filter(np.asarray(_bold(base, sid).dataobj, dtype=float),
                                          (1, 1, 1, 0))
        x = volumes[brain].T
        nuisance = _confounds(base, sid)[["motion-pitch", "motion-roll", "motion-yaw",
                                          "motion-x", "motion-y", "motion-z", "csf", "wm"]]
        design = np.column_stack([np.ones(N_SCANS), np.arange(N_SCANS), nuisance])
        x -= design @ np.linalg.lstsq(design, x, rcond=None)[0]
        courses = np.linalg.lstsq(maps[:, inside], x.T, rcond=None)[0]
        found = courses[list(np.flatnonzero(inside)).index(dmn)]
        assert np.corrcoef(found, truth.time_courses[k][:, dmn])[0, 1] > 0.5


def test_parcels_are_not_a_clustering_of_coordinates(generated):
    _, truth = generated
    brain = nib.load(truth.brain_mask).get_fdata() > 0
    parcels = np.asarray(nib.load(truth.parcels).dataobj)[brain]
    sizes = np.bincount(parcels)[1:]
    assert sizes.max() > 4 * sizes.min()  # unequal sizes
    coords_only = KMeans(truth.n_parcels, n_init=1, random_state=0).fit(np.argwhere(brain))
    assert adjusted_rand_score(parcels, coords_only.labels_) < 0.5


def test_parcels_share_a_time_course(generated):
    base, truth = generated
    sid = IDS[1]
    brain = nib.load(truth.brain_mask).get_fdata() > 0
    parcels = np.asarray(nib.load(truth.parcels).dataobj)[brain]
    data = np.asarray(_bold(base, sid).dataobj)[brain].T.astype(float)
    course = truth.parcel_time_courses[1]
    inside = [np.corrcoef(course[:, p - 1], data[:, parcels == p].mean(axis=1))[0, 1]
              for p in range(1, 21)]
    other = [np.corrcoef(course[:, p - 1], data[:, parcels == p + 1].mean(axis=1))[0, 1]
             for p in range(1, 21)]
    assert np.mean(inside) > 0.3 > np.mean(np.abs(other))


@pytest.mark.slow
def test_concurrent_generation_is_valid_and_deterministic(generated, tmp_path):
    base, _ = generated
    code = ("import sys; from data_fetchers.simulate import adhd; "
            "adhd.ensure(sys.argv[1], subject_ids=['7774305'], verbose=0)")
    procs = [subprocess.Popen([sys.executable, "-c", code, str(tmp_path)]) for _ in range(2)]
    assert [p.wait(timeout=600) for p in procs] == [0, 0]
    new = tmp_path / "adhd"
    for rel in ("data/7774305/7774305_rest_tshift_RPI_voreg_mni.nii.gz",
                "data/7774305/7774305_regressors.csv", _registry.ADHD_PHENOTYPIC,
                "ground_truth/networks.nii.gz", "ground_truth/parcels.nii.gz"):
        assert (new / rel).read_bytes() == (base / rel).read_bytes(), rel
    assert sorted(p.name for p in (new / "data").iterdir()) == ["7774305"]


def test_loaded_again_for_a_subset(generated):
    base, truth = generated
    again = adhd.ensure(base.parent, subject_ids=IDS[1:], verbose=0)
    np.testing.assert_array_equal(again.time_courses[0], truth.time_courses[1])


@pytest.mark.parametrize(
    ("subject_ids", "error", "match"),
    [
        ("3902469", TypeError, r"'subject_ids' must be a list of str .* Got str: '3902469'\."),
        ([3902469], TypeError, r"'subject_ids' must contain str ids .* Got int: 3902469\."),
        ([], ValueError, r"'subject_ids' must contain at least one subject id\. Got \[\]\."),
        (["123"], ValueError, r"'subject_ids' must contain ids of the 40-subject .* Got '123'"),
        (["3902469", "3902469"], ValueError, r"'subject_ids' must not repeat an id\."),
    ],
)
def test_bad_subject_ids(tmp_path, subject_ids, error, match):
    with pytest.raises(error, match=match):
        adhd.ensure(tmp_path, subject_ids=subject_ids)
    assert not (tmp_path / "adhd").exists()


def test_bad_size(tmp_path):
    with pytest.raises(ValueError, match=r"'size' must be one of 'small', 'full'\. Got 3\."):
        adhd.ensure(tmp_path, subject_ids=IDS[:1], size=3)
