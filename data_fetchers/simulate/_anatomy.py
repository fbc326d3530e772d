"""Shared pieces of the simulators: anatomy on a grid, haemodynamics, noise, file writing.

Every simulated dataset sits on the MNI152 anatomy that ships inside nilearn (template,
brain mask and grey-matter mask, package data: nothing is downloaded), resampled to the
dataset's own voxel grid. The time series are built from the same few ingredients: a
canonical double-gamma haemodynamic response, AR(1) noise, slow band-limited signals and
drifts. Images are written with nibabel, whose gzip writer is deterministic, so the same
call produces the same bytes every time.
"""

from __future__ import annotations

import functools
import json
import os
import shutil
import tempfile
import warnings
from pathlib import Path

import nibabel as nib
import numpy as np
from scipy import ndimage, stats
from scipy import signal as sp_signal
from sklearn.utils import Bunch

from data_fetchers._atomic import is_writable

GROUND_TRUTH_DIR = "ground_truth"


def grid_affine(voxel_size, shape, center=(0.0, 0.0, 0.0)):
    """Return the affine of a grid of ``shape`` voxels whose centre sits at ``center`` (mm).

    Parameters
    ----------
    voxel_size : sequence of 3 floats
        Signed voxel sizes (a negative x size gives the radiological x axis).
    shape : sequence of 3 ints
        Grid shape.
    center : sequence of 3 floats
        World coordinates (mm) of the middle of the grid.

    Returns
    -------
    numpy.ndarray
        A (4, 4) affine.
    """
    affine = np.diag([*map(float, voxel_size), 1.0])
    middle = (np.asarray(shape, dtype=float) - 1) / 2
    affine[:3, 3] = np.asarray(center, dtype=float) - affine[:3, :3] @ middle
    return affine


def _resample(img, affine, shape, order):
    """Resample a 3D image to a grid with scipy (linear for masks: threshold afterwards)."""
    data = np.asarray(img.get_fdata(), dtype=np.float32)
    voxel_to_voxel = np.linalg.solve(img.affine, affine)
    return ndimage.affine_transform(
        data, voxel_to_voxel[:3, :3], offset=voxel_to_voxel[:3, 3], output_shape=shape,
        order=order, mode="constant", cval=0.0,
    )


@functools.lru_cache(maxsize=16)
def _anatomy_cached(affine_key, shape):
    # Imported here: nilearn is heavy and only the generation path needs it. The 1 mm
    # images are nilearn's package data as shipped (its other resolutions resample them).
    from nilearn import datasets

    affine = np.array(affine_key).reshape(4, 4)
    template = _resample(datasets.load_mni152_template(resolution=1), affine, shape, 1)
    gm_prob = _resample(datasets.load_mni152_gm_template(resolution=1), affine, shape, 1)
    template = np.clip(template, 0, None)
    brain = template > 0.2  # the threshold of nilearn's load_mni152_brain_mask
    gm = ndimage.binary_closing(gm_prob > 0.2, iterations=1) & brain
    return template, brain, gm


def anatomy(affine, shape):
    """MNI152 template, brain mask and grey-matter mask resampled to a grid.

    Parameters
    ----------
    affine : numpy.ndarray
        (4, 4) affine of the grid.
    shape : tuple of 3 ints
        Shape of the grid.

    Returns
    -------
    sklearn.utils.Bunch
        ``template`` (float32, 0-1), ``brain`` and ``gm`` (bool), ``affine``, ``shape``.
        The arrays are cached: copy them before modifying.
    """
    key = tuple(np.round(np.asarray(affine, dtype=float).ravel(), 6))
    template, brain, gm = _anatomy_cached(key, tuple(int(s) for s in shape))
    return Bunch(template=template, brain=brain, gm=gm, affine=np.asarray(affine), shape=shape)


def voxel_coords(affine, mask):
    """World coordinates (mm) of the True voxels of ``mask``, in C order, shape (n, 3)."""
    ijk = np.argwhere(mask)
    return ijk @ np.asarray(affine)[:3, :3].T + np.asarray(affine)[:3, 3]


def ball(coords, center, radius):
    """Boolean: which of the (n, 3) ``coords`` lie within ``radius`` mm of ``center``."""
    return np.linalg.norm(coords - np.asarray(center, dtype=float), axis=1) <= radius


def blob(coords, center, sigma):
    """Gaussian blob of width ``sigma`` mm around ``center`` evaluated at ``coords``."""
    d2 = np.sum((coords - np.asarray(center, dtype=float)) ** 2, axis=1)
    return np.exp(-0.5 * d2 / sigma**2)


