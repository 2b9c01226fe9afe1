r"""Learning-rate schedules as pure functions of the step ``t``.

Each schedule maps a step :math:`t = 0, 1, 2, \dots` (the number of optimizer steps already
taken) to the learning rate of the next step, with keyword-only, validated hyperparameters and
no hidden state, in the manner of timm's schedulers. Plotting one is ``[f(t, **kw) for t in
range(n)]``; driving an optimizer is :func:`lambda_lr`.

Where PyTorch has the same schedule, the values equal its scheduler's ``param_groups[0]["lr"]``
at every step (tested): :func:`step_decay` = ``StepLR``, :func:`exponential_decay` =
``ExponentialLR``, :func:`linear_warmup` = ``LinearLR``, :func:`cosine_decay` =
``CosineAnnealingLR`` (for :math:`t \le` ``total_steps``), :func:`cosine_restarts` =
``CosineAnnealingWarmRestarts``, :func:`triangular` = ``CyclicLR(mode="triangular",
cycle_momentum=False)`` and :func:`one_cycle` = ``OneCycleLR(cycle_momentum=False)``.
"Equal" means to float rounding: several PyTorch schedulers update the rate recursively
(:math:`\eta_t = \gamma\,\eta_{t-1}`, or ``CosineAnnealingLR``'s ratio of cosines), which
accumulates rounding error that a closed form does not; the tests allow a relative
:math:`10^{-12}`.

All warm-ups here (:func:`cosine_decay`, :func:`inverse_sqrt`, :func:`linear_warmup_decay`)
start from 0 at :math:`t = 0` and reach ``base_lr`` exactly at ``t = warmup_steps``, like
Hugging Face's ``get_*_schedule_with_warmup``; :func:`linear_warmup` follows ``LinearLR`` and
starts from ``start_factor * base_lr``.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch

from dlcore import _checks

__all__ = [
    "step_decay", "exponential_decay", "linear_warmup", "cosine_decay", "cosine_restarts",
    "inverse_sqrt", "linear_warmup_decay", "triangular", "one_cycle", "lambda_lr",
]


def _step(t) -> int:
    return _checks.number(t, "t", low=0, integer=True)


def _lr(value, name: str = "base_lr") -> float:
    return _checks.number(value, name, low=0)


def _count(value, name: str, low: int = 1) -> int:
    return _checks.number(value, name, low=low, integer=True)


def _cosine(progress: float, start: float, end: float) -> float:
    """Half a cosine from ``start`` (progress 0) to ``end`` (progress 1)."""
    return end + (start - end) * (1 + math.cos(math.pi * progress)) / 2


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


def linear_warmup(t: int, *, base_lr: float, warmup_steps: int,
                  start_factor: float = 1 / 3) -> float:
    r"""Linear warm-up from ``start_factor * base_lr`` to ``base_lr``, then flat (``LinearLR``).

    .. math:: \eta_t = \eta_0 \Big(f_0 + (1 - f_0)\, \frac{\min(t, w)}{w}\Big)

    Args:
        t: step :math:`t \ge 0`.
        base_lr: :math:`\eta_0 \ge 0`, reached at :math:`t = w`.
        warmup_steps: :math:`w \ge 1`.
        start_factor: :math:`f_0 \in [0, 1]`; the default 1/3 is ``LinearLR``'s (which rejects 0).

    Notes:
        Warm-up keeps the first updates small while Adam's second-moment estimate and the
        network's activations settle; Goyal et al. (2017) needed it for the linear scaling rule.

    Examples:
        >>> [linear_warmup(t, base_lr=1.0, warmup_steps=2, start_factor=0.5) for t in range(4)]
        [0.5, 0.75, 1.0, 1.0]
    """
    t = _step(t)
    _lr(base_lr)
    _count(warmup_steps, "warmup_steps")
    _checks.number(start_factor, "start_factor", low=0, high=1)
    return base_lr * (start_factor + (1 - start_factor) * min(t, warmup_steps) / warmup_steps)


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


def inverse_sqrt(t: int, *, base_lr: float, warmup_steps: int) -> float:
    r"""The Transformer schedule: linear warm-up, then decay as :math:`1/\sqrt t`.

    .. math:: \eta_t = \eta_0 \min\Big(\frac{t}{w}, \sqrt{\frac{w}{t}}\Big)
              = \begin{cases} \eta_0\, t / w & t \le w \\ \eta_0 \sqrt{w / t} & t \ge w
                \end{cases}

    The peak :math:`\eta_0` is reached at :math:`t = w`.

    Derivation: Vaswani et al. (2017, eq. 3) use
    :math:`\text{lrate} = d_{\text{model}}^{-0.5} \min(n^{-0.5},\, n\, w^{-1.5})`. Factoring out
    the value at :math:`n = w`, :math:`d_{\text{model}}^{-0.5} w^{-0.5}`, gives
    :math:`d_{\text{model}}^{-0.5} w^{-0.5} \min(\sqrt{w/n},\, n/w)`, which is the formula above
    with :math:`\eta_0 = (d_{\text{model}}\, w)^{-0.5}` (:math:`\approx 7.0 \times 10^{-4}` for
    their :math:`d_{\text{model}} = 512, w = 4000`).

    Args:
        t: step :math:`t \ge 0`.
        base_lr: :math:`\eta_0 \ge 0`, the peak rate.
        warmup_steps: :math:`w \ge 1`.

    Notes:
        *Convention at t = 0.* The paper's step number :math:`n` starts at 1 and the formula is
        undefined at :math:`n = 0`; here :math:`t` is used as :math:`n` directly and
        :math:`\eta_0 = 0` by the warm-up branch, like this module's other warm-ups. So with
        :func:`lambda_lr` the first optimizer step has rate 0 (it still updates Adam's moment
        estimates) and the paper's step :math:`n` runs at our :math:`t = n`. To start at the
        paper's :math:`n = 1` instead, call ``inverse_sqrt(t + 1, ...)``.

    References:
        Vaswani et al., *Attention Is All You Need*, NeurIPS 2017, §5.3.

    Examples:
        >>> [inverse_sqrt(t, base_lr=1.0, warmup_steps=4) for t in (0, 2, 4, 16)]
        [0.0, 0.5, 1.0, 0.5]
    """
    t = _step(t)
    _lr(base_lr)
    _count(warmup_steps, "warmup_steps")
    if t < warmup_steps:
        return base_lr * t / warmup_steps
    return base_lr * math.sqrt(warmup_steps / t)


def linear_warmup_decay(t: int, *, base_lr: float, warmup_steps: int, total_steps: int) -> float:
    r"""BERT's schedule: linear warm-up to ``base_lr``, then linear decay to 0 at ``total_steps``.

    .. math::
        \eta_t = \begin{cases}
          \eta_0\, t / w & t < w \\
          \eta_0\, \max\!\Big(0, \dfrac{T - t}{T - w}\Big) & t \ge w
        \end{cases}

    Args:
        t: step :math:`t \ge 0`.
        base_lr: :math:`\eta_0 \ge 0`, the peak, reached at :math:`t = w`.
        warmup_steps: :math:`0 \le w \le T` (BERT: 10 000 of 1 000 000 steps).
        total_steps: :math:`T \ge 1`.

    Notes:
        This is Hugging Face's ``get_linear_schedule_with_warmup``. Google's original BERT
        code decays :math:`\eta_0(1 - t/T)` from :math:`t = 0` and lets the warm-up
        :math:`\eta_0 t / w` replace it for :math:`t < w`, so its rate climbs to
        :math:`\eta_0 (w - 1)/w \approx \eta_0` at step :math:`w - 1`, drops
        discontinuously to :math:`\eta_0(1 - w/T)` at step :math:`w` and then decays
        linearly; the two coincide at :math:`t = T`.

    References:
        Devlin et al., *BERT: Pre-training of Deep Bidirectional Transformers for Language
        Understanding*, NAACL 2019, Appendix A.2.

    Examples:
        >>> [linear_warmup_decay(t, base_lr=1.0, warmup_steps=2, total_steps=6)
        ...  for t in range(8)]
        [0.0, 0.5, 1.0, 0.75, 0.5, 0.25, 0.0, 0.0]
    """
    t = _step(t)
    _lr(base_lr)
    total_steps = _count(total_steps, "total_steps")
    _checks.number(warmup_steps, "warmup_steps", low=0, high=total_steps, integer=True)
    if t < warmup_steps:
        return base_lr * t / warmup_steps
    if t >= total_steps:
        return 0.0
    return base_lr * (total_steps - t) / (total_steps - warmup_steps)


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


def one_cycle(t: int, *, max_lr: float, total_steps: int, pct_start: float = 0.3,
              div_factor: float = 25.0, final_div_factor: float = 1e4) -> float:
    r"""The one-cycle policy with cosine annealing (``OneCycleLR``, ``three_phase=False``).

    With :math:`\eta_{\text{init}} = \eta_{\max}/d`, :math:`\eta_{\text{end}} =
    \eta_{\text{init}}/d_f`, peak step :math:`p = \rho T - 1` and
    :math:`\operatorname{cos\_anneal}(a, b, u) = b + (a - b)(1 + \cos \pi u)/2`:

    .. math::
        \eta_t = \begin{cases}
          \operatorname{cos\_anneal}(\eta_{\text{init}}, \eta_{\max}, t / p) & t \le p \\
          \operatorname{cos\_anneal}\big(\eta_{\max}, \eta_{\text{end}},
             (t - p) / (T - 1 - p)\big) & t > p
        \end{cases}

    Args:
        t: step, :math:`0 \le t \le T` (PyTorch raises beyond; :math:`t = T - 1` is the last step
            that reaches :math:`\eta_{\text{end}}`).
        max_lr: :math:`\eta_{\max} > 0`.
        total_steps: :math:`T \ge 1`.
        pct_start: :math:`\rho \in [0, 1]`, the fraction of steps spent increasing.
        div_factor: :math:`d > 0`, :math:`\eta_{\text{init}} = \eta_{\max}/d`.
        final_div_factor: :math:`d_f > 0`, :math:`\eta_{\text{end}} = \eta_{\text{init}}/d_f`.

    Notes:
        PyTorch's conventions, kept for equality: the peak is at the possibly fractional step
        :math:`\rho T - 1`, so the rising phase spans :math:`\rho T - 1` steps; the cycled
        momentum (``cycle_momentum=True`` in PyTorch, :math:`0.95 \to 0.85 \to 0.95`) is not
        part of this function. Where PyTorch would divide by a zero-length phase, the phase's
        end value is returned. Smith's original policy anneals linearly and ends with a
        few iterations far below :math:`\eta_{\text{init}}`.

    References:
        Smith and Topin, *Super-Convergence: Very Fast Training of Neural Networks Using Large
        Learning Rates*, 2017/2019.

    Examples:
        >>> round(one_cycle(0, max_lr=1.0, total_steps=100), 6)  # max_lr / div_factor
        0.04
        >>> one_cycle(29, max_lr=1.0, total_steps=100)  # peak at 0.3·100 - 1
        1.0
    """
    t = _step(t)
    _checks.number(max_lr, "max_lr", low=0, low_open=True)
    total_steps = _count(total_steps, "total_steps")
    _checks.number(pct_start, "pct_start", low=0, high=1)
    _checks.number(div_factor, "div_factor", low=0, low_open=True)
    _checks.number(final_div_factor, "final_div_factor", low=0, low_open=True)
    if t > total_steps:
        raise ValueError(f"`t` must be <= total_steps ({total_steps}), got {t}")
    initial_lr = max_lr / div_factor
    final_lr = initial_lr / final_div_factor
    peak = pct_start * total_steps - 1
    if t <= peak:
        start, end, lr_start, lr_end = 0.0, peak, initial_lr, max_lr
    else:
        start, end, lr_start, lr_end = peak, total_steps - 1.0, max_lr, final_lr
    progress = (t - start) / (end - start) if end != start else 1.0
    return _cosine(progress, lr_start, lr_end)


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
        The scheduler: call ``scheduler.step()`` after each ``optimizer.step()``; step :math:`t`
        of the optimizer (counting from 0) then uses ``schedule(t, **kwargs)``.

    Notes:
        All groups follow the same schedule. For per-group rates build the ``LambdaLR``
        yourself with one factor function per group.

    Examples:
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
