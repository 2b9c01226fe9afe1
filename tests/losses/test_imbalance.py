"""dlcore.losses.imbalance against torch, a torchvision transcription, sklearn, closed forms."""

from decimal import Decimal, getcontext

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from sklearn.metrics import f1_score

from dlcore import losses as L

D = torch.float64
REDUCTIONS = ("none", "mean", "sum")


def _gen(seed=0):
    return torch.Generator().manual_seed(seed)


def _grad(fn, *tensors):
    """Value and gradients of fn(*tensors).sum() w.r.t. every floating tensor."""
    leaves = [t.detach().clone().requires_grad_(t.is_floating_point()) for t in tensors]
    out = fn(*leaves)
    out.sum().backward()
    return out.detach(), [t.grad for t in leaves if t.is_floating_point()]


def _assert_same(fn_a, fn_b, *tensors, rtol=1e-10, atol=1e-12):
    va, ga = _grad(fn_a, *tensors)
    vb, gb = _grad(fn_b, *tensors)
    torch.testing.assert_close(va, vb, rtol=rtol, atol=atol)
    for a, b in zip(ga, gb, strict=True):
        torch.testing.assert_close(a, b, rtol=rtol, atol=atol)


# ---- effective number and class-balanced weights -------------------------------------------

def _cui_reference(counts, beta):
    """The authors' code (class-balanced-loss, cb_loss in class_balanced_loss.py)."""
    effective_num = 1.0 - np.power(beta, counts)
    weights = (1.0 - beta) / np.array(effective_num)
    return weights / np.sum(weights) * len(counts)


@pytest.mark.parametrize("beta", [0.0, 0.5, 0.9, 0.99, 0.999])
@pytest.mark.parametrize("counts", [[124, 40, 13, 4, 2], [1, 1, 1], [500, 1], [7]])
def test_class_balanced_weights_equal_authors_code(counts, beta):
    w = L.class_balanced_weights(torch.tensor(counts), beta=beta)
    expected = (np.ones(len(counts)) if beta == 0
                else _cui_reference(np.array(counts, dtype=np.float64), beta))
    np.testing.assert_allclose(w.numpy(), expected, rtol=1e-6)
    assert w.dtype == torch.get_default_dtype()
    assert float(w.sum()) == pytest.approx(len(counts))


def test_class_balanced_limits_and_dtype():
    counts = torch.tensor([124.0, 40.0, 2.0], dtype=D)
    inv = (1 / counts) * 3 / (1 / counts).sum()
    # n_c << 1/(1 - β): CB is inverse frequency to rtol 1e-5; β = 0: all ones
    torch.testing.assert_close(L.class_balanced_weights(counts, beta=1 - 1e-7), inv,
                               rtol=1e-5, atol=0)
    assert L.class_balanced_weights(counts, beta=0.999).dtype == D
    assert not torch.allclose(L.class_balanced_weights(counts, beta=0.9), inv, rtol=1e-2)
    torch.testing.assert_close(L.effective_number(counts, beta=0.0), torch.ones(3, dtype=D))


def test_effective_number_is_accurate_near_one():
    getcontext().prec = 50
    beta, n = 0.99999, 3
    exact = (1 - Decimal(beta) ** n) / (1 - Decimal(beta))
    e = L.effective_number(torch.tensor([n], dtype=D), beta=beta)
    assert abs(float(e) - float(exact)) < 1e-12 * float(exact)
    # geometric series: E_n = Σ_{k<n} β^k
    counts = torch.arange(1, 30, dtype=D)
    series = torch.tensor([sum(0.7 ** k for k in range(int(m))) for m in counts], dtype=D)
    torch.testing.assert_close(L.effective_number(counts, beta=0.7), series)


