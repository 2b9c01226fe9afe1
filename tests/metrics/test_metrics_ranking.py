"""dlcore.metrics.ranking against sklearn.metrics (seeded, with ties, several score dtypes, large
input, extreme floats), interpolated AP against the VOC and COCO reference loops, hand-worked
curves and bad input."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from metrics_helpers import F64, binary_data, close
from pycocotools.cocoeval import Params
from sklearn import metrics as skm

from dlcore import metrics as M

# =========================================================================== against sklearn


CURVE_CASES = [(seed, ties) for seed in range(30) for ties in (False, True)]


@pytest.mark.parametrize("seed,ties", CURVE_CASES)
def test_roc_curve_and_auc_match_sklearn(seed, ties):
    scores, target = binary_data(seed, ties=ties)
    fpr, tpr, thr = M.roc_curve(scores, target)
    r_fpr, r_tpr, r_thr = skm.roc_curve(target.numpy(), scores.numpy())
    assert fpr.shape == (len(r_fpr),)
    close(fpr, r_fpr)
    close(tpr, r_tpr)
    close(thr, r_thr)
    close(M.roc_auc_score(scores, target), skm.roc_auc_score(target.numpy(), scores.numpy()))


@pytest.mark.parametrize("seed,ties", CURVE_CASES)
def test_precision_recall_curve_and_ap_match_sklearn(seed, ties):
    scores, target = binary_data(seed, ties=ties)
    p, r, thr = M.precision_recall_curve(scores, target)
    r_p, r_r, r_thr = skm.precision_recall_curve(target.numpy(), scores.numpy())
    assert p.shape == (len(r_p),) and thr.shape == (len(r_thr),)
    close(p, r_p)
    close(r, r_r)
    close(thr, r_thr)
    close(M.average_precision_score(scores, target),
          skm.average_precision_score(target.numpy(), scores.numpy()))


@pytest.mark.parametrize("dtype", [torch.float32, torch.float16, torch.int64, torch.bool])
def test_curves_for_other_score_dtypes_match_sklearn(dtype):
    scores, target = binary_data(7, n=500)
    scores = (scores * 3).to(dtype) if not dtype.is_floating_point else scores.to(dtype)
    s_np = scores.numpy() if dtype != torch.float16 else scores.float().numpy()
    for ours, ref in ((M.roc_curve, skm.roc_curve),
                      (M.precision_recall_curve, skm.precision_recall_curve)):
        for a, b in zip(ours(scores, target), ref(target.numpy(), s_np), strict=True):
            close(a, b)
    close(M.roc_auc_score(scores, target), skm.roc_auc_score(target.numpy(), s_np))
    close(M.average_precision_score(scores, target),
          skm.average_precision_score(target.numpy(), s_np))


def test_score_keys_order_extreme_negative_and_signed_zero_values():
    # the integer-key sort must order negatives, subnormals and ±huge values like floats and
    # treat -0.0 and +0.0 as one threshold
    values = [-1e300, -5.0, -1e-310, -0.0, 0.0, 1e-310, 2.0, 1e300, -5.0, 0.0, 2.0, -0.0]
    scores = torch.tensor(values, dtype=F64)
    target = torch.tensor([0, 1, 0, 1, 0, 1, 1, 0, 0, 1, 0, 1])
    for ours, ref in ((M.roc_curve, skm.roc_curve),
                      (M.precision_recall_curve, skm.precision_recall_curve)):
        for a, b in zip(ours(scores, target), ref(target.numpy(), scores.numpy()), strict=True):
            close(a, b)
    close(M.roc_auc_score(scores, target), skm.roc_auc_score(target.numpy(), scores.numpy()))
    close(M.roc_auc_score(torch.tensor([-0.0, 0.0]), torch.tensor([0, 1])), 0.5)
    f32 = torch.tensor([v for v in values if abs(v) < 1e30], dtype=torch.float32)  # -1e-310 -> -0
    y32 = target[[abs(v) < 1e30 for v in values]]
    for ours, ref in ((M.roc_curve, skm.roc_curve),
                      (M.precision_recall_curve, skm.precision_recall_curve)):
        for a, b in zip(ours(f32, y32), ref(y32.numpy(), f32.numpy()), strict=True):
            close(a, b)


def test_large_input_matches_sklearn():
    scores, target = binary_data(3, n=200_000, ties=True)
    close(M.roc_auc_score(scores, target), skm.roc_auc_score(target.numpy(), scores.numpy()))
    close(M.average_precision_score(scores, target),
          skm.average_precision_score(target.numpy(), scores.numpy()))


def test_auc_is_the_probability_a_positive_outscores_a_negative():
    scores, target = binary_data(11, ties=True, n=150)
    pos, neg = scores[target == 1], scores[target == 0]
    wins = (pos[:, None] > neg[None, :]).double() + 0.5 * (pos[:, None] == neg[None, :]).double()
    close(M.roc_auc_score(scores, target), wins.mean().item())


def test_sort_keys_spanning_the_whole_float_range():
    # the key shift that speeds up the radix sort must not overflow for extreme scores
    import sklearn.metrics as skm
    s = torch.tensor([-1.7e308, 1.7e308, -0.0, 0.0, 5e-324, -5e-324, 1.0, -1.0],
                     dtype=torch.float64)
    y = torch.tensor([0, 1, 1, 0, 1, 0, 1, 0])
    assert float(M.roc_auc_score(s, y)) == skm.roc_auc_score(y.numpy(), s.numpy())
    assert float(M.average_precision_score(s, y)) == pytest.approx(
        skm.average_precision_score(y.numpy(), s.numpy()), abs=1e-15)


# =========================================================================== interpolated AP


def voc_ap(precision, recall, interpolation):
    """PASCAL VOC reference, written as in the devkits: loops over points and levels."""
    precision, recall = list(precision), list(recall)
    if interpolation == "11-point":
        total = 0.0
        for t in np.arange(0.0, 1.1, 0.1):  # the Python VOC code's levels
            above = [p for p, r in zip(precision, recall, strict=True) if r >= t]
            total += max(above) if above else 0.0
        return total / 11
    mrec, mpre = [0.0] + recall + [1.0], [0.0] + precision + [0.0]
    for i in range(len(mpre) - 2, -1, -1):
        mpre[i] = max(mpre[i], mpre[i + 1])
    return sum((mrec[i + 1] - mrec[i]) * mpre[i + 1] for i in range(len(mrec) - 1)
               if mrec[i + 1] != mrec[i])


def coco_ap(precision, recall):
    """pycocotools' accumulate() step for one curve: 101 levels on the envelope."""
    pr = list(precision)
    for i in range(len(pr) - 1, 0, -1):
        pr[i - 1] = max(pr[i - 1], pr[i])
    inds = np.searchsorted(recall, Params(iouType="bbox").recThrs, side="left")
    return float(np.mean([pr[i] if i < len(pr) else 0.0 for i in inds]))


