"""Clean time series: detrending, temporal filtering, confound removal, standardisation.

Each column of ``signals`` is one time series (a voxel or a region), each row one time point.
:func:`clean` applies, in this order (the order of :func:`nilearn.signal.clean`):

1. **detrend**: remove the mean and the best-fitting straight line of each series;
2. **filter**: Butterworth low-, high- or band-pass filter (order 5, applied forwards and
   backwards so that it does not shift the signal in time);
3. **confounds**: project the signals onto the orthogonal complement of the confounds
   (motion parameters, white-matter signal...), i.e. subtract their least-squares fit. The
   confounds go through the same detrending and filtering first, so that no frequency removed
   by the filter is put back by the regression;
4. **standardize**: z-score each series (mean 0, sample standard deviation 1).

Examples
--------
>>> from mlni.signal import clean
>>> cleaned = clean(X, t_r=2.0, high_pass=0.01, confounds="confounds.csv")  # doctest: +SKIP
"""

from __future__ import annotations

from numbers import Real
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import linalg
from scipy import signal as sp_signal

from mlni._checks import check_finite, check_positive

__all__ = ["clean"]

_BUTTERWORTH_ORDER = 5


def clean(signals, *, detrend=True, standardize=True, low_pass=None, high_pass=None, t_r=None,
          confounds=None):
    """Detrend, filter, remove confounds from and standardise time series.

    Parameters
    ----------
    signals : array-like of shape (n_samples, n_features)
        Time series, one per column (a 1D array is one series).
    detrend : bool, default=True
        Remove the mean and the linear trend of every series (and of every confound).
    standardize : bool or "zscore_sample", default=True
        Z-score each series at the end: subtract its mean, divide by its sample standard
        deviation (``ddof=1``). Constant series are left at 0. ``"zscore_sample"`` (nilearn's
        name for the same thing) is accepted as a synonym of True.
    low_pass : float, optional
        Low-pass cutoff in Hz: frequencies above it are removed. Needs ``t_r``.
    high_pass : float, optional
        High-pass cutoff in Hz: slow drifts below it are removed. Needs ``t_r``.
        With both cutoffs the filter is a band-pass ``[high_pass, low_pass]``.
    t_r : float, optional
        Repetition time in seconds (time between two samples). Cutoffs must lie strictly
        between 0 and the Nyquist frequency ``0.5 / t_r``.
    confounds : array-like, str, pathlib.Path, pandas.DataFrame or list of them, optional
        Confound time series of shape (n_samples, n_confounds): an array, a DataFrame, a CSV or
        TSV file (with or without a header line), or a list of these, stacked as columns.

    Returns
    -------
    numpy.ndarray of shape (n_samples, n_features)
        Cleaned float64 signals (a 2D array even for a 1D input).

    Raises
    ------
    ValueError
        Non-finite values; cutoffs given without ``t_r``; cutoffs not in (0, Nyquist);
        ``low_pass <= high_pass``; confounds with a different number of rows.

    Notes
    -----
    Results agree with ``nilearn.signal.clean(..., standardize="zscore_sample")`` with the same
    settings. Like nilearn, the filter is run as second-order sections
    (:func:`scipy.signal.sosfiltfilt`), which is numerically safer than the ``(b, a)``
    polynomial form for order-5 filters at low cutoffs.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> X = rng.standard_normal((100, 3)) + np.linspace(0, 5, 100)[:, None]
    >>> cleaned = clean(X, t_r=2.0, low_pass=0.1)
    >>> cleaned.shape, bool(np.allclose(cleaned.std(axis=0, ddof=1), 1))
    ((100, 3), True)
    """
    signals = np.array(signals, dtype=np.float64)
    if signals.ndim == 1:
        signals = signals[:, None]
    if signals.ndim != 2:
        raise ValueError(
            f"'signals' must be 2D (n_samples, n_features). Got shape {signals.shape}."
        )
    check_finite(signals, name="signals")
    if standardize not in (True, False, "zscore_sample"):
        raise ValueError(
            "'standardize' must be True, False or 'zscore_sample' (same as True). "
            f"Got {standardize!r}."
        )
    filtering = low_pass is not None or high_pass is not None
    if filtering:
        _check_filter(low_pass, high_pass, t_r)
    if confounds is not None:
        confounds = _load_confounds(confounds, n_samples=signals.shape[0])
    if signals.shape[0] < 2:
        return signals

    if detrend:
        signals = _detrend(signals)
        if confounds is not None:
            confounds = _detrend(confounds)
    if filtering:
        signals = _butterworth(signals, low_pass, high_pass, t_r)
        if confounds is not None:
            confounds = _butterworth(confounds, low_pass, high_pass, t_r)
    if confounds is not None:
        signals = _regress_out(signals, confounds)
    if standardize:
        signals = _zscore(signals)
    return signals


