"""dlcore.metrics against sklearn.metrics and pycocotools (float64, seeded, with ties and class
imbalance), a registry of every public metric × properties, hand-worked examples and bad
inputs."""

from __future__ import annotations

import contextlib
import io
import math
import re
import warnings
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pytest
import torch
from pycocotools import mask as mask_utils
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval, Params
from sklearn import metrics as skm
from sklearn.exceptions import UndefinedMetricWarning
from torch.nn import functional as F

from dlcore import metrics as M

F64 = torch.float64
TOL = {"rtol": 1e-12, "atol": 1e-14}


def close(ours, ref, **tol):
    """Compare a tensor with a reference number / array in float64, NaN == NaN."""
    if isinstance(ref, torch.Tensor):
        ref = ref.detach().cpu().to(F64)
    else:  # np.array copies: sklearn may return negatively strided views
        ref = torch.as_tensor(np.array(ref, dtype=np.float64))
    torch.testing.assert_close(ours.to(F64), ref, equal_nan=True, **(tol or TOL))


def same(a, b):
    """Recursive tight comparison of outputs (tensors, tuples, dicts)."""
    if isinstance(a, dict):
        assert a.keys() == b.keys()
        for k in a:
            same(a[k], b[k])
    elif isinstance(a, tuple):
        assert len(a) == len(b)
        for x, y in zip(a, b, strict=True):
            same(x, y)
    else:
        torch.testing.assert_close(a, b, equal_nan=True, **TOL)


# =========================================================================== data


def binary_data(seed, *, ties=False, n=None, dtype=F64):
    """Scores with some signal, imbalanced 0/1 target (both classes present)."""
    g = torch.Generator().manual_seed(seed)
    n = n or int(torch.randint(2, 300, (1,), generator=g))
    pos_rate = 0.03 + 0.94 * float(torch.rand(1, generator=g))
    target = (torch.rand(n, generator=g) < pos_rate).long()
    target[0], target[1] = 1, 0
    scores = torch.randn(n, generator=g, dtype=F64) + 0.8 * target
    if ties:  # a coarse grid makes many scores equal, across and within classes
        scores = torch.round(scores * 3) / 3
    return scores.to(dtype), target


def label_data(seed, *, binary=False):
    """Imbalanced single-label predictions; num_classes beyond the labels seen leaves classes
    absent from both preds and target (zero_division cases)."""
    g = torch.Generator().manual_seed(seed)
    n = int(torch.randint(1, 200, (1,), generator=g))
    C = 2 if binary else int(torch.randint(2, 7, (1,), generator=g))
    prior = torch.rand(C, generator=g) ** 3 + 1e-3  # skewed class frequencies
    target = torch.multinomial(prior, n, replacement=True, generator=g)
    noise = torch.multinomial(prior.flip(0), n, replacement=True, generator=g)
    preds = torch.where(torch.rand(n, generator=g) < 0.6, target, noise)
    num_classes = 2 if binary else C + int(torch.randint(0, 2, (1,), generator=g))
    return preds, target, num_classes


# =========================================================================== classification


@pytest.mark.parametrize("seed", range(25))
def test_confusion_matrix_and_accuracy_match_sklearn(seed):
    preds, target, C = label_data(seed)
    cm = M.confusion_matrix(preds, target, num_classes=C)
    ref = skm.confusion_matrix(target.numpy(), preds.numpy(), labels=list(range(C)))
    assert cm.dtype == torch.int64 and torch.equal(cm, torch.from_numpy(ref))
    close(M.accuracy_score(preds, target), skm.accuracy_score(target.numpy(), preds.numpy()))


PRF = {
    "precision": (M.precision_score, skm.precision_score, {}),
    "recall": (M.recall_score, skm.recall_score, {}),
    "f1": (M.f1_score, skm.f1_score, {}),
    "f0.5": (M.fbeta_score, skm.fbeta_score, {"beta": 0.5}),
    "f2": (M.fbeta_score, skm.fbeta_score, {"beta": 2.0}),
    "f0": (M.fbeta_score, skm.fbeta_score, {"beta": 0.0}),
}


@pytest.mark.parametrize("metric", PRF)
@pytest.mark.parametrize("average", ["micro", "macro", "weighted", None])
@pytest.mark.parametrize("zero_division", [0.0, 1.0, math.nan])
def test_prf_multiclass_match_sklearn(metric, average, zero_division):
    ours, ref, kw = PRF[metric]
    for seed in range(12):
        preds, target, C = label_data(seed)
        got = ours(preds, target, average=average, num_classes=C, zero_division=zero_division,
                   **kw)
        want = ref(target.numpy(), preds.numpy(), labels=list(range(C)), average=average,
                   zero_division=zero_division, **kw)
        assert got.shape == (() if average else (C,))
        close(got, want)


@pytest.mark.parametrize("metric", PRF)
@pytest.mark.parametrize("zero_division", [0.0, 1.0, math.nan])
def test_prf_binary_match_sklearn(metric, zero_division):
    ours, ref, kw = PRF[metric]
    cases = [label_data(seed, binary=True)[:2] for seed in range(15)]
    cases += [(torch.zeros(4, dtype=torch.long), torch.tensor([0, 1, 0, 1])),  # no predicted 1
              (torch.tensor([1, 0, 1]), torch.zeros(3, dtype=torch.long)),  # no true 1
              (torch.zeros(3, dtype=torch.long), torch.zeros(3, dtype=torch.long)),
              (torch.tensor([True, False]), torch.tensor([True, True]))]
    for preds, target in cases:
        got = ours(preds, target, zero_division=zero_division, **kw)
        want = ref(target.numpy().astype(int), preds.numpy().astype(int),
                   zero_division=zero_division, **kw)
        close(got, want)