@pytest.mark.parametrize("bad, match", [
    (torch.tensor([3, 0, 1]), "positive class counts"),
    (torch.tensor([3, -1]), "positive class counts"),
    (torch.tensor([[3, 1]]), "1-dimensional"),
    (torch.tensor([3.0, float("nan")]), "finite"),
    (torch.tensor([], dtype=torch.long), "empty"),
])
def test_counts_rejected(bad, match):
    with pytest.raises(ValueError, match=match):
        L.class_balanced_weights(bad, beta=0.9)
    with pytest.raises(ValueError, match=match):
        L.resampling_probabilities(bad, q=0.5)


def test_beta_rejected():
    for beta in (1.0, -0.1, 1.5):
        with pytest.raises(ValueError, match="beta"):
            L.class_balanced_weights(torch.tensor([3, 1]), beta=beta)
    with pytest.raises(TypeError, match="counts"):
        L.effective_number([3, 1], beta=0.5)


# ---- resampling ----------------------------------------------------------------------------

@pytest.mark.parametrize("q", [0.0, 0.5, 1.0, 2.0, -0.5])
def test_resampling_probabilities(q):
    counts = torch.tensor([124, 40, 13, 4, 2])
    p = L.resampling_probabilities(counts, q=q)
    y = torch.repeat_interleave(torch.arange(5), counts)
    assert float(p[y].sum()) == pytest.approx(1.0)               # a distribution on samples
    cls = (counts * p).double()
    expected = counts.double() ** q / (counts.double() ** q).sum()
    torch.testing.assert_close(cls, expected, rtol=1e-6, atol=0)
    if q == 1.0:                                                  # instance-balanced
        torch.testing.assert_close(p, torch.full((5,), 1 / counts.sum().item()))
    if q == 0.0:                                                  # class-balanced
        torch.testing.assert_close(cls, torch.full((5,), 0.2, dtype=D))


def test_resampling_huge_counts_and_sampler():
    p = L.resampling_probabilities(torch.tensor([1e300, 1e200], dtype=D), q=2.0)
    assert torch.isfinite(p).all() and float(p[0] * 1e300) == pytest.approx(1.0)
    counts = torch.tensor([900, 100])
    y = torch.repeat_interleave(torch.arange(2), counts)
    draws = torch.multinomial(L.resampling_probabilities(counts, q=0.0)[y], 20000,
                              replacement=True, generator=_gen())
    assert abs(float((y[draws] == 1).float().mean()) - 0.5) < 0.02
    with pytest.raises(ValueError, match="`q` must be finite"):
        L.resampling_probabilities(counts, q=float("inf"))


# ---- sigmoid focal loss --------------------------------------------------------------------

def _torchvision_sigmoid_focal(inputs, targets, alpha=0.25, gamma=2.0, reduction="none"):
    """A transcription of torchvision.ops.sigmoid_focal_loss (v0.28)."""
    p = torch.sigmoid(inputs)
    ce_loss = F.binary_cross_entropy_with_logits(inputs, targets, reduction="none")
    p_t = p * targets + (1 - p) * (1 - targets)
    loss = ce_loss * ((1 - p_t) ** gamma)
    if alpha >= 0:
        alpha_t = alpha * targets + (1 - alpha) * (1 - targets)
        loss = alpha_t * loss
    if reduction == "mean":
        loss = loss.mean()
    elif reduction == "sum":
        loss = loss.sum()
    return loss


@pytest.mark.parametrize("shape", [(7,), (4, 5), (2, 3, 6)])
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("alpha, gamma", [(0.25, 2.0), (-1, 0.0), (0.6, 1.0), (0.0, 3.5)])
def test_sigmoid_focal_equals_torchvision(shape, reduction, alpha, gamma):
    g = _gen(len(shape))
    x = torch.randn(shape, generator=g, dtype=D) * 3
    t = (torch.rand(shape, generator=g, dtype=D) < 0.3).to(D)
    kw = dict(alpha=alpha, gamma=gamma, reduction=reduction)
    _assert_same(lambda a, b: L.sigmoid_focal_loss(a, b, **kw),
                 lambda a, b: _torchvision_sigmoid_focal(a, b, **kw), x, t)


