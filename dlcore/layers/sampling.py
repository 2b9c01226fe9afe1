r"""Bilinear sampling, and the two layers built on it: the spatial transformer and
deformable convolution.

Both read the input at *fractional* positions. Bilinear interpolation at :math:`(u, v)`
(row, column) mixes the four pixels around it,

.. math::

    \operatorname{bilinear}(x; u, v) = \sum_{r \in \{u_0, u_0+1\}}\ \sum_{c \in \{v_0, v_0+1\}}
        (1 - |u - r|)\,(1 - |v - c|)\; x_{r, c},
    \qquad u_0 = \lfloor u \rfloor,\ v_0 = \lfloor v \rfloor,

with :math:`x_{r,c} = 0` outside the image (zero padding). It is piecewise linear in
:math:`(u, v)`, so the output has a gradient with respect to the positions, and whatever
computes them (an affine :math:`\theta`, a layer predicting offsets) can be trained by
backpropagation (Jaderberg et al., 2015).

* :func:`affine_sample` is the spatial transformer's sampler, equal to
  :func:`torch.nn.functional.affine_grid` followed by :func:`torch.nn.functional.grid_sample`
  (bilinear, zeros padding);
* :func:`deform_conv2d` is deformable convolution (Dai et al., 2017): the taps
  of a :math:`k_h \times k_w` kernel move by learned offsets, with torchvision's layout.
"""

from __future__ import annotations

import torch

from dlcore import _checks
from dlcore.layers.conv import _check_bias, _ints, conv_output_size

__all__ = ["bilinear_sample", "affine_grid", "affine_sample", "deform_conv2d"]


def bilinear_sample(x: torch.Tensor, rows: torch.Tensor, cols: torch.Tensor) -> torch.Tensor:
    r"""Sample ``x`` at fractional pixel positions by bilinear interpolation, zeros outside.

    .. math::

        y_{n,c,\ldots} = \sum_{r\in\{u_0,u_0+1\}}\sum_{q\in\{v_0,v_0+1\}}
            (1-|u-r|)(1-|v-q|)\,x_{n,c,r,q}, \quad u = \text{rows}_{n,\ldots},\
            v = \text{cols}_{n,\ldots},

    with :math:`x_{n,c,r,q} = 0` when :math:`(r, q)` lies outside the :math:`H\times W` image.
    Pixel :math:`(r, q)` is at position :math:`(r, q)` (pixel centres at integers): this is
    ``F.grid_sample(..., align_corners=True)`` with the grid scaled to :math:`[-1, 1]`.

    Args:
        x: images :math:`(N, C, H, W)`, floating.
        rows, cols: positions :math:`(N, *S)` (any trailing shape), same dtype as ``x``,
            finite.

    Returns:
        Tensor :math:`(N, C, *S)`, differentiable in ``x``, ``rows`` and ``cols``.

    Examples:
        >>> x = torch.tensor([[[[0., 1.], [2., 3.]]]])
        >>> bilinear_sample(x, torch.tensor([[0.5, 0.0]]), torch.tensor([[0.5, 1.5]]))
        tensor([[[1.5000, 0.5000]]])
    """
    _checks.tensor(x, "x", floating=True)
    _checks.ndim(x, "x", (4,))
    for name, t in (("rows", rows), ("cols", cols)):
        _checks.tensor(t, name, floating=True)
        if t.ndim < 1 or t.shape[0] != x.shape[0] or t.dtype != x.dtype:
            raise ValueError(f"`{name}` must have shape (N, ...) with N = {x.shape[0]} and "
                             f"dtype {x.dtype}, got {tuple(t.shape)} {t.dtype}")
        _checks.finite(t, name)
    _checks.same_shape(rows, cols, "rows", "cols")
    N, C, H, W = x.shape
    flat = x.reshape(N, C, H * W)
    u, v = rows.reshape(N, -1), cols.reshape(N, -1)
    u0, v0 = torch.floor(u), torch.floor(v)
    out = torch.zeros(N, C, u.shape[1], dtype=x.dtype, device=x.device)
    for r in (u0, u0 + 1):
        for q in (v0, v0 + 1):
            # weight (1 - |u - r|)(1 - |v - q|); floor has no gradient, u and v carry it
            weight = (1 - (u - r).abs()) * (1 - (v - q).abs())
            inside = (r >= 0) & (r <= H - 1) & (q >= 0) & (q <= W - 1)
            index = (r.clamp(0, H - 1) * W + q.clamp(0, W - 1)).long()
            pixel = flat.gather(2, index[:, None, :].expand(N, C, -1))
            out = out + (weight * inside)[:, None, :] * pixel
    return out.reshape(N, C, *rows.shape[1:])