@pytest.mark.parametrize("seed", range(15))
def test_top_k_accuracy_matches_sklearn_including_ties(seed):
    g = torch.Generator().manual_seed(seed)
    N = int(torch.randint(1, 120, (1,), generator=g))
    C = int(torch.randint(3, 8, (1,), generator=g))
    scores = torch.round(torch.randn(N, C, generator=g, dtype=F64) * 2) / 2  # many ties
    target = torch.randint(0, C, (N,), generator=g)
    for k in range(1, C + 1):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UndefinedMetricWarning)  # sklearn: k >= C
            want = skm.top_k_accuracy_score(target.numpy(), scores.numpy(), k=k,
                                            labels=list(range(C)))
        close(M.top_k_accuracy_score(scores, target, k=k), want)


def test_top_k_tie_rule_favours_the_larger_class_index():
    scores = torch.tensor([[1.0, 1.0, 1.0]])
    # ranking by sklearn's rule: class 2, class 1, class 0
    assert M.top_k_accuracy_score(scores, torch.tensor([2]), k=1) == 1
    assert M.top_k_accuracy_score(scores, torch.tensor([0]), k=2) == 0
    assert M.top_k_accuracy_score(scores, torch.tensor([0]), k=3) == 1


# =========================================================================== ranking


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


def test_hand_worked_binary_counts():
    preds = torch.tensor([1, 1, 0, 1, 0, 0])
    target = torch.tensor([1, 0, 0, 1, 1, 0])
    # TP = 2 (idx 0, 3), FP = 1 (idx 1), FN = 1 (idx 4), TN = 2
    assert torch.equal(M.confusion_matrix(preds, target), torch.tensor([[2, 1], [1, 2]]))
    close(M.precision_score(preds, target), 2 / 3)
    close(M.recall_score(preds, target), 2 / 3)
    close(M.f1_score(preds, target), 2 * 2 / (2 * 2 + 1 + 1))  # Dice: 2TP / (2TP + FP + FN)
    close(M.fbeta_score(preds, target, beta=2.0), 5 * 2 / (5 * 2 + 4 * 1 + 1))
    close(M.accuracy_score(preds, target), 4 / 6)


def test_hand_worked_multiclass_averages():
    preds = torch.tensor([0, 0, 1, 2, 2, 2])
    target = torch.tensor([0, 1, 1, 1, 2, 0])
    # per class: P = (1/2, 1/1, 1/3), R = (1/2, 1/3, 1/1), support (2, 3, 1)
    close(M.precision_score(preds, target, average=None), [1 / 2, 1, 1 / 3])
    close(M.precision_score(preds, target, average="macro"), (1 / 2 + 1 + 1 / 3) / 3)
    close(M.recall_score(preds, target, average="weighted"), (2 * 1 / 2 + 3 * 1 / 3 + 1) / 6)
    close(M.f1_score(preds, target, average="micro"), 3 / 6)


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


def test_hand_worked_iou_and_perplexity():
    a = torch.tensor([[0.0, 0.0, 2.0, 2.0]], dtype=F64)
    b = torch.tensor([[1.0, 1.0, 3.0, 3.0], [2.0, 2.0, 4.0, 4.0], [0.0, 0.0, 2.0, 2.0]], dtype=F64)
    close(M.box_iou(a, b), [[1 / 7, 0.0, 1.0]])
    close(M.box_iou(a, torch.tensor([[5.0, 5.0, 5.0, 5.0]], dtype=F64)), [[0.0]])
    m = torch.zeros(2, 3, 3, dtype=torch.bool)
    m[0, :2, :2] = True
    m[1, 1:, 1:] = True
    close(M.mask_iou(m, m), [[1, 1 / 7], [1 / 7, 1]])
    close(M.perplexity(torch.zeros(5, 7, dtype=F64), torch.arange(5)), 7.0)
    # a model sure of the right class has perplexity 1
    logits = torch.full((3, 4), -1e4, dtype=F64)
    logits[torch.arange(3), torch.tensor([2, 0, 1])] = 1e4
    close(M.perplexity(logits, torch.tensor([2, 0, 1])), 1.0)


def test_hand_worked_detection():
    gt = [{"boxes": torch.tensor([[0.0, 0, 10, 10], [20, 20, 30, 30]]),
           "labels": torch.tensor([0, 0])}]
    det = [{"boxes": torch.tensor([[0.0, 0, 10, 10], [0.0, 0, 10, 9], [50, 50, 60, 60]]),
            "scores": torch.tensor([0.9, 0.8, 0.7]), "labels": torch.tensor([0, 0, 0])}]
    # ranks: TP (IoU 1), FP (duplicate: its gt is taken), FP; 1 of 2 gts found
    assert M.match_detections(det[0]["boxes"], det[0]["scores"], gt[0]["boxes"]).tolist() == [
        0, -1, -1]
    r = M.evaluate_detections(det, gt)
    # P = 1 up to R = 1/2, nothing beyond: 51 of 101 levels
    close(r["map_50"], 51 / 101)
    close(r["map"], 51 / 101)
    close(r["mar_1"], 0.5)
    close(r["mar_100"], 0.5)
    assert r["classes"].tolist() == [0]


def test_detection_matching_is_greedy_in_score_order():
    gt = torch.tensor([[0.0, 0, 10, 10]])
    boxes = torch.tensor([[0.0, 0, 10, 6], [0.0, 0, 10, 10]])
    # the weaker box (IoU 0.6) scores higher and takes the gt; the perfect box is a FP
    assert M.match_detections(boxes, torch.tensor([0.9, 0.5]), gt).tolist() == [0, -1]
    assert M.match_detections(boxes, torch.tensor([0.5, 0.9]), gt).tolist() == [-1, 0]
    assert M.match_detections(boxes, torch.tensor([0.9, 0.5]), gt,
                              iou_threshold=0.7).tolist() == [-1, 0]
    # IoU exactly at the threshold matches (>=); t = 1 is capped at 1 - 1e-10 as in COCO
    half = torch.tensor([[0.0, 0, 10, 5]], dtype=F64)
    assert M.match_detections(half, torch.tensor([1.0]), gt.double()).tolist() == [0]
    almost = torch.tensor([[0.0, 0, 1, 1 - 1e-12]], dtype=F64)
    unit = torch.tensor([[0.0, 0, 1, 1]], dtype=F64)
    assert M.match_detections(almost, torch.tensor([1.0]), unit, iou_threshold=1.0).tolist() == [0]
    below = torch.tensor([[0.0, 0, 1, 1 - 1e-9]], dtype=F64)
    assert M.match_detections(below, torch.tensor([1.0]), unit, iou_threshold=1.0).tolist() == [-1]
    # two gts with equal IoU: the later one is taken (pycocotools' loop)
    two = torch.tensor([[0.0, 0, 10, 10], [0.0, 0, 10, 10]])
    assert M.match_detections(gt, torch.tensor([1.0]), two).tolist() == [1]


