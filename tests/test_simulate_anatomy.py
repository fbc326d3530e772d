"""Tests of the shared pieces of the simulators (data_fetchers.simulate._anatomy)."""

import json

import nibabel as nib
import numpy as np
import pytest

from data_fetchers.simulate import _anatomy as ana
from data_fetchers.simulate import haxby


def test_grid_affine_reproduces_the_real_haxby_affine():
    affine = ana.grid_affine((-3.5, 3.75, 3.75), (40, 64, 64))
    expected = np.diag([-3.5, 3.75, 3.75, 1.0])
    expected[:3, 3] = (68.25, -118.125, -118.125)
    np.testing.assert_allclose(affine, expected)


def test_anatomy_on_a_grid():
    affine = ana.grid_affine((-6.0, 6.0, 6.0), (27, 33, 27))
    anat = ana.anatomy(affine, (27, 33, 27))
    assert anat.template.shape == anat.brain.shape == anat.gm.shape == (27, 33, 27)
    volume = anat.brain.sum() * 216 / 1e6  # litres
    assert 1.4 < volume < 2.4
    assert anat.gm.any() and not (anat.gm & ~anat.brain).any()
    assert 0 <= anat.template.min() and anat.template.max() <= 1.01
    coords = ana.voxel_coords(affine, anat.brain)
    assert coords.shape == (anat.brain.sum(), 3)
    assert abs(coords[:, 0].mean()) < 5  # the brain is centred left-right


def test_hrf_and_convolution():
    kernel = ana.hrf(2.0, oversampling=16)
    assert kernel.sum() == pytest.approx(1.0)
    assert 4.0 < kernel.argmax() * 2.0 / 16 < 6.0  # peak near 5 s
    block = np.zeros(60)
    block[10:40] = 1
    response = ana.convolve_hrf(block, 2.0)[:, 0]
    assert response[:10] == pytest.approx(0)
    assert response[30:40] == pytest.approx(1, abs=0.02)  # plateau of a long block
    assert np.argmax(np.diff(response)) in (10, 11)  # rises 1-2 volumes after the onset


def test_ar1_noise_statistics():
    noise = ana.ar1_noise(np.random.default_rng(0), 4000, 50, rho=0.5, sd=2.0)
    assert noise.dtype == np.float32 and noise.shape == (4000, 50)
    assert noise.std() == pytest.approx(2.0, rel=0.05)
    lag1 = np.mean([np.corrcoef(n[:-1], n[1:])[0, 1] for n in noise.T])
    assert lag1 == pytest.approx(0.5, abs=0.03)


def test_slow_signals_are_band_limited():
    sig = ana.slow_signals(np.random.default_rng(0), 512, 4, 2.0, low=0.01, high=0.1)
    np.testing.assert_allclose(sig.std(axis=0), 1)
    power = np.abs(np.fft.rfft(sig, axis=0)) ** 2
    freqs = np.fft.rfftfreq(512, d=2.0)
    assert power[freqs > 0.11].sum() < 1e-6 * power.sum()


def test_to_int16_rounds_and_clips():
    out = ana.to_int16(np.array([1.4, 1.6, -40000.0, 40000.0]))
    assert out.dtype == np.int16
    assert out.tolist() == [1, 2, -32768, 32767]


def test_images_and_ground_truth_files_are_deterministic(tmp_path):
    data = np.arange(24, dtype=np.int16).reshape(2, 3, 4)
    for name in ("a", "b"):
        ana.save_img(data, np.eye(4), tmp_path / f"{name}.nii.gz", description="stamp")
        ana.save_ground_truth(tmp_path / name, {"x": np.ones(3)}, {"k": 1, "version": "9"})
    assert (tmp_path / "a.nii.gz").read_bytes() == (tmp_path / "b.nii.gz").read_bytes()
    assert (tmp_path / "a" / "x.npy").read_bytes() == (tmp_path / "b" / "x.npy").read_bytes()
    assert nib.load(tmp_path / "a.nii.gz").header["descrip"].item() == b"stamp"
    loaded = ana.load_ground_truth(tmp_path / "a")
    assert loaded["k"] == 1 and loaded["x"].tolist() == [1, 1, 1]
    assert ana.is_current(tmp_path / "a" / "meta.json", "9")
    assert not ana.is_current(tmp_path / "a" / "meta.json", "10")
    assert not ana.is_current(tmp_path / "missing" / "meta.json", "9")


def test_discard_removes_a_stale_folder(tmp_path):
    stale = tmp_path / "stale"
    (stale / "sub").mkdir(parents=True)
    (stale / "sub" / "f.txt").write_text("old")
    assert ana.discard(stale)
    assert list(tmp_path.iterdir()) == []
    assert ana.discard(stale)  # already gone (another process): no error


def test_stale_haxby_subject_is_regenerated(tmp_path, monkeypatch):
    folder = tmp_path / "haxby2001" / "subj3"
    (folder / ana.GROUND_TRUTH_DIR).mkdir(parents=True)
    (folder / "bold.nii.gz").write_text("old")
    (folder / ana.GROUND_TRUTH_DIR / "meta.json").write_text(json.dumps({"version": "0"}))

    def fake_write(out, subject, size, sim):
        truth = out / ana.GROUND_TRUTH_DIR
        ana.save_ground_truth(truth, {}, {"version": haxby.VERSION})

    monkeypatch.setattr(haxby, "_simulate", lambda subject, size: None)
    monkeypatch.setattr(haxby, "_write_subject", fake_write)
    truth = haxby.ensure(tmp_path, subject=3, verbose=0)
    assert truth.version == haxby.VERSION
    assert not (folder / "bold.nii.gz").exists()
    mask = nib.load(tmp_path / "haxby2001" / "mask.nii.gz")
    assert mask.header["descrip"].item().decode() == haxby.STAMP


def test_read_only_stale_folder_is_kept_with_a_warning(tmp_path, monkeypatch):
    stale = tmp_path / "stale"
    stale.mkdir()
    monkeypatch.setattr(ana, "is_writable", lambda path: False)
    message = r"older version of the simulator and cannot be replaced \(read-only\)"
    with pytest.warns(UserWarning, match=message):
        assert not ana.discard(stale)
    assert stale.is_dir()


def test_check_verbose():
    assert ana.check_verbose(True) == 1
    with pytest.raises(TypeError, match=r"'verbose' must be an int\. Got NoneType: None\."):
        ana.check_verbose(None)
