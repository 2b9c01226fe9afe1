r"""Information theory of discrete distributions, and :func:`kl_div` as in torch.

For probability vectors :math:`p, q` and a joint table :math:`p(x, y)` (rows :math:`x`,
columns :math:`y`), with :math:`0 \log 0 = 0`:

.. math::

    H(p) = -\sum_i p_i \log p_i, \qquad
    D_{\mathrm{KL}}(p \,\|\, q) = \sum_i p_i \log \frac{p_i}{q_i},

    H(Y \mid X) = -\sum_{x, y} p(x, y) \log p(y \mid x), \qquad
    I(X; Y) = \sum_{x, y} p(x, y) \log \frac{p(x, y)}{p(x)\,p(y)}
            = D_{\mathrm{KL}}\bigl(p(x, y) \,\|\, p(x)\,p(y)\bigr)

(Shannon, 1948; Kullback & Leibler, 1951; Cover & Thomas, 2006, ch. 2).

Conventions shared by :func:`entropy`, :func:`kl_divergence`, :func:`conditional_entropy` and
:func:`mutual_information`:

* The natural logarithm (nats) by default; ``base=2`` gives bits. ``base`` must be > 0 and
  not 1.
* Inputs are *normalised* probabilities: floating, finite, :math:`\ge 0`, summing to 1 (along
  ``dim``, or over the whole joint table) within :math:`\sqrt{\epsilon}` of the dtype times the
  number of summed entries. Unlike :func:`scipy.stats.entropy`, nothing is renormalised
  silently: a table of counts is an error, divide it by its sum first.
* :math:`D_{\mathrm{KL}}(p\|q) = +\infty` when some :math:`p_i > 0` has :math:`q_i = 0`.
* :func:`conditional_entropy` and :func:`mutual_information` are never negative: rounding can
  make the sum for independent variables about :math:`-10^{-17}`, which is clipped to 0, as
  :func:`sklearn.metrics.mutual_info_score` does.

:func:`kl_div` is :func:`torch.nn.functional.kl_div`: ``input`` holds the model's
*log*-probabilities, the result is pointwise :math:`\text{target}\,(\log \text{target} -
\text{input})`, and ``reduction="mean"`` divides by the number of elements, not by the batch.
"""

from __future__ import annotations

import math

import torch

from dlcore import _checks

__all__ = ["entropy", "kl_divergence", "conditional_entropy", "mutual_information", "kl_div"]


def _log_base(base) -> float:
    """``log(base)``, the divisor that turns nats into units of ``base`` (1 for nats)."""
    if base is None:
        return 1.0
    b = _checks.number(base, "base", low=0, low_open=True)
    if b == 1:
        raise ValueError("`base` must be a positive number other than 1, got 1")
    return math.log(b)


def _probabilities(p, name: str, dim: int | None) -> torch.Tensor:
    """Check that ``p`` holds probabilities summing to 1 along ``dim`` (all entries if None)."""
    _checks.tensor(p, name, floating=True)
    _checks.finite(p, name)
    if bool((p < 0).any()):
        raise ValueError(f"`{name}` must hold probabilities >= 0, got minimum "
                         f"{float(p.detach().min()):g}")
    total = p.sum() if dim is None else p.sum(dim=dim)
    count = p.numel() if dim is None else p.shape[dim]
    tol = math.sqrt(torch.finfo(p.dtype).eps) * max(count, 1)
    worst = float((total.detach() - 1).abs().max())
    if worst > tol:
        where = "in total" if dim is None else f"along dim {dim}"
        raise ValueError(f"`{name}` must sum to 1 {where} (within {tol:.1e}), got a sum "
                         f"off by {worst:.3g}; divide counts by their sum first")
    return p


def _joint(joint) -> torch.Tensor:
    _checks.tensor(joint, "joint", floating=True)
    _checks.ndim(joint, "joint", (2,))
    return _probabilities(joint, "joint", None)


def entropy(p: torch.Tensor, *, base: float | None = None, dim: int = -1) -> torch.Tensor:
    r"""Shannon entropy :math:`H(p) = -\sum_i p_i \log p_i` of probability vectors.

    Terms with :math:`p_i = 0` contribute 0 (the limit of :math:`t \log t`), computed with
    :func:`torch.special.entr`, so a one-hot vector has entropy exactly 0; the derivative
    :math:`-(\log p_i + 1)` is :math:`+\infty` at :math:`p_i = 0`, never NaN.

    Args:
        p: probabilities, floating tensor summing to 1 along ``dim``.
        base: logarithm base; ``None`` for nats, 2 for bits.
        dim: the axis of the distribution; the others are batch axes.

    Returns:
        torch.Tensor: the entropies, ``p``'s shape without ``dim``.

    Raises:
        ValueError: negative entries, sums other than 1, NaN/inf, a bad ``base`` or ``dim``.

    References:
        Shannon, C. E. (1948). A mathematical theory of communication. *Bell Syst. Tech. J.*

    Examples:
        >>> entropy(torch.tensor([0.5, 0.5]), base=2)
        tensor(1.)
        >>> entropy(torch.tensor([[1.0, 0.0], [0.25, 0.75]]))
        tensor([0.0000, 0.5623])
    """
    _checks.tensor(p, "p", floating=True)
    d = _checks.dim_index(dim, p)
    _probabilities(p, "p", d)
    # H = −Σ p log p; entr(t) = −t log t is 0 at t = 0, with the true derivative +inf there
    return torch.special.entr(p).sum(dim=d) / _log_base(base)


