"""Load, resample, smooth, average and index NIfTI images.

A NIfTI image is a data array plus an *affine*: the 4x4 matrix that maps voxel indices
``(i, j, k, 1)`` to millimetre coordinates ``(x, y, z, 1)`` in the scanner or template space.
Every function here accepts a path or a nibabel image and returns a new
:class:`nibabel.Nifti1Image`; the input is never modified.

Examples
--------
>>> from mlni.image import load, resample_img, smooth_img
>>> img = load("bold.nii.gz")                                  # doctest: +SKIP
>>> img_4mm = resample_img(img, target_affine=np.diag([4, 4, 4]))  # doctest: +SKIP
>>> smoothed = smooth_img(img, fwhm=6)                        # doctest: +SKIP
"""

from __future__ import annotations

from itertools import product
from numbers import Integral

import nibabel as nib
import numpy as np
from scipy import ndimage

from mlni._checks import (
    check_affines_match,
    check_img,
    check_in,
    get_data,
    load_img,
)

__all__ = [
    "concat_imgs",
    "index_img",
    "load",
    "mean_img",
    "new_img_like",
    "resample_img",
    "smooth_img",
]

_SPLINE_ORDER = {"continuous": 3, "linear": 1, "nearest": 0}


def load(img):
    """Load a NIfTI image from a path, or return a nibabel image unchanged.

    Parameters
    ----------
    img : str, pathlib.Path or nibabel image
        The image or the path of a ``.nii`` / ``.nii.gz`` file.

    Returns
    -------
    nibabel.spatialimages.SpatialImage
        The image; data are read lazily from disk when first used.

    Raises
    ------
    TypeError
        If ``img`` is neither a path nor a nibabel image.
    FileNotFoundError
        If the path does not exist (the message names it).
    """
    return load_img(img, name="img")


def new_img_like(ref_img, data, affine=None):
    """Make a NIfTI image holding ``data`` in the space of ``ref_img``.

    Parameters
    ----------
    ref_img : str, pathlib.Path or nibabel image
        Reference image: its affine is used when ``affine`` is None, and its spatial units.
    data : numpy.ndarray
        The new data (3D or 4D). Booleans are stored as ``uint8``; ``int64`` as ``int32`` when
        the values fit (NIfTI readers rarely handle 64-bit integers).
    affine : numpy.ndarray of shape (4, 4), optional
        Affine of the new image. Default: the affine of ``ref_img``.

    Returns
    -------
    nibabel.Nifti1Image
    """
    ref_img = load_img(ref_img, name="ref_img")
    data = np.asanyarray(data)
    if data.dtype == bool:
        data = data.astype(np.uint8)
    elif data.dtype == np.int64 and data.size and np.abs(data).max() < 2**31:
        data = data.astype(np.int32)
    affine = ref_img.affine if affine is None else np.asarray(affine, dtype=float)
    if affine.shape != (4, 4):
        raise ValueError(f"'affine' must be a 4x4 matrix. Got shape {affine.shape}.")
    img = nib.Nifti1Image(data, affine)
    if isinstance(ref_img, nib.Nifti1Image):
        img.header.set_xyzt_units(*ref_img.header.get_xyzt_units())
    return img