def _theta(theta, x_like: torch.Tensor | None = None) -> torch.Tensor:
    _checks.tensor(theta, "theta", floating=True)
    if theta.ndim != 3 or theta.shape[1:] != (2, 3):
        raise ValueError(f"`theta` must have shape (N, 2, 3), got {tuple(theta.shape)}")
    if x_like is not None and (theta.shape[0] != x_like.shape[0] or theta.dtype != x_like.dtype
                               or theta.device != x_like.device):
        raise ValueError(f"`theta` must have N = {x_like.shape[0]} and the dtype/device of "
                         f"`x`, got shape {tuple(theta.shape)} {theta.dtype} on {theta.device}")
    return _checks.finite(theta, "theta")


def _base(n: int, align_corners: bool, like: torch.Tensor) -> torch.Tensor:
    """Normalised coordinates of ``n`` pixel centres in [-1, 1], as torch's affine_grid."""
    if n == 1:  # torch puts a single pixel at 0 for both conventions
        return torch.zeros(1, dtype=like.dtype, device=like.device)
    j = torch.arange(n, dtype=like.dtype, device=like.device)
    # align_corners=True: centres of the corner pixels at ±1; False: the image's edges at ±1
    return 2 * j / (n - 1) - 1 if align_corners else (2 * j + 1) / n - 1


def affine_grid(theta: torch.Tensor, size, *, align_corners: bool) -> torch.Tensor:
    r"""The sampling grid of an affine spatial transformer, as ``F.affine_grid``.

    Output pixel :math:`(i, j)` with normalised coordinates :math:`(x_j, y_i) \in [-1, 1]^2`
    reads the input at

    .. math::

        \begin{pmatrix} x^s \\ y^s \end{pmatrix} = \theta
        \begin{pmatrix} x_j \\ y_i \\ 1 \end{pmatrix},

    eq. (1) of Jaderberg et al. (2015). With ``align_corners=True`` :math:`\pm 1` are the
    centres of the corner pixels, :math:`x_j = 2j/(W-1) - 1`; with ``False`` they are the
    image's outer edges, :math:`x_j = (2j + 1)/W - 1`.

    Args:
        theta: :math:`(N, 2, 3)` affine matrices; the identity is ``[[1, 0, 0], [0, 1, 0]]``.
        size: output size ``(H_out, W_out)`` (torch takes ``(N, C, H_out, W_out)``).
        align_corners: the convention above; required, as torch warns without it.

    Returns:
        Tensor :math:`(N, H_\text{out}, W_\text{out}, 2)`, the last axis :math:`(x^s, y^s)`.

    Examples:
        >>> affine_grid(torch.eye(2, 3)[None], (1, 2), align_corners=False)
        tensor([[[[-0.5000,  0.0000],
                  [ 0.5000,  0.0000]]]])
    """
    _theta(theta)
    _checks.flag(align_corners, "align_corners")
    H, W = _ints(size, "size", 2, low=1)
    ys, xs = _base(H, align_corners, theta), _base(W, align_corners, theta)
    ones = torch.ones(H, W, dtype=theta.dtype, device=theta.device)
    target = torch.stack([xs.expand(H, W), ys[:, None].expand(H, W), ones], dim=-1)
    return torch.einsum("nkc,hwc->nhwk", theta, target)   # (x^s, y^s) = θ (x, y, 1)


