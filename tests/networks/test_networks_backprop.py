"""dlcore.networks.forward/backward against nn.Sequential and autograd (float64)."""

import pytest
import torch
from torch import nn

from dlcore import networks as N

TORCH_ACT = {"sigmoid": nn.Sigmoid, "tanh": nn.Tanh, "relu": nn.ReLU, "leaky_relu": nn.LeakyReLU,
             "elu": nn.ELU, "gelu": nn.GELU, "silu": nn.SiLU, "selu": nn.SELU,
             "softplus": nn.Softplus}


def make_params(sizes, seed=0, dtype=torch.float64, scale=1.0):
    g = torch.Generator().manual_seed(seed)
    return [(torch.randn(o, i, generator=g, dtype=dtype) * scale / i ** 0.5,
             torch.randn(o, generator=g, dtype=dtype) * 0.1)
            for i, o in zip(sizes[:-1], sizes[1:], strict=True)]


def sizes_for(depth, seed):
    g = torch.Generator().manual_seed(100 + seed)
    return [int(v) for v in torch.randint(1, 9, (depth + 1,), generator=g)]


def sequential(params, activation):
    layers = []
    for l, (W, b) in enumerate(params):
        lin = nn.Linear(W.shape[1], W.shape[0], dtype=W.dtype)
        with torch.no_grad():
            lin.weight.copy_(W)
            lin.bias.copy_(b)
        layers.append(lin)
        if l < len(params) - 1:
            layers.append(TORCH_ACT[activation]())
    return nn.Sequential(*layers)


def autograd_grads(X, params, activation, grad_output):
    leaves = [(W.clone().requires_grad_(), b.clone().requires_grad_()) for W, b in params]
    a = X
    for l, (W, b) in enumerate(leaves):
        z = a @ W.T + b
        a = TORCH_ACT[activation]()(z) if l < len(leaves) - 1 else z
    flat = [t for pair in leaves for t in pair]
    grads = torch.autograd.grad(a, flat, grad_output)
    return [(grads[2 * i], grads[2 * i + 1]) for i in range(len(leaves))]


