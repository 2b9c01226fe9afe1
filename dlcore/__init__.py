"""dlcore — the tested code behind *Deep Learning Fundamentals*.

Start every chapter with::

    import dlcore
    device = dlcore.device()   # cuda / mps when present, else cpu
    dlcore.seed(0)

Modules: :mod:`~dlcore.activations`, :mod:`~dlcore.check`, :mod:`~dlcore.data`,
:mod:`~dlcore.train`, :mod:`~dlcore.plot`, :mod:`~dlcore.metrics`, :mod:`~dlcore.networks`,
:mod:`~dlcore.layers`, :mod:`~dlcore.losses`, :mod:`~dlcore.regularization`,
:mod:`~dlcore.ensembles`, :mod:`~dlcore.practice`,
:mod:`~dlcore.optim`, :mod:`~dlcore.schedules`, :mod:`~dlcore.stats`.
"""

from dlcore import (
    activations,
    check,
    data,
    ensembles,
    layers,
    losses,
    metrics,
    networks,
    optim,
    plot,
    practice,
    regularization,
    schedules,
    stats,
    train,
)
from dlcore.runtime import describe, device, seed, use_threads

__all__ = [
    "activations", "check", "data", "describe", "device", "ensembles", "layers", "losses",
    "metrics", "networks", "optim", "plot", "practice", "regularization", "schedules", "seed",
    "stats", "train", "use_threads",
]
__version__ = "0.1.0"
