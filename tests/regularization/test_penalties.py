"""dlcore.regularization.penalties: L1/L2 penalties, the soft-threshold (proximal) step and
the max-norm constraint, against torch.optim.SGD, F.softshrink and torch.renorm."""

import pytest
import torch
from torch import nn
from torch.nn import functional as F

from dlcore.regularization import l1_penalty, l2_penalty, max_norm_, soft_threshold_


def gen(seed=0):
    return torch.Generator().manual_seed(seed)


def params(dtype=torch.float64):
    g = gen(1)
    return [torch.randn(4, 3, dtype=dtype, generator=g, requires_grad=True),
            torch.randn(3, dtype=dtype, generator=g, requires_grad=True)]


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_l2_value_and_gradient(dtype):
    ps = params(dtype)
    value = l2_penalty(ps)
    flat = torch.cat([p.detach().flatten() for p in ps])
    torch.testing.assert_close(value.detach(), 0.5 * torch.linalg.vector_norm(flat) ** 2)
    # hand-computed: ½ (1² + 2² + 2²) = 4.5
    assert float(l2_penalty(torch.tensor([1.0, -2.0, 2.0], dtype=dtype))) == 4.5
    value.backward()
    for p in ps:
        torch.testing.assert_close(p.grad, p.detach())  # ∇ ½‖w‖² = w
    torch.testing.assert_close(l2_penalty(ps[0]), 0.5 * ps[0].detach().square().sum())


def test_l2_penalty_step_equals_sgd_weight_decay():
    model = nn.Linear(5, 3).double()
    clone = nn.Linear(5, 3).double()
    clone.load_state_dict(model.state_dict())
    X = torch.randn(16, 5, dtype=torch.float64, generator=gen(2))
    y = torch.randint(0, 3, (16,), generator=gen(3))
    lam, lr = 0.3, 0.1
    opt_a = torch.optim.SGD(model.parameters(), lr=lr)
    opt_b = torch.optim.SGD(clone.parameters(), lr=lr, weight_decay=lam)
    for _ in range(20):
        opt_a.zero_grad()
        (F.cross_entropy(model(X), y) + lam * l2_penalty(model.parameters())).backward()
        opt_a.step()
        opt_b.zero_grad()
        F.cross_entropy(clone(X), y).backward()
        opt_b.step()
    for a, b in zip(model.parameters(), clone.parameters(), strict=True):
        torch.testing.assert_close(a, b, rtol=0, atol=1e-13)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_l1_value_and_subgradient(dtype):
    w = torch.tensor([-2.0, 0.0, 0.5, 3.0], dtype=dtype, requires_grad=True)
    value = l1_penalty([w])
    assert float(value.detach()) == 5.5
    value.backward()
    assert w.grad.tolist() == [-1.0, 0.0, 1.0, 1.0]
    ps = params(dtype)
    torch.testing.assert_close(l1_penalty(ps), sum(p.abs().sum() for p in ps))


def test_penalties_of_extreme_weights_are_finite():
    w = torch.full((10,), 1e4, dtype=torch.float32)
    assert torch.isfinite(l2_penalty(w)) and float(l2_penalty(w)) == pytest.approx(5e8)
    assert float(l1_penalty(w)) == 1e5


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("shape", [(7,), (4, 5), (2, 3, 4)])
@pytest.mark.parametrize("tau", [0.0, 0.3, 2.0])
def test_soft_threshold_equals_softshrink(dtype, shape, tau):
    w = torch.randn(shape, dtype=dtype, generator=gen(4))
    expected = F.softshrink(w, tau)
    out = soft_threshold_(w, tau)
    assert out is w  # in place
    torch.testing.assert_close(w, expected, rtol=0, atol=0)


def test_soft_threshold_is_the_proximal_operator():
    # prox_τ|·|(w) = argmin_u ½(u - w)² + τ|u|, by brute force on a fine grid
    w = torch.tensor([-1.3, -0.4, 0.1, 0.7, 2.0], dtype=torch.float64)
    tau = 0.5
    u = torch.linspace(-3, 3, 60001, dtype=torch.float64)
    objective = 0.5 * (u[:, None] - w) ** 2 + tau * u[:, None].abs()
    brute = u[objective.argmin(0)]
    torch.testing.assert_close(soft_threshold_(w.clone(), tau), brute, rtol=0, atol=1e-4)