def kl_divergence(p: torch.Tensor, q: torch.Tensor, *, base: float | None = None,
                  dim: int = -1) -> torch.Tensor:
    r"""Kullback–Leibler divergence :math:`D_{\mathrm{KL}}(p\|q) = \sum_i p_i \log(p_i/q_i)`.

    The *relative entropy* of :math:`p` with respect to :math:`q`: the extra nats per symbol
    paid for coding data from :math:`p` with a code built for :math:`q`, so that
    :math:`H(p, q) = H(p) + D_{\mathrm{KL}}(p\|q)`. It is :math:`\ge 0` with equality iff
    :math:`p = q` (Gibbs' inequality), and not symmetric. Terms with :math:`p_i = 0` give 0;
    a term with :math:`p_i > 0 = q_i` gives :math:`+\infty`.

    Args:
        p: the "true" distribution, probabilities summing to 1 along ``dim``.
        q: the approximating distribution, same shape.
        base: logarithm base; ``None`` for nats.
        dim: the axis of the distribution.

    Returns:
        torch.Tensor: the divergences, the shape without ``dim``.

    Raises:
        ValueError: shapes differ, entries that are not probabilities, a bad ``base``/``dim``.

    References:
        Kullback, S., & Leibler, R. A. (1951). On information and sufficiency.
        *Ann. Math. Statist.*

    Examples:
        >>> p, q = torch.tensor([0.5, 0.5]), torch.tensor([0.9, 0.1])
        >>> kl_divergence(p, q), kl_divergence(q, p)
        (tensor(0.5108), tensor(0.3681))
    """
    _checks.tensor(p, "p", floating=True)
    _checks.tensor(q, "q", floating=True)
    _checks.same_shape(p, q, "p", "q")
    d = _checks.dim_index(dim, p)
    _probabilities(p, "p", d)
    _probabilities(q, "q", d)
    # Σ p log p − Σ p log q; xlogy(p > 0, 0) = −inf gives the +inf limit. Where p = 0 the term
    # is 0 whatever q, so q is replaced by 1 there: its gradient p/q is then 0, not 0/0
    q = torch.where(p > 0, q, 1)
    return (-torch.special.entr(p) - torch.xlogy(p, q)).sum(dim=d) / _log_base(base)


def conditional_entropy(joint: torch.Tensor, *, base: float | None = None) -> torch.Tensor:
    r"""Conditional entropy :math:`H(Y \mid X)` of a joint table :math:`p(x, y)`.

    .. math::

        H(Y \mid X) = \sum_x p(x)\, H(Y \mid X = x)
                    = -\sum_{x, y} p(x, y) \log \frac{p(x, y)}{p(x)}
                    = H(X, Y) - H(X)

    Rows are values of the conditioning variable :math:`X`, columns values of :math:`Y`. For
    :math:`H(X \mid Y)` pass ``joint.T``. Rows with :math:`p(x) = 0` contribute 0.

    Args:
        joint: ``(|X|, |Y|)`` table of probabilities summing to 1.
        base: logarithm base; ``None`` for nats.

    Returns:
        torch.Tensor: a scalar, :math:`\ge 0`.

    Raises:
        ValueError: not 2-D, entries that are not a joint distribution, a bad ``base``.

    References:
        Cover, T. M., & Thomas, J. A. (2006). *Elements of Information Theory*, 2nd ed.,
        eq. (2.10).

    Examples:
        >>> joint = torch.tensor([[0.25, 0.25], [0.5, 0.0]])
        >>> conditional_entropy(joint, base=2)     # Y is a fair coin if x = 0, fixed if x = 1
        tensor(0.5000)
    """
    p = _joint(joint)
    p_x = p.sum(dim=1, keepdim=True)
    # p(y|x) = p(x, y)/p(x); on an empty row put 1 (its terms are 0·log 1 = 0, not 0/0)
    p_y_given_x = torch.where(p_x > 0, p / torch.where(p_x > 0, p_x, 1), 1)
    h = 0.0 - torch.xlogy(p, p_y_given_x).sum()  # H(Y|X) = −Σ p(x,y) log p(y|x)
    return h.clamp(min=0) / _log_base(base)


