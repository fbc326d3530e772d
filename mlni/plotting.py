"""Brain slices with overlays, parcellations and small pixel images, with matplotlib only.

Brain figures follow the look of brain viewers: black background, the anatomy in grey, the
statistical map in colour on top, values below the threshold transparent. They use the
*neurological* convention: the subject's left is on the left of the picture (marked "L").
Every panel prints its slice coordinate in millimetres.

All images are sampled on one grid aligned with the world axes, at the background's voxel
size, so a map on a coarse functional grid can be drawn over a fine anatomical image without
resampling whole volumes: only the displayed planes are interpolated (linear for the
background; nearest neighbour for maps, masks and labels, so every coloured square is a voxel).

Examples
--------
>>> from mlni.plotting import plot_slices
>>> fig = plot_slices(mean_img, weight_img, threshold=1e-3, title="SVC weights")  # doctest: +SKIP
"""

from __future__ import annotations

from numbers import Real

import matplotlib.pyplot as plt
import numpy as np
from matplotlib import colors as mcolors

from mlni._checks import check_img, check_positive, get_data

__all__ = [
    "mark_pixel",
    "plot_decoding_figure",
    "plot_encoding_figure",
    "plot_labels",
    "plot_pixel_grid",
    "plot_pixels",
    "plot_slices",
]

from mlni._slices import Volume, draw_slices


def plot_slices(bg_img, stat_img=None, *, threshold=None, display_mode="ortho", cut_coords=None,
                contours=None, cmap="RdBu_r", vmax=None, symmetric=True, colorbar=True,
                title=None, figure=None, cbar_label=None):
    """Draw brain slices: grey background, thresholded colour map, coloured contours.

    Parameters
    ----------
    bg_img : str, pathlib.Path or nibabel image
        3D background (an anatomical or a mean functional image), drawn in grey.
    stat_img : str, pathlib.Path or nibabel image, optional
        3D map drawn in colour (weights, F-scores, accuracies...). It may sit on another grid:
        the displayed planes are sampled from it by nearest neighbour.
    threshold : float, optional
        Values with ``abs(value) < threshold`` are transparent. Zeros are always transparent.
    display_mode : {"ortho", "x", "y", "z"}, default="ortho"
        Three orthogonal slices (sagittal, coronal, axial) or a row of slices of one orientation.
    cut_coords : 3-tuple, float or list of floats, optional
        Slice positions in mm: ``(x, y, z)`` for "ortho", one or several values otherwise.
        Default: the centre of mass of the map above threshold, else of the brain (ortho); six
        slices across the map above threshold, else across the brain (x, y, z).
    contours : dict of str to image, optional
        Masks drawn as coloured outlines with a legend, e.g. ``{"VT": mask_vt}``.
    cmap : str or matplotlib colormap, default="RdBu_r"
        Colormap of the map (diverging for signed maps; e.g. "hot" with ``symmetric=False``).
    vmax : float, optional
        Upper colour limit. Default: the largest absolute value of the map.
    symmetric : bool, default=True
        Colour limits ``[-vmax, vmax]`` (signed maps). False: ``[min, vmax]``, or
        ``[threshold, vmax]`` for a positive map.
    colorbar : bool, default=True
        Draw a colour bar (the thresholded range is greyed out on it).
    title : str, optional
        Title drawn at the top left.
    figure : matplotlib.figure.Figure, optional
        Figure to draw into (its size is kept). Default: a new pyplot figure.
    cbar_label : str, optional
        Label of the colour bar: the quantity and its unit, e.g. "t score" or "accuracy".

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> fig = plot_slices(anat, f_img, threshold=3, cmap="hot", symmetric=False,
    ...                   contours={"VT": mask_vt}, cbar_label="-log10 p")  # doctest: +SKIP
    """
    check_positive(threshold, name="threshold", allow_zero=True, allow_none=True)
    check_positive(vmax, name="vmax", allow_none=True)
    # nearest neighbour: every coloured square is a real voxel, and nothing leaks past a mask
    stat = None if stat_img is None else Volume(stat_img, "stat_img", order=0)
    return draw_slices(bg_img, stat, None, threshold=threshold, display_mode=display_mode,
                        cut_coords=cut_coords, contours=contours, cmap=cmap, vmax=vmax,
                        symmetric=symmetric, colorbar=colorbar, title=title, figure=figure,
                        cbar_label=cbar_label)


