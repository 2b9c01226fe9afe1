"""One look for every figure in the book.

Call :func:`figure` instead of ``plt.subplots``: it applies the book's style (sizes, fonts,
colours, grid) and returns ``(fig, axes)``. :data:`COLORS` is the palette, colour-blind safe
(Okabe & Ito), in the order lines are drawn. :func:`slider` turns a parameter sweep into a
figure with a slider that works on the static website, without a running kernel.
"""

from __future__ import annotations

import base64
import html
import io
import itertools
import json
import sys
from collections.abc import Callable, Sequence

import matplotlib

from dlcore import _checks

#: The Okabe–Ito palette, in the order lines are drawn; its colours stay distinguishable with
#: the common forms of colour blindness.
COLORS = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#F0E442",
          "#000000")

STYLE = {
    "figure.dpi": 110,
    "savefig.dpi": 150,
    "figure.figsize": (6.4, 3.6),
    "figure.constrained_layout.use": True,
    "font.size": 10,
    "axes.titlesize": 11,
    "axes.labelsize": 10,
    "legend.fontsize": 9,
    "legend.frameon": False,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "lines.linewidth": 1.8,
    "axes.prop_cycle": matplotlib.cycler(color=COLORS),
    "image.cmap": "viridis",
}


def use() -> None:
    """Apply the book's style to matplotlib (idempotent).

    Inside a Jupyter kernel whose backend is the non-interactive ``agg`` (for instance because
    the environment sets ``MPLBACKEND=Agg``), it also switches to the inline backend, so the
    page shows its figures whatever the reader's environment.
    """
    matplotlib.rcParams.update(STYLE)
    if "ipykernel" in sys.modules and matplotlib.get_backend().lower() == "agg":
        from IPython import get_ipython

        shell = get_ipython()
        if shell is not None:  # what `%matplotlib inline` does: backend and display hooks
            shell.run_line_magic("matplotlib", "inline")


def figure(nrows: int = 1, ncols: int = 1, *, width: float = 6.4, height: float | None = None,
           **kwargs):
    """A styled figure with a grid of axes, like ``plt.subplots``.

    Args:
        nrows, ncols: grid of panels.
        width: inches; the book's text column is about 6.4 in wide.
        height: inches; default keeps each panel at a 16:9-ish aspect ratio.
        **kwargs: passed on to :func:`matplotlib.pyplot.subplots` (``sharex``, ...).

    Returns:
        ``(fig, axes)``; ``axes`` is one Axes for a 1×1 grid, else an array.

    Examples:
        >>> fig, axes = figure(1, 2)
        >>> len(axes)
        2
        >>> import matplotlib.pyplot as plt; plt.close(fig)
    """
    if "figsize" in kwargs:
        raise ValueError(
            f"`figsize` is set through `width` and `height`, got figsize={kwargs['figsize']!r}"
        )
    nrows = _checks.number(nrows, "nrows", low=1, integer=True)
    ncols = _checks.number(ncols, "ncols", low=1, integer=True)
    width = _checks.number(width, "width", low=0, low_open=True)
    if height is None:
        height = min(9.0, 0.56 * width / ncols * nrows + 0.3)
    height = _checks.number(height, "height", low=0, low_open=True)
    use()
    import matplotlib.pyplot as plt  # deferred: pyplot costs ~0.3 s, only figures need it

    return plt.subplots(nrows, ncols, figsize=(width, height), **kwargs)