def affine_sample(x: torch.Tensor, theta: torch.Tensor, size=None, *,
                  align_corners: bool) -> torch.Tensor:
    r"""Spatial transformer sampler: warp ``x`` by the affine ``theta`` with bilinear sampling.

    Equal to ``F.grid_sample(x, F.affine_grid(theta, (N, C, *size), align_corners=a),
    mode="bilinear", padding_mode="zeros", align_corners=a)``. The normalised source
    coordinates of :func:`affine_grid` become pixel positions by
    :math:`u = (y^s + 1)(H - 1)/2` (``align_corners=True``) or
    :math:`u = ((y^s + 1) H - 1)/2` (``False``), likewise for the columns, and are read with
    :func:`bilinear_sample`.

    Args:
        x: images :math:`(N, C, H, W)`.
        theta: :math:`(N, 2, 3)`, dtype and device of ``x``.
        size: output ``(H_out, W_out)``; default the input's ``(H, W)``.
        align_corners: required keyword, see :func:`affine_grid`.

    Returns:
        Tensor :math:`(N, C, H_\text{out}, W_\text{out})`; the identity ``theta`` returns ``x``.

    Examples:
        >>> x = torch.arange(4.).reshape(1, 1, 2, 2)
        >>> flip = torch.tensor([[[-1., 0., 0.], [0., 1., 0.]]])   # x -> -x: mirror
        >>> affine_sample(x, flip, align_corners=True)
        tensor([[[[1., 0.],
                  [3., 2.]]]])
    """
    _checks.tensor(x, "x", floating=True)
    _checks.ndim(x, "x", (4,))
    _theta(theta, x)
    _checks.flag(align_corners, "align_corners")
    H, W = x.shape[2:]
    grid = affine_grid(theta, (H, W) if size is None else size, align_corners=align_corners)
    gx, gy = grid[..., 0], grid[..., 1]
    if align_corners:
        cols, rows = (gx + 1) * (W - 1) / 2, (gy + 1) * (H - 1) / 2
    else:
        cols, rows = ((gx + 1) * W - 1) / 2, ((gy + 1) * H - 1) / 2
    return bilinear_sample(x, rows, cols)


