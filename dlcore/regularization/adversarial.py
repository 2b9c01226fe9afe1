r"""Adversarial examples: FGSM, FGM and PGD, computed without disturbing the model.

Each attack takes a ``model``, inputs ``x`` and labels ``y`` and returns perturbed inputs that
raise the loss :math:`L(f(x + \delta), y)` under a budget :math:`\varepsilon`:

* :func:`fgsm` — one signed gradient step, :math:`\delta = \varepsilon\,\operatorname{sign}
  (\nabla_x L)`, the maximiser of the linearised loss in the :math:`L_\infty` ball
  (Goodfellow, Shlens & Szegedy 2015);
* :func:`fgm` — one gradient step normalised per example, :math:`\delta = \varepsilon\, g /
  \lVert g\rVert_2`, the maximiser in the :math:`L_2` ball, used on word embeddings of text
  models (Miyato, Dai & Goodfellow 2017);
* :func:`pgd` — projected gradient ascent from a random start in the :math:`L_\infty` ball
  (Madry et al. 2018), the inner maximisation of adversarial training.

All three evaluate the model in evaluation mode (dropout off, batch norm on its running
estimates) and restore each submodule's mode afterwards; they differentiate with
:func:`torch.autograd.grad` with respect to the input only, so the parameters, their ``.grad``
and the batch-norm buffers are left exactly as they were. A text model is attacked on its
embeddings: pass ``embed`` (the map from token ids to embeddings) and a ``model`` that maps
embeddings to logits; the attack then returns perturbed embeddings.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import contextmanager

import torch
from torch import nn
from torch.nn import functional as F

from dlcore import _checks

__all__ = ["fgsm", "fgm", "pgd"]


def _sum_cross_entropy(logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    # a sum, not a mean: each example's gradient is that of its own loss, not 1/N of it
    return F.cross_entropy(logits, y, reduction="sum")


@contextmanager
def _evaluation(*modules):
    """Put every submodule in evaluation mode; restore each one's own mode on exit."""
    modes = [(m, m.training) for module in modules if isinstance(module, nn.Module)
             for m in module.modules()]
    for m, _ in modes:
        m.training = False
    try:
        with torch.enable_grad():  # an attack inside torch.no_grad() still needs ∇_x
            yield
    finally:
        for m, training in modes:
            m.training = training


def _validate(model, x, y, eps, loss_fn, clamp, embed):
    if not callable(model):
        raise TypeError(f"`model` must be callable (an nn.Module), got {type(model).__name__}")
    if embed is not None and not callable(embed):
        raise TypeError(f"`embed` must be callable or None, got {type(embed).__name__}")
    if loss_fn is not None and not callable(loss_fn):
        raise TypeError(f"`loss_fn` must be callable or None, got {type(loss_fn).__name__}")
    _checks.tensor(x, "x", floating=embed is None)
    _checks.no_nan(x, "x")
    _checks.tensor(y, "y")
    if len(x) != len(y):
        raise ValueError(f"`x` and `y` must have the same length, got {len(x)} and {len(y)}")
    eps = _checks.number(eps, "eps", low=0)
    if clamp is not None:
        if embed is not None:
            raise ValueError("`clamp` bounds input values and cannot be used with `embed`")
        if not isinstance(clamp, tuple) or len(clamp) != 2:
            raise ValueError(f"`clamp` must be a (low, high) tuple or None, got {clamp!r}")
        low = _checks.number(clamp[0], "clamp[0]")
        high = _checks.number(clamp[1], "clamp[1]")
        if low > high:
            raise ValueError(f"`clamp` must have low <= high, got {clamp!r}")
    return eps, _sum_cross_entropy if loss_fn is None else loss_fn


def _start(x: torch.Tensor, embed) -> torch.Tensor:
    """The tensor the attack perturbs: ``x`` itself, or its embeddings (without a graph)."""
    if embed is None:
        return x.detach()
    with torch.no_grad():
        e = embed(x)
    _checks.tensor(e, "embed(x)", floating=True)
    return e.detach()


def _input_gradient(model, z: torch.Tensor, y: torch.Tensor, loss_fn) -> torch.Tensor:
    """∇_z L(model(z), y) without touching any parameter's ``.grad``."""
    z = z.detach().requires_grad_(True)
    loss = loss_fn(model(z), y)
    (grad,) = torch.autograd.grad(loss, z)
    return grad


def _clamp(z: torch.Tensor, clamp) -> torch.Tensor:
    return z if clamp is None else z.clamp(clamp[0], clamp[1])


