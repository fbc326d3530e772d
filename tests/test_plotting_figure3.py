"""Tests of the Figure 3 helpers of mlni.plotting (decoding and encoding halves, pixel marks)."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import nibabel as nib  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from matplotlib.collections import PathCollection  # noqa: E402
from matplotlib.patches import Rectangle  # noqa: E402

from mlni.plotting import (  # noqa: E402
    mark_pixel,
    plot_decoding_figure,
    plot_encoding_figure,
    plot_pixels,
)

AFFINE = np.diag([3.0, 3.0, 3.0, 1.0])
AFFINE[:3, 3] = [-30, -45, -15]


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


@pytest.fixture
def images():
    rng = np.random.default_rng(0)
    bg = nib.Nifti1Image(rng.uniform(50, 100, (21, 21, 11)), AFFINE)
    weights = np.zeros((21, 21, 11))
    weights[8:12, 5:9, 4:7] = rng.normal(size=(4, 4, 3))
    return bg, nib.Nifti1Image(weights, AFFINE)


def test_mark_pixel_outlines_the_pixel():
    ax = plot_pixels(np.zeros((10, 10)))
    square = mark_pixel(ax, (4, 2), color="red")
    assert isinstance(square, Rectangle) and square.get_xy() == (1.5, 3.5)
    assert square in ax.patches
    with pytest.raises(ValueError, match=r"'pixel' must be a \(row, col\) pair\. Got 42"):
        mark_pixel(ax, 42)


def test_decoding_figure_has_four_panels(images):
    bg, weights = images
    accuracy = np.linspace(0.5, 0.9, 100)
    fig = plot_decoding_figure(bg, weights, weights, accuracy, accuracy.reshape(10, 10),
                               pixel=(4, 2), names=("lr", "svm"))
    letters = [t.get_text()[:1] for sub in fig.subfigs for s in sub.subfigs for t in s.texts]
    assert {"A", "B", "C", "D"} <= set(letters)
    marked = [p for ax in fig.findobj(plt.Axes) for p in ax.patches if isinstance(p, Rectangle)]
    assert len(marked) == 2 and all(p.get_xy() == (1.5, 3.5) for p in marked)
    with pytest.raises(ValueError, match="'names' must hold the two models' names"):
        plot_decoding_figure(bg, weights, weights, accuracy, accuracy, pixel=(4, 2), names=("a",))


def test_encoding_figure_marks_voxels_in_their_colours(images):
    bg, r2 = images
    fields = np.zeros((3, 10, 10))
    fields[:, 4, 2] = 1.0
    xyz = np.array([[0.0, -15.0, 3.0], [3.0, -12.0, 6.0], [-3.0, -18.0, 3.0]])
    colors = ["red", "green", "blue"]
    fig = plot_encoding_figure(bg, r2, fields, xyz, pixel=(4, 2), colors=colors)
    top, bottom = fig.subfigs
    frames = [ax.spines["left"].get_edgecolor() for ax in top.axes]
    assert [matplotlib.colors.to_hex(c) for c in frames] == ["#ff0000", "#008000", "#0000ff"]
    circles = [c for ax in bottom.axes for c in ax.collections if isinstance(c, PathCollection)]
    circles = circles[1::2]  # a white ring under each coloured one
    assert len(circles) == 3
    for circle, point, color in zip(circles, xyz, colors, strict=True):
        np.testing.assert_allclose(circle.get_offsets()[0], point[:2])
        np.testing.assert_allclose(circle.get_edgecolor()[0], matplotlib.colors.to_rgba(color))
    with pytest.raises(ValueError, match=r"'colors' must hold one colour per voxel \(3\)\. Got 2"):
        plot_encoding_figure(bg, r2, fields, xyz, pixel=(4, 2), colors=colors[:2])
    with pytest.raises(ValueError, match="must describe the same voxels"):
        plot_encoding_figure(bg, r2, fields, xyz[:2], pixel=(4, 2))
