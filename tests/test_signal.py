"""Tests of mlni.signal.clean, checked against nilearn.signal.clean."""

import warnings

import numpy as np
import pandas as pd
import pytest

from mlni.signal import clean

N_SAMPLES, T_R = 120, 2.0


@pytest.fixture
def signals():
    rng = np.random.default_rng(0)
    time = np.arange(N_SAMPLES) * T_R
    drift = np.linspace(0, 4, N_SAMPLES)[:, None]
    slow = np.sin(2 * np.pi * 0.005 * time)[:, None]
    return 10 + rng.standard_normal((N_SAMPLES, 7)) + drift + 2 * slow


@pytest.fixture
def confounds():
    rng = np.random.default_rng(1)
    return rng.standard_normal((N_SAMPLES, 3)).cumsum(axis=0)  # motion-like random walks


def _nilearn_clean(signals, **kwargs):
    from nilearn.signal import clean as nilearn_clean

    standardize = "zscore_sample" if kwargs.pop("standardize", True) else False
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return nilearn_clean(signals, standardize=standardize, **kwargs)


SETTINGS = {
    "defaults": {},
    "no detrend": {"detrend": False},
    "no standardize": {"standardize": False},
    "nothing": {"detrend": False, "standardize": False},
    "low pass": {"low_pass": 0.1, "t_r": T_R},
    "high pass": {"high_pass": 0.01, "t_r": T_R},
    "band pass": {"low_pass": 0.08, "high_pass": 0.009, "t_r": T_R},
    "band pass, no detrend": {"low_pass": 0.08, "high_pass": 0.009, "t_r": T_R,
                              "detrend": False},
    "confounds": {"confounds": True},
    "confounds, no detrend": {"confounds": True, "detrend": False},
    "confounds, raw scale": {"confounds": True, "detrend": False, "standardize": False},
    "confounds and band pass": {"confounds": True, "low_pass": 0.1, "high_pass": 0.01,
                                "t_r": T_R},
    "confounds and high pass": {"confounds": True, "high_pass": 0.02, "t_r": 2.5},
}


@pytest.mark.parametrize("setting", list(SETTINGS))
def test_clean_agrees_with_nilearn(signals, confounds, setting):
    kwargs = dict(SETTINGS[setting])
    if kwargs.get("confounds"):
        kwargs["confounds"] = confounds
    ours = clean(signals, **kwargs)
    theirs = _nilearn_clean(signals, **kwargs)
    np.testing.assert_allclose(ours, theirs, atol=1e-9)


def test_clean_with_redundant_confounds_agrees_with_nilearn(signals, confounds):
    redundant = np.c_[confounds, confounds[:, :1] * 2 + confounds[:, 1:2]]
    ours = clean(signals, confounds=redundant)
    np.testing.assert_allclose(ours, _nilearn_clean(signals, confounds=redundant), atol=1e-9)


def test_clean_does_not_modify_input_and_accepts_1d(signals):
    before = signals.copy()
    clean(signals, t_r=T_R, high_pass=0.01)
    np.testing.assert_array_equal(signals, before)
    out = clean(signals[:, 0])
    assert out.shape == (N_SAMPLES, 1)
    np.testing.assert_allclose(out[:, 0], clean(signals)[:, 0])


def test_standardize_accepts_nilearn_name_and_rejects_others(signals):
    np.testing.assert_array_equal(clean(signals, standardize="zscore_sample"), clean(signals))
    with pytest.raises(ValueError, match="'standardize' must be True, False or 'zscore_sample' .* "
                       "Got 'psc'"):
        clean(signals, standardize="psc")


def test_standardize_gives_unit_sample_std_and_keeps_constants(signals):
    data = np.c_[signals, np.full(N_SAMPLES, 3.0)]
    out = clean(data, detrend=False)
    np.testing.assert_allclose(out.mean(axis=0), 0, atol=1e-12)
    np.testing.assert_allclose(out[:, :-1].std(axis=0, ddof=1), 1)
    np.testing.assert_array_equal(out[:, -1], 0)


def test_detrend_removes_a_straight_line():
    line = np.outer(np.arange(50.0), [1.0, -2.0]) + 5
    np.testing.assert_allclose(clean(line, standardize=False), 0, atol=1e-10)


