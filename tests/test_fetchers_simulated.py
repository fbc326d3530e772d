"""End to end: the fetchers on the real simulated stand-ins.

They use the shared cache of simulated data in ``$MLNI_DATA`` when it is set (the
simulators write atomically, so sharing it is safe and saves minutes), else a temporary
folder.
"""

from __future__ import annotations

import os
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest

from data_fetchers import fetch_adhd, fetch_haxby, fetch_miyawaki2008

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def sim_dir(tmp_path_factory):
    return os.environ.get("MLNI_DATA") or tmp_path_factory.mktemp("mlni_data")


def paths_of(bunch):
    for key, value in bunch.items():
        if key in ("title", "description", "ground_truth", "source", "subject_ids"):
            continue
        for item in value if isinstance(value, list) else [value]:
            if isinstance(item, str):
                yield item


def test_haxby(sim_dir, no_network):
    pytest.importorskip("data_fetchers.simulate.haxby")
    data = fetch_haxby(2, data_dir=sim_dir, verbose=0, source="simulated")
    assert data.source == "simulated"
    assert all(os.path.isfile(path) for path in paths_of(data))
    bold = nib.load(data.func[0])
    assert bold.ndim == 4 and bold.get_data_dtype() == "int16"
    assert nib.load(data.mask_vt).shape == bold.shape[:3]
    with open(data.session_target) as labels:
        assert labels.readline().split() == ["labels", "chunks"]
    for key in ("face_region", "house_region", "effect_map", "effect_size", "noise_sd"):
        assert key in data.ground_truth
    assert nib.load(data.ground_truth.face_region).shape == bold.shape[:3]
    assert nib.load(data.ground_truth.effect_map).shape == bold.shape[:3]
    # The real voxel size, and the "little" masks inside the others, as in the real data.
    assert bold.header.get_zooms()[:3] == pytest.approx((3.5, 3.75, 3.75))
    for name in ("face", "house"):
        little = nib.load(data[f"mask_{name}_little"]).get_fdata() > 0
        big = nib.load(data[f"mask_{name}"]).get_fdata() > 0
        assert little.any() and not (little & ~big).any()
    # A second call reuses the files.
    assert fetch_haxby(2, data_dir=sim_dir, verbose=0, source="simulated").func == data.func


def test_miyawaki(sim_dir, no_network):
    pytest.importorskip("data_fetchers.simulate.miyawaki")
    data = fetch_miyawaki2008(data_dir=sim_dir, verbose=0, source="simulated")
    assert all(os.path.isfile(path) for path in paths_of(data))
    with open(data.label[12]) as labels:
        assert len(labels.readline().split(",")) == 100
    n_voxels = int((nib.load(data.mask).get_fdata() > 0).sum())
    for key in ("prf_center", "prf_size", "prf_gain", "visual", "hrf_delay"):
        assert key in data.ground_truth
    assert data.ground_truth.prf_center.shape == (n_voxels, 2)
    rois = [os.path.basename(path) for path in data.mask_roi]
    assert rois[:2] == ["LHlag0to1.nii.gz", "LHlag1to2.nii.gz"]
    rest = np.loadtxt(data.label[12], delimiter=",", dtype=int)[:, 0] == -1
    assert 0 < rest.sum() < len(rest)  # random runs: images with rest between them


def test_adhd(sim_dir, no_network):
    pytest.importorskip("data_fetchers.simulate.adhd")
    data = fetch_adhd(2, data_dir=sim_dir, verbose=0, source="simulated")
    assert data.subject_ids == ["3902469", "7774305"]
    assert all(os.path.isfile(path) for path in paths_of(data))
    assert nib.load(data.func[1]).ndim == 4
    assert data.t_r == nib.load(data.func[1]).header.get_zooms()[3] == 2.0
    header = Path(data.confounds[0]).read_text().splitlines()[0].split("\t")
    assert {"motion-x", "csf", "wm"} <= {name.strip() for name in header}
    for key in ("networks", "network_names", "time_courses", "parcels"):
        assert key in data.ground_truth
    assert "default mode" in data.ground_truth.network_names
