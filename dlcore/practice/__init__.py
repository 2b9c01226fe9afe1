r"""Tools of the chapter *Training practice*: checks and measurements for a model that does
not train, does not generalize or does not transfer.

* :mod:`~dlcore.practice.sanity` — sanity checks before training (Karpathy's recipe) in one
  readable report;
* :mod:`~dlcore.practice.curves` — learning curves against the training-set size;
* :mod:`~dlcore.practice.search` — the learning-rate range test, random and grid search;
* :mod:`~dlcore.practice.transfer` — freezing, re-initialising and per-group learning rates for
  fine-tuning, and two-stage training of imbalanced data.

Every public name is importable from ``dlcore.practice`` itself.
"""

from __future__ import annotations

from dlcore.practice import curves as _curves
from dlcore.practice import sanity as _sanity
from dlcore.practice import search as _search
from dlcore.practice import transfer as _transfer
from dlcore.practice.curves import *  # noqa: F403
from dlcore.practice.sanity import *  # noqa: F403
from dlcore.practice.search import *  # noqa: F403
from dlcore.practice.transfer import *  # noqa: F403

__all__ = [*_sanity.__all__, *_curves.__all__, *_search.__all__, *_transfer.__all__]
