r"""Image augmentations on tensors: flips, crops, rotations and other affine warps, colour
shifts, PCA colour augmentation and a RandAugment/AutoAugment-style policy applier.

Every function takes one image :math:`(C, H, W)` or a batch :math:`(N, C, H, W)` of floating
dtype on any device and returns the same shape; random functions draw **one set of parameters
per image** from ``generator`` (torchvision's v2 transforms, applied to a batch tensor, draw one
set for the whole batch). Occluding a region (cutout, random erasing) and mixing images
(mixup, CutMix, RICAP) are in :mod:`dlcore.regularization.mixing`.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F

from dlcore import _checks

__all__ = ["hflip", "random_crop", "affine", "rotate", "colour_jitter", "fit_pca_colour",
           "pca_colour", "RAND_AUGMENT_OPS", "rand_augment", "apply_policy"]


def _images(x, name: str = "x") -> tuple[torch.Tensor, bool]:
    """Validate an image or batch; return it as a batch and whether it was one image."""
    _checks.tensor(x, name, floating=True)
    _checks.ndim(x, name, (3, 4))
    _checks.no_nan(x, name)
    return (x.unsqueeze(0), True) if x.ndim == 3 else (x, False)


def _uniform(shape, generator, device, dtype=torch.float64) -> torch.Tensor:
    """U[0, 1) draws from ``generator`` (on its own device), moved to ``device``."""
    where = generator.device if generator is not None else device
    return torch.rand(shape, generator=generator, device=where, dtype=dtype).to(device)


def _pair(value, name: str, *, integer: bool = False) -> tuple:
    """``s`` or ``(h, w)`` as a pair of positive numbers."""
    pair = tuple(value) if isinstance(value, (tuple, list)) else (value, value)
    if len(pair) != 2:
        raise ValueError(f"`{name}` must be a number or a pair (h, w), got {value!r}")
    return tuple(_checks.number(v, name, low=0, low_open=True, integer=integer) for v in pair)


def hflip(x: torch.Tensor) -> torch.Tensor:
    """Mirror images left to right: :math:`y_{c,i,j} = x_{c,i,W-1-j}`.

    Args:
        x: :math:`(C, H, W)` or :math:`(N, C, H, W)`.

    Returns:
        torch.Tensor: the mirrored images, the shape of ``x``.

    Examples:
        >>> hflip(torch.tensor([[[1., 2., 3.]]]))
        tensor([[[3., 2., 1.]]])
    """
    _images(x)
    return x.flip(-1)


def random_crop(x: torch.Tensor, size, *, padding: int = 0, fill: float = 0.0,
                generator: torch.Generator | None = None) -> torch.Tensor:
    r"""Pad each image by ``padding`` pixels of value ``fill``, then cut a random window.

    The window's top-left corner is uniform over the :math:`(H + 2p - h + 1)(W + 2p - w + 1)`
    positions, as ``torchvision.transforms.v2.RandomCrop(size, padding, fill=fill)``. With
    ``size = (H, W)`` and ``padding = p`` this is a random integer shift by up to :math:`p`
    pixels in each direction, the translation of Krizhevsky et al. (2012).

    Args:
        x: :math:`(C, H, W)` or :math:`(N, C, H, W)`.
        size: output ``h`` or ``(h, w)``, at most the padded size.
        padding: pixels added on each side, ``>= 0``.
        fill: value of the padding (a blank pixel; for standardised images not 0).
        generator: random source of the windows.

    Returns:
        torch.Tensor: :math:`(C, h, w)` or :math:`(N, C, h, w)`.

    Examples:
        >>> x = torch.arange(4.).reshape(1, 2, 2)
        >>> random_crop(x, 2, padding=0)
        tensor([[[0., 1.],
                 [2., 3.]]])
    """
    xb, single = _images(x)
    h, w = _pair(size, "size", integer=True)
    p = _checks.number(padding, "padding", low=0, integer=True)
    N, C, H, W = xb.shape
    if h > H + 2 * p or w > W + 2 * p:
        raise ValueError(f"`size` must be at most the padded size {(H + 2 * p, W + 2 * p)}, "
                         f"got {(h, w)}")
    xp = torch.nn.functional.pad(xb, (p, p, p, p), value=float(fill))
    u = _uniform((2, N), generator, x.device)
    top = (u[0] * (H + 2 * p - h + 1)).long()
    left = (u[1] * (W + 2 * p - w + 1)).long()
    rows = top[:, None] + torch.arange(h, device=x.device)  # (N, h)
    cols = left[:, None] + torch.arange(w, device=x.device)  # (N, w)
    n = torch.arange(N, device=x.device)[:, None, None]
    out = xp.permute(0, 2, 3, 1)[n, rows[:, :, None], cols[:, None, :]].permute(0, 3, 1, 2)
    return out[0] if single else out


def affine(x: torch.Tensor, matrix: torch.Tensor, *, fill: float = 0.0) -> torch.Tensor:
    r"""Warp images by a :math:`2\times2` matrix about their centre, bilinear, in pixel units.

    Output pixel at centred position :math:`c = (u, v)` (column, row, measured from the image
    centre :math:`((W-1)/2, (H-1)/2)`) reads the input at :math:`A^{-1} c`, so ``matrix``
    :math:`A` maps input positions to output positions. Sampling is
    ``F.grid_sample(x, F.affine_grid(theta))`` (bilinear, ``align_corners=False``; the same
    as :func:`dlcore.layers.affine_sample`, which is written from the equations but slower)
    with the matrix rescaled to normalised coordinates, :math:`\theta = D^{-1} A^{-1} D`,
    :math:`D = \operatorname{diag}(W/2, H/2)`; positions outside the image read ``fill``.

    Args:
        x: :math:`(C, H, W)` or :math:`(N, C, H, W)`.
        matrix: :math:`(2, 2)` or :math:`(N, 2, 2)`, invertible.
        fill: value read outside the image.

    Returns:
        torch.Tensor: the warped images, the shape of ``x``.

    Examples:
        >>> x = torch.arange(4.).reshape(1, 2, 2)
        >>> affine(x, torch.tensor([[-1., 0.], [0., 1.]]))   # u -> -u: a mirror
        tensor([[[1., 0.],
                 [3., 2.]]])
    """
    xb, single = _images(x)
    _checks.tensor(matrix, "matrix", floating=True)
    N, _, H, W = xb.shape
    if matrix.shape not in ((2, 2), (N, 2, 2)):
        raise ValueError(f"`matrix` must have shape (2, 2) or ({N}, 2, 2), "
                         f"got {tuple(matrix.shape)}")
    a, b, c, d = matrix.to(device=x.device, dtype=torch.float64).expand(N, 2, 2).flatten(1).T
    det = a * d - b * c
    if bool((det.abs() < 1e-12).any()):
        raise ValueError("`matrix` must be invertible, got a determinant of 0")
    inv = torch.stack([d, -b, -c, a], 1).view(N, 2, 2) / det[:, None, None]  # A^-1
    D = torch.tensor([W / 2, H / 2], dtype=torch.float64, device=x.device)
    theta = inv * D[None, None, :] / D[None, :, None]  # D^-1 A^-1 D
    theta = torch.cat([theta, theta.new_zeros(N, 2, 1)], dim=2).to(x.dtype)
    grid = F.affine_grid(theta, list(xb.shape), align_corners=False)
    out = F.grid_sample(xb - fill, grid, mode="bilinear", padding_mode="zeros",
                        align_corners=False) + fill
    return out[0] if single else out


def rotate(x: torch.Tensor, angle, *, fill: float = 0.0) -> torch.Tensor:
    r"""Rotate images counter-clockwise by ``angle`` degrees about their centre, bilinear.

    A point at centred position :math:`(u, v)` (rows grow downwards) moves to
    :math:`(u\cos\phi + v\sin\phi,\; -u\sin\phi + v\cos\phi)`: :func:`affine` with that
    matrix. Equal to ``kornia.geometry.transform.rotate`` (tested); the direction and the
    centre are those of ``torchvision.transforms.v2.functional.rotate``.

    Args:
        x: :math:`(C, H, W)` or :math:`(N, C, H, W)`.
        angle: degrees, a number or a tensor :math:`(N,)` of one angle per image.
        fill: value read outside the image.

    Returns:
        torch.Tensor: the rotated images, the shape of ``x``.

    Examples:
        >>> x = torch.zeros(1, 3, 3); x[0, 1, 2] = 1.      # right of the centre
        >>> rotate(x, 90.)[0].round(decimals=6)           # goes to above the centre
        tensor([[0., 1., 0.],
                [0., 0., 0.],
                [0., 0., 0.]])
    """
    if not isinstance(angle, torch.Tensor):
        angle = torch.tensor(_checks.number(angle, "angle"))
    _checks.finite(_checks.tensor(angle.double(), "angle"), "angle")
    phi = torch.deg2rad(angle.double().to(x.device if isinstance(x, torch.Tensor) else None))
    c, s = torch.cos(phi), torch.sin(phi)
    matrix = torch.stack([torch.stack([c, s], -1), torch.stack([-s, c], -1)], -2)
    return affine(x, matrix, fill=fill)


def _range(value, name: str, centre: float = 1.0) -> tuple[float, float]:
    """torchvision's ColorJitter argument: ``b`` gives ``[max(0, 1 - b), 1 + b]``."""
    if isinstance(value, (tuple, list)):
        if len(value) != 2:
            raise ValueError(f"`{name}` must be a number or a pair (low, high), got {value!r}")
        lo, hi = (_checks.number(v, name, low=0) for v in value)
        if lo > hi:
            raise ValueError(f"`{name}` must have low <= high, got {tuple(value)}")
        return lo, hi
    b = _checks.number(value, name, low=0)
    return max(0.0, centre - b), centre + b


