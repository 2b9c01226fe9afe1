"""dlcore.networks.init against torch.nn.init: same numbers for the same generator state."""

import math

import pytest
import torch
from torch.nn import init as TI

from dlcore.networks import init as DI

SHAPES = [(3, 5), (64, 17), (1, 1), (8, 4, 3), (6, 2, 3, 3)]
TORCH_NONLINEARITIES = ["linear", "conv1d", "conv2d", "conv3d", "conv_transpose1d",
                        "conv_transpose2d", "conv_transpose3d", "sigmoid", "tanh", "relu",
                        "leaky_relu", "selu"]


def pair(fn_ours, fn_torch, shape, dtype=torch.float32, **kw):
    a = torch.empty(shape, dtype=dtype)
    b = torch.empty(shape, dtype=dtype)
    fn_ours(a, generator=torch.Generator().manual_seed(7), **kw)
    fn_torch(b, generator=torch.Generator().manual_seed(7), **kw)
    return a, b


def test_meta_every_torch_nonlinearity_is_known():
    assert set(DI.NONLINEARITIES) == set(TORCH_NONLINEARITIES)


@pytest.mark.parametrize("nonlinearity", TORCH_NONLINEARITIES)
@pytest.mark.parametrize("param", [None, 0.2, 1, 0.0, -0.5])
def test_calculate_gain_equals_torch(nonlinearity, param):
    assert DI.calculate_gain(nonlinearity, param) == TI.calculate_gain(nonlinearity, param)


def test_gain_values():
    assert DI.calculate_gain("tanh") == 5 / 3 and DI.calculate_gain("selu") == 0.75
    assert DI.calculate_gain("leaky_relu") == math.sqrt(2 / (1 + 0.01 ** 2))


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("gain", [1.0, 5 / 3, math.sqrt(2), 0.3])
@pytest.mark.parametrize("name", ["xavier_uniform_", "xavier_normal_"])
def test_xavier_equals_torch(shape, gain, name):
    a, b = pair(getattr(DI, name), getattr(TI, name), shape, gain=gain)
    assert torch.equal(a, b)


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("mode", ["fan_in", "fan_out", "FAN_OUT"])
@pytest.mark.parametrize("nonlinearity,a", [("leaky_relu", 0), ("leaky_relu", 0.2),
                                            ("leaky_relu", math.sqrt(5)), ("relu", 0),
                                            ("tanh", 0), ("selu", 0), ("linear", 0),
                                            ("sigmoid", 0)])
@pytest.mark.parametrize("name", ["kaiming_uniform_", "kaiming_normal_"])
def test_kaiming_equals_torch(shape, mode, nonlinearity, a, name):
    x, y = pair(getattr(DI, name), getattr(TI, name), shape, a=a, mode=mode,
                nonlinearity=nonlinearity)
    assert torch.equal(x, y)


@pytest.mark.parametrize("name", ["xavier_uniform_", "xavier_normal_", "kaiming_uniform_",
                                  "kaiming_normal_"])
def test_defaults_float64_and_global_generator(name):
    a, b = pair(getattr(DI, name), getattr(TI, name), (9, 11), dtype=torch.float64)
    assert torch.equal(a, b)
    torch.manual_seed(3)
    x = getattr(DI, name)(torch.empty(4, 6))
    torch.manual_seed(3)
    y = getattr(TI, name)(torch.empty(4, 6))
    assert torch.equal(x, y)


def test_returns_the_same_tensor_in_place_and_without_graph():
    w = torch.empty(3, 4, requires_grad=True)
    assert DI.kaiming_normal_(w) is w and DI.xavier_uniform_(w) is w
    assert w.grad_fn is None


def test_one_d_tensor_raises_like_torch():
    for name in ["xavier_uniform_", "xavier_normal_", "kaiming_uniform_", "kaiming_normal_"]:
        with pytest.raises(ValueError):
            getattr(TI, name)(torch.empty(5))
        with pytest.raises(ValueError, match=r"`tensor` must have at least 2 dimensions.*\(5,\)"):
            getattr(DI, name)(torch.empty(5))


def test_zero_element_tensors():
    for name in ["kaiming_uniform_", "kaiming_normal_"]:
        with pytest.warns(UserWarning, match="no-op"):
            w = torch.empty(0, 3)
            assert getattr(DI, name)(w) is w
    assert DI.xavier_uniform_(torch.empty(0, 3)).shape == (0, 3)
    for name in ["xavier_uniform_", "xavier_normal_"]:
        with pytest.raises(ValueError, match="fan_in \\+ fan_out > 0"):
            getattr(DI, name)(torch.empty(0, 0))


def test_bad_input():
    with pytest.raises(ValueError, match="`nonlinearity` must be one of"):
        DI.calculate_gain("swish")
    with pytest.raises(ValueError):
        TI.calculate_gain("leaky_relu", True)
    with pytest.raises(ValueError, match="`param`.*must be an int or float, got bool"):
        DI.calculate_gain("leaky_relu", True)
    with pytest.raises(ValueError, match="`param`.*got str"):
        DI.calculate_gain("leaky_relu", "0.1")
    with pytest.raises(ValueError, match="`param` must be finite"):
        DI.calculate_gain("leaky_relu", float("nan"))
    with pytest.raises(ValueError, match="`mode` must be 'fan_in' or 'fan_out', got 'in'"):
        DI.kaiming_uniform_(torch.empty(2, 2), mode="in")
    with pytest.raises(ValueError, match="`mode`"):
        DI.kaiming_normal_(torch.empty(2, 2), mode=None)
    with pytest.raises(TypeError, match="`tensor` must be a torch.Tensor"):
        DI.xavier_normal_([[0.0]])
    with pytest.raises(ValueError, match="`tensor` must have a floating-point dtype"):
        DI.kaiming_normal_(torch.zeros(2, 2, dtype=torch.long))
    with pytest.raises(ValueError, match="`gain` must be finite"):
        DI.xavier_uniform_(torch.empty(2, 2), gain=float("inf"))
    with pytest.raises(TypeError, match="`gain`"):
        DI.xavier_normal_(torch.empty(2, 2), gain="1")
