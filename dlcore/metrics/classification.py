r"""Classification metrics from predicted labels: :func:`confusion_matrix`, :func:`accuracy_score`,
:func:`top_k_accuracy_score`, and precision, recall and F-scores with their averages over classes
(chapter Metrics, section "Confusion matrix, precision, recall and F-scores")."""

from __future__ import annotations

import math

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