def test_sigmoid_focal_soft_targets_and_bce_identity():
    g = _gen(3)
    x = torch.randn(50, generator=g, dtype=D) * 4
    t = torch.rand(50, generator=g, dtype=D)                      # soft targets in [0, 1]
    _assert_same(lambda a, b: L.sigmoid_focal_loss(a, b, gamma=1.5),
                 lambda a, b: _torchvision_sigmoid_focal(a, b, gamma=1.5), x, t)
    for reduction in REDUCTIONS:
        _assert_same(lambda a, b, r=reduction: L.sigmoid_focal_loss(a, b, alpha=-1,
                                                                   gamma=0.0, reduction=r),
                     lambda a, b, r=reduction: F.binary_cross_entropy_with_logits(
                         a, b, reduction=r), x, t)


def test_sigmoid_focal_properties_and_extremes():
    x = torch.tensor([1e4, -1e4, 1e4, -1e4, 40.0], dtype=D)
    t = torch.tensor([1.0, 0.0, 0.0, 1.0, 1.0], dtype=D)
    for gamma in (0.0, 0.5, 2.0):
        v, (gx, _) = _grad(lambda a, b, gm=gamma: L.sigmoid_focal_loss(a, b, gamma=gm), x, t)
        assert torch.isfinite(v).all() and torch.isfinite(gx).all()
        assert (v >= 0).all() and v[0] == 0 and v[1] == 0        # confident and right: 0
        assert float(v[2]) == pytest.approx(0.75 * 1e4)           # confident and wrong
    # focusing: with γ > 0 an easy example loses more of its loss than a hard one
    easy, hard = torch.tensor([3.0], dtype=D), torch.tensor([-1.0], dtype=D)
    one = torch.ones(1, dtype=D)

    def ratio(z):
        return L.sigmoid_focal_loss(z, one, alpha=-1) / F.binary_cross_entropy_with_logits(
            z, one, reduction="none")

    assert float(ratio(easy)) < float(ratio(hard)) < 1
    assert torch.autograd.gradcheck(lambda a: L.sigmoid_focal_loss(a, t[:3], gamma=2.0),
                                    (torch.randn(3, dtype=D, requires_grad=True),))


def test_sigmoid_focal_rejects_bad_input():
    x, t = torch.zeros(3), torch.ones(3)
    with pytest.raises(ValueError, match="same shape"):
        L.sigmoid_focal_loss(x, torch.ones(4))
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        L.sigmoid_focal_loss(x, torch.tensor([0.0, 2.0, 1.0]))
    with pytest.raises(ValueError, match="floating"):
        L.sigmoid_focal_loss(x, torch.ones(3, dtype=torch.long))
    with pytest.raises(ValueError, match="NaN"):
        L.sigmoid_focal_loss(torch.tensor([0.0, float("nan"), 1.0]), t)
    with pytest.raises(ValueError, match="finite"):
        L.sigmoid_focal_loss(x, torch.tensor([0.0, float("nan"), 1.0]))
    with pytest.raises(ValueError, match="gamma"):
        L.sigmoid_focal_loss(x, t, gamma=-1.0)
    with pytest.raises(ValueError, match="alpha"):
        L.sigmoid_focal_loss(x, t, alpha=1.5)
    with pytest.raises(ValueError, match="reduction"):
        L.sigmoid_focal_loss(x, t, reduction="batchmean")


# ---- multi-class focal loss ----------------------------------------------------------------

def _naive_focal(z, y, gamma, alpha=None):
    p = torch.softmax(z, dim=1)
    py = p.gather(1, y.unsqueeze(1)).squeeze(1)
    loss = -(1 - py) ** gamma * torch.log(py)
    return loss if alpha is None else alpha[y] * loss


