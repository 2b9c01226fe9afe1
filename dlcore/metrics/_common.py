"""What several modules of :mod:`dlcore.metrics` share: the floating dtype of rates and scores,
and the interpolated precision of average precision (used by
:func:`~dlcore.metrics.average_precision_score` and by COCO's AP in
:func:`~dlcore.metrics.evaluate_detections`)."""

from __future__ import annotations

import torch


def _real_dtype(device: torch.device) -> torch.dtype:
    # float64 makes count ratios exact to rounding; MPS has no float64
    return torch.float32 if device.type == "mps" else torch.float64


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
