"""dlcore.losses.regression against torch.nn.functional: values and autograd gradients in
float64 for every reduction, weights, several shapes, extreme residuals, the Huber/smooth-L1
relation, the minimisers (mean and median) and bad input."""

import pytest
import torch
from torch.nn import functional as F

from dlcore import losses as L

REDUCTIONS = ["none", "mean", "sum"]
SHAPES = [(7,), (4, 5), (2, 3, 4)]


def pair(shape, seed=0, dtype=torch.float64, scale=2.0):
    g = torch.Generator().manual_seed(seed)
    x = scale * torch.randn(*shape, generator=g, dtype=dtype)
    t = scale * torch.randn(*shape, generator=g, dtype=dtype)
    return x, t


# (name, dlcore function, torch reference, keyword arguments)
CASES = [
    ("mse", L.mse_loss, F.mse_loss, {}),
    ("l1", L.l1_loss, F.l1_loss, {}),
    ("huber", L.huber_loss, F.huber_loss, {}),
    ("huber_0.3", L.huber_loss, F.huber_loss, {"delta": 0.3}),
    ("huber_5", L.huber_loss, F.huber_loss, {"delta": 5.0}),
    ("smooth_l1", L.smooth_l1_loss, F.smooth_l1_loss, {}),
    ("smooth_l1_0.3", L.smooth_l1_loss, F.smooth_l1_loss, {"beta": 0.3}),
    ("smooth_l1_0", L.smooth_l1_loss, F.smooth_l1_loss, {"beta": 0.0}),
]
WEIGHTED = [c for c in CASES if c[0].split("_")[0] in ("mse", "l1", "huber")]


