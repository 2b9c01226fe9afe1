r"""Gradient clipping: :func:`clip_grad_norm` and :func:`clip_grad_value`, equal to
:mod:`torch.nn.utils`' ``clip_grad_norm_`` and ``clip_grad_value_`` (chapter Optimizers, section
"Learning-rate schedules and gradient clipping")."""

from __future__ import annotations

import math
from collections.abc import Iterable

import torch
from torch import Tensor

from dlcore import _checks


def _grads(parameters, name: str = "parameters") -> list[Tensor]:
    """The existing ``.grad`` tensors of a tensor or an iterable of tensors."""
    if isinstance(parameters, Tensor):
        parameters = [parameters]
    elif not isinstance(parameters, Iterable):
        raise TypeError(f"`{name}` must be a tensor or an iterable of tensors, "
                        f"got {type(parameters).__name__}")
    params = list(parameters)
    for p in params:
        _checks.tensor(p, name, allow_empty=True)
    return [p.grad for p in params if p.grad is not None]


def clip_grad_norm(parameters, max_norm: float, norm_type: float = 2.0) -> Tensor:
    r"""Rescale gradients so that their joint norm is at most ``max_norm``; **in place**.

    .. math::
        \|g\|_p = \Big\| \big(\|g_1\|_p, \dots, \|g_k\|_p\big) \Big\|_p, \qquad
        g_i \leftarrow g_i \cdot \min\Big(1, \frac{c}{\|g\|_p + 10^{-6}}\Big)

    All gradients are treated as one long vector, so their directions (and the update's
    direction) are kept; only the length is capped at :math:`c` = ``max_norm``. Equal to
    :func:`torch.nn.utils.clip_grad_norm_` (the same :math:`10^{-6}`, which avoids dividing
    by 0).

    Args:
        parameters: a tensor or an iterable of tensors; those whose ``.grad`` is ``None`` are
            ignored.
        max_norm: :math:`c \ge 0`.
        norm_type: :math:`p > 0`, or ``float("inf")`` for the largest absolute entry.

    Returns:
        The total norm :math:`\|g\|_p` *before* clipping, a 0-d tensor (``tensor(0.)`` when no
        parameter has a gradient).

    Notes:
        Unlike the rest of dlcore, this function modifies its input: the ``.grad`` tensors are
        scaled in place, as in PyTorch, because the optimizer's next ``step`` reads them.

    Examples:
        >>> w = torch.zeros(2, requires_grad=True)
        >>> w.grad = torch.tensor([3.0, 4.0])
        >>> clip_grad_norm([w], max_norm=1.0)
        tensor(5.)
        >>> w.grad
        tensor([0.6000, 0.8000])
    """
    grads = _grads(parameters)
    _checks.number(max_norm, "max_norm", low=0)
    if not (isinstance(norm_type, (int, float)) and norm_type == math.inf):
        _checks.number(norm_type, "norm_type", low=0, low_open=True)
    if not grads:
        return torch.tensor(0.0)
    # the norm of the per-tensor norms = the norm of everything concatenated, without the copy
    device = grads[0].device
    norms = [torch.linalg.vector_norm(g, norm_type).to(device) for g in grads]
    total = torch.linalg.vector_norm(torch.stack(norms), norm_type)
    # min(1, c / (‖g‖ + 1e-6)): shrink only, never enlarge
    scale = torch.clamp(max_norm / (total + 1e-6), max=1.0)
    for g in grads:
        g.mul_(scale.to(g.device))
    return total


def clip_grad_value(parameters, clip_value: float) -> None:
    r"""Clip every gradient entry into :math:`[-c, c]`; **in place**.

    .. math:: g_i \leftarrow \max(-c, \min(c, g_i))

    Equal to :func:`torch.nn.utils.clip_grad_value_`. Unlike :func:`clip_grad_norm` it changes
    the gradient's direction.

    Args:
        parameters: a tensor or an iterable of tensors; ``.grad is None`` ones are ignored.
        clip_value: :math:`c \ge 0`.

    Returns:
        ``None``, like PyTorch. The ``.grad`` tensors are modified in place.

    Examples:
        >>> w = torch.zeros(3, requires_grad=True)
        >>> w.grad = torch.tensor([-5.0, 0.5, 2.0])
        >>> clip_grad_value(w, 1.0)
        >>> w.grad
        tensor([-1.0000,  0.5000,  1.0000])
    """
    grads = _grads(parameters)
    _checks.number(clip_value, "clip_value", low=0)
    for g in grads:
        g.clamp_(-clip_value, clip_value)
