"""dlcore.optim.clip: clip_grad_norm and clip_grad_value against torch.nn.utils (several norms,
a single tensor, parameters without gradient) and their bad input."""

import math

import pytest
import torch
from optim_contract import DT

from dlcore import optim as O


def grads_pair(seed, scale):
    """Two identical parameter lists with gradients (one parameter without a gradient)."""
    g = torch.Generator().manual_seed(seed)
    shapes = [(4, 3), (3,), (2, 2, 2), (5,)]
    ps = [torch.zeros(s, dtype=DT, requires_grad=True) for s in shapes]
    for p in ps[:-1]:
        p.grad = torch.randn(p.shape, generator=g, dtype=DT) * scale
    qs = [p.detach().clone().requires_grad_(True) for p in ps]
    for p, q in zip(ps, qs, strict=True):
        q.grad = None if p.grad is None else p.grad.clone()
    return ps, qs


@pytest.mark.parametrize("norm_type", [2.0, 1.0, 3.0, math.inf])
@pytest.mark.parametrize("max_norm", [0.0, 0.5, 1e6])
@pytest.mark.parametrize("seed", [0, 1])
def test_clip_grad_norm_equals_torch(norm_type, max_norm, seed):
    ps, qs = grads_pair(seed, scale=3.0)
    total = O.clip_grad_norm(ps, max_norm, norm_type=norm_type)
    ref = torch.nn.utils.clip_grad_norm_(qs, max_norm, norm_type=norm_type, foreach=False)
    torch.testing.assert_close(total, ref, rtol=1e-14, atol=0)
    for p, q in zip(ps, qs, strict=True):
        if q.grad is None:
            assert p.grad is None
        else:
            torch.testing.assert_close(p.grad, q.grad, rtol=1e-14, atol=0)
    new_norm = O.clip_grad_norm(ps, 1e300, norm_type=norm_type)
    assert new_norm <= max(max_norm, 0.0) * (1 + 1e-9) or max_norm == 1e6


def test_clip_grad_norm_single_tensor_no_grads_and_direction():
    w = torch.zeros(2, dtype=DT, requires_grad=True)
    w.grad = torch.tensor([3.0, 4.0], dtype=DT)
    assert O.clip_grad_norm(w, 1.0).item() == 5.0
    torch.testing.assert_close(w.grad, torch.tensor([0.6, 0.8], dtype=DT), rtol=1e-6, atol=0)
    nothing = [torch.zeros(2, requires_grad=True)]
    assert torch.equal(O.clip_grad_norm(nothing, 1.0),
                       torch.nn.utils.clip_grad_norm_(nothing, 1.0))


@pytest.mark.parametrize("clip_value", [0.0, 0.5, 10.0])
def test_clip_grad_value_equals_torch(clip_value):
    ps, qs = grads_pair(2, scale=2.0)
    assert O.clip_grad_value(ps, clip_value) is None
    torch.nn.utils.clip_grad_value_(qs, clip_value, foreach=False)
    for p, q in zip(ps, qs, strict=True):
        assert (p.grad is None) == (q.grad is None)
        if p.grad is not None:
            assert torch.equal(p.grad, q.grad)
            assert p.grad.abs().max() <= clip_value


def test_clipping_rejects_bad_input():
    w = torch.zeros(2, requires_grad=True)
    w.grad = torch.ones(2)
    with pytest.raises(ValueError, match="`max_norm` must be >= 0"):
        O.clip_grad_norm([w], -1.0)
    with pytest.raises(ValueError, match="`norm_type` must be > 0"):
        O.clip_grad_norm([w], 1.0, norm_type=0)
    with pytest.raises(TypeError, match="`norm_type` must be a real number"):
        O.clip_grad_norm([w], 1.0, norm_type="2")
    with pytest.raises(ValueError, match="`clip_value` must be >= 0"):
        O.clip_grad_value([w], -0.5)
    with pytest.raises(TypeError, match="`parameters` must be a tensor or an iterable"):
        O.clip_grad_norm(3.0, 1.0)
    with pytest.raises(TypeError, match="`parameters` must be a torch.Tensor"):
        O.clip_grad_value([1.0, 2.0], 1.0)
    assert torch.equal(w.grad, torch.ones(2))  # rejected calls changed nothing
