r"""Gradient checking: compare a gradient with central finite differences.

For a scalar function :math:`f(\theta)` and each entry :math:`\theta_i`,

.. math::

    g^{\mathrm{fd}}_i = \frac{f(\theta + \varepsilon e_i) - f(\theta - \varepsilon e_i)}
    {2\varepsilon} = \frac{\partial f}{\partial\theta_i} + O(\varepsilon^2),

and the check reports the largest relative error

.. math::

    \max_i \frac{|g_i - g^{\mathrm{fd}}_i|}{\max(|g_i| + |g^{\mathrm{fd}}_i|,\ \text{tiny})},

which is 0 for two equal numbers (also two zeros), 1 when one of them is 0 and the other is
not, and scale-free otherwise.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from dlcore import _checks

__all__ = ["gradient_check"]


def _scalar(value, what: str) -> torch.Tensor:
    if not isinstance(value, torch.Tensor) or value.numel() != 1:
        got = (f"a tensor of shape {tuple(value.shape)}" if isinstance(value, torch.Tensor)
               else type(value).__name__)
        raise ValueError(f"`f` must return a scalar tensor (one element) {what}, got {got}")
    return value.reshape(())


def _check_list(params, name: str) -> list:
    if not isinstance(params, (list, tuple)) or len(params) == 0:
        raise ValueError(f"`{name}` must be a non-empty flat list of tensors, got "
                         f"{type(params).__name__}"
                         f"{' of length 0' if isinstance(params, (list, tuple)) else ''}")
    for i, p in enumerate(params):
        _checks.tensor(p, f"{name}[{i}]", floating=True)
        _checks.finite(p, f"{name}[{i}]")
    return list(params)


def _autograd(f, params) -> list:
    leaves = [p.detach().clone().requires_grad_(True) for p in params]
    with torch.enable_grad():
        value = _scalar(f(leaves), "at `params`")
        grads = torch.autograd.grad(value, leaves, allow_unused=True)
    return [torch.zeros_like(p) if g is None else g for p, g in zip(leaves, grads, strict=True)]


def gradient_check(f: Callable[[list], torch.Tensor], params, *, grads=None, eps: float = 1e-6,
                   tol: float = 1e-6, name: str = "gradient", quiet: bool = False) -> float:
    r"""Check a gradient of ``f`` at ``params`` against central differences.

    Each entry :math:`\theta_i` of every tensor is moved by :math:`\pm\varepsilon` in a copy
    (``params`` are never modified) and :math:`(f(\theta+\varepsilon e_i) -
    f(\theta-\varepsilon e_i))/2\varepsilon` is compared with the gradient by the relative
    error of the module docstring. The cost is :math:`2\,\dim\theta` evaluations of ``f``, so
    use it on small networks. In float64 with the default :math:`\varepsilon = 10^{-6}` the
    truncation error :math:`O(\varepsilon^2)` and the rounding error
    :math:`O(\epsilon_{\mathrm{mach}}|f|/\varepsilon)` are both near :math:`10^{-10}` for
    well-scaled :math:`f`; at a kink (ReLU at 0) inside :math:`[\theta_i-\varepsilon,
    \theta_i+\varepsilon]` the difference quotient is not the derivative and the check can
    fail for a correct gradient.

    Args:
        f: function of a list of tensors (same order and shapes as ``params``) returning a
            scalar tensor, e.g. ``lambda p: loss(forward(X, [(p[0], p[1])])[0], y)``.
        params: flat list of floating tensors (float64 for a meaningful check), finite.
        grads: the gradients to check (hand-derived), same structure as ``params``; if None,
            autograd's gradient of ``f`` is checked.
        eps: the step :math:`\varepsilon > 0`.
        tol: the largest relative error accepted, :math:`> 0`.
        name: what is checked, for the verdict.
        quiet: do not print the verdict (it still raises when the check fails).

    Returns:
        float: the largest relative error over all entries.

    Raises:
        AssertionError: when the largest relative error exceeds ``tol``.

    Examples:
        >>> w = torch.tensor([1.0, -2.0], dtype=torch.float64)
        >>> err = gradient_check(lambda p: (p[0] ** 3).sum(), [w], grads=[3 * w ** 2],
        ...                      name="d(w^3)/dw")
        d(w^3)/dw matches central differences (eps=1e-06): max rel. error ... ✓
        >>> err < 1e-9
        True
    """
    if not callable(f):
        raise TypeError(f"`f` must be callable, got {type(f).__name__}")
    params = _check_list(params, "params")
    _checks.number(eps, "eps", low=0, low_open=True)
    _checks.number(tol, "tol", low=0, low_open=True)
    _checks.flag(quiet, "quiet")
    if not isinstance(name, str) or not name:
        raise ValueError(f"`name` must be a non-empty str, got {name!r}")
    if grads is None:
        grads = _autograd(f, params)
    else:
        grads = _check_list(grads, "grads")
        if len(grads) != len(params):
            raise ValueError(f"`grads` must have one tensor per parameter ({len(params)}), "
                             f"got {len(grads)}")
        for i, (g, p) in enumerate(zip(grads, params, strict=True)):
            _checks.same_shape(g, p, f"grads[{i}]", f"params[{i}]")
    theta = [p.detach().clone() for p in params]
    worst, where = 0.0, (0, 0, 0.0, 0.0)
    with torch.no_grad():
        for k, (t, g) in enumerate(zip(theta, grads, strict=True)):
            flat, g_flat = t.view(-1), g.detach().reshape(-1)
            tiny = torch.finfo(t.dtype).tiny
            for i in range(flat.numel()):
                orig = flat[i].item()
                flat[i] = orig + eps
                up = _scalar(f(theta), "at `params` + eps").item()
                flat[i] = orig - eps
                down = _scalar(f(theta), "at `params` - eps").item()
                flat[i] = orig  # restore exactly
                fd, gi = (up - down) / (2 * eps), g_flat[i].item()
                rel = abs(gi - fd) / max(abs(gi) + abs(fd), tiny)
                if rel != rel:  # NaN (an inf in f or in the gradient) counts as a failure
                    rel = float("inf")
                if rel > worst:
                    worst, where = rel, (k, i, gi, fd)
    if worst > tol:
        k, i, gi, fd = where
        raise AssertionError(
            f"{name} does NOT match central differences (eps={eps:g}): max rel. error = "
            f"{worst:.3e} > tol {tol:g}; worst at params[{k}] flat index {i}: "
            f"{gi!r} vs {fd!r} ✗"
        )
    if not quiet:
        print(f"{name} matches central differences (eps={eps:g}): max rel. error = "
              f"{worst:.1e} ✓")
    return worst
