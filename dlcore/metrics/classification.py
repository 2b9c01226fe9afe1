r"""Classification metrics from predicted labels: :func:`confusion_matrix`, :func:`accuracy_score`,
:func:`top_k_accuracy_score`, precision, recall and F-scores with their averages over classes,
and the chance-corrected :func:`matthews_corrcoef` and :func:`cohen_kappa_score` (chapter
Metrics, section "Confusion matrix, precision, recall and F-scores")."""

from __future__ import annotations

import math
import warnings

import torch

from dlcore import _checks
from dlcore.metrics._common import _real_dtype

_AVERAGES = ("binary", "micro", "macro", "weighted", None)


def _label_pair(preds, target, num_classes=None, *, binary=False):
    """Validate two 1-d label tensors of equal length; return them as int64 and C."""
    for x, name in ((preds, "preds"), (target, "target")):
        _checks.tensor(x, name)
        _checks.ndim(x, name, (1,))
        if binary:
            _checks.binary_labels(x, name)
        else:
            _checks.labels(x, name)
    _checks.same_shape(preds, target, "preds", "target")
    if binary:
        num_classes = 2
    elif num_classes is None:
        num_classes = int(max(preds.max(), target.max())) + 1
    else:
        _checks.number(num_classes, "num_classes", low=1, integer=True)
        _checks.labels(preds, "preds", num_classes)
        _checks.labels(target, "target", num_classes)
    return preds.long(), target.long(), num_classes


def confusion_matrix(preds: torch.Tensor, target: torch.Tensor, *,
                     num_classes: int | None = None) -> torch.Tensor:
    r"""Confusion matrix: rows are true classes, columns are predicted classes.

    .. math:: M_{ij} = \#\{n : y_n = i,\ \hat y_n = j\}

    Args:
        preds: ``(N,)`` predicted labels (sklearn's ``y_pred``).
        target: ``(N,)`` true labels (sklearn's ``y_true``).
        num_classes: :math:`C`; default ``max(preds, target) + 1``.

    Returns:
        ``(C, C)`` int64 tensor. For binary labels ``[[TN, FP], [FN, TP]]``.

    Notes:
        Equals ``sklearn.metrics.confusion_matrix(y_true, y_pred, labels=range(C))``, except
        that a label ``>= num_classes`` raises instead of being silently dropped.

    Examples:
        >>> confusion_matrix(torch.tensor([0, 1, 1, 2]), torch.tensor([0, 1, 2, 2]))
        tensor([[1, 0, 0],
                [0, 1, 0],
                [0, 1, 1]])
    """
    preds, target, C = _label_pair(preds, target, num_classes)
    # one histogram over the flattened index i * C + j counts every (true, predicted) pair
    return torch.bincount(target * C + preds, minlength=C * C).reshape(C, C)