def _grey(x: torch.Tensor) -> torch.Tensor:
    """ITU-R 601 luma of RGB images (torchvision's rgb_to_grayscale); grey images as they are."""
    if x.shape[1] == 1:
        return x
    r, g, b = x.unbind(1)
    return (0.299 * r + 0.587 * g + 0.114 * b).unsqueeze(1)


def _blend(x, other, factor, clamp):
    out = factor * x + (1 - factor) * other  # torchvision's _blend
    return out if clamp is None else out.clamp(*clamp)


def colour_jitter(x: torch.Tensor, *, brightness=0.0, contrast=0.0, saturation=0.0,
                  clamp: tuple[float, float] | None = (0.0, 1.0),
                  generator: torch.Generator | None = None) -> torch.Tensor:
    r"""Random brightness, contrast and saturation, each a blend :math:`f x + (1 - f) o`.

    The blends of ``torchvision.transforms.v2.ColorJitter`` (its ``adjust_*`` functions), with
    a factor :math:`f \sim U[\max(0, 1 - b), 1 + b]` per image and operation: brightness blends
    with a black image :math:`o = 0`, contrast with the mean of the image's grey level, and
    saturation with the grey image itself (ITU-R 601 luma :math:`0.299R + 0.587G + 0.114B`),
    each result clamped to ``clamp``. On a one-channel image the grey image is the image, so
    **saturation is a no-op**. Differences from torchvision: the order is always brightness,
    contrast, saturation (torchvision shuffles it), there is no hue, and the factors are drawn
    per image.

    Args:
        x: :math:`(C, H, W)` or :math:`(N, C, H, W)` with ``C`` 1 or 3.
        brightness, contrast, saturation: ``b >= 0`` or a range ``(low, high)`` of factors.
        clamp: the valid pixel range (torchvision's ``[0, 1]`` for float images), or None.
        generator: random source of the factors.

    Returns:
        torch.Tensor: the shape of ``x``.

    Examples:
        >>> x = torch.tensor([[[0.2, 0.6]]])
        >>> colour_jitter(x, brightness=(2.0, 2.0), contrast=(0.5, 0.5))
        tensor([[[0.5500, 0.8500]]])
    """
    xb, single = _images(x)
    if xb.shape[1] not in (1, 3):
        raise ValueError(f"`x` must have 1 or 3 channels, got {xb.shape[1]}")
    ranges = [_range(brightness, "brightness"), _range(contrast, "contrast"),
              _range(saturation, "saturation")]
    u = _uniform((3, xb.shape[0], 1, 1, 1), generator, x.device)
    f = [(lo + (hi - lo) * u[k]).to(x.dtype) for k, (lo, hi) in enumerate(ranges)]
    out = _blend(xb, torch.zeros_like(xb), f[0], clamp)
    out = _blend(out, _grey(out).mean(dim=(1, 2, 3), keepdim=True), f[1], clamp)
    out = _blend(out, _grey(out), f[2], clamp)
    return out[0] if single else out


