r"""Calibration of predicted probabilities: :func:`brier_score`, :func:`calibration_curve`,
:func:`expected_calibration_error` and temperature scaling, :func:`fit_temperature` (chapter
Metrics, section "Calibration").

A classifier is *calibrated* when, among the examples it gives probability :math:`p`, a
fraction :math:`p` is positive. Probabilities are ``probs``: a ``(N,)`` tensor of
:math:`P(y = 1)` for binary problems, or a ``(N, C)`` tensor whose rows sum to 1.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from dlcore import _checks
from dlcore.metrics._common import _real_dtype

_STRATEGIES = ("uniform", "quantile")


def _probabilities(probs, name="probs"):
    _checks.tensor(probs, name, floating=True)
    _checks.ndim(probs, name, (1, 2))
    _checks.finite(probs, name)
    lo, hi = float(probs.min()), float(probs.max())
    if lo < 0 or hi > 1:
        raise ValueError(f"`{name}` must hold probabilities in [0, 1], got values in "
                         f"[{lo:.4g}, {hi:.4g}]")
    if probs.ndim == 2:
        worst = float((probs.sum(1) - 1).abs().max())
        if worst > 1e-4:
            raise ValueError(f"the rows of `{name}` must sum to 1, got a row off by {worst:.3g}")
    return probs


def _pair(probs, target):
    """Validate probabilities and labels; return (probs as float64, target as int64)."""
    _probabilities(probs)
    _checks.tensor(target, "target")
    _checks.ndim(target, "target", (1,))
    if probs.ndim == 1:
        _checks.binary_labels(target, "target")
    else:
        _checks.labels(target, "target", probs.shape[1])
    if target.shape[0] != probs.shape[0]:
        raise ValueError(f"`probs` and `target` must have the same number of samples, "
                         f"got {tuple(probs.shape)} and {tuple(target.shape)}")
    return probs.to(_real_dtype(probs.device)), target.long()


def brier_score(probs: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    r"""Brier score, the mean squared error of the predicted probabilities (lower is better).

    .. math::
        \mathrm{BS} = \frac1N \sum_n (p_n - y_n)^2 \quad\text{(binary)}, \qquad
        \mathrm{BS} = \frac1N \sum_n \sum_c (p_{nc} - [y_n = c])^2 \quad\text{(multiclass)}

    Args:
        probs: ``(N,)`` probabilities of class 1, or ``(N, C)`` rows that sum to 1.
        target: ``(N,)`` labels, in ``{0, 1}`` for ``(N,)`` probabilities, else in ``[0, C)``.

    Returns:
        0-d float64 tensor; in :math:`[0, 1]` (binary) or :math:`[0, 2]` (multiclass).

    Notes:
        Equals ``sklearn.metrics.brier_score_loss(y_true, y_proba)`` for ``(N,)`` input and
        ``brier_score_loss(..., scale_by_half=False)`` for ``(N, C)`` input: the multiclass
        form is Brier's original sum over the classes (Brier 1950), which for ``C = 2`` is
        twice the binary score. sklearn's default halves it for two columns only.

    Examples:
        >>> brier_score(torch.tensor([0.1, 0.8, 0.6, 0.3]), torch.tensor([0, 1, 1, 0]))
        tensor(0.0750, dtype=torch.float64)
    """
    p, y = _pair(probs, target)
    if p.ndim == 1:
        return ((p - y) ** 2).mean()
    onehot = torch.nn.functional.one_hot(y, p.shape[1]).to(p.dtype)
    return ((p - onehot) ** 2).sum(1).mean()


def _confidence(p, y):
    """The binned quantity and its outcome: P(y=1) and y (binary), or the top-label
    confidence max_c p_nc and [argmax = y] (multiclass, Guo et al. 2017)."""
    if p.ndim == 1:
        return p, y.to(p.dtype)
    conf, top = p.max(1)
    return conf, (top == y).to(p.dtype)


def _bin_ids(conf, n_bins, strategy):
    if strategy == "uniform":
        edges = torch.linspace(0, 1, n_bins + 1, dtype=conf.dtype, device=conf.device)
    else:
        # sklearn's edges, np.percentile(p, linspace(0, 1, B + 1) * 100), computed by NumPy:
        # an edge often equals a probability, and torch.quantile can round it one ulp apart,
        # which moves that example into the next bin
        q = np.linspace(0, 1, n_bins + 1) * 100
        edges = torch.as_tensor(np.percentile(conf.cpu().numpy(), q), dtype=conf.dtype,
                                device=conf.device)
    # bin b holds edges[b] < p <= edges[b+1]; the first bin also holds p = 0 (sklearn's rule)
    return torch.searchsorted(edges[1:-1].contiguous(), conf, right=False)


def _binned(probs, target, n_bins, strategy):
    p, y = _pair(probs, target)
    n_bins = _checks.number(n_bins, "n_bins", low=1, integer=True)
    _checks.choice(strategy, "strategy", _STRATEGIES)
    conf, outcome = _confidence(p, y)
    ids = _bin_ids(conf, n_bins, strategy)
    count = torch.bincount(ids, minlength=n_bins).to(p.dtype)
    sum_conf = torch.zeros(n_bins, dtype=p.dtype, device=p.device).index_add_(0, ids, conf)
    sum_true = torch.zeros(n_bins, dtype=p.dtype, device=p.device).index_add_(0, ids, outcome)
    keep = count > 0
    return sum_true[keep] / count[keep], sum_conf[keep] / count[keep], count[keep]


def calibration_curve(probs: torch.Tensor, target: torch.Tensor, *, n_bins: int = 5,
                      strategy: str = "uniform", return_counts: bool = False):
    r"""Points of the reliability diagram: observed frequency against mean predicted
    probability in each non-empty bin.

    .. math::
        \bar o_b = \frac{1}{n_b} \sum_{n \in B_b} y_n, \qquad
        \bar p_b = \frac{1}{n_b} \sum_{n \in B_b} p_n

    Args:
        probs: ``(N,)`` probabilities of class 1, or ``(N, C)`` rows that sum to 1 (then the
            top-label confidence :math:`\max_c p_{nc}` is binned against
            :math:`[\hat y_n = y_n]`).
        target: ``(N,)`` labels.
        n_bins: number of bins, ``>= 1``.
        strategy: ``"uniform"`` (equal-width bins on [0, 1]) or ``"quantile"`` (edges at the
            quantiles of the probabilities, equal-mass bins).
        return_counts: also return the number of examples :math:`n_b` per bin.

    Returns:
        ``(prob_true, prob_pred)`` (and ``counts``), float64 tensors over the non-empty bins.

    Notes:
        Equals ``sklearn.calibration.calibration_curve(y_true, y_prob, n_bins=...,
        strategy=...)`` for ``(N,)`` input, including its bin rule: bin :math:`b` holds
        :math:`e_b < p \le e_{b+1}` (right-closed, as in Guo et al. 2017), the first bin also
        :math:`p = 0`, and empty bins are dropped.

    Examples:
        >>> p = torch.tensor([0.1, 0.2, 0.7, 0.9], dtype=torch.float64)
        >>> prob_true, prob_pred = calibration_curve(p, torch.tensor([0, 1, 1, 1]), n_bins=2)
        >>> prob_true.tolist(), prob_pred.tolist()
        ([0.5, 1.0], [0.15000000000000002, 0.8])
    """
    _checks.flag(return_counts, "return_counts")
    prob_true, prob_pred, count = _binned(probs, target, n_bins, strategy)
    return (prob_true, prob_pred, count) if return_counts else (prob_true, prob_pred)


def expected_calibration_error(probs: torch.Tensor, target: torch.Tensor, *, n_bins: int = 15,
                               strategy: str = "uniform") -> torch.Tensor:
    r"""Expected calibration error: the bin-weighted mean gap of the reliability diagram.

    .. math::
        \mathrm{ECE} = \sum_b \frac{n_b}{N}\, \bigl|\bar o_b - \bar p_b\bigr|

    Args:
        probs, target, n_bins, strategy: as in :func:`calibration_curve` (default 15 bins, as
            Guo et al. 2017).

    Returns:
        0-d float64 tensor in :math:`[0, 1]`.

    Notes:
        With ``(N, C)`` input this is the top-label ECE of Guo et al. (2017); with ``(N,)``
        input the bins are on :math:`P(y = 1)`. The estimate is biased upwards: even a
        perfectly calibrated model scores :math:`\approx \sum_b (n_b/N)\sqrt{2 \bar p_b (1 -
        \bar p_b) / (\pi n_b)}` because :math:`|\cdot|` turns the sampling noise of
        :math:`\bar o_b` into a positive gap; it shrinks like :math:`1/\sqrt{N/B}`.

    Examples:
        >>> p = torch.tensor([0.1, 0.2, 0.7, 0.9], dtype=torch.float64)
        >>> expected_calibration_error(p, torch.tensor([0, 1, 1, 1]), n_bins=2)
        tensor(0.2750, dtype=torch.float64)
    """
    prob_true, prob_pred, count = _binned(probs, target, n_bins, strategy)
    return (count / count.sum() * (prob_true - prob_pred).abs()).sum()


def _as_logits(logits, target):
    _checks.tensor(logits, "logits", floating=True)
    _checks.ndim(logits, "logits", (1, 2))
    _checks.finite(logits, "logits")
    _checks.tensor(target, "target")
    _checks.ndim(target, "target", (1,))
    z = logits.to(_real_dtype(logits.device))
    if z.ndim == 1:
        # binary log-odds z: softmax of (0, z) is (1 - σ(z), σ(z))
        _checks.binary_labels(target, "target")
        z = torch.stack([torch.zeros_like(z), z], 1)
    else:
        _checks.labels(target, "target", z.shape[1])
    if target.shape[0] != z.shape[0]:
        raise ValueError(f"`logits` and `target` must have the same number of samples, "
                         f"got {tuple(logits.shape)} and {tuple(target.shape)}")
    return z, target.long()


def _nll_slope(z, y, beta):
    # d/dβ of mean CE(βz, y) = mean_n (E_{softmax(βz_n)}[z_n] - z_{n,y_n}); increasing in β
    s = torch.softmax(beta * z, 1)
    return float(((s * z).sum(1) - z.gather(1, y[:, None])[:, 0]).mean())


def fit_temperature(logits: torch.Tensor, target: torch.Tensor, *,
                    bounds: tuple[float, float] = (0.01, 100.0)) -> torch.Tensor:
    r"""Temperature scaling: the :math:`T > 0` that minimises the mean negative log-likelihood
    of ``softmax(logits / T)`` on held-out data (Guo et al. 2017).

    .. math::
        T^\star = \arg\min_{T} \; -\frac1N \sum_n \log \operatorname{softmax}(z_n / T)_{y_n}

    With :math:`\beta = 1/T` the objective is convex in :math:`\beta` (a log-sum-exp of
    linear functions minus a linear one), and its derivative
    :math:`\frac1N \sum_n (\mathbb{E}_{s_n}[z_n] - z_{n y_n})`, with
    :math:`s_n = \operatorname{softmax}(\beta z_n)`, is non-decreasing; the minimiser is its
    root, found by bisection on :math:`\log \beta`.

    Args:
        logits: ``(N, C)`` logits, or ``(N,)`` binary log-odds (then ``softmax`` is the
            sigmoid). Fit it on a validation split, never on the test split.
        target: ``(N,)`` labels.
        bounds: ``(T_min, T_max)``, ``0 < T_min < T_max``; the result is clipped to them
            (when the data are perfectly separated the NLL keeps falling as :math:`T \to 0`).

    Returns:
        0-d float64 tensor :math:`T^\star`. Divide the logits by it; the arg max, hence the
        accuracy, is unchanged.

    Examples:
        >>> z = torch.tensor([[4.0, 0.0], [3.0, 0.0], [0.0, 2.0], [2.5, 0.0]])
        >>> fit_temperature(z, torch.tensor([0, 1, 1, 0]))
        tensor(2.8979, dtype=torch.float64)
    """
    z, y = _as_logits(logits, target)
    if not isinstance(bounds, (tuple, list)) or len(bounds) != 2:
        raise ValueError(f"`bounds` must be a pair (T_min, T_max), got {bounds!r}")
    t_min = _checks.number(bounds[0], "bounds[0]", low=0, low_open=True)
    t_max = _checks.number(bounds[1], "bounds[1]", low=t_min, low_open=True)
    lo, hi = -math.log(t_max), -math.log(t_min)       # log β over [1/T_max, 1/T_min]
    if _nll_slope(z, y, math.exp(lo)) >= 0:
        t = t_max
    elif _nll_slope(z, y, math.exp(hi)) <= 0:
        t = t_min
    else:
        for _ in range(100):                          # bisection: exact to float64 rounding
            mid = (lo + hi) / 2
            if _nll_slope(z, y, math.exp(mid)) < 0:
                lo = mid
            else:
                hi = mid
        t = math.exp(-(lo + hi) / 2)
    return torch.tensor(t, dtype=z.dtype, device=z.device)
