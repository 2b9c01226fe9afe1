r"""Ranking metrics from real-valued scores of a binary problem: :func:`roc_curve`,
:func:`roc_auc_score`, :func:`precision_recall_curve` and :func:`average_precision_score` in four
definitions (chapter Metrics, section "ROC, precision–recall and average precision")."""

from __future__ import annotations

import math
import warnings

import numpy as np
import torch

from dlcore import _checks
from dlcore.metrics._common import (
    _precision_envelope,
    _real_dtype,
    _recall_levels,
    _sampled_precision,
)

_AP_INTERPOLATIONS = ("none", "11-point", "101-point", "all-point")


def _binary_inputs(scores, target):
    _checks.tensor(scores, "scores")
    _checks.tensor(target, "target")
    _checks.ndim(scores, "scores", (1,))
    _checks.ndim(target, "target", (1,))
    _checks.same_shape(scores, target, "scores", "target")
    _checks.finite(_checks.real(scores, "scores"), "scores")
    _checks.binary_labels(target, "target")


def _descending_keys(scores: torch.Tensor):
    """Integer ``keys`` that are equal iff the scores are equal and increase as the scores
    decrease, shifted to start at 0 when that cannot overflow; and their span
    ``max - min`` (``None`` when not shifted).

    An IEEE-754 float maps to an integer of the same width with the same order: for a sign bit
    0 the bit pattern grows with the value; for a sign bit 1 the magnitude bits grow as the
    value falls, so they are flipped.
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
        keys = keys.bitwise_not_().to(torch.int64)  # ~k = -k - 1 reverses the order
    # Shifted to start at 0, the keys of typical scores span few bits (all in [0, 1]: 57), so
    # a radix sort skips passes and a label fits below them (see _binary_clf_curve).
    low, high = (int(v) for v in torch.aminmax(keys))
    if high - low > torch.iinfo(torch.int64).max:
        return keys, None
    return keys.sub_(low), high - low  # keys is a fresh tensor, never the caller's


def _binary_clf_curve(scores: torch.Tensor, target: torch.Tensor, *, thresholds: bool = True):
    """Counts at each distinct score, thresholds decreasing.

    ``fps[k]``, ``tps[k]`` = number of negatives / positives with ``scores >= thresholds[k]``
    (``thresholds`` is None when not asked for). One sort; ties form a single point, so the
    result does not depend on the order of ties.
    """
    keys, span = _descending_keys(scores)
    if not thresholds and keys.device.type == "cpu" and span is not None and span < 2**62:
        # Fast path for AUC and AP, which need only the labels in score order: pack each label
        # into the lowest bit of its key and sort the values alone, no permutation. NumPy sorts
        # int64 values with a vectorised quicksort, ~10x faster at n = 10^6 than a sort that
        # also returns indices, on one thread. Order within a run of equal keys is irrelevant.
        packed = keys.mul_(2).add_(target.to(torch.int64)).numpy()
        packed = torch.from_numpy(np.sort(packed))
        y, keys = packed & 1, packed >> 1
    else:
        # torch sorts int64 with a radix sort, several times faster than its comparison
        # sort for floats at n = 10^6; the shift above lets it skip passes
        keys, order = torch.sort(keys)
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
