r"""Evaluation metrics: classification counts, ranking curves, detection and perplexity.

Tensors in, tensors out: every function takes :class:`torch.Tensor` arguments on any device
(CPU, CUDA) and returns tensors on that device. Each follows the same four steps: *validate*
(through :mod:`dlcore._checks`), *format*, reduce to *counts*, *compute* the formula from the
counts. Values equal :mod:`sklearn.metrics` (and pycocotools' ``COCOeval`` for detection) to
float64 rounding.

Conventions shared by all functions:

* Argument names: ``preds`` are predicted class labels, ``scores`` are real-valued confidences
  (higher means "more positive") and ``target`` holds the true labels. scikit-learn calls them
  ``y_pred``, ``y_score`` and ``y_true``.
* Labels are integers ``0 … C-1`` in an integer or bool tensor; binary metrics need
  ``target`` in ``{0, 1}`` and treat 1 as the positive class (sklearn's ``pos_label=1``).
* Rates and scores are float64 tensors (float32 on Apple's MPS, which has no float64); counts
  are int64. Inputs are never modified.
* Bad input raises :class:`ValueError` (:class:`TypeError` for a non-tensor) naming the
  argument: mismatched lengths, labels out of range, NaN or infinite scores, empty input.
* Undefined values follow scikit-learn: ``zero_division`` for precision/recall/F; a
  :class:`UserWarning` and NaN (ROC rates) or recall 1 (PR curve) or AP 0 when a class is
  absent. :func:`roc_auc_score` with one class raises instead (see its Notes).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping, Sequence

import torch

from dlcore import _checks

__all__ = [
    "confusion_matrix", "accuracy_score", "top_k_accuracy_score",
    "precision_score", "recall_score", "f1_score", "fbeta_score",
    "roc_curve", "roc_auc_score", "precision_recall_curve", "average_precision_score",
    "box_iou", "mask_iou", "match_detections", "evaluate_detections",
    "perplexity",
]

_AVERAGES = ("binary", "micro", "macro", "weighted", None)
_AP_INTERPOLATIONS = ("none", "11-point", "101-point", "all-point")

#: pycocotools' ``np.linspace(0.5, 0.95, 10)``, bit for bit (its 9th value is
#: 0.8999999999999999, not 0.9): IoU thresholds of COCO's mAP@[.5:.95].
COCO_IOU_THRESHOLDS = tuple(0.5 + i * ((0.95 - 0.5) / 9) for i in range(9)) + (0.95,)


def _real_dtype(device: torch.device) -> torch.dtype:
    # float64 makes count ratios exact to rounding; MPS has no float64
    return torch.float32 if device.type == "mps" else torch.float64


# =========================================================================== classification


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


# =========================================================================== ranking curves


def _binary_inputs(scores, target):
    _checks.tensor(scores, "scores")
    _checks.tensor(target, "target")
    _checks.ndim(scores, "scores", (1,))
    _checks.ndim(target, "target", (1,))
    _checks.same_shape(scores, target, "scores", "target")
    _checks.finite(_checks.real(scores, "scores"), "scores")
    _checks.binary_labels(target, "target")


def _descending_sort(scores: torch.Tensor):
    """Sort ``scores`` decreasingly; return integer ``keys`` (equal iff the scores are equal)
    and the permutation ``order``.

    Why integer keys: on the CPU torch sorts integers with a radix sort, ~7x faster than its
    comparison sort for floats at n = 10^6. An IEEE-754 float maps to an integer of the same
    width with the same order: for a sign bit 0 the bit pattern grows with the value; for a
    sign bit 1 the magnitude bits grow as the value falls, so they are flipped.
    """
    if scores.dtype == torch.bool:
        scores = scores.to(torch.uint8)
    if not scores.is_floating_point():
        keys = ~scores.to(torch.int64)  # ~x = -x - 1 is decreasing and cannot overflow
    else:
        if scores.dtype == torch.float64:
            bits = scores.view(torch.int64)
        else:
            bits = scores.to(torch.float32).view(torch.int32)  # half/bfloat16 embed exactly
        sign = bits >> (8 * bits.element_size() - 1)  # arithmetic shift: -1 if negative, else 0
        # increasing key: negatives get their magnitude bits flipped, then + 1 so that -0.0
        # lands on 0, the key of +0.0 (equal scores must share a key); in place: no copies
        keys = (sign & torch.iinfo(bits.dtype).max).bitwise_xor_(bits).sub_(sign)
        keys.bitwise_not_()  # ~k = -k - 1 reverses the order
    # The radix sort skips passes over high bytes that no key uses: shifting the keys to start
    # at 0 saves 1-2 of its 8 passes for typical scores (e.g. all in [0, 1] span 57 bits).
    # Only when the shifted range cannot overflow int64.
    if keys.numel() and keys.dtype == torch.int64:
        low, high = (int(v) for v in torch.aminmax(keys))
        if high - low <= torch.iinfo(torch.int64).max:
            keys = keys.sub_(low)  # keys is a fresh tensor, never the caller's
    return torch.sort(keys)


def _binary_clf_curve(scores: torch.Tensor, target: torch.Tensor, *, thresholds: bool = True):
    """Counts at each distinct score, thresholds decreasing.

    ``fps[k]``, ``tps[k]`` = number of negatives / positives with ``scores >= thresholds[k]``
    (``thresholds`` is None when not asked for). One sort; ties form a single point, so the
    result does not depend on the order of ties.
    """
    keys, order = _descending_sort(scores)
    y = target.index_select(0, order)
    # the last position of each run of equal scores ends a threshold's group
    ends = torch.cat([
        (keys[1:] != keys[:-1]).nonzero().flatten(),
        torch.tensor([keys.numel() - 1], device=keys.device),
    ])
    tps = torch.cumsum(y, 0, dtype=torch.int64).index_select(0, ends)
    fps = (ends + 1).sub_(tps)  # the first ends[k] + 1 samples are predicted positive
    if not thresholds:
        return fps, tps, None
    return fps, tps, scores.index_select(0, order.index_select(0, ends))


def _as_float(x: torch.Tensor) -> torch.Tensor:
    return x if x.is_floating_point() else x.to(_real_dtype(x.device))


def _rate(counts: torch.Tensor, kind: str) -> torch.Tensor:
    """``counts / counts[-1]``; NaN with a warning when the class is absent (as sklearn)."""
    dtype = _real_dtype(counts.device)
    if int(counts[-1]) == 0:
        warnings.warn(f"No {kind} samples in `target`: the rate is undefined (NaN)",
                      UserWarning, stacklevel=3)
        return torch.full(counts.shape, math.nan, dtype=dtype, device=counts.device)
    return counts.to(dtype) / counts[-1].to(dtype)


def roc_curve(scores: torch.Tensor, target: torch.Tensor):
    r"""Receiver operating characteristic: (FPR, TPR) as the threshold falls.

    .. math::
        \mathrm{FPR}(t) = \frac{\#\{n : s_n \ge t,\ y_n = 0\}}{N_-}, \qquad
        \mathrm{TPR}(t) = \frac{\#\{n : s_n \ge t,\ y_n = 1\}}{N_+}

    evaluated at ``t = +inf`` (the point (0, 0)) and at each distinct score, decreasing.

    Args:
        scores: ``(N,)`` finite scores (sklearn's ``y_score``).
        target: ``(N,)`` binary labels (sklearn's ``y_true``).

    Returns:
        ``(fpr, tpr, thresholds)``, 1-d tensors of equal length; thresholds in ``scores``'
        floating dtype, first ``+inf``.

    Notes:
        Equals ``sklearn.metrics.roc_curve`` with its default ``drop_intermediate=True``: a
        point is dropped when both counts change by the same amount on either side of it (zero
        second differences of FP and TP: it lies inside a straight segment and is never
        optimal); collinear points with unequal steps on the two sides are kept. With no
        negatives (positives) FPR (TPR) is NaN and a :class:`UserWarning` is issued.

    Examples:
        >>> fpr, tpr, thr = roc_curve(torch.tensor([0.1, 0.4, 0.35, 0.8]),
        ...                           torch.tensor([0, 0, 1, 1]))
        >>> fpr, tpr
        (tensor([0.0000, 0.0000, 0.5000, 0.5000, 1.0000], dtype=torch.float64),
         tensor([0.0000, 0.5000, 0.5000, 1.0000, 1.0000], dtype=torch.float64))
        >>> thr
        tensor([   inf, 0.8000, 0.4000, 0.3500, 0.1000])
    """
    _binary_inputs(scores, target)
    fps, tps, thresholds = _binary_clf_curve(scores, target)
    if fps.numel() > 2:
        # keep the ends and every point where the polyline turns
        turns = (torch.diff(fps, 2) != 0) | (torch.diff(tps, 2) != 0)
        true = turns.new_ones(1)
        keep = torch.cat([true, turns, true])
        fps, tps, thresholds = fps[keep], tps[keep], thresholds[keep]
    zero = fps.new_zeros(1)
    thresholds = _as_float(thresholds)
    thresholds = torch.cat([thresholds.new_full((1,), math.inf), thresholds])
    fps, tps = torch.cat([zero, fps]), torch.cat([zero, tps])
    return _rate(fps, "negative"), _rate(tps, "positive"), thresholds


def roc_auc_score(scores: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    r"""Area under the ROC curve.

    .. math::
        \mathrm{AUC} = \frac{1}{N_+ N_-} \sum_{i: y_i = 1} \sum_{j: y_j = 0}
        \Bigl([s_i > s_j] + \tfrac12 [s_i = s_j]\Bigr)

    the probability that a random positive outscores a random negative (ties count one half),
    which is the trapezoidal area under :func:`roc_curve`.

    Args:
        scores: ``(N,)`` finite scores (sklearn's ``y_score``).
        target: ``(N,)`` binary labels (sklearn's ``y_true``).

    Returns:
        0-d float64 tensor.

    Raises:
        ValueError: if ``target`` holds only one class.

    Notes:
        The trapezoids are summed in integer counts, :math:`2 N_+ N_- \mathrm{AUC} = \sum_k
        (F_k - F_{k-1})(T_k + T_{k-1})`, then divided once: the result is the exact fraction
        rounded once, within a few ulp of ``sklearn.metrics.roc_auc_score``. With one class
        the AUC is undefined: scikit-learn >= 1.6 warns and returns NaN (older versions raised
        ``ValueError``); this function raises, so that a NaN cannot pass unnoticed into a mean.
        O(n log n): one sort.

    Examples:
        >>> roc_auc_score(torch.tensor([0.1, 0.4, 0.35, 0.8]), torch.tensor([0, 0, 1, 1]))
        tensor(0.7500, dtype=torch.float64)
    """
    _binary_inputs(scores, target)
    fps, tps, _ = _binary_clf_curve(scores, target, thresholds=False)
    n_neg, n_pos = int(fps[-1]), int(tps[-1])
    if n_neg == 0 or n_pos == 0:
        raise ValueError(
            f"ROC AUC needs both classes in `target`, got {n_pos} positive and {n_neg} "
            f"negative sample(s)"
        )
    zero = fps.new_zeros(1)
    # trapezoid k: width F_k - F_{k-1}, summed heights T_k + T_{k-1} (in counts: exact)
    twice_area = (torch.diff(fps, prepend=zero) * (tps + torch.cat([zero, tps[:-1]]))).sum()
    dtype = _real_dtype(scores.device)
    return twice_area.to(dtype) / (2 * n_pos * n_neg)


def precision_recall_curve(scores: torch.Tensor, target: torch.Tensor):
    r"""Precision and recall as the threshold falls through each distinct score.

    .. math::
        P(t) = \frac{TP(t)}{TP(t) + FP(t)}, \qquad R(t) = \frac{TP(t)}{N_+}

    Args:
        scores: ``(N,)`` finite scores (sklearn's ``y_score``).
        target: ``(N,)`` binary labels (sklearn's ``y_true``).

    Returns:
        ``(precision, recall, thresholds)``: thresholds increasing (length K, one per distinct
        score); precision and recall of length K + 1, the last point being (P, R) = (1, 0).

    Notes:
        Equals ``sklearn.metrics.precision_recall_curve`` (order and final point included).
        With no positive sample recall is set to 1 and a :class:`UserWarning` is issued, as in
        sklearn.

    Examples:
        >>> p, r, t = precision_recall_curve(torch.tensor([0.1, 0.4, 0.35, 0.8]),
        ...                                  torch.tensor([0, 0, 1, 1]))
        >>> p
        tensor([0.5000, 0.6667, 0.5000, 1.0000, 1.0000], dtype=torch.float64)
        >>> r
        tensor([1.0000, 1.0000, 0.5000, 0.5000, 0.0000], dtype=torch.float64)
    """
    _binary_inputs(scores, target)
    fps, tps, thresholds = _binary_clf_curve(scores, target)
    precision, recall = _pr_points(fps, tps)
    one = precision.new_ones(1)
    return (torch.cat([precision.flip(0), one]), torch.cat([recall.flip(0), 0 * one]),
            _as_float(thresholds).flip(0))


def _pr_points(fps, tps):
    """Precision and recall at each distinct threshold (decreasing thresholds)."""
    dtype = _real_dtype(tps.device)
    precision = tps.to(dtype) / (tps + fps).to(dtype)  # tps + fps >= 1: never 0/0
    if int(tps[-1]) == 0:
        warnings.warn("No positive samples in `target`: recall is set to 1 for all thresholds",
                      UserWarning, stacklevel=3)
        return precision, torch.ones_like(precision)
    return precision, tps.to(dtype) / tps[-1].to(dtype)


def _precision_envelope(precision: torch.Tensor) -> torch.Tensor:
    # p_interp(R_k) = max_{j >= k} P_j along the last axis (recall non-decreasing)
    return precision.flip(-1).cummax(-1).values.flip(-1)


def _recall_levels(n: int, like: torch.Tensor) -> torch.Tensor:
    # r_i = i * (1 / (n - 1)) in floating point: bit for bit pycocotools' np.linspace(0, 1, 101)
    # and the Python VOC code's np.arange(0, 1.1, 0.1) (whose levels for 0.3, 0.6 and 0.7 lie
    # one ulp above the decimals)
    return torch.arange(n, dtype=like.dtype, device=like.device) * (1 / (n - 1))


def _sampled_precision(envelope, recall, levels):
    """Interpolated precision at each recall level: the envelope at the first point with
    ``recall >= level``, 0 past the last point. Works batched over leading axes."""
    n = recall.shape[-1]
    levels = levels.expand(*recall.shape[:-1], -1).contiguous()
    idx = torch.searchsorted(recall.contiguous(), levels, side="left")
    q = envelope.gather(-1, idx.clamp(max=n - 1))
    return torch.where(idx < n, q, 0)


def average_precision_score(scores: torch.Tensor, target: torch.Tensor, *,
                            interpolation: str = "none") -> torch.Tensor:
    r"""Average precision: the area under the precision-recall curve, in one of four
    definitions in use.

    With points :math:`(R_k, P_k)` at each distinct threshold (decreasing) and :math:`R_0 = 0`:

    .. math::
        \text{none:}\quad & \mathrm{AP} = \textstyle\sum_k (R_k - R_{k-1})\, P_k \\
        \text{all-point:}\quad & \mathrm{AP} = \textstyle\sum_k (R_k - R_{k-1})\,
            p_{\mathrm{interp}}(R_k), \qquad p_{\mathrm{interp}}(r) = \max_{j: R_j \ge r} P_j \\
        \text{11- / 101-point:}\quad & \mathrm{AP} = \tfrac1L \textstyle\sum_{r \in
            \{0, \frac1{L-1}, \dots, 1\}} p_{\mathrm{interp}}(r) \quad (0 \text{ if no } R_j
            \ge r)

    Args:
        scores: ``(N,)`` finite scores (sklearn's ``y_score``).
        target: ``(N,)`` binary labels (sklearn's ``y_true``).
        interpolation: ``"none"`` — scikit-learn's step-wise sum (no interpolation);
            ``"11-point"`` — PASCAL VOC 2007 (:math:`L = 11`); ``"101-point"`` — COCO
            (:math:`L = 101`); ``"all-point"`` — PASCAL VOC 2010+, the area under the
            monotone precision envelope.

    Returns:
        0-d float64 tensor in :math:`[0, 1]`.

    Notes:
        ``"none"`` equals ``sklearn.metrics.average_precision_score``. The recall levels
        :math:`r_i = i \cdot \frac{1}{L-1}` are computed in floating point exactly as
        pycocotools (``np.linspace``) and the widely used Python VOC code (``np.arange(0, 1.1,
        0.1)``) do, so the VOC levels for 0.3, 0.6 and 0.7 are 0.30000000000000004,
        0.6000000000000001 and 0.7000000000000001, and a recall of exactly 0.3, 0.6 (3 of 5
        positives) or 0.7 does not reach them: that level sees only the points of higher
        recall, precision 0 if there are none (MATLAB's devkit rounds differently). Points are
        per distinct score; the detection benchmarks rank tied detections one by one in input
        order instead. Without positive samples AP is 0 with a :class:`UserWarning`, as in
        sklearn.

    Examples:
        >>> s, y = torch.tensor([0.9, 0.8, 0.7, 0.6, 0.5]), torch.tensor([0, 1, 1, 0, 1])
        >>> average_precision_score(s, y)
        tensor(0.5889, dtype=torch.float64)
        >>> average_precision_score(s, y, interpolation="all-point")
        tensor(0.6444, dtype=torch.float64)
        >>> average_precision_score(s, y, interpolation="11-point")
        tensor(0.6424, dtype=torch.float64)
    """
    _checks.choice(interpolation, "interpolation", _AP_INTERPOLATIONS)
    _binary_inputs(scores, target)
    fps, tps, _ = _binary_clf_curve(scores, target, thresholds=False)
    precision, recall = _pr_points(fps, tps)
    if int(tps[-1]) == 0:
        return precision.new_zeros(())  # every precision is 0: each definition gives 0
    d_recall = torch.diff(recall, prepend=recall.new_zeros(1))
    if interpolation == "none":
        return (d_recall * precision).sum()
    envelope = _precision_envelope(precision)
    if interpolation == "all-point":
        return (d_recall * envelope).sum()
    levels = _recall_levels(11 if interpolation == "11-point" else 101, recall)
    return _sampled_precision(envelope, recall, levels).mean()


# =========================================================================== detection


def box_iou(boxes1: torch.Tensor, boxes2: torch.Tensor) -> torch.Tensor:
    r"""Pairwise intersection over union of axis-aligned boxes.

    .. math:: \mathrm{IoU}(A, B) = \frac{|A \cap B|}{|A| + |B| - |A \cap B|}

    Args:
        boxes1: ``(N, 4)`` boxes ``(x1, y1, x2, y2)`` with ``x2 >= x1``, ``y2 >= y1``.
        boxes2: ``(M, 4)`` boxes in the same format. ``N`` or ``M`` may be 0.

    Returns:
        ``(N, M)`` tensor in :math:`[0, 1]`; 0 where both boxes have zero area.

    Notes:
        Continuous coordinates: the area of a box is ``(x2 - x1) * (y2 - y1)``, without the
        "+1" of the PASCAL VOC devkit's pixel convention (COCO and torchvision use none).

    Examples:
        >>> box_iou(torch.tensor([[0.0, 0.0, 2.0, 2.0]]),
        ...         torch.tensor([[1.0, 1.0, 3.0, 3.0], [0.0, 0.0, 2.0, 1.0]]))
        tensor([[0.1429, 0.5000]])
    """
    _checks.boxes(boxes1, "boxes1")
    _checks.boxes(boxes2, "boxes2")
    area1 = (boxes1[:, 2] - boxes1[:, 0]) * (boxes1[:, 3] - boxes1[:, 1])
    area2 = (boxes2[:, 2] - boxes2[:, 0]) * (boxes2[:, 3] - boxes2[:, 1])
    # the intersection is the box between the larger top-left and the smaller bottom-right
    top_left = torch.maximum(boxes1[:, None, :2], boxes2[None, :, :2])
    bottom_right = torch.minimum(boxes1[:, None, 2:], boxes2[None, :, 2:])
    wh = (bottom_right - top_left).clamp(min=0)
    inter = wh[..., 0] * wh[..., 1]
    union = area1[:, None] + area2[None, :] - inter
    return inter / torch.where(union > 0, union, 1)


def _masks(x, name: str) -> torch.Tensor:
    _checks.tensor(x, name, allow_empty=True)
    _checks.ndim(x, name, (3,))
    if bool(((x != 0) & (x != 1)).any()):
        raise ValueError(f"`{name}` must hold binary masks (values 0 and 1 or bool)")
    return x


def mask_iou(masks1: torch.Tensor, masks2: torch.Tensor) -> torch.Tensor:
    r"""Pairwise intersection over union of binary masks.

    .. math:: \mathrm{IoU}(A, B) = \frac{|A \cap B|}{|A| + |B| - |A \cap B|}, \qquad
        |A \cap B| = \textstyle\sum_{h,w} a_{hw} b_{hw}

    Args:
        masks1: ``(N, H, W)`` masks, bool or 0/1 values.
        masks2: ``(M, H, W)`` masks of the same height and width.

    Returns:
        ``(N, M)`` float64 tensor; 0 where both masks are empty.

    Examples:
        >>> a = torch.zeros(1, 2, 2, dtype=torch.bool); a[0, 0] = True
        >>> b = torch.ones(1, 2, 2, dtype=torch.bool)
        >>> mask_iou(a, b)
        tensor([[0.5000]], dtype=torch.float64)
    """
    _masks(masks1, "masks1")
    _masks(masks2, "masks2")
    if masks1.shape[1:] != masks2.shape[1:]:
        raise ValueError(
            f"`masks1` and `masks2` must have the same height and width, "
            f"got {tuple(masks1.shape)} and {tuple(masks2.shape)}"
        )
    dtype = _real_dtype(masks1.device)
    a, b = masks1.flatten(1).to(dtype), masks2.flatten(1).to(dtype)
    inter = a @ b.T  # the dot product of two 0/1 vectors counts their common pixels
    union = a.sum(1)[:, None] + b.sum(1)[None, :] - inter
    return inter / torch.where(union > 0, union, 1)


def _greedy_match(iou: torch.Tensor, thresholds: torch.Tensor) -> torch.Tensor:
    """COCO's matching for detections already in score order: ``(T, D)`` matched gt index or -1.

    Each detection takes, among the ground truths not yet matched, the one of highest IoU with
    IoU >= min(t, 1 - 1e-10) (on equal IoU the last one, as pycocotools' loop does).
    """
    D, G = iou.shape
    T = thresholds.numel()
    matched = torch.full((T, D), -1, dtype=torch.int64, device=iou.device)
    if D == 0 or G == 0:
        return matched
    taken = torch.zeros((T, G), dtype=torch.bool, device=iou.device)
    thr = thresholds.clamp(max=1 - 1e-10)[:, None]
    rows = torch.arange(T, device=iou.device)
    # sequential by nature: a detection may only take what the higher-scored ones left
    for d in range(D):
        candidates = torch.where(taken | (iou[d] < thr), -1.0, iou[d])  # (T, G)
        best = G - 1 - candidates.flip(-1).argmax(-1)  # the last maximal index
        hit = candidates[rows, best] >= 0
        matched[:, d] = torch.where(hit, best, -1)
        taken[rows, best] |= hit
    return matched


def _score_order(scores: torch.Tensor) -> torch.Tensor:
    # stable: equal scores keep their input order, as pycocotools' mergesort does
    return torch.sort(scores, descending=True, stable=True).indices


def match_detections(boxes: torch.Tensor, scores: torch.Tensor, gt_boxes: torch.Tensor, *,
                     iou_threshold: float = 0.5) -> torch.Tensor:
    r"""Label each detection of one image and class as a true or false positive.

    Detections are visited in decreasing score; each one takes the still unmatched ground-truth
    box with the highest IoU, if that IoU is :math:`\ge` ``iou_threshold`` (a true positive);
    otherwise it is a false positive. Ground truths left unmatched are false negatives.

    Args:
        boxes: ``(D, 4)`` detected boxes ``(x1, y1, x2, y2)``.
        scores: ``(D,)`` detection confidences.
        gt_boxes: ``(G, 4)`` ground-truth boxes.
        iou_threshold: IoU needed for a match, in :math:`[0, 1]`.

    Returns:
        ``(D,)`` int64: the index of the matched ground truth, or -1, in the input order.

    Notes:
        This is COCO's greedy matching (pycocotools ``evaluateImg``): ties in score keep the
        input order; on equal IoU the later ground truth wins; the threshold is capped at
        :math:`1 - 10^{-10}`. A detection does not steal a ground truth already matched by a
        higher-scored one even if its IoU is larger; it takes the best *untaken* one instead.
        PASCAL VOC's devkit (``VOCevaldet.m``) differs here: it takes the highest-IoU ground
        truth among all of them and, if that one is already matched, counts the detection as a
        false positive (a duplicate) with no fallback; its test is ``>=`` in the MATLAB devkit
        and ``>`` in the common Python ``voc_eval.py``.

    Examples:
        >>> gt = torch.tensor([[0.0, 0.0, 10.0, 10.0]])
        >>> det = torch.tensor([[0.0, 0.0, 10.0, 9.0], [1.0, 0.0, 10.0, 10.0]])
        >>> match_detections(det, torch.tensor([0.6, 0.9]), gt)
        tensor([-1,  0])
    """
    _checks.boxes(boxes, "boxes")
    _checks.boxes(gt_boxes, "gt_boxes")
    _detection_scores(scores, "scores", boxes.shape[0])
    t = _checks.number(iou_threshold, "iou_threshold", low=0, high=1)
    order = _score_order(scores)
    thr = torch.tensor([t], dtype=_real_dtype(boxes.device), device=boxes.device)
    matched_sorted = _greedy_match(box_iou(boxes[order], gt_boxes), thr)[0]
    return torch.empty_like(matched_sorted).scatter(0, order, matched_sorted)


def _detection_scores(scores, name: str, n: int) -> None:
    _checks.tensor(scores, name, allow_empty=True)
    _checks.ndim(scores, name, (1,))
    _checks.finite(_checks.real(scores, name), name)
    if scores.shape[0] != n:
        raise ValueError(f"`{name}` must have {n} entries, one per box, got {scores.shape[0]}")


def _detection_inputs(detections, ground_truths):
    """Validate the per-image lists of dicts; return them as lists of dicts of tensors."""
    for seq, name in ((detections, "detections"), (ground_truths, "ground_truths")):
        if not isinstance(seq, Sequence) or isinstance(seq, (str, bytes)):
            raise TypeError(f"`{name}` must be a list with one dict per image, "
                            f"got {type(seq).__name__}")
    if len(detections) != len(ground_truths) or len(detections) == 0:
        raise ValueError(
            f"`detections` and `ground_truths` must be non-empty lists of equal length (one "
            f"entry per image), got {len(detections)} and {len(ground_truths)}"
        )
    for seq, name, keys in ((detections, "detections", ("boxes", "scores", "labels")),
                            (ground_truths, "ground_truths", ("boxes", "labels"))):
        for i, item in enumerate(seq):
            where = f"{name}[{i}]"
            if not isinstance(item, Mapping) or any(k not in item for k in keys):
                raise ValueError(f"`{where}` must be a dict with keys {keys}, got {item!r}")
            n = _checks.boxes(item["boxes"], f"{where}['boxes']").shape[0]
            if "scores" in keys:
                _detection_scores(item["scores"], f"{where}['scores']", n)
            labels = _checks.tensor(item["labels"], f"{where}['labels']", allow_empty=True)
            _checks.ndim(labels, f"{where}['labels']", (1,))
            _checks.labels(labels, f"{where}['labels']")
            if labels.shape[0] != n:
                raise ValueError(f"`{where}['labels']` must have {n} entries, one per box, "
                                 f"got {labels.shape[0]}")


def _max_dets(max_dets) -> tuple[int, ...]:
    if not isinstance(max_dets, Sequence) or len(max_dets) == 0:
        raise ValueError(f"`max_dets` must be a non-empty sequence of ints, got {max_dets!r}")
    for m in max_dets:
        _checks.number(m, "max_dets", low=1, integer=True)
    if any(b <= a for a, b in zip(max_dets, max_dets[1:], strict=False)):
        raise ValueError(f"`max_dets` must be increasing, got {tuple(max_dets)}")
    return tuple(max_dets)


def _iou_thresholds(iou_thresholds, device) -> torch.Tensor:
    if not isinstance(iou_thresholds, Sequence) or len(iou_thresholds) == 0:
        raise ValueError(
            f"`iou_thresholds` must be a non-empty sequence of floats, got {iou_thresholds!r}"
        )
    for t in iou_thresholds:
        _checks.number(t, "iou_thresholds", low=0, high=1)
    return torch.tensor(iou_thresholds, dtype=_real_dtype(device), device=device)


def evaluate_detections(detections: Sequence[Mapping[str, torch.Tensor]],
                        ground_truths: Sequence[Mapping[str, torch.Tensor]], *,
                        iou_thresholds: Sequence[float] = COCO_IOU_THRESHOLDS,
                        max_dets: Sequence[int] = (1, 10, 100)) -> dict[str, torch.Tensor]:
    r"""COCO-style object-detection evaluation: AP@0.5, mAP@[.5:.95] and average recall.

    For each class :math:`c` (that has a ground-truth box) and IoU threshold :math:`t`, the
    detections of each image are matched to its ground truths (:func:`match_detections`,
    keeping the ``max(max_dets)`` best-scored per image and class). All detections of the class
    are then ranked by score; with cumulative counts :math:`TP_k, FP_k` and :math:`G_c` ground
    truths, :math:`R_k = TP_k / G_c` and :math:`P_k = TP_k / (TP_k + FP_k)`, and

    .. math::
        \mathrm{AP}_{c,t} = \frac1{101} \sum_{r \in \{0, 0.01, \dots, 1\}}
        \max_{j : R_j \ge r} P_j, \qquad
        \mathrm{mAP} = \frac1{|T|\,|C|} \sum_{t, c} \mathrm{AP}_{c,t}, \qquad
        \mathrm{AR}_m = \frac1{|T|\,|C|} \sum_{t, c} R^{(m)}_{c,t}

    where :math:`R^{(m)}_{c,t}` is the final recall with at most :math:`m` detections per image.

    Args:
        detections: one dict per image with ``"boxes"`` ``(D, 4)`` float ``(x1, y1, x2, y2)``,
            ``"scores"`` ``(D,)`` and ``"labels"`` ``(D,)`` integer class ids (torchvision's
            format).
        ground_truths: one dict per image (same order) with ``"boxes"`` ``(G, 4)`` and
            ``"labels"`` ``(G,)``.
        iou_thresholds: the set :math:`T`; default COCO's 0.50:0.05:0.95
            (:data:`COCO_IOU_THRESHOLDS`).
        max_dets: increasing detections-per-image limits :math:`m` for AR; AP uses the last.

    Returns:
        dict of tensors: ``"map"`` (mAP over ``iou_thresholds``), ``"map_50"`` and ``"map_75"``
        (when 0.5 / 0.75 are among the thresholds), ``"mar_{m}"`` for each ``m`` in
        ``max_dets``, ``"ap_per_threshold"`` ``(T,)``, ``"map_per_class"`` ``(C,)`` and
        ``"classes"`` ``(C,)``.

    Notes:
        Equals pycocotools' ``COCOeval`` (``iouType="bbox"``) with area range ``"all"``: its
        ``stats[0]`` (mAP), ``stats[1]`` (AP@0.5), ``stats[2]`` (AP@0.75) and ``stats[6:9]``
        (AR@1, 10, 100). Not supported: ``iscrowd`` regions and the small/medium/large area
        ranges. Classes without any ground truth are left out of every average (COCO's -1
        entries); detections of such classes are ignored. pycocotools adds ``np.spacing(1)``
        to each precision denominator; values differ by at most ~1e-16.

    Raises:
        ValueError: if no image has a ground-truth box (every AP would be undefined).

    Examples:
        >>> gts = [{"boxes": torch.tensor([[0.0, 0.0, 10.0, 10.0]]), "labels": torch.tensor([0])}]
        >>> dets = [{"boxes": torch.tensor([[0.0, 0.0, 10.0, 8.0], [20.0, 20.0, 30.0, 30.0]]),
        ...          "scores": torch.tensor([0.9, 0.8]), "labels": torch.tensor([0, 0])}]
        >>> r = evaluate_detections(dets, gts)
        >>> r["map_50"], r["map_75"], r["map"]
        (tensor(1., dtype=torch.float64), tensor(1., dtype=torch.float64),
         tensor(0.7000, dtype=torch.float64))
    """
    _detection_inputs(detections, ground_truths)
    max_dets = _max_dets(max_dets)
    device = ground_truths[0]["boxes"].device
    thr = _iou_thresholds(iou_thresholds, device)
    gt_labels = torch.cat([g["labels"].long().to(device) for g in ground_truths])
    if gt_labels.numel() == 0:
        raise ValueError("`ground_truths` hold no box: AP and recall are undefined")
    classes = torch.unique(gt_labels)
    ap = torch.zeros(thr.numel(), classes.numel(), dtype=thr.dtype, device=device)
    recall = torch.zeros(len(max_dets), thr.numel(), classes.numel(), dtype=thr.dtype,
                         device=device)
    for k, c in enumerate(classes.tolist()):
        per_image = [_match_image(d, g, c, thr, max_dets[-1])
                     for d, g in zip(detections, ground_truths, strict=True)]
        n_gt = sum(n for _, _, n in per_image)
        curves = [_class_curve(per_image, m, n_gt) for m in max_dets]
        recall[:, :, k] = torch.stack([r for _, r in curves])
        ap[:, k] = curves[-1][0].mean(-1)  # AP uses the last (largest) max_dets
    result = {"map": ap.mean()}
    for t, key in ((0.5, "map_50"), (0.75, "map_75")):
        if bool((thr == t).any()):
            result[key] = ap[thr == t].mean()
    for i, m in enumerate(max_dets):
        result[f"mar_{m}"] = recall[i].mean()
    result.update(ap_per_threshold=ap.mean(1), map_per_class=ap.mean(0), classes=classes)
    return result


def _match_image(det, gt, c, thr, max_det):
    """Scores (sorted), TP flags ``(T, D)`` and ground-truth count of class ``c`` in one image."""
    device = thr.device
    d_keep = det["labels"].to(device) == c
    scores = det["scores"].to(device)[d_keep]
    order = _score_order(scores)[:max_det]
    gt_boxes = gt["boxes"].to(device)[gt["labels"].to(device) == c]
    iou = box_iou(det["boxes"].to(device)[d_keep][order], gt_boxes)
    return scores[order], _greedy_match(iou, thr) >= 0, gt_boxes.shape[0]


def _class_curve(per_image, max_det, n_gt):
    """101-point interpolated precision ``(T, 101)`` and final recall ``(T,)`` of one class."""
    scores = torch.cat([s[:max_det] for s, _, _ in per_image])
    tp = torch.cat([t[:, :max_det] for _, t, _ in per_image], dim=1)
    T, D = tp.shape
    dtype = _real_dtype(tp.device)
    levels = _recall_levels(101, torch.empty(0, dtype=dtype, device=tp.device))
    if D == 0:
        return torch.zeros(T, levels.numel(), dtype=dtype, device=tp.device), torch.zeros(
            T, dtype=dtype, device=tp.device)
    # rank every detection of the class across images; ties keep image order (pycocotools)
    tp = tp[:, _score_order(scores)]
    tp_cum = tp.cumsum(-1).to(dtype)
    fp_cum = (~tp).cumsum(-1).to(dtype)
    recall = tp_cum / n_gt
    precision = tp_cum / (tp_cum + fp_cum)
    return _sampled_precision(_precision_envelope(precision), recall, levels), recall[:, -1]


# =========================================================================== language models


def perplexity(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    r"""Perplexity, the exponential of the mean cross-entropy (in nats).

    .. math::
        \mathrm{PPL} = \exp\Bigl(-\frac1N \sum_{n=1}^N \log p_\theta(y_n \mid x_n)\Bigr),
        \qquad \log p_\theta(c \mid x_n) = z_{nc} - \log \textstyle\sum_j e^{z_{nj}}

    A model that is uniform over :math:`C` classes has perplexity :math:`C`: the effective
    number of equally likely choices.

    Args:
        logits: ``(..., C)`` unnormalized scores, classes in the **last** dimension (e.g.
            ``(batch, seq_len, vocab)``); floating point, no NaN.
        target: ``(...)`` integer labels in ``[0, C)``, shape ``logits.shape[:-1]``.

    Returns:
        0-d tensor in ``logits``' dtype; differentiable.

    Notes:
        Equals ``torch.exp(F.cross_entropy(logits.reshape(-1, C), target.reshape(-1)))``;
        note that ``F.cross_entropy`` itself expects the classes in dimension 1.

    Examples:
        >>> perplexity(torch.zeros(2, 4), torch.tensor([0, 3]))
        tensor(4.)
    """
    _checks.tensor(logits, "logits", floating=True)
    _checks.no_nan(logits, "logits")
    if logits.ndim < 2:
        raise ValueError(
            f"`logits` must be at least 2-dimensional (..., C), got shape {tuple(logits.shape)}"
        )
    _checks.tensor(target, "target")
    if target.shape != logits.shape[:-1]:
        raise ValueError(
            f"`target` must have shape logits.shape[:-1] = {tuple(logits.shape[:-1])}, "
            f"got {tuple(target.shape)}"
        )
    _checks.labels(target, "target", logits.shape[-1])
    log_p = torch.log_softmax(logits, dim=-1)
    nll = -log_p.gather(-1, target.long().unsqueeze(-1))
    return torch.exp(nll.mean())
