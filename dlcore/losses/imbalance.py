r"""Losses and sampling for class imbalance, and the Dice loss for segmentation.

* :func:`effective_number` and :func:`class_balanced_weights` — Cui et al. (2019);
* :func:`resampling_probabilities` — per-sample probabilities of class-aware sampling with
  class probability :math:`\propto n_c^q` (Kang et al. 2020);
* :func:`sigmoid_focal_loss` — the binary focal loss with torchvision's semantics, and
  :func:`focal_loss` — its multi-class softmax form (Lin et al. 2017);
* :func:`logit_adjusted_cross_entropy` and :func:`adjust_logits` — logit adjustment as a loss
  and post hoc (Menon et al. 2021);
* :func:`dice_loss` — the soft Dice loss (Milletari et al. 2016; Sudre et al. 2017).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from dlcore import _checks
from dlcore.losses._common import reduce as _reduce
from dlcore.losses._common import reduction as _reduction_name

__all__ = [
    "effective_number", "class_balanced_weights", "resampling_probabilities",
    "sigmoid_focal_loss", "focal_loss", "logit_adjusted_cross_entropy", "adjust_logits",
    "dice_loss",
]



def _counts(counts, name: str = "counts") -> torch.Tensor:
    """A 1-d tensor of positive, finite class counts, as float64."""
    _checks.tensor(counts, name)
    _checks.ndim(counts, name, (1,))
    _checks.real(counts, name)
    c = _checks.finite(counts.to(torch.float64), name)
    if bool((c <= 0).any()):
        raise ValueError(f"`{name}` must hold positive class counts, got minimum "
                         f"{c.min().item():g}")
    return c


def _out_dtype(counts: torch.Tensor) -> torch.dtype:
    return counts.dtype if counts.is_floating_point() else torch.get_default_dtype()


def effective_number(counts: torch.Tensor, *, beta: float) -> torch.Tensor:
    r"""The effective number of samples of each class, :math:`E_n = (1-\beta^n)/(1-\beta)`.

    .. math::
        E_{n} = \sum_{k=1}^{n} \beta^{k-1} = \frac{1 - \beta^{n}}{1 - \beta},
        \qquad E_n \to n \ (\beta \to 1), \qquad E_n = 1 \ (\beta = 0).

    Args:
        counts: ``(C,)`` positive numbers of samples per class.
        beta: :math:`\beta \in [0, 1)`; Cui et al. use 0.9 … 0.9999.

    Returns:
        ``(C,)`` tensor, float dtype of ``counts`` (the default dtype for integer counts).

    References:
        Cui, Jia, Lin, Song, Belongie, "Class-balanced loss based on effective number of
        samples", CVPR 2019, eq. (3).

    Examples:
        >>> effective_number(torch.tensor([1, 2, 1000]), beta=0.9)
        tensor([ 1.0000,  1.9000, 10.0000])
    """
    c = _counts(counts)
    _checks.number(beta, "beta", low=0, high=1, high_open=True)
    if beta == 0:
        e = torch.ones_like(c)
    else:
        # 1 - β^n = -expm1(n log β), without the cancellation of 1 - β**n near β = 1
        e = -torch.expm1(c * math.log(beta)) / (1 - beta)
    return e.to(_out_dtype(counts))


def class_balanced_weights(counts: torch.Tensor, *, beta: float) -> torch.Tensor:
    r"""Class weights inverse to the effective number, normalised to sum to ``C``.

    .. math::
        w_c = C\,\frac{(1-\beta)/(1-\beta^{n_c})}{\sum_{j=1}^{C} (1-\beta)/(1-\beta^{n_j})}.

    :math:`\beta = 0` gives equal weights; when every :math:`n_c \ll 1/(1-\beta)` they are
    inverse frequency, :math:`w_c \propto 1/n_c`.

    Args:
        counts: ``(C,)`` positive numbers of training samples per class.
        beta: :math:`\beta \in [0, 1)`.

    Returns:
        ``(C,)`` weights summing to ``C``, to pass as ``weight=`` of a cross-entropy.

    Notes:
        The normalisation to sum ``C`` is the authors' code's
        (``weights / sum(weights) * no_of_classes``).

    References:
        Cui et al., CVPR 2019, §4.

    Examples:
        >>> class_balanced_weights(torch.tensor([100, 10, 1]), beta=0.99)
        tensor([0.0422, 0.2800, 2.6777])
        >>> class_balanced_weights(torch.tensor([100, 10, 1]), beta=0.0)
        tensor([1., 1., 1.])
    """
    inverse = 1.0 / effective_number(counts, beta=beta).to(torch.float64)
    return (inverse * (len(inverse) / inverse.sum())).to(_out_dtype(counts))


def resampling_probabilities(counts: torch.Tensor, *, q: float) -> torch.Tensor:
    r"""The probability of drawing one given sample of class ``c``, when classes are drawn
    with probability :math:`\propto n_c^q`.

    .. math::
        p_c^{\text{class}} = \frac{n_c^{\,q}}{\sum_{j} n_j^{\,q}}, \qquad
        p_c^{\text{sample}} = \frac{p_c^{\text{class}}}{n_c}
        = \frac{n_c^{\,q-1}}{\sum_j n_j^{\,q}} .

    :math:`q = 1` is instance-balanced, :math:`q = 0` class-balanced, :math:`q = \tfrac12`
    square-root sampling.

    Args:
        counts: ``(C,)`` positive numbers of training samples per class.
        q: the exponent, a real number (Kang et al. use :math:`q \in [0, 1]`).

    Returns:
        ``(C,)`` per-sample probabilities: ``p[y_train]`` sums to 1 and is the ``weights``
        argument of ``torch.utils.data.WeightedRandomSampler`` or ``torch.multinomial``;
        ``counts * p`` are the class probabilities.

    References:
        Kang, Xie, Rohrbach, Yan, Gordo, Feng, Kalantidis, "Decoupling representation and
        classifier for long-tailed recognition", ICLR 2020, eq. (1).

    Examples:
        >>> counts = torch.tensor([90, 10])
        >>> p = resampling_probabilities(counts, q=0.0)
        >>> p, counts * p
        (tensor([0.0056, 0.0500]), tensor([0.5000, 0.5000]))
    """
    c = _counts(counts)
    _checks.number(q, "q")
    # n^q / Σ n^q through a log-sum-exp, so that large counts and |q| do not overflow
    log_class = q * c.log() - torch.logsumexp(q * c.log(), dim=0)
    return (log_class - c.log()).exp().to(_out_dtype(counts))


def _modulating(one_minus_p: torch.Tensor, gamma: float) -> torch.Tensor:
    """(1 - p)^γ with a zero gradient where 1 - p = 0 (its limit) instead of NaN for γ < 1."""
    if gamma == 0:
        return torch.ones_like(one_minus_p)
    positive = one_minus_p > 0
    safe = torch.where(positive, one_minus_p, torch.ones_like(one_minus_p))
    return torch.where(positive, safe.pow(gamma), torch.zeros_like(one_minus_p))


def _unit_interval(x, name, hint=""):
    if bool(((x < 0) | (x > 1)).any()):
        raise ValueError(f"`{name}` must lie in [0, 1]{hint}, got values in "
                         f"[{x.min().item():g}, {x.max().item():g}]")


def _gamma(gamma) -> float:
    return _checks.number(gamma, "gamma", low=0)


def sigmoid_focal_loss(inputs: torch.Tensor, targets: torch.Tensor, *, alpha: float = 0.25,
                       gamma: float = 2.0, reduction: str = "none") -> torch.Tensor:
    r"""The binary focal loss of RetinaNet, with the semantics of
    ``torchvision.ops.sigmoid_focal_loss``.

    .. math::
        p = \sigma(x),\quad p_t = p\,t + (1-p)(1-t),\quad
        \alpha_t = \alpha\,t + (1-\alpha)(1-t),\quad
        \ell = -\alpha_t\,(1-p_t)^{\gamma}\,\bigl[t\log p + (1-t)\log(1-p)\bigr].

    Args:
        inputs: logits :math:`x`, any shape, floating.
        targets: same shape, floating, in :math:`[0, 1]` (1 positive, 0 negative).
        alpha: weight of the positives, :math:`1-\alpha` of the negatives; a negative value
            disables the weighting (:math:`\alpha_t = 1`), as in torchvision.
        gamma: focusing parameter :math:`\gamma \ge 0`.
        reduction: ``"none"`` (the default, as torchvision's), ``"mean"`` or ``"sum"``.

    Returns:
        The loss per element, or its mean or sum.

    Notes:
        The bracket is ``binary_cross_entropy_with_logits``, and
        :math:`1-p_t = t\,\sigma(-x) + (1-t)\,\sigma(x)` avoids the cancellation of
        ``1 - p_t``. With :math:`\gamma = 0`, ``alpha=-1`` it is the binary cross-entropy.
        Stricter than torchvision, which accepts any ``alpha``: here ``alpha > 1`` (which
        would give the negatives a negative weight) raises ``ValueError``.

    References:
        Lin, Goyal, Girshick, He, Dollár, "Focal loss for dense object detection",
        ICCV 2017, eq. (5).

    Examples:
        >>> x, t = torch.tensor([2.0, -1.0]), torch.tensor([1.0, 0.0])
        >>> sigmoid_focal_loss(x, t, alpha=-1, gamma=0.0)
        tensor([0.1269, 0.3133])
        >>> sigmoid_focal_loss(x, t)
        tensor([0.0005, 0.0170])
    """
    _checks.no_nan(_checks.tensor(inputs, "inputs", floating=True), "inputs")
    _checks.tensor(targets, "targets", floating=True)
    _checks.same_shape(inputs, targets, "inputs", "targets")
    _unit_interval(_checks.finite(targets, "targets"), "targets")
    _checks.number(alpha, "alpha", high=1)
    gamma = _gamma(gamma)
    _reduction_name(reduction)
    ce = F.binary_cross_entropy_with_logits(inputs, targets, reduction="none")
    # 1 - p_t = t (1 - p) + (1 - t) p, with 1 - σ(x) = σ(-x)
    one_minus_pt = targets * torch.sigmoid(-inputs) + (1 - targets) * torch.sigmoid(inputs)
    loss = ce * _modulating(one_minus_pt, gamma)
    if alpha >= 0:
        loss = (alpha * targets + (1 - alpha) * (1 - targets)) * loss
    return _reduce(loss, reduction)


def _class_pair(logits, target, name="logits"):
    """Validate (N, C, *) logits against (N, *) class indices; return C."""
    _checks.no_nan(_checks.tensor(logits, name, floating=True), name)
    _checks.tensor(target, "target")
    if logits.ndim < 2:
        raise ValueError(f"`{name}` must have shape (N, C) or (N, C, d1, ...), got "
                         f"{tuple(logits.shape)}")
    want = (logits.shape[0], *logits.shape[2:])
    if tuple(target.shape) != want:
        raise ValueError(f"`target` must have shape {want} (the shape of `{name}` without "
                         f"the class axis 1), got {tuple(target.shape)}")
    _checks.labels(target, "target", logits.shape[1])
    return logits.shape[1]


def _per_class(values, name, num_classes, like):
    """A (C,) tensor of class values, checked, in the dtype and on the device of ``like``."""
    _checks.tensor(values, name)
    _checks.real(values, name)
    if tuple(values.shape) != (num_classes,):
        raise ValueError(f"`{name}` must have shape ({num_classes},), one value per class, "
                         f"got {tuple(values.shape)}")
    _checks.finite(values.to(torch.float64), name)
    return values.to(dtype=like.dtype, device=like.device)


def _class_axis(values, logits):
    """Shape a (C,) tensor to broadcast along axis 1 of (N, C, d1, ...) logits."""
    return values.view(1, -1, *([1] * (logits.ndim - 2)))


def focal_loss(logits: torch.Tensor, target: torch.Tensor, *, gamma: float = 2.0,
               alpha: torch.Tensor | None = None, reduction: str = "mean") -> torch.Tensor:
    r"""The multi-class (softmax) focal loss, :math:`-\alpha_y (1-p_y)^{\gamma}\log p_y`.

    .. math::
        p = \operatorname{softmax}(z), \qquad
        \ell_i = -\alpha_{y_i}\,\bigl(1 - p_{i, y_i}\bigr)^{\gamma}\,\log p_{i, y_i}.

    Args:
        logits: ``(N, C)`` or ``(N, C, d1, ...)`` logits :math:`z`, as for
            :func:`torch.nn.functional.cross_entropy`.
        target: ``(N,)`` or ``(N, d1, ...)`` class indices in ``[0, C)``.
        gamma: focusing parameter :math:`\gamma \ge 0`.
        alpha: ``None`` (every :math:`\alpha_c = 1`) or a ``(C,)`` tensor of class weights.
        reduction: ``"mean"`` (the default), ``"sum"`` or ``"none"``.

    Returns:
        The loss per sample (shape of ``target``), or its mean or sum.

    Notes:
        ``"mean"`` divides by the number of samples, not by :math:`\sum_i \alpha_{y_i}` as
        ``F.cross_entropy(weight=alpha)`` does: with :math:`\gamma = 0` the loss equals
        ``F.cross_entropy(logits, target)`` for ``alpha=None`` and
        ``F.cross_entropy(..., weight=alpha, reduction="sum") / N`` otherwise.
        :math:`\log p_y` is ``log_softmax`` and :math:`1 - p_y = -\mathrm{expm1}(\log p_y)`,
        so logits of :math:`\pm 10^4` give finite values and gradients.

    References:
        Lin et al., ICCV 2017, §3.2 (the binary form; the multi-class form applies it to the
        softmax probability of the true class).

    Examples:
        >>> z, y = torch.tensor([[2.0, 0.0, -1.0]]), torch.tensor([0])
        >>> focal_loss(z, y, gamma=0.0), F.cross_entropy(z, y)
        (tensor(0.1698), tensor(0.1698))
        >>> focal_loss(z, y)
        tensor(0.0041)
    """
    num_classes = _class_pair(logits, target)
    gamma = _gamma(gamma)
    _reduction_name(reduction)
    log_p = F.log_softmax(logits, dim=1).gather(1, target.long().unsqueeze(1)).squeeze(1)
    loss = -_modulating(-torch.expm1(log_p), gamma) * log_p
    if alpha is not None:
        loss = _per_class(alpha, "alpha", num_classes, logits)[target.long()] * loss
    return _reduce(loss, reduction)


def _prior(prior, logits):
    """A (C,) prior: positive probabilities summing to 1."""
    p = _per_class(prior, "prior", logits.shape[1], logits)
    if bool((p <= 0).any()):
        raise ValueError(f"`prior` must hold positive probabilities, got minimum "
                         f"{p.min().item():g}")
    total = float(prior.to(torch.float64).sum())
    if abs(total - 1) > 1e-6:
        raise ValueError(f"`prior` must sum to 1 (class frequencies: counts / counts.sum())"
                         f", got sum {total:.6g}")
    return p


def adjust_logits(logits: torch.Tensor, prior: torch.Tensor, *,
                  tau: float = 1.0) -> torch.Tensor:
    r"""Post-hoc logit adjustment: :math:`z_c - \tau \log \pi_c`, whose argmax is the
    prediction for a balanced test distribution.

    Args:
        logits: ``(N, C)`` or ``(N, C, d1, ...)`` logits of a model trained on data with
            class prior :math:`\pi`.
        prior: ``(C,)`` training class frequencies, positive, summing to 1.
        tau: :math:`\tau \ge 0`; :math:`\tau = 1` is Bayes-consistent for the balanced error.

    Returns:
        The adjusted logits, shape of ``logits``.

    References:
        Menon, Jayasumana, Rawat, Jain, Veit, Kumar, "Long-tail learning via logit
        adjustment", ICLR 2021, eq. (9).

    Examples:
        >>> adjust_logits(torch.tensor([[1.0, 0.0]]), torch.tensor([0.9, 0.1]))
        tensor([[1.1054, 2.3026]])
    """
    _checks.no_nan(_checks.tensor(logits, "logits", floating=True), "logits")
    if logits.ndim < 2:
        raise ValueError(f"`logits` must have shape (N, C) or (N, C, d1, ...), got "
                         f"{tuple(logits.shape)}")
    _checks.number(tau, "tau", low=0)
    return logits - tau * _class_axis(_prior(prior, logits).log(), logits)


def logit_adjusted_cross_entropy(logits: torch.Tensor, target: torch.Tensor,
                                 prior: torch.Tensor, *, tau: float = 1.0,
                                 reduction: str = "mean") -> torch.Tensor:
    r"""The logit-adjusted softmax cross-entropy: cross-entropy of :math:`z + \tau\log\pi`.

    .. math::
        \ell(y, z) = -\log \frac{e^{z_y + \tau \log \pi_y}}
        {\sum_{c} e^{z_c + \tau \log \pi_c}} .

    Training with it and predicting with the plain :math:`\arg\max_c z_c` targets the
    balanced error; :math:`\tau = 0` is the ordinary cross-entropy.

    Args:
        logits: ``(N, C)`` or ``(N, C, d1, ...)`` logits.
        target: ``(N,)`` or ``(N, d1, ...)`` class indices.
        prior: ``(C,)`` training class frequencies, positive, summing to 1.
        tau: :math:`\tau \ge 0`.
        reduction: ``"mean"``, ``"sum"`` or ``"none"``, as for ``F.cross_entropy``.

    Returns:
        The loss, as ``F.cross_entropy`` of the shifted logits.

    References:
        Menon et al., ICLR 2021, eq. (10).

    Examples:
        >>> z, y = torch.tensor([[1.0, 0.0]]), torch.tensor([1])
        >>> logit_adjusted_cross_entropy(z, y, torch.tensor([0.5, 0.5]))
        tensor(1.3133)
        >>> logit_adjusted_cross_entropy(z, y, torch.tensor([0.9, 0.1]))
        tensor(3.2373)
    """
    _class_pair(logits, target)
    _checks.number(tau, "tau", low=0)
    _reduction_name(reduction)
    shift = tau * _class_axis(_prior(prior, logits).log(), logits)
    return F.cross_entropy(logits + shift, target.long(), reduction=reduction)


def dice_loss(input: torch.Tensor, target: torch.Tensor, *, smooth: float = 1.0,
              squared: bool = False, from_logits: bool = False,
              reduction: str = "mean") -> torch.Tensor:
    r"""The soft Dice loss of a binary segmentation, one Dice coefficient per sample.

    .. math::
        D_i = \frac{2\sum_j p_{ij}\,t_{ij} + s}{\sum_j p_{ij}^k + \sum_j t_{ij}^k + s},
        \qquad \ell_i = 1 - D_i,

    with :math:`k = 1` (``squared=False``, the soft Sørensen–Dice of Sudre et al. and most
    libraries) or :math:`k = 2` (``squared=True``, Milletari et al.'s V-Net form); the sums
    run over every axis but the first.

    Args:
        input: ``(N, ...)`` foreground probabilities in :math:`[0, 1]`, or logits with
            ``from_logits=True`` (then :math:`p = \sigma(\text{input})`).
        target: same shape, in :math:`[0, 1]` (1 foreground).
        smooth: :math:`s \ge 0`, added to numerator and denominator: an empty target
            predicted empty scores :math:`D = 1`, and small masks get smoother gradients.
        squared: squares in the denominator (Milletari) or not.
        from_logits: apply the sigmoid to ``input`` first.
        reduction: ``"mean"`` (over samples, the default), ``"sum"`` or ``"none"``.

    Returns:
        ``(N,)`` losses, or their mean or sum.

    Notes:
        For hard 0/1 masks and :math:`s = 0` both forms are :math:`1 - F_1` of the pixels.
        With :math:`s = 0`, an all-zero prediction of an all-zero target gets :math:`D = 1`
        (the limit :math:`s \to 0`), not NaN.

    References:
        Milletari, Navab, Ahmadi, "V-Net", 3DV 2016, eq. (1); Sudre, Li, Vercauteren,
        Ourselin, Cardoso, "Generalised Dice overlap as a deep learning loss function for
        highly unbalanced segmentations", DLMIA 2017, eq. (1)–(2).

    Examples:
        >>> p = torch.tensor([[0.9, 0.1, 0.8, 0.0]])
        >>> t = torch.tensor([[1.0, 0.0, 1.0, 0.0]])
        >>> dice_loss(p, t, smooth=0.0), dice_loss(p, t, smooth=0.0, squared=True)
        (tensor(0.1053), tensor(0.0173))
    """
    _checks.no_nan(_checks.tensor(input, "input", floating=True), "input")
    _checks.tensor(target, "target", floating=True)
    _checks.same_shape(input, target, "input", "target")
    if input.ndim < 2:
        raise ValueError(f"`input` must have shape (N, ...) with a batch axis and at least "
                         f"one more, got {tuple(input.shape)}")
    _checks.number(smooth, "smooth", low=0)
    _checks.flag(squared, "squared")
    _checks.flag(from_logits, "from_logits")
    _reduction_name(reduction)
    _unit_interval(_checks.finite(target, "target"), "target")
    if not from_logits:
        _unit_interval(input, "input", " (pass logits with from_logits=True)")
    p = torch.sigmoid(input) if from_logits else input
    dims = tuple(range(1, p.ndim))
    k = 2 if squared else 1
    numerator = 2 * (p * target).sum(dims) + smooth
    denominator = p.pow(k).sum(dims) + target.pow(k).sum(dims) + smooth
    empty = denominator == 0            # only with smooth = 0 and p = t = 0: D = 1
    safe = torch.where(empty, torch.ones_like(denominator), denominator)
    dice = torch.where(empty, torch.ones_like(numerator), numerator / safe)
    return _reduce(1 - dice, reduction)
