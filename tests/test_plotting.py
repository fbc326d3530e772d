"""Tests of mlni.plotting: figures, panels, thresholds, contours, labels, pixel images."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import nibabel as nib  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from mlni.plotting import plot_labels, plot_pixel_grid, plot_pixels, plot_slices  # noqa: E402

BG_AFFINE = np.diag([2.0, 2.0, 2.0, 1.0])
BG_AFFINE[:3, 3] = [-40, -50, -30]
STAT_AFFINE = np.diag([4.0, 4.0, 4.0, 1.0])
STAT_AFFINE[:3, 3] = [-40, -50, -30]
BLOB_CENTRE = (10.0, -10.0, 6.0)


def _world(shape, affine):
    ijk = np.indices(shape).reshape(3, -1).T
    return (ijk @ affine[:3, :3].T + affine[:3, 3]).reshape(shape + (3,))


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


@pytest.fixture
def bg_img():
    xyz = _world((41, 51, 31), BG_AFFINE)
    head = np.exp(-((xyz / [35.0, 42.0, 26.0]) ** 2).sum(-1) * 2)
    return nib.Nifti1Image(np.where(head > 0.1, head * 100, 0), BG_AFFINE)


@pytest.fixture
def stat_img():
    """A positive blob at BLOB_CENTRE, a negative one, on a coarser grid than the background."""
    xyz = _world((21, 26, 16), STAT_AFFINE)

    def blob(centre, width):
        return np.exp(-((xyz - centre) ** 2).sum(-1) / (2 * width**2))

    return nib.Nifti1Image(6 * blob(BLOB_CENTRE, 5) - 4 * blob((-20, 10, -6), 4), STAT_AFFINE)


@pytest.fixture
def mask_img():
    xyz = _world((21, 26, 16), STAT_AFFINE)
    inside = np.linalg.norm(xyz - BLOB_CENTRE, axis=-1) < 8
    return nib.Nifti1Image(inside.astype(np.uint8), STAT_AFFINE)


def _texts(fig):
    return [t.get_text() for ax in fig.axes for t in ax.texts] + [t.get_text() for t in fig.texts]


def _overlay(ax):
    """The masked array of the coloured map drawn on a panel (second image)."""
    return ax.get_images()[1].get_array()


def test_plot_slices_ortho_panels_colorbar_and_title(bg_img, stat_img):
    fig = plot_slices(bg_img, stat_img, threshold=1, title="A map", cbar_label="t score")
    assert isinstance(fig, Figure)
    assert len(fig.axes) == 4  # three panels and the colour bar
    texts = _texts(fig)
    assert "A map" in texts
    assert {"L", "R", "P", "A"} <= set(texts)
    assert [t for t in texts if t[:2] in ("x=", "y=", "z=")] == ["x=10", "y=-10", "z=6"]
    assert fig.axes[3].get_ylabel() == "t score"


def test_plot_slices_default_cut_is_centre_of_largest_blob(bg_img, stat_img):
    fig = plot_slices(bg_img, stat_img, threshold=2)
    coords = [float(t.split("=")[1]) for t in _texts(fig) if t[:2] in ("x=", "y=", "z=")]
    np.testing.assert_allclose(coords, BLOB_CENTRE, atol=1.5)


def test_plot_slices_without_map_is_centred_on_the_brain(bg_img):
    fig = plot_slices(bg_img)
    assert len(fig.axes) == 3  # no colour bar without a map
    coords = [float(t.split("=")[1]) for t in _texts(fig) if t[:2] in ("x=", "y=", "z=")]
    centre = BG_AFFINE[:3, :3] @ (np.array([41, 51, 31]) - 1) / 2 + BG_AFFINE[:3, 3]
    np.testing.assert_allclose(coords, centre, atol=1.5)


def test_neurological_convention_left_is_left(bg_img, stat_img):
    fig = plot_slices(bg_img, stat_img, threshold=3, display_mode="z", cut_coords=[6])
    ax = fig.axes[0]
    left, right = ax.get_xlim()
    assert left < right  # x (mm) grows to the right: the subject's left is on the left
    overlay = _overlay(ax)
    columns = np.flatnonzero(overlay.count(axis=0))
    x_mm = left + (columns + 0.5) * (right - left) / overlay.shape[1]
    np.testing.assert_allclose(x_mm.mean(), BLOB_CENTRE[0], atol=2)  # the blob is at x=+10
    texts = [t for t in ax.texts if t.get_text() in ("L", "R")]
    assert {t.get_text(): t.get_position()[0] for t in texts} == {"L": 0.0, "R": 1.0}


def test_flipped_affine_gives_the_same_picture(bg_img):
    # a map on the background's grid, so that nearest-neighbour sampling has no ties
    xyz = _world(bg_img.shape, BG_AFFINE)
    data = np.exp(-((xyz - BLOB_CENTRE) ** 2).sum(-1) / 50.0) * (xyz[..., 0] + 50)
    flip = np.diag([-1.0, 1.0, 1.0, 1.0])
    flip[0, 3] = bg_img.shape[0] - 1  # voxel i -> n - 1 - i
    flipped = nib.Nifti1Image(data[::-1], BG_AFFINE @ flip)
    reference = plot_slices(bg_img, nib.Nifti1Image(data, BG_AFFINE), cut_coords=BLOB_CENTRE)
    mirrored = plot_slices(bg_img, flipped, cut_coords=BLOB_CENTRE)
    for ax_ref, ax_flip in zip(reference.axes[:3], mirrored.axes[:3], strict=True):
        np.testing.assert_allclose(_overlay(ax_flip).filled(0), _overlay(ax_ref).filled(0))


def test_threshold_hides_small_values(bg_img, stat_img):
    fig = plot_slices(bg_img, stat_img, threshold=3, cut_coords=BLOB_CENTRE)
    shown_any = False
    for ax in fig.axes[:3]:
        overlay = _overlay(ax)
        visible = overlay.compressed()
        assert np.all(np.abs(visible) >= 3)
        hidden = np.asarray(overlay.data)[np.ma.getmaskarray(overlay)]
        assert np.all((np.abs(hidden) < 3) | (hidden == 0))
        shown_any |= visible.size > 0
    assert shown_any
    no_threshold = plot_slices(bg_img, stat_img, cut_coords=BLOB_CENTRE)
    assert _overlay(no_threshold.axes[2]).count() > _overlay(fig.axes[2]).count()


def test_colour_limits(bg_img, stat_img):
    fig = plot_slices(bg_img, stat_img, vmax=5)
    assert fig.axes[0].get_images()[1].get_clim() == (-5, 5)
    positive = nib.Nifti1Image(np.abs(stat_img.get_fdata()), STAT_AFFINE)
    fig = plot_slices(bg_img, positive, threshold=2, symmetric=False, cmap="hot")
    low, high = fig.axes[0].get_images()[1].get_clim()
    assert low == 2
    assert high == pytest.approx(np.abs(stat_img.get_fdata()).max())


@pytest.mark.parametrize(("display_mode", "cut_coords", "n_panels"),
                         [("z", [-10, 0, 10, 20], 4), ("x", 5.0, 1), ("y", None, 6),
                          ("z", None, 6)])
def test_rows_of_slices(bg_img, stat_img, display_mode, cut_coords, n_panels):
    fig = plot_slices(bg_img, stat_img, display_mode=display_mode, cut_coords=cut_coords,
                      colorbar=False)
    assert len(fig.axes) == n_panels
    labels = [t for t in _texts(fig) if t.startswith(f"{display_mode}=")]
    assert len(labels) == n_panels


def test_contours_are_drawn_with_a_legend(bg_img, stat_img, mask_img):
    fig = plot_slices(bg_img, stat_img, contours={"face": mask_img, "empty": mask_img},
                      cut_coords=BLOB_CENTRE)
    legend_texts = [t.get_text() for t in fig.legends[0].get_texts()]
    assert legend_texts == ["face", "empty"]
    n_contour_sets = sum(len(ax.collections) for ax in fig.axes[:3])
    assert n_contour_sets == 6  # two masks on three panels that all cross the sphere


def test_into_given_figure_and_png(bg_img, stat_img, tmp_path):
    given = plt.figure(figsize=(8, 3))
    fig = plot_slices(bg_img, stat_img, figure=given, threshold=1)
    assert fig is given
    path = tmp_path / "slices.png"
    fig.savefig(path, facecolor=fig.get_facecolor())
    assert path.stat().st_size > 10_000


def test_into_subfigures_of_one_figure(bg_img, stat_img):
    fig = plt.figure(figsize=(10, 6))
    left, right = fig.subfigures(1, 2)
    assert plot_slices(bg_img, stat_img, display_mode="z", figure=left) is left
    assert plot_labels(stat_img, bg_img, figure=right) is right
    # The panels of each subfigure stay inside its half of the figure.
    for sub in (left, right):
        x_low, y_low, x_high, y_high = sub.bbox.extents
        for ax in sub.axes:
            x0, y0, x1, y1 = ax.get_window_extent().extents
            assert x_low - 1e-6 <= x0 < x1 <= x_high + 1e-6
            assert y_low - 1e-6 <= y0 < y1 <= y_high + 1e-6


def test_plot_slices_on_the_mni_template(tmp_path):
    from nilearn.datasets import load_mni152_template

    template = load_mni152_template(resolution=2)
    xyz = _world(template.shape, template.affine)
    weights = np.exp(-((xyz - [40, -60, -10]) ** 2).sum(-1) / 60.0) * 5
    stat = nib.Nifti1Image(weights, template.affine)
    fig = plot_slices(template, stat, threshold=1, title="Fusiform blob")
    coords = [float(t.split("=")[1]) for t in _texts(fig) if t[:2] in ("x=", "y=", "z=")]
    np.testing.assert_allclose(coords, [40, -60, -10], atol=2.5)
    fig.savefig(tmp_path / "mni.png", facecolor=fig.get_facecolor())


def test_plot_slices_errors(bg_img, stat_img):
    with pytest.raises(ValueError, match=r"'display_mode' must be one of .* Got 'axial'"):
        plot_slices(bg_img, display_mode="axial")
    with pytest.raises(ValueError, match=r"'cut_coords' must be 3 numbers .* Got \[0, 0\]"):
        plot_slices(bg_img, cut_coords=[0, 0])
    with pytest.raises(ValueError, match=r"'cut_coords' must be a number or a list of numbers"):
        plot_slices(bg_img, display_mode="z", cut_coords=[])
    with pytest.raises(ValueError, match="'threshold' must be non-negative. Got -1"):
        plot_slices(bg_img, stat_img, threshold=-1)
    with pytest.raises(ValueError, match="'vmax' must be positive. Got 0"):
        plot_slices(bg_img, stat_img, vmax=0)
    with pytest.raises(TypeError, match="'contours' must be a dict of label -> mask image. Got "
                       "list"):
        plot_slices(bg_img, contours=[stat_img])
    four_d = nib.Nifti1Image(np.zeros((4, 4, 4, 2)), np.eye(4))
    with pytest.raises(ValueError, match="'stat_img' must be a 3D image. Got a 4D image"):
        plot_slices(bg_img, four_d)


def test_plot_labels(bg_img, tmp_path):
    xyz = _world((41, 51, 31), BG_AFFINE)
    labels = (np.floor((xyz[..., 0] + 40) / 20) * 10 + np.floor((xyz[..., 1] + 50) / 25) + 1)
    labels[bg_img.get_fdata() == 0] = 0
    label_img = nib.Nifti1Image(labels.astype(np.int32), BG_AFFINE)
    n_labels = np.unique(labels[labels > 0]).size
    fig = plot_labels(label_img, bg_img, title="Grid", cut_coords=[-10, 0, 10])
    assert len(fig.axes) == 3
    assert f"Grid ({n_labels} labels)" in _texts(fig)
    overlay = fig.axes[1].get_images()[1]
    assert overlay.get_cmap().N == n_labels
    again = plot_labels(label_img, bg_img, cut_coords=[-10, 0, 10])
    np.testing.assert_array_equal(again.axes[1].get_images()[1].get_cmap().colors,
                                  overlay.get_cmap().colors)
    other = plot_labels(label_img, bg_img, cut_coords=[0], random_state=1)
    assert not np.allclose(other.axes[0].get_images()[1].get_cmap().colors,
                           overlay.get_cmap().colors)
    fig.savefig(tmp_path / "labels.png", facecolor=fig.get_facecolor())


def test_plot_labels_errors(bg_img):
    with pytest.raises(ValueError, match="'label_img' has no label: all its voxels are 0"):
        plot_labels(nib.Nifti1Image(np.zeros((4, 4, 4)), np.eye(4)), bg_img)
    with pytest.raises(ValueError, match=r"'display_mode' must be one of .* Got 'w'"):
        plot_labels(bg_img, bg_img, display_mode="w")


def test_plot_pixels():
    values = np.arange(100.0)
    ax = plot_pixels(values, title="stimulus", colorbar=True)
    image = ax.get_images()[0]
    assert image.get_array().shape == (10, 10)
    assert image.get_array()[1, 0] == 10  # row-major reshaping
    assert ax.get_title() == "stimulus"
    assert len(ax.figure.axes) == 2  # with its colour bar
    assert ax.get_xticks().size == 0 and ax.get_yticks().size == 0
    assert len(ax.get_xticks(minor=True)) == 11  # one grid line around every pixel
    _, given = plt.subplots()
    assert plot_pixels(np.ones((3, 5)), ax=given, vmin=0, vmax=2) is given
    assert given.get_images()[0].get_clim() == (0, 2)


def test_plot_pixels_errors():
    with pytest.raises(ValueError, match="A 1D 'values' must have a square length .* Got length "
                       "10"):
        plot_pixels(np.ones(10))
    with pytest.raises(ValueError, match=r"'values' must be a 2D image. Got shape \(2, 2, 2\)"):
        plot_pixels(np.ones((2, 2, 2)))


def test_plot_pixel_grid(tmp_path):
    rng = np.random.default_rng(0)
    images = rng.random((7, 100))
    fig = plot_pixel_grid(images, titles=[f"image {i}" for i in range(7)], ncols=4,
                          suptitle="Seven")
    assert isinstance(fig, Figure)
    assert len(fig.axes) == 8
    assert sum(ax.axison for ax in fig.axes) == 7
    clims = {ax.get_images()[0].get_clim() for ax in fig.axes[:7]}
    assert clims == {(images.min(), images.max())}  # one colour scale for all
    assert fig.axes[6].get_title() == "image 6"
    fig.savefig(tmp_path / "grid.png")
    assert len(plot_pixel_grid(rng.random((2, 10, 10))).axes) == 2


def test_plot_pixel_grid_errors():
    with pytest.raises(ValueError, match=r"'titles' must have one title per image \(2\). Got 1"):
        plot_pixel_grid(np.ones((2, 10, 10)), titles=["a"])
    with pytest.raises(ValueError, match="'ncols' must be a positive integer. Got 0"):
        plot_pixel_grid(np.ones((2, 10, 10)), ncols=0)
    with pytest.raises(ValueError, match="'images' must contain at least one image"):
        plot_pixel_grid([])
    with pytest.raises(ValueError, match=r"A 1D 'images\[1\]' must have a square length"):
        plot_pixel_grid([np.ones(100), np.ones(99)])
