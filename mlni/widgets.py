"""Interactive figures that work live in Jupyter and still show something in the static book.

One function, :func:`explore`, serves every chapter:

* in a live kernel (Binder, Colab, a laptop) it builds ipywidgets controls (sliders,
  drop-downs, check boxes) that redraw the figure when moved;
* while the book is being built (the book's Sphinx extension sets ``MLNI_BOOK_BUILD=1``) it
  draws the default figure as a plain image, and, with ``frames="name"``, pre-renders one
  figure per value of that control and shows a slider over the pictures that needs no kernel
  at all, so a reader of the online book can still explore.

:func:`frame_slider` is the kernel-free slider on its own.
"""

from __future__ import annotations

import base64
import html
import io
import json
import os
import uuid
from collections.abc import Callable, Mapping, Sequence

import matplotlib.pyplot as plt
from matplotlib.figure import Figure

__all__ = ["explore", "frame_slider", "in_book_build"]

_FRAME_DPI = 80
_ONINPUT = (
    "var r=this.closest('.mlni-frames');"
    "var imgs=r.querySelectorAll('img.mlni-frame');"
    "for(var i=0;i<imgs.length;i++){imgs[i].style.display=(i==this.value)?'':'none';}"
    "r.querySelector('output').textContent=JSON.parse(r.dataset.labels)[this.value];"
)


def in_book_build() -> bool:
    """Whether the code runs while the static book is being built.

    Returns
    -------
    bool
        True when the environment variable ``MLNI_BOOK_BUILD`` is ``"1"``.
    """
    return os.environ.get("MLNI_BOOK_BUILD") == "1"


def _check_controls(controls, defaults, frames):
    if not isinstance(controls, Mapping) or not controls:
        raise TypeError(
            "'controls' must be a non-empty dict mapping a parameter name to a list of values. "
            f"Got {controls!r}."
        )
    values = {}
    for name, options in controls.items():
        if isinstance(options, (str, bytes)) or not isinstance(options, Sequence) or not options:
            raise ValueError(
                f"'controls[{name!r}]' must be a non-empty list of allowed values. Got {options!r}."
            )
        values[name] = list(options)
    defaults = dict(defaults or {})
    unknown = sorted(set(defaults) - set(values))
    if unknown:
        raise ValueError(
            f"'defaults' names parameters that are not in 'controls': {unknown}. "
            f"Controls are {sorted(values)}."
        )
    for name, value in defaults.items():
        if value not in values[name]:
            raise ValueError(
                f"'defaults[{name!r}]' must be one of the allowed values {values[name]}. "
                f"Got {value!r}."
            )
    chosen = {name: defaults.get(name, options[0]) for name, options in values.items()}
    if frames is not None and frames not in values:
        raise ValueError(f"'frames' must be one of the controls {sorted(values)}. Got {frames!r}.")
    return values, chosen


def _draw(draw, params) -> Figure:
    fig = draw(**params)
    if not isinstance(fig, Figure):
        raise TypeError(
            "'draw' must return a matplotlib Figure (create one with plt.subplots and return it). "
            f"Got {type(fig).__name__} for parameters {params}."
        )
    return fig


