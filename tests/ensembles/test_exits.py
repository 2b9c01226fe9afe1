"""dlcore.ensembles.exits: the multi-exit wrapper against a hand-run chain of blocks and heads,
early exits against a per-example loop over the definition (confidence and entropy), the
threshold edge cases (τ = 0 → exit 1, τ > 1 → last exit), the joint and self-distillation
losses against F.cross_entropy / F.kl_div, gradients, extreme logits and bad input."""

import math

import pytest
import torch
from torch import nn
from torch.nn import functional as F

from dlcore import ensembles as E
from dlcore.ensembles import exits as X

F64 = torch.float64


def gen(seed):
    return torch.Generator().manual_seed(seed)


def exit_logits(e=3, n=40, k=5, seed=0, scale=2.0, dtype=F64):
    return scale * torch.randn(e, n, k, generator=gen(seed), dtype=dtype)


def labels(n=40, k=5, seed=1):
    return torch.randint(0, k, (n,), generator=gen(seed))


def loop_exit(z, tau, criterion):
    """The definition, one example at a time."""
    preds, exits = [], []
    for i in range(z.shape[1]):
        for j in range(z.shape[0]):
            p = F.softmax(z[j, i], dim=0)
            if criterion == "confidence":
                ok = bool(p.max() >= tau)
            else:
                ok = float(-(p * torch.log(p)).sum()) <= tau
            if ok or j == z.shape[0] - 1:
                preds.append(int(z[j, i].argmax()))
                exits.append(j)
                break
    return torch.tensor(preds), torch.tensor(exits)


def test_public_names_exported():
    for name in X.__all__:
        assert getattr(E, name) is getattr(X, name)


# ---------------------------------------------------------------- MultiExit


def make_net(seed=0, widths=(6, 8, 8, 8), k=4):
    torch.manual_seed(seed)
    pairs = zip(widths, widths[1:], strict=False)
    blocks = [nn.Sequential(nn.Linear(a, b), nn.ReLU()) for a, b in pairs]
    heads = [nn.Linear(b, k) for b in widths[1:]]
    return MultiExitParts(blocks, heads)


class MultiExitParts:
    def __init__(self, blocks, heads):
        self.blocks, self.heads = blocks, heads
        self.net = E.MultiExit(blocks, heads)


def test_multiexit_equals_chain_of_blocks_and_heads():
    parts = make_net()
    x = torch.randn(7, 6, generator=gen(3))
    out = parts.net(x)
    assert out.shape == (3, 7, 4) and len(parts.net) == 3
    h = x
    for j, (b, g) in enumerate(zip(parts.blocks, parts.heads, strict=True)):
        h = b(h)
        torch.testing.assert_close(out[j], g(h), rtol=0, atol=0)
    # the last exit is the plain network blocks → last head
    plain = nn.Sequential(*parts.blocks, parts.heads[-1])
    torch.testing.assert_close(out[-1], plain(x), rtol=0, atol=0)


def test_multiexit_registers_parameters_and_backpropagates():
    parts = make_net()
    n_params = sum(p.numel() for m in parts.blocks + parts.heads for p in m.parameters())
    assert sum(p.numel() for p in parts.net.parameters()) == n_params
    out = parts.net(torch.randn(5, 6, generator=gen(0)))
    out[0].sum().backward()
    # exit 1 depends on block 1 and head 1 only: the later ones get zero gradients
    assert bool(parts.blocks[0][0].weight.grad.abs().sum() > 0)
    assert bool(parts.heads[0].weight.grad.abs().sum() > 0)
    for m in (parts.blocks[1][0], parts.blocks[2][0], parts.heads[1], parts.heads[2]):
        assert bool((m.weight.grad == 0).all())


def test_multiexit_bad_input():
    with pytest.raises(ValueError, match="`blocks` must hold at least one"):
        E.MultiExit([], [])
    with pytest.raises(ValueError, match="same length, got 2 and 1"):
        E.MultiExit([nn.Identity(), nn.Identity()], [nn.Identity()])
    with pytest.raises(TypeError, match=r"`heads\[0\]` must be a torch.nn.Module"):
        E.MultiExit([nn.Identity()], [lambda h: h])
    net = E.MultiExit([nn.Linear(3, 3), nn.Linear(3, 3)], [nn.Linear(3, 2), nn.Linear(3, 4)])
    with pytest.raises(ValueError, match="`heads` must all return logits of one shape"):
        net(torch.randn(2, 3))


