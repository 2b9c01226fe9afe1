r"""Classification losses, each equal to its :mod:`torch.nn.functional` namesake.

Values and autograd gradients equal PyTorch's in float64 for every reduction, including for
logits as large as :math:`|x| = 10^4`. The conventions that surprise people are torch's and are
kept on purpose:

* a **weighted mean** divides by the weights of the targets, not by the number of examples:
  :math:`\sum_i w_{y_i}\ell_i / \sum_i w_{y_i}` (targets equal to ``ignore_index`` count in
  neither sum); with probability targets the mean divides by the number of examples;
* **label smoothing** :math:`\varepsilon` mixes the target with the uniform distribution,
  :math:`(1-\varepsilon)\,y + \varepsilon/K` on every class, the true one included
  (Szegedy et al., 2016);
* :func:`binary_cross_entropy` clamps each logarithm at :math:`-100`, and its gradient is
  torch's :math:`(p - y)/\max(p(1-p), 10^{-12})`.

A mean over no example at all (every target ignored) is :math:`0/0 = \text{NaN}`, as in torch.
"""

from __future__ import annotations

import torch

from dlcore import _checks
from dlcore.activations import log_softmax
from dlcore.losses._common import reduce as _reduce
from dlcore.losses._common import reduction as _reduction_name

__all__ = ["cross_entropy", "nll_loss", "binary_cross_entropy",
           "binary_cross_entropy_with_logits"]

# torch's floor on p(1 - p) in the gradient of binary_cross_entropy: 1e-12 stored as a
# float32, 9.99999996e-13
_EPSILON = torch.tensor(1e-12, dtype=torch.float32).item()


# --------------------------------------------------------------------------- validation


def _scores(x, name: str) -> torch.Tensor:
    _checks.tensor(x, name, floating=True)
    return _checks.no_nan(x, name)


def _class_dim(x: torch.Tensor) -> int:
    # torch: (C,) is one unbatched example, otherwise (N, C, d1, ...) with classes on dim 1
    return 0 if x.ndim == 1 else 1


def _weight(weight, num_classes: int, like: torch.Tensor):
    if weight is None:
        return None
    _checks.finite(_scores(weight, "weight"), "weight")
    if weight.shape != (num_classes,):
        raise ValueError(f"`weight` must have shape ({num_classes},), one weight per class, "
                         f"got {tuple(weight.shape)}")
    if bool((weight < 0).any()):
        raise ValueError(f"`weight` must be >= 0, got min {weight.min().item():.4g}")
    return weight.to(like.dtype)


def _index_target(target, x: torch.Tensor, ignore_index: int) -> torch.Tensor:
    _checks.tensor(target, "target", allow_empty=True)
    expected = tuple(x.shape[:1] + x.shape[2:]) if x.ndim > 1 else ()
    if tuple(target.shape) != expected:
        raise ValueError(f"`target` of class indices must have shape {expected} for input of "
                         f"shape {tuple(x.shape)}, got {tuple(target.shape)}")
    kept = target[target != ignore_index]
    _checks.labels(kept, "target", x.shape[_class_dim(x)])
    return target


