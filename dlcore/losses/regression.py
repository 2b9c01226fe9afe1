r"""Regression losses, each equal to its :mod:`torch.nn.functional` namesake.

With the residual :math:`d_i = \text{input}_i - \text{target}_i`, the pointwise losses are

.. math::

    \ell^{\mathrm{MSE}} = d^2, \qquad
    \ell^{\mathrm{L1}} = |d|, \qquad
    \ell^{\mathrm{Huber}}_\delta =
        \begin{cases} \tfrac12 d^2 & |d| < \delta \\
                      \delta\,(|d| - \tfrac12 \delta) & \text{otherwise} \end{cases}, \qquad
    \ell^{\mathrm{smooth\,L1}}_\beta =
        \begin{cases} \tfrac12 d^2 / \beta & |d| < \beta \\
                      |d| - \tfrac12 \beta & \text{otherwise} \end{cases},

so that
:math:`\ell^{\mathrm{Huber}}_\delta = \delta \cdot \ell^{\mathrm{smooth\,L1}}_{\beta=\delta}`
(Huber, 1964; smooth L1 is the form of Girshick, 2015). They are the negative
log-likelihoods, up to constants, of a Gaussian (MSE), a Laplace (L1) and Huber's
least-favourable distribution (the chapter *Losses*, page *Risk*).

Conventions shared by all functions:

* ``input`` and ``target`` are floating tensors of the same shape (torch broadcasts two
  different shapes with a warning; here that is a ``ValueError``), without NaN, not empty.
* ``reduction`` is ``"none"`` (the pointwise losses), ``"sum"`` or ``"mean"`` (the sum divided
  by the number of elements).
* ``weight`` (``mse_loss``, ``l1_loss``, ``huber_loss``, as in torch 2.13) multiplies each
  pointwise loss and must have the shape of ``input``. Then ``"mean"`` follows torch, which is
  not consistent: :func:`mse_loss` and :func:`l1_loss` return the *weighted* mean
  :math:`\sum_i w_i \ell_i / \sum_i w_i`, :func:`huber_loss` returns
  :math:`\frac1n\sum_i w_i\ell_i`.
* The derivative of :math:`|d|` at :math:`d = 0` is taken as 0, as torch's autograd does.
"""

from __future__ import annotations

import torch

from dlcore import _checks
from dlcore.losses._common import reduce as _reduce_common
from dlcore.losses._common import reduction as _reduction_name

__all__ = ["mse_loss", "l1_loss", "huber_loss", "smooth_l1_loss"]



def _pair(input, target) -> tuple[torch.Tensor, torch.Tensor]:
    for x, name in ((input, "input"), (target, "target")):
        _checks.tensor(x, name, floating=True)
        _checks.no_nan(x, name)
    _checks.same_shape(input, target, "input", "target")
    return input, target


def _weight(weight, input: torch.Tensor) -> torch.Tensor | None:
    if weight is None:
        return None
    _checks.tensor(weight, "weight", floating=True)
    _checks.finite(weight, "weight")
    _checks.same_shape(weight, input, "weight", "input")
    if bool((weight < 0).any()):
        raise ValueError(f"`weight` must be >= 0, got minimum {float(weight.min()):g}")
    return weight


def _reduce(loss: torch.Tensor, reduction: str, weight: torch.Tensor | None, *,
            by_weights: bool = True) -> torch.Tensor:
    """Apply ``reduction`` to pointwise losses, weighting them first when ``weight`` is given.

    A weighted ``"mean"`` divides by the sum of the weights (``by_weights``, torch's MSE and
    L1) or by the number of elements (torch's Huber)."""
    if weight is not None:
        loss = loss * weight
    return _reduce_common(loss, reduction,
                          weight.sum() if weight is not None and by_weights else None)


def mse_loss(input: torch.Tensor, target: torch.Tensor, *, reduction: str = "mean",
             weight: torch.Tensor | None = None) -> torch.Tensor:
    r"""Mean squared error, :func:`torch.nn.functional.mse_loss`.

    .. math:: \ell_i = (\text{input}_i - \text{target}_i)^2

    Minimising its mean over a constant prediction :math:`c` gives the sample mean; it is the
    negative log-likelihood of a Gaussian with fixed variance, up to an affine map.

    Args:
        input: predictions, floating tensor of any shape.
        target: targets, same shape.
        reduction: ``"none"``, ``"mean"`` or ``"sum"``.
        weight: optional non-negative weights of the shape of ``input``; with ``"mean"`` the
            result is :math:`\sum_i w_i \ell_i / \sum_i w_i`.

    Returns:
        torch.Tensor: a scalar, or the pointwise losses for ``reduction="none"``.

    Raises:
        ValueError: shapes differ, NaN, empty input, negative weights or an unknown reduction.

    Examples:
        >>> mse_loss(torch.tensor([1.0, 2.0]), torch.tensor([0.0, 4.0]))
        tensor(2.5000)
    """
    input, target = _pair(input, target)
    _reduction_name(reduction)
    w = _weight(weight, input)
    d = input - target
    return _reduce(d * d, reduction, w)  # ℓ = d²


