r"""Parameter-norm penalties and constraints (chapter Regularization, section "Penalties and
early stopping").

* :func:`l2_penalty` — :math:`\tfrac12\sum_j w_j^2`, **with** the factor :math:`\tfrac12`, so
  that the gradient of :math:`\lambda\cdot` ``l2_penalty`` is :math:`\lambda w`: exactly what
  ``torch.optim.SGD(weight_decay=λ)`` adds to the gradient;
* :func:`l1_penalty` — :math:`\sum_j |w_j|` (autograd's subgradient at 0 is 0);
* :func:`soft_threshold_` — the proximal step of :math:`\tau\|w\|_1`,
  :math:`w \leftarrow \operatorname{sign}(w)\max(|w|-\tau, 0)`, in place; elementwise equal to
  :func:`torch.nn.functional.softshrink`;
* :func:`max_norm_` — cap the L2 norm of each slice along ``dim`` (each row of a
  ``Linear`` weight: the weights into one unit), in place, equal to :func:`torch.renorm`.

``params`` is one tensor or an iterable of tensors (``model.parameters()``).
"""

from __future__ import annotations

from collections.abc import Iterable

import torch

from dlcore import _checks

__all__ = ["l1_penalty", "l2_penalty", "soft_threshold_", "max_norm_"]

# torch.renorm divides by (norm + 1e-7) (aten/src/ATen/native/Normalization / ReduceOps)
_RENORM_EPS = 1e-7


def _params(params, name: str = "params") -> list[torch.Tensor]:
    if isinstance(params, torch.Tensor):
        params = [params]
    elif not isinstance(params, Iterable) or isinstance(params, (str, bytes)):
        raise TypeError(f"`{name}` must be a tensor or an iterable of tensors, "
                        f"got {type(params).__name__}")
    params = list(params)
    if not params:
        raise ValueError(f"`{name}` must hold at least one tensor, got none")
    for i, p in enumerate(params):
        _checks.tensor(p, f"{name}[{i}]", floating=True, allow_empty=True)
    return params


def l2_penalty(params) -> torch.Tensor:
    r"""Half the squared L2 norm of all parameters together.

    .. math:: \Omega_2(w) = \tfrac12 \|w\|_2^2 = \tfrac12 \sum_j w_j^2,\qquad
        \nabla\bigl(\lambda\,\Omega_2\bigr) = \lambda w .

    Adding ``lam * l2_penalty(model.parameters())`` to the loss gives, for plain SGD, the
    same step as ``SGD(weight_decay=lam)``; for Adam it does not (see AdamW).

    Args:
        params: a floating tensor or an iterable of them.

    Returns:
        torch.Tensor: a scalar on the first tensor's device, differentiable.

    Examples:
        >>> float(l2_penalty([torch.tensor([3.0, 4.0]), torch.tensor([1.0])]))
        13.0
    """
    params = _params(params)
    return 0.5 * sum(p.square().sum() for p in params)


def l1_penalty(params) -> torch.Tensor:
    r"""The L1 norm of all parameters together.

    .. math:: \Omega_1(w) = \|w\|_1 = \sum_j |w_j|,\qquad
        \partial\Omega_1(w) \ni \operatorname{sign}(w_j)\ \text{(0 at } w_j = 0).

    A gradient step on it moves every weight by :math:`\eta\lambda` towards 0 and past it,
    so weights oscillate around 0 instead of reaching it; :func:`soft_threshold_` is the
    step that lands on exact zeros.

    Args:
        params: a floating tensor or an iterable of them.

    Returns:
        torch.Tensor: a scalar, differentiable (subgradient 0 at 0, as ``torch.abs``).

    Examples:
        >>> float(l1_penalty([torch.tensor([3.0, -4.0]), torch.tensor([1.0])]))
        8.0
    """
    params = _params(params)
    return sum(p.abs().sum() for p in params)


@torch.no_grad()
def soft_threshold_(params, threshold: float):
    r"""Proximal step of the L1 penalty, in place:

    .. math::
        \operatorname{prox}_{\tau\|\cdot\|_1}(w) = \arg\min_u \tfrac12\|u-w\|^2 + \tau\|u\|_1
        = \operatorname{sign}(w)\max(|w| - \tau,\ 0).

    After a gradient step on the data loss with learning rate :math:`\eta`, calling it with
    :math:`\tau = \eta\lambda` is one step of proximal gradient descent (ISTA) on
    :math:`f(w) + \lambda\|w\|_1`; every weight with :math:`|w| \le \tau` becomes exactly 0.

    Args:
        params: a floating tensor or an iterable of them; modified in place (under
            ``no_grad``, so leaf parameters are allowed).
        threshold: :math:`\tau \ge 0`.

    Returns:
        The ``params`` as given (a tensor or the list of tensors).

    Examples:
        >>> w = torch.tensor([-1.5, -0.2, 0.0, 0.3, 2.0])
        >>> soft_threshold_(w, 0.5)
        tensor([-1.0000,  0.0000,  0.0000,  0.0000,  1.5000])
    """
    single = isinstance(params, torch.Tensor)
    params = _params(params)
    tau = _checks.number(threshold, "threshold", low=0)
    for p in params:
        # sign(w)·max(|w| - τ, 0), written as w - clamp(w, -τ, τ) (no sign, no product)
        p.sub_(p.clamp(-tau, tau))
    return params[0] if single else params


@torch.no_grad()
def max_norm_(weight: torch.Tensor, max_norm: float, *, dim: int = 0) -> torch.Tensor:
    r"""Cap the L2 norm of every slice of ``weight`` along ``dim`` at ``max_norm``, in place.

    .. math::
        w_i \leftarrow w_i \cdot \begin{cases} c / (\|w_i\|_2 + 10^{-7}) & \|w_i\|_2 > c \\
        1 & \text{otherwise} \end{cases}

    For an ``nn.Linear`` weight ``(out, in)`` and ``dim=0``, :math:`w_i` is the vector of
    weights into unit :math:`i`, the constraint of Srebro & Shraibman (2005) used with
    dropout by Srivastava et al. (2014, §5.1). Apply it after each ``optimizer.step()``.
    The :math:`10^{-7}` is torch's, so the result equals
    ``torch.renorm(weight, p=2, dim=dim, maxnorm=max_norm)``.

    Args:
        weight: floating tensor, at least 2-dimensional; modified in place.
        max_norm: :math:`c > 0`.
        dim: the axis whose slices are capped (default 0: rows).

    Returns:
        torch.Tensor: ``weight``.

    Examples:
        >>> W = torch.tensor([[3.0, 4.0], [0.3, 0.4]])
        >>> max_norm_(W, 1.0)
        tensor([[0.6000, 0.8000],
                [0.3000, 0.4000]])
    """
    _checks.tensor(weight, "weight", floating=True, allow_empty=True)
    if weight.ndim < 2:
        raise ValueError(f"`weight` must be at least 2-dimensional (as torch.renorm), got "
                         f"shape {tuple(weight.shape)}")
    c = _checks.number(max_norm, "max_norm", low=0, low_open=True)
    d = _checks.dim_index(dim, weight)
    others = [k for k in range(weight.ndim) if k != d]
    norms = torch.linalg.vector_norm(weight, 2, dim=others, keepdim=True)
    scale = torch.where(norms > c, c / (norms + _RENORM_EPS), torch.ones_like(norms))
    return weight.mul_(scale)
