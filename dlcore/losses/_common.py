"""The reductions every loss of :mod:`dlcore.losses` shares (torch's ``reduction=``)."""

from __future__ import annotations

import torch

from dlcore import _checks

REDUCTIONS = ("none", "mean", "sum")


def reduction(value) -> str:
    """``value`` if it is one of :data:`REDUCTIONS`, else a ValueError naming ``reduction``."""
    return _checks.choice(value, "reduction", REDUCTIONS)


def reduce(loss: torch.Tensor, reduction: str, denominator=None) -> torch.Tensor:
    """Pointwise ``loss`` as is (``"none"``), summed, or summed and divided by
    ``denominator`` (default: the number of elements) for ``"mean"``."""
    if reduction == "none":
        return loss
    if reduction == "sum":
        return loss.sum()
    return loss.sum() / (loss.numel() if denominator is None else denominator)