# ---------------------------------------------------------------- early_exit


@pytest.mark.parametrize("criterion,taus", [
    ("confidence", [0.0, 0.3, 0.5, 0.7, 0.9, 0.99, 1.0, 1.5]),
    ("entropy", [0.0, 0.1, 0.5, 1.0, 1.5, 10.0]),
])
@pytest.mark.parametrize("shape", [(1, 5, 3), (3, 40, 5), (4, 17, 2)])
def test_early_exit_matches_the_definition(criterion, taus, shape):
    z = exit_logits(*shape, seed=shape[1])
    for tau in taus:
        preds, exits = E.early_exit(z, threshold=tau, criterion=criterion)
        ref_p, ref_e = loop_exit(z, tau, criterion)
        assert torch.equal(preds, ref_p) and torch.equal(exits, ref_e)
        assert preds.shape == exits.shape == (shape[1],)
        assert preds.dtype == exits.dtype == torch.long


def test_threshold_edges():
    z = exit_logits()
    _, exits = E.early_exit(z, threshold=0.0)
    assert bool((exits == 0).all())                       # τ = 0: everyone at exit 1
    preds, exits = E.early_exit(z, threshold=1.0 + 1e-9)
    assert bool((exits == len(z) - 1).all())              # τ > 1: everyone at the last exit
    assert torch.equal(preds, z[-1].argmax(1))
    _, exits = E.early_exit(z, threshold=0.0, criterion="entropy")
    assert bool((exits == len(z) - 1).all())              # no finite-logit entropy ≤ 0
    _, exits = E.early_exit(z, threshold=math.log(5), criterion="entropy")
    assert bool((exits == 0).all())                       # log K bounds the entropy


def test_mean_depth_is_monotone_in_tau():
    z = exit_logits(4, 200, 5, scale=3.0)
    taus = torch.linspace(0, 1, 21).tolist()
    depths = [E.early_exit(z, threshold=t)[1].double().mean() for t in taus]
    assert all(a <= b for a, b in zip(depths, depths[1:], strict=False))
    assert depths[0] == 0 and depths[-1] > 0


def test_confidence_boundary_is_inclusive_and_one_exit_is_identity():
    z = torch.zeros(2, 1, 4)                               # max probability exactly 0.25
    assert int(E.early_exit(z, threshold=0.25)[1]) == 0
    z1 = exit_logits(1, 9, 3)
    preds, exits = E.early_exit(z1, threshold=0.999)
    assert torch.equal(preds, z1[0].argmax(1)) and bool((exits == 0).all())


@pytest.mark.parametrize("dtype", [torch.float32, F64])
def test_extreme_logits_give_no_nan(dtype):
    big = torch.finfo(dtype).max / 2
    z = torch.tensor([[[big, -big, 0.0]], [[0.0, 0.0, 1.0]]], dtype=dtype)
    for criterion, tau in (("confidence", 0.99), ("entropy", 0.01)):
        preds, exits = E.early_exit(z, threshold=tau, criterion=criterion)
        assert int(exits) == 0 and int(preds) == 0
    z = 1e4 * exit_logits(dtype=dtype)
    assert torch.equal(E.early_exit(z, threshold=0.9)[0], z[0].argmax(1))


def test_early_exit_bad_input():
    z = exit_logits()
    with pytest.raises(ValueError, match="`logits` must be 3-dimensional"):
        E.early_exit(z[0], threshold=0.5)
    with pytest.raises(ValueError, match="floating-point"):
        E.early_exit(z.long(), threshold=0.5)
    with pytest.raises(ValueError, match="`threshold` must be >= 0"):
        E.early_exit(z, threshold=-0.1)
    with pytest.raises(ValueError, match="`criterion` must be one of"):
        E.early_exit(z, threshold=0.5, criterion="margin")
    bad = z.clone()
    bad[1, 2, 0] = float("nan")
    with pytest.raises(ValueError, match="`logits` must be finite"):
        E.early_exit(bad, threshold=0.5)


# ---------------------------------------------------------------- joint_loss