def fgsm(model: Callable, x: torch.Tensor, y: torch.Tensor, *, eps: float,
         loss_fn: Callable | None = None, clamp: tuple[float, float] | None = None,
         embed: Callable | None = None) -> torch.Tensor:
    r"""Fast gradient sign method: one signed gradient step of size ``eps`` per coordinate.

    .. math::
        x_{\text{adv}} = x + \varepsilon\,\operatorname{sign}\bigl(\nabla_x L(f(x), y)\bigr),

    the exact maximiser of the first-order Taylor expansion of the loss over the
    :math:`L_\infty` ball :math:`\lVert\delta\rVert_\infty \le \varepsilon`
    (:math:`\max_{\lVert\delta\rVert_\infty\le\varepsilon} g^\top\delta = \varepsilon
    \lVert g\rVert_1`). A coordinate whose gradient is exactly 0 is not moved
    (``torch.sign(0) = 0``).

    Args:
        model: the network, ``model(x)`` gives ``(N, C)`` logits; an ``nn.Module`` is run in
            evaluation mode and every submodule's mode restored. A plain function is called
            as it is: modules it closes over are *not* put in evaluation mode (dropout
            inside it stays active), so wrap them in an ``nn.Module`` instead.
        x: ``(N, *)`` floating inputs (token ids when ``embed`` is given).
        y: ``(N,)`` labels (or whatever ``loss_fn`` takes).
        eps: the budget :math:`\varepsilon \ge 0`, in the units of ``x``.
        loss_fn: ``loss_fn(logits, y)``, a scalar; default the cross-entropy summed over the
            batch (a mean gives the same signs).
        clamp: ``(low, high)``: clip the result to the valid input range.
        embed: for a text model, the map from ``x`` to the embeddings that are perturbed;
            ``model`` then maps embeddings to logits and the result is perturbed embeddings.

    Returns:
        torch.Tensor: the adversarial inputs (or embeddings), detached, shape of ``x`` (of
        ``embed(x)``).

    Raises:
        ValueError: ``eps < 0``, ``x`` not floating or holding NaN, lengths differ, a bad
            ``clamp``.

    References:
        Goodfellow, Shlens & Szegedy, *Explaining and harnessing adversarial examples*,
        ICLR 2015.

    Examples:
        >>> model = nn.Linear(2, 2)
        >>> with torch.no_grad():
        ...     _ = model.weight.copy_(torch.tensor([[1.0, -2.0], [0.0, 0.0]]))
        ...     _ = model.bias.zero_()
        >>> fgsm(model, torch.zeros(1, 2), torch.tensor([0]), eps=0.1)
        tensor([[-0.1000,  0.1000]])
    """
    eps, loss_fn = _validate(model, x, y, eps, loss_fn, clamp, embed)
    with _evaluation(model, embed):
        z = _start(x, embed)
        grad = _input_gradient(model, z, y, loss_fn)
    # x_adv = x + ε·sign(∇_x L)
    return _clamp(z + eps * grad.sign(), clamp).detach()


def fgm(model: Callable, x: torch.Tensor, y: torch.Tensor, *, eps: float,
        loss_fn: Callable | None = None, clamp: tuple[float, float] | None = None,
        embed: Callable | None = None) -> torch.Tensor:
    r"""Fast gradient method: a gradient step of L2 length ``eps`` for each example.

    .. math::
        x_{\text{adv},i} = x_i + \varepsilon\,\frac{g_i}{\lVert g_i\rVert_2}, \qquad
        g_i = \nabla_{x_i} L(f(x), y),

    the maximiser of the linearised loss over the :math:`L_2` ball of radius
    :math:`\varepsilon` around each example (the norm is taken over all of an example's
    coordinates: for a sequence of embeddings, over the whole ``(T, d)`` block, as in
    Miyato et al. 2017). An example whose gradient is exactly 0 is returned unchanged.

    Args:
        model, x, y, loss_fn, clamp, embed: as in :func:`fgsm`.
        eps: the L2 radius :math:`\varepsilon \ge 0` per example.

    Returns:
        torch.Tensor: the adversarial inputs (or embeddings), detached; before ``clamp``,
        :math:`\lVert x_{\text{adv},i} - x_i\rVert_2 = \varepsilon` for every example with a
        non-zero gradient.

    Raises:
        ValueError: as :func:`fgsm`.

    References:
        Miyato, Dai & Goodfellow, *Adversarial training methods for semi-supervised text
        classification*, ICLR 2017.

    Examples:
        >>> model = nn.Linear(2, 2)
        >>> with torch.no_grad():
        ...     _ = model.weight.copy_(torch.tensor([[3.0, 0.0], [0.0, -1.0]]))
        ...     _ = model.bias.zero_()
        >>> x_adv = fgm(model, torch.zeros(1, 2), torch.tensor([0]), eps=1.0)
        >>> x_adv, round(x_adv.norm().item(), 6)
        (tensor([[-0.9487, -0.3162]]), 1.0)
    """
    eps, loss_fn = _validate(model, x, y, eps, loss_fn, clamp, embed)
    with _evaluation(model, embed):
        z = _start(x, embed)
        grad = _input_gradient(model, z, y, loss_fn)
    norm = grad.flatten(1).norm(dim=1).view(-1, *([1] * (grad.ndim - 1)))
    # δ_i = ε g_i / ‖g_i‖₂, and δ_i = 0 where g_i = 0 (no direction to follow)
    safe = torch.where(norm > 0, norm, torch.ones_like(norm))
    delta = torch.where(norm > 0, eps * grad / safe, torch.zeros_like(grad))
    return _clamp(z + delta, clamp).detach()


