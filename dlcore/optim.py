r"""Optimizers written as one update function each, plus the classes that drive them.

Every optimizer has two layers:

* an **update function** (:func:`sgd_update`, :func:`adam_update`, ...) that takes a parameter,
  its gradient and the optimizer state, one equation comment above each line, so that the code
  reads like the Optimizers chapter. It is *pure by default*: it works on copies and returns
  the new parameter and state, leaving its arguments alone. With ``inplace=True`` the same lines
  overwrite the given parameter and state tensors instead;
* a thin :class:`torch.optim.Optimizer` subclass (:class:`SGD`, :class:`Adam`, ...) with the same
  constructor arguments and defaults as its :mod:`torch.optim` namesake, which only keeps the
  state and calls the function once per parameter, with ``inplace=True`` on its *own* buffers.

Why ``inplace=True`` in the classes: a pure step must allocate a new parameter and new state
tensors every step (three fresh 3 MB tensors per 1024×784 weight for Adam). On the 2-core
machine the page faults of that fresh memory made pure-mode Adam 1.4-5× slower than
``torch.optim.Adam(foreach=False)`` on a 1M-parameter MLP, depending on load, while the class
runs at ~0.9× (one temporary per step where torch's loop has two; ``benchmarks/bench_optim.py``).
The arithmetic is the same in both modes, and the gradient is never written in either.

With ``foreach=False`` in PyTorch, parameter trajectories equal :mod:`torch.optim`'s to float64
rounding (the tests compare 100+ steps). Conventions shared by all classes:

* A parameter whose ``.grad`` is ``None`` is skipped: it is not changed and gets no state
  (``torch.optim.Adagrad`` is the exception in PyTorch: it creates its state up front).
* The caller's ``.grad`` tensors are never modified; weight decay is added to a copy.
* State entries use PyTorch's names (``exp_avg``, ``exp_avg_sq``, ``momentum_buffer``, ...), so a
  ``state_dict`` saved by ``torch.optim.Adam`` loads into :class:`Adam` and vice versa. The step
  count is stored as a Python ``int``.
* Hyperparameters are validated when a parameter group is added (constructor or
  :meth:`~torch.optim.Optimizer.add_param_group`) and by each update function, raising
  ``ValueError`` / ``TypeError`` that names the argument.
* Not offered: ``maximize`` (minimise ``-f`` instead), ``foreach``, ``fused``, ``capturable``,
  ``differentiable``, a tensor-valued ``lr``, sparse gradients and complex parameters.

The module also holds the training helpers of the chapter: :func:`param_groups` (no weight decay
on biases and normalization weights), :func:`linear_scaling` and gradient clipping
(:func:`clip_grad_norm`, :func:`clip_grad_value`).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable

import torch
from torch import nn

from dlcore import _checks

__all__ = [
    "sgd_update", "adagrad_update", "rmsprop_update", "adadelta_update", "adam_update",
    "adabound_bounds", "adabound_update",
    "SGD", "Adagrad", "RMSprop", "Adadelta", "Adam", "AdamW", "AdaBound",
    "param_groups", "linear_scaling", "clip_grad_norm", "clip_grad_value",
]

Tensor = torch.Tensor


# --------------------------------------------------------------------------- validation


def _check_tensors(param, grad, **state) -> None:
    """``param`` and ``grad`` are floating tensors of one shape; state tensors (or None) too."""
    _checks.tensor(param, "param", floating=True, allow_empty=True)
    _checks.tensor(grad, "grad", floating=True, allow_empty=True)
    _checks.dense(grad, "grad")
    _checks.same_shape(param, grad, "param", "grad")
    for name, value in state.items():
        if value is not None:
            _checks.tensor(value, name, floating=True, allow_empty=True)
            _checks.same_shape(param, value, "param", name)


def _check_step(step) -> int:
    return _checks.number(step, "step", low=1, integer=True)


def _check_betas(betas) -> tuple[float, float]:
    if not isinstance(betas, (tuple, list)) or len(betas) != 2:
        raise ValueError(f"`betas` must be a pair (beta1, beta2), got {betas!r}")
    beta1 = _checks.number(betas[0], "betas[0]", low=0, high=1, high_open=True)
    beta2 = _checks.number(betas[1], "betas[1]", low=0, high=1, high_open=True)
    return beta1, beta2


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


def _check_adagrad(lr, lr_decay, weight_decay, eps) -> None:
    _checks.number(lr, "lr", low=0)
    _checks.number(lr_decay, "lr_decay", low=0)
    _checks.number(weight_decay, "weight_decay", low=0)
    _checks.number(eps, "eps", low=0)


def _check_rmsprop(lr, alpha, eps, weight_decay, momentum, centered) -> None:
    _checks.number(lr, "lr", low=0)
    _checks.number(alpha, "alpha", low=0, high=1)
    _checks.number(eps, "eps", low=0)
    _checks.number(weight_decay, "weight_decay", low=0)
    _checks.number(momentum, "momentum", low=0)
    _checks.flag(centered, "centered")


def _check_adadelta(lr, rho, eps, weight_decay) -> None:
    _checks.number(lr, "lr", low=0)
    _checks.number(rho, "rho", low=0, high=1)
    _checks.number(eps, "eps", low=0)
    _checks.number(weight_decay, "weight_decay", low=0)


def _check_adam(lr, betas, eps, weight_decay, amsgrad, decoupled_weight_decay) -> None:
    _checks.number(lr, "lr", low=0)
    _check_betas(betas)
    _checks.number(eps, "eps", low=0)
    _checks.number(weight_decay, "weight_decay", low=0)
    _checks.flag(amsgrad, "amsgrad")
    _checks.flag(decoupled_weight_decay, "decoupled_weight_decay")


def _check_adabound(lr, betas, final_lr, gamma, eps, weight_decay, amsbound) -> None:
    _checks.number(lr, "lr", low=0)
    _check_betas(betas)
    _checks.number(final_lr, "final_lr", low=0)
    # gamma = 0 would make the upper bound 1/(γt) infinite
    _checks.number(gamma, "gamma", low=0, high=1, low_open=True, high_open=True)
    _checks.number(eps, "eps", low=0)
    _checks.number(weight_decay, "weight_decay", low=0)
    _checks.flag(amsbound, "amsbound")


def _with_l2(grad: Tensor, param: Tensor, weight_decay: float) -> Tensor:
    """g + λθ as a new tensor: the L2 penalty λ/2‖θ‖² folded into the gradient."""
    return grad.add(param, alpha=weight_decay) if weight_decay != 0 else grad


# --------------------------------------------------------------------------- functional core


def _own(inplace: bool, *tensors: Tensor | None) -> tuple[Tensor | None, ...]:
    """The tensors an update may overwrite: the caller's own (``inplace``) or fresh copies."""
    if inplace:
        return tensors
    return tuple(None if x is None else x.clone() for x in tensors)


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