def resample_img(img, target_affine, target_shape=None, interpolation="continuous"):
    """Resample an image onto a new voxel grid with :func:`scipy.ndimage.affine_transform`.

    For every voxel of the target grid we compute where it falls in the source voxel grid,
    ``inv(source_affine) @ target_affine @ (i, j, k, 1)``, and interpolate the source data there.
    Voxels falling outside the source image get 0.

    Parameters
    ----------
    img : str, pathlib.Path or nibabel image
        3D or 4D image (4D images are resampled volume by volume).
    target_affine : array of shape (4, 4) or (3, 3)
        Affine of the target grid. A 3x3 matrix only gives the voxel axes and sizes: the grid
        is then placed (and ``target_shape`` computed) to just contain the source image.
    target_shape : tuple of 3 ints, optional
        Shape of the target grid; needs a 4x4 ``target_affine``. Default: the bounding box of
        the source image in the target grid.
    interpolation : {"continuous", "linear", "nearest"}, default="continuous"
        Cubic spline (order 3), trilinear (order 1) or nearest neighbour (order 0, use it for
        masks and label images). Continuous and linear results are clipped to the range of the
        source data (and 0) to remove spline overshoot. NaN voxels count as 0 for the
        interpolation and the target voxels that fall on them (nearest neighbour) are NaN.

    Returns
    -------
    nibabel.Nifti1Image
        The resampled image. Continuous and linear interpolation turn integer data into
        floats (float32 for integers of up to 16 bits, float64 otherwise).

    Examples
    --------
    >>> img_3mm = resample_img(img, np.diag([3.0, 3.0, 3.0]))         # doctest: +SKIP
    >>> on_mask = resample_img(img, mask.affine, mask.shape[:3], interpolation="nearest")
    ... # doctest: +SKIP
    """
    img = check_img(img, name="img")
    check_in(interpolation, tuple(_SPLINE_ORDER), name="interpolation")
    target_affine = np.array(target_affine, dtype=float)
    if target_affine.shape not in ((3, 3), (4, 4)):
        raise ValueError(
            f"'target_affine' must be a 3x3 or 4x4 matrix. Got shape {target_affine.shape}."
        )
    if target_shape is not None:
        target_shape = tuple(int(s) for s in target_shape)
        if len(target_shape) != 3:
            raise ValueError(f"'target_shape' must have 3 values. Got {target_shape}.")
        if target_affine.shape == (3, 3):
            raise ValueError(
                "'target_affine' must be 4x4 when 'target_shape' is given (a 3x3 affine has "
                f"no origin). Got a 3x3 'target_affine' and target_shape={target_shape}."
            )
    data = get_data(img)
    if target_affine.shape == (3, 3):
        target_affine, target_shape = _bounding_grid(img.shape[:3], img.affine, target_affine)
    elif target_shape is None:
        _, target_shape = _bounding_grid(img.shape[:3], img.affine, target_affine[:3, :3],
                                         origin=target_affine[:3, 3])
    transform = np.linalg.solve(img.affine, target_affine)  # target voxel -> source voxel
    matrix, offset = transform[:3, :3], transform[:3, 3]
    if np.allclose(matrix, np.diag(np.diag(matrix))):
        matrix = np.diag(matrix)  # scipy takes a faster path for diagonal transforms
    order = _SPLINE_ORDER[interpolation]
    if order == 0 or data.dtype.kind == "f":
        out_dtype = data.dtype
    else:  # interpolated integers become floats (float32 for <= 16-bit data, like nilearn)
        out_dtype = np.float32 if data.dtype.itemsize <= 2 else np.float64
    out = np.zeros(target_shape + data.shape[3:], dtype=out_dtype)
    for index in product(*(range(n) for n in data.shape[3:])):
        volume = data[(...,) + index]
        bad = ~np.isfinite(volume) if volume.dtype.kind == "f" else None
        if bad is not None and bad.any():
            volume = np.where(bad, 0, volume)
        else:
            bad = None
        ndimage.affine_transform(volume, matrix, offset=offset, output_shape=target_shape,
                                 output=out[(...,) + index], order=order, cval=0.0)
        if bad is not None:  # voxels that came from NaNs stay NaNs
            bad_out = ndimage.affine_transform(bad.astype(np.uint8), matrix, offset=offset,
                                               output_shape=target_shape, order=0)
            out[(...,) + index][bad_out > 0] = np.nan
    if order > 0 and data.size:
        low, high = min(np.nanmin(data), 0), max(np.nanmax(data), 0)
        np.clip(out, low, high, out=out)
    return new_img_like(img, out, affine=target_affine)


def _bounding_grid(shape, affine, axes, origin=None):
    """Target affine and shape just containing an image, for voxel axes ``axes`` (3x3)."""
    target = np.eye(4)
    target[:3, :3] = axes
    if origin is not None:
        target[:3, 3] = origin
    corners = np.array(list(product(*[(0, n - 1) for n in shape])), dtype=float)
    corners = np.c_[corners, np.ones(len(corners))]
    in_target = np.linalg.solve(target, affine @ corners.T)[:3]
    low, high = in_target.min(axis=1), in_target.max(axis=1)
    if origin is None:
        target[:3, 3] = axes @ low  # the grid starts at the box corner
        high = high - low
    if np.any(high < 0):
        raise ValueError(
            "The field of view of 'target_affine' does not contain any of the image: its far "
            f"corner falls at target voxel {np.round(high, 2).tolist()}."
        )
    return target, tuple(int(np.ceil(h)) + 1 for h in high)


def smooth_img(img, fwhm):
    """Smooth an image with a Gaussian kernel of full width at half maximum ``fwhm`` mm.

    The width in millimetres is converted to a standard deviation in voxels along each axis,
    ``sigma = fwhm / (sqrt(8 ln 2) * voxel_size)``, so anisotropic voxels are handled.
    NaN and infinite values are replaced by 0 before smoothing.

    Parameters
    ----------
    img : str, pathlib.Path or nibabel image
        3D or 4D image (4D: each volume is smoothed in space only).
    fwhm : float, sequence of 3 floats or None
        Kernel width in mm (one value, or one per axis). None or 0: the image is returned
        unchanged (as a new image).

    Returns
    -------
    nibabel.Nifti1Image

    Examples
    --------
    >>> smoothed = smooth_img("bold.nii.gz", fwhm=6)                # doctest: +SKIP
    """
    img = check_img(img, name="img")
    data = get_data(img)
    if fwhm is None or not np.any(_check_fwhm(fwhm)):
        return new_img_like(img, np.array(data))
    return new_img_like(img, _smooth_array(data, img.affine, fwhm))


