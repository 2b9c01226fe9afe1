r"""Evaluation metrics: classification counts, ranking curves, calibration, detection and
perplexity.

Tensors in, tensors out: every function takes :class:`torch.Tensor` arguments on any device
(CPU, CUDA) and returns tensors on that device. Each follows the same four steps: *validate*
(through ``dlcore._checks``), *format*, reduce to *counts*, *compute* the formula from the
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

One module per section of the Metrics chapter: :mod:`~dlcore.metrics.classification`,
:mod:`~dlcore.metrics.ranking`, ``dlcore.metrics.calibration``,
:mod:`~dlcore.metrics.detection` and
:mod:`~dlcore.metrics.language` (perplexity); :mod:`~dlcore.metrics._common` holds what several
of them use. Every public name is importable from ``dlcore.metrics`` itself.
"""

from __future__ import annotations

# importable here too, outside __all__: COCO_IOU_THRESHOLDS (the default of evaluate_detections)
# and _recall_levels (the recall levels of interpolated AP, which the tests compare with
# pycocotools'); the `as` marks them as re-exported
from dlcore.metrics._common import _recall_levels as _recall_levels
from dlcore.metrics.calibration import (
    brier_score,
    calibration_curve,
    expected_calibration_error,
    fit_temperature,
)
from dlcore.metrics.classification import (
    accuracy_score,
    cohen_kappa_score,
    confusion_matrix,
    f1_score,
    fbeta_score,
    matthews_corrcoef,
    precision_score,
    recall_score,
    top_k_accuracy_score,
)
from dlcore.metrics.detection import COCO_IOU_THRESHOLDS as COCO_IOU_THRESHOLDS
from dlcore.metrics.detection import (
    box_iou,
    evaluate_detections,
    mask_iou,
    match_detections,
)
from dlcore.metrics.language import perplexity
from dlcore.metrics.ranking import (
    average_precision_score,
    precision_recall_curve,
    roc_auc_score,
    roc_curve,
)

__all__ = [
    "confusion_matrix", "accuracy_score", "top_k_accuracy_score",
    "precision_score", "recall_score", "f1_score", "fbeta_score",
    "matthews_corrcoef", "cohen_kappa_score",
    "brier_score", "calibration_curve", "expected_calibration_error", "fit_temperature",
    "roc_curve", "roc_auc_score", "precision_recall_curve", "average_precision_score",
    "box_iou", "mask_iou", "match_detections", "evaluate_detections",
    "perplexity",
]