def plot_labels(label_img, bg_img, *, display_mode="z", cut_coords=None, title=None,
                figure=None, random_state=0):
    """Draw a label image (a parcellation) with one random colour per label over a background.

    Parameters
    ----------
    label_img : str, pathlib.Path or nibabel image
        3D image of integer labels; 0 is the background and stays transparent.
    bg_img : str, pathlib.Path or nibabel image
        3D background drawn in grey.
    display_mode : {"ortho", "x", "y", "z"}, default="z"
        As in :func:`plot_slices`.
    cut_coords : 3-tuple, float or list of floats, optional
        As in :func:`plot_slices` (default: across the brain).
    title : str, optional
        Title at the top left (the number of labels is appended).
    figure : matplotlib.figure.Figure, optional
        Figure to draw into.
    random_state : int, default=0
        Seed of the random colours (neighbouring parcels get unrelated colours).

    Returns
    -------
    matplotlib.figure.Figure
    """
    labels = Volume(label_img, "label_img", order=0)
    values = np.unique(labels.data[labels.data != 0])
    if values.size == 0:
        raise ValueError("'label_img' has no label: all its voxels are 0.")
    rank = np.zeros(labels.data.shape)  # labels renumbered 1..n_labels to index the colours
    rank[labels.data != 0] = np.searchsorted(values, labels.data[labels.data != 0]) + 1
    labels.data = rank
    rng = np.random.default_rng(random_state)
    cmap = mcolors.ListedColormap(rng.uniform(0.15, 1.0, size=(values.size, 3)))
    n_text = f"{values.size} labels"
    return draw_slices(bg_img, None, (labels, cmap), threshold=None, display_mode=display_mode,
                        cut_coords=cut_coords, contours=None, cmap=None, vmax=None,
                        symmetric=True, colorbar=False, figure=figure, cbar_label=None,
                        title=f"{title} ({n_text})" if title else n_text)


def plot_pixels(values, *, ax=None, cmap="gray", vmin=None, vmax=None, title=None,
                colorbar=False):
    """Show a small image (e.g. a 10x10 visual stimulus) with a line around every pixel.

    Parameters
    ----------
    values : array-like of shape (n_rows, n_cols), or a 1D array of a square size
        Pixel values; a 1D array of length 100 is shown as 10x10 (row-major order).
    ax : matplotlib.axes.Axes, optional
        Axes to draw on. Default: a new figure.
    cmap : str or colormap, default="gray"
    vmin, vmax : float, optional
        Colour limits. Default: the range of ``values``.
    title : str, optional
    colorbar : bool, default=False
        Add a colour bar next to the image.

    Returns
    -------
    matplotlib.axes.Axes
    """
    values = _as_pixels(values, "values")
    if ax is None:
        _, ax = plt.subplots(figsize=(2.6 + colorbar * 0.6, 2.6), layout="constrained")
    image = ax.imshow(values, cmap=cmap, vmin=vmin, vmax=vmax, interpolation="nearest")
    n_rows, n_cols = values.shape
    ax.set_xticks(np.arange(-0.5, n_cols), minor=True)
    ax.set_yticks(np.arange(-0.5, n_rows), minor=True)
    ax.grid(which="minor", color="0.55", linewidth=0.6)
    ax.tick_params(which="both", length=0, labelbottom=False, labelleft=False)
    ax.set_xticks([])
    ax.set_yticks([])
    if title:
        ax.set_title(title, fontsize=10)
    if colorbar:
        ax.figure.colorbar(image, ax=ax, shrink=0.8)
    return ax


def _as_pixels(values, name):
    values = np.asarray(values, dtype=float)
    if values.ndim == 1:
        side = int(round(np.sqrt(values.size)))
        if side * side != values.size:
            raise ValueError(f"A 1D '{name}' must have a square length (e.g. 100 for 10x10). "
                             f"Got length {values.size}.")
        values = values.reshape(side, side)
    if values.ndim != 2:
        raise ValueError(f"'{name}' must be a 2D image. Got shape {values.shape}.")
    return values


