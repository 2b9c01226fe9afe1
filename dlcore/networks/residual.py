r"""Deep MLPs: plain, residual and ReZero blocks.

A residual block adds its input back, :math:`x + F(x)`, so the Jacobian of a block is
:math:`I + \partial F/\partial x` and the gradient has an identity path through every block
(He et al., 2016). ReZero (Bachlechner et al., 2020) scales the branch by a learnable scalar
initialised to zero, :math:`x + \alpha F(x)` with :math:`\alpha_0 = 0`, so a network of any depth
is the identity map at initialisation and each block "switches on" as :math:`\alpha` is learnt.
"""

from __future__ import annotations

import torch
from torch import nn

from dlcore import _checks
from dlcore.networks import _acts

__all__ = ["ResidualBlock", "ReZeroBlock", "deep_mlp"]

KINDS = ("plain", "residual", "rezero")


def _width(value, name: str) -> int:
    return _checks.number(value, name, low=1, integer=True)


class ResidualBlock(nn.Module):
    r"""Residual block :math:`x + f(W x + b)` of constant width.

    Args:
        width: number of features in and out.
        activation: ``"relu"`` (default), ``"tanh"``, ``"sigmoid"``, ``"leaky_relu"``,
            ``"elu"``, ``"gelu"``, ``"silu"``, ``"selu"`` or ``"softplus"``.

    Examples:
        >>> block = ResidualBlock(3)
        >>> block(torch.zeros(2, 3)).shape
        torch.Size([2, 3])
    """

    def __init__(self, width: int, *, activation: str = "relu") -> None:
        super().__init__()
        self.linear = nn.Linear(_width(width, "width"), width)
        self.act = _acts.MODULES[_acts.name(activation)]()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """:math:`x + f(Wx + b)` for a batch ``x`` of shape ``(N, width)``."""
        return x + self.act(self.linear(x))  # identity path + branch


class ReZeroBlock(nn.Module):
    r"""ReZero block :math:`x + \alpha\, f(W x + b)` with a learnable scalar :math:`\alpha`,
    initialised to 0 (Bachlechner et al., 2020), so the block is the identity at init.

    The gradient of the loss with respect to :math:`\alpha` at init is
    :math:`\sum \partial\mathcal L/\partial y \odot f(Wx+b)`, generally non-zero, so
    :math:`\alpha` moves on the first step while :math:`W` gets no gradient until it does.

    Args:
        width: number of features in and out.
        activation: as for :class:`ResidualBlock`.

    Attributes:
        linear: the block's ``nn.Linear(width, width)`` (PyTorch default init).
        alpha: the scalar ``nn.Parameter``, 0 at init.

    Examples:
        >>> block = ReZeroBlock(4)
        >>> x = torch.randn(2, 4)
        >>> bool(torch.equal(block(x), x)), float(block.alpha.detach())
        (True, 0.0)
    """

    def __init__(self, width: int, *, activation: str = "relu") -> None:
        super().__init__()
        self.linear = nn.Linear(_width(width, "width"), width)
        self.act = _acts.MODULES[_acts.name(activation)]()
        self.alpha = nn.Parameter(torch.zeros(()))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        r""":math:`x + \alpha f(Wx + b)` for a batch ``x`` of shape ``(N, width)``."""
        return x + self.alpha * self.act(self.linear(x))  # x + alpha f(W x + b)


def deep_mlp(in_features: int, width: int, depth: int, out_features: int, *,
             kind: str = "plain", activation: str = "relu") -> nn.Sequential:
    r"""A deep MLP of constant width, plain, residual or ReZero.

    Layout, the same for every kind (``len(model) == depth + 3``):
    ``model[0]`` = ``Linear(in_features, width)``, ``model[1]`` = the activation module,
    ``model[2:2+depth]`` = the ``depth`` hidden blocks, ``model[-1]`` =
    ``Linear(width, out_features)``. A block is, by ``kind``:

    * ``"plain"``: ``nn.Sequential(Linear(width, width), activation)``, :math:`f(Wx+b)`;
    * ``"residual"``: :class:`ResidualBlock`, :math:`x + f(Wx+b)`;
    * ``"rezero"``: :class:`ReZeroBlock`, :math:`x + \alpha f(Wx+b)`, :math:`\alpha_0 = 0`.

    Every ``nn.Linear`` has PyTorch's default init; re-initialise them with
    :mod:`dlcore.networks.init` if needed (``for m in model.modules(): if isinstance(m,
    nn.Linear): ...``).

    Args:
        in_features: input features, >= 1.
        width: width of every hidden layer, >= 1.
        depth: number of hidden blocks, >= 0.
        out_features: outputs, >= 1.
        kind: ``"plain"`` (default), ``"residual"`` or ``"rezero"``.
        activation: as for :class:`ResidualBlock`, default ``"relu"``.

    Returns:
        The model, an ``nn.Sequential``.

    Examples:
        >>> model = deep_mlp(10, 32, 4, 3, kind="rezero")
        >>> len(model), model(torch.zeros(5, 10)).shape
        (7, torch.Size([5, 3]))
    """
    _width(in_features, "in_features")
    _width(width, "width")
    _checks.number(depth, "depth", low=0, integer=True)
    _width(out_features, "out_features")
    _checks.choice(kind, "kind", KINDS)
    act = _acts.MODULES[_acts.name(activation)]
    layers = [nn.Linear(in_features, width), act()]
    for _ in range(depth):
        if kind == "plain":
            layers.append(nn.Sequential(nn.Linear(width, width), act()))
        elif kind == "residual":
            layers.append(ResidualBlock(width, activation=activation))
        else:
            layers.append(ReZeroBlock(width, activation=activation))
    layers.append(nn.Linear(width, out_features))
    return nn.Sequential(*layers)
