"""Driving a :class:`torch.optim.Optimizer` with a schedule of this package."""

from __future__ import annotations

from collections.abc import Callable

import torch


def lambda_lr(optimizer: torch.optim.Optimizer, schedule: Callable[..., float],
              **kwargs) -> torch.optim.lr_scheduler.LambdaLR:
    r"""Drive ``optimizer`` with a schedule from this module through a ``LambdaLR``.

    ``LambdaLR`` sets each group's rate to ``initial_lr * factor(t)``, where ``initial_lr`` is
    the group's rate when the scheduler is created. The factor given to it is therefore
    ``schedule(t, **kwargs) / initial_lr``, so every group's rate is ``schedule(t, **kwargs)``
    (up to one rounding), whatever rate the optimizer was created with.

    Args:
        optimizer: any :class:`torch.optim.Optimizer` (the ones of :mod:`dlcore.optim` too);
            every group must have a non-zero initial rate.
        schedule: one of this module's functions (or any ``f(t, **kwargs) -> float``).
        **kwargs: its hyperparameters, e.g. ``base_lr=0.1, total_steps=100``. They are checked
            now, by evaluating ``schedule(0, **kwargs)``.

    Returns:
        A :class:`torch.optim.lr_scheduler.LambdaLR`. Call ``scheduler.step()`` after each
        ``optimizer.step()``; step :math:`t` of the optimizer (counting from 0) then uses
        ``schedule(t, **kwargs)``.

    Notes:
        All groups follow the same schedule. For per-group rates build the ``LambdaLR``
        yourself with one factor function per group.

    Examples:
        >>> from dlcore.schedules import step_decay
        >>> w = torch.zeros(1, requires_grad=True)
        >>> opt = torch.optim.SGD([w], lr=123.0)
        >>> sched = lambda_lr(opt, step_decay, base_lr=0.1, step_size=2)
        >>> lrs = []
        >>> for _ in range(5):
        ...     lrs.append(round(opt.param_groups[0]["lr"], 12))
        ...     opt.step()
        ...     sched.step()
        >>> lrs
        [0.1, 0.1, 0.01, 0.01, 0.001]
    """
    if not isinstance(optimizer, torch.optim.Optimizer):
        raise TypeError(
            f"`optimizer` must be a torch.optim.Optimizer, got {type(optimizer).__name__}")
    if not callable(schedule):
        raise TypeError(f"`schedule` must be callable, got {type(schedule).__name__}")
    schedule(0, **kwargs)  # bad hyperparameters fail here, not at the first scheduler step
    factors = []
    for i, group in enumerate(optimizer.param_groups):
        # LambdaLR keeps an existing "initial_lr" (a resumed run), else takes the current lr
        initial_lr = group.get("initial_lr", group["lr"])
        if not isinstance(initial_lr, (int, float)) or initial_lr == 0:
            raise ValueError(
                f"`optimizer` param_groups[{i}] must have a non-zero float learning rate to be "
                f"rescaled by LambdaLR, got {initial_lr!r}")
        factors.append(lambda t, lr0=initial_lr: schedule(t, **kwargs) / lr0)
    return torch.optim.lr_scheduler.LambdaLR(optimizer, factors)
