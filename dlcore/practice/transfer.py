"""Freezing and re-initialising layers, per-group learning rates for fine-tuning, and the
two-stage (decoupled) training of imbalanced data."""

from __future__ import annotations

__all__: list[str] = []
