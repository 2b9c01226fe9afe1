"""Placeholder: written by the chapter *Regularization* (issue 12)."""

from __future__ import annotations

__all__: list[str] = []