def _smooth_array(data, affine, fwhm):
    """Gaussian smoothing of a 3D or 4D array (spatial axes only); the core of `smooth_img`.

    Returns a new float array: float32 for integers of up to 16 bits and for float32 data,
    float64 otherwise. Non-finite values become 0.
    """
    fwhm_values = np.broadcast_to(_check_fwhm(fwhm), 3)
    small = data.dtype.kind in "iub" and data.dtype.itemsize <= 2
    dtype = data.dtype if data.dtype.kind == "f" else (np.float32 if small else np.float64)
    data = np.array(data, dtype=dtype)
    data[~np.isfinite(data)] = 0
    voxel_sizes = np.sqrt((np.asarray(affine)[:3, :3] ** 2).sum(axis=0))
    sigmas = fwhm_values / (np.sqrt(8 * np.log(2)) * voxel_sizes)
    for axis, sigma in enumerate(sigmas):
        if sigma > 0:
            ndimage.gaussian_filter1d(data, sigma, axis=axis, output=data)
    return data


def _check_fwhm(fwhm):
    values = np.atleast_1d(np.asarray(fwhm, dtype=float))
    if values.size not in (1, 3) or np.any(~np.isfinite(values)) or np.any(values < 0):
        raise ValueError(
            f"'fwhm' must be None, a non-negative number or 3 non-negative numbers (mm). "
            f"Got {fwhm}."
        )
    return values


def _iter_imgs(imgs, name):
    if isinstance(imgs, (list, tuple)):
        if len(imgs) == 0:
            raise ValueError(f"'{name}' must not be an empty list.")
        return [check_img(one, name=f"{name}[{i}]") for i, one in enumerate(imgs)]
    return [check_img(imgs, name=name)]


def concat_imgs(imgs):
    """Stack 3D and/or 4D images along the 4th (time) axis.

    Parameters
    ----------
    imgs : list of images or paths
        All must share the same 3D shape and affine.

    Returns
    -------
    nibabel.Nifti1Image
        A 4D image with one volume per 3D input and all volumes of each 4D input, in order.
    """
    loaded = _iter_imgs(imgs, "imgs")
    for i, other in enumerate(loaded[1:], start=1):
        check_affines_match(loaded[0], other, names=("imgs[0]", f"imgs[{i}]"))
    parts = [get_data(one) for one in loaded]
    data = np.concatenate([p[..., None] if p.ndim == 3 else p for p in parts], axis=3)
    return new_img_like(loaded[0], data)


def mean_img(imgs):
    """Average a 4D image (or a list of 3D/4D images) over its volumes.

    Parameters
    ----------
    imgs : image, path or list of them
        A 4D image, or a list of images sharing one grid: every volume counts once.

    Returns
    -------
    nibabel.Nifti1Image
        3D float64 image. A 3D input is returned as float64 unchanged.
    """
    loaded = _iter_imgs(imgs, "imgs")
    total, count = 0.0, 0
    for i, one in enumerate(loaded):
        check_affines_match(loaded[0], one, names=("imgs[0]", f"imgs[{i}]"))
        data = get_data(one)  # summed in float64 without a float64 copy of a 4D image
        if data.ndim == 3:
            data = data[..., None]
        total = total + data.sum(axis=3, dtype=np.float64)
        count += data.shape[3]
    return new_img_like(loaded[0], total / count)


def index_img(imgs, index):
    """Select volumes of a 4D image.

    Parameters
    ----------
    imgs : str, pathlib.Path or nibabel image
        A 4D image.
    index : int, slice, or sequence/array of ints or booleans
        An ``int`` returns a 3D image; anything else returns a 4D image. Boolean arrays must
        have one value per volume (e.g. ``labels == "face"``).

    Returns
    -------
    nibabel.Nifti1Image

    Examples
    --------
    >>> first = index_img(func, 0)                                 # doctest: +SKIP
    >>> faces = index_img(func, labels == "face")                 # doctest: +SKIP
    """
    img = check_img(imgs, ndim=4, name="imgs")
    n_volumes = img.shape[3]
    if isinstance(index, (Integral, np.integer)) and not isinstance(index, bool):
        if not -n_volumes <= index < n_volumes:
            raise IndexError(f"'index' {index} is out of range for an image of {n_volumes} "
                             "volumes.")
        return new_img_like(img, _read_volumes(img, int(index)))
    if not isinstance(index, slice):
        index = np.asarray(index)
        if index.dtype == bool:
            if index.shape != (n_volumes,):
                raise ValueError(f"A boolean 'index' must have one value per volume "
                                 f"({n_volumes}). Got shape {index.shape}.")
        elif index.dtype.kind not in "iu" and index.size:
            raise TypeError(f"'index' must be an int, a slice, or ints or booleans. "
                            f"Got values of dtype {index.dtype}.")
        elif index.size and (index.max() >= n_volumes or index.min() < -n_volumes):
            raise IndexError(f"'index' values must be in [-{n_volumes}, {n_volumes - 1}]. "
                             f"Got {index.min()} to {index.max()}.")
    return new_img_like(img, _read_volumes(img, index))


def _read_volumes(img, index):
    """Volumes ``index`` of a 4D image as a new array (only those read from disk if possible)."""
    if isinstance(index, (int, slice)) and not isinstance(img.dataobj, np.ndarray):
        return np.asanyarray(img.dataobj[..., index])  # the proxy reads just these volumes
    return np.array(get_data(img)[..., index])  # a copy: never a view on the input image
