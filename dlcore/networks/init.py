r"""Weight initialisation: Xavier/Glorot and Kaiming/He, as :mod:`torch.nn.init`.

Same names, arguments, defaults and numbers as :mod:`torch.nn.init` for the same
:class:`torch.Generator` state (the tests compare them). For a weight of shape
``(out, in, *kernel)`` the fans are :math:`n_\text{in} = \text{in}\cdot k` and
:math:`n_\text{out} = \text{out}\cdot k` with :math:`k` the product of the kernel sizes.

* Glorot & Bengio (2010) keep the variance of activations and of gradients by
  :math:`\operatorname{Var} W = \text{gain}^2\cdot 2/(n_\text{in}+n_\text{out})`;
* He et al. (2015) keep the forward (``mode="fan_in"``) or backward (``"fan_out"``) variance
  through rectifiers by :math:`\operatorname{Var} W = \text{gain}^2/n_\text{mode}`.

A uniform :math:`\mathcal U(-a, a)` has variance :math:`a^2/3`, so its bound is
:math:`a = \sqrt{3}\,\text{std}`.
"""

from __future__ import annotations

import math
import warnings

import torch

from dlcore import _checks

__all__ = ["calculate_gain", "xavier_uniform_", "xavier_normal_", "kaiming_uniform_",
           "kaiming_normal_"]

_LINEAR = ("linear", "conv1d", "conv2d", "conv3d", "conv_transpose1d", "conv_transpose2d",
           "conv_transpose3d")
NONLINEARITIES = (*_LINEAR, "sigmoid", "tanh", "relu", "leaky_relu", "selu")


def calculate_gain(nonlinearity: str, param: float | None = None) -> float:
    r"""The gain that keeps the activations' scale through ``nonlinearity``, as torch's.

    ======================  ===============================================================
    linear, conv*, sigmoid  :math:`1`
    tanh                    :math:`5/3`
    relu                    :math:`\sqrt 2`
    leaky_relu              :math:`\sqrt{2/(1+a^2)}`, :math:`a` = ``param`` (default 0.01)
    selu                    :math:`3/4` (empirical, PyTorch PR 50664)
    ======================  ===============================================================

    ReLU's :math:`\sqrt 2` is exact: for a symmetric :math:`z`,
    :math:`E[\operatorname{relu}(z)^2] = \tfrac12 E[z^2]` (He et al., 2015). tanh's and
    sigmoid's are conventions, not derived values.

    Args:
        nonlinearity: one of ``"linear"``, ``"conv1d"``, ``"conv2d"``, ``"conv3d"``,
            ``"conv_transpose1d"``, ``"conv_transpose2d"``, ``"conv_transpose3d"``,
            ``"sigmoid"``, ``"tanh"``, ``"relu"``, ``"leaky_relu"``, ``"selu"``.
        param: the negative slope for ``"leaky_relu"`` (a finite int or float, not a bool);
            ignored for the others, as in torch.

    Returns:
        float: the gain.

    Examples:
        >>> calculate_gain("relu")
        1.4142135623730951
        >>> calculate_gain("leaky_relu", 0.2)
        1.3867504905630728
    """
    _checks.choice(nonlinearity, "nonlinearity", NONLINEARITIES)
    if nonlinearity in _LINEAR or nonlinearity == "sigmoid":
        return 1
    if nonlinearity == "tanh":
        return 5.0 / 3
    if nonlinearity == "relu":
        return math.sqrt(2.0)
    if nonlinearity == "selu":
        return 3.0 / 4
    # leaky_relu
    if param is None:
        negative_slope = 0.01
    elif isinstance(param, bool) or not isinstance(param, (int, float)):
        raise ValueError(f"`param` (the negative slope of leaky_relu) must be an int or float, "
                         f"got {type(param).__name__} {param!r}")
    else:
        negative_slope = _checks.number(param, "param")
    return math.sqrt(2.0 / (1 + negative_slope**2))


def _fans(tensor) -> tuple[int, int]:
    _checks.tensor(tensor, "tensor", floating=True, allow_empty=True)
    if tensor.dim() < 2:
        raise ValueError(
            f"`tensor` must have at least 2 dimensions to compute fan in and fan out, got "
            f"shape {tuple(tensor.shape)}"
        )
    receptive = math.prod(tensor.shape[2:])  # 1 for a Linear weight
    return tensor.size(1) * receptive, tensor.size(0) * receptive


def _fan(tensor, mode) -> int:
    if not isinstance(mode, str) or mode.lower() not in ("fan_in", "fan_out"):
        raise ValueError(f"`mode` must be 'fan_in' or 'fan_out', got {mode!r}")
    fan_in, fan_out = _fans(tensor)
    return fan_in if mode.lower() == "fan_in" else fan_out


def _gain(gain) -> float:
    return _checks.number(gain, "gain")


def _xavier_std(tensor, gain) -> float:
    """Glorot's standard deviation, gain * sqrt(2 / (fan_in + fan_out))."""
    fan_in, fan_out = _fans(tensor)
    gain = _gain(gain)
    if fan_in + fan_out == 0:
        raise ValueError(f"`tensor` must have fan_in + fan_out > 0, got shape "
                         f"{tuple(tensor.shape)}")
    return gain * math.sqrt(2.0 / float(fan_in + fan_out))