@pytest.mark.parametrize("seed,ties", CURVE_CASES[:30])
def test_interpolated_ap_matches_voc_and_coco_reference_loops(seed, ties):
    scores, target = binary_data(seed, ties=ties)
    p, r, _ = skm.precision_recall_curve(target.numpy(), scores.numpy())
    p, r = p[:-1][::-1], r[:-1][::-1]  # per-threshold points, recall increasing, no sentinel
    for interp in ("11-point", "all-point"):
        close(M.average_precision_score(scores, target, interpolation=interp),
              voc_ap(p, r, interp))
    close(M.average_precision_score(scores, target, interpolation="101-point"), coco_ap(p, r))


def test_ap_definitions_differ_and_are_ordered():
    scores, target = binary_data(5, ties=False, n=60)
    ap = {i: float(M.average_precision_score(scores, target, interpolation=i))
          for i in ("none", "11-point", "101-point", "all-point")}
    assert ap["all-point"] >= ap["none"]  # the envelope lies above the precision points
    assert len({round(v, 12) for v in ap.values()}) == 4
    assert all(0 <= v <= 1 for v in ap.values())


# =========================================================================== hand-worked


def test_hand_worked_roc_and_pr():
    scores = torch.tensor([0.1, 0.4, 0.35, 0.8], dtype=F64)
    target = torch.tensor([0, 0, 1, 1])
    fpr, tpr, thr = M.roc_curve(scores, target)
    close(fpr, [0, 0, 0.5, 0.5, 1])
    close(tpr, [0, 0.5, 0.5, 1, 1])
    close(thr, [math.inf, 0.8, 0.4, 0.35, 0.1])
    close(M.roc_auc_score(scores, target), 0.75)
    # ranked labels 1, 0, 1, 0: P = 1, 1/2, 2/3, 1/2 at R = 1/2, 1/2, 1, 1
    close(M.average_precision_score(scores, target), 0.5 * 1 + 0.5 * 2 / 3)


