"""dlcore.metrics.classification against sklearn.metrics (seeded, imbalanced, all averages and
zero_division values), top-k ties, hand-worked counts, averaging identities and bad input."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
import torch
from metrics_helpers import F64, close, label_data
from sklearn import metrics as skm
from sklearn.exceptions import UndefinedMetricWarning

from dlcore import metrics as M

# =========================================================================== against sklearn


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


# =========================================================================== averages


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


# =========================================================================== MCC and kappa


@pytest.mark.parametrize("seed", range(20))
def test_mcc_and_kappa_match_sklearn(seed):
    preds, target, C = label_data(seed, binary=seed % 3 == 0)
    p, t = preds.numpy(), target.numpy()
    close(M.matthews_corrcoef(preds, target, num_classes=C), skm.matthews_corrcoef(t, p))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # sklearn warns about single-label inputs
        for w in (None, "linear", "quadratic"):
            ours = M.cohen_kappa_score(preds, target, weights=w, num_classes=C)
            ref = skm.cohen_kappa_score(t, p, weights=w, labels=range(C))
            close(ours, ref)


def test_mcc_and_kappa_edge_cases():
    y = torch.tensor([0, 1, 1, 0, 1])
    const = torch.ones(5, dtype=torch.long)
    # a constant prediction: MCC's denominator is 0, sklearn's convention gives 0
    assert M.matthews_corrcoef(const, y) == 0 == skm.matthews_corrcoef(y.numpy(), const.numpy())
    assert M.cohen_kappa_score(const, y) == 0
    close(M.matthews_corrcoef(y, y), 1.0)
    close(M.matthews_corrcoef(1 - y, y), -1.0)
    close(M.cohen_kappa_score(y, y, weights="linear"), 1.0)
    with pytest.warns(UserWarning, match="kappa is 0/0"):
        k = M.cohen_kappa_score(const, const)
    assert torch.isnan(k)
    # bool labels and num_classes beyond the labels seen
    close(M.matthews_corrcoef(y.bool(), y.bool(), num_classes=4), 1.0)
    # on the rare-positive example accuracy is high, MCC and kappa are 0
    target = torch.zeros(100, dtype=torch.long)
    target[:3] = 1
    assert M.accuracy_score(torch.zeros(100, dtype=torch.long), target) == 0.97
    assert M.matthews_corrcoef(torch.zeros(100, dtype=torch.long), target) == 0


def test_bad_mcc_kappa_arguments_rejected():
    y = torch.tensor([0, 1, 1])
    with pytest.raises(ValueError, match="`weights` must be one of"):
        M.cohen_kappa_score(y, y, weights="cubic")
    with pytest.raises(ValueError, match="`preds` and `target` must have the same shape"):
        M.matthews_corrcoef(y, y[:2])
    with pytest.raises(ValueError, match=r"`target` must hold labels in \[0, 2\)"):
        M.cohen_kappa_score(y, y + 1, num_classes=2)
