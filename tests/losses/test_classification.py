"""dlcore.losses.classification against torch.nn.functional: values and autograd gradients in
float64 for every reduction and shape, torch's weighting and smoothing conventions, extreme
logits, and bad input."""

import math

import pytest
import torch
from torch.nn import functional as F

from dlcore import losses as L

REDUCTIONS = ["none", "mean", "sum"]
SHAPES = [(7, 5), (1, 3), (4, 6, 3), (3, 4, 2, 2), (5,)]  # (N, K), (N, K, d...), (K,)
F64 = torch.float64


def gen(seed):
    return torch.Generator().manual_seed(seed)


def logits_of(shape, seed=0, scale=3.0):
    return (scale * torch.randn(shape, generator=gen(seed), dtype=F64)).requires_grad_()


def indices_for(x, seed=1, ignore=None):
    K = x.shape[0 if x.ndim == 1 else 1]
    shape = () if x.ndim == 1 else x.shape[:1] + x.shape[2:]
    y = torch.randint(0, K, shape, generator=gen(seed))
    if ignore is not None and y.ndim:
        y.view(-1)[::3] = ignore
    return y


def probabilities_for(x, seed=2):
    d = 0 if x.ndim == 1 else 1
    return torch.softmax(torch.randn(x.shape, generator=gen(seed), dtype=F64), dim=d)


def assert_same(ours, ref, inputs):
    """Values and the gradients (of a random linear functional) with respect to ``inputs``."""
    torch.testing.assert_close(ours, ref, rtol=1e-10, atol=1e-12)
    if not ref.requires_grad:
        return
    v = torch.randn(ref.shape, generator=gen(9), dtype=F64)
    g_ours = torch.autograd.grad((ours * v).sum(), inputs, retain_graph=True)
    g_ref = torch.autograd.grad((ref * v).sum(), inputs)
    for a, b in zip(g_ours, g_ref, strict=True):
        torch.testing.assert_close(a, b, rtol=1e-10, atol=1e-12)


# --------------------------------------------------------------------------- cross_entropy


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("smoothing", [0.0, 0.1, 1.0])
@pytest.mark.parametrize("weighted", [False, True])
def test_cross_entropy_indices_matches_torch(shape, reduction, smoothing, weighted):
    x = logits_of(shape)
    K = shape[0 if len(shape) == 1 else 1]
    w = torch.rand(K, generator=gen(3), dtype=F64) + 0.1 if weighted else None
    y = indices_for(x, ignore=-100 if len(shape) > 1 and shape[0] > 1 else None)
    ours = L.cross_entropy(x, y, weight=w, reduction=reduction, label_smoothing=smoothing)
    ref = F.cross_entropy(x, y, weight=w, reduction=reduction, label_smoothing=smoothing)
    assert_same(ours, ref, [x])


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("smoothing", [0.0, 0.2])
@pytest.mark.parametrize("weighted", [False, True])
def test_cross_entropy_probabilities_matches_torch(shape, reduction, smoothing, weighted):
    x = logits_of(shape, seed=4)
    q = probabilities_for(x).requires_grad_()
    K = shape[0 if len(shape) == 1 else 1]
    w = torch.rand(K, generator=gen(5), dtype=F64) if weighted else None
    ours = L.cross_entropy(x, q, weight=w, reduction=reduction, label_smoothing=smoothing)
    ref = F.cross_entropy(x, q, weight=w, reduction=reduction, label_smoothing=smoothing)
    assert_same(ours, ref, [x, q])


def test_cross_entropy_other_ignore_index_and_float32():
    x = logits_of((6, 4)).detach().float().requires_grad_()
    y = torch.tensor([0, 3, 2, 3, 1, 3])
    for ii in (3, 7):
        ours = L.cross_entropy(x, y, ignore_index=ii, label_smoothing=0.1)
        ref = F.cross_entropy(x, y, ignore_index=ii, label_smoothing=0.1)
        torch.testing.assert_close(ours, ref)


