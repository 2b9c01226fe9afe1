r"""AdaBound and AMSBound: the bounds :func:`adabound_bounds`, the update function
:func:`adabound_update` and its class :class:`AdaBound` (chapter Optimizers, section "Adaptive
methods", AdaBound)."""

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
)
from dlcore.optim.adam import _init_moments


def _check_adabound(lr, betas, final_lr, gamma, eps, weight_decay, amsbound) -> None:
    _checks.number(lr, "lr", low=0)
    _check_betas(betas)
    _checks.number(final_lr, "final_lr", low=0)
    # gamma = 0 would make the upper bound 1/(γt) infinite
    _checks.number(gamma, "gamma", low=0, high=1, low_open=True, high_open=True)
    _checks.number(eps, "eps", low=0)
    _checks.number(weight_decay, "weight_decay", low=0)
    _checks.flag(amsbound, "amsbound")


def adabound_bounds(step: int, *, final_lr: float, gamma: float) -> tuple[float, float]:
    r"""AdaBound's bounds on the per-coordinate step size at step :math:`t`.

    .. math::
        \eta_l(t) = \eta^\ast\Big(1 - \frac{1}{\gamma t + 1}\Big), \qquad
        \eta_u(t) = \eta^\ast\Big(1 + \frac{1}{\gamma t}\Big)

    Both tend to :math:`\eta^\ast` (``final_lr``) as :math:`t \to \infty`, the lower bound from 0
    upwards and the upper bound from :math:`+\infty` downwards, so AdaBound moves from Adam
    to SGD with learning rate :math:`\eta^\ast`.

    Examples:
        >>> adabound_bounds(1000, final_lr=0.1, gamma=1e-3)
        (0.05, 0.2)
    """
    _check_step(step)
    _checks.number(final_lr, "final_lr", low=0)
    _checks.number(gamma, "gamma", low=0, high=1, low_open=True, high_open=True)
    # η_l(t) = η* (1 - 1/(γt + 1)),  η_u(t) = η* (1 + 1/(γt))
    return final_lr * (1 - 1 / (gamma * step + 1)), final_lr * (1 + 1 / (gamma * step))


def adabound_update(param: Tensor, grad: Tensor, exp_avg: Tensor, exp_avg_sq: Tensor,
                    max_exp_avg_sq: Tensor | None = None, *, step: int, lr: float = 1e-3,
                    final_lr: float = 0.1, beta1: float = 0.9, beta2: float = 0.999,
                    gamma: float = 1e-3, eps: float = 1e-8, weight_decay: float = 0.0,
                    amsbound: bool = False, inplace: bool = False
                    ) -> tuple[Tensor, Tensor, Tensor, Tensor | None]:
    r"""One AdaBound / AMSBound step on one parameter; the equations are in :class:`AdaBound`.

    Args:
        param, grad, exp_avg, exp_avg_sq, max_exp_avg_sq, step: as in :func:`adam_update`.
        lr: Adam's step size :math:`\alpha` at this step.
        final_lr: :math:`\eta^\ast`, the limit of the bounds *at this step* (the class passes
            ``final_lr * lr / base_lr`` so that a learning-rate schedule also moves the bounds).
        beta1, beta2, gamma, eps, weight_decay, amsbound: as in :class:`AdaBound`.
        inplace: overwrite ``param`` and the state instead of returning new tensors.

    Returns:
        ``(param, exp_avg, exp_avg_sq, max_exp_avg_sq)``, the last ``None`` unless ``amsbound``.

    Examples:
        >>> theta, *_ = adabound_update(torch.tensor([1.0]), torch.tensor([2.0]),
        ...                             torch.zeros(1), torch.zeros(1), step=1, lr=0.1)
        >>> theta  # Adam would step 0.1; the upper bound 0.1·(1 + 1/0.001) allows it
        tensor([0.9000])
    """
    _check_tensors(param, grad, exp_avg=exp_avg, exp_avg_sq=exp_avg_sq,
                   max_exp_avg_sq=max_exp_avg_sq)
    _check_step(step)
    _check_adabound(lr, (beta1, beta2), final_lr, gamma, eps, weight_decay, amsbound)
    if amsbound and max_exp_avg_sq is None:
        raise ValueError("`max_exp_avg_sq` must be a tensor when `amsbound=True`, got None")
    param, m, v, v_max = _own(inplace, param, exp_avg, exp_avg_sq,
                              max_exp_avg_sq if amsbound else None)
    # g_t = ∇f(θ_{t-1}) + λ θ_{t-1}
    g = _with_l2(grad, param, weight_decay)
    # m_t = β1 m_{t-1} + (1 - β1) g_t
    m.lerp_(g, 1 - beta1)
    # v_t = β2 v_{t-1} + (1 - β2) g_t²
    v.mul_(beta2).addcmul_(g, g, value=1 - beta2)
    if amsbound:
        # v^max_t = max(v^max_{t-1}, v_t)
        torch.maximum(v_max, v, out=v_max)
    # α_t = α √(1 - β2^t) / (1 - β1^t): Adam's bias corrections moved into the step size
    alpha_t = lr * math.sqrt(1 - beta2**step) / (1 - beta1**step)
    lower, upper = adabound_bounds(step, final_lr=final_lr, gamma=gamma)
    # η_t = clip(α_t / (√v_t + ε), η_l(t), η_u(t)), elementwise
    denom = (v_max if amsbound else v).sqrt().add_(eps)
    eta = torch.div(alpha_t, denom).clamp_(lower, upper)
    # θ_t = θ_{t-1} - η_t ⊙ m_t
    param.sub_(eta.mul_(m))
    return param, m, v, v_max