def test_low_pass_removes_fast_oscillations():
    time = np.arange(200) * T_R
    slow, fast = np.sin(2 * np.pi * 0.01 * time), np.sin(2 * np.pi * 0.2 * time)
    out = clean((slow + fast)[:, None], detrend=False, standardize=False, low_pass=0.05, t_r=T_R)
    inner = slice(20, -20)  # away from the edges
    np.testing.assert_allclose(out[inner, 0], slow[inner], atol=0.05)


def test_confounds_are_regressed_out(confounds):
    rng = np.random.default_rng(3)
    mixed = confounds @ rng.standard_normal((3, 4)) + 0.01 * rng.standard_normal((N_SAMPLES, 4))
    out = clean(mixed, confounds=confounds, standardize=False)
    assert np.abs(out).max() < 0.1 * np.abs(clean(mixed, standardize=False)).max()


def test_confounds_from_files_lists_and_frames(signals, confounds, tmp_path):
    expected = clean(signals, confounds=confounds)
    with_header = tmp_path / "confounds.csv"
    pd.DataFrame(confounds, columns=["motion-x", "motion-y", "wm"]).to_csv(with_header,
                                                                           index=False)
    no_header = tmp_path / "confounds.tsv"
    np.savetxt(no_header, confounds, delimiter="\t")
    for given in (str(with_header), no_header, pd.read_csv(with_header),
                  [confounds[:, :2], confounds[:, 2]], [str(no_header)]):
        np.testing.assert_allclose(clean(signals, confounds=given), expected, atol=1e-9)
    one = list(confounds[:, 0])  # a plain list of numbers is one confound
    np.testing.assert_allclose(clean(signals, confounds=one),
                               clean(signals, confounds=confounds[:, 0]))


def test_filter_errors(signals):
    with pytest.raises(ValueError, match=r"'t_r' .* must be given to filter. Got t_r=None with "
                       r"low_pass=0.1"):
        clean(signals, low_pass=0.1)
    with pytest.raises(ValueError, match="'t_r' must be positive. Got -2"):
        clean(signals, high_pass=0.01, t_r=-2)
    with pytest.raises(ValueError, match="'low_pass' must be positive. Got 0"):
        clean(signals, low_pass=0, t_r=T_R)
    with pytest.raises(ValueError, match="'high_pass' must be positive. Got -0.01"):
        clean(signals, high_pass=-0.01, t_r=T_R)
    with pytest.raises(ValueError, match=r"'low_pass' must be below the Nyquist frequency "
                       r"0.5 / t_r = 0.25 Hz. Got 0.25"):
        clean(signals, low_pass=0.25, t_r=T_R)
    with pytest.raises(ValueError, match="'high_pass' must be below the Nyquist .* Got 0.3"):
        clean(signals, high_pass=0.3, t_r=T_R)
    with pytest.raises(ValueError, match=r"'low_pass' must be greater than 'high_pass' .* Got "
                       r"low_pass=0.05 and high_pass=0.05"):
        clean(signals, low_pass=0.05, high_pass=0.05, t_r=T_R)
    with pytest.raises(TypeError, match="'t_r' must be a number. Got str"):
        clean(signals, low_pass=0.1, t_r="2")


def test_signal_and_confound_errors(signals, confounds, tmp_path):
    bad = signals.copy()
    bad[3, 2] = np.nan
    with pytest.raises(ValueError, match=r"'signals' must contain only finite values. Got 1 NaN"):
        clean(bad)
    with pytest.raises(ValueError, match=r"'signals' must be 2D .* Got shape \(2, 3, 4\)"):
        clean(np.zeros((2, 3, 4)))
    with pytest.raises(ValueError, match=r"'confounds' must have one row per sample \(120, .*\). "
                       r"Got shape \(119, 3\)"):
        clean(signals, confounds=confounds[:-1])
    bad_confounds = confounds.copy()
    bad_confounds[0, 0] = np.inf
    with pytest.raises(ValueError, match="'confounds' must contain only finite values"):
        clean(signals, confounds=bad_confounds)
    with pytest.raises(TypeError, match="'confounds' must be an array, a DataFrame, a CSV path"):
        clean(signals, confounds={"motion": confounds})
    with pytest.raises(FileNotFoundError, match="missing.csv"):
        clean(signals, confounds=tmp_path / "missing.csv")
    with pytest.raises(ValueError, match=r"'confounds' must be 1D or 2D. Got shape \(120, 3, 1\)"):
        clean(signals, confounds=confounds[..., None])
