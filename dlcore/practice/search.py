"""The learning-rate range test, random and grid search over hyperparameters."""

from __future__ import annotations

__all__: list[str] = []
