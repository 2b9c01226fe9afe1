"""Sanity checks to run before training: the loss at initialization, one batch overfitted,
per-layer gradient norms, an input-independent baseline and a summary of the data the model
sees."""

from __future__ import annotations

__all__: list[str] = []
