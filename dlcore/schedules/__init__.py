r"""Learning-rate schedules as pure functions of the step ``t``.

Each schedule maps a step :math:`t = 0, 1, 2, \dots` (the number of optimizer steps already
taken) to the learning rate of the next step, with keyword-only, validated hyperparameters and
no hidden state, in the manner of timm's schedulers. Plotting one is ``[f(t, **kw) for t in
range(n)]``; driving an optimizer is :func:`lambda_lr`.

Where PyTorch has the same schedule, the values equal its scheduler's ``param_groups[0]["lr"]``
at every step (tested): :func:`step_decay` = ``StepLR``, :func:`exponential_decay` =
``ExponentialLR``, :func:`linear_warmup` = ``LinearLR``, :func:`cosine_decay` =
``CosineAnnealingLR`` (for :math:`t \le` ``total_steps``), :func:`cosine_restarts` =
``CosineAnnealingWarmRestarts``, :func:`multistep_decay` = ``MultiStepLR``,
:func:`triangular` = ``CyclicLR(mode="triangular", cycle_momentum=False)``,
:func:`one_cycle` = ``OneCycleLR(cycle_momentum=False)`` (two or three phases, cosine or
linear annealing) and :func:`one_cycle_momentum` = the momentum that
``OneCycleLR`` cycles by default. :class:`ReduceOnPlateau` (``ReduceLROnPlateau``) is the
exception to "a function of t": its rate depends on a monitored metric, so it is a small
stateful class (and :func:`reduce_on_plateau` the pure function of the metric history).
"Equal" means to float rounding: several PyTorch schedulers update the rate recursively
(:math:`\eta_t = \gamma\,\eta_{t-1}`, or ``CosineAnnealingLR``'s ratio of cosines), which
accumulates rounding error that a closed form does not; the tests allow a relative
:math:`10^{-12}`.

All warm-ups here (:func:`cosine_decay`, :func:`inverse_sqrt`, :func:`linear_warmup_decay`)
start from 0 at :math:`t = 0` and reach ``base_lr`` exactly at ``t = warmup_steps``, like
Hugging Face's ``get_*_schedule_with_warmup``; :func:`linear_warmup` follows ``LinearLR`` and
starts from ``start_factor * base_lr``.

One module per kind: ``dlcore.schedules.decay``, ``.warmup``, ``.cyclic``, ``.plateau`` and
``.adapter`` (:func:`lambda_lr`), with ``._common`` for the argument checks; every public name
is importable from ``dlcore.schedules`` itself.
"""

from __future__ import annotations

from dlcore.schedules.adapter import lambda_lr
from dlcore.schedules.cyclic import one_cycle, one_cycle_momentum, triangular
from dlcore.schedules.decay import (
    cosine_decay,
    cosine_restarts,
    exponential_decay,
    multistep_decay,
    step_decay,
)
from dlcore.schedules.plateau import ReduceOnPlateau, reduce_on_plateau
from dlcore.schedules.warmup import inverse_sqrt, linear_warmup, linear_warmup_decay

__all__ = [
    "step_decay", "multistep_decay", "exponential_decay", "linear_warmup", "cosine_decay",
    "cosine_restarts", "inverse_sqrt", "linear_warmup_decay", "triangular", "one_cycle",
    "one_cycle_momentum", "ReduceOnPlateau", "reduce_on_plateau", "lambda_lr",
]
