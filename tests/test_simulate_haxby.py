"""Tests of the simulated Haxby dataset (data_fetchers.simulate.haxby)."""

import subprocess
import sys
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest
from sklearn.feature_selection import f_classif

from data_fetchers.simulate import haxby

MASKS = ("mask4_vt", "mask8_face_vt", "mask8_house_vt", "mask8b_face_vt", "mask8b_house_vt")


@pytest.fixture(scope="module")
def generated(tmp_path_factory):
    root = tmp_path_factory.mktemp("sim")
    truth = haxby.ensure(root, subject=2, verbose=0)
    return root, truth


def read_labels(path):
    lines = Path(path).read_text().splitlines()
    rows = [line.split(" ") for line in lines[1:]]
    return lines[0], np.array([r[0] for r in rows]), np.array([int(r[1]) for r in rows])


def test_layout_dtypes_and_shapes(generated):
    root, _ = generated
    subj = root / "haxby2001" / "subj2"
    bold = nib.load(subj / "bold.nii.gz")
    assert bold.get_data_dtype() == np.int16
    assert bold.shape == (*haxby.GRIDS["small"]["shape"], 1452)
    assert bold.header.get_zooms()[3] == pytest.approx(2.5)
    mask = nib.load(root / "haxby2001" / "mask.nii.gz")
    assert mask.shape == bold.shape[:3]
    np.testing.assert_allclose(mask.affine, bold.affine)
    brain = mask.get_fdata() > 0
    assert 5_000 < brain.sum() < 15_000
    data = np.asarray(bold.dataobj[..., :3])
    assert data[brain].min() > 100  # baseline intensity inside the brain
    vt = nib.load(subj / "mask4_vt.nii.gz").get_fdata() > 0
    assert vt.sum() > 100 and not (vt & ~brain).any()
    for name in MASKS:
        assert nib.load(subj / f"{name}.nii.gz").shape == bold.shape[:3]
    assert nib.load(subj / "anat.nii.gz").ndim == 3


def test_labels_like_the_real_file(generated):
    root, _ = generated
    header, labels, chunks = read_labels(root / "haxby2001" / "subj2" / "labels.txt")
    assert header == "labels chunks"
    assert labels.size == 1452
    names, counts = np.unique(labels, return_counts=True)
    assert list(names) == ["bottle", "cat", "chair", "face", "house", "rest", "scissors",
                           "scrambledpix", "shoe"]
    assert all(c == 108 for n, c in zip(names, counts, strict=True) if n != "rest")
    assert list(np.unique(chunks)) == list(range(12))
    assert np.all(np.bincount(chunks) == 121)


def test_planted_regions_inside_their_masks(generated):
    root, truth = generated
    subj = root / "haxby2001" / "subj2"
    face = nib.load(truth.face_region).get_fdata() > 0
    house = nib.load(truth.house_region).get_fdata() > 0
    assert face.sum() >= 10 and house.sum() >= 10 and not (face & house).any()
    for region, name in ((face, "face"), (house, "house")):
        big = nib.load(subj / f"mask8_{name}_vt.nii.gz").get_fdata() > 0
        little = nib.load(subj / f"mask8b_{name}_vt.nii.gz").get_fdata() > 0
        assert not (region & ~big).any()
        assert region.sum() < little.sum() < big.sum()
    assert truth.effect_size > 0 and truth.noise_sd > 0


def test_f_test_finds_the_planted_regions(generated):
    root, truth = generated
    subj = root / "haxby2001" / "subj2"
    _, labels, _ = read_labels(subj / "labels.txt")
    brain = nib.load(root / "haxby2001" / "mask.nii.gz").get_fdata() > 0
    keep = np.isin(labels, ["face", "house"])
    X = np.asarray(nib.load(subj / "bold.nii.gz").dataobj)[brain][:, keep].T.astype(float)
    f_values, _ = f_classif(X, labels[keep])
    planted = (nib.load(truth.face_region).get_fdata() > 0)[brain]
    planted |= (nib.load(truth.house_region).get_fdata() > 0)[brain]
    top = np.argsort(f_values)[::-1][:30]
    assert planted[top].mean() > 0.6


def test_ground_truth_is_loaded_again_quickly(generated):
    root, truth = generated
    again = haxby.ensure(root, subject=2, verbose=0)
    assert again.face_region == truth.face_region
    assert isinstance(again.face_region, str)
    np.testing.assert_array_equal(again.face_centers, truth.face_centers)


def test_concurrent_generation_is_valid_and_deterministic(generated, tmp_path):
    """Two processes generate at once; both succeed and match the fixture byte for byte."""
    root, _ = generated
    code = ("import sys; from data_fetchers.simulate import haxby; "
            "haxby.ensure(sys.argv[1], subject=2, verbose=0)")
    procs = [subprocess.Popen([sys.executable, "-c", code, str(tmp_path)]) for _ in range(2)]
    assert [p.wait(timeout=600) for p in procs] == [0, 0]
    reference = root / "haxby2001"
    files = sorted(p.relative_to(reference) for p in reference.rglob("*") if p.is_file())
    new = sorted(p.relative_to(tmp_path / "haxby2001")
                 for p in (tmp_path / "haxby2001").rglob("*") if p.is_file())
    assert files == new
    for rel in files:
        assert (reference / rel).read_bytes() == (tmp_path / "haxby2001" / rel).read_bytes(), rel


def test_subject_6_has_no_anat_and_a_crash_leaves_nothing(tmp_path, monkeypatch):
    def broken(folder, *args):
        (folder / "bold.nii.gz").write_text("partial")
        raise RuntimeError("disk full")

    monkeypatch.setattr(haxby, "_simulate", lambda subject, size: None)
    monkeypatch.setattr(haxby, "_write_subject", broken)
    with pytest.raises(RuntimeError, match="disk full"):
        haxby.ensure(tmp_path, subject=6, verbose=0)
    assert list((tmp_path / "haxby2001").iterdir()) == []


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"subject": 7}, ValueError, r"'subject' must be an int from 1 to 6\. Got 7\."),
        ({"subject": 0}, ValueError, r"'subject' must be an int from 1 to 6\. Got 0\."),
        ({"subject": "2"}, TypeError, r"'subject' must be an int from 1 to 6\. Got str: '2'\."),
        ({"subject": True}, TypeError, r"'subject' must be an int .* Got bool: True\."),
        ({"size": "medium"}, ValueError, r"'size' must be one of 'small', 'full'\. Got 'medium'"),
        ({"verbose": "yes"}, TypeError, r"'verbose' must be an int\. Got str: 'yes'\."),
    ],
)
def test_bad_arguments(tmp_path, kwargs, error, match):
    with pytest.raises(error, match=match):
        haxby.ensure(tmp_path, **kwargs)
    assert not (tmp_path / "haxby2001").exists()
