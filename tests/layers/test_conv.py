"""dlcore.layers.conv: conv1d/conv2d equal to F.conv1d/F.conv2d; size, receptive-field and
cost formulas against torch's modules and against brute force."""

import random

import pytest
import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from dlcore.layers import conv1d, conv2d, conv_macs, conv_output_size, conv_params, receptive_field

D = torch.float64


def _case(rng, n):
    """Random shapes and hyperparameters of an n-d convolution that fits."""
    G = rng.choice([1, 1, 2, 3])
    C, O = G * rng.randint(1, 3), G * rng.randint(1, 3)
    k = tuple(rng.randint(1, 4) for _ in range(n))
    s = tuple(rng.randint(1, 3) for _ in range(n))
    d = tuple(rng.randint(1, 3) for _ in range(n))
    p = tuple(rng.randint(0, 2) for _ in range(n))
    size = tuple(d_ * (k_ - 1) + 1 + rng.randint(0, 6) for k_, d_ in zip(k, d, strict=True))
    return dict(N=rng.randint(1, 3), C=C, O=O, G=G, k=k, s=s, d=d, p=p, size=size)


def _tensors(c, dtype=D, bias=True):
    x = torch.randn(c["N"], c["C"], *c["size"], dtype=dtype, requires_grad=True)
    w = torch.randn(c["O"], c["C"] // c["G"], *c["k"], dtype=dtype, requires_grad=True)
    b = torch.randn(c["O"], dtype=dtype, requires_grad=True) if bias else None
    return x, w, b


def _parity(ours, ref, c, **kw):
    x, w, b = _tensors(c, bias=kw.pop("bias", True))
    args = dict(stride=c["s"], padding=c["p"], dilation=c["d"], groups=c["G"]) | kw
    y, y_ref = ours(x, w, b, **args), ref(x, w, b, **args)
    assert y.shape == y_ref.shape
    torch.testing.assert_close(y, y_ref, rtol=1e-10, atol=1e-10)
    g = torch.randn_like(y)
    inputs = [t for t in (x, w, b) if t is not None]
    grads = torch.autograd.grad(y, inputs, g)
    grads_ref = torch.autograd.grad(y_ref, inputs, g)
    for a, e in zip(grads, grads_ref, strict=True):
        torch.testing.assert_close(a, e, rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("seed", range(12))
def test_conv2d_equals_torch_values_and_grads(seed):
    rng = random.Random(seed)
    torch.manual_seed(seed)
    c = _case(rng, 2)
    _parity(conv2d, F.conv2d, c, bias=seed % 3 != 0)


@pytest.mark.parametrize("seed", range(8))
def test_conv1d_equals_torch_values_and_grads(seed):
    rng = random.Random(100 + seed)
    torch.manual_seed(seed)
    _parity(conv1d, F.conv1d, _case(rng, 1), bias=seed % 2 == 0)


@pytest.mark.filterwarnings("ignore:Using padding='same'")
@pytest.mark.parametrize("padding", ["same", "valid"])
@pytest.mark.parametrize("seed", range(3))
def test_string_padding_equals_torch(padding, seed):
    rng = random.Random(200 + seed)
    torch.manual_seed(seed)
    for n, ours, ref in ((1, conv1d, F.conv1d), (2, conv2d, F.conv2d)):
        c = _case(rng, n) | {"s": (1,) * n}
        c["k"] = tuple(rng.choice([2, 3, 4]) for _ in range(n))  # even kernels: odd total pad
        c["size"] = tuple(d * (k - 1) + 2 for k, d in zip(c["k"], c["d"], strict=True))
        _parity(ours, ref, c, padding=padding)


def test_float32_unbatched_and_int_arguments():
    torch.manual_seed(0)
    x = torch.randn(3, 9, 8)
    w = torch.randn(4, 3, 3, 2)
    torch.testing.assert_close(conv2d(x, w, stride=2, padding=1),
                               F.conv2d(x, w, stride=2, padding=1), rtol=1e-5, atol=1e-5)
    assert conv2d(x, w).shape == (4, 7, 7)
    x1 = torch.randn(2, 10)
    w1 = torch.randn(5, 2, 3)
    torch.testing.assert_close(conv1d(x1, w1, dilation=(2,)), F.conv1d(x1, w1, dilation=2),
                               rtol=1e-5, atol=1e-5)


def test_depthwise_pointwise_and_fully_connected_special_cases():
    torch.manual_seed(1)
    x = torch.randn(2, 6, 5, 5, dtype=D)
    dw = torch.randn(6, 1, 3, 3, dtype=D)
    torch.testing.assert_close(conv2d(x, dw, groups=6, padding=1),
                               F.conv2d(x, dw, groups=6, padding=1))
    # a kernel as large as the input is a fully connected layer on the flattened input
    w = torch.randn(7, 6, 5, 5, dtype=D)
    torch.testing.assert_close(conv2d(x, w).flatten(1), x.flatten(1) @ w.flatten(1).T)
    # 1×1 convolution = the same linear map at every pixel
    w1 = torch.randn(4, 6, 1, 1, dtype=D)
    torch.testing.assert_close(conv2d(x, w1), torch.einsum("oc,nchw->nohw", w1[:, :, 0, 0], x))


def test_gradcheck_small():
    torch.manual_seed(2)
    x = torch.randn(1, 2, 5, 4, dtype=D, requires_grad=True)
    w = torch.randn(4, 1, 2, 3, dtype=D, requires_grad=True)
    b = torch.randn(4, dtype=D, requires_grad=True)
    assert torch.autograd.gradcheck(
        lambda x, w, b: conv2d(x, w, b, stride=(2, 1), padding=1, dilation=(1, 2), groups=2),
        (x, w, b))


def test_extreme_values_follow_torch():
    x = torch.tensor([[[1e300, -1e300, 1e300, 3.0]]], dtype=D)
    w = torch.tensor([[[1.0, 1.0]]], dtype=D)
    torch.testing.assert_close(conv1d(x, w), F.conv1d(x, w))
    assert torch.isfinite(conv1d(x, w)).all()


@pytest.mark.parametrize("seed", range(20))
def test_conv_output_size_equals_torch(seed):
    rng = random.Random(300 + seed)
    c = _case(rng, 2)
    out = conv_output_size(c["size"], c["k"], stride=c["s"], padding=c["p"],
                           dilation=c["d"])
    ref = F.conv2d(torch.zeros(1, 1, *c["size"]), torch.zeros(1, 1, *c["k"]), stride=c["s"],
                   padding=c["p"], dilation=c["d"]).shape[2:]
    assert out == tuple(ref)
    # the same formula gives max pooling's output length
    pool = F.max_pool2d(torch.zeros(1, 1, *c["size"]), c["k"], stride=c["s"],
                        padding=tuple(min(p, k // 2) for p, k in zip(c["p"], c["k"],
                                                                   strict=True)),
                        dilation=c["d"])
    assert conv_output_size(c["size"], c["k"], stride=c["s"], dilation=c["d"],
                            padding=tuple(min(p, k // 2) for p, k in zip(c["p"], c["k"],
                                                                       strict=True))) \
        == tuple(pool.shape[2:])


def test_conv_output_size_scalars_and_broadcast():
    assert conv_output_size(8, 3) == 6
    assert conv_output_size(8, (3, 5)) == (6, 4)
    assert conv_output_size((8,), 3) == (6,)
    assert conv_output_size(7, 3, stride=2, padding=(1, 0)) == (4, 3)


def _brute_receptive_field(ks, ss, ds):
    """Support of d out_center / d input for a 1-D stack of all-ones kernels."""
    L = 1 + sum(d * (k - 1) * 2 for k, d in zip(ks, ds, strict=True)) * 8
    x = torch.zeros(1, 1, L, dtype=D, requires_grad=True)
    h = x
    for k, s, d in zip(ks, ss, ds, strict=True):
        h = F.conv1d(h, torch.ones(1, 1, k, dtype=D), stride=s, dilation=d)
    h[0, 0, h.shape[-1] // 2].backward()
    nz = x.grad[0, 0].nonzero().flatten()
    return int(nz.max() - nz.min() + 1)


@pytest.mark.parametrize("seed", range(15))
def test_receptive_field_equals_gradient_support(seed):
    rng = random.Random(400 + seed)
    depth = rng.randint(1, 4)
    ks = [rng.randint(1, 4) for _ in range(depth)]
    ss = [rng.randint(1, 2) for _ in range(depth)]
    ds = [rng.randint(1, 3) for _ in range(depth)]
    if ks[0] == 1 and depth == 1:
        ks[0] = 2
    assert receptive_field(ks, strides=ss, dilations=ds) == _brute_receptive_field(ks, ss, ds)


def test_receptive_field_known_values():
    assert receptive_field([3]) == 3
    assert receptive_field([3] * 5) == 11
    assert receptive_field([3, 3, 3], dilations=[1, 2, 4]) == 15
    assert receptive_field([3, 3, 3], dilations=(4, 4, 4)) == 25
    assert receptive_field([7, 3], strides=[2, 1]) == 11


@pytest.mark.parametrize("groups, bias, k", [(1, True, (3, 3)), (2, False, (5, 1)),
                                             (4, True, 3), (8, False, (1, 1))])
def test_conv_params_equals_module(groups, bias, k):
    dims = 1 if isinstance(k, int) else len(k)
    module = (nn.Conv1d if dims == 1 else nn.Conv2d)(8, 16, k, groups=groups, bias=bias)
    assert conv_params(8, 16, k, groups=groups, bias=bias) == sum(
        p.numel() for p in module.parameters())


@pytest.mark.parametrize("groups, k, size", [(1, (3, 3), (8, 8)), (3, (2, 4), (9, 7)),
                                             (6, 3, (6, 6))])
def test_conv_macs_equals_flop_counter(groups, k, size):
    x = torch.zeros(2, 6, *size)
    w = torch.zeros(12, 6 // groups, *((k, k) if isinstance(k, int) else k))
    with FlopCounterMode(display=False) as counter:
        y = F.conv2d(x, w, groups=groups)
    macs = conv_macs(6, 12, k, tuple(y.shape[2:]), groups=groups)
    assert counter.get_total_flops() == 2 * 2 * macs
    assert conv_macs(4, 4, 3, 10) == 4 * 10 * 4 * 3


@pytest.mark.parametrize("call, match", [
    (lambda: conv_output_size(2, 3), "kernel does not fit"),
    (lambda: conv_output_size(5, 3, dilation=3), "kernel does not fit"),
    (lambda: conv_output_size(0, 3), "size"),
    (lambda: conv_output_size((), 3), "size"),
    (lambda: conv_output_size("8", 3), "size"),
    (lambda: conv_output_size((8, 8), (3, 3, 3)), "kernel_size"),
    (lambda: conv_output_size(8, 3, stride=0), "stride"),
    (lambda: conv_output_size(8, 3, padding=-1), "padding"),
    (lambda: receptive_field([]), "kernel_sizes"),
    (lambda: receptive_field("33"), "kernel_sizes"),
    (lambda: receptive_field([3, 0]), "kernel_sizes"),
    (lambda: receptive_field([3, 3], strides=[1]), "strides"),
    (lambda: receptive_field([3, 3], dilations=[1, 0]), "dilations"),
    (lambda: conv_params(6, 4, 3, groups=4), "in_channels"),
    (lambda: conv_params(8, 6, 3, groups=4), "out_channels"),
    (lambda: conv_params(8, 8, 3, groups=0), "groups"),
    (lambda: conv_params(0, 8, 3), "in_channels"),
    (lambda: conv_macs(4, 4, (3, 3), (5, 5, 5)), "kernel_size"),
])
def test_helpers_reject_bad_input(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def test_helpers_reject_wrong_types():
    with pytest.raises(TypeError, match="bias"):
        conv_params(4, 4, 3, bias=1)
    with pytest.raises(ValueError, match="stride"):
        conv_output_size(8, 3, stride=1.5)


X = torch.randn(2, 4, 6, 6)
W = torch.randn(6, 2, 3, 3)


@pytest.mark.parametrize("kwargs, match", [
    (dict(x=X[0, 0], weight=W), "`x` must be 3 or 4-dimensional"),
    (dict(x=X, weight=W[0]), "`weight` must be 4-dimensional"),
    (dict(x=X, weight=W), "groups"),                                  # C = 4, C/G·G = 2
    (dict(x=X, weight=W, groups=3), "groups"),                        # 6 % 3 = 0, 2·3 != 4
    (dict(x=X, weight=torch.randn(5, 2, 3, 3), groups=2), "divisible"),
    (dict(x=X, weight=W, groups=0), "groups"),
    (dict(x=X, weight=W.double(), groups=2), "dtype"),
    (dict(x=X, weight=W, bias=torch.zeros(5), groups=2), "bias"),
    (dict(x=X, weight=W, bias=torch.zeros(6).double(), groups=2), "bias"),
    (dict(x=X, weight=W, stride=0, groups=2), "stride"),
    (dict(x=X, weight=W, stride=(1, 1, 1), groups=2), "stride"),
    (dict(x=X, weight=W, dilation=0, groups=2), "dilation"),
    (dict(x=X, weight=W, padding=-1, groups=2), "padding"),
    (dict(x=X, weight=W, padding="full", groups=2), "padding"),
    (dict(x=X, weight=W, padding="same", stride=2, groups=2), "stride 1"),
    (dict(x=X, weight=torch.randn(6, 2, 7, 3), groups=2), "kernel does not fit"),
    (dict(x=X.long(), weight=W, groups=2), "floating"),
    (dict(x=X[:, :, :0], weight=W, groups=2), "empty"),
])
def test_conv2d_rejects_bad_input(kwargs, match):
    with pytest.raises(ValueError, match=match):
        conv2d(**kwargs)


def test_conv_rejects_non_tensors():
    with pytest.raises(TypeError, match="`x`"):
        conv1d([[1.0, 2.0]], torch.ones(1, 1, 1))
    with pytest.raises(TypeError, match="`bias`"):
        conv1d(torch.ones(1, 1, 3), torch.ones(1, 1, 1), [0.0])
