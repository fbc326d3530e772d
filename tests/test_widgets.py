"""Tests of mlni.widgets: live ipywidgets in a kernel, pre-rendered frames in the book build."""

import re

import ipywidgets
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402
from IPython.display import HTML  # noqa: E402

from mlni import widgets  # noqa: E402
from mlni.widgets import explore, frame_slider, in_book_build  # noqa: E402


def _line(slope=1, colour="k", grid=False):
    fig, ax = plt.subplots(figsize=(2, 2))
    ax.plot([0, 1], [0, slope], color=colour)
    ax.grid(grid)
    return fig


@pytest.fixture
def shown(monkeypatch):
    """Collect what explore displays."""
    views = []
    monkeypatch.setattr("IPython.display.display", views.append)
    return views


@pytest.fixture
def book_build(monkeypatch):
    monkeypatch.setenv("MLNI_BOOK_BUILD", "1")


@pytest.fixture
def live(monkeypatch):
    monkeypatch.delenv("MLNI_BOOK_BUILD", raising=False)


def test_in_book_build(monkeypatch):
    monkeypatch.setenv("MLNI_BOOK_BUILD", "1")
    assert in_book_build()
    monkeypatch.setenv("MLNI_BOOK_BUILD", "0")
    assert not in_book_build()
    monkeypatch.delenv("MLNI_BOOK_BUILD")
    assert not in_book_build()


def test_frame_slider_one_visible_image_per_frame():
    figs = [_line(k) for k in (1, 2, 3)]
    html = frame_slider(figs, [1, 2, 3], description="slope", start=1).data
    images = re.findall(r"<img [^>]*>", html)
    assert len(images) == 3
    hidden = [img for img in images if "display:none" in img]
    assert len(hidden) == 2 and "display:none" not in images[1]
    assert 'type="range"' in html and 'max="2"' in html and 'value="1"' in html
    assert "<output" in html and ">2</output>" in html
    # Different figures give different pictures.
    sources = [re.search(r'src="([^"]+)"', img).group(1) for img in images]
    assert len(set(sources)) == 3
    assert plt.get_fignums() == []  # rendered figures are closed


def test_frame_slider_labels_are_escaped():
    html = frame_slider([_line()], ["<b>x</b>"], description="a<b").data
    assert "<b>x</b>" not in html.replace("<b>a&lt;b</b>", "")
    assert "&lt;b&gt;x&lt;/b&gt;" in html


@pytest.mark.parametrize(
    ("figures", "labels", "start", "match"),
    [
        ([], [], 0, "'figures' must hold at least one figure"),
        (["fig"], [1, 2], 0, "'labels' must have one entry per figure: 1 figures but 2 labels"),
        (["fig"], [1], 3, r"'start' must be an index in \[0, 0\]. Got 3"),
    ],
)
def test_frame_slider_errors(figures, labels, start, match):
    figures = [_line() if f == "fig" else f for f in figures]
    with pytest.raises(ValueError, match=match):
        frame_slider(figures, labels, start=start)
    plt.close("all")


def test_explore_book_build_without_frames_shows_default(book_build, shown):
    calls = []

    def draw(slope, colour):
        calls.append((slope, colour))
        return _line(slope, colour)

    out = explore(draw, {"slope": [1, 2], "colour": ["k", "r"]}, defaults={"colour": "r"})
    assert out is None
    assert calls == [(1, "r")]
    assert len(shown) == 1 and isinstance(shown[0], matplotlib.figure.Figure)
    assert plt.get_fignums() == []


def test_explore_book_build_with_frames_renders_each_value(book_build, shown):
    calls = []

    def draw(slope, grid):
        calls.append((slope, grid))
        return _line(slope, grid=grid)

    out = explore(draw, {"slope": [1, 2, 3], "grid": [True, False]}, frames="slope",
                  defaults={"slope": 2})
    assert out is None and len(shown) == 1 and isinstance(shown[0], HTML)
    assert calls == [(1, True), (2, True), (3, True)]
    assert 'value="1"' in shown[0].data  # starts on the default value's frame


def test_explore_live_displays_one_widget_box(live, shown):
    assert explore(_line, {"slope": [1, 2]}) is None
    # The box is shown once; the first figure is drawn into its output area.
    boxes = [view for view in shown if isinstance(view, ipywidgets.VBox)]
    assert len(boxes) == 1 and shown[-1] is boxes[0]


def test_live_box_builds_matching_controls():
    values = {"slope": [1, 2, 3], "colour": ["k", "r", "g", "b", "m"], "grid": [False, True]}
    box = widgets._live_box(_line, values, {"slope": 1, "colour": "k", "grid": False})
    controls = box.children[0].children
    kinds = [type(c) for c in controls]
    assert kinds == [ipywidgets.SelectionSlider, ipywidgets.Dropdown, ipywidgets.Checkbox]
    assert [c.value for c in controls] == [1, "k", False]
    assert isinstance(box.children[1], ipywidgets.Output)


def test_live_box_few_strings_give_buttons():
    box = widgets._live_box(_line, {"colour": ["k", "r"]}, {"colour": "k"})
    assert isinstance(box.children[0].children[0], ipywidgets.ToggleButtons)


@pytest.mark.parametrize(
    ("controls", "defaults", "frames", "error", "match"),
    [
        ({}, None, None, TypeError, "'controls' must be a non-empty dict"),
        ({"slope": []}, None, None, ValueError, r"'controls\['slope'\]' must be a non-empty list"),
        ({"slope": "abc"}, None, None, ValueError, r"'controls\['slope'\]' must be a non-empty"),
        ({"slope": [1]}, {"k": 1}, None, ValueError, "'defaults' names parameters that are not"),
        ({"slope": [1, 2]}, {"slope": 5}, None, ValueError,
         r"'defaults\['slope'\]' must be one of the allowed values \[1, 2\]. Got 5"),
        ({"slope": [1]}, None, "k", ValueError,
         r"'frames' must be one of the controls \['slope'\]"),
    ],
)
def test_explore_errors(book_build, controls, defaults, frames, error, match):
    with pytest.raises(error, match=match):
        explore(_line, controls, defaults=defaults, frames=frames)


def test_explore_draw_must_be_callable_and_return_a_figure(book_build):
    with pytest.raises(TypeError, match="'draw' must be a function returning a Figure"):
        explore(42, {"slope": [1]})
    with pytest.raises(TypeError, match="'draw' must return a matplotlib Figure.*Got int"):
        explore(lambda slope: 3, {"slope": [1]})