# =========================================================================== edge cases


def test_one_class_and_single_sample_follow_sklearn():
    s, neg, pos = torch.tensor([0.3, 0.7, 0.7]), torch.zeros(3, dtype=torch.long), torch.ones(
        3, dtype=torch.long)
    for y in (neg, pos):
        with pytest.warns(UserWarning, match="No (negative|positive) samples"):
            ours = M.roc_curve(s, y)
        with pytest.warns(UndefinedMetricWarning):
            ref = skm.roc_curve(y.numpy(), s.numpy())
        for a, b in zip(ours, ref, strict=True):
            close(a, b)
        with pytest.raises(ValueError, match="ROC AUC needs both classes in `target`"):
            M.roc_auc_score(s, y)
    with pytest.warns(UserWarning, match="No positive samples"):
        ours = M.precision_recall_curve(s, neg)
    with pytest.warns(UserWarning):
        ref = skm.precision_recall_curve(neg.numpy(), s.numpy())
    for a, b in zip(ours, ref, strict=True):
        close(a, b)
    for interp in ("none", "11-point", "all-point"):
        with pytest.warns(UserWarning, match="No positive samples"):
            assert M.average_precision_score(s, neg, interpolation=interp) == 0
    close(M.average_precision_score(s, pos), skm.average_precision_score(pos.numpy(), s.numpy()))
    one, y1 = torch.tensor([0.5]), torch.tensor([1])
    close(M.average_precision_score(one, y1), 1.0)
    close(M.accuracy_score(y1, y1), 1.0)
    close(M.precision_score(y1, y1), 1.0)
    with pytest.warns(UserWarning):
        fpr, tpr, _ = M.roc_curve(one, y1)
    assert torch.isnan(fpr).all() and tpr.tolist() == [0.0, 1.0]


def test_all_scores_tied():
    s, y = torch.full((6,), 0.25), torch.tensor([0, 1, 1, 0, 1, 0])
    fpr, tpr, thr = M.roc_curve(s, y)
    close(fpr, [0, 1])
    close(tpr, [0, 1])
    close(M.roc_auc_score(s, y), 0.5)
    close(M.average_precision_score(s, y), 0.5)


def test_detection_edge_cases():
    gt = [{"boxes": torch.tensor([[0.0, 0, 10, 10]]), "labels": torch.tensor([1])},
          {"boxes": torch.zeros(0, 4), "labels": torch.zeros(0, dtype=torch.long)}]
    empty = {"boxes": torch.zeros(0, 4), "scores": torch.zeros(0),
             "labels": torch.zeros(0, dtype=torch.long)}
    r = M.evaluate_detections([empty, empty], gt)
    assert r["map"] == 0 and r["mar_100"] == 0
    # a detection of a class without ground truth is ignored, as in COCO
    other = {"boxes": torch.tensor([[0.0, 0, 10, 10]]), "scores": torch.tensor([0.9]),
             "labels": torch.tensor([5])}
    hit = {"boxes": torch.tensor([[0.0, 0, 10, 10]]), "scores": torch.tensor([0.1]),
           "labels": torch.tensor([1])}
    assert M.evaluate_detections([hit, other], gt)["map"] == 1
    assert M.match_detections(torch.zeros(0, 4), torch.zeros(0), gt[0]["boxes"]).shape == (0,)
    assert M.box_iou(torch.zeros(0, 4), torch.ones(3, 4)).shape == (0, 3)
    r = M.evaluate_detections([hit, other], gt, iou_thresholds=[0.6], max_dets=[1])
    assert set(r) == {"map", "mar_1", "ap_per_threshold", "map_per_class", "classes"}


# =========================================================================== IoU references


def test_box_iou_matches_hand_loop_and_pycocotools():
    g = np.random.default_rng(0)
    xy1, xy2 = g.uniform(0, 50, (13, 2)), g.uniform(0, 50, (9, 2))
    b1 = np.hstack([xy1, xy1 + g.uniform(0, 30, (13, 2))])
    b2 = np.hstack([xy2, xy2 + g.uniform(0, 30, (9, 2))])
    b2[0] = b1[0]  # one identical pair
    got = M.box_iou(torch.from_numpy(b1), torch.from_numpy(b2))
    loop = np.zeros((13, 9))
    for i, a in enumerate(b1):
        for j, b in enumerate(b2):
            w = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
            h = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
            area = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1])
            loop[i, j] = w * h / (area - w * h)
    close(got, loop)

    def xywh(b):
        return np.hstack([b[:, :2], b[:, 2:] - b[:, :2]])

    coco = mask_utils.iou(xywh(b1), xywh(b2), [0] * 9)
    close(got, coco, rtol=1e-12, atol=1e-13)
    assert (got > 0).sum() > 10 and (got == 0).sum() > 10  # both overlap and disjoint pairs


def test_mask_iou_matches_pycocotools():
    g = torch.Generator().manual_seed(0)
    m1 = torch.rand(5, 17, 23, generator=g) < 0.4
    m2 = torch.rand(4, 17, 23, generator=g) < 0.6
    m2[0] = m1[0]

    def rle(m):
        return mask_utils.encode(np.asfortranarray(m.permute(1, 2, 0).numpy().astype(np.uint8)))

    close(M.mask_iou(m1, m2), mask_utils.iou(rle(m1), rle(m2), [0] * 4))
    close(M.mask_iou(m1.long(), m2.double()), M.mask_iou(m1, m2))


# =========================================================================== detection vs COCO


