"""Argument checks and the half-cosine shared by the schedules of :mod:`dlcore.schedules`."""

from __future__ import annotations

import math

from dlcore import _checks


def _step(t) -> int:
    return _checks.number(t, "t", low=0, integer=True)


def _lr(value, name: str = "base_lr") -> float:
    return _checks.number(value, name, low=0)


def _count(value, name: str, low: int = 1) -> int:
    return _checks.number(value, name, low=low, integer=True)


def _cosine(progress: float, start: float, end: float) -> float:
    """Half a cosine from ``start`` (progress 0) to ``end`` (progress 1)."""
    return end + (start - end) * (1 + math.cos(math.pi * progress)) / 2



def _linear(progress: float, start: float, end: float) -> float:
    """A straight line from ``start`` (progress 0) to ``end`` (progress 1)."""
    return (end - start) * progress + start