def _detrend(signals):
    """Remove the mean and the least-squares straight line of each column."""
    signals = signals - signals.mean(axis=0)
    ramp = np.arange(signals.shape[0], dtype=np.float64)
    ramp -= ramp.mean()
    ramp /= np.sqrt((ramp**2).sum())
    return signals - np.outer(ramp, ramp @ signals)


def _zscore(signals):
    """Centre each column and divide it by its sample standard deviation (ddof=1)."""
    signals = signals - signals.mean(axis=0)
    std = signals.std(axis=0, ddof=1)
    std[std < np.finfo(np.float64).eps] = 1.0  # constant columns stay at 0
    return signals / std


def _check_filter(low_pass, high_pass, t_r):
    if t_r is None:
        raise ValueError(
            "'t_r' (repetition time in seconds) must be given to filter. "
            f"Got t_r=None with low_pass={low_pass} and high_pass={high_pass}."
        )
    check_positive(t_r, name="t_r")
    nyquist = 0.5 / t_r
    for name, value in (("low_pass", low_pass), ("high_pass", high_pass)):
        if value is None:
            continue
        check_positive(value, name=name)
        if value >= nyquist:
            raise ValueError(
                f"'{name}' must be below the Nyquist frequency 0.5 / t_r = {nyquist:g} Hz. "
                f"Got {value}."
            )
    if low_pass is not None and high_pass is not None and low_pass <= high_pass:
        raise ValueError(
            "'low_pass' must be greater than 'high_pass' for a band-pass filter. "
            f"Got low_pass={low_pass} and high_pass={high_pass}."
        )


def _butterworth(signals, low_pass, high_pass, t_r):
    """Zero-phase Butterworth filter (order 5) along the first axis."""
    if low_pass is not None and high_pass is not None:
        btype, cutoff = "bandpass", [high_pass, low_pass]
    elif low_pass is not None:
        btype, cutoff = "lowpass", low_pass
    else:
        btype, cutoff = "highpass", high_pass
    sos = sp_signal.butter(_BUTTERWORTH_ORDER, cutoff, btype=btype, output="sos", fs=1.0 / t_r)
    return sp_signal.sosfiltfilt(sos, signals, axis=0, padtype="odd")


def _regress_out(signals, confounds):
    """Subtract from ``signals`` their projection on the span of the (z-scored) confounds."""
    confounds = _zscore(confounds)
    q, r, _ = linalg.qr(confounds, mode="economic", pivoting=True)
    q = q[:, np.abs(np.diag(r)) > np.finfo(np.float64).eps * 100.0]  # drop redundant columns
    return signals - q @ (q.T @ signals)


def _load_confounds(confounds, *, n_samples):
    """Read confounds given as array, DataFrame, CSV/TSV path or list; return a 2D array."""
    is_list = isinstance(confounds, list) and not all(
        isinstance(c, Real) for c in confounds
    )
    parts = confounds if is_list else [confounds]
    arrays = []
    for part in parts:
        if isinstance(part, (str, Path)):
            part = _read_confounds_file(part)
        elif isinstance(part, pd.DataFrame):
            part = part.to_numpy()
        elif not isinstance(part, (np.ndarray, list, tuple)):
            raise TypeError(
                "'confounds' must be an array, a DataFrame, a CSV path or a list of them. "
                f"Got {type(part).__name__}."
            )
        part = np.asarray(part, dtype=np.float64)
        part = part[:, None] if part.ndim == 1 else part
        if part.ndim != 2:
            raise ValueError(f"'confounds' must be 1D or 2D. Got shape {part.shape}.")
        if part.shape[0] != n_samples:
            raise ValueError(
                f"'confounds' must have one row per sample ({n_samples}, the number of rows of "
                f"'signals'). Got shape {part.shape}."
            )
        arrays.append(check_finite(part, name="confounds"))
    return np.hstack(arrays)


def _read_confounds_file(path):
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"'confounds': no such file: '{path}'.")
    table = pd.read_csv(path, sep=None, engine="python", header=None)
    first = pd.to_numeric(table.iloc[0], errors="coerce")
    if first.isna().any():  # a header line of column names
        table = table.iloc[1:]
    return table.apply(pd.to_numeric, errors="raise").to_numpy(dtype=np.float64)
