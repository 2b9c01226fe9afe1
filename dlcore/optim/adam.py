r"""Adam, AMSGrad and AdamW: the update function :func:`adam_update`, the classes :class:`Adam`
and :class:`AdamW`, and :func:`_init_moments`, the state they (and AdaBound) create (chapter
Optimizers, section "Adaptive methods": Adam, AMSGrad, AdamW)."""

from __future__ import annotations

import math

import torch
from torch import Tensor

from dlcore import _checks
from dlcore.optim._common import (
    _check_betas,
    _check_step,
    _check_tensors,
    _Optimizer,
    _own,
    _with_l2,
    _zeros,
)


def _check_adam(lr, betas, eps, weight_decay, amsgrad, decoupled_weight_decay) -> None:
    _checks.number(lr, "lr", low=0)
    _check_betas(betas)
    _checks.number(eps, "eps", low=0)
    _checks.number(weight_decay, "weight_decay", low=0)
    _checks.flag(amsgrad, "amsgrad")
    _checks.flag(decoupled_weight_decay, "decoupled_weight_decay")


def adam_update(param: Tensor, grad: Tensor, exp_avg: Tensor, exp_avg_sq: Tensor,
                max_exp_avg_sq: Tensor | None = None, *, step: int, lr: float = 1e-3,
                beta1: float = 0.9, beta2: float = 0.999, eps: float = 1e-8,
                weight_decay: float = 0.0, amsgrad: bool = False,
                decoupled_weight_decay: bool = False, inplace: bool = False
                ) -> tuple[Tensor, Tensor, Tensor, Tensor | None]:
    r"""One Adam / AMSGrad / AdamW step on one parameter; see :class:`Adam` and :class:`AdamW`.

    Args:
        param, grad: :math:`\theta_{t-1}` and its gradient (never modified).
        exp_avg, exp_avg_sq: :math:`m_{t-1}` and :math:`v_{t-1}` (zeros before the first step).
        max_exp_avg_sq: :math:`v^{\max}_{t-1}`, needed when ``amsgrad``.
        step: :math:`t \ge 1`, the number of this step (for the bias correction).
        lr, beta1, beta2, eps, weight_decay, amsgrad: as in :class:`Adam`.
        decoupled_weight_decay: AdamW's :math:`\theta \leftarrow \theta(1 - \eta\lambda)` instead
            of adding :math:`\lambda\theta` to the gradient.
        inplace: overwrite ``param`` and the state instead of returning new tensors.

    Returns:
        ``(param, exp_avg, exp_avg_sq, max_exp_avg_sq)``, the last ``None`` unless ``amsgrad``.

    Examples:
        >>> theta, m, v, _ = adam_update(torch.tensor([1.0]), torch.tensor([2.0]),
        ...                              torch.zeros(1), torch.zeros(1), step=1, lr=0.1)
        >>> theta  # the first step has length lr whatever the gradient's size
        tensor([0.9000])
    """
    _check_tensors(param, grad, exp_avg=exp_avg, exp_avg_sq=exp_avg_sq,
                   max_exp_avg_sq=max_exp_avg_sq)
    _check_step(step)
    _check_adam(lr, (beta1, beta2), eps, weight_decay, amsgrad, decoupled_weight_decay)
    if amsgrad and max_exp_avg_sq is None:
        raise ValueError("`max_exp_avg_sq` must be a tensor when `amsgrad=True`, got None")
    param, m, v, v_max = _own(inplace, param, exp_avg, exp_avg_sq,
                              max_exp_avg_sq if amsgrad else None)
    if decoupled_weight_decay:
        # θ'_{t-1} = (1 - η λ) θ_{t-1}   (AdamW: the decay bypasses the adaptive scaling)
        param.mul_(1 - lr * weight_decay)
        g = grad
    else:
        # g_t = ∇f(θ_{t-1}) + λ θ_{t-1}   (L2: the decay is divided by √v̂ like the gradient)
        g = _with_l2(grad, param, weight_decay)
    # m_t = β1 m_{t-1} + (1 - β1) g_t   (lerp: m + (1 - β1)(g - m), the same in one pass)
    m.lerp_(g, 1 - beta1)
    # v_t = β2 v_{t-1} + (1 - β2) g_t²
    v.mul_(beta2).addcmul_(g, g, value=1 - beta2)
    if amsgrad:
        # v^max_t = max(v^max_{t-1}, v_t): the denominator never shrinks (AMSGrad)
        torch.maximum(v_max, v, out=v_max)
    # m̂_t = m_t / (1 - β1^t),  v̂_t = v_t / (1 - β2^t): folded into the two scalars below
    bias_correction1 = 1 - beta1**step
    bias_correction2 = 1 - beta2**step
    # √v̂_t + ε
    denom = (v_max if amsgrad else v).sqrt().div_(math.sqrt(bias_correction2)).add_(eps)
    # θ_t = θ'_{t-1} - η m̂_t / (√v̂_t + ε)
    param.addcdiv_(m, denom, value=-lr / bias_correction1)
    return param, m, v, v_max