@pytest.mark.parametrize("weights", [None, [1.0, 1.0, 1.0], [1 / 6, 2 / 6, 3 / 6], [0.0, 0, 2]])
@pytest.mark.parametrize("dtype", [torch.float32, F64])
def test_joint_loss_is_weighted_sum_of_cross_entropies(weights, dtype):
    z = exit_logits(dtype=dtype).requires_grad_()
    y = labels()
    w = [1 / 3] * 3 if weights is None else weights
    ref = sum(wj * F.cross_entropy(z[j], y) for j, wj in enumerate(w))
    ours = E.joint_loss(z, y, weights=weights)
    tol = 1e-12 if dtype == F64 else 1e-5
    torch.testing.assert_close(ours, ref, rtol=tol, atol=tol)
    g, = torch.autograd.grad(ours, z)
    g_ref, = torch.autograd.grad(ref, z)
    torch.testing.assert_close(g, g_ref, rtol=tol, atol=tol)


def test_joint_loss_soft_targets_and_pabee_weights():
    z = exit_logits()
    q = F.softmax(exit_logits(1, seed=9)[0], 1)
    w = torch.arange(1, 4, dtype=F64) / 6                 # PABEE: j / Σ k
    ref = sum(w[j] * F.cross_entropy(z[j], q) for j in range(3))
    torch.testing.assert_close(E.joint_loss(z, q, weights=w), ref)


def test_joint_loss_bad_weights():
    z, y = exit_logits(), labels()
    with pytest.raises(ValueError, match=r"one weight per exit, shape \(3,\), got \(2,\)"):
        E.joint_loss(z, y, weights=[0.5, 0.5])
    with pytest.raises(ValueError, match="finite and non-negative"):
        E.joint_loss(z, y, weights=[0.5, -0.1, 0.6])
    with pytest.raises(ValueError, match="finite and non-negative"):
        E.joint_loss(z, y, weights=[0.5, float("inf"), 0.6])
    with pytest.raises(ValueError, match="3-dimensional"):
        E.joint_loss(z[0], y)


# ---------------------------------------------------------------- self_distillation_loss


def kd_reference(s, t, y, T, alpha):
    soft = F.kl_div(F.log_softmax(s / T, 1), F.softmax(t / T, 1), reduction="batchmean")
    return alpha * T**2 * soft + (1 - alpha) * F.cross_entropy(s, y)


@pytest.mark.parametrize("T,alpha", [(1.0, 0.5), (3.0, 0.9), (4.0, 1.0)])
@pytest.mark.parametrize("weights", [None, [0.2, 0.3, 0.5]])
def test_self_distillation_matches_kl_div(T, alpha, weights):
    z = exit_logits().requires_grad_()
    y = labels()
    w = [1 / 3] * 3 if weights is None else weights
    teacher = z[-1].detach()
    ref = (w[0] * kd_reference(z[0], teacher, y, T, alpha)
           + w[1] * kd_reference(z[1], teacher, y, T, alpha)
           + w[2] * F.cross_entropy(z[2], y))
    ours = E.self_distillation_loss(z, y, temperature=T, alpha=alpha, weights=weights)
    torch.testing.assert_close(ours, ref, rtol=1e-12, atol=1e-12)
    g, = torch.autograd.grad(ours, z)
    g_ref, = torch.autograd.grad(ref, z)
    torch.testing.assert_close(g, g_ref, rtol=1e-12, atol=1e-12)
    # the teacher (last exit) gets only its own cross-entropy's gradient
    z2 = z.detach()[-1].clone().requires_grad_()
    g_last, = torch.autograd.grad(w[2] * F.cross_entropy(z2, y), z2)
    torch.testing.assert_close(g[-1], g_last, rtol=1e-12, atol=1e-12)


def test_self_distillation_alpha_zero_is_joint_loss():
    z, y = exit_logits(), labels()
    torch.testing.assert_close(
        E.self_distillation_loss(z, y, temperature=2.0, alpha=0.0),
        E.joint_loss(z, y), rtol=1e-12, atol=1e-12)


def test_self_distillation_bad_input():
    z, y = exit_logits(), labels()
    with pytest.raises(ValueError, match="at least 2 exits"):
        E.self_distillation_loss(z[:1], y, temperature=2.0, alpha=0.5)
    with pytest.raises(ValueError, match="`temperature`"):
        E.self_distillation_loss(z, y, temperature=0.0, alpha=0.5)
    with pytest.raises(ValueError, match="`alpha`"):
        E.self_distillation_loss(z, y, temperature=2.0, alpha=1.5)
