"""The activations the networks package knows: name -> (function, derivative, module)."""

from __future__ import annotations

from torch import nn

from dlcore import _checks
from dlcore import activations as A

# name -> (f, f') from dlcore.activations, used by forward/backward (hand-derived backprop)
FUNCTIONS = {
    "sigmoid": (A.sigmoid, A.sigmoid_grad),
    "tanh": (A.tanh, A.tanh_grad),
    "relu": (A.relu, A.relu_grad),
    "leaky_relu": (A.leaky_relu, A.leaky_relu_grad),
    "elu": (A.elu, A.elu_grad),
    "gelu": (A.gelu, A.gelu_grad),
    "silu": (A.silu, A.silu_grad),
    "selu": (A.selu, A.selu_grad),
    "softplus": (A.softplus, A.softplus_grad),
}

# name -> torch module class, used by the nn.Module builders (fast, autograd)
MODULES = {
    "sigmoid": nn.Sigmoid, "tanh": nn.Tanh, "relu": nn.ReLU, "leaky_relu": nn.LeakyReLU,
    "elu": nn.ELU, "gelu": nn.GELU, "silu": nn.SiLU, "selu": nn.SELU, "softplus": nn.Softplus,
}

NAMES = tuple(FUNCTIONS)


def name(activation, arg: str = "activation") -> str:
    """Return ``activation`` if it is a known activation name, else raise naming ``arg``."""
    if not isinstance(activation, str):
        raise TypeError(f"`{arg}` must be a str, one of {NAMES}, got {type(activation).__name__}")
    return _checks.choice(activation, arg, NAMES)
