r"""Adagrad: the update function :func:`adagrad_update` and its class :class:`Adagrad` (chapter
Optimizers, section "Adaptive methods", AdaGrad)."""

from __future__ import annotations

import torch
from torch import Tensor

from dlcore import _checks
from dlcore.optim._common import _check_step, _check_tensors, _Optimizer, _own, _with_l2


def _check_adagrad(lr, lr_decay, weight_decay, eps) -> None:
    _checks.number(lr, "lr", low=0)
    _checks.number(lr_decay, "lr_decay", low=0)
    _checks.number(weight_decay, "weight_decay", low=0)
    _checks.number(eps, "eps", low=0)


def adagrad_update(param: Tensor, grad: Tensor, sum_sq: Tensor, *, step: int, lr: float,
                   lr_decay: float = 0.0, weight_decay: float = 0.0, eps: float = 1e-10,
                   inplace: bool = False) -> tuple[Tensor, Tensor]:
    r"""One Adagrad step on one parameter; the equations are in :class:`Adagrad`.

    Args:
        param, grad: :math:`\theta_{t-1}` and its gradient (never modified).
        sum_sq: :math:`G_{t-1}`, the running sum of squared gradients (state ``"sum"``).
        step: :math:`t \ge 1`, the number of this step.
        lr, lr_decay, weight_decay, eps: as in :class:`Adagrad`.
        inplace: overwrite ``param`` and ``sum_sq`` instead of returning new tensors.

    Returns:
        ``(param, sum_sq)``: :math:`\theta_t, G_t`.

    Examples:
        >>> adagrad_update(torch.tensor([1.0]), torch.tensor([2.0]), torch.zeros(1), step=1,
        ...                lr=0.1)
        (tensor([0.9000]), tensor([4.]))
    """
    _check_tensors(param, grad, sum_sq=sum_sq)
    _check_step(step)
    _check_adagrad(lr, lr_decay, weight_decay, eps)
    param, G = _own(inplace, param, sum_sq)
    # g_t = ∇f(θ_{t-1}) + λ θ_{t-1}
    g = _with_l2(grad, param, weight_decay)
    # η_t = η / (1 + (t - 1) δ)   (PyTorch's lr_decay δ; not in Duchi et al.)
    lr_t = lr / (1 + (step - 1) * lr_decay)
    # G_t = G_{t-1} + g_t²
    G.addcmul_(g, g, value=1)
    # θ_t = θ_{t-1} - η_t g_t / (√G_t + ε)
    param.addcdiv_(g, G.sqrt().add_(eps), value=-lr_t)
    return param, G


class Adagrad(_Optimizer):
    r"""Adagrad: per-coordinate step sizes from the sum of all past squared gradients.

    .. math::
        \begin{aligned}
        g_t &= \nabla f(\theta_{t-1}) + \lambda\,\theta_{t-1} \\
        \eta_t &= \eta \,/\, \big(1 + (t - 1)\,\delta\big) \\
        G_t &= G_{t-1} + g_t^2, \qquad G_0 = G_{\text{init}} \\
        \theta_t &= \theta_{t-1} - \eta_t\, \frac{g_t}{\sqrt{G_t} + \epsilon}
        \end{aligned}

    Args:
        params: parameters or parameter groups.
        lr: :math:`\eta \ge 0` (default ``1e-2``).
        lr_decay: :math:`\delta \ge 0`.
        weight_decay: L2 coefficient :math:`\lambda \ge 0`.
        initial_accumulator_value: :math:`G_{\text{init}} \ge 0`, the start of the sum.
        eps: :math:`\epsilon \ge 0` (default ``1e-10``), added *after* the square root.

    Notes:
        Duchi et al. have neither ``lr_decay`` (PyTorch's addition: the rate
        :math:`\eta/(1 + (t-1)\delta)` decays like :math:`1/t`) nor an initial accumulator.
        ``torch.optim.Adagrad`` creates its state for every parameter in the constructor; this
        class creates it at a parameter's first gradient, so a parameter whose ``.grad`` stays
        ``None`` has no state. Omitted: ``foreach``, ``maximize``, ``differentiable``, ``fused``.

    References:
        Duchi, Hazan, Singer, *Adaptive Subgradient Methods for Online Learning and Stochastic
        Optimization*, JMLR 2011.

    Examples:
        >>> w = torch.tensor([1.0, -2.0], requires_grad=True)
        >>> opt = Adagrad([w], lr=0.5)
        >>> (w ** 2).sum().backward()
        >>> _ = opt.step()
        >>> w.detach()  # the first step has length lr in every coordinate
        tensor([ 0.5000, -1.5000])
    """

    def __init__(self, params, lr: float = 1e-2, lr_decay: float = 0, weight_decay: float = 0,
                 initial_accumulator_value: float = 0, eps: float = 1e-10) -> None:
        _checks.number(initial_accumulator_value, "initial_accumulator_value", low=0)
        defaults = dict(lr=lr, lr_decay=lr_decay, weight_decay=weight_decay,
                        initial_accumulator_value=initial_accumulator_value, eps=eps)
        super().__init__(params, defaults)

    def _check_group(self, group: dict) -> None:
        _check_adagrad(group["lr"], group["lr_decay"], group["weight_decay"], group["eps"])
        _checks.number(group["initial_accumulator_value"], "initial_accumulator_value", low=0)

    def _update(self, p, grad, state, group):
        if not state:
            state["step"] = 0
            state["sum"] = torch.full_like(p, group["initial_accumulator_value"],
                                           memory_format=torch.preserve_format)
        step = int(state["step"]) + 1
        adagrad_update(p, grad, state["sum"], step=step, lr=group["lr"],
                       lr_decay=group["lr_decay"], weight_decay=group["weight_decay"],
                       eps=group["eps"], inplace=True)
        state["step"] = step