@pytest.mark.parametrize("name,ours,ref,kw", CASES, ids=[c[0] for c in CASES])
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("shape", SHAPES)
def test_values_and_gradients_match_torch(name, ours, ref, kw, reduction, shape):
    x, t = pair(shape, seed=len(shape))
    x1 = x.clone().requires_grad_()
    t1 = t.clone().requires_grad_()
    x2 = x.clone().requires_grad_()
    t2 = t.clone().requires_grad_()
    a = ours(x1, t1, reduction=reduction, **kw)
    b = ref(x2, t2, reduction=reduction, **kw)
    torch.testing.assert_close(a, b, rtol=1e-12, atol=1e-14)
    g = torch.randn(a.shape, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    a.backward(g)
    b.backward(g)
    torch.testing.assert_close(x1.grad, x2.grad, rtol=1e-12, atol=1e-14)
    torch.testing.assert_close(t1.grad, t2.grad, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("name,ours,ref,kw", WEIGHTED, ids=[c[0] for c in WEIGHTED])
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_weighted_losses_match_torch(name, ours, ref, kw, reduction):
    x, t = pair((6, 3), seed=3)
    w = torch.rand(6, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(4))
    x1, x2 = x.clone().requires_grad_(), x.clone().requires_grad_()
    a = ours(x1, t, reduction=reduction, weight=w, **kw)
    b = ref(x2, t, reduction=reduction, weight=w, **kw)
    torch.testing.assert_close(a, b, rtol=1e-12, atol=1e-14)
    a.sum().backward()
    b.sum().backward()
    torch.testing.assert_close(x1.grad, x2.grad, rtol=1e-12, atol=1e-14)


def test_weighted_mean_is_normalised_by_the_weights():
    x, t = pair((10,), seed=5)
    w = torch.arange(1.0, 11.0, dtype=torch.float64)
    pointwise = (x - t) ** 2
    torch.testing.assert_close(L.mse_loss(x, t, weight=w), (w * pointwise).sum() / w.sum())
    assert not torch.isclose(L.mse_loss(x, t, weight=w), (w * pointwise).mean())
    # torch's Huber divides the weighted sum by the number of elements instead
    huber = L.huber_loss(x, t, reduction="none")
    torch.testing.assert_close(L.huber_loss(x, t, weight=w), (w * huber).mean())


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("name,ours,ref,kw", CASES, ids=[c[0] for c in CASES])
def test_extreme_residuals_match_torch_without_nan(name, ours, ref, kw, dtype):
    x = torch.tensor([-1e4, -1e2, -1.0, -1e-8, 0.0, 1e-8, 1.0, 1e2, 1e4], dtype=dtype)
    t = torch.zeros_like(x)
    x1, x2 = x.clone().requires_grad_(), x.clone().requires_grad_()
    a = ours(x1, t, reduction="none", **kw)
    b = ref(x2, t, reduction="none", **kw)
    assert torch.isfinite(a).all()
    torch.testing.assert_close(a, b)
    a.sum().backward()
    b.sum().backward()
    assert torch.isfinite(x1.grad).all()
    torch.testing.assert_close(x1.grad, x2.grad)


def test_gradcheck():
    x, t = pair((5,), seed=6)
    x.requires_grad_()
    for fn, kw in ((L.mse_loss, {}), (L.l1_loss, {}), (L.huber_loss, {"delta": 0.7}),
                   (L.smooth_l1_loss, {"beta": 0.7})):
        assert torch.autograd.gradcheck(
            lambda a, fn=fn, kw=kw: fn(a, t, reduction="sum", **kw), (x,))


@pytest.mark.parametrize("delta", [0.1, 1.0, 3.0])
def test_huber_is_delta_times_smooth_l1(delta):
    x, t = pair((50,), seed=7)
    torch.testing.assert_close(L.huber_loss(x, t, delta=delta, reduction="none"),
                               delta * L.smooth_l1_loss(x, t, beta=delta, reduction="none"),
                               rtol=1e-12, atol=1e-15)


def test_huber_gradient_is_clipped_residual():
    x, t = pair((200,), seed=8, scale=4.0)
    x.requires_grad_()
    L.huber_loss(x, t, delta=1.5, reduction="sum").backward()
    torch.testing.assert_close(x.grad, (x - t).detach().clamp(-1.5, 1.5))


def test_properties_non_negative_and_zero_at_perfect_prediction():
    x, t = pair((30,), seed=9)
    for fn in (L.mse_loss, L.l1_loss, L.huber_loss, L.smooth_l1_loss):
        assert (fn(x, t, reduction="none") >= 0).all()
        assert fn(t, t) == 0


def test_minimisers_are_mean_and_median():
    y = torch.tensor([0.0, 1.0, 2.0, 3.0, 100.0], dtype=torch.float64)
    grid = torch.linspace(-5, 105, 110_001, dtype=torch.float64)
    mse = torch.stack([L.mse_loss(torch.full_like(y, c), y) for c in grid[::100]])
    l1 = torch.stack([L.l1_loss(torch.full_like(y, c), y) for c in grid[::100]])
    assert abs(float(grid[::100][mse.argmin()]) - float(y.mean())) < 0.1
    assert abs(float(grid[::100][l1.argmin()]) - float(y.median())) < 0.1


def test_bad_input():
    x, t = pair((3, 2))
    for fn in (L.mse_loss, L.l1_loss, L.huber_loss, L.smooth_l1_loss):
        with pytest.raises(ValueError, match="same shape"):
            fn(x, t[:, :1])
        with pytest.raises(ValueError, match="reduction"):
            fn(x, t, reduction="batchmean")
        with pytest.raises(ValueError, match="NaN"):
            fn(x, torch.full_like(t, float("nan")))
        with pytest.raises(ValueError, match="floating"):
            fn(x.long(), t)
        with pytest.raises(ValueError, match="empty"):
            fn(x[:0], t[:0])
        with pytest.raises(TypeError, match="torch.Tensor"):
            fn([1.0], t)
    with pytest.raises(ValueError, match="delta"):
        L.huber_loss(x, t, delta=0.0)
    with pytest.raises(ValueError, match="beta"):
        L.smooth_l1_loss(x, t, beta=-1.0)
    with pytest.raises(ValueError, match="`weight` and `input` must have the same shape"):
        L.mse_loss(x, t, weight=torch.ones(3))
    with pytest.raises(ValueError, match="`weight` must be >= 0"):
        L.l1_loss(x, t, weight=-torch.ones(3, 2, dtype=torch.float64))
    with pytest.raises(ValueError, match="weight"):
        L.huber_loss(x, t, weight=torch.full((3, 2), float("inf"), dtype=torch.float64))