def detection_set(seed, *, n_images=7, n_classes=3, ties=False):
    """Ground truths and jittered detections with misses, duplicates and false positives."""
    g = np.random.default_rng(seed)
    dets, gts = [], []
    for _ in range(n_images):
        n_gt = int(g.integers(0, 7))
        xy = g.uniform(0, 100, (n_gt, 2))
        gt_boxes = np.hstack([xy, xy + g.uniform(5, 40, (n_gt, 2))])
        gt_labels = g.integers(0, n_classes, n_gt)
        boxes, labels = [], []
        for b, c in zip(gt_boxes, gt_labels, strict=True):
            for _ in range(int(g.choice([0, 1, 1, 1, 2]))):  # missed, found or duplicated
                wh = b[2:] - b[:2]
                shift = g.normal(0, 0.12, 4) * np.concatenate([wh, wh])
                boxes.append(b + shift)
                labels.append(c if g.random() < 0.9 else g.integers(0, n_classes))
        for _ in range(int(g.integers(0, 4))):  # false positives anywhere
            xy1 = g.uniform(0, 100, 2)
            boxes.append(np.concatenate([xy1, xy1 + g.uniform(3, 30, 2)]))
            labels.append(g.integers(0, n_classes))
        boxes = np.array(boxes).reshape(-1, 4)
        boxes[:, 2:] = np.maximum(boxes[:, 2:], boxes[:, :2] + 0.5)
        scores = g.uniform(0, 1, len(boxes))
        if ties:
            scores = np.round(scores, 1)
        dets.append({"boxes": torch.from_numpy(boxes), "scores": torch.from_numpy(scores),
                     "labels": torch.tensor(np.array(labels, dtype=np.int64))})
        gts.append({"boxes": torch.from_numpy(gt_boxes), "labels": torch.from_numpy(gt_labels)})
    return dets, gts


def cocoeval(dets, gts, *, iou_thresholds=None, max_dets=None, all_area_only=True):
    """Run pycocotools on the same data: boxes to xywh, ids from 1."""
    def xywh(b):
        return [float(b[0]), float(b[1]), float(b[2] - b[0]), float(b[3] - b[1])]

    labels = {int(c) for d in dets + gts for c in d["labels"]}
    gt_anns = []
    for i, g in enumerate(gts):
        for b, c in zip(g["boxes"], g["labels"], strict=True):
            x, y, w, h = xywh(b)
            gt_anns.append({"id": len(gt_anns) + 1, "image_id": i + 1, "category_id": int(c) + 1,
                            "bbox": [x, y, w, h], "area": w * h, "iscrowd": 0})
    results = [{"image_id": i + 1, "category_id": int(c) + 1, "bbox": xywh(b), "score": float(s)}
               for i, d in enumerate(dets)
               for b, s, c in zip(d["boxes"], d["scores"], d["labels"], strict=True)]
    with contextlib.redirect_stdout(io.StringIO()):
        coco_gt = COCO()
        coco_gt.dataset = {"images": [{"id": i + 1} for i in range(len(gts))],
                           "annotations": gt_anns,
                           "categories": [{"id": c + 1} for c in sorted(labels)]}
        coco_gt.createIndex()
        E = COCOeval(coco_gt, coco_gt.loadRes(results), "bbox")
        if iou_thresholds is not None:
            E.params.iouThrs = np.array(iou_thresholds)
        if max_dets is not None:
            E.params.maxDets = list(max_dets)
        if all_area_only:
            E.params.areaRng, E.params.areaRngLbl = [[0, 1e10]], ["all"]
        E.evaluate()
        E.accumulate()
    return E


def coco_numbers(E):
    """mAP, AP per IoU threshold, AR per maxDets and AP per class from COCOeval's arrays."""
    prec = E.eval["precision"][:, :, :, 0, -1]  # T x R x K, area 'all', largest maxDets
    rec = E.eval["recall"][:, :, 0, :]  # T x K x M
    valid = prec[0, 0] > -1  # classes with ground truth
    return {"map": prec[:, :, valid].mean(),
            "ap_per_threshold": prec[:, :, valid].mean(axis=(1, 2)),
            "map_per_class": prec[:, :, valid].mean(axis=(0, 1)),
            "mar": [rec[:, valid, m].mean() for m in range(rec.shape[-1])]}


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("ties", [False, True])
def test_detection_matches_cocoeval(seed, ties):
    dets, gts = detection_set(seed, ties=ties)
    ref = coco_numbers(cocoeval(dets, gts))
    got = M.evaluate_detections(dets, gts)
    close(got["map"], ref["map"])
    close(got["ap_per_threshold"], ref["ap_per_threshold"])
    close(got["map_per_class"], ref["map_per_class"])
    close(got["map_50"], ref["ap_per_threshold"][0])
    close(got["map_75"], ref["ap_per_threshold"][5])
    for m, want in zip((1, 10, 100), ref["mar"], strict=True):
        close(got[f"mar_{m}"], want)
    assert 0.05 < float(got["map"]) < 0.95  # neither trivial nor perfect


def test_detection_matches_cocoeval_summary_with_default_params():
    dets, gts = detection_set(42, n_images=10)
    E = cocoeval(dets, gts, all_area_only=False)
    with contextlib.redirect_stdout(io.StringIO()):
        E.summarize()
    got = M.evaluate_detections(dets, gts)
    for key, i in (("map", 0), ("map_50", 1), ("map_75", 2),
                   ("mar_1", 6), ("mar_10", 7), ("mar_100", 8)):
        close(got[key], E.stats[i])


def test_detection_truncation_and_custom_thresholds_match_cocoeval():
    dets, gts = detection_set(3, n_images=5, n_classes=2)
    dets[0] = {k: torch.cat([v] * 4) for k, v in dets[0].items()}  # crowd one image
    thrs, max_dets = [0.3, 0.5, 0.9], (1, 3, 5)
    ref = coco_numbers(cocoeval(dets, gts, iou_thresholds=thrs, max_dets=max_dets))
    got = M.evaluate_detections(dets, gts, iou_thresholds=thrs, max_dets=max_dets)
    close(got["map"], ref["map"])
    close(got["ap_per_threshold"], ref["ap_per_threshold"])
    for m, want in zip(max_dets, ref["mar"], strict=True):
        close(got[f"mar_{m}"], want)
    assert len({round(float(got[f"mar_{m}"]), 9) for m in max_dets}) == 3


