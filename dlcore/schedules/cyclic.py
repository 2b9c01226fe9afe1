"""Cyclical schedules: Smith's triangular policy and the one-cycle policy."""

from __future__ import annotations

import math

from dlcore import _checks
from dlcore.schedules._common import _cosine, _count, _linear, _lr, _step


def triangular(t: int, *, base_lr: float, max_lr: float, step_size: int) -> float:
    r"""Smith's triangular cyclical learning rate (``CyclicLR(mode="triangular")``).

    .. math::
        c = \Big\lfloor 1 + \frac{t}{2s} \Big\rfloor, \qquad
        x = \Big|\frac{t}{s} - 2c + 1\Big|, \qquad
        \eta_t = \eta_{\text{base}} + (\eta_{\max} - \eta_{\text{base}}) \max(0, 1 - x)

    The rate climbs linearly from ``base_lr`` to ``max_lr`` in :math:`s` steps, falls back in
    :math:`s` steps, and repeats (cycle length :math:`2s`).

    Args:
        t: step :math:`t \ge 0`.
        base_lr: :math:`\eta_{\text{base}} \ge 0`, the lowest rate.
        max_lr: :math:`\eta_{\max} \ge \eta_{\text{base}}`, reached at :math:`t = s, 3s, \dots`.
        step_size: half a cycle, :math:`s \ge 1` (Smith: 2–10 epochs' worth of iterations).

    References:
        Smith, *Cyclical Learning Rates for Training Neural Networks*, WACV 2017.

    Examples:
        >>> [triangular(t, base_lr=0.0, max_lr=1.0, step_size=2) for t in range(6)]
        [0.0, 0.5, 1.0, 0.5, 0.0, 0.5]
    """
    t = _step(t)
    _lr(base_lr)
    _checks.number(max_lr, "max_lr", low=base_lr)
    _count(step_size, "step_size")
    cycle = math.floor(1 + t / (2 * step_size))
    x = abs(t / step_size - 2 * cycle + 1)
    return base_lr + (max_lr - base_lr) * max(0.0, 1 - x)


def _one_cycle_phase(t: int, total_steps: int, pct_start: float,
                     three_phase: bool) -> tuple[int, float]:
    """The phase (0, 1, 2) that step ``t`` lies in and the progress through it, as OneCycleLR."""
    ends = [pct_start * total_steps - 1]
    if three_phase:
        ends.append(2 * pct_start * total_steps - 2)
    ends.append(total_steps - 1.0)
    start = 0.0
    for i, end in enumerate(ends):
        if t <= end or i == len(ends) - 1:
            # where PyTorch would divide by a zero-length phase, return the phase's end value
            return i, (t - start) / (end - start) if end != start else 1.0
        start = end
    raise AssertionError("unreachable")  # pragma: no cover


def _check_one_cycle(t, total_steps, pct_start, anneal_strategy, three_phase):
    t = _step(t)
    total_steps = _count(total_steps, "total_steps")
    _checks.number(pct_start, "pct_start", low=0, high=1)
    _checks.choice(anneal_strategy, "anneal_strategy", ("cos", "linear"))
    _checks.flag(three_phase, "three_phase")
    if t > total_steps:
        raise ValueError(f"`t` must be <= total_steps ({total_steps}), got {t}")
    phase, progress = _one_cycle_phase(t, total_steps, pct_start, three_phase)
    return phase, progress, _cosine if anneal_strategy == "cos" else _linear