@pytest.mark.parametrize("shape", [(6, 3), (5, 4, 7), (2, 5, 3, 3)])
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_focal_gamma_zero_is_cross_entropy(shape, reduction):
    g = _gen(len(shape))
    z = torch.randn(shape, generator=g, dtype=D) * 2
    y = torch.randint(shape[1], (shape[0], *shape[2:]), generator=g)
    _assert_same(lambda a: L.focal_loss(a, y, gamma=0.0, reduction=reduction),
                 lambda a: F.cross_entropy(a, y, reduction=reduction), z)
    w = torch.rand(shape[1], generator=g, dtype=D) + 0.1
    n = y.numel()
    expected = {"none": lambda a: F.cross_entropy(a, y, weight=w, reduction="none"),
                "sum": lambda a: F.cross_entropy(a, y, weight=w, reduction="sum"),
                "mean": lambda a: F.cross_entropy(a, y, weight=w, reduction="sum") / n}
    _assert_same(lambda a: L.focal_loss(a, y, gamma=0.0, alpha=w, reduction=reduction),
                 expected[reduction], z)


@pytest.mark.parametrize("gamma", [0.5, 1.0, 2.0, 5.0])
def test_focal_equals_formula(gamma):
    g = _gen(int(gamma * 10))
    z = torch.randn(20, 5, generator=g, dtype=D) * 2
    y = torch.randint(5, (20,), generator=g)
    alpha = torch.rand(5, generator=g, dtype=D)
    _assert_same(lambda a: L.focal_loss(a, y, gamma=gamma, alpha=alpha, reduction="none"),
                 lambda a: _naive_focal(a, y, gamma, alpha), z)
    assert torch.autograd.gradcheck(lambda a: L.focal_loss(a, y, gamma=gamma),
                                    (z.clone().requires_grad_(),))


def test_focal_extremes_and_alpha_dtype():
    z = torch.tensor([[1e4, -1e4, 0.0], [-1e4, 1e4, 0.0]], dtype=D)
    y = torch.tensor([0, 0])
    for gamma in (0.0, 0.5, 2.0):
        v, (gz,) = _grad(lambda a, gm=gamma: L.focal_loss(a, y, gamma=gm,
                                                         reduction="none"), z)
        assert torch.isfinite(v).all() and torch.isfinite(gz).all()
        assert v[0] == 0 and float(v[1]) == pytest.approx(2e4)
    # float32 logits with an integer alpha tensor: the loss keeps the logits' dtype
    out = L.focal_loss(z.float(), y, alpha=torch.tensor([1, 2, 3]))
    assert out.dtype == torch.float32 and torch.isfinite(out)


def test_focal_rejects_bad_input():
    z, y = torch.zeros(4, 3), torch.tensor([0, 1, 2, 0])
    with pytest.raises(ValueError, match=r"labels in \[0, 3\)"):
        L.focal_loss(z, torch.tensor([0, 1, 3, 0]))
    with pytest.raises(ValueError, match="shape"):
        L.focal_loss(z, torch.tensor([0, 1]))
    with pytest.raises(ValueError, match=r"\(N, C\)"):
        L.focal_loss(torch.zeros(3), torch.tensor([0, 1, 2]))
    with pytest.raises(ValueError, match="integer class labels"):
        L.focal_loss(z, y.float())
    with pytest.raises(ValueError, match=r"shape \(3,\)"):
        L.focal_loss(z, y, alpha=torch.ones(4))
    with pytest.raises(ValueError, match="finite"):
        L.focal_loss(z, y, alpha=torch.tensor([1.0, float("inf"), 1.0]))
    with pytest.raises(ValueError, match="hold real"):
        L.focal_loss(z, y, alpha=torch.ones(3, dtype=torch.complex64))
    with pytest.raises(ValueError, match="gamma"):
        L.focal_loss(z, y, gamma=-0.5)
    with pytest.raises(ValueError, match="reduction"):
        L.focal_loss(z, y, reduction="avg")


# ---- logit adjustment ----------------------------------------------------------------------