# --------------------------------------------------------------------------- thin classes


class _Optimizer(torch.optim.Optimizer):
    """Common driver: validate groups, loop over parameters with a gradient, call ``_update``."""

    def add_param_group(self, param_group: dict) -> None:
        super().add_param_group(param_group)
        group = self.param_groups[-1]
        for p in group["params"]:
            if p.is_complex():
                raise ValueError(f"complex parameters are not supported, got dtype {p.dtype}")
        self._check_group(group)

    def _check_group(self, group: dict) -> None:  # pragma: no cover - every subclass overrides
        raise NotImplementedError

    def _update(self, p: Tensor, grad: Tensor, state: dict, group: dict) -> None:
        raise NotImplementedError  # pragma: no cover

    @torch.no_grad()
    def step(self, closure: Callable[[], float] | None = None):
        """Update every parameter that has a gradient; return ``closure()``'s loss if given."""
        loss = None
        if closure is not None:
            # the closure recomputes the loss and its gradients, so autograd must be on
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is None:
                    continue  # unused or frozen: no update and no state, as in torch.optim
                self._update(p, p.grad, self.state[p], group)
        return loss


def _zeros(p: Tensor) -> Tensor:
    return torch.zeros_like(p, memory_format=torch.preserve_format)


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
        examples with :math:`\beta = \gamma` (§4). The limit is scaled by
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


# --------------------------------------------------------------------------- training helpers

_NORM_LAYERS = (
    nn.BatchNorm1d, nn.BatchNorm2d, nn.BatchNorm3d, nn.SyncBatchNorm,
    nn.LazyBatchNorm1d, nn.LazyBatchNorm2d, nn.LazyBatchNorm3d,
    nn.InstanceNorm1d, nn.InstanceNorm2d, nn.InstanceNorm3d,
    nn.LayerNorm, nn.GroupNorm, nn.RMSNorm,
)