def mutual_information(joint: torch.Tensor, *, base: float | None = None) -> torch.Tensor:
    r"""Mutual information :math:`I(X; Y)` of a joint table :math:`p(x, y)`.

    .. math::

        I(X; Y) = \sum_{x, y} p(x, y) \log \frac{p(x, y)}{p(x)\, p(y)}
                = D_{\mathrm{KL}}\bigl(p(x, y) \,\|\, p(x) p(y)\bigr)
                = H(Y) - H(Y \mid X)

    Symmetric in :math:`X` and :math:`Y`, :math:`\ge 0`, and 0 iff they are independent.
    :func:`sklearn.metrics.mutual_info_score` computes the same number from a contingency
    table of counts (divide the table by its sum to get ``joint``).

    Args:
        joint: ``(|X|, |Y|)`` table of probabilities summing to 1.
        base: logarithm base; ``None`` for nats.

    Returns:
        torch.Tensor: a scalar, :math:`\ge 0`.

    Raises:
        ValueError: not 2-D, entries that are not a joint distribution, a bad ``base``.

    References:
        Cover, T. M., & Thomas, J. A. (2006). *Elements of Information Theory*, 2nd ed.,
        eq. (2.28).

    Examples:
        >>> mutual_information(torch.tensor([[0.5, 0.0], [0.0, 0.5]]), base=2)   # Y = X
        tensor(1.)
        >>> mutual_information(torch.full((2, 3), 1 / 6))                      # independent
        tensor(0.)
    """
    p = _joint(joint)
    independent = p.sum(dim=1, keepdim=True) * p.sum(dim=0, keepdim=True)  # p(x) p(y)
    # where p(x, y) > 0 both marginals are > 0, so no term is infinite; an empty row or column
    # gets 1 in place of p(x)p(y) = 0, so the gradient p/(p(x)p(y)) is 0, not 0/0
    independent = torch.where(independent > 0, independent, 1)
    i = (-torch.special.entr(p) - torch.xlogy(p, independent)).sum()
    return i.clamp(min=0) / _log_base(base)


def kl_div(input: torch.Tensor, target: torch.Tensor, *, reduction: str = "mean",
           log_target: bool = False) -> torch.Tensor:
    r"""KL divergence loss, :func:`torch.nn.functional.kl_div`.

    ``input`` is the model's **log**-probabilities :math:`\log q`; ``target`` the reference
    distribution :math:`p` (or :math:`\log p` with ``log_target=True``). Pointwise

    .. math:: \ell_i = p_i\,(\log p_i - \log q_i)

    with :math:`0 \log 0 = 0`, so that summing over the classes of one sample gives
    :math:`D_{\mathrm{KL}}(p\|q)`, the *target* first: the argument order is the reverse of the
    formula's.

    Args:
        input: log-probabilities of the model, floating tensor, shape ``(B, ...)``.
        target: probabilities (or log-probabilities), same shape; entries need not sum to 1
            (the loss is pointwise, as in torch), but probabilities must be :math:`\ge 0`.
        reduction: ``"none"``; ``"sum"``; ``"batchmean"``, the sum divided by ``B`` (the
            mean KL per sample, the mathematically meaningful one); or ``"mean"`` (torch's
            default), the sum divided by **every** element, i.e. by ``B`` times the number of
            classes: a KL per sample *and class*, usually not what is wanted.
        log_target: whether ``target`` holds log-probabilities.

    Returns:
        torch.Tensor: a scalar, or the pointwise terms for ``reduction="none"``.

    Raises:
        ValueError: shapes differ, NaN, negative target probabilities, an unknown reduction.

    Examples:
        >>> p = torch.tensor([[0.5, 0.5]]); log_q = torch.tensor([[0.9, 0.1]]).log()
        >>> kl_div(log_q, p, reduction="batchmean")      # = KL(p ‖ q)
        tensor(0.5108)
        >>> kl_div(log_q, p)                              # divided by 2 classes as well
        tensor(0.2554)
    """
    _checks.tensor(input, "input", floating=True)
    _checks.tensor(target, "target", floating=True)
    _checks.no_nan(input, "input")
    _checks.no_nan(target, "target")
    _checks.same_shape(input, target, "input", "target")
    _checks.choice(reduction, "reduction", ("none", "batchmean", "sum", "mean"))
    _checks.flag(log_target, "log_target")
    if log_target:
        loss = torch.exp(target) * (target - input)  # e^{log p} (log p − log q)
    else:
        if bool((target < 0).any()):
            raise ValueError(f"`target` must hold probabilities >= 0 (or pass "
                             f"log_target=True), got minimum "
                             f"{float(target.detach().min()):g}")
        loss = torch.xlogy(target, target) - target * input  # p log p − p log q
    if reduction == "none":
        return loss
    if reduction == "sum":
        return loss.sum()
    if reduction == "mean":
        return loss.mean()
    # "batchmean": torch divides by the batch size, and leaves a 0-d input's sum as it is
    return loss.sum() / (input.shape[0] if input.ndim else 1)
