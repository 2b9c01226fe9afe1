"""dlcore.losses.distillation_loss against its definition written with torch.nn.functional
(kl_div with "batchmean" and cross_entropy), the T = 1 identities, the 1/T gradient, extreme
logits and bad input."""

import math

import pytest
import torch
from torch.nn import functional as F

from dlcore import losses as L

F64 = torch.float64


def gen(seed):
    return torch.Generator().manual_seed(seed)


def batch(n=6, k=5, seed=0, scale=3.0):
    s = (scale * torch.randn(n, k, generator=gen(seed), dtype=F64)).requires_grad_()
    t = (scale * torch.randn(n, k, generator=gen(seed + 1), dtype=F64)).requires_grad_()
    y = torch.randint(0, k, (n,), generator=gen(seed + 2))
    return s, t, y


def reference(s, t, y, T, alpha):
    soft = F.kl_div(F.log_softmax(s / T, 1), F.softmax(t / T, 1), reduction="batchmean")
    return alpha * T**2 * soft + (1 - alpha) * F.cross_entropy(s, y)


@pytest.mark.parametrize("T", [0.5, 1.0, 4.0, 20.0])
@pytest.mark.parametrize("alpha", [0.0, 0.3, 0.9, 1.0])
@pytest.mark.parametrize("shape", [(1, 2), (6, 5), (9, 10)])
def test_matches_kl_div_batchmean_plus_cross_entropy(T, alpha, shape):
    s, t, y = batch(*shape)
    ours = L.distillation_loss(s, t, y, temperature=T, alpha=alpha)
    ref = reference(s, t, y, T, alpha)
    torch.testing.assert_close(ours, ref, rtol=1e-10, atol=1e-12)
    g_ours = torch.autograd.grad(ours, (s, t))
    g_ref = torch.autograd.grad(ref, (s, t))
    for a, b in zip(g_ours, g_ref, strict=True):
        torch.testing.assert_close(a, b, rtol=1e-10, atol=1e-12)


def test_T1_identities():
    s, t, y = batch()
    pt = torch.softmax(t, 1).detach()
    # at T = 1, alpha = 1: KL(p_t || p_s) = CE(s, p_t) - H(p_t)
    entropy = -(pt * torch.log(pt)).sum(1).mean()
    torch.testing.assert_close(L.distillation_loss(s, t, y, temperature=1.0, alpha=1.0),
                               L.cross_entropy(s, pt) - entropy)
    # alpha = 0 is plain cross-entropy, whatever T
    torch.testing.assert_close(L.distillation_loss(s, t, y, temperature=7.0, alpha=0.0),
                               L.cross_entropy(s, y))
    # a student equal to its teacher has zero soft loss, and the soft loss is >= 0
    assert L.distillation_loss(t, t, y, temperature=3.0, alpha=1.0).abs().item() < 1e-12
    assert L.distillation_loss(s, t, y, temperature=3.0, alpha=1.0).item() > 0


def test_soft_gradient_is_difference_over_T():
    s, t, y = batch()
    for T in (1.0, 2.0, 10.0):
        (g,) = torch.autograd.grad(
            L.distillation_loss(s, t.detach(), y, temperature=T, alpha=1.0), s)
        expected = T**2 * (torch.softmax(s / T, 1) - torch.softmax(t / T, 1)) / (T * len(s))
        torch.testing.assert_close(g, expected.detach())


def test_probability_targets_and_extremes():
    s, t, y = batch()
    q = F.one_hot(y, 5).to(F64)
    torch.testing.assert_close(L.distillation_loss(s, t, q, temperature=2.0, alpha=0.5),
                               L.distillation_loss(s, t, y, temperature=2.0, alpha=0.5))
    big = torch.tensor([[1e4, -1e4, 0.0], [-1e4, 1e4, 0.0]], dtype=F64, requires_grad=True)
    other = torch.tensor([[-1e4, 1e4, 0.0], [0.0, 0.0, 1e4]], dtype=F64)
    for T in (1.0, 4.0):
        out = L.distillation_loss(big, other, torch.tensor([0, 2]), temperature=T, alpha=0.7)
        ref = reference(big, other, torch.tensor([0, 2]), T, 0.7)
        assert math.isfinite(out.item())
        torch.testing.assert_close(out, ref, rtol=1e-10, atol=1e-8)
        (g,) = torch.autograd.grad(out, big)
        assert bool(torch.isfinite(g).all())


def test_bad_input():
    s, t, y = batch()
    with pytest.raises(ValueError, match="`temperature` must be > 0"):
        L.distillation_loss(s, t, y, temperature=0.0, alpha=0.5)
    with pytest.raises(ValueError, match="`alpha` must be <= 1"):
        L.distillation_loss(s, t, y, temperature=2.0, alpha=1.5)
    with pytest.raises(TypeError, match="`temperature` must be a real number"):
        L.distillation_loss(s, t, y, temperature="2", alpha=0.5)
    with pytest.raises(ValueError, match="`student_logits` and `teacher_logits` must have"):
        L.distillation_loss(s, t[:, :4], y, temperature=2.0, alpha=0.5)
    with pytest.raises(ValueError, match="`teacher_logits` must be 2-dimensional"):
        L.distillation_loss(s, t[0], y, temperature=2.0, alpha=0.5)
    with pytest.raises(ValueError, match="`teacher_logits` must not contain NaN"):
        L.distillation_loss(s, torch.full_like(t, math.nan), y, temperature=2.0, alpha=0.5)
    with pytest.raises(ValueError, match="`target`.*labels in \\[0, 5\\)"):
        L.distillation_loss(s, t, y + 5, temperature=2.0, alpha=0.5)
