r"""Stochastic gradient descent with momentum, dampening and Nesterov momentum: the update
function :func:`sgd_update` and its class :class:`SGD` (chapter Optimizers, section "Momentum and
Nesterov")."""

from __future__ import annotations

import torch  # noqa: F401 (the doctests use it)
from torch import Tensor

from dlcore import _checks
from dlcore.optim._common import _check_tensors, _Optimizer, _own, _with_l2


def _check_sgd(lr, momentum, dampening, weight_decay, nesterov) -> None:
    _checks.number(lr, "lr", low=0)
    _checks.number(momentum, "momentum", low=0)
    _checks.number(dampening, "dampening", low=0, high=1)
    _checks.number(weight_decay, "weight_decay", low=0)
    if _checks.flag(nesterov, "nesterov") and (momentum <= 0 or dampening != 0):
        raise ValueError(
            "`nesterov=True` needs `momentum` > 0 and `dampening` = 0, "
            f"got momentum={momentum} and dampening={dampening}"
        )


def sgd_update(param: Tensor, grad: Tensor, momentum_buffer: Tensor | None = None, *,
               lr: float, momentum: float = 0.0, dampening: float = 0.0,
               weight_decay: float = 0.0, nesterov: bool = False, inplace: bool = False
               ) -> tuple[Tensor, Tensor | None]:
    r"""One SGD step on one parameter; the equations are in :class:`SGD`.

    Args:
        param: the parameter :math:`\theta_{t-1}`.
        grad: its gradient :math:`\nabla f(\theta_{t-1})`, same shape; never modified.
        momentum_buffer: :math:`b_{t-1}`, or ``None`` on the first step (then :math:`b_1 = g_1`).
        lr, momentum, dampening, weight_decay, nesterov: as in :class:`SGD`.
        inplace: overwrite ``param`` and ``momentum_buffer`` instead of returning new tensors
            (what :class:`SGD` does with its own buffers; see the module notes).

    Returns:
        ``(param, momentum_buffer)``: :math:`\theta_t` and :math:`b_t` (``None`` when
        ``momentum == 0``).

    Examples:
        >>> theta, b = sgd_update(torch.tensor([1.0]), torch.tensor([2.0]), lr=0.1, momentum=0.9)
        >>> theta, b
        (tensor([0.8000]), tensor([2.]))
    """
    _check_tensors(param, grad, momentum_buffer=momentum_buffer)
    _check_sgd(lr, momentum, dampening, weight_decay, nesterov)
    param, b = _own(inplace, param, momentum_buffer)
    # g_t = ∇f(θ_{t-1}) + λ θ_{t-1}
    g = _with_l2(grad, param, weight_decay)
    d = g
    if momentum != 0:
        if b is None:
            # b_1 = g_1: PyTorch starts the buffer undamped (a copy: g may be the caller's grad)
            b = g.clone()
        else:
            # b_t = μ b_{t-1} + (1 - τ) g_t
            b.mul_(momentum).add_(g, alpha=1 - dampening)
        # d_t = g_t + μ b_t (Nesterov: look ahead along the buffer) or d_t = b_t
        d = g.add(b, alpha=momentum) if nesterov else b
    # θ_t = θ_{t-1} - η d_t
    param.add_(d, alpha=-lr)
    return param, (b if momentum != 0 else None)


class SGD(_Optimizer):
    r"""Stochastic gradient descent with momentum, dampening, Nesterov momentum and L2 decay.

    .. math::
        \begin{aligned}
        g_t &= \nabla f(\theta_{t-1}) + \lambda\,\theta_{t-1} \\
        b_t &= \begin{cases} g_t & t = 1 \\ \mu\, b_{t-1} + (1 - \tau)\, g_t & t > 1 \end{cases}\\
        d_t &= \begin{cases} g_t + \mu\, b_t & \text{Nesterov} \\ b_t & \text{otherwise}
               \end{cases} \qquad (d_t = g_t \text{ if } \mu = 0) \\
        \theta_t &= \theta_{t-1} - \eta\, d_t
        \end{aligned}

    Args:
        params: parameters, or dicts defining parameter groups, as for :mod:`torch.optim`.
        lr: learning rate :math:`\eta \ge 0` (torch's default ``1e-3``).
        momentum: momentum factor :math:`\mu \ge 0`.
        dampening: :math:`\tau \in [0, 1]`, scales the new gradient in the buffer.
        weight_decay: L2 coefficient :math:`\lambda \ge 0`.
        nesterov: Nesterov momentum; needs :math:`\mu > 0` and :math:`\tau = 0`.

    Notes:
        *Momentum form.* PyTorch, and this class, accumulate raw gradients,
        :math:`b \leftarrow \mu b + g`, and multiply by :math:`\eta` afterwards. Polyak (1964)
        and Sutskever et al. (2013) keep a velocity :math:`v \leftarrow \mu v - \eta g`,
        :math:`\theta \leftarrow \theta + v`. With a constant learning rate the iterates are the
        same (:math:`v = -\eta b`); after a learning-rate change they differ, because PyTorch's
        buffer applies the *new* rate to the whole history. The EMA form
        :math:`v \leftarrow \beta v + (1 - \beta) g`, :math:`\theta \leftarrow \theta - \alpha v`
        (Ng's course) gives exactly the iterates of this class with ``momentum=β``,
        ``dampening=0`` and ``lr=α(1 - β)``. Setting ``dampening = momentum`` instead is *not*
        equivalent: PyTorch starts the buffer undamped, :math:`b_1 = g_1`, so the first step is
        :math:`1/(1 - \beta)` times longer and the whole trajectory differs.

        *Nesterov.* :math:`d_t = g_t + \mu b_t` is the reformulation of Bengio et al. (2013)
        that avoids evaluating the gradient at the look-ahead point.

        *Omitted from torch's signature:* ``maximize``, ``foreach``, ``differentiable``,
        ``fused``.

    References:
        Polyak (1964); Sutskever, Martens, Dahl, Hinton, *On the importance of initialization
        and momentum in deep learning*, ICML 2013.

    Examples:
        >>> w = torch.tensor([1.0, -2.0], requires_grad=True)
        >>> opt = SGD([w], lr=0.1, momentum=0.9)
        >>> for _ in range(2):
        ...     opt.zero_grad()
        ...     (w ** 2).sum().backward()  # gradient 2w
        ...     _ = opt.step()
        >>> w.detach()  # 1 - 0.2 = 0.8, then 0.8 - 0.1·(0.9·2 + 1.6) = 0.46
        tensor([ 0.4600, -0.9200])
    """

    def __init__(self, params, lr: float = 1e-3, momentum: float = 0, dampening: float = 0,
                 weight_decay: float = 0, nesterov: bool = False) -> None:
        defaults = dict(lr=lr, momentum=momentum, dampening=dampening,
                        weight_decay=weight_decay, nesterov=nesterov)
        super().__init__(params, defaults)

    def _check_group(self, group: dict) -> None:
        _check_sgd(group["lr"], group["momentum"], group["dampening"], group["weight_decay"],
                   group["nesterov"])

    def _update(self, p, grad, state, group):
        _, b = sgd_update(
            p, grad, state.get("momentum_buffer"), lr=group["lr"], momentum=group["momentum"],
            dampening=group["dampening"], weight_decay=group["weight_decay"],
            nesterov=group["nesterov"], inplace=True)
        if b is not None:  # like torch, plain SGD keeps no state
            state["momentum_buffer"] = b