def test_coco_thresholds_equal_pycocotools_params():
    p = Params(iouType="bbox")
    assert np.array_equal(np.array(M.COCO_IOU_THRESHOLDS), p.iouThrs)
    assert np.array_equal(M._recall_levels(101, torch.empty(0, dtype=F64)).numpy(), p.recThrs)


# =========================================================================== registry


def _scores_target(seed):
    return binary_data(seed, ties=True, n=80)


def _labels(seed):
    return label_data(seed)[:2]


def _topk(seed):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(50, 5, generator=g, dtype=F64), torch.randint(0, 5, (50,), generator=g)


def _boxes(seed):
    g = torch.Generator().manual_seed(seed)

    def random_boxes(n):
        xy = torch.rand(n, 2, generator=g, dtype=F64) * 20
        return torch.cat([xy, xy + 1 + torch.rand(n, 2, generator=g, dtype=F64) * 10], 1)

    return random_boxes(7), random_boxes(5)


def _masks(seed):
    g = torch.Generator().manual_seed(seed)
    return torch.rand(6, 9, 8, generator=g) < 0.5, torch.rand(4, 9, 8, generator=g) < 0.3


def _match(seed):
    dets, gts = detection_set(seed, n_images=1, n_classes=1)
    d, gt = dets[0], gts[0]
    if d["boxes"].shape[0] < 2 or gt["boxes"].shape[0] < 2:
        return _match(seed + 100)
    return d["boxes"], d["scores"], gt["boxes"]


def _detect(seed):
    return detection_set(seed, n_images=4)


def _logits(seed):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(30, 6, generator=g, dtype=F64) * 3, torch.randint(0, 6, (30,), generator=g)


def _joint(args, perm):
    return tuple(a[perm] for a in args)


def _first(args, perm):
    return (args[0][perm],) + tuple(args[1:])


def _detect_permute(args, perm):
    dets, gts = args
    return [dets[i] for i in perm], [gts[i] for i in perm]


def _poison_first(args):
    x = args[0].to(F64).clone()
    x.view(-1)[0] = math.nan
    return (x,) + tuple(args[1:])


def _poison_detect(args):
    dets, gts = args
    bad = dict(dets[0], scores=dets[0]["scores"].clone())
    bad["scores"][0] = math.nan
    return [bad] + dets[1:], gts


def _poison_boxes(args):
    x = args[0].clone()
    x[0, 0] = math.nan
    return (x,) + tuple(args[1:])


def _empty_joint(args):
    return tuple(a[:0] for a in args)


@dataclass
class Spec:
    """One public metric: how to call it, inputs, and which properties hold."""

    call: Callable
    make: Callable  # seed -> tuple of positional arguments
    permute: Callable  # (args, perm) -> permuted args
    expect: Callable = lambda out, perm: out  # how the output moves under `permute`
    swap: Callable | None = None  # (args, call) -> None: asserts a symmetry
    poison: Callable = _poison_first  # args -> args holding a NaN
    nan_name: str = "preds"  # argument the NaN error must name
    empty: Callable | None = _empty_joint  # args -> empty args (must raise), None if allowed


def _swap_equal(other):
    """Metric(preds, target) == other(target, preds)."""
    def check(args, call):
        same(call(*args), other(args[1], args[0]))
    return check


def _transpose_swap(args, call):
    same(call(*args), call(args[1], args[0]).T)


def _monotone_invariant(args, call):
    # a strictly increasing map of the scores keeps every ranking metric (thresholds move)
    s, y = args
    out, moved = call(s, y), call(torch.exp(s / 2) * 3 + 1, y)
    if isinstance(out, tuple):
        out, moved = out[:2], moved[:2]
    same(out, moved)


def _auc_flip(args, call):
    s, y = args
    close(call(-s, y), 1 - call(s, y).item())
    close(call(s, 1 - y), 1 - call(s, y).item())


def _fbeta_swap(args, call):
    p, t = args
    same(M.fbeta_score(p, t, beta=2.0, average="macro", num_classes=7),
         M.fbeta_score(t, p, beta=0.5, average="macro", num_classes=7))


def _logit_shift(args, call):
    z, y = args
    same(call(z + torch.arange(30, dtype=F64)[:, None], y), call(z, y))


def _match_gt_permutation(args, call):
    boxes, scores, gt = args
    perm = torch.arange(gt.shape[0]).flip(0)
    out = call(boxes, scores, gt[perm])
    inverse = perm.argsort()
    ref = call(boxes, scores, gt)
    assert torch.equal(out, torch.where(ref >= 0, inverse[ref.clamp(min=0)], -1))


def _labels_as_float(args):
    return (args[0].to(F64).clone().index_fill_(0, torch.tensor([0]), math.nan),) + args[1:]