def test_weighted_mean_divides_by_target_weights():
    x, y = logits_of((8, 3)).detach(), torch.tensor([0, 0, 0, 0, 0, 0, 1, 2])
    w = torch.tensor([0.1, 1.0, 5.0], dtype=F64)
    per = L.cross_entropy(x, y, weight=w, reduction="none")
    mean = L.cross_entropy(x, y, weight=w)
    torch.testing.assert_close(mean, per.sum() / w[y].sum())
    assert not math.isclose(mean.item(), per.mean().item(), rel_tol=1e-3)


def test_gradient_is_p_minus_q_and_gradcheck():
    x = logits_of((5, 4))
    q = probabilities_for(x)
    (g,) = torch.autograd.grad(L.cross_entropy(x, q, reduction="sum"), x)
    torch.testing.assert_close(g, torch.softmax(x, 1) - q)
    y = indices_for(x)
    assert torch.autograd.gradcheck(
        lambda z: L.cross_entropy(z, y, label_smoothing=0.3,
                                  weight=torch.tensor([1.0, 2, 3, 4], dtype=F64)), (x,))


def test_properties():
    x = logits_of((6, 4)).detach()
    y = indices_for(x)
    assert bool((L.cross_entropy(x, y, reduction="none") >= 0).all())
    # shift invariance of the logits
    torch.testing.assert_close(L.cross_entropy(x + 7.5, y), L.cross_entropy(x, y))
    # near-perfect prediction: the loss tends to 0
    sure = 50.0 * F.one_hot(y, 4).to(F64)
    assert L.cross_entropy(sure, y).item() < 1e-20
    # one-hot probabilities equal class indices
    onehot = F.one_hot(y, 4).to(F64)
    torch.testing.assert_close(L.cross_entropy(x, onehot, label_smoothing=0.2),
                               L.cross_entropy(x, y, label_smoothing=0.2))
    # smoothing 1: the target is uniform, the loss is -mean log p
    torch.testing.assert_close(L.cross_entropy(x, y, label_smoothing=1.0),
                               -torch.log_softmax(x, 1).mean(1).mean())


def test_extreme_logits_finite_like_torch():
    x = torch.tensor([[1e4, -1e4, 0.0], [-1e4, -1e4, 1e4], [0.0, 0.0, 0.0]], dtype=F64,
                     requires_grad=True)
    y = torch.tensor([1, 2, 0])
    for eps in (0.0, 0.1):
        ours = L.cross_entropy(x, y, label_smoothing=eps, reduction="none")
        assert bool(torch.isfinite(ours).all())
        assert_same(ours, F.cross_entropy(x, y, label_smoothing=eps, reduction="none"), [x])
    q = torch.tensor([[0.0, 1.0, 0.0]] * 3, dtype=F64)
    assert_same(L.cross_entropy(x, q), F.cross_entropy(x, q), [x])


def test_all_ignored_mean_is_nan_like_torch():
    x = logits_of((3, 4)).detach()
    y = torch.full((3,), -100)
    assert math.isnan(L.cross_entropy(x, y).item())
    assert math.isnan(F.cross_entropy(x, y).item())
    assert L.cross_entropy(x, y, reduction="sum").item() == 0.0


# --------------------------------------------------------------------------- nll_loss


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("weighted", [False, True])
def test_nll_loss_matches_torch(shape, reduction, weighted):
    x = logits_of(shape, seed=6)
    logp = torch.log_softmax(x, dim=0 if len(shape) == 1 else 1)
    K = shape[0 if len(shape) == 1 else 1]
    w = torch.rand(K, generator=gen(7), dtype=F64) if weighted else None
    y = indices_for(x, ignore=-100 if len(shape) > 1 and shape[0] > 1 else None)
    ours = L.nll_loss(logp, y, weight=w, reduction=reduction)
    assert_same(ours, F.nll_loss(logp, y, weight=w, reduction=reduction), [x])
    torch.testing.assert_close(
        L.nll_loss(logp, y, weight=w, reduction=reduction),
        L.cross_entropy(x, y, weight=w, reduction=reduction))


# --------------------------------------------------------------------------- binary losses

BINARY_SHAPES = [(9,), (4, 3), (2, 3, 4)]