def plot_pixel_grid(images, *, titles=None, ncols=6, cmap="gray", vmin=None, vmax=None,
                    suptitle=None):
    """Show several small images side by side with shared colour limits.

    Parameters
    ----------
    images : array-like of shape (n_images, n_rows, n_cols) or (n_images, n_pixels)
        The images (rows of 100 values are shown as 10x10).
    titles : list of str, optional
        One title per image.
    ncols : int, default=6
        Number of images per row.
    cmap : str or colormap, default="gray"
    vmin, vmax : float, optional
        Colour limits shared by all images. Default: the range over all images.
    suptitle : str, optional
        Title of the figure.

    Returns
    -------
    matplotlib.figure.Figure
    """
    images = [_as_pixels(one, f"images[{i}]") for i, one in enumerate(images)]
    if not images:
        raise ValueError("'images' must contain at least one image.")
    if isinstance(ncols, bool) or not isinstance(ncols, Real) or ncols < 1:
        raise ValueError(f"'ncols' must be a positive integer. Got {ncols!r}.")
    if titles is not None and len(titles) != len(images):
        raise ValueError(f"'titles' must have one title per image ({len(images)}). "
                         f"Got {len(titles)}.")
    vmin = min(float(np.nanmin(one)) for one in images) if vmin is None else vmin
    vmax = max(float(np.nanmax(one)) for one in images) if vmax is None else vmax
    ncols = int(min(ncols, len(images)))
    nrows = int(np.ceil(len(images) / ncols))
    figure, axes = plt.subplots(nrows, ncols, figsize=(1.7 * ncols, 1.8 * nrows + 0.3 * bool(
        suptitle)), squeeze=False, layout="constrained")
    for i, ax in enumerate(axes.ravel()):
        if i < len(images):
            plot_pixels(images[i], ax=ax, cmap=cmap, vmin=vmin, vmax=vmax,
                        title=None if titles is None else titles[i])
        else:
            ax.set_axis_off()
    if suptitle:
        figure.suptitle(suptitle)
    return figure


def mark_pixel(ax, pixel, *, color="cyan", linewidth=2.0):
    """Outline one pixel, given as ``(row, col)``, on an image drawn by :func:`plot_pixels`.

    Returns
    -------
    matplotlib.patches.Rectangle
    """
    from matplotlib.patches import Rectangle

    row, col = _check_pixel(pixel)
    square = Rectangle((col - 0.5, row - 0.5), 1, 1, fill=False, edgecolor=color,
                       linewidth=linewidth)
    ax.add_patch(square)
    return square


def _check_pixel(pixel):
    if np.shape(pixel) != (2,):
        raise ValueError(f"'pixel' must be a (row, col) pair. Got {pixel!r}.")
    return int(pixel[0]), int(pixel[1])


def _panel_letter(figure, letter, color):
    figure.text(0.005, 0.99, letter, fontsize=14, fontweight="bold", color=color, ha="left",
                va="top")


def _strong_slices(img, n_slices=3, n_voxels=20):
    """Axial positions (mm): quantiles of the z of the map's ``n_voxels`` largest |values|."""
    img = check_img(img, ndim=3, name="weights")
    data = np.abs(np.asarray(get_data(img), dtype=float))
    ijk = np.column_stack(np.unravel_index(np.argsort(-data, axis=None)[:n_voxels], data.shape))
    z = (ijk @ img.affine[:3, :3].T + img.affine[:3, 3])[:, 2]
    return sorted(set(np.quantile(z, np.linspace(0.2, 0.8, n_slices), method="nearest")))


def _robust_vmax(img):
    """95th percentile of a map's non-zero absolute values (a few huge weights hide the rest)."""
    data = np.abs(np.asarray(get_data(check_img(img, ndim=3, name="weights")), dtype=float))
    nonzero = data[data > 0]
    return float(np.percentile(nonzero, 95)) if nonzero.size else None


def plot_decoding_figure(bg_img, weights_a, weights_b, accuracy_a, accuracy_b, *, pixel,
                         names=("logistic regression", "SVM"), cut_coords=None, figsize=(10, 5)):
    """The decoding half of Figure 3 of Abraham et al. (2014): two models, weights and accuracy.

    Row 1 shows the first model: its weight map for one pixel on axial slices (A) and its
    accuracy for every pixel of the image (B); row 2 the second model (C, D). The pixel whose
    weights are drawn is outlined on both accuracy maps. Each weight map has its own colour
    scale, saturated at the 95th percentile of its non-zero absolute weights.

    Parameters
    ----------
    bg_img : str, pathlib.Path or nibabel image
        Background drawn in grey under the weights.
    weights_a, weights_b : str, pathlib.Path or nibabel image
        3D weight maps of the two models for ``pixel``.
    accuracy_a, accuracy_b : array-like of shape (10, 10) or (100,)
        Accuracy of each pixel for the two models (row-major order for 1D input).
    pixel : (int, int)
        The (row, col) of the pixel whose weights are drawn.
    names : pair of str
        The two models' names, used in the titles.
    cut_coords : list of float, optional
        Axial slices (z in mm); default: three slices through the strongest weights of
        ``weights_a``.
    figsize : pair of float
        Size of the figure in inches.

    Returns
    -------
    matplotlib.figure.Figure
    """
    pixel = _check_pixel(pixel)
    if len(names) != 2:
        raise ValueError(f"'names' must hold the two models' names. Got {names!r}.")
    accuracies = [_as_pixels(accuracy_a, "accuracy_a"), _as_pixels(accuracy_b, "accuracy_b")]
    vmax = max(float(np.nanmax(a)) for a in accuracies)
    cut_coords = _strong_slices(weights_a) if cut_coords is None else cut_coords
    figure = plt.figure(figsize=figsize)
    rows = figure.subfigures(2, 1)
    letters = iter("ABCD")
    for row, weights, accuracy, name in zip(rows, (weights_a, weights_b), accuracies, names,
                                            strict=True):
        brain, image = row.subfigures(1, 2, width_ratios=[3.0, 1.0])
        plot_slices(bg_img, weights, display_mode="z", cut_coords=cut_coords, figure=brain,
                    vmax=_robust_vmax(weights), cbar_label="weight",
                    title=f"{next(letters)}   {name}: weights for pixel {pixel}")
        ax = image.subplots()
        plot_pixels(accuracy, ax=ax, cmap="hot", vmin=0.5, vmax=max(vmax, 0.51),
                    title="accuracy per pixel", colorbar=True)
        mark_pixel(ax, pixel)
        _panel_letter(image, next(letters), "black")
    return figure


