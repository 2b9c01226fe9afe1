"""dlcore.losses.information: entropy, KL divergence, conditional entropy and mutual
information against SciPy and scikit-learn (from counts), the identities between them, kl_div
against torch.nn.functional.kl_div (values and gradients, every reduction), extreme inputs and
bad input."""

import math

import numpy as np
import pytest
import torch
from scipy import stats
from sklearn.metrics import mutual_info_score
from torch.nn import functional as F

from dlcore import losses as L


def simplex(*shape, seed=0, dtype=torch.float64, zeros=False):
    g = torch.Generator().manual_seed(seed)
    p = torch.rand(*shape, generator=g, dtype=dtype) ** 3
    if zeros:  # some exact zeros, never a whole row
        p = torch.where(torch.rand(*shape, generator=g, dtype=dtype) < 0.3, 0, p)
        p[..., 0] += 0.1
    return p / p.sum(dim=-1, keepdim=True)


def joint_table(nx, ny, seed=0, zeros=False):
    return simplex(nx * ny, seed=seed, zeros=zeros).reshape(nx, ny)


@pytest.mark.parametrize("shape", [(5,), (4, 6), (2, 3, 7)])
@pytest.mark.parametrize("base", [None, 2, 10])
@pytest.mark.parametrize("zeros", [False, True])
def test_entropy_matches_scipy(shape, base, zeros):
    p = simplex(*shape, seed=len(shape), zeros=zeros)
    ours = L.entropy(p, base=base)
    ref = stats.entropy(p.numpy(), base=base, axis=-1)
    np.testing.assert_allclose(ours.numpy(), ref, rtol=1e-12, atol=1e-15)


def test_entropy_dim_argument_and_float32():
    p = simplex(3, 5, seed=1).T.contiguous()  # distributions along dim 0
    np.testing.assert_allclose(L.entropy(p, dim=0).numpy(), stats.entropy(p.numpy(), axis=0),
                               rtol=1e-12)
    p32 = simplex(6, 9, seed=2, dtype=torch.float32)
    torch.testing.assert_close(L.entropy(p32), L.entropy(p32.double()).float())


def test_entropy_bounds_and_gradient():
    assert L.entropy(torch.tensor([1.0, 0.0, 0.0])) == 0
    assert math.copysign(1.0, float(L.entropy(torch.tensor([0.0, 1.0])))) == 1.0  # +0
    uniform = torch.full((8,), 1 / 8, dtype=torch.float64)
    torch.testing.assert_close(L.entropy(uniform, base=2), torch.tensor(3.0, dtype=torch.float64))
    p = simplex(20, 8, seed=3)
    assert (L.entropy(p) <= math.log(8) + 1e-12).all() and (L.entropy(p) >= 0).all()
    # dH/dp_i = −(log p_i + 1): +inf at an exact zero (as torch.special.entr), never NaN
    q = torch.tensor([0.0, 0.25, 0.75], dtype=torch.float64, requires_grad=True)
    L.entropy(q).backward()
    torch.testing.assert_close(q.grad[1:], -(q.detach()[1:].log() + 1))
    assert q.grad[0] == math.inf


@pytest.mark.parametrize("shape", [(5,), (4, 6), (2, 3, 7)])
@pytest.mark.parametrize("base", [None, 2])
def test_kl_divergence_matches_scipy_and_cross_entropy_identity(shape, base):
    p = simplex(*shape, seed=10, zeros=True)
    q = simplex(*shape, seed=11)
    ours = L.kl_divergence(p, q, base=base)
    np.testing.assert_allclose(ours.numpy(), stats.entropy(p.numpy(), q.numpy(), base=base,
                                                           axis=-1), rtol=1e-12, atol=1e-15)
    # H(p, q) = H(p) + KL(p ‖ q), and Gibbs' inequality
    cross = -(p * q.log()).sum(-1) / (math.log(base) if base else 1)
    torch.testing.assert_close(cross, L.entropy(p, base=base) + ours)
    assert (ours >= 0).all()
    torch.testing.assert_close(L.kl_divergence(p, p), torch.zeros(shape[:-1], dtype=p.dtype))


