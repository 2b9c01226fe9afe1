"""Tests of dlcore.regularization.norm against torch.nn.functional and nn.BatchNorm."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from dlcore.regularization import batch_norm, group_norm, instance_norm, layer_norm

SHAPES = [(5, 3), (4, 3, 7), (3, 2, 4, 5), (2, 4, 3, 2, 2)]
# parity tolerance (outputs, gradients) per dtype. float32 gradients get 1e-4: where a
# group holds two values, x̂ = ±1 whatever x and the exact gradient is 0, so both sides
# return rounding noise of about 1e-4 (group_norm at (5, 6) with G = 3)
DTYPES = {torch.float64: (1e-10, 1e-9), torch.float32: (1e-5, 1e-4)}


def _rand(*shape, dtype=torch.float64, seed=0, scale=1.0, shift=0.0):
    g = torch.Generator().manual_seed(seed)
    return (torch.randn(*shape, generator=g, dtype=dtype) * scale + shift)


def _grads(fn, *tensors):
    """Gradients of a fixed random projection of fn's output w.r.t. ``tensors``."""
    leaves = [t.detach().clone().requires_grad_(True) for t in tensors]
    out = fn(*leaves)
    proj = _rand(*out.shape, dtype=out.dtype, seed=99)
    grads = torch.autograd.grad((out * proj).sum(), leaves)
    return out.detach(), grads


# ---------------------------------------------------------------- batch norm

@pytest.mark.parametrize("dtype", list(DTYPES))
@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("affine", [False, True])
def test_batch_norm_training_matches_torch_values_and_grads(shape, affine, dtype):
    tol, gtol = DTYPES[dtype]
    x = _rand(*shape, scale=3.0, shift=2.0, dtype=dtype)
    c = shape[1]
    w, b = ((_rand(c, seed=1, dtype=dtype), _rand(c, seed=2, dtype=dtype)) if affine
            else (None, None))
    tensors = [x] + ([w, b] if affine else [])

    def mine(x, *wb):
        return batch_norm(x, None, None, *wb, training=True)

    def ref(x, *wb):
        return F.batch_norm(x, None, None, *wb, training=True)

    y1, g1 = _grads(mine, *tensors)
    y2, g2 = _grads(ref, *tensors)
    torch.testing.assert_close(y1, y2, rtol=tol, atol=tol)
    for a, r in zip(g1, g2, strict=True):
        assert a.dtype == dtype
        torch.testing.assert_close(a, r, rtol=gtol, atol=gtol)


@pytest.mark.parametrize("dtype", list(DTYPES))
@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("momentum", [0.1, 0.5, 1.0, 0.0])
def test_batch_norm_buffers_match_module_over_steps(shape, momentum, dtype):
    tol = DTYPES[dtype][0]
    c = shape[1]
    module = {2: torch.nn.BatchNorm1d, 3: torch.nn.BatchNorm1d, 4: torch.nn.BatchNorm2d,
              5: torch.nn.BatchNorm3d}[len(shape)]
    bn = module(c, momentum=momentum, dtype=dtype)
    with torch.no_grad():
        bn.weight.copy_(_rand(c, seed=3))
        bn.bias.copy_(_rand(c, seed=4))
    rm, rv = torch.zeros(c, dtype=dtype), torch.ones(c, dtype=dtype)
    count = torch.tensor(0)
    for step in range(4):
        x = _rand(*shape, seed=10 + step, scale=2.0, shift=step, dtype=dtype)
        y = batch_norm(x, rm, rv, bn.weight.detach(), bn.bias.detach(), training=True,
                       momentum=momentum, num_batches_tracked=count)
        torch.testing.assert_close(y, bn(x).detach(), rtol=tol, atol=tol)
        torch.testing.assert_close(rm, bn.running_mean, rtol=tol, atol=tol)
        torch.testing.assert_close(rv, bn.running_var, rtol=tol, atol=tol)
    assert int(count) == int(bn.num_batches_tracked) == 4
    bn.eval()
    x = _rand(*shape, seed=50, dtype=dtype)
    y = batch_norm(x, rm, rv, bn.weight.detach(), bn.bias.detach(), training=False)
    torch.testing.assert_close(y, bn(x).detach(), rtol=tol, atol=tol)
    assert int(count) == 4  # inference does not count