def xavier_uniform_(tensor: torch.Tensor, gain: float = 1.0,
                    generator: torch.Generator | None = None) -> torch.Tensor:
    r"""Fill ``tensor`` in place from :math:`\mathcal U(-a, a)` (Glorot & Bengio, 2010).

    .. math:: a = \text{gain}\cdot\sqrt{\frac{6}{n_\text{in} + n_\text{out}}}

    Args:
        tensor: floating tensor with at least 2 dimensions.
        gain: scaling factor, e.g. :func:`calculate_gain` of the activation.
        generator: the :class:`torch.Generator` to sample from.

    Returns:
        torch.Tensor: ``tensor``.

    Examples:
        >>> g = torch.Generator().manual_seed(0)
        >>> w = xavier_uniform_(torch.empty(2, 4), generator=g)
        >>> bool(w.abs().max() <= 1.0)        # a = sqrt(6 / 6)
        True
    """
    std = _xavier_std(tensor, gain)
    a = math.sqrt(3.0) * std  # Var U(-a, a) = a^2 / 3 = std^2
    with torch.no_grad():
        return tensor.uniform_(-a, a, generator=generator)


def xavier_normal_(tensor: torch.Tensor, gain: float = 1.0,
                   generator: torch.Generator | None = None) -> torch.Tensor:
    r"""Fill ``tensor`` in place from :math:`\mathcal N(0, \text{std}^2)` (Glorot & Bengio).

    .. math:: \text{std} = \text{gain}\cdot\sqrt{\frac{2}{n_\text{in} + n_\text{out}}}

    Args:
        tensor: floating tensor with at least 2 dimensions.
        gain: scaling factor.
        generator: the :class:`torch.Generator` to sample from.

    Returns:
        torch.Tensor: ``tensor``.

    Examples:
        >>> g = torch.Generator().manual_seed(0)
        >>> w = xavier_normal_(torch.empty(300, 500), generator=g)
        >>> round(float(w.std()) * (800 / 2) ** 0.5, 1)
        1.0
    """
    std = _xavier_std(tensor, gain)
    with torch.no_grad():
        return tensor.normal_(0.0, std, generator=generator)


def _kaiming_std(tensor, a, mode, nonlinearity) -> float | None:
    _checks.tensor(tensor, "tensor", floating=True, allow_empty=True)
    if 0 in tensor.shape:
        warnings.warn("Initializing zero-element tensors is a no-op", stacklevel=3)
        return None
    fan = _fan(tensor, mode)
    return calculate_gain(nonlinearity, a) / math.sqrt(fan)


def kaiming_uniform_(tensor: torch.Tensor, a: float = 0, mode: str = "fan_in",
                     nonlinearity: str = "leaky_relu",
                     generator: torch.Generator | None = None) -> torch.Tensor:
    r"""Fill ``tensor`` in place from :math:`\mathcal U(-\text{bound}, \text{bound})` (He et al.).

    .. math:: \text{bound} = \text{gain}\cdot\sqrt{\frac{3}{n_\text{mode}}}

    With the defaults (``a=0``, ``"leaky_relu"``) the gain is :math:`\sqrt 2`, He's value for
    ReLU. (``nn.Linear``'s own default init calls this with ``a=sqrt(5)``, which gives
    :math:`\mathcal U(-1/\sqrt{n_\text{in}}, 1/\sqrt{n_\text{in}})`.)

    Args:
        tensor: floating tensor with at least 2 dimensions (a zero-element tensor is left
            alone with a warning, as in torch).
        a: negative slope of the rectifier after this layer (used with ``"leaky_relu"``).
        mode: ``"fan_in"`` (keeps the forward variance) or ``"fan_out"`` (the backward one).
        nonlinearity: a name accepted by :func:`calculate_gain`.
        generator: the :class:`torch.Generator` to sample from.

    Returns:
        torch.Tensor: ``tensor``.

    Examples:
        >>> g = torch.Generator().manual_seed(0)
        >>> w = kaiming_uniform_(torch.empty(3, 6), nonlinearity="relu", generator=g)
        >>> bool(w.abs().max() <= 1.0)        # bound = sqrt(2) * sqrt(3 / 6)
        True
    """
    std = _kaiming_std(tensor, a, mode, nonlinearity)
    if std is None:
        return tensor
    bound = math.sqrt(3.0) * std  # Var U(-bound, bound) = bound^2 / 3
    with torch.no_grad():
        return tensor.uniform_(-bound, bound, generator=generator)


def kaiming_normal_(tensor: torch.Tensor, a: float = 0, mode: str = "fan_in",
                    nonlinearity: str = "leaky_relu",
                    generator: torch.Generator | None = None) -> torch.Tensor:
    r"""Fill ``tensor`` in place from :math:`\mathcal N(0, \text{std}^2)` (He et al., 2015).

    .. math:: \text{std} = \frac{\text{gain}}{\sqrt{n_\text{mode}}}

    Args:
        tensor: floating tensor with at least 2 dimensions (zero-element: a no-op with a
            warning, as in torch).
        a: negative slope of the rectifier after this layer (used with ``"leaky_relu"``).
        mode: ``"fan_in"`` or ``"fan_out"``.
        nonlinearity: a name accepted by :func:`calculate_gain`.
        generator: the :class:`torch.Generator` to sample from.

    Returns:
        torch.Tensor: ``tensor``.

    Examples:
        >>> g = torch.Generator().manual_seed(0)
        >>> w = kaiming_normal_(torch.empty(400, 200), mode="fan_out", generator=g)
        >>> round(float(w.std()) * (400 / 2) ** 0.5, 1)
        1.0
    """
    std = _kaiming_std(tensor, a, mode, nonlinearity)
    if std is None:
        return tensor
    with torch.no_grad():
        return tensor.normal_(0, std, generator=generator)