def one_cycle(t: int, *, max_lr: float, total_steps: int, pct_start: float = 0.3,
              div_factor: float = 25.0, final_div_factor: float = 1e4,
              anneal_strategy: str = "cos", three_phase: bool = False) -> float:
    r"""The one-cycle policy (``OneCycleLR(cycle_momentum=False)``), two or three phases.

    With :math:`\eta_{\text{init}} = \eta_{\max}/d`, :math:`\eta_{\text{end}} =
    \eta_{\text{init}}/d_f`, peak step :math:`p = \rho T - 1` and an annealing function
    :math:`a(\text{from}, \text{to}, u)`, the half-cosine
    :math:`\text{to} + (\text{from} - \text{to})(1 + \cos \pi u)/2` (``anneal_strategy="cos"``,
    the default) or the line :math:`\text{from} + (\text{to} - \text{from})\, u` (``"linear"``):

    .. math::
        \text{two phases:}\quad \eta_t = \begin{cases}
          a(\eta_{\text{init}}, \eta_{\max}, t / p) & t \le p \\
          a\big(\eta_{\max}, \eta_{\text{end}}, (t - p) / (T - 1 - p)\big) & t > p
        \end{cases}

    With ``three_phase=True`` (Smith's original policy) the rate climbs to :math:`\eta_{\max}`
    until :math:`p`, comes back down symmetrically to :math:`\eta_{\text{init}}` at
    :math:`q = 2\rho T - 2`, and only then anneals to :math:`\eta_{\text{end}}` at :math:`T - 1`
    (the "annihilation" phase).

    Args:
        t: step, :math:`0 \le t \le T` (PyTorch raises beyond; :math:`t = T - 1` is the last step
            that reaches :math:`\eta_{\text{end}}`).
        max_lr: :math:`\eta_{\max} > 0`.
        total_steps: :math:`T \ge 1`.
        pct_start: :math:`\rho \in [0, 1]`, the fraction of steps spent increasing.
        div_factor: :math:`d > 0`, :math:`\eta_{\text{init}} = \eta_{\max}/d`.
        final_div_factor: :math:`d_f > 0`, :math:`\eta_{\text{end}} = \eta_{\text{init}}/d_f`.
        anneal_strategy: ``"cos"`` or ``"linear"``, as in PyTorch.
        three_phase: the symmetric ramps and the final annihilation phase, as in PyTorch.

    Notes:
        PyTorch's conventions, kept for equality: the peak is at the possibly fractional step
        :math:`\rho T - 1`, so the rising phase spans :math:`\rho T - 1` steps. Where PyTorch
        would divide by a zero-length phase, the phase's end value is returned.
        ``OneCycleLR`` *also* cycles the momentum (or Adam's :math:`\beta_1`) by default
        (``cycle_momentum=True``, :math:`0.95 \to 0.85 \to 0.95`), overwriting the optimizer's
        own value; that part is :func:`one_cycle_momentum`, not this function.

    References:
        Smith and Topin, *Super-Convergence: Very Fast Training of Neural Networks Using Large
        Learning Rates*, 2017/2019.

    Examples:
        >>> round(one_cycle(0, max_lr=1.0, total_steps=100), 6)  # max_lr / div_factor
        0.04
        >>> one_cycle(29, max_lr=1.0, total_steps=100)  # peak at 0.3·100 - 1
        1.0
        >>> round(one_cycle(58, max_lr=1.0, total_steps=100, three_phase=True), 6)
        0.04
    """
    _checks.number(max_lr, "max_lr", low=0, low_open=True)
    _checks.number(div_factor, "div_factor", low=0, low_open=True)
    _checks.number(final_div_factor, "final_div_factor", low=0, low_open=True)
    phase, progress, anneal = _check_one_cycle(t, total_steps, pct_start, anneal_strategy,
                                               three_phase)
    initial_lr = max_lr / div_factor
    final_lr = initial_lr / final_div_factor
    ends = [(initial_lr, max_lr)]
    ends += [(max_lr, initial_lr), (initial_lr, final_lr)] if three_phase else [(max_lr,
                                                                               final_lr)]
    return anneal(progress, *ends[phase])


def one_cycle_momentum(t: int, *, total_steps: int, pct_start: float = 0.3,
                       base_momentum: float = 0.85, max_momentum: float = 0.95,
                       anneal_strategy: str = "cos", three_phase: bool = False) -> float:
    r"""The momentum (or Adam's :math:`\beta_1`) that ``OneCycleLR`` sets at step ``t``.

    With its default ``cycle_momentum=True``, PyTorch's ``OneCycleLR`` moves the momentum
    opposite to the rate: from ``max_momentum`` down to ``base_momentum`` while the rate rises
    to its peak, and back up while it falls (with ``three_phase=True`` it then stays at
    ``max_momentum``), using the same annealing function and phases as :func:`one_cycle`. It
    writes the value into each group's ``momentum`` (SGD) or ``betas[0]`` (Adam), whatever the
    optimizer was created with.

    Args:
        t: step, :math:`0 \le t \le T`.
        total_steps, pct_start, anneal_strategy, three_phase: as in :func:`one_cycle`.
        base_momentum: the momentum at the rate's peak (default 0.85, PyTorch's).
        max_momentum: the momentum at the start and end (default 0.95, PyTorch's);
            :math:`0 \le` ``base_momentum`` :math:`\le` ``max_momentum`` :math:`< 1`.

    Examples:
        >>> [round(one_cycle_momentum(t, total_steps=100), 6) for t in (0, 29, 99)]
        [0.95, 0.85, 0.95]
    """
    _checks.number(max_momentum, "max_momentum", low=0, high=1, high_open=True)
    _checks.number(base_momentum, "base_momentum", low=0, high=max_momentum)
    phase, progress, anneal = _check_one_cycle(t, total_steps, pct_start, anneal_strategy,
                                               three_phase)
    ends = [(max_momentum, base_momentum), (base_momentum, max_momentum),
            (max_momentum, max_momentum)]
    return anneal(progress, *ends[phase])