def _png_base64(fig: Figure, dpi: int) -> str:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi, bbox_inches="tight")
    plt.close(fig)
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def frame_slider(figures, labels, *, description="frame", start=0, dpi=_FRAME_DPI):
    """A slider over pre-rendered figures that works in a static web page, without a kernel.

    Parameters
    ----------
    figures : sequence of matplotlib.figure.Figure
        One figure per position of the slider (they are closed once rendered).
    labels : sequence of str or number
        The value shown beside the slider for each figure.
    description : str, default="frame"
        The name of the parameter the slider moves through.
    start : int, default=0
        The index of the figure shown first.
    dpi : int, default=80
        Resolution of the pictures embedded in the page.

    Returns
    -------
    IPython.display.HTML
        An HTML snippet: a range input, the current value and the images, only one of which
        is visible at a time.

    Examples
    --------
    >>> import matplotlib.pyplot as plt
    >>> figs = []
    >>> for k in (1, 2, 3):
    ...     fig, ax = plt.subplots()
    ...     _ = ax.plot(range(10), [k * x for x in range(10)])
    ...     figs.append(fig)
    >>> slider = frame_slider(figs, [1, 2, 3], description="slope")
    """
    from IPython.display import HTML

    figures, labels = list(figures), [str(label) for label in labels]
    if not figures:
        raise ValueError("'figures' must hold at least one figure. Got an empty sequence.")
    if len(labels) != len(figures):
        raise ValueError(
            f"'labels' must have one entry per figure: {len(figures)} figures but "
            f"{len(labels)} labels."
        )
    if not 0 <= start < len(figures):
        raise ValueError(f"'start' must be an index in [0, {len(figures) - 1}]. Got {start!r}.")
    images = []
    for i, (fig, label) in enumerate(zip(figures, labels, strict=True)):
        hidden = "" if i == start else ' style="display:none"'
        alt = html.escape(f"{description} = {label}")
        images.append(
            f'<img class="mlni-frame" alt="{alt}"{hidden} '
            f'src="data:image/png;base64,{_png_base64(fig, dpi)}"/>'
        )
    slider_id = f"mlni-frames-{uuid.uuid4().hex[:8]}"
    name = html.escape(description)
    snippet = (
        f'<div class="mlni-frames" id="{slider_id}" '
        f"data-labels='{html.escape(json.dumps(labels), quote=True)}'>"
        f'<div class="mlni-frames-controls" style="margin:0.3em 0">'
        f'<label for="{slider_id}-range"><b>{name}</b> </label>'
        f'<input type="range" class="mlni-frames-range" id="{slider_id}-range" min="0" '
        f'max="{len(figures) - 1}" step="1" value="{start}" oninput="{_ONINPUT}" '
        f'aria-label="{name}" style="width:18em;vertical-align:middle"/> '
        f'<output for="{slider_id}-range">{html.escape(labels[start])}</output>'
        f'<span style="color:#777;font-size:85%"> (pre-rendered: move the slider, no kernel '
        f"needed)</span></div>{''.join(images)}</div>"
    )
    return HTML(snippet)


def _live_control(name, options, value):
    import ipywidgets as widgets

    style = {"description_width": "initial"}
    if all(isinstance(option, bool) for option in options):
        return widgets.Checkbox(value=value, description=name, style=style)
    if all(isinstance(option, (int, float)) for option in options) and len(options) > 1:
        return widgets.SelectionSlider(
            options=options, value=value, description=name, continuous_update=False, style=style
        )
    labels = [(str(option), option) for option in options]
    if len(options) <= 4:
        return widgets.ToggleButtons(options=labels, value=value, description=name, style=style)
    return widgets.Dropdown(options=labels, value=value, description=name, style=style)


def _live_box(draw, values, chosen):
    import ipywidgets as widgets
    from IPython.display import display

    controls = {name: _live_control(name, values[name], chosen[name]) for name in values}

    def redraw(**params):
        fig = _draw(draw, params)
        display(fig)
        plt.close(fig)

    output = widgets.interactive_output(redraw, controls)
    return widgets.VBox([widgets.HBox(list(controls.values())), output])


def _static_view(draw, values, chosen, frames):
    if frames is None:
        return _draw(draw, chosen)
    figures = [_draw(draw, {**chosen, frames: value}) for value in values[frames]]
    return frame_slider(
        figures, values[frames], description=frames, start=values[frames].index(chosen[frames])
    )


def explore(draw: Callable[..., Figure], controls, *, defaults=None, frames=None):
    """Explore a figure over a few parameters, live or pre-rendered.

    Parameters
    ----------
    draw : callable
        ``draw(**params)`` returns a new matplotlib Figure for one set of parameter values.
        Cache expensive work inside it (for instance with :func:`functools.lru_cache`).
    controls : dict
        Maps each parameter name to the list of values a reader may choose from
        (numbers give a slider, strings a drop-down or buttons, ``[True, False]`` a check box).
    defaults : dict, optional
        The value each parameter starts at; by default the first value of its list.
    frames : str, optional
        The name of one control. In the static book, one figure per value of this control is
        pre-rendered (the other parameters at their defaults) behind a kernel-free slider.
        Without it the static book shows the default figure only.

    Returns
    -------
    None
        Everything is displayed by the call itself, so it works anywhere in a cell.
    """
    if not callable(draw):
        raise TypeError(f"'draw' must be a function returning a Figure. Got {draw!r}.")
    values, chosen = _check_controls(controls, defaults, frames)
    from IPython.display import display

    view = _live_box(draw, values, chosen) if not in_book_build() else _static_view(
        draw, values, chosen, frames
    )
    display(view)
    if isinstance(view, Figure):
        plt.close(view)
