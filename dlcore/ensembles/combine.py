"""Placeholder: written by the chapter *Ensembles* (issue 13)."""

from __future__ import annotations

__all__: list[str] = []