def plot_encoding_figure(bg_img, r2_img, fields, voxel_coords, *, pixel, colors=None,
                         titles=None, threshold=0.1, figsize=(10, 5.2)):
    """The encoding half of Figure 3 of Abraham et al. (2014): receptive fields and their voxels.

    Row 1 (E) shows the receptive field of each voxel as an image (each on its own colour
    scale, red positive), framed in the voxel's colour, with ``pixel`` outlined; row 2 (F) the
    encoding r2 map on one axial slice per voxel, the voxel marked by a ring of the same colour.

    Parameters
    ----------
    bg_img : str, pathlib.Path or nibabel image
        Background drawn in grey.
    r2_img : str, pathlib.Path or nibabel image
        3D map of the encoding score (values <= 0 are transparent).
    fields : array-like of shape (n_voxels, 10, 10)
        Receptive fields (model coefficients) of the voxels.
    voxel_coords : array-like of shape (n_voxels, 3)
        World coordinates (mm) of the voxels.
    pixel : (int, int)
        The (row, col) of the pixel outlined on every field.
    colors : list of colours, optional
        One per voxel (default: a qualitative palette).
    titles : list of str, optional
        One title per field.
    threshold : float
        r2 values below it are transparent.
    figsize : pair of float

    Returns
    -------
    matplotlib.figure.Figure
    """
    pixel = _check_pixel(pixel)
    fields = np.asarray(fields, dtype=float)
    voxel_coords = np.asarray(voxel_coords, dtype=float)
    if fields.ndim != 3 or voxel_coords.shape != (len(fields), 3):
        raise ValueError(f"'fields' (n, rows, cols) and 'voxel_coords' (n, 3) must describe the "
                         f"same voxels. Got shapes {fields.shape} and {voxel_coords.shape}.")
    n = len(fields)
    colors = list(colors) if colors is not None else list(plt.get_cmap("tab10").colors[:n])
    if len(colors) != n:
        raise ValueError(f"'colors' must hold one colour per voxel ({n}). Got {len(colors)}.")
    figure = plt.figure(figsize=figsize)
    top, bottom = figure.subfigures(2, 1, height_ratios=[1.0, 1.0])
    axes = top.subplots(1, n, squeeze=False)[0]
    for i, ax in enumerate(axes):
        limit = max(float(np.abs(fields[i]).max()), 1e-9)
        plot_pixels(fields[i], ax=ax, cmap="RdBu_r", vmin=-limit, vmax=limit,
                    title=None if titles is None else titles[i])
        mark_pixel(ax, pixel, color="black")
        for spine in ax.spines.values():
            spine.set(edgecolor=colors[i], linewidth=4)
    _panel_letter(top, "E", "black")
    plot_slices(bg_img, r2_img, display_mode="z", cut_coords=list(voxel_coords[:, 2]),
                figure=bottom, cmap="hot", symmetric=False, threshold=threshold,
                title=f"   encoding r2 above {threshold:g}, the voxels of E circled",
                cbar_label="r2")
    for ax, xyz, color in zip(bottom.axes, voxel_coords, colors, strict=False):
        ax.scatter([xyz[0]], [xyz[1]], s=260, facecolors="none", edgecolors="white",
                   linewidths=5)
        ax.scatter([xyz[0]], [xyz[1]], s=260, facecolors="none", edgecolors=[color],
                   linewidths=2.5)
    _panel_letter(bottom, "F", "white")
    return figure