class Slider:
    """Frames of a parameter sweep with a range slider, shown without a kernel.

    Made by :func:`slider`. In a notebook or on the book's static pages it displays as one
    image and an ``<input type="range">``; moving the slider swaps in the pre-rendered frame of
    that value with a few lines of JavaScript, so it needs no running kernel (unlike ipywidgets)
    and adds no JavaScript library to the page.

    Attributes:
        values: the parameter values, one per frame.
        frames: the PNG bytes of each frame.
        label: the parameter's name shown beside the slider.
        start: index of the frame shown first.
    """

    _ids = itertools.count()

    def __init__(self, values: list, frames: list[bytes], label: str, texts: list[str],
                 start: int) -> None:
        self.values = values
        self.frames = frames
        self.label = label
        self.texts = texts
        self.start = start
        self.id = f"dlcore-slider-{next(Slider._ids)}"

    def __len__(self) -> int:
        return len(self.frames)

    def __repr__(self) -> str:
        # the text form a notebook stores next to the HTML: no memory address, so the same run
        # gives the same output
        return (f"<dlcore.plot.Slider {self.label!r}: {len(self.frames)} frames, "
                f"{self.texts[0]} … {self.texts[-1]}>")

    def _repr_html_(self) -> str:
        uid = self.id
        urls = ",".join(f'"data:image/png;base64,{base64.b64encode(f).decode()}"'
                        for f in self.frames)
        texts = json.dumps(self.texts).replace("</", "<\\/")
        last = len(self.frames) - 1
        first = html.escape(self.texts[self.start])
        return (
            f'<div class="dlcore-slider" id="{uid}">'
            f'<img id="{uid}-img" src="data:image/png;base64,'
            f'{base64.b64encode(self.frames[self.start]).decode()}" '
            f'alt="{html.escape(self.label)} = {first}" '
            'style="max-width:100%;height:auto;display:block"/>'
            f'<label for="{uid}-range" style="font-family:sans-serif;font-size:0.9em">'
            f'{html.escape(self.label)} = <output id="{uid}-out">{first}'
            '</output></label> '
            f'<input type="range" id="{uid}-range" min="0" max="{last}" step="1" '
            f'value="{self.start}" style="width:60%;vertical-align:middle"/>'
            "<script>(function(){"
            f"var f=[{urls}],t={texts};"
            f'var r=document.getElementById("{uid}-range"),'
            f'i=document.getElementById("{uid}-img"),o=document.getElementById("{uid}-out");'
            "r.addEventListener('input',function(){var k=+r.value;i.src=f[k];o.textContent=t[k];"
            "i.alt=i.alt.split(' = ')[0]+' = '+t[k];});"
            "})();</script></div>"
        )


def slider(draw: Callable[[object], object], values: Sequence, *, label: str,
           fmt: str = "{:.3g}", start: int = 0, dpi: int = 90) -> Slider:
    """A figure with a slider over ``values`` that works on a static page.

    ``draw(value)`` is called once per value and must return a matplotlib Figure (made with
    :func:`figure`); each figure is rendered to PNG and closed. The returned :class:`Slider`
    displays as the first frame and a slider; moving it shows the frame of each value.

    Args:
        draw: function of one parameter value returning a :class:`matplotlib.figure.Figure`.
        values: the parameter values, 2 to 60 of them (each frame is stored in the page).
        label: the parameter's name, shown beside the slider.
        fmt: format of a value in the label, ``fmt.format(value)``.
        start: index of the frame shown first.
        dpi: resolution of the frames.

    Returns:
        A :class:`Slider`; make it the last expression of a cell to display it.

    Examples:
        >>> def draw(a):
        ...     fig, ax = figure(width=3, height=2)
        ...     ax.plot([0, 1], [0, a])
        ...     return fig
        >>> s = slider(draw, [0.5, 1.0, 2.0], label="slope")
        >>> len(s), s.texts
        (3, ['0.5', '1', '2'])
        >>> 'type="range"' in s._repr_html_()
        True
    """
    if not callable(draw):
        raise ValueError(f"`draw` must be a function of one value returning a Figure, "
                         f"got {type(draw).__name__}")
    if isinstance(values, (str, bytes)) or not isinstance(values, Sequence):
        raise ValueError(f"`values` must be a sequence of parameter values, "
                         f"got {type(values).__name__}")
    values = list(values)
    if not 2 <= len(values) <= 60:
        raise ValueError(f"`values` must hold 2 to 60 values (every frame is stored in the "
                         f"page), got {len(values)}")
    if not isinstance(label, str) or not label:
        raise ValueError(f"`label` must be a non-empty string, got {label!r}")
    if not isinstance(fmt, str):
        raise ValueError(f"`fmt` must be a format string such as '{{:.3g}}', got {fmt!r}")
    try:
        texts = [fmt.format(v) for v in values]
    except (ValueError, IndexError, KeyError, TypeError) as err:
        raise ValueError(f"`fmt` must format one value, e.g. '{{:.3g}}', got {fmt!r} "
                         f"({err})") from None
    start = _checks.number(start, "start", low=0, high=len(values) - 1, integer=True)
    dpi = _checks.number(dpi, "dpi", low=20, high=300, integer=True)
    import matplotlib.pyplot as plt
    from matplotlib.figure import Figure

    frames = []
    for v in values:
        fig = draw(v)
        if not isinstance(fig, Figure):
            plt.close("all")
            raise ValueError(f"`draw` must return a matplotlib Figure, got "
                             f"{type(fig).__name__} for value {v!r}")
        buf = io.BytesIO()
        fig.savefig(buf, format="png", dpi=dpi)
        plt.close(fig)
        frames.append(buf.getvalue())
    return Slider(values, frames, label, texts, start)