def hrf(t_r, *, oversampling=16, length=32.0):
    """Double-gamma haemodynamic response sampled every ``t_r / oversampling`` seconds.

    Peak near 5 s, undershoot near 15 s; normalised to a unit sum so that a long block
    of stimulation reaches a plateau of 1.
    """
    dt = t_r / oversampling
    t = np.arange(0, length, dt)
    response = stats.gamma.pdf(t, 6) - stats.gamma.pdf(t, 16) / 6.0
    return response / response.sum()


def convolve_hrf(events, t_r, *, oversampling=16):
    """Convolve stimulus time courses with the HRF.

    Parameters
    ----------
    events : numpy.ndarray, shape (n_scans, n_regressors)
        Stimulus amplitude during each scan (held constant over the scan).
    t_r : float
        Repetition time in seconds.
    oversampling : int
        Temporal oversampling of the convolution.

    Returns
    -------
    numpy.ndarray, shape (n_scans, n_regressors)
        The expected BOLD response, sampled at the scans' onsets.
    """
    events = np.asarray(events, dtype=float)
    if events.ndim == 1:
        events = events[:, None]
    fine = np.repeat(events, oversampling, axis=0)
    kernel = hrf(t_r, oversampling=oversampling)
    out = sp_signal.fftconvolve(fine, kernel[:, None], axes=0)[: fine.shape[0]]
    # Sample at the end of each scan's acquisition window.
    return out[oversampling - 1 :: oversampling]


def ar1_noise(rng, n_samples, n_signals, *, rho, sd=1.0):
    """Gaussian AR(1) noise with autocorrelation ``rho`` and marginal std ``sd`` (float32).

    Returns an array of shape (n_samples, n_signals).
    """
    out = rng.standard_normal((n_samples, n_signals), dtype=np.float32)
    out *= np.float32(sd * np.sqrt(1 - rho**2))
    out[0] *= np.float32(1 / np.sqrt(1 - rho**2))  # stationary start
    rho = np.float32(rho)
    for t in range(1, n_samples):  # a loop over time points, vectorised over signals
        out[t] += rho * out[t - 1]
    return out


def smooth_noise(rng, mask, n_samples, *, fwhm, rho=0.0, sd=1.0):
    """Gaussian noise smooth in space and AR(1) in time, on the True voxels of ``mask``.

    White noise on the voxel grid (cropped around ``mask``) is convolved with a Gaussian
    kernel of full width at half maximum ``fwhm`` voxels in each spatial direction, filtered
    in time by an AR(1) process of autocorrelation ``rho`` (stationary from the first
    sample), then scaled to a marginal standard deviation of ``sd``.

    Parameters
    ----------
    rng : numpy.random.Generator
    mask : numpy.ndarray of bool, 3D
    n_samples : int
        Number of time points.
    fwhm : float
        Spatial smoothness, in voxels (0 gives spatially white noise).
    rho : float
        Lag-1 temporal autocorrelation, in [0, 1).
    sd : float
        Marginal standard deviation of the result.

    Returns
    -------
    numpy.ndarray, shape (n_samples, n_voxels), float32
        Voxels in the C order of ``mask`` (as ``data[mask]``).
    """
    mask = np.asarray(mask, dtype=bool)
    sigma = fwhm / np.sqrt(8 * np.log(2))
    margin = int(np.ceil(3 * sigma))
    ijk = np.argwhere(mask)
    low = np.maximum(ijk.min(axis=0) - margin, 0)
    high = np.minimum(ijk.max(axis=0) + margin + 1, mask.shape)
    crop = tuple(slice(a, b) for a, b in zip(low, high, strict=True))
    field = rng.standard_normal((n_samples, *(high - low)), dtype=np.float32)
    if sigma > 0:
        field = ndimage.gaussian_filter(field, sigma=(0, sigma, sigma, sigma), mode="nearest")
    out = field[:, mask[crop]]
    if rho:
        out[0] /= np.float32(np.sqrt(1 - rho**2))  # stationary start
        out = sp_signal.lfilter([np.sqrt(1 - rho**2)], [1.0, -rho], out, axis=0)
    out = np.asarray(out, dtype=np.float32)
    out *= np.float32(sd / out.std())
    return out


def slow_signals(rng, n_samples, n_signals, t_r, *, low=0.01, high=0.1):
    """Band-limited Gaussian signals (``low``-``high`` Hz), zero mean, unit variance."""
    freqs = np.fft.rfftfreq(n_samples, d=t_r)
    spectrum = rng.standard_normal((freqs.size, n_signals)) + 1j * rng.standard_normal(
        (freqs.size, n_signals)
    )
    spectrum[(freqs < low) | (freqs > high)] = 0
    out = np.fft.irfft(spectrum, n=n_samples, axis=0)
    out -= out.mean(axis=0)
    out /= out.std(axis=0)
    return out


