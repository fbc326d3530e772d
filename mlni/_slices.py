"""The engine behind :mod:`mlni.plotting`'s brain slices (private).

Every image is sampled on one grid aligned with the world axes, at the background's voxel
size; only the displayed planes are interpolated. :func:`draw_slices` lays out the panels,
draws background, map, contours and labels, and adds the colour bar and legend.
"""

from __future__ import annotations

from itertools import product

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.lines import Line2D
from scipy import ndimage

from mlni._checks import check_img, check_in, get_data

_BACKGROUND, _FOREGROUND = "black", "white"
_CONTOUR_COLORS = ["#39ff14", "#ff4df0", "#ffd400", "#00e5ff", "#ff8c1a", "#b388ff"]
_AXIS = {"x": 0, "y": 1, "z": 2}
_PANEL_AXES = {"x": (1, 2), "y": (0, 2), "z": (0, 1)}  # (horizontal, vertical) world axes
_SIDES = {"x": ("P", "A"), "y": ("L", "R"), "z": ("L", "R")}


class Volume:
    """A 3D image that can be sampled at world coordinates (mm)."""

    def __init__(self, img, name, order):
        img = check_img(img, ndim=3, name=name)
        self.data = np.nan_to_num(np.asarray(get_data(img), dtype=np.float64),
                                  nan=0.0, posinf=0.0, neginf=0.0)
        self.affine = img.affine
        self.order = order

    def sample(self, points):
        """Values at world ``points`` of shape (..., 3); 0 outside the image."""
        flat = points.reshape(-1, 3)
        vox = np.linalg.solve(self.affine[:3, :3], (flat - self.affine[:3, 3]).T)
        values = ndimage.map_coordinates(self.data, vox, order=self.order, cval=0.0)
        return values.reshape(points.shape[:-1])

    def to_world(self, ijk):
        """World coordinates (n, 3) of voxel coordinates ``ijk`` (n, 3)."""
        return np.asarray(ijk, dtype=float) @ self.affine[:3, :3].T + self.affine[:3, 3]

    def bounds(self, mask):
        """World bounding box (3, 2) of the voxels where ``mask`` is True."""
        box = [np.flatnonzero(mask.any(axis=tuple({0, 1, 2} - {a})))[[0, -1]] for a in range(3)]
        corners = self.to_world(np.array(list(product(*box))))
        return np.c_[corners.min(axis=0), corners.max(axis=0)]


def _grid(bg, overlays):
    """Bounds (3, 2) in mm of the brain and of what is drawn on it, and the sampling step.

    The brain is the background above 10% of its high values; overlays count where they are
    non-zero. One voxel of margin is added on each side.
    """
    magnitude = np.abs(bg.data)
    inside = magnitude > 0
    if inside.any():
        inside = magnitude > 0.1 * np.percentile(magnitude[inside], 99)
    bounds = bg.bounds(inside if inside.any() else np.ones(bg.data.shape, bool))
    for volume, where in overlays:
        if where.any():
            extra = volume.bounds(where)
            bounds = np.c_[np.minimum(bounds[:, 0], extra[:, 0]),
                           np.maximum(bounds[:, 1], extra[:, 1])]
    step = float(np.sqrt((bg.affine[:3, :3] ** 2).sum(axis=0)).min())
    return bounds + [-step, step], step


def _panel_points(direction, coord, bounds, step):
    """World points (n_vertical, n_horizontal, 3) of one slice, and the imshow extent."""
    h_axis, v_axis = _PANEL_AXES[direction]
    hs = np.arange(bounds[h_axis, 0], bounds[h_axis, 1] + step / 2, step)
    vs = np.arange(bounds[v_axis, 0], bounds[v_axis, 1] + step / 2, step)
    points = np.empty((len(vs), len(hs), 3))
    points[..., h_axis], points[..., v_axis] = np.meshgrid(hs, vs)
    points[..., _AXIS[direction]] = coord
    extent = (hs[0] - step / 2, hs[-1] + step / 2, vs[0] - step / 2, vs[-1] + step / 2)
    return points, extent


