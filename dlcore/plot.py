"""One look for every figure in the book.

Call :func:`figure` instead of ``plt.subplots``: it applies the book's style (sizes, fonts,
colours, grid) and returns ``(fig, axes)``. :data:`COLORS` is the palette, colour-blind safe
(Okabe & Ito), in the order lines are drawn.
"""

from __future__ import annotations

import matplotlib

from dlcore import _checks

# Okabe–Ito palette: distinguishable with the common forms of colour blindness.
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
    """Apply the book's style to matplotlib (idempotent)."""
    matplotlib.rcParams.update(STYLE)


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
