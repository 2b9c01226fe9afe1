"""What the test files of tests/metrics share: float64 comparisons (NaN == NaN) and seeded data
(binary scores, labels, detection sets). The asserts are rewritten by pytest
(``tests/conftest.py`` registers this module)."""

from __future__ import annotations

import numpy as np
import torch

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