def _default_cuts(display_mode, bg, bounds, stat, threshold):
    """Slice positions (mm) centred on the map above threshold, else on the brain.

    For the map: the centre of mass of its largest connected cluster above threshold (its peak
    if the centre falls outside the cluster); for the brain: the centre of mass of the
    background intensities.
    """
    focus = None
    if stat is not None:
        above = (np.abs(stat.data) >= (threshold or 0)) & (stat.data != 0)
        if above.any():
            labeled, n_clusters = ndimage.label(above)
            sizes = ndimage.sum_labels(above, labeled, index=np.arange(1, n_clusters + 1))
            focus = labeled == np.argmax(sizes) + 1
            weights = np.abs(stat.data) * focus
            centre = np.array(ndimage.center_of_mass(weights))
            if not focus[tuple(np.round(centre).astype(int))]:
                centre = np.array(np.unravel_index(np.argmax(weights), weights.shape))
            centre = stat.to_world(centre[None])[0]
    if focus is None:
        weights = np.clip(bg.data, 0, None)
        voxel = ndimage.center_of_mass(weights) if weights.any() else np.array(bg.data.shape) / 2
        centre = bg.to_world(np.asarray(voxel)[None])[0]
    if display_mode == "ortho":
        return tuple(np.round(centre))
    axis = _AXIS[display_mode]
    if focus is not None:  # spread over all the supra-threshold voxels
        low, high = stat.bounds(above)[axis] @ np.array([[0.9, 0.1], [0.1, 0.9]])
    else:
        low, high = bounds[axis] @ np.array([[0.8, 0.2], [0.2, 0.8]])
    return list(np.unique(np.round(np.linspace(low, high, 6))))


def _panels(display_mode, cut_coords):
    """List of (direction, coordinate) pairs to draw."""
    if display_mode == "ortho":
        coords = np.atleast_1d(np.asarray(cut_coords, dtype=float))
        if coords.shape != (3,):
            raise ValueError(f"'cut_coords' must be 3 numbers (x, y, z in mm) for "
                             f"display_mode='ortho'. Got {cut_coords!r}.")
        return list(zip("xyz", coords, strict=True))
    coords = np.atleast_1d(np.asarray(cut_coords, dtype=float))
    if coords.ndim != 1 or coords.size == 0:
        raise ValueError(f"'cut_coords' must be a number or a list of numbers (mm) for "
                         f"display_mode={display_mode!r}. Got {cut_coords!r}.")
    return [(display_mode, c) for c in coords]


def _size_inches(figure):
    """Width and height in inches of a Figure or of a SubFigure (which has no size of its own)."""
    if hasattr(figure, "get_size_inches"):
        return tuple(figure.get_size_inches())
    dpi = figure.figure.dpi
    return figure.bbox.width / dpi, figure.bbox.height / dpi


def _layout(figure, panels, bounds, *, colorbar, legend, title):
    """Create one axes per panel (same mm scale everywhere) and an optional colorbar axes."""
    widths = [np.ptp(bounds[_PANEL_AXES[d][0]]) for d, _ in panels]
    heights = [np.ptp(bounds[_PANEL_AXES[d][1]]) for d, _ in panels]
    top_in, bottom_in, cbar_in, gap_in = (0.45 if title else 0.1), (0.35 if legend else 0.1), \
        (1.25 if colorbar else 0.1), 0.15
    if figure is None:
        panel_h = 2.6 if len(panels) <= 3 else 1.9
        scale = panel_h / max(heights)
        fig_w = min(sum(widths) * scale + gap_in * len(panels) + cbar_in + 0.1, 14.0)
        scale = min(scale, (fig_w - cbar_in - 0.1 - gap_in * len(panels)) / sum(widths))
        figure = plt.figure(figsize=(fig_w, max(heights) * scale + top_in + bottom_in))
    fig_w, fig_h = _size_inches(figure)
    scale = min((fig_w - cbar_in - 0.1 - gap_in * len(panels)) / sum(widths),
                (fig_h - top_in - bottom_in) / max(heights))
    figure.set_facecolor(_BACKGROUND)
    axes, left = [], 0.05
    for w, h in zip(widths, heights, strict=True):
        ax = figure.add_axes([left / fig_w, (bottom_in + (max(heights) - h) * scale / 2) / fig_h,
                              w * scale / fig_w, h * scale / fig_h])
        ax.set_axis_off()
        axes.append(ax)
        left += w * scale + gap_in
    cax = None
    if colorbar:
        height = max(heights) * scale
        cax = figure.add_axes([(left + 0.1) / fig_w, (bottom_in + 0.1 * height) / fig_h,
                               0.15 / fig_w, 0.8 * height / fig_h])
    return figure, axes, cax


def _label_panel(ax, direction, coord, extent):
    text = dict(color=_FOREGROUND, fontsize=9, transform=ax.transAxes)
    ax.text(0.02, 0.02, f"{direction}={round(float(coord), 1):g}", ha="left", va="bottom", **text)
    low, high = _SIDES[direction]
    ax.text(0.0, 0.5, low, ha="left", va="center", **text)
    ax.text(1.0, 0.5, high, ha="right", va="center", **text)
    ax.set_xlim(extent[:2])
    ax.set_ylim(extent[2:])