def test_soft_threshold_on_parameters_and_lists():
    torch.manual_seed(0)
    model = nn.Linear(6, 4)
    before = [p.detach().clone() for p in model.parameters()]
    ps = soft_threshold_(model.parameters(), 0.2)
    assert isinstance(ps, list) and len(ps) == 2
    assert all(p.requires_grad for p in model.parameters())
    for p, original in zip(model.parameters(), before, strict=True):  # weight AND bias
        torch.testing.assert_close(p.detach(), F.softshrink(original, 0.2), rtol=0, atol=0)
    assert float(model.weight.detach().abs().min()) == 0.0    # seed 0: some |w| < 0.2
    assert float(model.bias.detach().abs().min()) == 0.0
    # a plain list of tensors: every element is thresholded, not only the first
    ts = [torch.tensor([0.5, -0.1]), torch.tensor([-0.3, 0.15])]
    soft_threshold_(ts, 0.2)
    torch.testing.assert_close(ts[0], torch.tensor([0.3, 0.0]))
    torch.testing.assert_close(ts[1], torch.tensor([-0.1, 0.0]))


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("shape,dim", [((5, 7), 0), ((4, 3, 2, 2), 0), ((3, 5), 1),
                                       ((3, 4, 5), -1), ((6, 1), 0)])
@pytest.mark.parametrize("c", [0.5, 1.5, 100.0])
def test_max_norm_equals_torch_renorm(dtype, shape, dim, c):
    W = torch.randn(shape, dtype=dtype, generator=gen(5)) * 2
    expected = torch.renorm(W, p=2, dim=dim, maxnorm=c)
    out = max_norm_(W, c, dim=dim)
    assert out is W
    tol = 1e-6 if dtype == torch.float32 else 1e-14
    torch.testing.assert_close(W, expected, rtol=tol, atol=tol)
    others = [k for k in range(W.ndim) if k != dim % W.ndim]
    assert float(torch.linalg.vector_norm(W, dim=others).max()) <= c * (1 + 1e-6)


def test_max_norm_leaves_short_rows_and_zero_rows_alone():
    W = torch.tensor([[3.0, 4.0], [0.3, 0.4], [0.0, 0.0]])
    max_norm_(W, 1.0)
    assert W[1].tolist() == pytest.approx([0.3, 0.4]) and torch.equal(W[2], torch.zeros(2))
    assert float(W[0].norm()) == pytest.approx(1.0, abs=1e-6)
    big = torch.full((3, 4), 1e4)
    max_norm_(big, 2.0)
    assert torch.isfinite(big).all()
    torch.testing.assert_close(big.norm(dim=1), torch.full((3,), 2.0))


def test_max_norm_on_a_parameter_keeps_it_a_leaf():
    layer = nn.Linear(10, 4)
    with torch.no_grad():
        layer.weight.mul_(10)
    max_norm_(layer.weight, 1.0)
    assert layer.weight.is_leaf and layer.weight.requires_grad
    assert float(layer.weight.detach().norm(dim=1).max()) <= 1.0 + 1e-6


def test_bad_input():
    with pytest.raises(ValueError, match="`params` must hold at least one tensor"):
        l2_penalty([])
    with pytest.raises(TypeError, match="`params` must be a tensor or an iterable"):
        l1_penalty(3.0)
    with pytest.raises(TypeError, match="`params` must be a tensor or an iterable"):
        l1_penalty("weights")
    with pytest.raises(ValueError, match=r"`params\[1\]` must have a floating-point dtype"):
        l2_penalty([torch.ones(2), torch.ones(2, dtype=torch.int64)])
    with pytest.raises(TypeError, match=r"`params\[0\]` must be a torch.Tensor"):
        l2_penalty([[1.0]])
    with pytest.raises(ValueError, match="`threshold` must be >= 0"):
        soft_threshold_(torch.ones(2), -0.1)
    with pytest.raises(ValueError, match="`max_norm` must be > 0"):
        max_norm_(torch.ones(2, 2), 0.0)
    with pytest.raises(ValueError, match="at least 2-dimensional"):
        max_norm_(torch.ones(3), 1.0)
    with pytest.raises(ValueError, match="`dim` must be in"):
        max_norm_(torch.ones(2, 2), 1.0, dim=2)
    with pytest.raises(ValueError, match="`weight` must have a floating-point dtype"):
        max_norm_(torch.ones(2, 2, dtype=torch.int64), 1.0)
