"""(being written: issue 10)"""

from __future__ import annotations

__all__: list[str] = []
