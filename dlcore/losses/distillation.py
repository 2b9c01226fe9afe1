r"""Knowledge distillation (Hinton, Vinyals and Dean, 2015).

A student network is trained on the teacher's *soft targets*, its probabilities at a
temperature :math:`T > 1`, mixed with the ordinary cross-entropy on the hard labels:

.. math::
    \mathcal{L} = \alpha\, T^2\, \frac{1}{N}\sum_{i=1}^{N}
        \operatorname{KL}\bigl(p^{\text{teacher}}_i(T) \,\big\|\, p^{\text{student}}_i(T)\bigr)
    + (1 - \alpha)\, \operatorname{CE}(z^{\text{student}}, y),
    \qquad p(T) = \operatorname{softmax}(z / T).

The gradient of the soft term with respect to a student logit is
:math:`(p^{\text{student}}(T) - p^{\text{teacher}}(T)) / T`, which for large :math:`T` (and
logits of zero mean) is about :math:`(z^{\text{student}} - z^{\text{teacher}})/(K T^2)`; the
factor :math:`T^2` keeps the soft term's share of the gradient unchanged when :math:`T`
changes (Hinton et al. 2015, §2).
"""

from __future__ import annotations

import torch

from dlcore import _checks
from dlcore.activations import log_softmax
from dlcore.losses.classification import cross_entropy

__all__ = ["distillation_loss"]


def distillation_loss(student_logits: torch.Tensor, teacher_logits: torch.Tensor,
                      target: torch.Tensor, *, temperature: float,
                      alpha: float) -> torch.Tensor:
    r"""Hinton et al.'s distillation loss: soft targets at temperature ``T`` plus hard labels.

    .. math::
        \mathcal{L} = \alpha\, T^2\, \frac{1}{N}\sum_{i}\sum_{c}
            p^{t}_{ic}\bigl(\log p^{t}_{ic} - \log p^{s}_{ic}\bigr)
        + (1 - \alpha)\, \frac{1}{N}\sum_i -\log \operatorname{softmax}(z^{s}_i)_{y_i},

    with :math:`p^{t} = \operatorname{softmax}(z^{t}/T)`, :math:`p^{s} =
    \operatorname{softmax}(z^{s}/T)`. The KL divergence is the per-example one (torch's
    ``F.kl_div(..., reduction="batchmean")``), not ``reduction="mean"``, which would divide by
    :math:`N K` as well. The hard term is taken at :math:`T = 1`.

    Args:
        student_logits: floating tensor ``(N, K)``, the student's logits :math:`z^{s}`.
        teacher_logits: floating tensor ``(N, K)``, the teacher's logits :math:`z^{t}`.
            Gradients flow into it as into any input: compute it under ``torch.no_grad()``
            (or detach it) so that the teacher stays fixed.
        target: the hard labels, as :func:`~dlcore.losses.cross_entropy` accepts them
            (class indices ``(N,)`` or probabilities ``(N, K)``).
        temperature: :math:`T > 0` (Hinton et al. use 1 to 20; 1 gives the plain KL).
        alpha: :math:`\alpha \in [0, 1]`, the weight of the soft term; 1 ignores the labels,
            0 is plain cross-entropy.

    Returns:
        The scalar loss.

    Notes:
        Some implementations write :math:`\alpha` on the hard term, or leave out
        :math:`T^2`, or use ``KLDivLoss()``'s default ``reduction="mean"``: each changes the
        balance of the two terms, and the last one by a factor :math:`K`.

    References:
        Hinton, Vinyals and Dean, *Distilling the knowledge in a neural network*, NIPS Deep
        Learning Workshop 2014, arXiv:1503.02531 (2015).

    Examples:
        >>> z = torch.tensor([[2.0, 0.0, -1.0]])
        >>> distillation_loss(z, z, torch.tensor([0]), temperature=4.0, alpha=1.0)
        tensor(0.)
        >>> distillation_loss(z, z, torch.tensor([0]), temperature=4.0, alpha=0.0)
        tensor(0.1698)
    """
    for name, z in (("student_logits", student_logits), ("teacher_logits", teacher_logits)):
        _checks.tensor(z, name, floating=True)
        _checks.ndim(_checks.no_nan(z, name), name, (2,))
    _checks.same_shape(student_logits, teacher_logits, "student_logits", "teacher_logits")
    T = _checks.number(temperature, "temperature", low=0, low_open=True)
    a = _checks.number(alpha, "alpha", low=0, high=1)
    # log p^t and log p^s at temperature T, by log-sum-exp
    log_pt = log_softmax(teacher_logits.to(student_logits.dtype) / T, dim=1)
    log_ps = log_softmax(student_logits / T, dim=1)
    # KL(p^t || p^s) per example, averaged over the batch ("batchmean"); p log p = 0 at p = 0
    kl = (log_pt.exp() * (log_pt - log_ps)).sum() / student_logits.shape[0]
    hard = cross_entropy(student_logits, target)
    return a * T**2 * kl + (1 - a) * hard