REGISTRY = {
    "confusion_matrix": Spec(lambda p, t: M.confusion_matrix(p, t, num_classes=7), _labels,
                             _joint, swap=_transpose_swap, poison=_labels_as_float),
    "accuracy_score": Spec(M.accuracy_score, _labels, _joint, swap=_swap_equal(M.accuracy_score),
                           poison=_labels_as_float),
    "top_k_accuracy_score": Spec(lambda s, t: M.top_k_accuracy_score(s, t, k=2), _topk, _joint,
                                 nan_name="scores"),
    "precision_score": Spec(
        lambda p, t: M.precision_score(p, t, average="macro", num_classes=7), _labels, _joint,
        swap=_swap_equal(lambda p, t: M.recall_score(p, t, average="macro", num_classes=7)),
        poison=_labels_as_float),
    "recall_score": Spec(
        lambda p, t: M.recall_score(p, t, average="weighted", num_classes=7), _labels, _joint,
        poison=_labels_as_float),
    "f1_score": Spec(
        lambda p, t: M.f1_score(p, t, average="micro"), _labels, _joint,
        swap=_swap_equal(lambda p, t: M.f1_score(p, t, average="micro")),
        poison=_labels_as_float),
    "fbeta_score": Spec(
        lambda p, t: M.fbeta_score(p, t, beta=2.0, average="macro", num_classes=7), _labels,
        _joint, swap=_fbeta_swap, poison=_labels_as_float),
    "roc_curve": Spec(M.roc_curve, _scores_target, _joint, swap=_monotone_invariant,
                      nan_name="scores"),
    "roc_auc_score": Spec(M.roc_auc_score, _scores_target, _joint, swap=_auc_flip,
                          nan_name="scores"),
    "precision_recall_curve": Spec(M.precision_recall_curve, _scores_target, _joint,
                                   swap=_monotone_invariant, nan_name="scores"),
    "average_precision_score": Spec(
        lambda s, t: M.average_precision_score(s, t, interpolation="all-point"),
        _scores_target, _joint, swap=_monotone_invariant, nan_name="scores"),
    "box_iou": Spec(M.box_iou, _boxes, _first, expect=lambda out, perm: out[perm],
                    swap=_transpose_swap, poison=_poison_boxes, nan_name="boxes1", empty=None),
    "mask_iou": Spec(M.mask_iou, _masks, _first, expect=lambda out, perm: out[perm],
                     swap=_transpose_swap, nan_name="masks1", empty=None),
    "match_detections": Spec(
        M.match_detections, _match,
        lambda args, perm: (args[0][perm], args[1][perm], args[2]),
        expect=lambda out, perm: out[perm], swap=_match_gt_permutation,
        poison=_poison_boxes, nan_name="boxes", empty=None),
    "evaluate_detections": Spec(M.evaluate_detections, _detect, _detect_permute,
                                poison=_poison_detect, nan_name="detections[0]['scores']",
                                empty=lambda args: ([], [])),
    "perplexity": Spec(M.perplexity, _logits, _joint, swap=_logit_shift, nan_name="logits"),
}


def test_registry_lists_every_public_metric():
    assert set(REGISTRY) == set(M.__all__)
    assert len(M.__all__) == len(set(M.__all__))
    assert all(callable(getattr(M, name)) for name in M.__all__)


def _args(spec, seed):
    return tuple(spec.make(seed))


def _perm_for(args, seed):
    n = len(args[0]) if isinstance(args[0], list) else args[0].shape[0]
    return torch.randperm(n, generator=torch.Generator().manual_seed(seed))


@pytest.mark.parametrize("name", REGISTRY)
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_order_invariance(name, seed):
    spec = REGISTRY[name]
    args = _args(spec, seed)
    perm = _perm_for(args, seed + 10)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        same(spec.call(*spec.permute(args, perm)), spec.expect(spec.call(*args), perm))


@pytest.mark.parametrize("name", [n for n in REGISTRY if REGISTRY[n].swap])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_symmetry(name, seed):
    spec = REGISTRY[name]
    spec.swap(_args(spec, seed), spec.call)


@pytest.mark.parametrize("name", REGISTRY)
def test_nan_raises_naming_the_argument(name):
    spec = REGISTRY[name]
    bad = spec.poison(_args(spec, 0))
    with pytest.raises(ValueError, match=re.escape(f"`{spec.nan_name}`")):
        spec.call(*bad)


@pytest.mark.parametrize("name", [n for n in REGISTRY if REGISTRY[n].empty])
def test_empty_input_raises(name):
    spec = REGISTRY[name]
    with pytest.raises(ValueError, match="must not be empty|non-empty"):
        spec.call(*spec.empty(_args(spec, 0)))


@pytest.mark.parametrize("name", REGISTRY)
def test_inputs_are_not_modified_and_outputs_are_tensors(name):
    spec = REGISTRY[name]
    args = _args(spec, 1)

    def snapshot(x):
        if isinstance(x, torch.Tensor):
            return x.clone()
        if isinstance(x, list):
            return [{k: v.clone() for k, v in d.items()} for d in x]
        return x

    before = [snapshot(a) for a in args]
    out = spec.call(*args)
    for a, b in zip(args, before, strict=True):
        if isinstance(a, list):
            for da, db in zip(a, b, strict=True):
                assert all(torch.equal(da[k], db[k]) for k in da)
        else:
            assert torch.equal(a, b)
    leaves = out.values() if isinstance(out, dict) else out if isinstance(out, tuple) else [out]
    assert all(isinstance(x, torch.Tensor) for x in leaves)


@pytest.mark.parametrize("seed", range(8))
def test_averaging_identities(seed):
    preds, target, C = label_data(seed)
    kw = {"num_classes": C}
    acc = M.accuracy_score(preds, target)
    # single-label: every error is one FP (its prediction) and one FN (its truth)
    for f in (M.precision_score, M.recall_score, M.f1_score):
        close(f(preds, target, average="micro", **kw), acc.item())
    for f in (M.precision_score, M.recall_score, M.f1_score):
        per_class = f(preds, target, average=None, **kw)
        close(f(preds, target, average="macro", **kw), per_class.mean().item())
        support = torch.bincount(target, minlength=C).double()
        close(f(preds, target, average="weighted", **kw),
              ((per_class * support).sum() / support.sum()).item())
    close(M.recall_score(preds, target, average="weighted", **kw), acc.item())
    close(M.fbeta_score(preds, target, beta=1.0, average="macro", **kw),
          M.f1_score(preds, target, average="macro", **kw).item())
    close(M.fbeta_score(preds, target, beta=0.0, average=None, **kw),
          M.precision_score(preds, target, average=None, **kw))
    cm = M.confusion_matrix(preds, target, num_classes=C)
    close(acc, cm.trace().item() / cm.sum().item())
    # F1 = Dice = 2TP / (2TP + FP + FN), per class from the confusion matrix
    tp = cm.diag().double()
    dice = 2 * tp / (cm.sum(0) + cm.sum(1)).double()
    close(M.f1_score(preds, target, average=None, **kw), torch.nan_to_num(dice, nan=0.0))