def test_hand_worked_ap_interpolations():
    scores = torch.tensor([0.9, 0.8, 0.7, 0.6, 0.5])
    target = torch.tensor([0, 1, 1, 0, 1])
    # P = 0, 1/2, 2/3, 1/2, 3/5 at R = 0, 1/3, 2/3, 2/3, 1
    close(M.average_precision_score(scores, target), (1 / 2 + 2 / 3 + 3 / 5) / 3)
    close(M.average_precision_score(scores, target, interpolation="all-point"),
          (2 / 3 + 2 / 3 + 3 / 5) / 3)
    # levels 0 .. 0.6000000000000001 see 2/3 (R >= level reached by 2/3 at R = 2/3);
    # 0.7000000000000001 .. 1 see 3/5
    close(M.average_precision_score(scores, target, interpolation="11-point"),
          (7 * 2 / 3 + 4 * 3 / 5) / 11)


def test_voc_11_point_levels_are_the_python_reference_values():
    # recall exactly 0.3 does not reach the level 0.30000000000000004 (np.arange(0, 1.1, 0.1))
    target = torch.tensor([1] * 3 + [0] * 10 + [1] * 7)
    scores = -torch.arange(20.0)  # ranked as listed: R = 0.3 at precision 1, then drops
    got = float(M.average_precision_score(scores, target, interpolation="11-point"))
    assert got == pytest.approx(voc_ap([1, 1, 1] + [3 / k for k in range(4, 14)]
                                       + [(3 + j) / (13 + j) for j in range(1, 8)],
                                       [0.1, 0.2, 0.3] + [0.3] * 10
                                       + [(3 + j) / 10 for j in range(1, 8)], "11-point"),
                                abs=1e-15)
    assert got < (4 * 1 + 7 * 10 / 20) / 11  # the value with exact decimal levels


def test_all_scores_tied():
    s, y = torch.full((6,), 0.25), torch.tensor([0, 1, 1, 0, 1, 0])
    fpr, tpr, thr = M.roc_curve(s, y)
    close(fpr, [0, 1])
    close(tpr, [0, 1])
    close(M.roc_auc_score(s, y), 0.5)
    close(M.average_precision_score(s, y), 0.5)


# =========================================================================== bad input


@pytest.mark.parametrize("f", [M.roc_curve, M.roc_auc_score, M.precision_recall_curve,
                               M.average_precision_score])
def test_bad_curve_inputs_rejected(f):
    s, y = torch.tensor([0.1, 0.9, 0.5]), torch.tensor([0, 1, 1])
    with pytest.raises(ValueError, match=r"`scores` and `target` must have the same shape"):
        f(s[:2], y)
    with pytest.raises(ValueError, match=r"`target` must hold binary labels in \{0, 1\}, got "
                                         r"values in \[0, 2\]"):
        f(s, torch.tensor([0, 2, 1]))
    with pytest.raises(ValueError, match="`scores` must be finite, got 1 NaN and 0 infinite"):
        f(torch.tensor([0.1, math.nan, 0.5]), y)
    with pytest.raises(ValueError, match="`scores` must be finite, got 0 NaN and 1 infinite"):
        f(torch.tensor([0.1, math.inf, 0.5]), y)
    with pytest.raises(ValueError, match="`scores` must not be empty"):
        f(torch.empty(0), torch.empty(0, dtype=torch.long))
    with pytest.raises(ValueError, match="`target` must hold integer class labels"):
        f(s, y.float())
    with pytest.raises(ValueError, match="`scores` must be 1-dimensional"):
        f(s[None], y[None])
    with pytest.raises(ValueError, match="`scores` must hold real numbers"):
        f(s.to(torch.complex64), y)
    huge = torch.tensor([1e308, 1e308, -1e308], dtype=F64)  # finite, but the sum overflows
    assert f(huge, y) is not None


def test_bad_ap_interpolation_rejected():
    with pytest.raises(ValueError, match="`interpolation` must be one of"):
        M.average_precision_score(torch.rand(3), torch.tensor([0, 1, 1]), interpolation="voc")


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32, torch.float16, torch.int64,
                                   torch.int32, torch.bool])
def test_packed_label_sort_equals_the_permutation_sort(dtype):
    # AUC and AP sort labels packed into the keys (no permutation); roc_curve sorts with one
    import sklearn.metrics as skm
    g = torch.Generator().manual_seed(0)
    raw = torch.randn(3000, generator=g, dtype=torch.float64) * 3
    scores = (raw > 0) if dtype == torch.bool else raw.round().to(dtype)  # heavy ties
    target = torch.randint(2, (3000,), generator=g).bool()
    fpr, tpr, _ = M.roc_curve(scores, target)
    assert float(M.roc_auc_score(scores, target)) == pytest.approx(
        float(torch.trapezoid(tpr, fpr)), abs=1e-12)
    ref = skm.average_precision_score(target.numpy(), scores.to(torch.float64).numpy())
    assert float(M.average_precision_score(scores, target)) == pytest.approx(ref, abs=1e-12)
