"""From 4D brain images to a (n_samples, n_voxels) data matrix, and back.

scikit-learn works on 2D arrays: one row per sample (a brain volume, i.e. one time point or
one condition), one column per feature (a voxel). A *mask* is a 3D image of zeros and ones
that says which voxels are features. :func:`apply_mask` keeps the voxels inside the mask;
:func:`unmask` puts a row vector (a weight map, an accuracy map...) back into brain space so
it can be plotted or saved.

The voxels are ordered as numpy's boolean indexing orders them: C order of the mask array
(the last axis varies fastest). ``unmask(apply_mask(img, mask), mask)`` gives back ``img``
inside the mask and zeros outside.

Examples
--------
>>> from mlni.masking import apply_mask, unmask
>>> X = apply_mask("bold.nii.gz", "mask.nii.gz")        # doctest: +SKIP
>>> X.shape                                              # doctest: +SKIP
(1452, 39912)
>>> weight_img = unmask(svc.coef_[0], "mask.nii.gz")     # doctest: +SKIP
"""

from __future__ import annotations

import numpy as np

from mlni._checks import check_affines_match, check_img, check_mask_img, get_data
from mlni.image import _smooth_array, new_img_like

__all__ = ["apply_mask", "unmask"]


def apply_mask(imgs, mask_img, smoothing_fwhm=None, dtype="float32"):
    """Extract the voxels inside a mask: 4D image(s) to a 2D array.

    Parameters
    ----------
    imgs : str, pathlib.Path, nibabel image, or a list of them
        A 4D image (each volume is a sample), a 3D image (one sample), or a list of 3D/4D
        images whose samples are stacked in order. All must be on the grid of ``mask_img``
        (same shape and affine).
    mask_img : str, pathlib.Path or nibabel image
        3D binary mask (values 0/1), not empty.
    smoothing_fwhm : float, optional
        If given, each volume is smoothed with a Gaussian of this FWHM (mm) before masking
        (see :func:`mlni.image.smooth_img`). Values outside the mask are used by the smoothing.
    dtype : str or numpy dtype or None, default="float32"
        dtype of the returned array; float32 halves the memory of float64. None keeps the
        dtype of the image data.

    Returns
    -------
    numpy.ndarray of shape (n_samples, n_voxels)
        One row per volume, one column per mask voxel (C order of the mask).

    Raises
    ------
    ValueError
        Mask not 3D, not binary or empty; image not 3D/4D; grids (shape or affine) differ;
        NaN or infinite values inside the mask.

    Examples
    --------
    >>> X = apply_mask(func_img, mask_img)                     # doctest: +SKIP
    >>> X_smooth = apply_mask(func_img, mask_img, smoothing_fwhm=6)  # doctest: +SKIP
    """
    mask_img, mask = check_mask_img(mask_img, name="mask_img")
    if isinstance(imgs, (list, tuple)):
        if len(imgs) == 0:
            raise ValueError("'imgs' must not be an empty list.")
        parts = [_mask_one(one, mask_img, mask, smoothing_fwhm, dtype, f"imgs[{i}]")
                 for i, one in enumerate(imgs)]
        return np.concatenate(parts, axis=0)
    return _mask_one(imgs, mask_img, mask, smoothing_fwhm, dtype, "imgs")


def _mask_one(img, mask_img, mask, smoothing_fwhm, dtype, name):
    img = check_img(img, name=name)
    check_affines_match(img, mask_img, names=(name, "mask_img"))
    data = get_data(img)
    if smoothing_fwhm:
        if data.dtype.kind == "f" and not np.isfinite(data[mask]).all():
            _raise_not_finite(data[mask], name)
        if data.ndim == 3:
            values = _smooth_array(data, img.affine, smoothing_fwhm)[mask][:, None]
        else:  # volume by volume: no float copy of the whole 4D image
            values = np.empty((int(mask.sum()), data.shape[3]),
                              dtype=np.float64 if dtype is None else dtype)
            for t in range(data.shape[3]):
                values[:, t] = _smooth_array(data[..., t], img.affine, smoothing_fwhm)[mask]
    else:
        values = data[mask]  # (n_voxels,) or (n_voxels, n_samples)
    if values.dtype.kind == "f" and not np.isfinite(values).all():
        _raise_not_finite(values, name)
    values = np.atleast_2d(values.T)  # 3D image -> a single sample
    return np.ascontiguousarray(values, dtype=values.dtype if dtype is None else dtype)


def _raise_not_finite(values, name):
    n_bad = int(values.size - np.count_nonzero(np.isfinite(values)))
    raise ValueError(
        f"'{name}' must contain only finite values inside the mask. Got {n_bad} NaN or "
        f"infinite value(s) out of {values.size}. Use a mask that excludes them."
    )


def unmask(X, mask_img):
    """Put masked data back into brain space.

    Parameters
    ----------
    X : array-like of shape (n_voxels,) or (n_samples, n_voxels)
        One value per mask voxel (e.g. a weight map ``coef_[0]``), or one row per sample.
    mask_img : str, pathlib.Path or nibabel image
        The mask used to extract ``X``.

    Returns
    -------
    nibabel.Nifti1Image
        3D image for a 1D ``X``; 4D image with the samples along the last axis for a 2D ``X``.
        Voxels outside the mask are 0. The dtype is that of ``X`` (booleans become uint8).

    Raises
    ------
    ValueError
        ``X`` not 1D/2D, or its number of columns differs from the number of mask voxels.

    Examples
    --------
    >>> weight_img = unmask(svc.coef_[0], mask_img)              # doctest: +SKIP
    >>> imgs = unmask(X, mask_img)   # (n_samples, n_voxels) -> 4D image  # doctest: +SKIP
    """
    mask_img, mask = check_mask_img(mask_img, name="mask_img")
    X = np.asarray(X)
    n_voxels = int(mask.sum())
    if X.ndim not in (1, 2):
        raise ValueError(
            f"'X' must be 1D (n_voxels,) or 2D (n_samples, n_voxels). Got shape {X.shape}."
        )
    if X.shape[-1] != n_voxels:
        raise ValueError(
            f"'X' must have one column per mask voxel ({n_voxels}). Got shape {X.shape}."
        )
    if X.ndim == 1:
        data = np.zeros(mask.shape, dtype=X.dtype)
        data[mask] = X
    else:
        data = np.zeros(mask.shape + (X.shape[0],), dtype=X.dtype)
        data[mask] = X.T
    return new_img_like(mask_img, data)
