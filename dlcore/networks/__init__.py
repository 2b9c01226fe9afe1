r"""Networks and backpropagation: the code of the chapter *Networks and backpropagation*.

* :func:`forward` / :func:`backward` — an MLP's forward pass and its hand-written backward pass
  (BP1–BP4 in matrix form), equal to autograd in float64 (module
  :mod:`~dlcore.networks.backprop`);
* :func:`gradient_check` — compare a gradient with central finite differences by the largest
  relative error (module :mod:`~dlcore.networks.gradcheck`);
* :func:`calculate_gain`, :func:`xavier_uniform_`, :func:`xavier_normal_`,
  :func:`kaiming_uniform_`, :func:`kaiming_normal_` — initialisation with the same arguments
  and numbers as :mod:`torch.nn.init` (module :mod:`~dlcore.networks.init`);
* :class:`ResidualBlock`, :class:`ReZeroBlock`, :func:`deep_mlp` — deep plain / residual /
  ReZero MLPs (module :mod:`~dlcore.networks.residual`).

Every public name is importable from ``dlcore.networks`` itself.
"""

from __future__ import annotations

from dlcore.networks import init
from dlcore.networks.backprop import Cache, backward, forward
from dlcore.networks.gradcheck import gradient_check
from dlcore.networks.init import (
    calculate_gain,
    kaiming_normal_,
    kaiming_uniform_,
    xavier_normal_,
    xavier_uniform_,
)
from dlcore.networks.residual import ResidualBlock, ReZeroBlock, deep_mlp

__all__ = [
    "Cache", "forward", "backward", "gradient_check",
    "calculate_gain", "xavier_uniform_", "xavier_normal_", "kaiming_uniform_", "kaiming_normal_",
    "ResidualBlock", "ReZeroBlock", "deep_mlp", "init",
]