def _probability_target(target: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    _checks.same_shape(x, target, "input", "target")
    _checks.finite(target, "target")
    if bool((target < 0).any()):
        raise ValueError(f"`target` probabilities must be >= 0, "
                         f"got min {target.min().item():.4g}")
    d = _class_dim(x)
    # a tolerance for rounding: softmax outputs in float32 sum to 1 within ~K·eps
    tol = max(1e-6, 10 * torch.finfo(target.dtype).eps * x.shape[d])
    sums = target.sum(dim=d)
    worst = (sums - 1).abs().max().item()
    if worst > tol:
        raise ValueError(f"`target` probabilities must sum to 1 over the class dimension "
                         f"{d}, got sums off by up to {worst:.4g}")
    return target.to(x.dtype)


# --------------------------------------------------------------------------- softmax losses


def _nll(logp, target, weight, ignore_index, reduction, label_smoothing):
    """Negative log-likelihood of log-probabilities ``logp``; torch's weighting conventions."""
    d = _class_dim(logp)
    K = logp.shape[d]
    w = torch.ones(K, dtype=logp.dtype, device=logp.device) if weight is None else weight
    w_shape = [1] * logp.ndim
    w_shape[d] = K
    w_b = w.reshape(w_shape)  # weight broadcast along the class dimension
    if target.is_floating_point():
        # soft target q, smoothed: q' = (1 - ε) q + ε / K
        q = (1 - label_smoothing) * target + label_smoothing / K
        loss = -(w_b * q * logp).sum(dim=d)  # ℓ_i = -Σ_c w_c q'_ic log p_ic
        return _reduce(loss, reduction)  # mean over examples, weights or not
    keep = target != ignore_index
    safe = torch.where(keep, target, torch.zeros_like(target)).long()  # any class will do
    # ℓ_i = -w_{y_i} log p_{i, y_i}, and 0 for an ignored target
    picked = logp.gather(d, safe.unsqueeze(d)).squeeze(d)
    w_y = torch.where(keep, w[safe], torch.zeros((), dtype=logp.dtype, device=logp.device))
    loss = -w_y * picked
    if label_smoothing > 0:
        # the uniform part: (ε / K) · (-Σ_c w_c log p_ic), also 0 for an ignored target
        uniform = -(w_b * logp).sum(dim=d) * keep.to(logp.dtype)
        loss = (1 - label_smoothing) * loss + label_smoothing / K * uniform
    # torch's weighted mean: Σ_i ℓ_i / Σ_i w_{y_i} (not Σ_i ℓ_i / N)
    return _reduce(loss, reduction, denominator=w_y.sum())


def cross_entropy(logits: torch.Tensor, target: torch.Tensor, *, weight=None,
                  ignore_index: int = -100, reduction: str = "mean",
                  label_smoothing: float = 0.0) -> torch.Tensor:
    r"""Softmax cross-entropy of logits, for class indices or probability targets.

    .. math::
        \ell_i = -\sum_{c=1}^{K} w_c\, q_{ic} \log \operatorname{softmax}(x_i)_c, \qquad
        q_i = (1 - \varepsilon)\, y_i + \varepsilon / K,

    with :math:`y_i` the one-hot vector of the class index (or the given probabilities) and
    :math:`\log\operatorname{softmax}` computed by log-sum-exp. For class indices torch
    writes the same thing as
    :math:`\ell_i = (1-\varepsilon)\, w_{y_i}(-\log p_{i y_i}) +
    \tfrac{\varepsilon}{K}\sum_c w_c(-\log p_{ic})`.

    Args:
        logits: floating tensor ``(N, K)``, ``(N, K, d1, ...)`` or ``(K,)`` (one example).
        target: either class indices, an integer tensor of the shape of ``logits`` without
            the class dimension, or probabilities, a floating tensor of the shape of
            ``logits`` that sums to 1 over the class dimension.
        weight: optional ``(K,)`` tensor of non-negative class weights :math:`w_c`.
        ignore_index: a class-index target equal to it contributes nothing, neither to the
            loss nor to the denominator of the mean (unused for probability targets).
        reduction: ``"none"`` (per example), ``"sum"`` or ``"mean"``. With class indices the
            mean is :math:`\sum_i \ell_i / \sum_i w_{y_i}` over the targets not ignored (the
            number of them without ``weight``); with probabilities it is over the examples.
        label_smoothing: :math:`\varepsilon \in [0, 1]`.

    Returns:
        torch.Tensor: the loss, a scalar, or the shape of ``logits`` without the class dimension.

    Notes:
        torch's weighted mean is not ``mean(w_y * loss)``: the chapter's cross-entropy page
        shows the difference. Without weights the gradient of :math:`\ell_i` with respect to
        the logits is :math:`p_i - q_i`; with weights it is
        :math:`(\sum_c w_c q_{ic})\, p_i - w \odot q_i`.

    References:
        Szegedy et al., *Rethinking the Inception architecture for computer vision*, CVPR
        2016, §7 (label smoothing).

    Examples:
        >>> cross_entropy(torch.tensor([[0.0, 0.0]]), torch.tensor([1]))
        tensor(0.6931)
        >>> cross_entropy(torch.tensor([[1e4, -1e4]]), torch.tensor([1]))
        tensor(20000.)
        >>> cross_entropy(torch.tensor([[2.0, 0.0]]), torch.tensor([[0.5, 0.5]]))
        tensor(1.1269)
    """
    x = _scores(logits, "logits")
    reduction = _reduction_name(reduction)
    eps = _checks.number(label_smoothing, "label_smoothing", low=0, high=1)
    _checks.number(ignore_index, "ignore_index", integer=True)
    w = _weight(weight, x.shape[_class_dim(x)], x)
    _checks.tensor(target, "target", allow_empty=True)
    if target.is_floating_point():
        target = _probability_target(target, x)
    else:
        target = _index_target(target, x, ignore_index)
    logp = log_softmax(x, dim=_class_dim(x))
    return _nll(logp, target, w, ignore_index, reduction, eps)


def nll_loss(input: torch.Tensor, target: torch.Tensor, *, weight=None,
             ignore_index: int = -100, reduction: str = "mean") -> torch.Tensor:
    r"""Negative log-likelihood of log-probabilities and class indices.

    .. math:: \ell_i = -w_{y_i}\, \text{input}_{i, y_i}

    ``cross_entropy(x, y)`` equals ``nll_loss(log_softmax(x, dim=1), y)``: ``input`` must be
    **log**-probabilities (given probabilities, the "loss" is :math:`-p_y`, a classic bug).

    Args:
        input: floating tensor ``(N, K)``, ``(N, K, d1, ...)`` or ``(K,)`` of log-probabilities.
        target: integer class indices, the shape of ``input`` without the class dimension.
        weight: optional ``(K,)`` non-negative class weights.
        ignore_index: targets equal to it contribute nothing.
        reduction: ``"none"``, ``"sum"`` or ``"mean"`` (:math:`\sum_i \ell_i/\sum_i w_{y_i}`).

    Returns:
        torch.Tensor: the loss, a scalar, or the shape of ``target``.

    Examples:
        >>> nll_loss(torch.tensor([[-0.1, -2.4], [-1.2, -0.4]]), torch.tensor([0, 1]))
        tensor(0.2500)
    """
    logp = _scores(input, "input")
    reduction = _reduction_name(reduction)
    _checks.number(ignore_index, "ignore_index", integer=True)
    w = _weight(weight, logp.shape[_class_dim(logp)], logp)
    _checks.tensor(target, "target", allow_empty=True)
    if target.is_floating_point():
        raise ValueError(f"`target` must hold integer class indices, got {target.dtype}")
    target = _index_target(target, logp, ignore_index)
    return _nll(logp, target, w, ignore_index, reduction, 0.0)


# --------------------------------------------------------------------------- binary losses


def _binary_weight(weight, x: torch.Tensor, name: str = "weight"):
    if weight is None:
        return None
    _checks.finite(_scores(weight, name), name)
    try:
        shape = torch.broadcast_shapes(weight.shape, x.shape)
    except RuntimeError:
        shape = None
    if shape != x.shape:
        raise ValueError(f"`{name}` must broadcast to the input's shape {tuple(x.shape)}, "
                         f"got {tuple(weight.shape)}")
    if bool((weight < 0).any()):
        raise ValueError(f"`{name}` must be >= 0, got min {weight.min().item():.4g}")
    return weight.to(x.dtype)


def _unit_interval(x: torch.Tensor, name: str) -> torch.Tensor:
    if bool(((x < 0) | (x > 1)).any()):
        raise ValueError(f"`{name}` must hold probabilities in [0, 1], got values in "
                         f"[{x.min().item():.4g}, {x.max().item():.4g}]")
    return x


class _BinaryCrossEntropy(torch.autograd.Function):
    """Elementwise BCE of probabilities with torch's clamped value and its gradient."""

    @staticmethod
    def forward(ctx, p, y):
        ctx.save_for_backward(p, y)
        # ℓ = -(y log p + (1 - y) log(1 - p)), each log clamped at -100 as torch does
        log_p = torch.log(p).clamp(min=-100)
        log_1mp = torch.log1p(-p).clamp(min=-100)
        return -(y * log_p + (1 - y) * log_1mp)

    @staticmethod
    def backward(ctx, grad):
        p, y = ctx.saved_tensors
        # torch's gradient: ∂ℓ/∂p = (p - y) / max(p(1 - p), 1e-12), ∂ℓ/∂y = -logit(p)
        grad_p = grad * (p - y) / (p * (1 - p)).clamp(min=_EPSILON)
        grad_y = grad * (torch.log1p(-p) - torch.log(p))
        return grad_p, grad_y


def binary_cross_entropy(input: torch.Tensor, target: torch.Tensor, *, weight=None,
                         reduction: str = "mean") -> torch.Tensor:
    r"""Binary cross-entropy of probabilities.

    .. math::
        \ell_i = -w_i\bigl[y_i \max(\log p_i, -100) + (1 - y_i)\max(\log(1 - p_i), -100)\bigr]

    Both terms are needed: :math:`-\sum_i y_i\log p_i` alone (written in some notes) is
    minimised by :math:`p = 1` everywhere. The clamp at :math:`-100` is torch's: it keeps
    :math:`p \in \{0, 1\}` finite. Prefer :func:`binary_cross_entropy_with_logits`, which
    needs no clamp.

    Args:
        input: floating tensor of probabilities :math:`p \in [0, 1]`, any shape.
        target: floating tensor of the same shape, values in :math:`[0, 1]`.
        weight: optional non-negative weights that broadcast to ``input``.
        reduction: ``"none"``, ``"sum"`` or ``"mean"`` (over all elements, weighted or not).

    Returns:
        torch.Tensor: the loss, a scalar, or the shape of ``input``.

    Examples:
        >>> binary_cross_entropy(torch.tensor([0.9, 0.0]), torch.tensor([1.0, 1.0]),
        ...                      reduction="none")
        tensor([  0.1054, 100.0000])
    """
    p = _unit_interval(_scores(input, "input"), "input")
    reduction = _reduction_name(reduction)
    _checks.tensor(target, "target", floating=True)
    _checks.same_shape(p, target, "input", "target")
    y = _unit_interval(_checks.no_nan(target, "target"), "target").to(p.dtype)
    w = _binary_weight(weight, p)
    loss = _BinaryCrossEntropy.apply(p, y)
    return _reduce(loss if w is None else w * loss, reduction)


def _softplus(u: torch.Tensor) -> torch.Tensor:
    """log(1 + e^u) without overflow and with the exact gradient σ(u) everywhere."""
    pos, neg = u.clamp(min=0), u.clamp(max=0)  # each branch sees only its half-line
    return torch.where(u > 0, pos + torch.log1p(torch.exp(-pos)), torch.log1p(torch.exp(neg)))


def binary_cross_entropy_with_logits(input: torch.Tensor, target: torch.Tensor, *,
                                     weight=None, reduction: str = "mean",
                                     pos_weight=None) -> torch.Tensor:
    r"""Binary cross-entropy of logits, computed stably, with an optional positive weight.

    With :math:`p = \sigma(x)`, :math:`\log p = -\operatorname{softplus}(-x)` and
    :math:`\log(1-p) = -x - \operatorname{softplus}(-x)`, so

    .. math::
        \ell_i = -w_i\bigl[\rho\, y_i \log p_i + (1 - y_i)\log(1 - p_i)\bigr]
        = w_i\bigl[(1 - y_i)\,x_i + (1 + (\rho - 1)\,y_i)\operatorname{softplus}(-x_i)\bigr],

    where :math:`\rho` is ``pos_weight`` (1 if None). No exponential overflows and no
    logarithm of 0 is taken, whatever :math:`x`.

    Args:
        input: floating tensor of logits, any shape.
        target: floating tensor of the same shape, values in :math:`[0, 1]`.
        weight: optional non-negative weights that broadcast to ``input``.
        reduction: ``"none"``, ``"sum"`` or ``"mean"`` (over all elements).
        pos_weight: optional non-negative weights of the positive term that broadcast to
            ``input``, typically one per class on the last dimension (e.g. n_neg / n_pos).

    Returns:
        torch.Tensor: the loss, a scalar, or the shape of ``input``.

    Examples:
        >>> binary_cross_entropy_with_logits(torch.tensor([1e4, -1e4]),
        ...                                  torch.tensor([1.0, 1.0]), reduction="none")
        tensor([    0., 10000.])
    """
    x = _scores(input, "input")
    reduction = _reduction_name(reduction)
    _checks.tensor(target, "target", floating=True)
    _checks.same_shape(x, target, "input", "target")
    y = _unit_interval(_checks.no_nan(target, "target"), "target").to(x.dtype)
    w = _binary_weight(weight, x)
    rho = _binary_weight(pos_weight, x, "pos_weight")
    coef = 1 if rho is None else 1 + (rho - 1) * y  # 1 + (ρ - 1) y
    loss = (1 - y) * x + coef * _softplus(-x)
    return _reduce(loss if w is None else w * loss, reduction)