@pytest.mark.parametrize("shape", [(8, 4), (3, 4, 5)])
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("tau", [0.0, 0.5, 1.0, 2.0])
def test_logit_adjusted_cross_entropy(shape, reduction, tau):
    g = _gen(len(shape))
    z = torch.randn(shape, generator=g, dtype=D)
    y = torch.randint(shape[1], (shape[0], *shape[2:]), generator=g)
    counts = torch.tensor([60.0, 25.0, 10.0, 5.0], dtype=D)
    prior = counts / counts.sum()
    view = (1, -1, *([1] * (len(shape) - 2)))
    _assert_same(lambda a: L.logit_adjusted_cross_entropy(a, y, prior, tau=tau,
                                                          reduction=reduction),
                 lambda a: F.cross_entropy(a + tau * prior.log().view(view), y,
                                           reduction=reduction), z)
    adjusted = L.adjust_logits(z, prior, tau=tau)
    torch.testing.assert_close(adjusted, z - tau * prior.log().view(view))


def test_logit_adjustment_properties():
    g = _gen(5)
    z = torch.randn(10, 3, generator=g, dtype=D)
    y = torch.randint(3, (10,), generator=g)
    uniform = torch.full((3,), 1 / 3, dtype=D)
    # a uniform prior shifts every logit equally: plain cross-entropy, same argmax
    torch.testing.assert_close(L.logit_adjusted_cross_entropy(z, y, uniform),
                               F.cross_entropy(z, y))
    assert torch.equal(L.adjust_logits(z, uniform).argmax(1), z.argmax(1))
    # extremes stay finite; a float32 prior works with float64 logits
    big = torch.tensor([[1e4, -1e4, 0.0]], dtype=D)
    v, (gz,) = _grad(lambda a: L.logit_adjusted_cross_entropy(
        a, torch.tensor([1]), torch.tensor([0.98, 0.01, 0.01])), big)
    assert torch.isfinite(v) and torch.isfinite(gz).all()


def test_logit_adjustment_rejects_bad_prior():
    z, y = torch.zeros(2, 3), torch.tensor([0, 2])
    with pytest.raises(ValueError, match="sum to 1"):
        L.logit_adjusted_cross_entropy(z, y, torch.tensor([5.0, 3.0, 2.0]))
    with pytest.raises(ValueError, match="positive probabilities"):
        L.adjust_logits(z, torch.tensor([0.5, 0.5, 0.0]))
    with pytest.raises(ValueError, match=r"shape \(3,\)"):
        L.adjust_logits(z, torch.tensor([0.5, 0.5]))
    with pytest.raises(ValueError, match="tau"):
        L.adjust_logits(z, torch.full((3,), 1 / 3), tau=-1.0)
    with pytest.raises(ValueError, match=r"\(N, C\)"):
        L.adjust_logits(torch.zeros(3), torch.full((3,), 1 / 3))
    with pytest.raises(ValueError, match="labels"):
        L.logit_adjusted_cross_entropy(z, torch.tensor([0, 3]), torch.full((3,), 1 / 3))
    with pytest.raises(ValueError, match="reduction"):
        L.logit_adjusted_cross_entropy(z, y, torch.full((3,), 1 / 3), reduction="mean ")


# ---- Dice loss -----------------------------------------------------------------------------

def _naive_dice(p, t, smooth, k):
    num = 2 * (p * t).flatten(1).sum(1) + smooth
    den = (p ** k).flatten(1).sum(1) + (t ** k).flatten(1).sum(1) + smooth
    return 1 - num / den


@pytest.mark.parametrize("shape", [(4, 9), (3, 5, 5), (2, 1, 4, 6)])
@pytest.mark.parametrize("squared", [False, True])
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_dice_equals_formula(shape, squared, reduction):
    g = _gen(len(shape))
    z = torch.randn(shape, generator=g, dtype=D) * 2
    t = (torch.rand(shape, generator=g, dtype=D) < 0.2).to(D)
    k = 2 if squared else 1
    ref = {"none": lambda v: v, "mean": torch.mean, "sum": torch.sum}[reduction]
    for smooth in (0.0, 1.0):
        _assert_same(lambda a, s=smooth: L.dice_loss(a, t, smooth=s, squared=squared,
                                                     from_logits=True,
                                                     reduction=reduction),
                     lambda a, s=smooth: ref(_naive_dice(torch.sigmoid(a), t, s, k)), z)
    torch.testing.assert_close(L.dice_loss(torch.sigmoid(z), t, squared=squared),
                               L.dice_loss(z, t, squared=squared, from_logits=True))


