r"""Ensembles from one training budget: cyclic schedules that collect members, weight averaging.

* :func:`snapshot_lr` — the cyclic cosine schedule of snapshot ensembles (Huang et al. 2017);
  a member is saved at the end of each cycle, where the rate reaches (almost) zero;
* :func:`fge_lr` — the triangular cycle of fast geometric ensembling (Garipov et al. 2018); a
  member is saved in the middle of each cycle, where the rate is lowest;
* :class:`SWA`, :func:`update_bn`, :func:`swalr` — stochastic weight averaging (Izmailov et al.
  2018): a running mean of the weights, the batch-norm statistics recomputed for it, and the
  per-epoch learning rate of ``torch.optim.swa_utils.SWALR``. They equal
  ``torch.optim.swa_utils.AveragedModel``, ``update_bn`` and ``SWALR``.

The schedules are pure functions of the 0-based step ``t`` like those of
:mod:`dlcore.schedules`, so they can be passed to :func:`dlcore.train.fit` as
``schedule=functools.partial(snapshot_lr, base_lr=0.1, total_steps=T, cycles=M)``.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Iterable

import torch
from torch import nn

from dlcore import _checks

__all__ = ["snapshot_lr", "fge_lr", "swalr", "SWA", "update_bn"]


def _step(t) -> int:
    return _checks.number(t, "t", low=0, integer=True)


def snapshot_lr(t: int, *, base_lr: float, total_steps: int, cycles: int) -> float:
    r"""The learning rate of step ``t`` in a snapshot ensemble (Huang et al. 2017, eq. 2).

    .. math::
        \alpha(t) = \frac{\alpha_0}{2}\left(\cos\!\Big(\frac{\pi\,
        \operatorname{mod}(t,\ \lceil T/M\rceil)}{\lceil T/M\rceil}\Big) + 1\right)

    with :math:`T` the total number of steps and :math:`M` the number of cycles. The paper
    counts iterations from 1 and writes :math:`\operatorname{mod}(t - 1, \lceil T/M\rceil)`;
    with the 0-based step of :mod:`dlcore.schedules` the shift disappears: the first step of
    every cycle (:math:`t = 0, \lceil T/M\rceil, 2\lceil T/M\rceil, \dots`) has the full rate
    :math:`\alpha_0`, and the last step of a cycle the smallest,
    :math:`\frac{\alpha_0}{2}(1 + \cos(\pi(c - 1)/c))` with :math:`c = \lceil T/M\rceil`.
    The snapshot is taken after that last step.

    Args:
        t: step :math:`t \ge 0` (0-based).
        base_lr: :math:`\alpha_0 \ge 0`, the rate at each restart.
        total_steps: :math:`T \ge 1`, the training budget in steps.
        cycles: :math:`1 \le M \le T`, the number of snapshots.

    Returns:
        float: :math:`\alpha(t)`.

    Notes:
        With :math:`M = 1` this is :func:`dlcore.schedules.cosine_decay` (without warm-up)
        for :math:`t < T`; with :math:`T` a multiple of :math:`M` it is
        :func:`dlcore.schedules.cosine_restarts` with period :math:`T/M`. When :math:`M`
        does not divide :math:`T` the last cycle is cut short, as in the paper's formula.

    References:
        Huang, Li, Pleiss, Liu, Hopcroft and Weinberger, *Snapshot Ensembles: Train 1, get M
        for free*, ICLR 2017.

    Examples:
        >>> [round(snapshot_lr(t, base_lr=1.0, total_steps=8, cycles=2), 3) for t in range(8)]
        [1.0, 0.854, 0.5, 0.146, 1.0, 0.854, 0.5, 0.146]
    """
    t = _step(t)
    _checks.number(base_lr, "base_lr", low=0)
    total_steps = _checks.number(total_steps, "total_steps", low=1, integer=True)
    cycles = _checks.number(cycles, "cycles", low=1, high=total_steps, integer=True)
    period = math.ceil(total_steps / cycles)
    return base_lr / 2 * (math.cos(math.pi * (t % period) / period) + 1)


def fge_lr(t: int, *, lr_max: float, lr_min: float, cycle: int) -> float:
    r"""The triangular learning-rate cycle of fast geometric ensembling (Garipov et al. 2018).

    .. math::
        \tau(t) = \frac{\operatorname{mod}(t, c) + 1}{c},\qquad
        \alpha(t) = \begin{cases}
          (1 - 2\tau)\,\alpha_1 + 2\tau\,\alpha_2 & 0 < \tau \le \tfrac12 \\
          (2 - 2\tau)\,\alpha_2 + (2\tau - 1)\,\alpha_1 & \tfrac12 < \tau \le 1
        \end{cases}

    The paper counts iterations :math:`i` from 1 and writes
    :math:`\tau = (\operatorname{mod}(i - 1, c) + 1)/c`; with the 0-based step
    :math:`t = i - 1` it is the formula above. The rate falls linearly from
    :math:`\alpha_1` to :math:`\alpha_2` in the first half of each cycle of :math:`c` steps
    and climbs back in the second half; a member is collected after the middle step
    (:math:`\tau = 1/2`, rate :math:`\alpha_2`), i.e. after step
    :math:`t = c/2 - 1, 3c/2 - 1, \dots`.

    Args:
        t: step :math:`t \ge 0` (0-based).
        lr_max: :math:`\alpha_1 \ge \alpha_2`, the rate at the ends of a cycle.
        lr_min: :math:`0 \le \alpha_2`, the rate in the middle of a cycle.
        cycle: :math:`c`, an even number of steps :math:`\ge 2` (the paper: 2–4 epochs).

    Returns:
        float: :math:`\alpha(t)`.

    References:
        Garipov, Izmailov, Podoprikhin, Vetrov and Wilson, *Loss Surfaces, Mode Connectivity,
        and Fast Ensembling of DNNs*, NeurIPS 2018, eq. (3) and Section 4.

    Examples:
        >>> [fge_lr(t, lr_max=1.0, lr_min=0.0, cycle=4) for t in range(6)]
        [0.5, 0.0, 0.5, 1.0, 0.5, 0.0]
    """
    t = _step(t)
    _checks.number(lr_min, "lr_min", low=0)
    _checks.number(lr_max, "lr_max", low=lr_min)
    cycle = _checks.number(cycle, "cycle", low=2, integer=True)
    if cycle % 2:
        raise ValueError(f"`cycle` must be even (a member is taken at its middle), got {cycle}")
    tau = (t % cycle + 1) / cycle
    if tau <= 0.5:
        return (1 - 2 * tau) * lr_max + 2 * tau * lr_min
    return (2 - 2 * tau) * lr_min + (2 * tau - 1) * lr_max


def swalr(epoch: int, *, base_lr: float, swa_lr: float, anneal_epochs: int = 10,
          anneal_strategy: str = "cos") -> float:
    r"""The rate after ``epoch`` calls of ``torch.optim.swa_utils.SWALR.step()``.

    .. math::
        \eta_k = \eta_{\text{swa}}\, a(s) + \eta_0\,(1 - a(s)),\qquad
        s = \min\!\Big(1, \frac{k}{\max(1, K)}\Big),\qquad
        a(s) = \begin{cases} \frac{1 - \cos(\pi s)}{2} & \text{cos} \\ s & \text{linear}
        \end{cases}

    from the optimizer's rate :math:`\eta_0` to :math:`\eta_{\text{swa}}` in :math:`K`
    epochs, then constant; with :math:`K = 0` the rate is :math:`\eta_{\text{swa}}` at once.
    SWALR is stepped once per epoch; :math:`k = 0` is the rate before the first step (the
    rate SWALR's constructor leaves, :math:`\eta_0`, unless :math:`K = 0`).

    Args:
        epoch: :math:`k \ge 0`, scheduler steps taken.
        base_lr: :math:`\eta_0 \ge 0`, the optimizer's rate when SWALR is created.
        swa_lr: :math:`\eta_{\text{swa}} \ge 0`.
        anneal_epochs: :math:`K \ge 0` (default as torch).
        anneal_strategy: ``"cos"`` or ``"linear"``.

    Returns:
        float: :math:`\eta_k`.

    Notes:
        Izmailov et al. use a constant (or cyclical) rate while averaging; SWALR's annealing
        is a convenience to get there from a larger rate. The recursion SWALR writes (it
        reads each group's current rate back) gives this closed form as long as nothing else
        changes the optimizer's rate.

    Examples:
        >>> [swalr(k, base_lr=0.1, swa_lr=0.05, anneal_epochs=2) for k in range(4)]
        [0.1, 0.075, 0.05, 0.05]
    """
    epoch = _checks.number(epoch, "epoch", low=0, integer=True)
    _checks.number(base_lr, "base_lr", low=0)
    _checks.number(swa_lr, "swa_lr", low=0)
    anneal_epochs = _checks.number(anneal_epochs, "anneal_epochs", low=0, integer=True)
    _checks.choice(anneal_strategy, "anneal_strategy", ("cos", "linear"))
    s = 1.0 if anneal_epochs == 0 else min(1.0, epoch / anneal_epochs)
    a = (1 - math.cos(math.pi * s)) / 2 if anneal_strategy == "cos" else s
    return swa_lr * a + base_lr * (1 - a)


class SWA(nn.Module):
    r"""A running equal-weight average of a model's parameters (stochastic weight averaging).

    .. math::
        w_{\text{SWA}} \leftarrow \frac{n\, w_{\text{SWA}} + w}{n + 1}
        = w_{\text{SWA}} + \frac{w - w_{\text{SWA}}}{n + 1}

    (Izmailov et al. 2018, Algorithm 1) after each :meth:`update`, :math:`n` being the number
    of models averaged so far; the first update copies :math:`w`. Buffers (batch-norm
    running statistics) are *copied* from the model at every update by default, as in
    ``AveragedModel(use_buffers=False)``: they then belong to the last iterate, not to the
    averaged weights, and :func:`update_bn` must recompute them before the average is used.
    With ``use_buffers=True`` every buffer is averaged too, the integer batch counter
    included (true division, truncated on the copy back, as torch does on the CPU).

    Args:
        model: the network being trained; a deep copy is kept (``.module``).
        use_buffers: average the buffers as well (default False, as torch).

    Notes:
        Equal to ``torch.optim.swa_utils.AveragedModel(model, use_buffers=...)``: the same
        weights after the same updates (tests/ensembles/test_averaging.py); ``n_averaged``
        is a plain int here. The call runs ``.module``.

    References:
        Izmailov, Podoprikhin, Garipov, Vetrov and Wilson, *Averaging Weights Leads to Wider
        Optima and Better Generalization*, UAI 2018.

    Examples:
        >>> net = nn.Linear(1, 1, bias=False)
        >>> swa = SWA(net)
        >>> for w in (1.0, 2.0, 6.0):
        ...     _ = net.weight.data.fill_(w)
        ...     swa.update(net)
        >>> swa.n_averaged, swa.module.weight.item()
        (3, 3.0)
    """

    def __init__(self, model: torch.nn.Module, *, use_buffers: bool = False) -> None:
        super().__init__()
        if not isinstance(model, nn.Module):
            raise TypeError(f"`model` must be a torch.nn.Module, got {type(model).__name__}")
        self.module = copy.deepcopy(model)
        self.use_buffers = _checks.flag(use_buffers, "use_buffers")
        self.n_averaged = 0

    def forward(self, *args, **kwargs):
        """Run the averaged network ``.module`` on the arguments."""
        return self.module(*args, **kwargs)

    @torch.no_grad()
    def update(self, model: torch.nn.Module) -> None:
        """Add ``model``'s current weights to the average (same architecture as ``.module``)."""
        if not isinstance(model, nn.Module):
            raise TypeError(f"`model` must be a torch.nn.Module, got {type(model).__name__}")
        mine = list(self.module.parameters())
        theirs = list(model.parameters())
        if [p.shape for p in mine] != [p.shape for p in theirs]:
            raise ValueError("`model` must have the parameter shapes of the averaged model, "
                             f"got {[tuple(p.shape) for p in theirs]}, expected "
                             f"{[tuple(p.shape) for p in mine]}")
        pairs = list(zip(mine, theirs, strict=True))
        buffers = list(zip(self.module.buffers(), model.buffers(), strict=True))
        if self.use_buffers:
            pairs += buffers
        for avg, new in pairs:
            new = new.detach().to(avg.device)
            # w_swa + (w - w_swa) / (n + 1); n = 0 copies w
            avg.copy_(new if self.n_averaged == 0 else avg + (new - avg) / (self.n_averaged + 1))
        if not self.use_buffers:
            for avg, new in buffers:
                avg.copy_(new.detach().to(avg.device))
        self.n_averaged += 1


@torch.no_grad()
def update_bn(batches: torch.Tensor | Iterable, model: torch.nn.Module, *,
              batch_size: int | None = None) -> None:
    r"""Recompute every batch-norm layer's running statistics with one pass over the data.

    Each ``_BatchNorm`` layer's running mean and variance are reset and re-estimated as the
    *equal-weight* mean over the batches (``momentum=None``, a cumulative average) of the
    batch means and unbiased batch variances, in training mode; then momentum and mode are
    restored. The weights of a stochastic weight average were never the weights of a
    training step, so the statistics the layers collected during training describe other
    weights; without this pass the averaged network is evaluated with wrong normalisation.

    Args:
        batches: a tensor of inputs, cut into consecutive batches of ``batch_size`` rows
            (default: one batch), or an iterable of batches, each a tensor or a tuple/list
            whose first element is the input (a ``DataLoader`` over ``(X, y)``, as torch).
        model: the network (e.g. :class:`SWA`); changed in place. Nothing happens if it has
            no batch-norm layer.
        batch_size: rows per batch when ``batches`` is a tensor.

    Notes:
        Equal to ``torch.optim.swa_utils.update_bn(loader, model)`` with a loader giving the
        same batches in the same order. The result depends on the batching (the mean of
        per-batch variances is not the variance of the whole set); use the batch size of
        training.

    Examples:
        >>> net = nn.Sequential(nn.Linear(2, 2), nn.BatchNorm1d(2))
        >>> X = torch.randn(16, 2)
        >>> update_bn(X, net, batch_size=8)
        >>> int(net[1].num_batches_tracked)
        2
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"`model` must be a torch.nn.Module, got {type(model).__name__}")
    if isinstance(batches, torch.Tensor):
        _checks.tensor(batches, "batches")
        size = len(batches) if batch_size is None else _checks.number(
            batch_size, "batch_size", low=1, integer=True)
        batches = batches.split(size)
    elif batch_size is not None:
        raise ValueError(f"`batch_size` applies only when `batches` is a tensor, got "
                         f"batch_size={batch_size} with a {type(batches).__name__}")
    momenta = {m: m.momentum for m in model.modules()
               if isinstance(m, nn.modules.batchnorm._BatchNorm)}
    if not momenta:
        return
    for m in momenta:
        m.reset_running_stats()
        m.momentum = None  # cumulative average over the pass
    was_training = model.training
    model.train()
    for batch in batches:
        model(batch[0] if isinstance(batch, (list, tuple)) else batch)
    for m, momentum in momenta.items():
        m.momentum = momentum
    model.train(was_training)