def fit_pca_colour(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    r"""Eigenvalues and eigenvectors of the :math:`C\times C` covariance of all pixel colours.

    Every pixel of every training image is one observation of a colour vector in
    :math:`\mathbb R^C`; the covariance is the unbiased :math:`\frac{1}{M-1}\sum (c - \bar
    c)(c - \bar c)^\top` (``numpy.cov``), and :math:`\Sigma = P \operatorname{diag}(\lambda)
    P^\top` its eigendecomposition, eigenvalues in decreasing order.

    Args:
        x: training images :math:`(N, C, H, W)` (or one :math:`(C, H, W)`), at least 2 pixels.

    Returns:
        tuple[torch.Tensor, torch.Tensor]: ``eigvals`` :math:`(C,)` and ``eigvecs``
        :math:`(C, C)` whose column ``i`` is :math:`p_i`, in the dtype of ``x``.

    Examples:
        >>> x = torch.tensor([[[[0., 2.]], [[0., 2.]]]])   # two pixels, R = G
        >>> vals, vecs = fit_pca_colour(x)
        >>> vals
        tensor([4., 0.])
    """
    xb, _ = _images(x)
    colours = xb.transpose(0, 1).reshape(xb.shape[1], -1).double()  # (C, M)
    if colours.shape[1] < 2:
        raise ValueError(f"`x` must hold at least 2 pixels, got {colours.shape[1]}")
    vals, vecs = torch.linalg.eigh(torch.cov(colours))
    return vals.flip(0).clamp_min(0).to(x.dtype), vecs.flip(1).to(x.dtype)


def pca_colour(x: torch.Tensor, eigvals: torch.Tensor, eigvecs: torch.Tensor, *,
               std: float = 0.1, generator: torch.Generator | None = None) -> torch.Tensor:
    r"""PCA ("fancy PCA") colour augmentation of Krizhevsky et al. (2012, §4.1).

    Each image gets one colour shift, added to every pixel,

    .. math::
        \delta = [p_1, \dots, p_C]\,[\alpha_1\lambda_1, \dots, \alpha_C\lambda_C]^\top,
        \qquad \alpha_i \sim \mathcal N(0, \sigma^2),\ \sigma = 0.1,

    with :math:`(\lambda_i, p_i)` the eigenpairs of the pixel-colour covariance
    (:func:`fit_pca_colour`). The shift is large along the directions in which natural colours
    vary (mostly brightness) and small across them. As in the paper the eigenvalues
    :math:`\lambda_i` (variances) are used, not their square roots.

    Args:
        x: :math:`(C, H, W)` or :math:`(N, C, H, W)`.
        eigvals: :math:`(C,)`, non-negative.
        eigvecs: :math:`(C, C)`, column ``i`` the eigenvector of ``eigvals[i]``.
        std: :math:`\sigma`, the standard deviation of :math:`\alpha`, ``>= 0``.
        generator: random source of the :math:`\alpha`.

    Returns:
        torch.Tensor: the shape of ``x``.

    Examples:
        >>> x = torch.zeros(3, 2, 2)
        >>> out = pca_colour(x, torch.tensor([1., 0., 0.]), torch.eye(3), std=0.1)
        >>> bool((out[1:] == 0).all()), bool((out[0] == out[0, 0, 0]).all())
        (True, True)
    """
    xb, single = _images(x)
    C = xb.shape[1]
    _checks.tensor(eigvals, "eigvals", floating=True)
    _checks.tensor(eigvecs, "eigvecs", floating=True)
    if eigvals.shape != (C,) or eigvecs.shape != (C, C):
        raise ValueError(f"`eigvals` and `eigvecs` must have shapes ({C},) and ({C}, {C}) for "
                         f"{C}-channel images, got {tuple(eigvals.shape)} and "
                         f"{tuple(eigvecs.shape)}")
    if bool((eigvals < 0).any()):
        raise ValueError(f"`eigvals` must be >= 0, got {eigvals.tolist()}")
    std = _checks.number(std, "std", low=0)
    where = generator.device if generator is not None else x.device
    alpha = std * torch.randn(xb.shape[0], C, generator=generator, device=where,
                              dtype=torch.float64).to(x.device)
    lam = eigvals.to(device=x.device, dtype=torch.float64)
    delta = (alpha * lam) @ eigvecs.to(device=x.device, dtype=torch.float64).T  # (N, C)
    out = xb + delta.to(x.dtype)[:, :, None, None]
    return out[0] if single else out


def _shear(axis):
    def op(x, v, fill):
        m = torch.eye(2, dtype=torch.float64, device=x.device).repeat(len(v), 1, 1)
        m[:, axis, 1 - axis] = v  # u' = u + v·row (shear_x) or row' = row + v·u (shear_y)
        return affine(x, m, fill=fill)
    return op


def _translate(axis):
    def op(x, v, fill):
        # an integer shift by round(v·side) pixels, the uncovered side filled with `fill`
        dim = 3 - axis
        side = x.shape[dim]
        idx = torch.arange(side, device=x.device)[None, :] - (v * side).round().long()[:, None]
        shape = [len(v), 1, 1, 1]
        shape[dim] = side
        valid = ((idx >= 0) & (idx < side)).view(shape)
        out = x.gather(dim, idx.clamp(0, side - 1).view(shape).expand_as(x))
        return out.masked_fill(~valid, float(fill))
    return op


def _brightness(x, v, fill):
    return fill + (1 + v)[:, None, None, None].to(x.dtype) * (x - fill)  # blend with blank


def _contrast(x, v, fill):
    mean = x.mean(dim=(1, 2, 3), keepdim=True)
    return mean + (1 + v)[:, None, None, None].to(x.dtype) * (x - mean)


#: RandAugment's operations that mean something for a grey image. Each name maps to a tuple
#: (op, max, signed), where op(x, v, fill) takes a batch and one value per image. The maxima
#: are torchvision's RandAugment ranges (translation as a fraction of the side, 150/331).
RAND_AUGMENT_OPS: dict[str, tuple[Callable, float, bool]] = {
    "identity": (lambda x, v, fill: x, 0.0, False),
    "rotate": (lambda x, v, fill: rotate(x, v, fill=fill), 30.0, True),
    "shear_x": (_shear(0), 0.3, True),
    "shear_y": (_shear(1), 0.3, True),
    "translate_x": (_translate(0), 150 / 331, True),
    "translate_y": (_translate(1), 150 / 331, True),
    "brightness": (_brightness, 0.9, True),
    "contrast": (_contrast, 0.9, True),
}


def _ops(ops):
    ops = RAND_AUGMENT_OPS if ops is None else ops
    if not isinstance(ops, dict) or not ops:
        raise ValueError(f"`ops` must be a non-empty dict name -> (op, max, signed), got {ops!r}")
    return ops


def apply_policy(x: torch.Tensor, policy, *, ops: dict | None = None, num_magnitude_bins: int = 10,
                 fill: float = 0.0, generator: torch.Generator | None = None) -> torch.Tensor:
    r"""Apply an AutoAugment-style policy: per image one random sub-policy, each of its
    operations with its own probability.

    A policy (Cubuk et al., 2019) is a list of sub-policies, each a list of
    ``(name, probability, magnitude_bin)``; the value of an operation is
    :math:`\text{max}\cdot m/(\text{bins} - 1)`, negated with probability ½ when the op is
    signed. The default of 10 bins is AutoAugment's and torchvision's (``linspace(0, max,
    10)``): a published policy's magnitude 9 is the maximum.

    Args:
        x: :math:`(C, H, W)` or :math:`(N, C, H, W)`.
        policy: list of sub-policies, names from ``ops``.
        ops: ``name: (op, max, signed)``, default
            :data:`~dlcore.regularization.RAND_AUGMENT_OPS`.
        num_magnitude_bins: number of magnitude levels, ``>= 2``.
        fill: value read outside the image by geometric ops.
        generator: random source.

    Returns:
        torch.Tensor: the shape of ``x``.

    Examples:
        >>> x = torch.arange(4.).reshape(1, 1, 2, 2)
        >>> apply_policy(x, [[("rotate", 0.0, 5)]]).equal(x)   # probability 0
        True
    """
    xb, single = _images(x)
    ops = _ops(ops)
    bins = _checks.number(num_magnitude_bins, "num_magnitude_bins", low=2, integer=True)
    if not policy or any(not sub for sub in policy):
        raise ValueError(f"`policy` must be a non-empty list of non-empty sub-policies, "
                         f"got {policy!r}")
    for sub in policy:
        for name, prob, m in sub:
            _checks.choice(name, "policy op", tuple(ops))
            _checks.number(prob, "policy probability", low=0, high=1)
            _checks.number(m, "policy magnitude", low=0, high=bins - 1, integer=True)
    N = xb.shape[0]
    pick = (_uniform(N, generator, x.device) * len(policy)).long().clamp_max(len(policy) - 1)
    out = xb.clone()
    for i, sub in enumerate(policy):
        for name, prob, m in sub:
            u = _uniform((2, N), generator, x.device)
            sel = (pick == i) & (u[0] < prob)
            if bool(sel.any()):
                op, top, signed = ops[name]
                v = torch.full((N,), top * m / (bins - 1), dtype=torch.float64, device=x.device)
                if signed:
                    v = torch.where(u[1] < 0.5, -v, v)
                out[sel] = op(out[sel], v[sel], fill)
    return out[0] if single else out


def rand_augment(x: torch.Tensor, *, n: int = 2, magnitude: int = 9, ops: dict | None = None,
                 num_magnitude_bins: int = 31, fill: float = 0.0,
                 generator: torch.Generator | None = None) -> torch.Tensor:
    r"""RandAugment (Cubuk et al., 2020): ``n`` operations drawn uniformly (with replacement),
    all at one global ``magnitude``.

    The search space of AutoAugment collapses to two integers: each image gets ``n`` ops from
    ``ops``, each with value :math:`\text{max}\cdot m/(\text{bins} - 1)` and a random sign when
    signed, as ``torchvision.transforms.v2.RandAugment(num_ops=n, magnitude=m)`` (31 bins)
    but drawn per image.

    Args:
        x: :math:`(C, H, W)` or :math:`(N, C, H, W)`.
        n: operations per image, ``>= 0``.
        magnitude: bin in ``[0, num_magnitude_bins - 1]``.
        ops: ``name: (op, max, signed)``, default
            :data:`~dlcore.regularization.RAND_AUGMENT_OPS`.
        num_magnitude_bins: number of magnitude levels, ``>= 2``.
        fill: value read outside the image by geometric ops.
        generator: random source.

    Returns:
        torch.Tensor: the shape of ``x``.

    Examples:
        >>> x = torch.rand(4, 1, 8, 8, generator=torch.Generator().manual_seed(0))
        >>> rand_augment(x, n=2, magnitude=0, ops={"rotate": RAND_AUGMENT_OPS["rotate"]}
        ...              ).allclose(x, atol=1e-6)   # magnitude 0 rotates by 0°
        True
    """
    xb, single = _images(x)
    ops = _ops(ops)
    n = _checks.number(n, "n", low=0, integer=True)
    bins = _checks.number(num_magnitude_bins, "num_magnitude_bins", low=2, integer=True)
    m = _checks.number(magnitude, "magnitude", low=0, high=bins - 1, integer=True)
    names = list(ops)
    out = xb.clone()
    for _ in range(n):
        u = _uniform((2, xb.shape[0]), generator, x.device)
        which = (u[0] * len(names)).long().clamp_max(len(names) - 1)
        for k, name in enumerate(names):
            sel = which == k
            if bool(sel.any()):
                op, top, signed = ops[name]
                v = torch.full((int(sel.sum()),), top * m / (bins - 1), dtype=torch.float64,
                               device=x.device)
                if signed:
                    v = torch.where(u[1][sel] < 0.5, -v, v)
                out[sel] = op(out[sel], v, fill)
    return out[0] if single else out
