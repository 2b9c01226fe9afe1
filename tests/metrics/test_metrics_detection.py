"""dlcore.metrics.detection against pycocotools (IoU of boxes and masks, COCOeval on random
detection sets with ties, truncation and custom thresholds), hand-worked matching, edge cases and
bad input."""

from __future__ import annotations

import contextlib
import io
import math

import numpy as np
import pytest
import torch
from metrics_helpers import F64, close, detection_set
from pycocotools import mask as mask_utils
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval, Params

from dlcore import metrics as M

# =========================================================================== hand-worked


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


# =========================================================================== bad input


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