@pytest.mark.parametrize("activation", list(TORCH_ACT))
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_forward_equals_sequential(activation, dtype):
    params = make_params([5, 7, 4, 3], seed=1, dtype=dtype)
    X = torch.randn(6, 5, generator=torch.Generator().manual_seed(2), dtype=dtype)
    out, cache = N.forward(X, params, activation=activation)
    with torch.no_grad():
        want = sequential(params, activation)(X)
    tol = dict(rtol=1e-12, atol=1e-13) if dtype == torch.float64 else dict(rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(out, want, **tol)
    assert cache.activation == activation
    assert len(cache.inputs) == len(cache.preacts) == 3
    assert cache.inputs[0] is X and cache.preacts[-1] is out
    assert [tuple(a.shape) for a in cache.inputs] == [(6, 5), (6, 7), (6, 4)]


@pytest.mark.parametrize("activation", ["sigmoid", "tanh", "relu", "gelu", "selu"])
@pytest.mark.parametrize("depth", [1, 2, 3, 4])
@pytest.mark.parametrize("batch", [1, 5])
@pytest.mark.parametrize("seed", [0, 1])
def test_backward_equals_autograd(activation, depth, batch, seed):
    sizes = sizes_for(depth, seed)
    params = make_params(sizes, seed=seed)
    g = torch.Generator().manual_seed(seed + 10)
    X = torch.randn(batch, sizes[0], generator=g, dtype=torch.float64)
    grad_output = torch.randn(batch, sizes[-1], generator=g, dtype=torch.float64)
    out, cache = N.forward(X, params, activation=activation)
    got = N.backward(cache, grad_output)
    want = autograd_grads(X, params, activation, grad_output)
    assert len(got) == depth
    for (dW, db), (eW, eb), (W, b) in zip(got, want, params, strict=True):
        assert dW.shape == W.shape and db.shape == b.shape
        assert not dW.requires_grad
        torch.testing.assert_close(dW, eW, rtol=1e-11, atol=1e-13)
        torch.testing.assert_close(db, eb, rtol=1e-11, atol=1e-13)


def test_backward_equals_autograd_through_forward_itself():
    params = make_params([4, 6, 6, 2], seed=3)
    leaves = [(W.clone().requires_grad_(), b.clone().requires_grad_()) for W, b in params]
    X = torch.randn(8, 4, dtype=torch.float64, generator=torch.Generator().manual_seed(4))
    y = torch.tensor([0, 1, 1, 0, 1, 0, 0, 1])
    out, cache = N.forward(X, leaves, activation="tanh")
    loss = nn.functional.cross_entropy(out, y)
    loss.backward()
    p = torch.softmax(out.detach(), dim=1)
    grad_out = (p - nn.functional.one_hot(y, 2).double()) / len(y)
    for (dW, db), (W, b) in zip(N.backward(cache, grad_out), leaves, strict=True):
        torch.testing.assert_close(dW, W.grad, rtol=1e-12, atol=1e-14)
        torch.testing.assert_close(db, b.grad, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("activation", ["sigmoid", "tanh", "relu"])
def test_extreme_preactivations_give_no_nan(activation):
    params = make_params([3, 5, 5, 2], seed=5, scale=1e4)  # |z| up to ~1e4
    X = torch.randn(4, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(6)) * 10
    grad_output = torch.ones(4, 2, dtype=torch.float64)
    out, cache = N.forward(X, params, activation=activation)
    assert cache.preacts[0].abs().max() > 1e3
    got = N.backward(cache, grad_output)
    want = autograd_grads(X, params, activation, grad_output)
    for (dW, db), (eW, eb) in zip(got, want, strict=True):
        assert torch.isfinite(eW).all() and torch.isfinite(dW).all()
        torch.testing.assert_close(dW, eW, rtol=1e-10, atol=1e-8)
        torch.testing.assert_close(db, eb, rtol=1e-10, atol=1e-8)


def test_no_input_is_modified():
    params = make_params([3, 4, 2], seed=7)
    copies = [(W.clone(), b.clone()) for W, b in params]
    X = torch.randn(2, 3, dtype=torch.float64)
    X0 = X.clone()
    _, cache = N.forward(X, params)
    N.backward(cache, torch.ones(2, 2, dtype=torch.float64))
    assert torch.equal(X, X0)
    for (W, b), (W0, b0) in zip(params, copies, strict=True):
        assert torch.equal(W, W0) and torch.equal(b, b0)


def test_forward_rejects_bad_input():
    params = make_params([3, 4, 2])
    X = torch.zeros(2, 3, dtype=torch.float64)
    with pytest.raises(TypeError, match="`X`"):
        N.forward([[0.0]], params)
    with pytest.raises(ValueError, match="`X` must be 2-dimensional"):
        N.forward(torch.zeros(3, dtype=torch.float64), params)
    with pytest.raises(ValueError, match="`X` must not contain NaN"):
        N.forward(torch.full((2, 3), float("nan"), dtype=torch.float64), params)
    with pytest.raises(ValueError, match="`activation` must be one of"):
        N.forward(X, params, activation="swish")
    with pytest.raises(TypeError, match="`activation` must be a str"):
        N.forward(X, params, activation=nn.ReLU)
    with pytest.raises(ValueError, match="non-empty list of \\(W, b\\) pairs, got list of len"):
        N.forward(X, [])
    with pytest.raises(ValueError, match="non-empty list of \\(W, b\\) pairs, got Tensor"):
        N.forward(X, torch.zeros(3))
    with pytest.raises(ValueError, match="`params\\[1\\]` must be a \\(W, b\\) pair"):
        N.forward(X, [params[0], params[1][0]])
    with pytest.raises(ValueError, match=r"`W1` must have shape \(out, 3\).*input features of X"
                                         r".*got \(4, 5\)"):
        N.forward(X, make_params([5, 4, 2]))
    with pytest.raises(ValueError, match=r"`W2` must have shape \(out, 4\).*outputs of layer 1"):
        N.forward(X, [params[0], make_params([5, 2])[0]])
    with pytest.raises(ValueError, match=r"`b1` must have shape \(4,\).*got \(3,\)"):
        N.forward(X, [(params[0][0], torch.zeros(3, dtype=torch.float64)), params[1]])
    with pytest.raises(ValueError, match="`W1` must be 2-dimensional"):
        N.forward(X, [(torch.zeros(4, 3, 1, dtype=torch.float64), params[0][1]), params[1]])
    with pytest.raises(ValueError, match="`b2` must be 1-dimensional"):
        N.forward(X, [params[0], (params[1][0], torch.zeros(2, 1, dtype=torch.float64))])
    with pytest.raises(ValueError, match="must have the dtype of `X`"):
        N.forward(X.float(), params)


def test_backward_rejects_bad_input():
    params = make_params([3, 4, 2])
    _, cache = N.forward(torch.zeros(2, 3, dtype=torch.float64), params)
    with pytest.raises(TypeError, match="`cache` must be the Cache"):
        N.backward((1, 2), torch.zeros(2, 2))
    with pytest.raises(ValueError, match=r"`grad_output` must have the shape of the output "
                                         r"\(2, 2\), got \(2, 3\)"):
        N.backward(cache, torch.zeros(2, 3, dtype=torch.float64))
    with pytest.raises(ValueError, match="`grad_output` must have a floating"):
        N.backward(cache, torch.zeros(2, 2, dtype=torch.long))
    with pytest.raises(ValueError, match="`grad_output` must not contain NaN"):
        N.backward(cache, torch.full((2, 2), float("nan"), dtype=torch.float64))
