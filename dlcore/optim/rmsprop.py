r"""RMSprop, plain and centered, with momentum: the update function :func:`rmsprop_update` and
its class :class:`RMSprop` (chapter Optimizers, section "Adaptive methods", RMSprop)."""

from __future__ import annotations

import torch  # noqa: F401 (the doctests use it)
from torch import Tensor

from dlcore import _checks
from dlcore.optim._common import _check_tensors, _Optimizer, _own, _with_l2, _zeros


def _check_rmsprop(lr, alpha, eps, weight_decay, momentum, centered) -> None:
    _checks.number(lr, "lr", low=0)
    _checks.number(alpha, "alpha", low=0, high=1)
    _checks.number(eps, "eps", low=0)
    _checks.number(weight_decay, "weight_decay", low=0)
    _checks.number(momentum, "momentum", low=0)
    _checks.flag(centered, "centered")


def rmsprop_update(param: Tensor, grad: Tensor, square_avg: Tensor,
                   grad_avg: Tensor | None = None, momentum_buffer: Tensor | None = None, *,
                   lr: float, alpha: float = 0.99, eps: float = 1e-8, weight_decay: float = 0.0,
                   momentum: float = 0.0, centered: bool = False, inplace: bool = False
                   ) -> tuple[Tensor, Tensor, Tensor | None, Tensor | None]:
    r"""One RMSprop step on one parameter; the equations are in :class:`RMSprop`.

    Args:
        param, grad: :math:`\theta_{t-1}` and its gradient (never modified).
        square_avg: :math:`v_{t-1}`, the moving average of squared gradients.
        grad_avg: :math:`\bar g_{t-1}`, the moving average of gradients (needed if ``centered``).
        momentum_buffer: :math:`b_{t-1}` (needed if ``momentum > 0``).
        lr, alpha, eps, weight_decay, momentum, centered: as in :class:`RMSprop`.
        inplace: overwrite ``param`` and the state instead of returning new tensors.

    Returns:
        ``(param, square_avg, grad_avg, momentum_buffer)``; the last two are passed through
        (``None`` stays ``None``) when not used.

    Examples:
        >>> rmsprop_update(torch.tensor([1.0]), torch.tensor([2.0]), torch.zeros(1), lr=0.01,
        ...                alpha=0.75)
        (tensor([0.9800]), tensor([1.]), None, None)
    """
    _check_tensors(param, grad, square_avg=square_avg, grad_avg=grad_avg,
                   momentum_buffer=momentum_buffer)
    _check_rmsprop(lr, alpha, eps, weight_decay, momentum, centered)
    if centered and grad_avg is None:
        raise ValueError("`grad_avg` must be a tensor when `centered=True`, got None")
    if momentum > 0 and momentum_buffer is None:
        raise ValueError(f"`momentum_buffer` must be a tensor when momentum={momentum}, got None")
    param, v, g_avg, b = _own(inplace, param, square_avg, grad_avg, momentum_buffer)
    # g_t = ∇f(θ_{t-1}) + λ θ_{t-1}
    g = _with_l2(grad, param, weight_decay)
    # v_t = α v_{t-1} + (1 - α) g_t²
    v.mul_(alpha).addcmul_(g, g, value=1 - alpha)
    if centered:
        # ḡ_t = α ḡ_{t-1} + (1 - α) g_t
        g_avg.lerp_(g, 1 - alpha)
        # s_t = √(v_t - ḡ_t²) + ε: an estimate of the gradient's standard deviation
        denom = v.addcmul(g_avg, g_avg, value=-1).sqrt_().add_(eps)
    else:
        # s_t = √v_t + ε: ε outside the root, as in PyTorch (TensorFlow puts it inside)
        denom = v.sqrt().add_(eps)
    if momentum > 0:
        # b_t = μ b_{t-1} + g_t / s_t
        b.mul_(momentum).addcdiv_(g, denom)
        # θ_t = θ_{t-1} - η b_t
        param.add_(b, alpha=-lr)
    else:
        # θ_t = θ_{t-1} - η g_t / s_t
        param.addcdiv_(g, denom, value=-lr)
    return param, v, g_avg, b