def test_macro_skips_nan_classes_like_sklearn():
    preds, target = torch.tensor([0, 0, 1]), torch.tensor([0, 1, 1])
    # class 2 is absent everywhere: NaN, left out of the macro and weighted means
    per = M.precision_score(preds, target, average=None, num_classes=3, zero_division=math.nan)
    assert torch.isnan(per[2]) and not torch.isnan(per[:2]).any()
    for average in ("macro", "weighted"):
        got = M.precision_score(preds, target, average=average, num_classes=3,
                                zero_division=math.nan)
        want = skm.precision_score(target.numpy(), preds.numpy(), labels=[0, 1, 2],
                                   average=average, zero_division=np.nan)
        close(got, want)
        assert not torch.isnan(got)
    # weighted with zero support in every non-NaN class falls back to the plain mean
    got = M.precision_score(torch.tensor([1, 1]), torch.tensor([0, 0]), average="weighted",
                            num_classes=2, zero_division=math.nan)
    want = skm.precision_score([0, 0], [1, 1], labels=[0, 1], average="weighted",
                               zero_division=np.nan)
    close(got, want)


def test_perplexity_matches_torch_cross_entropy_and_has_gradients():
    g = torch.Generator().manual_seed(0)
    z = (torch.randn(4, 9, 11, generator=g, dtype=F64) * 5).requires_grad_(True)
    y = torch.randint(0, 11, (4, 9), generator=g)
    ours = M.perplexity(z, y)
    ref = torch.exp(F.cross_entropy(z.reshape(-1, 11), y.reshape(-1)))
    torch.testing.assert_close(ours, ref, rtol=1e-12, atol=0)
    (g1,) = torch.autograd.grad(ours, z)
    (g2,) = torch.autograd.grad(ref, z)
    torch.testing.assert_close(g1, g2, rtol=1e-10, atol=1e-14)
    extreme = torch.tensor([[1e4, -1e4, 0.0], [-1e4, 1e4, 0.0]], dtype=F64)
    for y in (torch.tensor([0, 1]), torch.tensor([2, 2]), torch.tensor([1, 0])):
        # finite where torch is finite (exp(1e4) = inf is the true value in the last case)
        ref = torch.exp(F.cross_entropy(extreme, y))
        torch.testing.assert_close(M.perplexity(extreme, y), ref, rtol=1e-12, atol=0)
    close(M.perplexity(extreme, torch.tensor([0, 1])), 1.0)


# =========================================================================== bad input


def test_bad_labels_rejected():
    p, t = torch.tensor([0, 1, 2]), torch.tensor([0, 1, 1])
    with pytest.raises(TypeError, match="`preds` must be a torch.Tensor, got list"):
        M.accuracy_score([0, 1], t)
    with pytest.raises(ValueError, match=r"`preds` and `target` must have the same shape, got "
                                         r"\(3,\) and \(2,\)"):
        M.confusion_matrix(p, t[:2])
    with pytest.raises(ValueError, match="`target` must hold integer class labels"):
        M.accuracy_score(p, t.float())
    with pytest.raises(ValueError, match=r"`preds` must hold labels >= 0, got values in \[-1"):
        M.confusion_matrix(torch.tensor([-1, 0, 1]), t)
    with pytest.raises(ValueError, match=r"`preds` must hold labels in \[0, 2\), got values in "
                                         r"\[0, 2\]"):
        M.confusion_matrix(p, t, num_classes=2)
    with pytest.raises(ValueError, match="`num_classes` must be >= 1"):
        M.confusion_matrix(p, t, num_classes=0)
    with pytest.raises(ValueError, match="`preds` must be 1-dimensional"):
        M.accuracy_score(p[None], t[None])


@pytest.mark.parametrize("f", [M.precision_score, M.recall_score, M.f1_score,
                               lambda p, t, **kw: M.fbeta_score(p, t, beta=0.5, **kw)])
def test_bad_prf_arguments_rejected(f):
    p, t = torch.tensor([0, 1, 2]), torch.tensor([0, 1, 1])
    with pytest.raises(ValueError, match=r"`preds` must hold binary labels in \{0, 1\}, got "
                                         r"values in \[0, 2\]"):
        f(p, t)  # average='binary' by default
    with pytest.raises(ValueError, match="`average` must be one of"):
        f(p, t, average="samples")
    with pytest.raises(ValueError, match="`zero_division` must be 0.0, 1.0 or nan, got 'warn'"):
        f(p, t, average="macro", zero_division="warn")
    with pytest.raises(ValueError, match="`zero_division` must be"):
        f(p, t, average="macro", zero_division=0.5)
    with pytest.raises(ValueError, match="`num_classes` must be None or 2 with average='binary'"):
        f(t, t, num_classes=3)


def test_bad_beta_and_k_rejected():
    p = torch.tensor([0, 1])
    with pytest.raises(ValueError, match="`beta` must be >= 0, got -1"):
        M.fbeta_score(p, p, beta=-1.0)
    with pytest.raises(ValueError, match="`beta` must be finite"):
        M.fbeta_score(p, p, beta=math.inf)
    s = torch.rand(4, 3)
    with pytest.raises(ValueError, match="`k` must be >= 1, got 0"):
        M.top_k_accuracy_score(s, torch.tensor([0, 1, 2, 0]), k=0)
    with pytest.raises(TypeError, match="`k` must be an int"):
        M.top_k_accuracy_score(s, torch.tensor([0, 1, 2, 0]), k=1.5)
    with pytest.raises(ValueError, match="`scores` and `target` must have the same number"):
        M.top_k_accuracy_score(s, torch.tensor([0, 1]), k=1)
    with pytest.raises(ValueError, match=r"`target` must hold labels in \[0, 3\)"):
        M.top_k_accuracy_score(s, torch.tensor([0, 1, 3, 0]), k=1)
    with pytest.raises(ValueError, match="`scores` must be 2-dimensional"):
        M.top_k_accuracy_score(s[0], torch.tensor([0]), k=1)


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