def param_groups(model: nn.Module, *, weight_decay: float,
                 no_decay: Iterable[str] = ("bias",)) -> list[dict]:
    r"""Split a model's parameters into a decayed group and a group without weight decay.

    A trainable parameter is exempt from decay when any of these holds:

    * it belongs to a normalization layer (BatchNorm, InstanceNorm, LayerNorm, GroupNorm,
      RMSNorm), whatever its shape;
    * it has at most one dimension (biases, normalization scales and shifts, PReLU slopes);
    * its qualified name (``"encoder.0.bias"``) contains one of the strings in ``no_decay``.

    This is the practice of BERT (Devlin et al., 2019; its optimizer excludes ``"bias"`` and
    ``"LayerNorm"``): decay pulls weights towards 0, which regularizes a weight matrix, but a
    bias or a normalization scale only sets an offset or a scale, and shrinking a scale
    towards 0 fights the normalization.

    Args:
        model: the module whose ``named_parameters()`` are split (shared parameters once).
        weight_decay: :math:`\lambda \ge 0` for the decayed group.
        no_decay: extra name substrings to exempt; a plain ``str`` is rejected (it would be
            read letter by letter).

    Returns:
        ``[{"params": decayed, "weight_decay": weight_decay},
        {"params": exempt, "weight_decay": 0.0}]``, ready for any optimizer here or in
        :mod:`torch.optim`. Frozen parameters (``requires_grad=False``) are left out.

    Examples:
        >>> net = nn.Sequential(nn.Linear(3, 4), nn.LayerNorm(4), nn.Linear(4, 1))
        >>> decay, exempt = param_groups(net, weight_decay=0.01)
        >>> [tuple(p.shape) for p in decay["params"]], len(exempt["params"])
        ([(4, 3), (1, 4)], 4)
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"`model` must be a torch.nn.Module, got {type(model).__name__}")
    _checks.number(weight_decay, "weight_decay", low=0)
    if isinstance(no_decay, str):
        raise TypeError(f"`no_decay` must be an iterable of str, got the str {no_decay!r}")
    patterns = tuple(no_decay)
    if not all(isinstance(s, str) for s in patterns):
        raise TypeError(f"`no_decay` must be an iterable of str, got {patterns!r}")
    decay, exempt, seen = [], [], set()
    for module_name, module in model.named_modules():
        for name, p in module.named_parameters(recurse=False):
            full_name = f"{module_name}.{name}" if module_name else name
            if id(p) in seen or not p.requires_grad:
                continue  # a tied weight is listed once; frozen weights need no optimizer
            seen.add(id(p))
            skip = (isinstance(module, _NORM_LAYERS) or p.ndim <= 1
                    or any(s in full_name for s in patterns))
            (exempt if skip else decay).append(p)
    return [{"params": decay, "weight_decay": weight_decay},
            {"params": exempt, "weight_decay": 0.0}]


def linear_scaling(base_lr: float, batch_size: int, base_batch_size: int = 256) -> float:
    r"""The linear scaling rule: multiply the learning rate by the batch-size ratio.

    .. math:: \eta = \eta_{\text{base}} \cdot \frac{B}{B_{\text{base}}}

    Goyal et al. trained ResNet-50 with :math:`\eta = 0.1 \cdot B/256` up to :math:`B = 8192`;
    the rule relies on a warm-up (they use 5 epochs) and breaks down for very large batches.

    Args:
        base_lr: :math:`\eta_{\text{base}} \ge 0`, tuned at ``base_batch_size``.
        batch_size: the batch size :math:`B \ge 1` you will use.
        base_batch_size: :math:`B_{\text{base}} \ge 1` (default 256, the paper's).

    References:
        Goyal et al., *Accurate, Large Minibatch SGD: Training ImageNet in 1 Hour*, 2017.

    Examples:
        >>> linear_scaling(0.1, 8192)
        3.2
    """
    _checks.number(base_lr, "base_lr", low=0)
    _checks.number(batch_size, "batch_size", low=1, integer=True)
    _checks.number(base_batch_size, "base_batch_size", low=1, integer=True)
    return base_lr * batch_size / base_batch_size


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