def accuracy_score(preds: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    r"""Fraction of correct predictions, :math:`\frac1N \sum_n [\hat y_n = y_n]`.

    Args:
        preds: ``(N,)`` predicted labels (sklearn's ``y_pred``).
        target: ``(N,)`` true labels (sklearn's ``y_true``).

    Returns:
        0-d float64 tensor in :math:`[0, 1]`.

    Examples:
        >>> accuracy_score(torch.tensor([0, 1, 1, 2]), torch.tensor([0, 1, 2, 2]))
        tensor(0.7500, dtype=torch.float64)
    """
    preds, target, _ = _label_pair(preds, target)
    return (preds == target).to(_real_dtype(preds.device)).mean()


def top_k_accuracy_score(scores: torch.Tensor, target: torch.Tensor, *, k: int) -> torch.Tensor:
    r"""Fraction of samples whose true class is among the ``k`` highest scores.

    .. math::
        \text{top-}k = \frac1N \sum_n \bigl[\operatorname{rank}_n(y_n) < k\bigr], \qquad
        \operatorname{rank}_n(c) = \#\{j : s_{nj} > s_{nc}\} + \#\{j > c : s_{nj} = s_{nc}\}

    Args:
        scores: ``(N, C)`` class scores (sklearn's ``y_score``), finite.
        target: ``(N,)`` true labels in ``[0, C)`` (sklearn's ``y_true``).
        k: number of top guesses allowed, ``k >= 1``; ``k >= C`` gives 1.

    Returns:
        0-d float64 tensor.

    Notes:
        Ties follow scikit-learn, which ranks classes by a stable ascending sort reversed: among
        equal scores the *larger* class index ranks higher (the second term of the rank).
        Counting ranks instead of sorting makes this exact and deterministic on every device.

    Examples:
        >>> s = torch.tensor([[0.5, 0.3, 0.2], [0.1, 0.2, 0.7]])
        >>> top_k_accuracy_score(s, torch.tensor([1, 0]), k=2)
        tensor(0.5000, dtype=torch.float64)
    """
    _checks.tensor(scores, "scores")
    _checks.ndim(scores, "scores", (2,))
    _checks.finite(_checks.real(scores, "scores"), "scores")
    _checks.tensor(target, "target")
    _checks.ndim(target, "target", (1,))
    _checks.labels(target, "target", scores.shape[1])
    if target.shape[0] != scores.shape[0]:
        raise ValueError(
            f"`scores` and `target` must have the same number of samples, "
            f"got {tuple(scores.shape)} and {tuple(target.shape)}"
        )
    k = _checks.number(k, "k", low=1, integer=True)
    y = target.long().unsqueeze(1)
    s_true = scores.gather(1, y)
    classes = torch.arange(scores.shape[1], device=scores.device)
    rank = (scores > s_true).sum(1) + ((scores == s_true) & (classes > y)).sum(1)
    return (rank < k).to(_real_dtype(scores.device)).mean()


def _zero_division(value) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not (
        value in (0, 1) or math.isnan(value)
    ):
        raise ValueError(f"`zero_division` must be 0.0, 1.0 or nan, got {value!r}")
    return float(value)


def _stat_scores(preds, target, average, num_classes):
    """Per-class counts TP, predicted positives and support, float64 of shape (C,) or (1,)."""
    _checks.choice(average, "average", _AVERAGES)
    if average == "binary":
        if num_classes not in (None, 2):
            raise ValueError(
                f"`num_classes` must be None or 2 with average='binary', got {num_classes}"
            )
        preds, target, _ = _label_pair(preds, target, binary=True)
        # binary = the statistics of the positive class 1 only (sklearn's pos_label=1)
        tp = (preds & target).sum().reshape(1)
        pred_sum, true_sum = preds.sum().reshape(1), target.sum().reshape(1)
    else:
        preds, target, C = _label_pair(preds, target, num_classes)
        tp = torch.bincount(target[preds == target], minlength=C)
        pred_sum = torch.bincount(preds, minlength=C)
        true_sum = torch.bincount(target, minlength=C)
        if average == "micro":
            # micro pools the counts of all classes before dividing
            tp, pred_sum, true_sum = tp.sum(0, True), pred_sum.sum(0, True), true_sum.sum(0, True)
    dtype = _real_dtype(preds.device)
    return tp.to(dtype), pred_sum.to(dtype), true_sum.to(dtype)


def _divide(num, den, zero_division: float) -> torch.Tensor:
    # 0/0 takes the user's `zero_division`; the safe denominator keeps NaN out of autograd
    return torch.where(den == 0, zero_division, num / torch.where(den == 0, 1, den))


def _average(values, average, support) -> torch.Tensor:
    """Reduce per-class values as sklearn does: NaN classes are left out of the average.

    With N >= 1 samples some class is predicted and some is true, so at least one value is
    never 0/0 and the average is always defined."""
    if average is None:
        return values
    if average in ("binary", "micro"):
        return values[0]
    keep = ~torch.isnan(values)
    values, weights = values[keep], support[keep]
    # weighted average by support; all-zero support falls back to the plain mean (numpy's rule)
    if average == "macro" or not bool(weights.sum() > 0):
        return values.mean()
    return (values * weights).sum() / weights.sum()


def precision_score(preds: torch.Tensor, target: torch.Tensor, *, average: str | None = "binary",
                    num_classes: int | None = None, zero_division: float = 0.0) -> torch.Tensor:
    r"""Precision, :math:`P = \frac{TP}{TP + FP}`: the fraction of predicted positives that are
    right.

    Args:
        preds: ``(N,)`` predicted labels (sklearn's ``y_pred``).
        target: ``(N,)`` true labels (sklearn's ``y_true``).
        average: ``"binary"`` (class 1 of binary labels), ``"micro"`` (pool the counts of all
            classes), ``"macro"`` (unweighted mean over classes), ``"weighted"`` (mean weighted
            by each class's support) or ``None`` (one value per class).
        num_classes: :math:`C` for the non-binary averages; default ``max label + 1``.
        zero_division: value when :math:`TP + FP = 0`: 0.0, 1.0 or ``nan`` (NaN classes are
            then left out of the average, as in sklearn).

    Returns:
        0-d float64 tensor, or ``(C,)`` with ``average=None``.

    Notes:
        Equals ``sklearn.metrics.precision_score(..., labels=range(C))``. Micro precision over
        all classes of single-label data equals accuracy (every error is one FP and one FN).

    Examples:
        >>> precision_score(torch.tensor([1, 1, 0, 1]), torch.tensor([1, 0, 0, 1]))
        tensor(0.6667, dtype=torch.float64)
    """
    tp, pred_sum, true_sum = _stat_scores(preds, target, average, num_classes)
    return _average(_divide(tp, pred_sum, _zero_division(zero_division)), average, true_sum)


def recall_score(preds: torch.Tensor, target: torch.Tensor, *, average: str | None = "binary",
                 num_classes: int | None = None, zero_division: float = 0.0) -> torch.Tensor:
    r"""Recall (sensitivity, TPR), :math:`R = \frac{TP}{TP + FN}`: the fraction of true
    positives found.

    Arguments and averaging as in :func:`precision_score`; ``zero_division`` applies when the
    class has no true sample (:math:`TP + FN = 0`).

    Examples:
        >>> recall_score(torch.tensor([1, 0, 0, 1]), torch.tensor([1, 1, 0, 1]))
        tensor(0.6667, dtype=torch.float64)
    """
    tp, pred_sum, true_sum = _stat_scores(preds, target, average, num_classes)
    return _average(_divide(tp, true_sum, _zero_division(zero_division)), average, true_sum)


def fbeta_score(preds: torch.Tensor, target: torch.Tensor, *, beta: float,
                average: str | None = "binary", num_classes: int | None = None,
                zero_division: float = 0.0) -> torch.Tensor:
    r"""F-beta score, the weighted harmonic mean of precision and recall.

    .. math::
        F_\beta = \frac{(1+\beta^2)\,P R}{\beta^2 P + R}
                = \frac{(1+\beta^2)\,TP}{(1+\beta^2)\,TP + \beta^2 FN + FP}

    :math:`\beta > 1` weighs recall more, :math:`\beta = 0` gives precision.

    Args:
        beta: :math:`\beta \ge 0`, finite.
        preds, target, average, num_classes: as in :func:`precision_score`.
        zero_division: value when the denominator :math:`\beta^2 (TP + FN) + TP + FP` is 0.

    Notes:
        Computed from counts (the second form), as scikit-learn 1.8 does: a class with
        :math:`TP = 0` but some FP or FN scores 0 without any zero division.

    Examples:
        >>> fbeta_score(torch.tensor([1, 1, 0, 0]), torch.tensor([1, 0, 1, 1]), beta=2.0)
        tensor(0.3571, dtype=torch.float64)
    """
    beta = _checks.number(beta, "beta", low=0)
    tp, pred_sum, true_sum = _stat_scores(preds, target, average, num_classes)
    # (1+β²)TP + β²FN + FP = β² |true| + |predicted|
    f = _divide((1 + beta**2) * tp, beta**2 * true_sum + pred_sum, _zero_division(zero_division))
    return _average(f, average, true_sum)


def f1_score(preds: torch.Tensor, target: torch.Tensor, *, average: str | None = "binary",
             num_classes: int | None = None, zero_division: float = 0.0) -> torch.Tensor:
    r"""F1 score, the harmonic mean of precision and recall, :math:`F_1 = \frac{2PR}{P + R}
    = \frac{2\,TP}{2\,TP + FP + FN}` (the Dice coefficient of the predicted and true sets).

    Arguments as in :func:`precision_score`; equal to :func:`fbeta_score` with ``beta=1``.

    Examples:
        >>> f1_score(torch.tensor([1, 1, 0, 1]), torch.tensor([1, 0, 0, 1]))
        tensor(0.8000, dtype=torch.float64)
    """
    return fbeta_score(preds, target, beta=1.0, average=average, num_classes=num_classes,
                       zero_division=zero_division)


def matthews_corrcoef(preds: torch.Tensor, target: torch.Tensor, *,
                      num_classes: int | None = None) -> torch.Tensor:
    r"""Matthews correlation coefficient: the correlation of predicted and true labels.

    .. math::
        \mathrm{MCC} = \frac{\mathrm{TP}\,\mathrm{TN} - \mathrm{FP}\,\mathrm{FN}}
        {\sqrt{(\mathrm{TP}+\mathrm{FP})(\mathrm{TP}+\mathrm{FN})(\mathrm{TN}+\mathrm{FP})
        (\mathrm{TN}+\mathrm{FN})}}
        \quad\text{(binary)}, \qquad
        \mathrm{MCC} = \frac{c\,N - \sum_k p_k t_k}
        {\sqrt{(N^2 - \sum_k p_k^2)(N^2 - \sum_k t_k^2)}}

    with :math:`c = \operatorname{tr} M` the correct predictions, :math:`t_k` and :math:`p_k`
    the true and predicted counts of class :math:`k` (Matthews 1975; Gorodkin 2004 for
    :math:`C > 2`). It lies in :math:`[-1, 1]`; 0 is chance level.

    Args:
        preds: ``(N,)`` predicted labels (sklearn's ``y_pred``).
        target: ``(N,)`` true labels (sklearn's ``y_true``).
        num_classes: :math:`C`; default ``max(preds, target) + 1``.

    Returns:
        0-d float64 tensor.

    Notes:
        Equals ``sklearn.metrics.matthews_corrcoef``, including its convention that a
        zero denominator (a constant prediction, or a single true class) gives 0.

    Examples:
        >>> matthews_corrcoef(torch.tensor([1, 1, 0, 1]), torch.tensor([1, 0, 0, 1]))
        tensor(0.5774, dtype=torch.float64)
    """
    cm = confusion_matrix(preds, target, num_classes=num_classes).to(_real_dtype(preds.device))
    t, p, n = cm.sum(1), cm.sum(0), cm.sum()
    cov = cm.trace() * n - (p * t).sum()
    den = (n**2 - (p * p).sum()) * (n**2 - (t * t).sum())
    return _divide(cov, den.sqrt(), 0.0)


def cohen_kappa_score(preds: torch.Tensor, target: torch.Tensor, *,
                      weights: str | None = None,
                      num_classes: int | None = None) -> torch.Tensor:
    r"""Cohen's kappa: agreement of two labelings corrected for the agreement expected by
    chance.

    .. math::
        \kappa = \frac{p_o - p_e}{1 - p_e}, \quad p_o = \frac{\operatorname{tr} M}{N}, \quad
        p_e = \sum_k \frac{t_k\, p_k}{N^2}; \qquad
        \kappa_w = 1 - \frac{\sum_{ij} w_{ij} M_{ij}}{\sum_{ij} w_{ij} t_i p_j / N}

    where :math:`p_e` is the accuracy of two independent labelings with the same marginals
    (Cohen 1960). The weighted form (Cohen 1968) charges a disagreement :math:`w_{ij} = |i - j|`
    (``"linear"``) or :math:`(i - j)^2` (``"quadratic"``), for ordered classes; unweighted
    kappa is :math:`w_{ij} = [i \ne j]`.

    Args:
        preds, target: ``(N,)`` labels; kappa is symmetric in the two.
        weights: ``None``, ``"linear"`` or ``"quadratic"``.
        num_classes: :math:`C`; default ``max(preds, target) + 1``.

    Returns:
        0-d float64 tensor in :math:`[-1, 1]`.

    Notes:
        Equals ``sklearn.metrics.cohen_kappa_score(y1, y2, labels=range(C), weights=...)``.
        When the chance disagreement is 0 (both labelings constant and equal) kappa is 0/0:
        like sklearn, the result is NaN, here with a :class:`UserWarning`.

    Examples:
        >>> cohen_kappa_score(torch.tensor([1, 1, 0, 1]), torch.tensor([1, 0, 0, 1]))
        tensor(0.5000, dtype=torch.float64)
    """
    _checks.choice(weights, "weights", (None, "linear", "quadratic"))
    cm = confusion_matrix(preds, target, num_classes=num_classes).to(_real_dtype(preds.device))
    C = cm.shape[0]
    k = torch.arange(C, dtype=cm.dtype, device=cm.device)
    gap = (k[:, None] - k[None, :]).abs()
    w = {None: (gap > 0).to(cm.dtype), "linear": gap, "quadratic": gap**2}[weights]
    expected = cm.sum(1)[:, None] * cm.sum(0)[None, :] / cm.sum()
    chance = (w * expected).sum()
    if not bool(chance > 0):
        warnings.warn("cohen_kappa_score: both labelings are constant and equal, so the "
                      "chance disagreement is 0 and kappa is 0/0; returning nan", UserWarning,
                      stacklevel=2)
        return torch.tensor(math.nan, dtype=cm.dtype, device=cm.device)
    return 1 - (w * cm).sum() / chance
