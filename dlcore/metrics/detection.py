r"""Object-detection metrics: :func:`box_iou`, :func:`mask_iou`, COCO's greedy matching
:func:`match_detections` and the COCO evaluation :func:`evaluate_detections` (AP@0.5, mAP@[.5:.95],
average recall) (chapter Metrics, section "Object detection: IoU, AP and mAP")."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import torch

from dlcore import _checks
from dlcore.metrics._common import (
    _precision_envelope,
    _real_dtype,
    _recall_levels,
    _sampled_precision,
)

#: pycocotools' ``np.linspace(0.5, 0.95, 10)``, bit for bit (its 9th value is
#: 0.8999999999999999, not 0.9): IoU thresholds of COCO's mAP@[.5:.95].
COCO_IOU_THRESHOLDS = tuple(0.5 + i * ((0.95 - 0.5) / 9) for i in range(9)) + (0.95,)


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
            (``COCO_IOU_THRESHOLDS``).
        max_dets: increasing detections-per-image limits :math:`m` for AR; AP uses the last.

    Returns:
        A dict of tensors with ``"map"`` (mAP over ``iou_thresholds``), ``"map_50"`` and
        ``"map_75"``
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
