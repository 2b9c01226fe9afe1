"""dlcore.metrics.calibration: Brier score, calibration curve and ECE against scikit-learn;
temperature scaling against SciPy's scalar minimiser; the Murphy decomposition; bad input."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.optimize
import torch
import torch.nn.functional as F
from metrics_helpers import F64, close
from sklearn import calibration as skc
from sklearn import metrics as skm

from dlcore import metrics as M


def _binary(seed, n=None, dtype=F64):
    g = torch.Generator().manual_seed(seed)
    n = n or int(torch.randint(5, 400, (1,), generator=g))
    p = torch.rand(n, generator=g, dtype=F64) ** 2
    y = (torch.rand(n, generator=g, dtype=F64) < p ** 0.7).long()
    return p.to(dtype), y


def _multiclass(seed, n=120, C=4):
    g = torch.Generator().manual_seed(seed)
    z = 3 * torch.randn(n, C, generator=g, dtype=F64)
    y = torch.multinomial(torch.softmax(z / 2, 1), 1, generator=g)[:, 0]
    return z, y


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("dtype", [torch.float32, F64])
@pytest.mark.filterwarnings("ignore:The y_prob values do not sum to one")  # float32 rows
def test_brier_matches_sklearn(seed, dtype):
    p, y = _binary(seed, dtype=dtype)
    close(M.brier_score(p, y), skm.brier_score_loss(y.numpy(), p.to(F64).numpy()))
    z, t = _multiclass(seed, C=2 + seed % 4)
    probs = torch.softmax(z, 1).to(dtype)
    close(M.brier_score(probs, t),
          skm.brier_score_loss(t.numpy(), probs.to(F64).numpy(), scale_by_half=False,
                               labels=range(probs.shape[1])))
    # two columns: twice the binary score of the second column
    two = torch.stack([1 - p, p], 1)
    close(M.brier_score(two, y), 2 * M.brier_score(p, y).item(), rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("seed", range(8))
@pytest.mark.parametrize("strategy", ["uniform", "quantile"])
@pytest.mark.parametrize("n_bins", [1, 3, 10])
def test_calibration_curve_matches_sklearn(seed, strategy, n_bins):
    p, y = _binary(seed)
    if seed == 7:  # many ties and probabilities on bin edges, 0 and 1 included
        p = torch.round(p * 5) / 5
    y[0], y[1] = 0, 1
    true, pred, count = M.calibration_curve(p, y, n_bins=n_bins, strategy=strategy,
                                            return_counts=True)
    ref_true, ref_pred = skc.calibration_curve(y.numpy(), p.numpy(), n_bins=n_bins,
                                               strategy=strategy)
    close(true, ref_true)
    close(pred, ref_pred)
    assert count.sum() == len(y) and (count > 0).all()
    # ECE from the curve's points, weighted by the counts
    close(M.expected_calibration_error(p, y, n_bins=n_bins, strategy=strategy),
          float((count / len(y) * (true - pred).abs()).sum()))


def test_curve_without_counts_and_float32():
    p, y = _binary(3, n=200, dtype=torch.float32)
    out = M.calibration_curve(p, y, n_bins=4)
    assert len(out) == 2 and out[0].dtype == F64
    ref = skc.calibration_curve(y.numpy(), p.to(F64).numpy(), n_bins=4)
    close(out[1], ref[1], rtol=1e-6, atol=1e-7)


def _ece_numpy(conf, correct, n_bins):
    edges = np.linspace(0, 1, n_bins + 1)
    ids = np.searchsorted(edges[1:-1], conf, side="left")
    total = 0.0
    for b in range(n_bins):
        m = ids == b
        if m.any():
            total += m.mean() * abs(correct[m].mean() - conf[m].mean())
    return total


@pytest.mark.parametrize("seed", range(4))
def test_multiclass_ece_is_the_top_label_ece(seed):
    z, y = _multiclass(seed)
    probs = torch.softmax(z, 1)
    conf, top = probs.max(1)
    ref = _ece_numpy(conf.numpy(), (top == y).double().numpy(), 15)
    close(M.expected_calibration_error(probs, y), ref)
    true, pred = M.calibration_curve(probs, y, n_bins=15)
    assert ((pred > 0) & (pred <= 1)).all()


def test_ece_of_a_perfect_and_an_overconfident_forecast():
    y = torch.tensor([0, 1] * 50)
    assert M.expected_calibration_error(torch.full((100,), 0.5, dtype=F64), y) == 0
    close(M.expected_calibration_error(y.double(), y), 0.0)
    close(M.expected_calibration_error(1 - y.double(), y), 1.0)


def test_murphy_decomposition_on_binned_probabilities():
    p, y = _binary(11, n=500)
    true, pred, count = M.calibration_curve(p, y, n_bins=10, return_counts=True)
    w, obar = count / count.sum(), y.double().mean()
    reliability = (w * (pred - true) ** 2).sum()
    resolution = (w * (true - obar) ** 2).sum()
    uncertainty = obar * (1 - obar)
    # replace each probability by its bin's mean: then BS = REL − RES + UNC exactly
    edges = torch.linspace(0, 1, 11, dtype=F64)
    ids = torch.searchsorted(edges[1:-1].contiguous(), p)
    bin_mean = {int(b): pred[i] for i, b in enumerate(ids.unique())}
    binned = torch.stack([bin_mean[int(b)] for b in ids])
    close(M.brier_score(binned, y), (reliability - resolution + uncertainty).item())


@pytest.mark.parametrize("seed", range(5))
def test_fit_temperature_matches_scipy(seed):
    z, y = _multiclass(seed, n=200, C=3 + seed)
    t = M.fit_temperature(z, y)
    ref = scipy.optimize.minimize_scalar(lambda T: F.cross_entropy(z / T, y).item(),
                                         bounds=(0.01, 100), method="bounded",
                                         options={"xatol": 1e-12})
    assert t.dtype == F64 and t.ndim == 0
    close(t, ref.x, rtol=1e-6, atol=0)
    assert F.cross_entropy(z / t, y) <= ref.fun + 1e-12
    # binary log-odds = the two-logit softmax (0, z)
    s = z[:, 0] - z[:, 1]
    yb = (y == 0).long()
    close(M.fit_temperature(s, yb), M.fit_temperature(torch.stack([torch.zeros_like(s), s], 1),
                                                        yb))


def test_fit_temperature_float32_and_overconfident_logits():
    z, y = _multiclass(2, n=300)
    hot = (10 * z).float()                      # ten times too confident
    t = M.fit_temperature(hot, y)
    close(t, 10 * M.fit_temperature(z, y).item(), rtol=1e-5, atol=0)


def test_fit_temperature_clips_at_the_bounds():
    # perfectly separated: NLL keeps falling as T -> 0
    z = torch.tensor([[2.0, -2.0], [-1.0, 1.0], [3.0, 0.0]])
    assert M.fit_temperature(z, torch.tensor([0, 1, 0]), bounds=(0.5, 4.0)) == 0.5
    # always wrong: the uniform prediction (T -> inf) is best
    assert M.fit_temperature(z, torch.tensor([1, 0, 1]), bounds=(0.5, 4.0)) == 4.0


def test_bad_input_rejected():
    p, y = _binary(0, n=20)
    with pytest.raises(ValueError, match=r"`probs` must hold probabilities in \[0, 1\]"):
        M.brier_score(p + 1, y)
    with pytest.raises(ValueError, match="rows of `probs` must sum to 1"):
        M.brier_score(torch.full((3, 2), 0.3, dtype=F64), torch.tensor([0, 1, 1]))
    with pytest.raises(ValueError, match="`probs` must have a floating-point dtype"):
        M.brier_score(y, y)
    with pytest.raises(ValueError, match="`target` must hold binary labels"):
        M.brier_score(p, y + 1)
    with pytest.raises(ValueError, match=r"`target` must hold labels in \[0, 2\)"):
        M.brier_score(torch.stack([1 - p, p], 1), y * 2)
    with pytest.raises(ValueError, match="same number of samples"):
        M.brier_score(p, y[:-1])
    with pytest.raises(ValueError, match="`n_bins` must be >= 1"):
        M.calibration_curve(p, y, n_bins=0)
    with pytest.raises(ValueError, match="`strategy` must be one of"):
        M.expected_calibration_error(p, y, strategy="equal")
    with pytest.raises(TypeError, match="`return_counts` must be a bool"):
        M.calibration_curve(p, y, return_counts=1)
    z = torch.randn(4, 3)
    t = torch.tensor([0, 1, 2, 1])
    with pytest.raises(ValueError, match="`bounds` must be a pair"):
        M.fit_temperature(z, t, bounds=(1.0,))
    with pytest.raises(ValueError, match=r"`bounds\[0\]` must be > 0"):
        M.fit_temperature(z, t, bounds=(0.0, 1.0))
    with pytest.raises(ValueError, match=r"`bounds\[1\]` must be >"):
        M.fit_temperature(z, t, bounds=(2.0, 1.0))
    with pytest.raises(ValueError, match="`target` must hold binary labels"):
        M.fit_temperature(torch.randn(4), t)
    with pytest.raises(ValueError, match=r"`target` must hold labels in \[0, 3\)"):
        M.fit_temperature(z, t + 1)
    with pytest.raises(ValueError, match="same number of samples"):
        M.fit_temperature(z, t[:3])
    with pytest.raises(ValueError, match="`logits` must be finite"):
        M.fit_temperature(torch.tensor([[0.0, float("inf")]]), torch.tensor([0]))
