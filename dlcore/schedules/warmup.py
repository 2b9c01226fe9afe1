"""Schedules with a warm-up: linear warm-up, the Transformer's and BERT's."""

from __future__ import annotations

import math

from dlcore import _checks
from dlcore.schedules._common import _count, _lr, _step


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


