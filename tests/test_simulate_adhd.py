"""Tests of the simulated ADHD resting-state dataset (data_fetchers.simulate.adhd)."""

import subprocess
import sys

import nibabel as nib
import numpy as np
import pandas as pd
import pytest
from sklearn.decomposition import PCA, FastICA

from data_fetchers.simulate import adhd

IDS = ["3902469", "7774305", "3699991"]


@pytest.fixture(scope="module")
def generated(tmp_path_factory):
    root = tmp_path_factory.mktemp("sim")
    truth = adhd.ensure(root, subject_ids=IDS, verbose=0)
    return root / "adhd", truth


def test_layout_dtypes_and_shapes(generated):
    base, truth = generated
    for sid in IDS:
        img = nib.load(base / "data" / sid / f"{sid}_rest_tshift_RPI_voreg_mni.nii.gz")
        assert img.shape == (*adhd.GRIDS["small"]["shape"], 176)
        assert img.get_data_dtype() == np.int16
        assert img.header.get_zooms() == (6.0, 6.0, 6.0, 2.0)
        np.testing.assert_allclose(img.affine[:3, 3], adhd.ORIGIN)
    networks = nib.load(truth.networks)
    assert networks.shape == (*adhd.GRIDS["small"]["shape"], len(truth.network_names))
    assert "default mode" in truth.network_names
    parcels = np.asarray(nib.load(truth.parcels).dataobj)
    assert np.issubdtype(parcels.dtype, np.integer)
    assert set(np.unique(parcels)) == set(range(adhd.N_PARCELS + 1))
    assert [tc.shape for tc in truth.time_courses] == [(176, 10)] * len(IDS)
    assert truth.subject_ids == IDS


def test_confounds_and_phenotypic_tables(generated):
    base, _ = generated
    table = pd.read_csv(base / "data" / IDS[0] / f"{IDS[0]}_regressors.csv", sep="\t")
    assert list(table.columns) == list(adhd.CONFOUND_COLUMNS)
    assert table.shape == (176, 17) and np.isfinite(table.to_numpy()).all()
    pheno = pd.read_csv(base / adhd.PHENOTYPIC)
    assert len(pheno) == 40 and {"Subject", "adhd", "age", "sex"} <= set(pheno.columns)
    assert pheno["Subject"].apply(lambda s: f"{s:07d}").tolist() == list(adhd.SUBJECT_IDS)


def test_motion_leaks_into_the_signal(generated):
    """Regressing out the confounds lowers the variance at the edge of the brain."""
    base, truth = generated
    sid = IDS[0]
    brain = nib.load(truth.brain_mask).get_fdata() > 0
    data = np.asarray(nib.load(base / "data" / sid / f"{sid}_rest_tshift_RPI_voreg_mni.nii.gz")
                      .dataobj)[brain].T.astype(float)
    confounds = pd.read_csv(base / "data" / sid / f"{sid}_regressors.csv", sep="\t")
    design = confounds.filter(like="motion").to_numpy()
    design = np.column_stack([np.ones(176), np.arange(176), design])
    residual = data - design @ np.linalg.lstsq(design, data, rcond=None)[0]
    detrended = data - design[:, :2] @ np.linalg.lstsq(design[:, :2], data, rcond=None)[0]
    assert residual.var(axis=0).mean() < 0.9 * detrended.var(axis=0).mean()


def test_ica_recovers_the_default_mode_network(generated):
    base, truth = generated
    brain = nib.load(truth.brain_mask).get_fdata() > 0
    series = []
    for sid in IDS:
        img = nib.load(base / "data" / sid / f"{sid}_rest_tshift_RPI_voreg_mni.nii.gz")
        x = np.asarray(img.dataobj)[brain].T.astype(float)
        x -= x.mean(axis=0)
        series.append(x / x.std(axis=0))
    # Spatial ICA: voxels are the samples; a PCA first keeps it quick.
    reduced = PCA(20, random_state=0).fit_transform(np.vstack(series).T)
    maps = FastICA(n_components=10, random_state=2, max_iter=400).fit_transform(reduced)
    planted = nib.load(truth.networks).get_fdata()[brain]
    dmn = planted[:, truth.network_names.index("default mode")]
    corr = [abs(np.corrcoef(dmn, m)[0, 1]) for m in maps.T]
    assert max(corr) > 0.5


def test_parcels_are_compact_and_share_a_time_course(generated):
    base, truth = generated
    sid = IDS[1]
    brain = nib.load(truth.brain_mask).get_fdata() > 0
    parcels = np.asarray(nib.load(truth.parcels).dataobj)[brain]
    data = np.asarray(nib.load(base / "data" / sid / f"{sid}_rest_tshift_RPI_voreg_mni.nii.gz")
                      .dataobj)[brain].T.astype(float)
    course = truth.parcel_time_courses[1]
    inside = [np.corrcoef(course[:, p - 1], data[:, parcels == p].mean(axis=1))[0, 1]
              for p in range(1, 21)]
    other = [np.corrcoef(course[:, p - 1], data[:, parcels == p + 1].mean(axis=1))[0, 1]
             for p in range(1, 21)]
    assert np.mean(inside) > 0.3 > np.mean(np.abs(other))


def test_concurrent_generation_is_valid_and_deterministic(generated, tmp_path):
    base, _ = generated
    code = ("import sys; from data_fetchers.simulate import adhd; "
            "adhd.ensure(sys.argv[1], subject_ids=['7774305'], verbose=0)")
    procs = [subprocess.Popen([sys.executable, "-c", code, str(tmp_path)]) for _ in range(2)]
    assert [p.wait(timeout=600) for p in procs] == [0, 0]
    new = tmp_path / "adhd"
    for rel in ("data/7774305/7774305_rest_tshift_RPI_voreg_mni.nii.gz",
                "data/7774305/7774305_regressors.csv", adhd.PHENOTYPIC,
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