def test_kl_divergence_infinite_support_mismatch_and_asymmetry():
    p = torch.tensor([0.5, 0.5], dtype=torch.float64)
    q = torch.tensor([1.0, 0.0], dtype=torch.float64)
    assert L.kl_divergence(p, q) == math.inf
    torch.testing.assert_close(L.kl_divergence(q, p), torch.tensor(math.log(2),
                                                                   dtype=torch.float64))
    a, b = simplex(6, seed=12), simplex(6, seed=13)
    assert not torch.isclose(L.kl_divergence(a, b), L.kl_divergence(b, a))


@pytest.mark.parametrize("nx,ny", [(2, 2), (3, 5), (6, 4)])
@pytest.mark.parametrize("zeros", [False, True])
def test_mutual_information_matches_sklearn_from_counts(nx, ny, zeros):
    g = torch.Generator().manual_seed(nx * 10 + ny)
    x = torch.randint(0, nx, (500,), generator=g)
    y = (x + torch.randint(0, 2, (500,), generator=g)) % ny  # dependent on x
    if zeros:
        y = torch.where(x == 0, 0, y)
    counts = torch.zeros(nx, ny, dtype=torch.float64)
    counts.index_put_((x, y), torch.ones(500, dtype=torch.float64), accumulate=True)
    ours = L.mutual_information(counts / counts.sum())
    ref = mutual_info_score(x.numpy(), y.numpy())
    assert abs(float(ours) - ref) < 1e-12
    ref_c = mutual_info_score(None, None, contingency=counts.numpy())
    assert abs(float(ours) - ref_c) < 1e-12


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("zeros", [False, True])
def test_identities(seed, zeros):
    joint = joint_table(4, 5, seed=seed, zeros=zeros)
    p_x, p_y = joint.sum(1), joint.sum(0)
    h_xy = L.entropy(joint.flatten())
    h_y_x = L.conditional_entropy(joint)
    h_x_y = L.conditional_entropy(joint.T)
    i = L.mutual_information(joint)
    torch.testing.assert_close(h_xy, L.entropy(p_x) + h_y_x)           # chain rule
    torch.testing.assert_close(h_xy, L.entropy(p_y) + h_x_y)
    torch.testing.assert_close(i, L.entropy(p_y) - h_y_x)
    torch.testing.assert_close(i, L.entropy(p_x) - h_x_y)
    torch.testing.assert_close(i, L.kl_divergence(joint.flatten(),
                                                  torch.outer(p_x, p_y).flatten()))
    torch.testing.assert_close(i, L.mutual_information(joint.T))       # symmetric
    torch.testing.assert_close(i, h_xy - h_x_y - h_y_x)
    # H(Y|X) = Σ_x p(x) H(Y | X = x)
    torch.testing.assert_close(h_y_x, (p_x * L.entropy(joint / p_x[:, None])).sum())
    assert 0 <= float(h_y_x) <= float(L.entropy(p_y)) + 1e-12


def test_independent_and_deterministic_tables():
    p_x = torch.tensor([0.2, 0.3, 0.5], dtype=torch.float64)
    p_y = torch.tensor([0.1, 0.9], dtype=torch.float64)
    independent = torch.outer(p_x, p_y)
    assert L.mutual_information(independent) == 0  # rounding clipped, never negative
    torch.testing.assert_close(L.conditional_entropy(independent), L.entropy(p_y))
    diagonal = torch.diag(p_x)  # Y = X
    assert L.conditional_entropy(diagonal) == 0
    torch.testing.assert_close(L.mutual_information(diagonal, base=2), L.entropy(p_x, base=2))
    # an empty row (p(x) = 0) contributes nothing and gives no NaN
    with_empty = torch.cat([independent, torch.zeros(1, 2, dtype=torch.float64)])
    torch.testing.assert_close(L.conditional_entropy(with_empty), L.entropy(p_y))
    joint = with_empty.clone().requires_grad_()
    (L.conditional_entropy(joint) + L.mutual_information(joint)).backward()
    # the derivative on the empty row, log p(x, y) − log p(x), has no limit (0/0); the NaN
    # stays there and the other rows get finite gradients
    assert torch.isfinite(joint.grad[:3]).all()
    # KL's gradient w.r.t. q where p = q = 0 is 0, not 0/0
    p = torch.tensor([0.0, 0.4, 0.6], dtype=torch.float64)
    q = p.clone().requires_grad_()
    L.kl_divergence(p, q).backward()
    torch.testing.assert_close(q.grad, torch.tensor([0.0, -1.0, -1.0], dtype=torch.float64))


