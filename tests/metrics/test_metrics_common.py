"""What all of dlcore.metrics shares: a registry of every public metric × the properties it must
have (order invariance, symmetries, NaN and empty input rejected naming the argument, inputs not
modified, tensors out), the undefined cases that follow sklearn, CUDA = CPU, and a hand-worked
test that spans two modules (IoU and perplexity)."""

from __future__ import annotations

import math
import re
import warnings
from collections.abc import Callable
from dataclasses import dataclass

import pytest
import torch
from metrics_helpers import F64, binary_data, close, detection_set, label_data, same
from sklearn import metrics as skm
from sklearn.exceptions import UndefinedMetricWarning

from dlcore import metrics as M

# =========================================================================== hand-worked


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


def _probs(seed):
    g = torch.Generator().manual_seed(seed)
    p = torch.rand(60, generator=g, dtype=F64)
    return p, (torch.rand(60, generator=g, dtype=F64) < p).long()


def _brier_two_columns(args, call):
    p, y = args
    close(call(torch.stack([1 - p, p], 1), y), 2 * call(p, y).item())


def _ece_complement(args, call):
    # equal-width bins of 1 - p are the mirrored bins of p; the gaps keep their size
    p, y = args
    close(call(1 - p, 1 - y), call(p, y).item())


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
    "matthews_corrcoef": Spec(
        lambda p, t: M.matthews_corrcoef(p, t, num_classes=7), _labels, _joint,
        swap=_swap_equal(lambda p, t: M.matthews_corrcoef(p, t, num_classes=7)),
        poison=_labels_as_float),
    "cohen_kappa_score": Spec(
        lambda p, t: M.cohen_kappa_score(p, t, weights="quadratic", num_classes=7), _labels,
        _joint, swap=_swap_equal(
            lambda p, t: M.cohen_kappa_score(p, t, weights="quadratic", num_classes=7)),
        poison=_labels_as_float),
    "brier_score": Spec(M.brier_score, _probs, _joint, swap=_brier_two_columns,
                        nan_name="probs"),
    "calibration_curve": Spec(lambda p, t: M.calibration_curve(p, t, strategy="quantile"),
                              _probs, _joint, nan_name="probs"),
    "expected_calibration_error": Spec(
        lambda p, t: M.expected_calibration_error(p, t, n_bins=4), _probs, _joint,
        swap=_ece_complement, nan_name="probs"),
    "fit_temperature": Spec(M.fit_temperature, _logits, _joint, swap=_logit_shift,
                            nan_name="logits"),
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