@pytest.mark.parametrize("shape", BINARY_SHAPES)
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("weighted", [False, True])
def test_binary_cross_entropy_matches_torch(shape, reduction, weighted):
    p = torch.rand(shape, generator=gen(10), dtype=F64).requires_grad_()
    y = torch.rand(shape, generator=gen(11), dtype=F64).requires_grad_()
    w = torch.rand(shape[-1:], generator=gen(12), dtype=F64) if weighted else None
    ours = L.binary_cross_entropy(p, y, weight=w, reduction=reduction)
    assert_same(ours, F.binary_cross_entropy(p, y, weight=w, reduction=reduction), [p, y])


def test_binary_cross_entropy_clamp_and_gradient_at_the_ends():
    p = torch.tensor([0.0, 1.0, 1e-14, 1 - 1e-13, 0.5, 1e-50], dtype=F64, requires_grad=True)
    y = torch.tensor([1.0, 0.0, 0.0, 1.0, 1.0, 1.0], dtype=F64)
    ours = L.binary_cross_entropy(p, y, reduction="none")
    ref = F.binary_cross_entropy(p, y, reduction="none")
    assert ours[0].item() == ours[1].item() == 100.0
    assert_same(ours, ref, [p])


@pytest.mark.parametrize("shape", BINARY_SHAPES)
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("weights", [(False, False), (True, False), (False, True),
                                     (True, True)])
def test_bce_with_logits_matches_torch(shape, reduction, weights):
    x = logits_of(shape, seed=13, scale=5.0)
    y = torch.rand(shape, generator=gen(14), dtype=F64).requires_grad_()
    w = torch.rand(shape, generator=gen(15), dtype=F64) if weights[0] else None
    pw = 3 * torch.rand(shape[-1:], generator=gen(16), dtype=F64) if weights[1] else None
    ours = L.binary_cross_entropy_with_logits(x, y, weight=w, reduction=reduction,
                                              pos_weight=pw)
    ref = F.binary_cross_entropy_with_logits(x, y, weight=w, reduction=reduction,
                                             pos_weight=pw)
    assert_same(ours, ref, [x, y])


def test_bce_with_logits_extremes_and_identity():
    x = torch.tensor([-1e4, -800.0, -30.0, 0.0, 30.0, 800.0, 1e4], dtype=F64,
                     requires_grad=True)
    for target in (0.0, 1.0, 0.3):
        y = torch.full_like(x, target)
        ours = L.binary_cross_entropy_with_logits(x, y, reduction="none",
                                                  pos_weight=torch.tensor([2.0], dtype=F64))
        assert bool(torch.isfinite(ours).all())
        ref = F.binary_cross_entropy_with_logits(x, y, reduction="none",
                                                 pos_weight=torch.tensor([2.0], dtype=F64))
        assert_same(ours, ref, [x])
    # with moderate logits it equals BCE of the sigmoid; the gradient is σ(x) - y
    z = logits_of((20,), seed=17)
    y = torch.rand(20, generator=gen(18), dtype=F64)
    torch.testing.assert_close(L.binary_cross_entropy_with_logits(z, y),
                               L.binary_cross_entropy(torch.sigmoid(z), y))
    (g,) = torch.autograd.grad(L.binary_cross_entropy_with_logits(z, y, reduction="sum"), z)
    torch.testing.assert_close(g, torch.sigmoid(z) - y)


# --------------------------------------------------------------------------- bad input


