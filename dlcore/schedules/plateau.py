r"""Reduce the rate when a metric stops improving (``ReduceLROnPlateau``).

This is the one schedule of the package that is not a function of the step: the rate depends
on the history of a monitored metric (a validation loss, say), so it needs state. The class
:class:`ReduceOnPlateau` holds that state and nothing else; :func:`reduce_on_plateau` maps a
whole metric history to the rates, a pure function of the history.
"""

from __future__ import annotations

import math

from dlcore import _checks


class ReduceOnPlateau:
    r"""Multiply the rate by ``factor`` after ``patience`` epochs without improvement.

    Call :meth:`step` once per epoch with the monitored metric; it returns the rate for the
    next epoch. The rules are PyTorch's ``ReduceLROnPlateau``, and the rates equal its
    ``param_groups[0]["lr"]`` after every ``step`` (tested):

    * a value :math:`a` *improves* on the best so far :math:`b` when, for ``mode="min"``,
      :math:`a < b(1 - \tau)` (``threshold_mode="rel"``, the default) or :math:`a < b - \tau`
      (``"abs"``); for ``mode="max"``, :math:`a > b(1 + \tau)` or :math:`a > b + \tau`;
    * an improvement resets the count of bad epochs, anything else adds one;
    * during the ``cooldown`` epochs after a reduction bad epochs are not counted;
    * when the count exceeds ``patience`` the rate becomes :math:`\max(\eta\,f,
      \eta_{\min})`, unless that changes it by no more than ``eps``.

    Args:
        lr: the starting rate :math:`\eta \ge 0`.
        mode: ``"min"`` (a loss) or ``"max"`` (an accuracy).
        factor: :math:`0 < f < 1` (default 0.1).
        patience: bad epochs tolerated before a reduction (default 10).
        threshold: :math:`\tau \ge 0` (default 1e-4, *relative*: a loss must fall by 0.01 %).
        threshold_mode: ``"rel"`` or ``"abs"``.
        cooldown: epochs after a reduction during which bad epochs are ignored (default 0).
        min_lr: the floor :math:`\eta_{\min} \ge 0` (default 0).
        eps: the smallest change of the rate that is applied (default 1e-8).

    Notes:
        One rate only; PyTorch's class adjusts every parameter group (each by the same rule,
        with its own ``min_lr``). With ``threshold_mode="rel"`` and ``mode="min"`` a negative
        metric is compared with :math:`b(1 - \tau)`, which is *above* :math:`b`, as in PyTorch.

    Examples:
        >>> sched = ReduceOnPlateau(1.0, patience=1, factor=0.5)
        >>> [sched.step(loss) for loss in [3.0, 2.0, 2.0, 2.0, 2.0, 1.0]]
        [1.0, 1.0, 1.0, 0.5, 0.5, 0.5]
    """

    def __init__(self, lr: float, *, mode: str = "min", factor: float = 0.1,
                 patience: int = 10, threshold: float = 1e-4, threshold_mode: str = "rel",
                 cooldown: int = 0, min_lr: float = 0.0, eps: float = 1e-8) -> None:
        self.lr = float(_checks.number(lr, "lr", low=0))
        self.mode = _checks.choice(mode, "mode", ("min", "max"))
        self.factor = _checks.number(factor, "factor", low=0, high=1, low_open=True,
                                     high_open=True)
        self.patience = _checks.number(patience, "patience", low=0, integer=True)
        self.threshold = _checks.number(threshold, "threshold", low=0)
        self.threshold_mode = _checks.choice(threshold_mode, "threshold_mode", ("rel", "abs"))
        self.cooldown = _checks.number(cooldown, "cooldown", low=0, integer=True)
        self.min_lr = _checks.number(min_lr, "min_lr", low=0)
        self.eps = _checks.number(eps, "eps", low=0)
        self.best = math.inf if mode == "min" else -math.inf
        self.num_bad_epochs = 0
        self.cooldown_counter = 0

    def improves(self, a: float) -> bool:
        """Whether the metric value ``a`` counts as better than the best so far."""
        tau, best = self.threshold, self.best
        if self.mode == "min":
            return a < (best * (1 - tau) if self.threshold_mode == "rel" else best - tau)
        return a > (best * (1 + tau) if self.threshold_mode == "rel" else best + tau)

    def step(self, metric: float) -> float:
        """Record one epoch's ``metric`` (a finite number) and return the rate to use next."""
        metric = float(_checks.number(metric, "metric"))
        if self.improves(metric):
            self.best, self.num_bad_epochs = metric, 0
        else:
            self.num_bad_epochs += 1
        if self.cooldown_counter > 0:  # in cooldown: bad epochs are not counted
            self.cooldown_counter -= 1
            self.num_bad_epochs = 0
        if self.num_bad_epochs > self.patience:
            new_lr = max(self.lr * self.factor, self.min_lr)
            if self.lr - new_lr > self.eps:
                self.lr = new_lr
            self.cooldown_counter, self.num_bad_epochs = self.cooldown, 0
        return self.lr


def reduce_on_plateau(metrics, *, lr: float, **kwargs) -> list[float]:
    r"""The rates that :class:`ReduceOnPlateau` gives after each value of ``metrics``.

    Element :math:`i` of the result is the rate for epoch :math:`i + 1`, decided after seeing
    ``metrics[: i + 1]``; epoch 0 runs at ``lr``.

    Args:
        metrics: the monitored values, one per epoch (a sequence of finite numbers).
        lr: the starting rate.
        **kwargs: the keyword arguments of :class:`ReduceOnPlateau` (``mode``, ``factor``,
            ``patience``, ``threshold``, ``threshold_mode``, ``cooldown``, ``min_lr``, ``eps``).

    Examples:
        >>> reduce_on_plateau([1.0, 1.0, 1.0, 1.0], lr=1.0, patience=1, factor=0.5)
        [1.0, 1.0, 0.5, 0.5]
    """
    if isinstance(metrics, (str, bytes)) or not hasattr(metrics, "__iter__"):
        raise TypeError(f"`metrics` must be a sequence of numbers, got {type(metrics).__name__}")
    sched = ReduceOnPlateau(lr, **kwargs)
    return [sched.step(m) for m in metrics]