class RMSprop(_Optimizer):
    r"""RMSprop: divide the gradient by a moving root-mean-square of recent gradients.

    .. math::
        \begin{aligned}
        g_t &= \nabla f(\theta_{t-1}) + \lambda\,\theta_{t-1} \\
        v_t &= \alpha\, v_{t-1} + (1 - \alpha)\, g_t^2 \\
        \bar g_t &= \alpha\, \bar g_{t-1} + (1 - \alpha)\, g_t, \qquad
        s_t = \begin{cases} \sqrt{v_t - \bar g_t^2} + \epsilon & \text{centered} \\
                            \sqrt{v_t} + \epsilon & \text{otherwise} \end{cases} \\
        b_t &= \mu\, b_{t-1} + g_t / s_t, \qquad
        \theta_t = \theta_{t-1} - \eta\, b_t \qquad
        (\mu = 0:\ \theta_t = \theta_{t-1} - \eta\, g_t / s_t)
        \end{aligned}

    All averages start at zero.

    Args:
        params: parameters or parameter groups.
        lr: :math:`\eta \ge 0` (default ``1e-2``).
        alpha: smoothing constant :math:`\alpha \in [0, 1]` (default ``0.99``).
        eps: :math:`\epsilon \ge 0` (default ``1e-8``).
        weight_decay: L2 coefficient :math:`\lambda \ge 0`.
        momentum: :math:`\mu \ge 0`.
        centered: normalise by an estimate of the gradient's variance instead of its second
            moment (Graves, 2013).

    Notes:
        *ε placement.* PyTorch adds :math:`\epsilon` outside the root, :math:`\sqrt{v} + \epsilon`;
        TensorFlow/Keras use :math:`\sqrt{v + \epsilon}`. With the defaults the difference only
        shows when :math:`v` is tiny. Hinton's lecture (6e) has no :math:`\epsilon` and no bias
        correction: the zero start makes the first steps :math:`1/\sqrt{1-\alpha}` times
        larger than :math:`\eta`, 10× with PyTorch's :math:`\alpha = 0.99` and about 3.2× with
        the lecture's :math:`\alpha = 0.9`. Omitted: ``capturable``, ``foreach``, ``maximize``,
        ``differentiable``.

    References:
        Tieleman and Hinton, *Lecture 6.5 — RMSprop*, COURSERA: Neural Networks for Machine
        Learning, 2012; Graves, *Generating Sequences With Recurrent Neural Networks*, 2013.

    Examples:
        >>> w = torch.tensor([1.0, -2.0], requires_grad=True)
        >>> opt = RMSprop([w], lr=0.01)
        >>> (w ** 2).sum().backward()
        >>> _ = opt.step()
        >>> w.detach()  # first step 0.01/√(1 - 0.99) = 0.1 per coordinate
        tensor([ 0.9000, -1.9000])
    """

    def __init__(self, params, lr: float = 1e-2, alpha: float = 0.99, eps: float = 1e-8,
                 weight_decay: float = 0, momentum: float = 0, centered: bool = False) -> None:
        defaults = dict(lr=lr, alpha=alpha, eps=eps, weight_decay=weight_decay,
                        momentum=momentum, centered=centered)
        super().__init__(params, defaults)

    def _check_group(self, group: dict) -> None:
        _check_rmsprop(group["lr"], group["alpha"], group["eps"], group["weight_decay"],
                       group["momentum"], group["centered"])

    def _update(self, p, grad, state, group):
        if not state:
            state["step"] = 0
            state["square_avg"] = _zeros(p)
        # buffers appear when first needed, so a group switched on later still works
        if group["momentum"] > 0 and "momentum_buffer" not in state:
            state["momentum_buffer"] = _zeros(p)
        if group["centered"] and "grad_avg" not in state:
            state["grad_avg"] = _zeros(p)
        rmsprop_update(
            p, grad, state["square_avg"], state.get("grad_avg"), state.get("momentum_buffer"),
            lr=group["lr"], alpha=group["alpha"], eps=group["eps"],
            weight_decay=group["weight_decay"], momentum=group["momentum"],
            centered=group["centered"], inplace=True)
        state["step"] = int(state["step"]) + 1