def to_int16(values):
    """Round and clip to the int16 range."""
    values = np.rint(values, out=np.asarray(values, dtype=np.float32).copy())
    return np.clip(values, -32768, 32767, out=values).astype(np.int16)


def save_img(data, affine, path, *, dtype=None, t_r=None, description=None):
    """Save ``data`` as NIfTI at ``path`` (mm units; ``t_r`` in seconds for 4D data).

    ``description`` (at most 79 characters) goes to the header's ``descrip`` field.
    """
    data = np.asarray(data) if dtype is None else np.asarray(data).astype(dtype, copy=False)
    img = nib.Nifti1Image(data, np.asarray(affine, dtype=float))
    img.header.set_xyzt_units("mm", "sec")
    img.header.set_data_dtype(data.dtype)
    if t_r is not None and data.ndim == 4:
        img.header.set_zooms(img.header.get_zooms()[:3] + (float(t_r),))
    if description is not None:
        img.header["descrip"] = description.encode()[:79]
    nib.save(img, str(path))
    return str(path)


def save_ground_truth(folder, arrays, meta):
    """Write ground truth: one ``.npy`` per array and ``meta.json`` (both deterministic)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    for name, value in arrays.items():
        np.save(folder / f"{name}.npy", np.asarray(value), allow_pickle=False)
    text = json.dumps(meta, indent=1, sort_keys=True)
    (folder / "meta.json").write_text(text + "\n")


def load_ground_truth(folder):
    """Read what :func:`save_ground_truth` wrote, as a dict of arrays plus the metadata."""
    folder = Path(folder)
    out = json.loads((folder / "meta.json").read_text())
    for path in sorted(folder.glob("*.npy")):
        out[path.stem] = np.load(path, allow_pickle=False)
    return out


def is_current(meta_path, version):
    """Whether the ground truth in ``meta_path`` was written by simulator ``version``."""
    try:
        return json.loads(Path(meta_path).read_text()).get("version") == version
    except (OSError, ValueError):
        return False


def discard(folder, verbose=0):
    """Move a stale generated folder out of the way in one rename, then delete it.

    Several processes may do this at once: only one rename succeeds, the others find the
    folder gone. A folder that cannot be replaced (read-only copy) is kept, with a warning.
    """
    folder = Path(folder)
    if not is_writable(folder.parent):
        warnings.warn(
            f"{folder} was made by an older version of the simulator and cannot be "
            "replaced (read-only); using it as it is.",
            stacklevel=3,
        )
        return False
    say(verbose, f"replacing {folder}: made by an older version of the simulator")
    trash = Path(tempfile.mkdtemp(prefix=f".{folder.name}.stale-", dir=folder.parent))
    try:
        os.rename(folder, trash / folder.name)
    except FileNotFoundError:
        pass  # another process moved it first
    shutil.rmtree(trash, ignore_errors=True)
    return True


def say(verbose, message):
    """Print a progress line when ``verbose`` is truthy."""
    if verbose:
        print(f"[simulate] {message}", flush=True)


def check_verbose(verbose):
    """Validate ``verbose`` (an int or bool)."""
    if not isinstance(verbose, (int, np.integer)):
        raise TypeError(f"'verbose' must be an int. Got {type(verbose).__name__}: {verbose!r}.")
    return int(verbose)


def smooth_ar1_noise(rng, n_samples, mask, *, fwhm, rho, sd=1.0, chunk=128):
    """Gaussian noise that is spatially smooth and AR(1) in time, over the voxels of ``mask``.

    Every volume of innovations is white noise smoothed by a Gaussian kernel, then the
    volumes are chained by ``e[t] = rho * e[t - 1] + sqrt(1 - rho**2) * innovation[t]``.
    The result is stationary, with marginal std ``sd``, lag-1 autocorrelation ``rho`` in
    time and a smoothness of ``fwhm`` voxels in the sense of SPM and AFNI: the full width
    at half maximum of the Gaussian kernel that makes the field from white noise (its
    autocorrelation is ``sqrt(2)`` times wider). Neighbours along an axis then correlate
    by ``2 ** (-2 / fwhm**2)`` (0.71 for 2 voxels).

    Parameters
    ----------
    rng : numpy.random.Generator
        The random generator.
    n_samples : int
        Number of time points.
    mask : numpy.ndarray of bool, shape (nx, ny, nz)
        Voxels to return (the noise is generated on its bounding box, padded).
    fwhm : float or sequence of 3 floats
        Spatial smoothness of the noise (FWHM of the smoothing kernel), in voxels, per axis.
    rho : float
        Lag-1 autocorrelation in time, in [0, 1).
    sd : float
        Marginal standard deviation.
    chunk : int
        Number of volumes smoothed at once (bounds the memory used).

    Returns
    -------
    numpy.ndarray, shape (n_samples, n_voxels), float32
        The noise of the True voxels of ``mask``, in C order.
    """
    fwhm = np.broadcast_to(np.asarray(fwhm, dtype=float), (3,))
    sigma = fwhm / np.sqrt(8 * np.log(2))
    pad = np.ceil(4 * sigma).astype(int) + 1
    ijk = np.argwhere(mask)
    low, high = ijk.min(axis=0), ijk.max(axis=0) + 1
    box = tuple(int(n) for n in high - low + 2 * pad)
    inside = mask[tuple(slice(a, b) for a, b in zip(low, high, strict=True))]
    crop = tuple(slice(int(p), int(p) + s) for p, s in zip(pad, inside.shape, strict=True))
    delta = np.zeros(box, dtype=np.float64)
    delta[tuple(n // 2 for n in box)] = 1.0
    gain = np.sqrt((ndimage.gaussian_filter(delta, sigma, mode="constant") ** 2).sum())
    scale = np.float32(sd * np.sqrt(1 - rho**2) / gain)
    out = np.empty((n_samples, int(mask.sum())), dtype=np.float32)
    state = None
    for start in range(0, n_samples, chunk):
        stop = min(start + chunk, n_samples)
        white = rng.standard_normal((stop - start, *box), dtype=np.float32)
        smooth = ndimage.gaussian_filter(white, (0, *sigma), mode="constant")
        innovations = smooth[(slice(None), *crop)][:, inside] * scale
        for t in range(stop - start):
            if state is None:  # stationary start
                state = innovations[t] / np.float32(np.sqrt(1 - rho**2))
            else:
                state = np.float32(rho) * state + innovations[t]
            out[start + t] = state
    return out


def smooth_field(rng, mask, n_fields, *, fwhm):
    """Spatially smooth Gaussian fields with unit variance, over the voxels of ``mask``.

    Returns an array of shape (n_voxels, n_fields) (see :func:`smooth_ar1_noise` for
    ``fwhm``, in voxels).
    """
    return smooth_ar1_noise(rng, n_fields, mask, fwhm=fwhm, rho=0.0).T


def smooth_volume_noise(rng, shape, n_samples, *, fwhm, rho=0.0, mask=None):
    """Gaussian noise, spatially smooth and AR(1) in time, with unit variance (float32).

    Parameters
    ----------
    rng : numpy.random.Generator
        Random generator.
    shape : tuple of 3 ints
        Grid shape.
    n_samples : int
        Number of volumes.
    fwhm : float
        Full width at half maximum of the Gaussian smoothing kernel, in voxels. The
        correlation of two face neighbours is then ``exp(-1 / (4 sigma**2))`` with
        ``sigma = fwhm / 2.355``.
    rho : float
        Lag-1 autocorrelation in time.
    mask : numpy.ndarray of bool, optional
        Return only the voxels of ``mask`` (shape (n_samples, n_voxels)); else the full
        grid (shape (n_samples, *shape)).
    """
    sigma = fwhm / np.sqrt(8 * np.log(2))
    out = np.empty((n_samples, *shape), dtype=np.float32)
    for t in range(n_samples):
        volume = rng.standard_normal(shape, dtype=np.float32)
        ndimage.gaussian_filter(volume, sigma, output=out[t], mode="constant")
    # The variance of smoothed white noise: the sum of the squared kernel weights.
    impulse = np.zeros((9, 9, 9), dtype=np.float32)
    impulse[4, 4, 4] = 1
    out /= np.float32(np.sqrt((ndimage.gaussian_filter(impulse, sigma) ** 2).sum()))
    if mask is not None:
        out = out[:, mask]
    if rho:
        out *= np.float32(np.sqrt(1 - rho**2))
        out[0] *= np.float32(1 / np.sqrt(1 - rho**2))
        for t in range(1, n_samples):
            out[t] += np.float32(rho) * out[t - 1]
    return out


def neighbour_correlation(data, mask):
    """Mean correlation in time between face neighbours along x of a 4D array.

    Parameters
    ----------
    data : numpy.ndarray, shape (nx, ny, nz, n_samples)
        Time series on a grid.
    mask : numpy.ndarray of bool, shape (nx, ny, nz)
        Voxels to use (a pair counts when both voxels are in the mask).

    Returns
    -------
    float
    """
    a, b = data[:-1], data[1:]
    pair = mask[:-1] & mask[1:]
    a = a[pair].astype(np.float64)
    b = b[pair].astype(np.float64)
    a -= a.mean(axis=1, keepdims=True)
    b -= b.mean(axis=1, keepdims=True)
    denom = np.sqrt((a**2).sum(axis=1) * (b**2).sum(axis=1))
    ok = denom > 0
    return float(np.mean((a * b).sum(axis=1)[ok] / denom[ok]))