@pytest.mark.parametrize("nx,ny", [(2, 3), (4, 4), (5, 2)])
def test_conditional_entropy_matches_scipy_chain_rule(nx, ny):
    # independent reference: H(Y|X) = H(X, Y) − H(X), both from scipy.stats.entropy
    joint = joint_table(nx, ny, seed=nx + 10 * ny)
    ref = stats.entropy(joint.flatten().numpy()) - stats.entropy(joint.sum(1).numpy())
    assert L.conditional_entropy(joint).item() == pytest.approx(ref, rel=1e-12)
    ref_i = (stats.entropy(joint.sum(0).numpy()) + stats.entropy(joint.sum(1).numpy())
             - stats.entropy(joint.flatten().numpy()))
    assert L.mutual_information(joint).item() == pytest.approx(ref_i, rel=1e-10)


@pytest.mark.parametrize("fn", [L.conditional_entropy, L.mutual_information])
@pytest.mark.parametrize("nx,ny", [(2, 3), (4, 4)])
def test_joint_functions_gradcheck_and_reference_gradient(fn, nx, ny):
    # interior table (no zeros); normalising inside keeps every perturbed input valid
    u = joint_table(nx, ny, seed=3 * nx + ny) + 0.05
    u.requires_grad_(True)
    assert torch.autograd.gradcheck(lambda t: fn(t / t.sum()), (u,))

    def reference(t):  # from the definitions, written independently of the module
        p = t / t.sum()
        p_x, p_y = p.sum(1, keepdim=True), p.sum(0, keepdim=True)
        if fn is L.conditional_entropy:
            return -(p * torch.log(p / p_x)).sum()
        return (p * torch.log(p / (p_x * p_y))).sum()

    (g_ours,) = torch.autograd.grad(fn(u / u.sum()), u)
    (g_ref,) = torch.autograd.grad(reference(u), u)
    torch.testing.assert_close(g_ours, g_ref, rtol=1e-10, atol=1e-12)


def test_float32_tables():
    # dtype robustness only: the float64 values are tested against SciPy/sklearn above
    joint = joint_table(3, 4, seed=5).float()
    torch.testing.assert_close(L.mutual_information(joint),
                               L.mutual_information(joint.double()).float())
    torch.testing.assert_close(L.conditional_entropy(joint, base=2),
                               L.conditional_entropy(joint.double(), base=2).float())


REDUCTIONS = ["none", "mean", "sum", "batchmean"]


@pytest.mark.filterwarnings("ignore:reduction. 'mean' divides")
@pytest.mark.parametrize("shape", [(6,), (4, 5), (3, 4, 2)])
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("log_target", [False, True])
def test_kl_div_matches_torch(shape, reduction, log_target):
    g = torch.Generator().manual_seed(len(shape))
    logits = 3 * torch.randn(*shape, generator=g, dtype=torch.float64)
    target = torch.softmax(3 * torch.randn(*shape, generator=g, dtype=torch.float64), -1)
    target[..., 0] = 0  # exact zeros in the target
    target = target / target.sum(-1, keepdim=True)
    if log_target:
        target = target.clamp(min=1e-300).log()
    x1 = torch.log_softmax(logits, -1).requires_grad_()
    x2 = x1.detach().clone().requires_grad_()
    t1, t2 = target.clone().requires_grad_(), target.clone().requires_grad_()
    a = L.kl_div(x1, t1, reduction=reduction, log_target=log_target)
    b = F.kl_div(x2, t2, reduction=reduction, log_target=log_target)
    torch.testing.assert_close(a, b, rtol=1e-12, atol=1e-14)
    w = torch.randn(a.shape, generator=g, dtype=torch.float64)
    (a * w).sum().backward()
    (b * w).sum().backward()
    torch.testing.assert_close(x1.grad, x2.grad, rtol=1e-12, atol=1e-14)
    if not log_target:  # torch's gradient w.r.t. a zero target is −inf·0 there too: skip
        nz = target > 0
        torch.testing.assert_close(t1.grad[nz], t2.grad[nz], rtol=1e-12, atol=1e-14)
    else:
        torch.testing.assert_close(t1.grad, t2.grad, rtol=1e-12, atol=1e-14)