def l1_loss(input: torch.Tensor, target: torch.Tensor, *, reduction: str = "mean",
            weight: torch.Tensor | None = None) -> torch.Tensor:
    r"""Mean absolute error, :func:`torch.nn.functional.l1_loss`.

    .. math:: \ell_i = |\text{input}_i - \text{target}_i|

    Minimising its mean over a constant prediction gives a sample median; it is the negative
    log-likelihood of a Laplace distribution with fixed scale, up to an affine map. Its
    gradient :math:`\operatorname{sign}(d)` is bounded, so one outlier cannot dominate a step.

    Args:
        input: predictions, floating tensor of any shape.
        target: targets, same shape.
        reduction: ``"none"``, ``"mean"`` or ``"sum"``.
        weight: optional non-negative weights of the shape of ``input`` (weighted mean).

    Returns:
        torch.Tensor: a scalar, or the pointwise losses for ``reduction="none"``.

    Raises:
        ValueError: shapes differ, NaN, empty input, negative weights or an unknown reduction.

    Examples:
        >>> l1_loss(torch.tensor([1.0, 2.0]), torch.tensor([0.0, 4.0]), reduction="sum")
        tensor(3.)
    """
    input, target = _pair(input, target)
    _reduction_name(reduction)
    w = _weight(weight, input)
    return _reduce((input - target).abs(), reduction, w)  # ℓ = |d|


def _quadratic_then_linear(d: torch.Tensor, k: float) -> torch.Tensor:
    """½d² for |d| < k, k(|d| − ½k) beyond: Huber's function with threshold k."""
    a = d.abs()
    # the quadratic branch sees |d| clamped to k, so a huge d cannot overflow d² unused
    small = a.clamp(max=k)
    return torch.where(a < k, 0.5 * small * small, k * (a - 0.5 * k))


def huber_loss(input: torch.Tensor, target: torch.Tensor, *, reduction: str = "mean",
               delta: float = 1.0, weight: torch.Tensor | None = None) -> torch.Tensor:
    r"""Huber loss (Huber, 1964), :func:`torch.nn.functional.huber_loss`.

    .. math::

        \ell_i = \begin{cases} \tfrac12 d_i^2 & |d_i| < \delta \\
                               \delta\,(|d_i| - \tfrac12\delta) & \text{otherwise}
                 \end{cases},\qquad d_i = \text{input}_i - \text{target}_i

    Quadratic near 0 (like MSE), linear in the tails (like L1), continuous with a continuous
    derivative at :math:`|d| = \delta`; the gradient is :math:`\operatorname{clip}(d, -\delta,
    \delta)`, bounded by :math:`\delta`. Equal to ``delta * smooth_l1_loss(..., beta=delta)``.

    Args:
        input: predictions, floating tensor of any shape.
        target: targets, same shape.
        reduction: ``"none"``, ``"mean"`` or ``"sum"``.
        delta: threshold between the two branches, ``> 0``.
        weight: optional non-negative weights of the shape of ``input``; with ``"mean"`` the
            result is :math:`\frac1n\sum_i w_i \ell_i` (torch's convention for Huber, unlike
            its MSE and L1, which divide by :math:`\sum_i w_i`).

    Returns:
        torch.Tensor: a scalar, or the pointwise losses for ``reduction="none"``.

    Raises:
        ValueError: ``delta <= 0``, shapes differ, NaN, empty input or an unknown reduction.

    References:
        Huber, P. J. (1964). Robust estimation of a location parameter. *Ann. Math. Statist.*

    Examples:
        >>> huber_loss(torch.tensor([0.5, 3.0]), torch.zeros(2), reduction="none")
        tensor([0.1250, 2.5000])
    """
    input, target = _pair(input, target)
    _reduction_name(reduction)
    delta = _checks.number(delta, "delta", low=0, low_open=True)
    w = _weight(weight, input)
    return _reduce(_quadratic_then_linear(input - target, delta), reduction, w,
                   by_weights=False)


def smooth_l1_loss(input: torch.Tensor, target: torch.Tensor, *, reduction: str = "mean",
                   beta: float = 1.0) -> torch.Tensor:
    r"""Smooth L1 loss (Girshick, 2015), :func:`torch.nn.functional.smooth_l1_loss`.

    .. math::

        \ell_i = \begin{cases} \tfrac12 d_i^2 / \beta & |d_i| < \beta \\
                               |d_i| - \tfrac12\beta & \text{otherwise}
                 \end{cases}

    Huber's loss divided by its threshold: the linear part has slope 1 whatever
    :math:`\beta`, and ``beta=0`` gives exactly :func:`l1_loss` (as in torch).

    Args:
        input: predictions, floating tensor of any shape.
        target: targets, same shape.
        reduction: ``"none"``, ``"mean"`` or ``"sum"``.
        beta: threshold between the two branches, ``>= 0``.

    Returns:
        torch.Tensor: a scalar, or the pointwise losses for ``reduction="none"``.

    Raises:
        ValueError: ``beta < 0``, shapes differ, NaN, empty input or an unknown reduction.

    References:
        Girshick, R. (2015). Fast R-CNN. *ICCV*.

    Examples:
        >>> smooth_l1_loss(torch.tensor([0.5, 3.0]), torch.zeros(2), reduction="none")
        tensor([0.1250, 2.5000])
    """
    input, target = _pair(input, target)
    _reduction_name(reduction)
    beta = _checks.number(beta, "beta", low=0)
    d = input - target
    if beta == 0:  # the quadratic branch is empty; avoid 0/0
        return _reduce(d.abs(), reduction, None)
    return _reduce(_quadratic_then_linear(d, beta) / beta, reduction, None)