def pgd(model: Callable, x: torch.Tensor, y: torch.Tensor, *, eps: float, alpha: float,
        steps: int, generator: torch.Generator | None = None, random_start: bool = True,
        loss_fn: Callable | None = None, clamp: tuple[float, float] | None = None,
        embed: Callable | None = None) -> torch.Tensor:
    r"""Projected gradient descent on the negative loss (ascent on the loss) in the
    :math:`L_\infty` ball, from a random start.

    .. math::
        x^{0} = x + u,\ u \sim \mathcal U[-\varepsilon, \varepsilon]^{d}, \qquad
        x^{t+1} = \Pi_{x,\varepsilon}\bigl(x^{t} + \alpha\,\operatorname{sign}
        (\nabla_x L(f(x^{t}), y))\bigr),

    where :math:`\Pi_{x,\varepsilon}(z) = x + \operatorname{clip}(z - x, -\varepsilon,
    \varepsilon)` projects onto the ball (and ``clamp``, if given, onto the valid range
    after each step). With ``steps=1, random_start=False, alpha=eps`` it is :func:`fgsm`.
    The result is always inside the ball: :math:`\lVert x_{\text{adv}} - x\rVert_\infty
    \le \varepsilon`.

    Args:
        model, x, y, loss_fn, clamp, embed: as in :func:`fgsm`.
        eps: the :math:`L_\infty` radius :math:`\varepsilon \ge 0`.
        alpha: the step size :math:`\alpha > 0`. A common rule, the default of
            MadryLab's *robustness* library, is :math:`2.5\,\varepsilon/\text{steps}`;
            Madry et al.'s own settings differ (MNIST: :math:`\varepsilon = 0.3`, 40
            steps of 0.01; CIFAR-10: :math:`\varepsilon = 8`, 7 steps of 2, in grey
            levels of 255).
        steps: number of gradient steps, at least 1.
        generator: random source of the start (on ``x``'s device, or a CPU generator).
        random_start: start from a uniform point of the ball instead of ``x``.

    Returns:
        torch.Tensor: the adversarial inputs (or embeddings), detached.

    Raises:
        ValueError: as :func:`fgsm`, and ``alpha <= 0`` or ``steps < 1``.

    References:
        Madry, Makelov, Schmidt, Tsipras & Vladu, *Towards deep learning models resistant
        to adversarial attacks*, ICLR 2018.

    Examples:
        >>> model = nn.Linear(2, 2)
        >>> with torch.no_grad():
        ...     _ = model.weight.copy_(torch.tensor([[1.0, -2.0], [0.0, 0.0]]))
        ...     _ = model.bias.zero_()
        >>> pgd(model, torch.zeros(1, 2), torch.tensor([0]), eps=0.1, alpha=0.04, steps=5,
        ...     generator=torch.Generator().manual_seed(0))
        tensor([[-0.1000,  0.1000]])
    """
    eps, loss_fn = _validate(model, x, y, eps, loss_fn, clamp, embed)
    _checks.number(alpha, "alpha", low=0, low_open=True)
    _checks.number(steps, "steps", low=1, integer=True)
    _checks.flag(random_start, "random_start")
    if generator is not None and not isinstance(generator, torch.Generator):
        raise TypeError(f"`generator` must be a torch.Generator or None, "
                        f"got {type(generator).__name__}")
    with _evaluation(model, embed):
        z0 = _start(x, embed)
        z = z0
        if random_start:
            where = z0.device if generator is None else generator.device
            u = torch.rand(z0.shape, generator=generator, dtype=z0.dtype, device=where)
            z = _clamp(z0 + eps * (2 * u.to(z0.device) - 1), clamp)
        for _ in range(steps):
            grad = _input_gradient(model, z, y, loss_fn)
            # x^{t+1} = Π(x^t + α sign(g)):  x + clip(· − x, −ε, ε), then the valid range
            z = z0 + (z + alpha * grad.sign() - z0).clamp(-eps, eps)
            z = _clamp(z, clamp)
    return z.detach()