def test_kl_div_reductions_and_relation_to_kl_divergence():
    p = simplex(8, 5, seed=20)
    q = simplex(8, 5, seed=21)
    per_sample = L.kl_divergence(p, q)
    torch.testing.assert_close(L.kl_div(q.log(), p, reduction="batchmean"), per_sample.mean())
    torch.testing.assert_close(L.kl_div(q.log(), p), per_sample.mean() / 5)   # the trap
    torch.testing.assert_close(L.kl_div(q.log(), p, reduction="sum"), per_sample.sum())
    torch.testing.assert_close(L.kl_div(q.log(), p, reduction="none").sum(-1), per_sample)
    # 0-d input: torch leaves the sum undivided
    torch.testing.assert_close(L.kl_div(q.log()[0, 0], p[0, 0], reduction="batchmean"),
                               F.kl_div(q.log()[0, 0], p[0, 0], reduction="batchmean"))


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_kl_div_extreme_logits(dtype):
    logits = torch.tensor([[-1e4, 0.0, 1e4], [1e4, 1e4, -1e4]], dtype=dtype)
    target = torch.tensor([[0.0, 0.3, 0.7], [0.5, 0.5, 0.0]], dtype=dtype)
    x1 = torch.log_softmax(logits, -1).requires_grad_()
    x2 = x1.detach().clone().requires_grad_()
    for log_target in (False, True):
        t = target.clamp(min=1e-30).log() if log_target else target
        a = L.kl_div(x1, t, reduction="batchmean", log_target=log_target)
        b = F.kl_div(x2, t, reduction="batchmean", log_target=log_target)
        assert torch.isfinite(a)
        torch.testing.assert_close(a, b)
        a.backward()
        b.backward()
        torch.testing.assert_close(x1.grad, x2.grad)


def test_bad_input():
    p = simplex(3, 4, seed=30)
    with pytest.raises(ValueError, match="sum to 1"):
        L.entropy(p * 2)
    with pytest.raises(ValueError, match="divide counts"):
        L.mutual_information(torch.ones(2, 2, dtype=torch.float64))
    with pytest.raises(ValueError, match=">= 0"):
        L.entropy(torch.tensor([1.5, -0.5]))
    with pytest.raises(ValueError, match="finite"):
        L.entropy(torch.tensor([float("nan"), 1.0]))
    with pytest.raises(ValueError, match="floating"):
        L.entropy(torch.tensor([1, 0]))
    with pytest.raises(ValueError, match="dim"):
        L.entropy(p, dim=2)
    with pytest.raises(ValueError, match="`base` must be a positive number other than 1"):
        L.entropy(p, base=1)
    with pytest.raises(ValueError, match="base"):
        L.entropy(p, base=-2)
    with pytest.raises(ValueError, match="same shape"):
        L.kl_divergence(p, p[:, :3] / p[:, :3].sum(-1, keepdim=True))
    with pytest.raises(ValueError, match="`q` must sum to 1"):
        L.kl_divergence(p, p * 0.5)
    with pytest.raises(ValueError, match="2-dimensional"):
        L.conditional_entropy(p[0])
    with pytest.raises(ValueError, match="`joint` must sum to 1 in total"):
        L.conditional_entropy(p)
    with pytest.raises(ValueError, match="empty"):
        L.entropy(torch.zeros(0))
    with pytest.raises(ValueError, match="reduction"):
        L.kl_div(p.log(), p, reduction="average")
    with pytest.raises(ValueError, match="same shape"):
        L.kl_div(p.log(), p[0])
    with pytest.raises(ValueError, match="log_target=True"):
        L.kl_div(p.log(), -p)
    with pytest.raises(ValueError, match="NaN"):
        L.kl_div(torch.full_like(p, float("nan")), p)
    with pytest.raises(TypeError, match="log_target"):
        L.kl_div(p.log(), p, log_target=1)
