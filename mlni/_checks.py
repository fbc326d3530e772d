"""Private validation helpers shared by the :mod:`mlni` modules.

Each helper checks one thing and raises an error that names the parameter, states the rule and
echoes the offending value, e.g. ``'fwhm' must be non-negative. Got -2.``. Other modules import
them; learners never need to.
"""

from __future__ import annotations

from numbers import Integral, Real
from pathlib import Path

import nibabel as nib
import numpy as np

__all__ = [
    "check_affines_match",
    "check_finite",
    "check_img",
    "check_in",
    "check_mask_img",
    "check_positive",
    "get_data",
    "load_img",
]


def load_img(img, *, name="img"):
    """Return a nibabel image from a path (``str`` or ``Path``) or a nibabel image.

    Raises ``TypeError`` for anything else and ``FileNotFoundError`` naming a missing path.
    """
    if isinstance(img, nib.spatialimages.SpatialImage):
        return img
    if isinstance(img, (str, Path)):
        path = Path(img).expanduser()
        if not path.exists():
            raise FileNotFoundError(f"'{name}': no such file: '{path}'.")
        return nib.load(path)
    raise TypeError(
        f"'{name}' must be a path or a nibabel image. Got {type(img).__name__}: {_short_repr(img)}."
    )


def get_data(img):
    """Return the image data without forcing a float64 copy (int16 stays int16 when unscaled)."""
    return np.asanyarray(img.dataobj)


def check_img(img, *, ndim=None, name="img"):
    """Load ``img`` and check it is 3D or 4D (or exactly ``ndim``-D).

    With ``ndim=3`` a 4D image holding a single volume is accepted and squeezed to 3D.
    """
    img = load_img(img, name=name)
    shape = img.shape
    if ndim == 3 and len(shape) == 4 and shape[3] == 1:
        img = nib.Nifti1Image(get_data(img)[..., 0], img.affine, img.header)
        shape = img.shape
    allowed = (3, 4) if ndim is None else (ndim,)
    if len(shape) not in allowed:
        rule = "3D or 4D" if ndim is None else f"{ndim}D"
        raise ValueError(
            f"'{name}' must be a {rule} image. Got a {len(shape)}D image of shape {shape}."
        )
    return img


def check_mask_img(mask_img, *, name="mask_img"):
    """Load a 3D mask, check it is binary-like and non-empty; return ``(img, bool array)``.

    ``mask_img`` is a path (``str`` or ``Path``) or a nibabel image. Accepted values are
    {0, 1} or {False, True} (any dtype): a {0, 2} or NaN-holding "mask" is refused rather
    than guessed at. A mask made only of zeros is empty. Every module loads its masks here.
    """
    img = check_img(mask_img, ndim=3, name=name)
    data = get_data(img)
    if data.dtype != bool and not ((data == 0) | (data == 1)).all():
        finite = np.isfinite(data)
        values = np.unique(data[finite])
        shown = values[:6].tolist()
        raise ValueError(
            f"'{name}' must be binary (only 0 and 1 values). "
            f"Got values {shown}{' ...' if values.size > 6 else ''}"
            f"{' and non-finite values' if not finite.all() else ''}."
        )
    mask = data.astype(bool)
    if not mask.any():
        raise ValueError(f"'{name}' is empty: it must contain at least one non-zero voxel.")
    return img, mask


def check_affines_match(img1, img2, *, names=("imgs", "mask_img"), atol=1e-4):
    """Check two images share the same 3D shape and affine; the error echoes both."""
    shape1, shape2 = tuple(img1.shape[:3]), tuple(img2.shape[:3])
    if shape1 != shape2:
        raise ValueError(
            f"'{names[0]}' and '{names[1]}' must have the same 3D shape. "
            f"Got {shape1} and {shape2}. Resample one onto the other first "
            "(mlni.image.resample_img)."
        )
    if not np.allclose(img1.affine, img2.affine, atol=atol):
        with np.printoptions(precision=3, suppress=True):
            raise ValueError(
                f"'{names[0]}' and '{names[1]}' must have the same affine. Got\n"
                f"{np.asarray(img1.affine)}\nand\n{np.asarray(img2.affine)}.\n"
                "Resample one onto the other first (mlni.image.resample_img)."
            )


def check_finite(array, *, name="signals"):
    """Raise ``ValueError`` if ``array`` holds NaN or infinite values; return it unchanged."""
    array = np.asarray(array)
    if array.dtype.kind in "fc":
        n_bad = int(np.size(array) - np.count_nonzero(np.isfinite(array)))
        if n_bad:
            raise ValueError(
                f"'{name}' must contain only finite values. Got {n_bad} NaN or infinite "
                f"value(s) out of {array.size}."
            )
    return array


def check_positive(value, *, name, allow_zero=False, allow_none=False, integer=False):
    """Check ``value`` is a real number > 0 (or >= 0 with ``allow_zero``); return it.

    With ``integer=True`` the value must also be an integer (``bool`` is refused). NaN and
    infinities are refused. Every module checks its positive parameters (radius, repetition
    time, cutoffs, numbers of components...) with this one function.
    """
    if value is None and allow_none:
        return value
    kind = "an integer" if integer else "a number"
    allowed = Integral if integer else (Real, Integral)
    if isinstance(value, bool) or not isinstance(value, allowed):
        raise TypeError(f"'{name}' must be {kind}. Got {type(value).__name__}: {value!r}.")
    if not np.isfinite(value) or value < 0 or (value == 0 and not allow_zero):
        rule = "non-negative" if allow_zero else "positive"
        rule = f"a {rule} integer" if integer else rule
        raise ValueError(f"'{name}' must be {rule}. Got {value}.")
    return value


def check_in(value, allowed, *, name):
    """Check ``value`` is one of ``allowed``; the error lists the allowed values."""
    if value not in allowed:
        raise ValueError(f"'{name}' must be one of {list(allowed)}. Got {value!r}.")
    return value


def _short_repr(obj, limit=60):
    text = repr(obj)
    return text if len(text) <= limit else text[: limit - 3] + "..."