def _color_limits(values, threshold, vmax, symmetric):
    finite = values[np.isfinite(values) & (values != 0)]
    if vmax is None:
        vmax = float(np.abs(finite).max()) if finite.size else 1.0
    if symmetric:
        return -vmax, vmax
    if threshold and (finite.size == 0 or finite.min() >= 0):
        return threshold, vmax
    low = float(finite.min()) if finite.size else 0.0
    return min(low, vmax - 1e-12), vmax


def draw_slices(bg_img, stat, labels, *, threshold, display_mode, cut_coords, contours, cmap,
                 vmax, symmetric, colorbar, title, figure, cbar_label):
    """Shared engine of :func:`plot_slices` and :func:`plot_labels`."""
    check_in(display_mode, ("ortho", "x", "y", "z"), name="display_mode")
    if contours is not None and not isinstance(contours, dict):
        raise TypeError(f"'contours' must be a dict of label -> mask image. Got "
                        f"{type(contours).__name__}.")
    bg = Volume(bg_img, "bg_img", order=1)
    masks = {str(k): Volume(v, f"contours[{k!r}]", order=0) for k, v in (contours or {}).items()}
    overlays = [(mask, mask.data != 0) for mask in masks.values()]
    if stat is not None:
        overlays.append((stat, (stat.data != 0) & (np.abs(stat.data) >= (threshold or 0))))
    if labels is not None:
        overlays.append((labels[0], labels[0].data != 0))
    bounds, step = _grid(bg, overlays)
    if cut_coords is None:
        cut_coords = _default_cuts(display_mode, bg, bounds, stat, threshold)
    panels = _panels(display_mode, cut_coords)
    figure, axes, cax = _layout(figure, panels, bounds, colorbar=colorbar and stat is not None,
                                legend=bool(masks), title=title)
    bg_values = bg.data[bg.data != 0]
    bg_lim = np.percentile(bg_values, [2, 99.5]) if bg_values.size else (0, 1)
    if stat is not None:
        vmin, vmax = _color_limits(stat.data, threshold, vmax, symmetric)
    image = None
    for ax, (direction, coord) in zip(axes, panels, strict=True):
        points, extent = _panel_points(direction, coord, bounds, step)
        ax.imshow(bg.sample(points), cmap="gray", origin="lower", extent=extent,
                  vmin=bg_lim[0], vmax=bg_lim[1], interpolation="bilinear")
        if stat is not None:
            values = stat.sample(points)
            hidden = (values == 0) | (np.abs(values) < (threshold or 0))
            image = ax.imshow(np.ma.masked_array(values, hidden), cmap=cmap, origin="lower",
                              extent=extent, vmin=vmin, vmax=vmax, interpolation="nearest")
        if labels is not None:
            volume, label_cmap = labels
            ax.imshow(np.ma.masked_equal(volume.sample(points), 0), cmap=label_cmap,
                      origin="lower", extent=extent, vmin=0.5, vmax=label_cmap.N + 0.5,
                      interpolation="nearest", alpha=0.85)
        for color, mask in zip(_CONTOUR_COLORS * 4, masks.values(), strict=False):
            outline = mask.sample(points)
            if outline.max() > 0.5 and outline.min() < 0.5:
                ax.contour(outline, levels=[0.5], colors=[color], linewidths=1.2,
                           origin="lower", extent=extent)
        _label_panel(ax, direction, coord, extent)
    if cax is not None and image is not None:
        _add_colorbar(figure, image, cax, threshold, cbar_label)
    if masks:
        handles = [Line2D([], [], color=c, lw=2) for c in _CONTOUR_COLORS * 4][: len(masks)]
        figure.legend(handles, list(masks), loc="lower left", ncol=len(masks), frameon=False,
                      labelcolor=_FOREGROUND, fontsize=9, bbox_to_anchor=(0.0, 0.0),
                      handlelength=1.5)
    if title:
        figure.text(0.01, 0.99, title, color=_FOREGROUND, fontsize=12, ha="left", va="top")
    return figure


def _add_colorbar(figure, image, cax, threshold, label):
    bar = figure.colorbar(image, cax=cax)
    bar.ax.tick_params(colors=_FOREGROUND, labelsize=8)
    bar.outline.set_edgecolor(_FOREGROUND)
    bar.ax.yaxis.get_offset_text().set_color(_FOREGROUND)
    vmin, vmax = image.get_clim()
    if threshold and threshold > vmin:
        bar.ax.axhspan(max(-threshold, vmin), min(threshold, vmax), color="0.35")
    if label:
        bar.set_label(label, color=_FOREGROUND, fontsize=9)
