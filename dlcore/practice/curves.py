"""Learning curves against the training-set size and the diagnosis they support."""

from __future__ import annotations

__all__: list[str] = []