def test_batch_norm_running_var_is_unbiased_and_functional_agrees():
    x = _rand(6, 3)
    rm, rv = torch.zeros(3, dtype=torch.float64), torch.zeros(3, dtype=torch.float64)
    rm2, rv2 = rm.clone(), rv.clone()
    batch_norm(x, rm, rv, training=True, momentum=1.0)
    F.batch_norm(x, rm2, rv2, training=True, momentum=1.0)
    torch.testing.assert_close(rv, x.var(0, correction=1))
    torch.testing.assert_close(rm, rm2)
    torch.testing.assert_close(rv, rv2)


def test_batch_norm_momentum_none_is_cumulative_average_like_module():
    bn = torch.nn.BatchNorm1d(3, momentum=None, dtype=torch.float64)
    rm, rv = torch.zeros(3, dtype=torch.float64), torch.ones(3, dtype=torch.float64)
    count = torch.tensor(0, dtype=torch.long)
    xs = [_rand(5, 3, seed=s, shift=s) for s in range(5)]
    for x in xs:
        batch_norm(x, rm, rv, training=True, momentum=None, num_batches_tracked=count)
        bn(x)
    torch.testing.assert_close(rm, bn.running_mean, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(rv, bn.running_var, rtol=1e-12, atol=1e-12)
    # the cumulative average of the batch statistics (the initial values weigh 0)
    torch.testing.assert_close(rm, torch.stack([x.mean(0) for x in xs]).mean(0))
    torch.testing.assert_close(rv, torch.stack([x.var(0) for x in xs]).mean(0))


def test_batch_norm_float32_and_extremes():
    x = _rand(8, 4, 3, dtype=torch.float32, scale=1e4)
    torch.testing.assert_close(batch_norm(x, None, None, training=True),
                               F.batch_norm(x, None, None, training=True),
                               rtol=1e-4, atol=1e-4)
    const = torch.full((4, 3), 1e4)
    b = torch.tensor([0.5, -1.0, 2.0])
    y = batch_norm(const, None, None, None, b, training=True)
    assert torch.isfinite(y).all()
    torch.testing.assert_close(y, b.expand(4, 3), rtol=0, atol=0)
    # a batch of one example with positions is allowed: N·L > 1 values per channel
    y = batch_norm(_rand(1, 3, 5), None, None, training=True)
    torch.testing.assert_close(y, F.batch_norm(_rand(1, 3, 5), None, None, training=True))


def test_batch_norm_does_not_touch_buffers_without_training():
    rm, rv = _rand(3), _rand(3).abs()
    rm0, rv0 = rm.clone(), rv.clone()
    batch_norm(_rand(4, 3), rm, rv, training=False)
    assert torch.equal(rm, rm0) and torch.equal(rv, rv0)


def test_batch_norm_bad_input():
    x = _rand(4, 3)
    rm, rv = torch.zeros(3, dtype=torch.float64), torch.ones(3, dtype=torch.float64)
    with pytest.raises(ValueError, match="Expected more than 1 value per channel"):
        batch_norm(_rand(1, 3), None, None, training=True)
    with pytest.raises(ValueError, match="must be given when training=False"):
        batch_norm(x, None, None, training=False)
    with pytest.raises(ValueError, match="both be tensors or both"):
        batch_norm(x, rm, None, training=True)
    with pytest.raises(ValueError, match=r"`running_mean` must have shape \(3,\)"):
        batch_norm(x, torch.zeros(4, dtype=torch.float64), rv, training=True)
    with pytest.raises(ValueError, match="`weight` must have the dtype"):
        batch_norm(x, rm, rv, torch.ones(3), training=True)
    with pytest.raises(ValueError, match="`running_var` must be >= 0"):
        batch_norm(x, rm, -rv, training=True)
    with pytest.raises(ValueError, match="`momentum` must be <= 1"):
        batch_norm(x, rm, rv, training=True, momentum=1.5)
    with pytest.raises(ValueError, match="`eps` must be > 0"):
        batch_norm(x, rm, rv, training=True, eps=0.0)
    with pytest.raises(ValueError, match="`num_batches_tracked` must be given"):
        batch_norm(x, rm, rv, training=True, momentum=None)
    with pytest.raises(ValueError, match="0-d integer tensor"):
        batch_norm(x, rm, rv, training=True, num_batches_tracked=torch.tensor(1.0))
    with pytest.raises(ValueError, match="at least 2 dimensions"):
        batch_norm(_rand(4), None, None, training=True)
    with pytest.raises(ValueError, match="must be finite"):
        batch_norm(torch.tensor([[1.0, float("nan")], [0.0, 1.0]]), None, None,
                   training=True)
    with pytest.raises(ValueError, match="floating-point"):
        batch_norm(torch.ones(4, 3, dtype=torch.long), None, None, training=True)
    with pytest.raises(TypeError, match="`training` must be a bool"):
        batch_norm(x, rm, rv, training=1)
    # momentum=None without buffers needs no counter, and is torch's plain training call
    torch.testing.assert_close(batch_norm(x, None, None, training=True, momentum=None),
                               F.batch_norm(x, None, None, training=True),
                               rtol=1e-12, atol=1e-12)


# ---------------------------------------------------------------- layer norm

@pytest.mark.parametrize("shape,k", [((5, 3), 1), ((4, 3, 7), 1), ((4, 3, 7), 2),
                                     ((2, 3, 4, 5), 3), ((6,), 1)])
@pytest.mark.parametrize("affine", [False, True])
@pytest.mark.parametrize("dtype", list(DTYPES))
def test_layer_norm_matches_torch(shape, k, affine, dtype):
    tol, gtol = DTYPES[dtype]
    x = _rand(*shape, scale=5.0, shift=-3.0, dtype=dtype)
    ns = shape[-k:]
    tensors = [x] + ([_rand(*ns, seed=1, dtype=dtype), _rand(*ns, seed=2, dtype=dtype)]
                     if affine else [])
    y1, g1 = _grads(lambda x, *wb: layer_norm(x, ns, *wb), *tensors)
    y2, g2 = _grads(lambda x, *wb: F.layer_norm(x, ns, *wb), *tensors)
    torch.testing.assert_close(y1, y2, rtol=tol, atol=tol)
    for a, r in zip(g1, g2, strict=True):
        torch.testing.assert_close(a, r, rtol=gtol, atol=gtol)


def test_layer_norm_int_shape_extremes_and_bad_input():
    x = _rand(4, 6, dtype=torch.float32)
    torch.testing.assert_close(layer_norm(x, 6), F.layer_norm(x, (6,)))
    assert torch.equal(layer_norm(torch.full((2, 5), -1e4), [5]), torch.zeros(2, 5))
    with pytest.raises(ValueError, match="trailing shape"):
        layer_norm(x, (4,))
    with pytest.raises(ValueError, match="int or a non-empty tuple"):
        layer_norm(x, ())
    with pytest.raises(ValueError, match="int or a non-empty tuple"):
        layer_norm(x, (6.0,))
    with pytest.raises(ValueError, match="int or a non-empty tuple"):
        layer_norm(x, True)
    with pytest.raises(ValueError, match="at least 3 dimensions"):
        layer_norm(x, (4, 6, 1))
    with pytest.raises(ValueError, match=r"`bias` must have shape \(6,\)"):
        layer_norm(x, 6, None, torch.zeros(3))


# ---------------------------------------------------------------- instance norm

@pytest.mark.parametrize("shape", SHAPES[1:])
@pytest.mark.parametrize("affine", [False, True])
@pytest.mark.parametrize("dtype", list(DTYPES))
def test_instance_norm_matches_torch(shape, affine, dtype):
    tol, gtol = DTYPES[dtype]
    x = _rand(*shape, scale=2.0, shift=1.0, dtype=dtype)
    c = shape[1]
    wb = [_rand(c, seed=1, dtype=dtype), _rand(c, seed=2, dtype=dtype)] if affine else []

    def mine(x, *wb):
        return instance_norm(x, None, None, *wb)

    def ref(x, *wb):
        return F.instance_norm(x, None, None, *wb)

    y1, g1 = _grads(mine, x, *wb)
    y2, g2 = _grads(ref, x, *wb)
    torch.testing.assert_close(y1, y2, rtol=tol, atol=tol)
    for a, r in zip(g1, g2, strict=True):
        torch.testing.assert_close(a, r, rtol=gtol, atol=gtol)


def test_instance_norm_running_stats_and_eval_path():
    c = 3
    rm, rv = torch.zeros(c, dtype=torch.float64), torch.ones(c, dtype=torch.float64)
    rm2, rv2 = rm.clone(), rv.clone()
    for s in range(3):
        x = _rand(4, c, 6, seed=s, shift=s)
        y = instance_norm(x, rm, rv, momentum=0.3)
        torch.testing.assert_close(y, F.instance_norm(x, rm2, rv2, momentum=0.3))
        torch.testing.assert_close(rm, rm2, rtol=1e-12, atol=1e-12)
        torch.testing.assert_close(rv, rv2, rtol=1e-12, atol=1e-12)
    x = _rand(2, c, 5, seed=9)
    w, b = _rand(c, seed=1), _rand(c, seed=2)
    torch.testing.assert_close(
        instance_norm(x, rm, rv, w, b, use_input_stats=False),
        F.instance_norm(x, rm, rv, w, b, use_input_stats=False))


def test_instance_norm_bad_input():
    with pytest.raises(ValueError, match="Expected more than 1 spatial element"):
        instance_norm(_rand(2, 3, 1))
    with pytest.raises(ValueError, match="at least 3 dimensions"):
        instance_norm(_rand(2, 3))
    with pytest.raises(ValueError, match="use_input_stats=False"):
        instance_norm(_rand(2, 3, 4), use_input_stats=False)
    with pytest.raises(ValueError, match="`momentum` must be >= 0"):
        instance_norm(_rand(2, 3, 4), momentum=-0.1)
    with pytest.raises(TypeError, match="`use_input_stats` must be a bool"):
        instance_norm(_rand(2, 3, 4), use_input_stats=None)


# ---------------------------------------------------------------- group norm

@pytest.mark.parametrize("shape,groups", [((5, 6), 3), ((4, 6, 7), 1), ((4, 6, 7), 2),
                                          ((4, 6, 7), 6), ((2, 4, 3, 5), 2),
                                          ((1, 8, 2, 2, 2), 4)])
@pytest.mark.parametrize("affine", [False, True])
@pytest.mark.parametrize("dtype", list(DTYPES))
def test_group_norm_matches_torch(shape, groups, affine, dtype):
    tol, gtol = DTYPES[dtype]
    x = _rand(*shape, scale=4.0, shift=2.0, dtype=dtype)
    c = shape[1]
    wb = [_rand(c, seed=1, dtype=dtype), _rand(c, seed=2, dtype=dtype)] if affine else []
    y1, g1 = _grads(lambda x, *wb: group_norm(x, groups, *wb), x, *wb)
    y2, g2 = _grads(lambda x, *wb: F.group_norm(x, groups, *wb), x, *wb)
    torch.testing.assert_close(y1, y2, rtol=tol, atol=tol)
    for a, r in zip(g1, g2, strict=True):
        torch.testing.assert_close(a, r, rtol=gtol, atol=gtol)


def test_group_norm_identities_with_layer_and_instance_norm():
    # against torch's layer and instance norm, not dlcore's (a shared bug would pass)
    x = _rand(3, 6, 5)
    torch.testing.assert_close(group_norm(x, 1), F.layer_norm(x, x.shape[1:]),
                               rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(group_norm(x, 6), F.instance_norm(x),
                               rtol=1e-12, atol=1e-12)
    y = group_norm(_rand(1, 4, 3, dtype=torch.float32), 2)  # a batch of one is fine
    assert y.dtype == torch.float32 and torch.isfinite(y).all()


def test_group_norm_bad_input():
    with pytest.raises(ValueError, match="must divide the 6 channels"):
        group_norm(_rand(2, 6, 3), 4)
    with pytest.raises(ValueError, match="`num_groups` must be >= 1"):
        group_norm(_rand(2, 6, 3), 0)
    with pytest.raises(TypeError, match="`num_groups` must be an int"):
        group_norm(_rand(2, 6, 3), 2.0)
    with pytest.raises(ValueError, match=r"`weight` must have shape \(6,\)"):
        group_norm(_rand(2, 6, 3), 2, torch.ones(2, dtype=torch.float64))
    with pytest.raises(TypeError, match="`x` must be a torch.Tensor"):
        group_norm([[1.0, 2.0]], 1)
