"""Input validation shared by every public dlcore function.

Each helper raises :class:`ValueError` (or :class:`TypeError` for a value of the wrong Python
type) whose message names the argument, says what was expected and shows what came, e.g.
"`preds` and `target` must have the same shape, got (8, 3) and (8,)". User input is never
checked with ``assert``.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

import torch


def tensor(x, name: str, *, floating: bool = False, allow_empty: bool = False) -> torch.Tensor:
    """Return ``x`` if it is a tensor of the required kind, else raise naming ``name``."""
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"`{name}` must be a torch.Tensor, got {type(x).__name__}")
    if floating and not x.is_floating_point():
        raise ValueError(f"`{name}` must have a floating-point dtype, got {x.dtype}")
    if not allow_empty and x.numel() == 0:
        raise ValueError(f"`{name}` must not be empty, got shape {tuple(x.shape)}")
    return x


def no_nan(x: torch.Tensor, name: str) -> torch.Tensor:
    """Raise if a floating tensor holds NaN (inf is allowed: it has a meaning for activations)."""
    if x.is_floating_point() and bool(torch.isnan(x).any()):
        count = int(torch.isnan(x).sum())
        raise ValueError(f"`{name}` must not contain NaN, got {count} NaN value(s)")
    return x


def same_shape(a: torch.Tensor, b: torch.Tensor, name_a: str, name_b: str) -> None:
    """Raise unless two tensors have the same shape."""
    if a.shape != b.shape:
        raise ValueError(
            f"`{name_a}` and `{name_b}` must have the same shape, "
            f"got {tuple(a.shape)} and {tuple(b.shape)}"
        )


def ndim(x: torch.Tensor, name: str, allowed: Iterable[int]) -> None:
    """Raise unless ``x.ndim`` is one of ``allowed``."""
    allowed = tuple(allowed)
    if x.ndim not in allowed:
        want = " or ".join(str(d) for d in allowed)
        raise ValueError(f"`{name}` must be {want}-dimensional, got shape {tuple(x.shape)}")


def dim_index(dim, x: torch.Tensor, name: str = "dim") -> int:
    """Return ``dim`` as a non-negative axis of ``x``, or raise."""
    if isinstance(dim, bool) or not isinstance(dim, int):
        raise TypeError(f"`{name}` must be an int, got {type(dim).__name__}")
    if not -max(x.ndim, 1) <= dim < max(x.ndim, 1):
        raise ValueError(
            f"`{name}` must be in [{-max(x.ndim, 1)}, {max(x.ndim, 1) - 1}] for a "
            f"{x.ndim}-d input, got {dim}"
        )
    return dim % max(x.ndim, 1)


def number(value, name: str, *, low=None, high=None, low_open=False, high_open=False,
           integer: bool = False) -> float:
    """Return ``value`` if it is a finite real number inside the given bounds, else raise.

    ``low_open``/``high_open`` make the bound strict: ``number(lr, "lr", low=0, low_open=True)``
    accepts only ``lr > 0``.
    """
    kinds = (int,) if integer else (int, float)
    if isinstance(value, bool) or not isinstance(value, kinds):
        want = "an int" if integer else "a real number"
        raise TypeError(f"`{name}` must be {want}, got {type(value).__name__} {value!r}")
    if not math.isfinite(value):
        raise ValueError(f"`{name}` must be finite, got {value}")
    if low is not None and (value < low or (low_open and value == low)):
        op = ">" if low_open else ">="
        raise ValueError(f"`{name}` must be {op} {low}, got {value}")
    if high is not None and (value > high or (high_open and value == high)):
        op = "<" if high_open else "<="
        raise ValueError(f"`{name}` must be {op} {high}, got {value}")
    return value


def choice(value, name: str, allowed: Iterable) -> object:
    """Return ``value`` if it is one of ``allowed``, else raise listing them."""
    allowed = tuple(allowed)
    if value not in allowed:
        raise ValueError(f"`{name}` must be one of {allowed}, got {value!r}")
    return value


def flag(value, name: str) -> bool:
    """Return ``value`` if it is a ``bool``, else raise ``TypeError`` naming ``name``.

    ``nesterov=1`` or ``amsgrad="yes"`` are almost always mistakes, so only real booleans pass.
    """
    if not isinstance(value, bool):
        raise TypeError(f"`{name}` must be a bool, got {type(value).__name__} {value!r}")
    return value


def dense(x: torch.Tensor, name: str) -> torch.Tensor:
    """Raise unless ``x`` has the ordinary strided (dense) layout, e.g. not a sparse gradient."""
    if x.layout != torch.strided:
        raise ValueError(f"`{name}` must be a dense (strided) tensor, got layout {x.layout}")
    return x


def real(x: torch.Tensor, name: str) -> torch.Tensor:
    """Raise unless ``x`` holds real numbers (a bool, integer or floating dtype)."""
    if x.is_complex():
        raise ValueError(f"`{name}` must hold real numbers, got {x.dtype}")
    return x


def finite(x: torch.Tensor, name: str) -> torch.Tensor:
    """Raise if a floating tensor holds NaN or ±inf, counting each kind."""
    # Fast path: a sum is finite whenever every term is, and it is one reduction with no
    # boolean temporary; only when it is not (NaN, inf, or overflow) do the elementwise tests run.
    if not x.is_floating_point() or x.numel() == 0 or bool(torch.isfinite(x.sum())):
        return x
    n_nan, n_inf = int(torch.isnan(x).sum()), int(torch.isinf(x).sum())
    if n_nan or n_inf:
        raise ValueError(
            f"`{name}` must be finite, got {n_nan} NaN and {n_inf} infinite value(s)"
        )
    return x


def _label_range(x: torch.Tensor, name: str, high, want: str) -> torch.Tensor:
    if x.is_floating_point() or x.is_complex():
        raise ValueError(
            f"`{name}` must hold integer class labels (an integer or bool dtype), got {x.dtype}"
        )
    if x.numel() == 0:
        return x
    # aminmax has no bool kernel; uint8 holds the same 0/1 values
    lo, hi = (int(v) for v in torch.aminmax(x.to(torch.uint8) if x.dtype == torch.bool else x))
    if lo < 0 or (high is not None and hi >= high):
        raise ValueError(f"`{name}` must hold {want}, got values in [{lo}, {hi}]")
    return x


def labels(x: torch.Tensor, name: str, num_classes: int | None = None) -> torch.Tensor:
    """Raise unless ``x`` holds integer class labels in ``[0, num_classes)`` (``>= 0`` if None)."""
    want = "labels >= 0" if num_classes is None else f"labels in [0, {num_classes})"
    return _label_range(x, name, num_classes, want)


def binary_labels(x: torch.Tensor, name: str) -> torch.Tensor:
    """Raise unless ``x`` holds binary labels, integers in ``{0, 1}`` (or bool)."""
    return _label_range(x, name, 2, "binary labels in {0, 1}")


def boxes(x, name: str) -> torch.Tensor:
    """Raise unless ``x`` is an ``(N, 4)`` tensor of finite ``(x1, y1, x2, y2)`` boxes.

    ``N = 0`` is allowed: an image may hold no box. A box needs ``x2 >= x1`` and ``y2 >= y1``.
    """
    tensor(x, name, allow_empty=True)
    if x.ndim != 2 or x.shape[1] != 4:
        raise ValueError(f"`{name}` must have shape (N, 4), got {tuple(x.shape)}")
    finite(real(x, name), name)
    bad = ((x[:, 2] < x[:, 0]) | (x[:, 3] < x[:, 1])).nonzero().flatten()
    if bad.numel():
        i = int(bad[0])
        raise ValueError(
            f"`{name}` must hold (x1, y1, x2, y2) boxes with x2 >= x1 and y2 >= y1, got "
            f"{bad.numel()} bad row(s), the first is row {i}: {x[i].tolist()}"
        )
    return x