@pytest.mark.parametrize("seed", range(4))
def test_dice_of_hard_masks_is_one_minus_f1(seed):
    g = _gen(seed)
    pred = (torch.rand(1, 200, generator=g) < 0.3).to(D)
    t = (torch.rand(1, 200, generator=g) < 0.1).to(D)
    f1 = f1_score(t[0].numpy().astype(int), pred[0].numpy().astype(int))
    for squared in (False, True):
        loss = L.dice_loss(pred, t, smooth=0.0, squared=squared)
        assert float(loss) == pytest.approx(1 - f1, abs=1e-12)


def test_dice_properties():
    t = torch.tensor([[1.0, 0.0, 0.0, 1.0], [0.0, 0.0, 0.0, 0.0]], dtype=D)
    for smooth in (0.0, 1.0):                                # perfect prediction: 0
        assert torch.equal(L.dice_loss(t, t, smooth=smooth, reduction="none"),
                           torch.zeros(2, dtype=D))
    # disjoint masks: 1 without smoothing; the smoothing term keeps it just below 1
    assert float(L.dice_loss(1 - t[:1], t[:1], smooth=0.0)) == 1.0
    assert 0.5 < float(L.dice_loss(1 - t[:1], t[:1], smooth=1.0)) < 1.0
    # empty target, nearly empty prediction: with s = 0 the loss is 1 whatever p is
    eps = torch.full((1, 4), 1e-3, dtype=D)
    assert float(L.dice_loss(eps, t[1:], smooth=0.0)) == 1.0
    assert float(L.dice_loss(eps, t[1:], smooth=1.0)) < 0.01
    # the all-empty case with s = 0 has a finite gradient
    v, (gp, _) = _grad(lambda p, q: L.dice_loss(p, q, smooth=0.0), torch.zeros(1, 4,
                                                                               dtype=D), t[1:])
    assert float(v) == 0 and torch.isfinite(gp).all()
    big = torch.tensor([[1e4, -1e4, 1e4, -1e4]], dtype=D)
    v, (gz, _) = _grad(lambda a, b: L.dice_loss(a, b, from_logits=True), big, t[:1])
    assert torch.isfinite(v) and torch.isfinite(gz).all()
    assert torch.autograd.gradcheck(
        lambda a: L.dice_loss(a, t, squared=True, from_logits=True),
        (torch.randn(2, 4, dtype=D, requires_grad=True),))


def test_dice_rejects_bad_input():
    p, t = torch.full((2, 3), 0.5), torch.ones(2, 3)
    with pytest.raises(ValueError, match=r"`input` must lie in \[0, 1\] \(pass logits"):
        L.dice_loss(p * 3, t)
    with pytest.raises(ValueError, match=r"`target` must lie in \[0, 1\], got"):
        L.dice_loss(p, t * 2)
    with pytest.raises(ValueError, match="same shape"):
        L.dice_loss(p, torch.ones(2, 4))
    with pytest.raises(ValueError, match="batch axis"):
        L.dice_loss(torch.full((3,), 0.5), torch.ones(3))
    with pytest.raises(ValueError, match="smooth"):
        L.dice_loss(p, t, smooth=-1.0)
    with pytest.raises(TypeError, match="squared"):
        L.dice_loss(p, t, squared=2)
    with pytest.raises(ValueError, match="reduction"):
        L.dice_loss(p, t, reduction="batchmean")
    with pytest.raises(ValueError, match="floating"):
        L.dice_loss(p, t.long())
    with pytest.raises(ValueError, match="finite"):
        L.dice_loss(p, torch.tensor([[1.0, float("nan"), 0.0]] * 2))
    assert torch.isfinite(L.dice_loss(p * 30, t, from_logits=True))


def test_public_names():
    assert set(L.imbalance.__all__) <= set(L.__all__)
    for name in L.imbalance.__all__:
        assert getattr(L, name).__doc__