def test_bad_input_cross_entropy():
    x = torch.zeros(3, 4, dtype=F64)
    y = torch.tensor([0, 1, 2])
    with pytest.raises(ValueError, match="`target`.*labels in \\[0, 4\\).*\\[0, 4\\]"):
        L.cross_entropy(x, torch.tensor([0, 4, 1]))
    with pytest.raises(ValueError, match="`target`.*labels"):
        L.cross_entropy(x, torch.tensor([0, -1, 1]))
    with pytest.raises(ValueError, match="`target` of class indices must have shape \\(3,\\)"):
        L.cross_entropy(x, torch.tensor([0, 1]))
    with pytest.raises(ValueError, match="`reduction` must be one of"):
        L.cross_entropy(x, y, reduction="batchmean")
    with pytest.raises(ValueError, match="`label_smoothing` must be <= 1"):
        L.cross_entropy(x, y, label_smoothing=1.5)
    with pytest.raises(ValueError, match="`weight` must have shape \\(4,\\)"):
        L.cross_entropy(x, y, weight=torch.ones(3, dtype=F64))
    with pytest.raises(ValueError, match="`weight` must be >= 0"):
        L.cross_entropy(x, y, weight=torch.tensor([1.0, -1, 1, 1], dtype=F64))
    with pytest.raises(ValueError, match="`target` probabilities must sum to 1"):
        L.cross_entropy(x, torch.full((3, 4), 0.3, dtype=F64))
    with pytest.raises(ValueError, match="`target` probabilities must be >= 0"):
        L.cross_entropy(x, torch.tensor([[1.5, -0.5, 0, 0]] * 3, dtype=F64))
    with pytest.raises(ValueError, match="same shape"):
        L.cross_entropy(x, torch.full((3, 5), 0.2, dtype=F64))
    with pytest.raises(ValueError, match="`logits` must not contain NaN"):
        L.cross_entropy(torch.tensor([[0.0, math.nan]]), torch.tensor([0]))
    with pytest.raises(ValueError, match="`logits` must have a floating-point dtype"):
        L.cross_entropy(torch.zeros(2, 3, dtype=torch.long), torch.tensor([0, 1]))
    with pytest.raises(TypeError, match="`ignore_index` must be an int"):
        L.cross_entropy(x, y, ignore_index=0.5)
    with pytest.raises(TypeError, match="`target` must be a torch.Tensor"):
        L.cross_entropy(x, [0, 1, 2])


def test_bad_input_nll_loss():
    x = torch.log_softmax(torch.zeros(3, 4, dtype=F64), 1)
    with pytest.raises(ValueError, match="`target` must hold integer class indices"):
        L.nll_loss(x, torch.full((3, 4), 0.25, dtype=F64))
    with pytest.raises(ValueError, match="`target`.*labels in \\[0, 4\\)"):
        L.nll_loss(x, torch.tensor([0, 9, 1]))
    with pytest.raises(ValueError, match="`reduction`"):
        L.nll_loss(x, torch.tensor([0, 1, 1]), reduction="avg")


def test_bad_input_binary():
    p, y = torch.full((4,), 0.5, dtype=F64), torch.ones(4, dtype=F64)
    with pytest.raises(ValueError, match="`input` must hold probabilities in \\[0, 1\\]"):
        L.binary_cross_entropy(torch.tensor([0.5, 1.2, 0, 0], dtype=F64), y)
    with pytest.raises(ValueError, match="`target` must hold probabilities in \\[0, 1\\]"):
        L.binary_cross_entropy(p, torch.tensor([2.0, 0, 0, 0], dtype=F64))
    with pytest.raises(ValueError, match="`target` must have a floating-point dtype"):
        L.binary_cross_entropy(p, torch.ones(4, dtype=torch.long))
    with pytest.raises(ValueError, match="same shape"):
        L.binary_cross_entropy(p, torch.ones(3, dtype=F64))
    with pytest.raises(ValueError, match="`weight` must broadcast to the input's shape"):
        L.binary_cross_entropy(p, y, weight=torch.ones(3, dtype=F64))
    with pytest.raises(ValueError, match="`weight` must broadcast to the input's shape"):
        L.binary_cross_entropy(p, y, weight=torch.ones(2, 4, dtype=F64))
    with pytest.raises(ValueError, match="`pos_weight` must be >= 0"):
        L.binary_cross_entropy_with_logits(p, y, pos_weight=torch.tensor([-1.0], dtype=F64))
    with pytest.raises(ValueError, match="`pos_weight` must be finite"):
        L.binary_cross_entropy_with_logits(p, y, pos_weight=torch.tensor([math.inf]))
    with pytest.raises(ValueError, match="`reduction`"):
        L.binary_cross_entropy_with_logits(p, y, reduction="batchmean")
    with pytest.raises(ValueError, match="`target` must not contain NaN"):
        L.binary_cross_entropy_with_logits(p, torch.tensor([math.nan, 0, 0, 0], dtype=F64))
