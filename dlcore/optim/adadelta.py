r"""Adadelta: the update function :func:`adadelta_update` and its class :class:`Adadelta`
(chapter Optimizers, section "Adaptive methods", AdaDelta)."""

from __future__ import annotations

import torch  # noqa: F401 (the doctests use it)
from torch import Tensor

from dlcore import _checks
from dlcore.optim._common import _check_tensors, _Optimizer, _own, _with_l2, _zeros


def _check_adadelta(lr, rho, eps, weight_decay) -> None:
    _checks.number(lr, "lr", low=0)
    _checks.number(rho, "rho", low=0, high=1)
    _checks.number(eps, "eps", low=0)
    _checks.number(weight_decay, "weight_decay", low=0)


def adadelta_update(param: Tensor, grad: Tensor, square_avg: Tensor, acc_delta: Tensor, *,
                    lr: float = 1.0, rho: float = 0.9, eps: float = 1e-6,
                    weight_decay: float = 0.0, inplace: bool = False
                    ) -> tuple[Tensor, Tensor, Tensor]:
    r"""One Adadelta step on one parameter; the equations are in :class:`Adadelta`.

    Args:
        param, grad: :math:`\theta_{t-1}` and its gradient (never modified).
        square_avg: :math:`E[g^2]_{t-1}`.
        acc_delta: :math:`E[\Delta\theta^2]_{t-1}`.
        lr, rho, eps, weight_decay: as in :class:`Adadelta`.
        inplace: overwrite ``param`` and the state instead of returning new tensors.

    Returns:
        ``(param, square_avg, acc_delta)``.

    Examples:
        >>> theta, *_ = adadelta_update(torch.tensor([1.0]), torch.tensor([2.0]),
        ...                             torch.zeros(1), torch.zeros(1), eps=1e-2)
        >>> theta  # the first step is tiny: √(0 + ε)/√(0.4 + ε)·2
        tensor([0.6877])
    """
    _check_tensors(param, grad, square_avg=square_avg, acc_delta=acc_delta)
    _check_adadelta(lr, rho, eps, weight_decay)
    param, v, u = _own(inplace, param, square_avg, acc_delta)
    # g_t = ∇f(θ_{t-1}) + λ θ_{t-1}
    g = _with_l2(grad, param, weight_decay)
    # E[g²]_t = ρ E[g²]_{t-1} + (1 - ρ) g_t²
    v.mul_(rho).addcmul_(g, g, value=1 - rho)
    # Δ_t = √(E[Δθ²]_{t-1} + ε) / √(E[g²]_t + ε) · g_t   (units of θ: the paper needs no lr)
    delta = u.add(eps).sqrt_().div_(v.add(eps).sqrt_()).mul_(g)
    # E[Δθ²]_t = ρ E[Δθ²]_{t-1} + (1 - ρ) Δ_t²
    u.mul_(rho).addcmul_(delta, delta, value=1 - rho)
    # θ_t = θ_{t-1} - η Δ_t   (η = 1 is the paper's method)
    param.add_(delta, alpha=-lr)
    return param, v, u


class Adadelta(_Optimizer):
    r"""Adadelta: step sizes in the units of :math:`\theta`, from two moving averages.

    .. math::
        \begin{aligned}
        g_t &= \nabla f(\theta_{t-1}) + \lambda\,\theta_{t-1} \\
        E[g^2]_t &= \rho\, E[g^2]_{t-1} + (1 - \rho)\, g_t^2 \\
        \Delta_t &= \frac{\sqrt{E[\Delta\theta^2]_{t-1} + \epsilon}}
                         {\sqrt{E[g^2]_t + \epsilon}}\; g_t \\
        E[\Delta\theta^2]_t &= \rho\, E[\Delta\theta^2]_{t-1} + (1 - \rho)\, \Delta_t^2 \\
        \theta_t &= \theta_{t-1} - \eta\, \Delta_t
        \end{aligned}

    Both averages start at zero.

    Args:
        params: parameters or parameter groups.
        lr: :math:`\eta \ge 0`, default ``1.0``.
        rho: decay :math:`\rho \in [0, 1]` (default ``0.9``).
        eps: :math:`\epsilon \ge 0` (default ``1e-6``), *inside* both square roots.
        weight_decay: L2 coefficient :math:`\lambda \ge 0`.

    Notes:
        Zeiler's method has no learning rate: :math:`\eta = 1` (the default) is the paper.
        PyTorch's ``lr`` simply scales :math:`\Delta_t`. Note ε sits inside the roots here, unlike
        RMSprop and Adam; it also sets the size of the first steps,
        :math:`\approx \sqrt{\epsilon}/\sqrt{(1-\rho)}`. Omitted: ``foreach``, ``capturable``,
        ``maximize``, ``differentiable``.

    References:
        Zeiler, *ADADELTA: An Adaptive Learning Rate Method*, arXiv:1212.5701, 2012.

    Examples:
        >>> w = torch.tensor([1.0, -2.0], requires_grad=True)
        >>> opt = Adadelta([w])
        >>> (w ** 2).sum().backward()
        >>> _ = opt.step()
        >>> w.detach()  # √1e-6/√(0.1·g²)·g ≈ 0.00316 per coordinate
        tensor([ 0.9968, -1.9968])
    """

    def __init__(self, params, lr: float = 1.0, rho: float = 0.9, eps: float = 1e-6,
                 weight_decay: float = 0) -> None:
        defaults = dict(lr=lr, rho=rho, eps=eps, weight_decay=weight_decay)
        super().__init__(params, defaults)

    def _check_group(self, group: dict) -> None:
        _check_adadelta(group["lr"], group["rho"], group["eps"], group["weight_decay"])

    def _update(self, p, grad, state, group):
        if not state:
            state["step"] = 0
            state["square_avg"] = _zeros(p)
            state["acc_delta"] = _zeros(p)
        adadelta_update(
            p, grad, state["square_avg"], state["acc_delta"], lr=group["lr"], rho=group["rho"],
            eps=group["eps"], weight_decay=group["weight_decay"], inplace=True)
        state["step"] = int(state["step"]) + 1