def _init_moments(p: Tensor, state: dict, *, with_max: bool) -> None:
    """Create Adam-style state (torch's key names) at a parameter's first gradient."""
    if not state:
        state["step"] = 0
        state["exp_avg"] = _zeros(p)
        state["exp_avg_sq"] = _zeros(p)
    if with_max and "max_exp_avg_sq" not in state:
        state["max_exp_avg_sq"] = _zeros(p)


class Adam(_Optimizer):
    r"""Adam: momentum on the gradient, RMSprop scaling, and bias correction of both averages.

    .. math::
        \begin{aligned}
        g_t &= \nabla f(\theta_{t-1}) + \lambda\,\theta_{t-1} \\
        m_t &= \beta_1 m_{t-1} + (1 - \beta_1)\, g_t, \qquad
        v_t = \beta_2 v_{t-1} + (1 - \beta_2)\, g_t^2, \qquad m_0 = v_0 = 0 \\
        \hat m_t &= \frac{m_t}{1 - \beta_1^t}, \qquad
        \hat v_t = \frac{v_t}{1 - \beta_2^t}
        \qquad \big(\text{AMSGrad: } v^{\max}_t = \max(v^{\max}_{t-1}, v_t),\
        \hat v_t = \tfrac{v^{\max}_t}{1 - \beta_2^t}\big) \\
        \theta_t &= \theta_{t-1} - \eta\, \frac{\hat m_t}{\sqrt{\hat v_t} + \epsilon}
        \end{aligned}

    Args:
        params: parameters or parameter groups.
        lr: :math:`\eta \ge 0` (default ``1e-3``).
        betas: :math:`(\beta_1, \beta_2)`, each in :math:`[0, 1)`.
        eps: :math:`\epsilon \ge 0`, added outside the root of :math:`\hat v_t`.
        weight_decay: L2 coefficient :math:`\lambda \ge 0` added to the gradient (see
            :class:`AdamW` for decoupled decay).
        amsgrad: use the running maximum of :math:`v_t` (Reddi et al.).
        decoupled_weight_decay: keyword-only, as in torch 2.13: ``True`` turns this class into
            :class:`AdamW`.

    Notes:
        The bias corrections come from :math:`E[m_t] = (1 - \beta_1^t)\,E[g]` for a stationary
        gradient and zero start (Kingma and Ba, §3). AMSGrad as in PyTorch: the maximum is taken
        of the *uncorrected* :math:`v_t` and divided by the current :math:`1-\beta_2^t`; Reddi
        et al.'s algorithm has no bias correction at all. With ``weight_decay`` the penalty's
        gradient :math:`\lambda\theta` passes through the adaptive scaling, which is why AdamW
        exists. Omitted: ``foreach``, ``maximize``, ``capturable``, ``differentiable``,
        ``fused``.

    References:
        Kingma and Ba, *Adam: A Method for Stochastic Optimization*, ICLR 2015; Reddi, Kale,
        Kumar, *On the Convergence of Adam and Beyond*, ICLR 2018.

    Examples:
        >>> w = torch.tensor([1.0, -2.0], requires_grad=True)
        >>> opt = Adam([w], lr=0.1)
        >>> (w ** 2).sum().backward()
        >>> _ = opt.step()
        >>> w.detach()  # m̂/√v̂ = sign(g) on the first step
        tensor([ 0.9000, -1.9000])
    """

    _decoupled = False

    def __init__(self, params, lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 0, amsgrad: bool = False, *,
                 decoupled_weight_decay: bool = False) -> None:
        defaults = dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay, amsgrad=amsgrad,
                        decoupled_weight_decay=decoupled_weight_decay or self._decoupled)
        super().__init__(params, defaults)

    def _check_group(self, group: dict) -> None:
        _check_adam(group["lr"], group["betas"], group["eps"], group["weight_decay"],
                    group["amsgrad"], group["decoupled_weight_decay"])

    def _update(self, p, grad, state, group):
        _init_moments(p, state, with_max=group["amsgrad"])
        beta1, beta2 = group["betas"]
        step = int(state["step"]) + 1
        adam_update(
            p, grad, state["exp_avg"], state["exp_avg_sq"], state.get("max_exp_avg_sq"),
            step=step, lr=group["lr"], beta1=beta1, beta2=beta2, eps=group["eps"],
            weight_decay=group["weight_decay"], amsgrad=group["amsgrad"],
            decoupled_weight_decay=group["decoupled_weight_decay"], inplace=True)
        state["step"] = step


