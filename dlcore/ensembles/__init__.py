r"""Ensembles of the chapter *Ensembles*: members are stacked along the first dimension.

* :mod:`~dlcore.ensembles.combine` — probability averaging, weights fitted on validation data,
  rank averaging, hard voting, out-of-fold predictions and stacking;
* :mod:`~dlcore.ensembles.averaging` — ensembles from one training run: the snapshot
  schedule and stochastic weight averaging, equal to ``torch.optim.swa_utils``;
* :mod:`~dlcore.ensembles.exits` — multi-exit (early-exit) networks.

Every public name is importable from ``dlcore.ensembles`` itself.
"""

from __future__ import annotations

from dlcore.ensembles import averaging as _averaging
from dlcore.ensembles import combine as _combine
from dlcore.ensembles import exits as _exits
from dlcore.ensembles.averaging import *  # noqa: F403
from dlcore.ensembles.combine import *  # noqa: F403
from dlcore.ensembles.exits import *  # noqa: F403

__all__ = [*_combine.__all__, *_averaging.__all__, *_exits.__all__]