def test_bad_boxes_and_masks_rejected():
    ok = torch.tensor([[0.0, 0, 1, 1]])
    with pytest.raises(ValueError, match=r"`boxes1` must have shape \(N, 4\), got \(1, 3\)"):
        M.box_iou(ok[:, :3], ok)
    with pytest.raises(ValueError, match=r"`boxes2` must hold \(x1, y1, x2, y2\) boxes with "
                                         r"x2 >= x1 and y2 >= y1, got 1 bad row\(s\), the first "
                                         r"is row 1: \[2.0, 0.0, 1.0, 1.0\]"):
        M.box_iou(ok, torch.tensor([[0.0, 0, 1, 1], [2.0, 0, 1, 1]]))
    with pytest.raises(ValueError, match="`boxes1` must be finite"):
        M.box_iou(torch.tensor([[0.0, 0, math.inf, 1]]), ok)
    with pytest.raises(TypeError, match="`boxes2` must be a torch.Tensor"):
        M.box_iou(ok, [[0, 0, 1, 1]])
    m = torch.ones(2, 3, 3)
    with pytest.raises(ValueError, match="`masks2` must hold binary masks"):
        M.mask_iou(m, m * 2)
    with pytest.raises(ValueError, match="`masks1` and `masks2` must have the same height and "
                                         "width"):
        M.mask_iou(m, torch.ones(2, 3, 4))
    with pytest.raises(ValueError, match="`masks1` must be 3-dimensional"):
        M.mask_iou(m[0], m)


def test_bad_detection_inputs_rejected():
    dets, gts = detection_set(0, n_images=2)
    with pytest.raises(ValueError, match="`scores` must have 1 entries, one per box, got 2"):
        M.match_detections(torch.tensor([[0.0, 0, 1, 1]]), torch.rand(2), gts[0]["boxes"])
    with pytest.raises(ValueError, match="`iou_threshold` must be <= 1"):
        M.match_detections(dets[0]["boxes"], dets[0]["scores"], gts[0]["boxes"],
                           iou_threshold=1.5)
    with pytest.raises(TypeError, match="`detections` must be a list with one dict per image"):
        M.evaluate_detections(dets[0], gts)
    with pytest.raises(ValueError, match="non-empty lists of equal length .* got 1 and 2"):
        M.evaluate_detections(dets[:1], gts)
    with pytest.raises(ValueError, match=r"`ground_truths\[1\]` must be a dict with keys"):
        M.evaluate_detections(dets, [gts[0], {"boxes": gts[1]["boxes"]}])
    bad = [dict(dets[0], labels=dets[0]["labels"][:-1]), dets[1]]
    with pytest.raises(ValueError, match=r"`detections\[0\]\['labels'\]` must have"):
        M.evaluate_detections(bad, gts)
    bad = [dict(dets[0], boxes=dets[0]["boxes"][:, :2]), dets[1]]
    with pytest.raises(ValueError, match=r"`detections\[0\]\['boxes'\]` must have shape"):
        M.evaluate_detections(bad, gts)
    with pytest.raises(ValueError, match="`iou_thresholds` must be <= 1"):
        M.evaluate_detections(dets, gts, iou_thresholds=[0.5, 1.5])
    with pytest.raises(ValueError, match="`iou_thresholds` must be a non-empty sequence"):
        M.evaluate_detections(dets, gts, iou_thresholds=0.5)
    with pytest.raises(ValueError, match=r"`max_dets` must be increasing, got \(10, 1\)"):
        M.evaluate_detections(dets, gts, max_dets=(10, 1))
    with pytest.raises(ValueError, match="`max_dets` must be a non-empty sequence"):
        M.evaluate_detections(dets, gts, max_dets=100)
    no_gt = [{"boxes": torch.zeros(0, 4), "labels": torch.zeros(0, dtype=torch.long)}] * 2
    with pytest.raises(ValueError, match="`ground_truths` hold no box"):
        M.evaluate_detections(dets, no_gt)


def test_bad_perplexity_inputs_rejected():
    z, y = torch.randn(4, 5), torch.tensor([0, 1, 2, 3])
    with pytest.raises(ValueError, match="`logits` must have a floating-point dtype"):
        M.perplexity(z.long(), y)
    with pytest.raises(ValueError, match=r"`target` must have shape logits.shape\[:-1\] = "
                                         r"\(4,\), got \(3,\)"):
        M.perplexity(z, y[:3])
    with pytest.raises(ValueError, match=r"`target` must hold labels in \[0, 5\)"):
        M.perplexity(z, torch.tensor([0, 1, 2, 5]))
    with pytest.raises(ValueError, match="`logits` must be at least 2-dimensional"):
        M.perplexity(z[0], y[0])


# =========================================================================== GPU


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_results_equal_cpu():
    scores, target = binary_data(0, ties=True, n=5000)
    for f in (M.roc_auc_score, M.average_precision_score, M.roc_curve,
              M.precision_recall_curve):
        out = f(scores.cuda(), target.cuda())
        leaves = out if isinstance(out, tuple) else (out,)
        assert all(x.device.type == "cuda" for x in leaves)
        same(tuple(x.cpu() for x in leaves), f(scores, target) if isinstance(out, tuple)
             else (f(scores, target),))
    preds, tgt, C = label_data(0)
    same(M.f1_score(preds.cuda(), tgt.cuda(), average="macro", num_classes=C).cpu(),
         M.f1_score(preds, tgt, average="macro", num_classes=C))
    dets, gts = detection_set(0)
    to = [{k: v.cuda() for k, v in d.items()} for d in dets]
    tg = [{k: v.cuda() for k, v in g.items()} for g in gts]
    same({k: v.cpu() for k, v in M.evaluate_detections(to, tg).items()},
         M.evaluate_detections(dets, gts))


def test_sort_keys_spanning_the_whole_float_range():
    # the key shift that speeds up the radix sort must not overflow for extreme scores
    import sklearn.metrics as skm
    s = torch.tensor([-1.7e308, 1.7e308, -0.0, 0.0, 5e-324, -5e-324, 1.0, -1.0],
                     dtype=torch.float64)
    y = torch.tensor([0, 1, 1, 0, 1, 0, 1, 0])
    assert float(M.roc_auc_score(s, y)) == skm.roc_auc_score(y.numpy(), s.numpy())
    assert float(M.average_precision_score(s, y)) == pytest.approx(
        skm.average_precision_score(y.numpy(), s.numpy()), abs=1e-15)