class AdamW(Adam):
    r"""AdamW: Adam with weight decay decoupled from the gradient.

    .. math::
        \begin{aligned}
        \theta'_{t-1} &= (1 - \eta\lambda)\, \theta_{t-1} \\
        g_t &= \nabla f(\theta_{t-1}) \qquad (\text{no } \lambda\theta \text{ term}) \\
        \theta_t &= \theta'_{t-1} - \eta\, \frac{\hat m_t}{\sqrt{\hat v_t} + \epsilon}
        \end{aligned}

    with :math:`m_t, v_t, \hat m_t, \hat v_t` (and AMSGrad's maximum) exactly as in
    :class:`Adam`.

    Args:
        params: parameters or parameter groups.
        lr: :math:`\eta \ge 0` (default ``1e-3``).
        betas, eps, amsgrad: as in :class:`Adam`.
        weight_decay: :math:`\lambda \ge 0`, default ``1e-2`` (Adam's is 0).

    Notes:
        *Decay times the learning rate.* Loshchilov and Hutter write
        :math:`\theta_t = \theta_{t-1} - \eta_t(\alpha\,\hat m_t/(\sqrt{\hat v_t}+\epsilon)
        + \lambda\theta_{t-1})` with a schedule multiplier :math:`\eta_t` and the step size
        :math:`\alpha`: the decay is *not* multiplied by :math:`\alpha`. PyTorch (and this class)
        multiply it by ``lr``, so the per-step shrink factor is :math:`1 - \text{lr}\cdot\lambda`
        (``1e-5`` with the defaults), and a :math:`\lambda` tuned for the paper's form must be
        divided by :math:`\alpha` here. Omitted: ``maximize``, ``foreach``, ``capturable``,
        ``differentiable``, ``fused``.

    References:
        Loshchilov and Hutter, *Decoupled Weight Decay Regularization*, ICLR 2019.

    Examples:
        >>> w = torch.tensor([1.0, -2.0], requires_grad=True)
        >>> opt = AdamW([w], lr=0.1, weight_decay=0.5)
        >>> w.grad = torch.zeros(2)  # no gradient: only the decay acts
        >>> _ = opt.step()
        >>> w.detach()  # (1 - 0.1·0.5)·w
        tensor([ 0.9500, -1.9000])
    """

    _decoupled = True

    def __init__(self, params, lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 1e-2, amsgrad: bool = False) -> None:
        super().__init__(params, lr, betas, eps, weight_decay, amsgrad)
