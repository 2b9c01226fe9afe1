"""Decaying schedules: step, multi-step, exponential, cosine and cosine with restarts."""

from __future__ import annotations

from dlcore import _checks
from dlcore.schedules._common import _cosine, _count, _lr, _step


def step_decay(t: int, *, base_lr: float, step_size: int, gamma: float = 0.1) -> float:
    r"""Multiply the rate by ``gamma`` every ``step_size`` steps (``StepLR``).

    .. math:: \eta_t = \eta_0\, \gamma^{\lfloor t / s \rfloor}

    Args:
        t: step :math:`t \ge 0`.
        base_lr: :math:`\eta_0 \ge 0`.
        step_size: :math:`s \ge 1`.
        gamma: :math:`\gamma > 0` (default 0.1, torch's).

    Examples:
        >>> [step_decay(t, base_lr=1.0, step_size=2, gamma=0.5) for t in range(5)]
        [1.0, 1.0, 0.5, 0.5, 0.25]
    """
    t = _step(t)
    _lr(base_lr)
    _count(step_size, "step_size")
    _checks.number(gamma, "gamma", low=0, low_open=True)
    return float(base_lr * gamma ** (t // step_size))  # float even for int arguments


def multistep_decay(t: int, *, base_lr: float, milestones, gamma: float = 0.1) -> float:
    r"""Multiply the rate by ``gamma`` at each milestone step (``MultiStepLR``).

    .. math:: \eta_t = \eta_0\, \gamma^{\#\{i \,:\, m_i \le t\}}

    Args:
        t: step :math:`t \ge 0`.
        base_lr: :math:`\eta_0 \ge 0`.
        milestones: the steps :math:`m_i \ge 1` (ints, non-decreasing, as PyTorch asks) at
            which the rate drops; a milestone listed twice drops it twice, as in PyTorch.
        gamma: :math:`\gamma > 0` (default 0.1, torch's).

    Examples:
        >>> [multistep_decay(t, base_lr=1.0, milestones=[2, 4], gamma=0.5) for t in range(6)]
        [1.0, 1.0, 0.5, 0.5, 0.25, 0.25]
    """
    t = _step(t)
    _lr(base_lr)
    _checks.number(gamma, "gamma", low=0, low_open=True)
    if isinstance(milestones, (str, bytes)) or not hasattr(milestones, "__iter__"):
        raise TypeError(f"`milestones` must be a sequence of ints, got "
                        f"{type(milestones).__name__}")
    milestones = [_count(m, "milestones[i]") for m in milestones]
    if milestones != sorted(milestones):
        raise ValueError(f"`milestones` must be non-decreasing, got {milestones}")
    return float(base_lr * gamma ** sum(m <= t for m in milestones))


def exponential_decay(t: int, *, base_lr: float, gamma: float) -> float:
    r"""Multiply the rate by ``gamma`` every step (``ExponentialLR``).

    .. math:: \eta_t = \eta_0\, \gamma^{t}

    Examples:
        >>> exponential_decay(3, base_lr=2.0, gamma=0.5)
        0.25
    """
    t = _step(t)
    _lr(base_lr)
    _checks.number(gamma, "gamma", low=0, low_open=True)
    return float(base_lr * gamma**t)



def cosine_decay(t: int, *, base_lr: float, total_steps: int, min_lr: float = 0.0,
                 warmup_steps: int = 0) -> float:
    r"""Cosine annealing from ``base_lr`` to ``min_lr`` (SGDR without restarts), optional warm-up.

    .. math::
        \eta_t = \begin{cases}
          \eta_0\, t / w & t < w \\
          \eta_{\min} + (\eta_0 - \eta_{\min})\,
            \dfrac{1 + \cos\!\big(\pi\, \frac{t - w}{T - w}\big)}{2} & w \le t \le T \\
          \eta_{\min} & t > T
        \end{cases}

    Args:
        t: step :math:`t \ge 0`.
        base_lr: :math:`\eta_0 \ge 0`.
        total_steps: :math:`T \ge 1`, the step at which :math:`\eta_{\min}` is reached.
        min_lr: :math:`0 \le \eta_{\min} \le \eta_0`.
        warmup_steps: :math:`0 \le w \le T`; with :math:`w = 0` this is
            ``CosineAnnealingLR(T_max=T, eta_min=min_lr)``.

    Notes:
        After :math:`T` the rate stays at :math:`\eta_{\min}`. ``CosineAnnealingLR`` instead keeps
        following the cosine, back up towards :math:`\eta_0`; the two agree for
        :math:`t \le T`.

    References:
        Loshchilov and Hutter, *SGDR: Stochastic Gradient Descent with Warm Restarts*, ICLR 2017.

    Examples:
        >>> [cosine_decay(t, base_lr=1.0, total_steps=4) for t in range(6)]
        [1.0, 0.853..., 0.5, 0.146..., 0.0, 0.0]
    """
    t = _step(t)
    _lr(base_lr)
    total_steps = _count(total_steps, "total_steps")
    _checks.number(min_lr, "min_lr", low=0, high=base_lr)
    _checks.number(warmup_steps, "warmup_steps", low=0, high=total_steps, integer=True)
    if t < warmup_steps:
        return base_lr * t / warmup_steps
    if t >= total_steps:
        return float(min_lr)
    return _cosine((t - warmup_steps) / (total_steps - warmup_steps), base_lr, min_lr)


def cosine_restarts(t: int, *, base_lr: float, period: int, period_mult: int = 1,
                    min_lr: float = 0.0) -> float:
    r"""Cosine annealing with warm restarts, SGDR (``CosineAnnealingWarmRestarts``).

    .. math::
        \eta_t = \eta_{\min} + (\eta_0 - \eta_{\min})\,
                 \frac{1 + \cos(\pi\, T_{\text{cur}} / T_i)}{2}

    Cycle :math:`i = 0, 1, \dots` lasts :math:`T_i = T_0 \cdot m^i` steps; :math:`T_{\text{cur}}`
    counts the steps since the last restart, where the rate jumps back to :math:`\eta_0`.

    Args:
        t: step :math:`t \ge 0`.
        base_lr: :math:`\eta_0 \ge 0`.
        period: :math:`T_0 \ge 1`, the length of the first cycle.
        period_mult: :math:`m \ge 1` (an int, as in PyTorch), the growth of each cycle.
        min_lr: :math:`0 \le \eta_{\min} \le \eta_0`.

    References:
        Loshchilov and Hutter, *SGDR: Stochastic Gradient Descent with Warm Restarts*, ICLR 2017.

    Examples:
        >>> [cosine_restarts(t, base_lr=1.0, period=2, period_mult=2) for t in range(7)]
        [1.0, 0.5, 1.0, 0.853..., 0.5, 0.146..., 1.0]
    """
    t = _step(t)
    _lr(base_lr)
    period = _count(period, "period")
    period_mult = _count(period_mult, "period_mult")
    _checks.number(min_lr, "min_lr", low=0, high=base_lr)
    if period_mult == 1:
        t_cur, t_i = t % period, period
    else:
        # integer walk over the cycles (a logarithm could land on the wrong side of a restart)
        t_cur, t_i = t, period
        while t_cur >= t_i:
            t_cur -= t_i
            t_i *= period_mult
    return _cosine(t_cur / t_i, base_lr, min_lr)