class AdaBound(_Optimizer):
    r"""AdaBound / AMSBound: Adam whose per-coordinate step sizes are clipped into bounds that
    close in on ``final_lr``, turning Adam into SGD over time.

    Following the authors' reference implementation (github.com/Luolc/AdaBound), at step
    :math:`t` with current learning rate :math:`\alpha` and initial rate :math:`\alpha_0`:

    .. math::
        \begin{aligned}
        g_t &= \nabla f(\theta_{t-1}) + \lambda\,\theta_{t-1} \\
        m_t &= \beta_1 m_{t-1} + (1 - \beta_1)\, g_t, \qquad
        v_t = \beta_2 v_{t-1} + (1 - \beta_2)\, g_t^2
        \qquad (\text{AMSBound: } v_t \leftarrow \max(v^{\max}_{t-1}, v_t)) \\
        \eta^\ast &= \text{final\_lr}\cdot \alpha / \alpha_0, \qquad
        \eta_l(t) = \eta^\ast\Big(1 - \frac{1}{\gamma t + 1}\Big), \qquad
        \eta_u(t) = \eta^\ast\Big(1 + \frac{1}{\gamma t}\Big) \\
        \alpha_t &= \alpha\,\frac{\sqrt{1 - \beta_2^t}}{1 - \beta_1^t}, \qquad
        \eta_t = \operatorname{clip}\Big(\frac{\alpha_t}{\sqrt{v_t} + \epsilon},
                 \eta_l(t), \eta_u(t)\Big) \\
        \theta_t &= \theta_{t-1} - \eta_t \odot m_t
        \end{aligned}

    Args:
        params: parameters or parameter groups.
        lr: Adam step size :math:`\alpha > 0` (default ``1e-3``); its value when the group is
            created is stored as the group's ``"base_lr"`` (:math:`\alpha_0`).
        betas: :math:`(\beta_1, \beta_2)`, each in :math:`[0, 1)`.
        final_lr: :math:`\ge 0`, the SGD learning rate the bounds converge to (default ``0.1``).
        gamma: convergence speed of the bounds, :math:`0 < \gamma < 1` (default ``1e-3``).
        eps: :math:`\epsilon \ge 0` (default ``1e-8``).
        weight_decay: L2 coefficient :math:`\lambda \ge 0` added to the gradient.
        amsbound: use the running maximum of :math:`v_t` (AMSBound).

    Notes:
        *Reference code versus paper.* Algorithm 2 of the paper clips
        :math:`\alpha/\sqrt{V_t}` without bias correction and then divides by :math:`\sqrt t`:
        :math:`\eta_t = \operatorname{clip}(\alpha/\sqrt{v_t}, \eta_l, \eta_u)/\sqrt t`. The
        reference implementation, used for the paper's experiments and followed here, has no
        :math:`1/\sqrt t`, adds :math:`\epsilon` to :math:`\sqrt{v_t}`, and puts Adam's bias
        corrections into the step size :math:`\alpha_t` *before* clipping (so :math:`m_t`, not
        :math:`\hat m_t`, multiplies the clipped rate). The bound functions are the paper's
        examples (§4) with :math:`\gamma` in place of :math:`1 - \beta_2`. The limit is scaled by
        :math:`\alpha/\alpha_0` so that a learning-rate scheduler moves the bounds too. Unlike
        the reference, which keeps :math:`\alpha_0` in an attribute, it is stored in the param
        group (``"base_lr"``), so it survives ``state_dict()``/``load_state_dict()``; and
        ``gamma`` must be positive (the reference accepts 0 and then divides by zero).

    References:
        Luo, Xiong, Liu, Sun, *Adaptive Gradient Methods with Dynamic Bound of Learning Rate*,
        ICLR 2019.

    Examples:
        >>> w = torch.tensor([1.0, -2.0], requires_grad=True)
        >>> opt = AdaBound([w], lr=0.1, final_lr=0.01, gamma=0.5)
        >>> (w ** 2).sum().backward()
        >>> _ = opt.step()
        >>> w.detach()  # upper bound 0.01·(1 + 1/0.5) = 0.03 caps Adam's step size 0.1/|g|
        tensor([ 0.9940, -1.9880])
    """

    def __init__(self, params, lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999),
                 final_lr: float = 0.1, gamma: float = 1e-3, eps: float = 1e-8,
                 weight_decay: float = 0, amsbound: bool = False) -> None:
        defaults = dict(lr=lr, betas=betas, final_lr=final_lr, gamma=gamma, eps=eps,
                        weight_decay=weight_decay, amsbound=amsbound)
        super().__init__(params, defaults)

    def _check_group(self, group: dict) -> None:
        _check_adabound(group["lr"], group["betas"], group["final_lr"], group["gamma"],
                        group["eps"], group["weight_decay"], group["amsbound"])
        # final_lr is rescaled by lr / base_lr at every step, so the first lr must be positive
        if "base_lr" not in group:
            group["base_lr"] = _checks.number(group["lr"], "lr", low=0, low_open=True)
        _checks.number(group["base_lr"], "base_lr", low=0, low_open=True)

    def _update(self, p, grad, state, group):
        _init_moments(p, state, with_max=group["amsbound"])
        beta1, beta2 = group["betas"]
        step = int(state["step"]) + 1
        adabound_update(
            p, grad, state["exp_avg"], state["exp_avg_sq"], state.get("max_exp_avg_sq"),
            step=step, lr=group["lr"], final_lr=group["final_lr"] * group["lr"] / group["base_lr"],
            beta1=beta1, beta2=beta2, gamma=group["gamma"], eps=group["eps"],
            weight_decay=group["weight_decay"], amsbound=group["amsbound"], inplace=True)
        state["step"] = step
