r"""Convolution written as a sum over the kernel, computed as unfold + matrix multiply.

For an input :math:`x` of shape :math:`(N, C_\text{in}, H, W)`, a weight :math:`w` of shape
:math:`(C_\text{out}, C_\text{in}/G, k_h, k_w)` and :math:`G` groups, PyTorch's
:func:`torch.nn.functional.conv2d` computes the *cross-correlation* (no kernel flip)

.. math::

    y_{n,o,i,j} = b_o + \sum_{c=0}^{C_\text{in}/G-1}\ \sum_{a=0}^{k_h-1}\ \sum_{b=0}^{k_w-1}
        w_{o,c,a,b}\; \tilde x_{n,\ g(o) C_\text{in}/G + c,\ i s_h + a d_h,\ j s_w + b d_w},

with :math:`\tilde x` the input zero-padded by :math:`p` on each side, stride :math:`s`,
dilation :math:`d` and :math:`g(o) = \lfloor o G / C_\text{out} \rfloor` the group of output
channel :math:`o`. Gathering, for every output position, the :math:`C_\text{in}/G\cdot k_h k_w`
inputs it reads into one column (*unfold*, "im2col") turns the sum into a product of the
weight matrix :math:`(C_\text{out}/G) \times (C_\text{in}/G\cdot k_h k_w)` with the column
matrix, one per group. :func:`conv1d` is the same with one spatial axis.

The helpers count what the layer costs: :func:`conv_output_size` (the output length),
:func:`receptive_field` (the input span one output of a stack sees), :func:`conv_params` and
:func:`conv_macs` (parameters and multiply–adds).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F

from dlcore import _checks

__all__ = ["conv1d", "conv2d", "conv_output_size", "receptive_field", "conv_params",
           "conv_macs"]


def _check_bias(bias: torch.Tensor | None, out_channels: int, x: torch.Tensor) -> None:
    """Raise unless ``bias`` is None or a float tensor of shape (out_channels,) with the
    dtype and device of ``x`` (shared by the convolutions of this package)."""
    if bias is None:
        return
    _checks.tensor(bias, "bias", floating=True)
    if bias.shape != (out_channels,) or bias.dtype != x.dtype or bias.device != x.device:
        raise ValueError(f"`bias` must have shape ({out_channels},), dtype {x.dtype} and "
                         f"device {x.device}, got {tuple(bias.shape)} {bias.dtype} on "
                         f"{bias.device}")


def _ints(value, name: str, n: int, *, low: int) -> tuple[int, ...]:
    """``value`` (an int or a sequence of ``n`` ints, each >= low) as an ``n``-tuple."""
    items = (value,) * n if isinstance(value, int) and not isinstance(value, bool) else value
    if isinstance(items, (str, bytes)) or not isinstance(items, Sequence) or len(items) != n:
        raise ValueError(f"`{name}` must be an int or a sequence of {n} ints, got {value!r}")
    for v in items:
        _checks.number(v, name, low=low, integer=True)
    return tuple(items)


def _shape(size, name: str) -> tuple[tuple[int, ...], bool]:
    """A size given as an int or a sequence of ints: (tuple, whether it was a scalar)."""
    scalar = isinstance(size, int) and not isinstance(size, bool)
    n = 1 if scalar else (len(size) if isinstance(size, Sequence) else 0)
    if n == 0 or isinstance(size, (str, bytes)):
        raise ValueError(f"`{name}` must be an int or a non-empty sequence of ints, got {size!r}")
    return _ints(size, name, n, low=1), scalar


def conv_output_size(size, kernel_size, *, stride=1, padding=0, dilation=1):
    r"""Length of a convolution's (or pooling's) output along each spatial axis.

    .. math::

        L_\text{out} = \left\lfloor \frac{L + 2p - d(k - 1) - 1}{s} \right\rfloor + 1 ,

    because a dilated kernel spans :math:`d(k-1) + 1` inputs and its first position starts at
    0 of the padded input of length :math:`L + 2p`, then moves by :math:`s`.

    Args:
        size: input length :math:`L` (int) or lengths per axis (tuple).
        kernel_size, stride, padding, dilation: an int (the same on every axis) or one per
            axis; ``padding`` is added on both sides.

    Returns:
        int if every argument is an int, else a tuple with one length per axis.

    Raises:
        ValueError: when an argument is not a positive int (``padding``: >= 0), the lengths
            disagree, or the output would be empty (the kernel does not fit).

    Examples:
        >>> conv_output_size(8, 3), conv_output_size(8, 3, padding=1, stride=2)
        (6, 4)
        >>> conv_output_size((28, 28), 5, dilation=(1, 2))
        (24, 20)
    """
    sizes, scalar = _shape(size, "size")
    # an int argument applies to every axis; a tuple fixes the number of axes
    lengths = {len(v) for v in (kernel_size, stride, padding, dilation)
               if isinstance(v, Sequence) and not isinstance(v, (str, bytes))}
    if lengths:
        scalar = False
        if len(sizes) == 1:
            sizes = sizes * max(lengths)
    n = len(sizes)
    k = _ints(kernel_size, "kernel_size", n, low=1)
    s = _ints(stride, "stride", n, low=1)
    p = _ints(padding, "padding", n, low=0)
    d = _ints(dilation, "dilation", n, low=1)
    out = tuple((L + 2 * p_ - d_ * (k_ - 1) - 1) // s_ + 1
                for L, k_, s_, p_, d_ in zip(sizes, k, s, p, d, strict=True))
    if min(out) <= 0:
        raise ValueError(
            f"the kernel does not fit: input size {size} with padding {padding} is shorter "
            f"than the dilated kernel span d(k-1)+1 for kernel_size={kernel_size}, "
            f"dilation={dilation}; output size would be {out if n > 1 else out[0]}"
        )
    return out[0] if scalar else out


def receptive_field(kernel_sizes, *, strides=None, dilations=None) -> int:
    r"""The receptive field of a stack of convolutions (or poolings) along one axis.

    Layer :math:`l` has kernel :math:`k_l`, stride :math:`s_l` and dilation :math:`d_l`. One
    output of layer :math:`l` reads :math:`k_l` outputs of layer :math:`l-1`, spaced
    :math:`d_l` apart, and neighbouring outputs of layer :math:`l-1` are
    :math:`J_{l-1} = \prod_{i<l} s_i` input positions apart (the *jump*), so

    .. math::

        r_0 = 1, \qquad r_l = r_{l-1} + d_l\,(k_l - 1) \prod_{i<l} s_i .

    Padding does not change :math:`r` (it only moves the window).

    Args:
        kernel_sizes: one kernel size per layer, first layer first (a pooling layer is a
            kernel too: 2×2 max pooling with stride 2 is ``k = 2, s = 2``).
        strides: one stride per layer (default all 1).
        dilations: one dilation per layer (default all 1).

    Returns:
        int: :math:`r_L`, the number of input positions along the axis that one output sees.

    Raises:
        ValueError: for an empty stack, lengths that differ, or entries that are not
            positive ints.

    Examples:
        >>> receptive_field([3, 3])                     # two 3×3 convs see what one 5×5 sees
        5
        >>> receptive_field([3, 3, 3], dilations=[1, 2, 4])
        15
        >>> receptive_field([3, 2, 3, 2], strides=[1, 2, 1, 2])
        10
    """
    if isinstance(kernel_sizes, (str, bytes)) or not isinstance(kernel_sizes, Sequence) \
            or len(kernel_sizes) == 0:
        raise ValueError(f"`kernel_sizes` must be a non-empty sequence of ints (one per "
                         f"layer), got {kernel_sizes!r}")
    n = len(kernel_sizes)
    k = _ints(kernel_sizes, "kernel_sizes", n, low=1)
    s = _ints(1 if strides is None else strides, "strides", n, low=1)
    d = _ints(1 if dilations is None else dilations, "dilations", n, low=1)
    r, jump = 1, 1
    for k_l, s_l, d_l in zip(k, s, d, strict=True):
        r += d_l * (k_l - 1) * jump       # r_l = r_{l-1} + d_l (k_l - 1) J_{l-1}
        jump *= s_l                       # J_l = J_{l-1} s_l
    return r


def _channels(in_channels, out_channels, groups) -> None:
    _checks.number(in_channels, "in_channels", low=1, integer=True)
    _checks.number(out_channels, "out_channels", low=1, integer=True)
    _checks.number(groups, "groups", low=1, integer=True)
    for name, c in (("in_channels", in_channels), ("out_channels", out_channels)):
        if c % groups:
            raise ValueError(f"`{name}` must be divisible by `groups`={groups}, got {c}")


def conv_params(in_channels: int, out_channels: int, kernel_size, *, groups: int = 1,
                bias: bool = True) -> int:
    r"""Number of parameters of a convolution layer.

    .. math::

        P = C_\text{out}\,\frac{C_\text{in}}{G}\,\prod_i k_i + [\text{bias}]\,C_\text{out} .

    Args:
        in_channels, out_channels: :math:`C_\text{in}`, :math:`C_\text{out}`.
        kernel_size: an int (1-D) or one size per spatial axis.
        groups: :math:`G`; it must divide both channel counts.
        bias: whether the layer has a bias.

    Returns:
        int: the parameter count, ``sum(p.numel() for p in nn.Conv2d(...).parameters())``.

    Examples:
        >>> conv_params(64, 128, (3, 3), bias=False)                 # standard 3×3
        73728
        >>> conv_params(64, 64, (3, 3), groups=64, bias=False) + conv_params(
        ...     64, 128, (1, 1), bias=False)                         # depthwise + pointwise
        8768
    """
    _channels(in_channels, out_channels, groups)
    k, _ = _shape(kernel_size, "kernel_size")
    _checks.flag(bias, "bias")
    return out_channels * (in_channels // groups) * math.prod(k) + (out_channels if bias else 0)


def conv_macs(in_channels: int, out_channels: int, kernel_size, output_size, *,
              groups: int = 1) -> int:
    r"""Multiply–adds of one convolution on one sample (bias additions not counted).

    Each of the :math:`C_\text{out}\prod_i L_i` outputs is a dot product of length
    :math:`(C_\text{in}/G)\prod_i k_i`:

    .. math::

        \text{MACs} = C_\text{out} \prod_i L_{\text{out},i}\ \cdot\
            \frac{C_\text{in}}{G}\prod_i k_i .

    A FLOP counter such as :class:`torch.utils.flop_counter.FlopCounterMode` reports
    :math:`2\times` this (one multiply and one add each) times the batch size.

    Args:
        in_channels, out_channels, groups: as :func:`conv_params`.
        kernel_size: an int or one size per spatial axis.
        output_size: the output's spatial size, an int or one per axis (see
            :func:`conv_output_size`); an int kernel is used on every axis.

    Returns:
        int: the multiply–add count.

    Examples:
        >>> conv_macs(3, 16, 3, (6, 6))        # 16·36 outputs, each 3·9 products
        15552
    """
    _channels(in_channels, out_channels, groups)
    out, _ = _shape(output_size, "output_size")
    k = _ints(kernel_size, "kernel_size", len(out), low=1)
    return out_channels * math.prod(out) * (in_channels // groups) * math.prod(k)


def _padding(padding, n: int, k, d, s) -> tuple[tuple[int, int], ...]:
    """Per-axis (left, right) zero padding, torch's rule for "same" (extra one on the right)."""
    if padding == "valid":
        return ((0, 0),) * n
    if padding == "same":
        if any(v != 1 for v in s):
            raise ValueError(f"`padding`='same' needs stride 1 (as torch), got stride={s}")
        total = [d_ * (k_ - 1) for k_, d_ in zip(k, d, strict=True)]
        return tuple((t // 2, t - t // 2) for t in total)
    if isinstance(padding, str):
        raise ValueError(f"`padding` must be an int, a tuple, 'same' or 'valid', "
                         f"got {padding!r}")
    return tuple((p, p) for p in _ints(padding, "padding", n, low=0))


def _convnd(x, weight, bias, stride, padding, dilation, groups, n: int) -> torch.Tensor:
    _checks.tensor(x, "x", floating=True)
    _checks.tensor(weight, "weight", floating=True)
    _checks.ndim(x, "x", (n + 1, n + 2))
    _checks.ndim(weight, "weight", (n + 2,))
    unbatched = x.ndim == n + 1
    if unbatched:
        x = x.unsqueeze(0)
    if weight.dtype != x.dtype or weight.device != x.device:
        raise ValueError(f"`weight` must have the dtype and device of `x`, got "
                         f"{weight.dtype} on {weight.device} and {x.dtype} on {x.device}")
    N, C = x.shape[:2]
    O, Cg = weight.shape[:2]
    k = tuple(weight.shape[2:])
    _checks.number(groups, "groups", low=1, integer=True)
    if O % groups or Cg * groups != C:
        raise ValueError(
            f"`weight` of shape {tuple(weight.shape)} with groups={groups} needs out channels "
            f"divisible by groups and in channels C/groups = {C}/{groups}; `x` has C = {C}")
    _check_bias(bias, O, x)
    s = _ints(stride, "stride", n, low=1)
    d = _ints(dilation, "dilation", n, low=1)
    pads = _padding(padding, n, k, d, s)
    # x̃: zero padding on each spatial axis (F.pad lists the last axis first)
    xp = F.pad(x, [v for lo_hi in reversed(pads) for v in lo_hi])
    out = conv_output_size(tuple(xp.shape[2:]), k, stride=s, dilation=d)  # raises if empty
    # unfold: axis 2+i becomes (L_out, span) with span = d(k-1)+1 inputs moved by s, and
    # every d-th of them is a kernel tap: cols[n, c, i, j, a, b] = x̃[n, c, i s + a d, j s + b d]
    cols = xp
    for i in range(n):
        span = d[i] * (k[i] - 1) + 1
        cols = cols.unfold(2 + i, span, s[i])[..., :: d[i]]
    # -> (N, G, C/G · k_h k_w, L_out): one column per output position, per group
    order = [0, 1, *range(2 + n, 2 + 2 * n), *range(2, 2 + n)]
    cols = cols.permute(order).reshape(N, groups, Cg * math.prod(k), math.prod(out))
    # y = W · cols, a (C_out/G × C_in/G·Πk) matrix times columns, for each group
    y = weight.reshape(groups, O // groups, Cg * math.prod(k)) @ cols
    y = y.reshape(N, O, *out)
    if bias is not None:
        y = y + bias.reshape(1, O, *(1,) * n)
    return y.squeeze(0) if unbatched else y


def conv1d(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None = None, *,
           stride=1, padding=0, dilation=1, groups: int = 1) -> torch.Tensor:
    r"""1-D convolution (cross-correlation) as unfold + matrix multiply, as ``F.conv1d``.

    .. math::

        y_{n,o,i} = b_o + \sum_{c}\sum_{a=0}^{k-1} w_{o,c,a}\,
            \tilde x_{n,\ g(o) C_\text{in}/G + c,\ i s + a d}

    (see :mod:`dlcore.layers.conv` for the notation).

    Args:
        x: input of shape :math:`(N, C_\text{in}, L)` or unbatched :math:`(C_\text{in}, L)`.
        weight: :math:`(C_\text{out}, C_\text{in}/G, k)`, same dtype and device as ``x``.
        bias: optional :math:`(C_\text{out},)`.
        stride, dilation: positive int (or a 1-tuple).
        padding: zeros on both sides: an int, ``"valid"`` (0) or ``"same"`` (output length =
            input length, stride 1 only; an odd total puts the extra zero on the right, as
            torch).
        groups: :math:`G`, dividing both channel counts.

    Returns:
        Tensor of shape :math:`(N, C_\text{out}, L_\text{out})`, :math:`L_\text{out}` from
        :func:`conv_output_size`.

    Raises:
        ValueError: wrong shapes, channels not divisible by ``groups``, bad stride, padding
            or dilation, a kernel longer than the padded input.

    Examples:
        >>> x = torch.tensor([[[1., 2., 3., 4.]]])
        >>> conv1d(x, torch.tensor([[[1., 0., -1.]]]))     # x[i] - x[i+2]: no flip
        tensor([[[-2., -2.]]])
    """
    return _convnd(x, weight, bias, stride, padding, dilation, groups, 1)


def conv2d(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None = None, *,
           stride=1, padding=0, dilation=1, groups: int = 1) -> torch.Tensor:
    r"""2-D convolution (cross-correlation) as unfold + matrix multiply, as ``F.conv2d``.

    .. math::

        y_{n,o,i,j} = b_o + \sum_{c}\sum_{a=0}^{k_h-1}\sum_{b=0}^{k_w-1} w_{o,c,a,b}\,
            \tilde x_{n,\ g(o) C_\text{in}/G + c,\ i s_h + a d_h,\ j s_w + b d_w}

    (see :mod:`dlcore.layers.conv`).

    Args:
        x: input :math:`(N, C_\text{in}, H, W)` or unbatched :math:`(C_\text{in}, H, W)`.
        weight: :math:`(C_\text{out}, C_\text{in}/G, k_h, k_w)`, dtype and device of ``x``.
        bias: optional :math:`(C_\text{out},)`.
        stride, dilation: a positive int or a pair ``(h, w)``.
        padding: an int or pair of zeros added on both sides, ``"valid"`` or ``"same"``
            (stride 1 only; an odd total puts the extra row/column at the end, as torch).
        groups: :math:`G`; ``groups = C_in`` with ``C_out = C_in`` is a depthwise
            convolution.

    Returns:
        Tensor :math:`(N, C_\text{out}, H_\text{out}, W_\text{out})`.

    Raises:
        ValueError: as :func:`conv1d`.

    Examples:
        >>> x = torch.arange(16.).reshape(1, 1, 4, 4)
        >>> conv2d(x, torch.ones(1, 1, 2, 2), stride=2)   # sums of 2×2 blocks
        tensor([[[[10., 18.],
                  [42., 50.]]]])
    """
    return _convnd(x, weight, bias, stride, padding, dilation, groups, 2)