def deform_conv2d(x: torch.Tensor, offset: torch.Tensor, weight: torch.Tensor,
                  bias: torch.Tensor | None = None, *, stride=1, padding=0, dilation=1,
                  mask: torch.Tensor | None = None) -> torch.Tensor:
    r"""Deformable convolution: each kernel tap reads the input at a learned offset.

    .. math::

        y_{n,o,i,j} = b_o + \sum_c \sum_{a,b} w_{o,c,a,b}\; m_{n,k,i,j}\;
            \operatorname{bilinear}\bigl(x_{n,c};\ i s_h - p_h + a d_h + \Delta y_{n,k,i,j},\
            j s_w - p_w + b d_w + \Delta x_{n,k,i,j}\bigr),

    with :math:`k = a k_w + b` the tap's index, eq. (2) of Dai et al. (2017) (and the
    modulation :math:`m` of DCNv2, Zhu et al. 2019, when ``mask`` is given). Zero offsets give
    :func:`~dlcore.layers.conv2d`; integer offsets read whole pixels.

    Args:
        x: :math:`(N, C_\text{in}, H, W)`.
        offset: :math:`(N, 2 k_h k_w, H_\text{out}, W_\text{out})`, channels ordered
            :math:`(\Delta y_0, \Delta x_0, \Delta y_1, \Delta x_1, \ldots)` per tap, as
            ``torchvision.ops.deform_conv2d`` (one offset group). The layout was checked
            against torchvision's kernel source
            (``torchvision/csrc/ops/cpu/deform_conv2d_kernel.cpp``,
            ``deformable_im2col_kernel``), not run: there ``mask_idx = i * weight_w + j``,
            ``offset_idx = 2 * mask_idx``, :math:`\Delta y` is channel ``offset_idx`` and
            :math:`\Delta x` channel ``offset_idx + 1``, around the base point
            ``out_y * stride_h - pad_h + i * dilation_h`` (and likewise in ``x``), which is
            ``offset[:, 0::2]``, ``offset[:, 1::2]``, :math:`k = a k_w + b` and
            :math:`p_0 = i s - p` here.
        weight: :math:`(C_\text{out}, C_\text{in}, k_h, k_w)`.
        bias: optional :math:`(C_\text{out},)`.
        stride, padding, dilation: int or pair; padding means positions outside the image
            read 0.
        mask: optional :math:`(N, k_h k_w, H_\text{out}, W_\text{out})` modulation.

    Returns:
        Tensor :math:`(N, C_\text{out}, H_\text{out}, W_\text{out})`.

    Examples:
        >>> x = torch.arange(9.).reshape(1, 1, 3, 3)
        >>> w = torch.ones(1, 1, 1, 1)
        >>> shift = torch.tensor([0., 1.]).reshape(1, 2, 1, 1).expand(1, 2, 3, 3)
        >>> deform_conv2d(x, shift, w)                  # Δx = 1: read the right neighbour
        tensor([[[[1., 2., 0.],
                  [4., 5., 0.],
                  [7., 8., 0.]]]])
    """
    _checks.tensor(x, "x", floating=True)
    _checks.ndim(x, "x", (4,))
    _checks.tensor(weight, "weight", floating=True)
    _checks.ndim(weight, "weight", (4,))
    N, C, H, W = x.shape
    O, kh, kw = weight.shape[0], weight.shape[2], weight.shape[3]
    if weight.shape[1] != C or weight.dtype != x.dtype or weight.device != x.device:
        raise ValueError(f"`weight` must have shape (C_out, {C}, kh, kw) and the dtype/device "
                         f"of `x`, got {tuple(weight.shape)} {weight.dtype} on {weight.device}")
    s = _ints(stride, "stride", 2, low=1)
    p = _ints(padding, "padding", 2, low=0)
    d = _ints(dilation, "dilation", 2, low=1)
    Ho, Wo = conv_output_size((H, W), (kh, kw), stride=s, padding=p, dilation=d)
    K = kh * kw
    _checks.tensor(offset, "offset", floating=True)
    if (offset.shape != (N, 2 * K, Ho, Wo) or offset.dtype != x.dtype
            or offset.device != x.device):
        raise ValueError(f"`offset` must have shape {(N, 2 * K, Ho, Wo)} (N, 2·kh·kw, H_out, "
                         f"W_out), dtype {x.dtype} and device {x.device}, got "
                         f"{tuple(offset.shape)} {offset.dtype} on {offset.device}")
    if mask is not None:
        _checks.tensor(mask, "mask", floating=True)
        if mask.shape != (N, K, Ho, Wo) or mask.dtype != x.dtype or mask.device != x.device:
            raise ValueError(f"`mask` must have shape {(N, K, Ho, Wo)}, dtype {x.dtype} and "
                             f"device {x.device}, got {tuple(mask.shape)} {mask.dtype} on "
                             f"{mask.device}")
    _check_bias(bias, O, x)
    like = {"dtype": x.dtype, "device": x.device}
    # regular grid: tap (a, b) of output (i, j) sits at (i s - p + a d, j s - p + b d)
    a, b = torch.arange(kh, **like), torch.arange(kw, **like)
    i, j = torch.arange(Ho, **like), torch.arange(Wo, **like)
    grid_r = (i[None, :, None] * s[0] - p[0] + (a * d[0]).repeat_interleave(kw)[:, None, None])
    grid_c = (j[None, None, :] * s[1] - p[1] + (b * d[1]).repeat(kh)[:, None, None])
    rows = grid_r + offset[:, 0::2]                      # (N, K, Ho, Wo): + Δy
    cols = grid_c + offset[:, 1::2]                      # + Δx
    taps = bilinear_sample(x, rows, cols)                # (N, C, K, Ho, Wo)
    if mask is not None:
        taps = taps * mask[:, None]
    # the columns of unfold, now at moved positions: y = W (C_out × C·K) · cols
    y = weight.reshape(O, C * K) @ taps.reshape(N, C * K, Ho * Wo)
    y = y.reshape(N, O, Ho, Wo)
    return y if bias is None else y + bias.reshape(1, O, 1, 1)

