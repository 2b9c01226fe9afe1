r"""Region and mixing augmentations: cutout, random erasing, mixup, CutMix and RICAP.

Cutout and random erasing occlude a rectangle of each image and keep its label. Mixup,
CutMix and RICAP build a new example from several images of the batch and give it a **soft
label**, each class weighted by its share of the new image: the blend weight for mixup, the
area for CutMix and RICAP. Their outputs go straight into a loss that accepts probability
targets, e.g. :func:`dlcore.train.cross_entropy` (a cross-entropy is linear in its target, so
the soft label's loss is the weighted sum of the two hard labels' losses).
"""

from __future__ import annotations

import math

import torch

from dlcore import _checks
from dlcore.regularization.augment import _images, _uniform

__all__ = ["cutout", "random_erasing", "beta_sample", "mixup", "cutmix", "ricap"]


def _box_mask(H, W, top, left, h, w, device):
    """(N, 1, H, W) bool mask of the boxes rows [top, top + h), cols [left, left + w)."""
    r = torch.arange(H, device=device)[None, :, None]
    c = torch.arange(W, device=device)[None, None, :]
    inside = ((r >= top[:, None, None]) & (r < (top + h)[:, None, None])
              & (c >= left[:, None, None]) & (c < (left + w)[:, None, None]))
    return inside[:, None]


def cutout(x: torch.Tensor, size: int, *, value: float = 0.0,
           generator: torch.Generator | None = None) -> torch.Tensor:
    r"""Cutout (DeVries & Taylor, 2017): set a ``size``×``size`` square of each image to ``value``.

    The square's centre :math:`(c_y, c_x)` is uniform over the :math:`H \times W` pixels, so
    the square may hang over the border and is then clipped (the paper reports that letting
    the patch lie partly outside the image mattered); it is always applied. Rows
    :math:`[c_y - \lfloor s/2\rfloor, c_y - \lfloor s/2\rfloor + s)`, likewise the columns;
    the authors' code uses :math:`[c - \lfloor s/2\rfloor, c + \lfloor s/2\rfloor)`, the same
    for the even sizes they use.

    Args:
        x: :math:`(C, H, W)` or :math:`(N, C, H, W)`.
        size: side of the square in pixels, ``>= 1``.
        value: the value written (0 in the paper, on normalised images: the mean).
        generator: random source of the centres.

    Returns:
        torch.Tensor: the shape of ``x``.

    Examples:
        >>> out = cutout(torch.ones(1, 4, 4), 2, generator=torch.Generator().manual_seed(0))
        >>> int((out == 0).sum()) in (1, 2, 4)
        True
    """
    xb, single = _images(x)
    s = _checks.number(size, "size", low=1, integer=True)
    N, _, H, W = xb.shape
    u = _uniform((2, N), generator, x.device)
    cy, cx = (u[0] * H).long(), (u[1] * W).long()
    mask = _box_mask(H, W, cy - s // 2, cx - s // 2, s, s, x.device)
    out = xb.masked_fill(mask, float(value))
    return out[0] if single else out


def random_erasing(x: torch.Tensor, *, p: float = 0.5, scale=(0.02, 0.33), ratio=(0.3, 3.3),
                   value: float | str = 0.0,
                   generator: torch.Generator | None = None) -> torch.Tensor:
    r"""Random erasing (Zhong et al., 2020) with torchvision's sampling, per image.

    With probability ``p`` an image gets one rectangle of area :math:`s\,HW`,
    :math:`s \sim U(\text{scale})`, and aspect :math:`r = h/w`, :math:`\log r \sim U(\log
    \text{ratio})`: :math:`h = \operatorname{round}\sqrt{sHWr}`,
    :math:`w = \operatorname{round}\sqrt{sHW/r}`, retried up to 10 times until
    :math:`h < H` and :math:`w < W` (else the image is left alone), its top-left corner
    uniform over the positions that keep it inside. This is
    ``torchvision.transforms.v2.RandomErasing``; the paper draws :math:`r` uniformly, uses
    :math:`s_h = 0.4` and random values.

    Args:
        x: :math:`(C, H, W)` or :math:`(N, C, H, W)`.
        p: probability of erasing an image, in [0, 1].
        scale: ``(s_l, s_h)``, the range of the erased fraction, ``0 < s_l <= s_h <= 1``.
        ratio: ``(r_1, r_2)``, the range of the aspect ratio, ``0 < r_1 <= r_2``.
        value: the value written, or ``"random"`` for standard normal noise per pixel.
        generator: random source.

    Returns:
        torch.Tensor: the shape of ``x``.

    Examples:
        >>> x = torch.ones(1, 10, 10)
        >>> out = random_erasing(x, p=1.0, generator=torch.Generator().manual_seed(0))
        >>> 0 < int((out == 0).sum()) < 100
        True
    """
    xb, single = _images(x)
    p = _checks.number(p, "p", low=0, high=1)
    s_lo, s_hi = (_checks.number(v, "scale", low=0, high=1, low_open=True) for v in scale)
    r_lo, r_hi = (_checks.number(v, "ratio", low=0, low_open=True) for v in ratio)
    if s_lo > s_hi or r_lo > r_hi:
        raise ValueError(f"`scale` and `ratio` must be (low, high) with low <= high, "
                         f"got {tuple(scale)} and {tuple(ratio)}")
    if not (isinstance(value, (int, float)) and not isinstance(value, bool)):
        _checks.choice(value, "value", ("random",))
    N, C, H, W = xb.shape
    u = _uniform((5, N, 10), generator, x.device)
    area = H * W * (s_lo + (s_hi - s_lo) * u[0])
    aspect = torch.exp(math.log(r_lo) + (math.log(r_hi) - math.log(r_lo)) * u[1])
    h = torch.sqrt(area * aspect).round().long()
    w = torch.sqrt(area / aspect).round().long()
    ok = (h < H) & (w < W)
    first = ok.long().argmax(dim=1, keepdim=True)  # first valid attempt (0 if none is)
    h, w = h.gather(1, first)[:, 0], w.gather(1, first)[:, 0]
    top = (u[2].gather(1, first)[:, 0] * (H - h + 1)).long()
    left = (u[3].gather(1, first)[:, 0] * (W - w + 1)).long()
    apply = ok.any(dim=1) & (u[4][:, 0] < p)
    mask = _box_mask(H, W, top, left, h, w, x.device) & apply[:, None, None, None]
    if value == "random":
        where = generator.device if generator is not None else x.device
        fill = torch.randn(xb.shape, generator=generator, device=where, dtype=x.dtype)
        out = torch.where(mask, fill.to(x.device), xb)
    else:
        out = xb.masked_fill(mask, float(value))
    return out[0] if single else out


def beta_sample(a: float, b: float, size=(), *, generator: torch.Generator | None = None,
                device=None) -> torch.Tensor:
    r"""Draws of :math:`\mathrm{Beta}(a, b)`, reproducible with ``generator``.

    ``torch.distributions.Beta`` takes no generator, so this draws
    :math:`\lambda = X/(X + Y)` with :math:`X \sim \Gamma(a)`, :math:`Y \sim \Gamma(b)` by
    Marsaglia & Tsang's (2000) rejection method, computed as
    :math:`\sigma(\log X - \log Y)` so that a small shape (``a = 0.1``, where :math:`X` often
    underflows) still gives a number; for a shape below 1,
    :math:`\log\Gamma(a) = \log\Gamma(a + 1) + \log U / a`.

    Args:
        a, b: shapes, ``> 0``.
        size: output shape.
        generator: random source (its device is where the draws are made).
        device: where the result lives (default: the generator's device, else CPU).

    Returns:
        torch.Tensor: float64 draws in :math:`[0, 1]` of shape ``size``.

    Examples:
        >>> lam = beta_sample(2.0, 2.0, (4000,), generator=torch.Generator().manual_seed(0))
        >>> round(lam.mean().item(), 1)
        0.5
    """
    a = _checks.number(a, "a", low=0, low_open=True)
    b = _checks.number(b, "b", low=0, low_open=True)
    size = torch.Size(size if isinstance(size, (tuple, list)) else (size,))
    where = generator.device if generator is not None else torch.device("cpu")
    n = size.numel()
    log_x = _log_gamma(a, n, generator, where)
    log_y = _log_gamma(b, n, generator, where)
    return torch.sigmoid(log_x - log_y).reshape(size).to(device or where)


def _log_gamma(shape: float, n: int, generator, where) -> torch.Tensor:
    """log of n draws of Gamma(shape, 1) (Marsaglia & Tsang, boosted below shape 1)."""
    boost = shape < 1
    d = (shape + 1 if boost else shape) - 1 / 3
    c = 1 / math.sqrt(9 * d)
    out = torch.empty(n, dtype=torch.float64, device=where)
    todo = torch.arange(n, device=where)
    while todo.numel():
        z = torch.randn(todo.numel(), generator=generator, device=where, dtype=torch.float64)
        u = torch.rand(todo.numel(), generator=generator, device=where, dtype=torch.float64)
        v = (1 + c * z) ** 3
        ok = v > 0
        # accept when log u < z²/2 + d - d v + d log v
        ok &= torch.log(u) < 0.5 * z**2 + d - d * v + d * torch.log(v.clamp_min(1e-300))
        out[todo[ok]] = math.log(d) + torch.log(v[ok])
        todo = todo[~ok]
    if boost:
        u = torch.rand(n, generator=generator, device=where, dtype=torch.float64)
        out = out + torch.log(u) / shape
    return out


def _soft_labels(y, num_classes, n, dtype) -> torch.Tensor:
    """Integer labels (N,) as one-hot, or probability targets (N, K) as they are."""
    k = _checks.number(num_classes, "num_classes", low=1, integer=True)
    _checks.tensor(y, "y")
    if y.is_floating_point():
        if y.shape != (n, k):
            raise ValueError(f"`y` of probabilities must have shape ({n}, {k}), "
                             f"got {tuple(y.shape)}")
        return y.to(dtype)
    if y.shape != (n,):
        raise ValueError(f"`y` must hold {n} labels (shape ({n},)), got {tuple(y.shape)}")
    _checks.labels(y, "y", k)
    return torch.nn.functional.one_hot(y, k).to(dtype)


def _batch(x, y, num_classes, *, images: bool):
    _checks.tensor(x, "x", floating=True)
    _checks.ndim(x, "x", (4,) if images else range(1, 9))
    _checks.no_nan(x, "x")
    return _soft_labels(y, num_classes, x.shape[0], x.dtype)


def mixup(x: torch.Tensor, y: torch.Tensor, *, alpha: float = 1.0, num_classes: int,
          generator: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    r"""Mixup (Zhang et al., 2018) with ``torchvision.transforms.v2.MixUp``'s semantics.

    One :math:`\lambda \sim \mathrm{Beta}(\alpha, \alpha)` for the whole batch, the partner of
    example :math:`i` is example :math:`i - 1` (``x.roll(1, 0)``), and

    .. math::
        \tilde x = \lambda x_i + (1 - \lambda) x_{i-1}, \qquad
        \tilde y = \lambda e_{y_i} + (1 - \lambda) e_{y_{i-1}}.

    Args:
        x: a batch :math:`(N, \dots)`: images, signals or features.
        y: labels :math:`(N,)` in ``[0, num_classes)``, or probabilities :math:`(N, K)`.
        alpha: :math:`\alpha > 0`; 1 draws :math:`\lambda` uniformly.
        num_classes: :math:`K`.
        generator: random source of :math:`\lambda`.

    Returns:
        tuple[torch.Tensor, torch.Tensor]: the mixed batch, shape of ``x``, and its soft
        labels :math:`(N, K)` in the dtype of ``x``; each row sums to 1.

    Examples:
        >>> x, y = torch.tensor([[0.], [1.]]), torch.tensor([0, 1])
        >>> xm, ym = mixup(x, y, num_classes=2, generator=torch.Generator().manual_seed(0))
        >>> torch.allclose(ym[:, 1], xm[:, 0]), ym.sum(1).tolist()
        (True, [1.0, 1.0])
    """
    target = _batch(x, y, num_classes, images=False)
    alpha = _checks.number(alpha, "alpha", low=0, low_open=True)
    lam = float(beta_sample(alpha, alpha, generator=generator))
    return (lam * x + (1 - lam) * x.roll(1, 0),
            lam * target + (1 - lam) * target.roll(1, 0))


def cutmix(x: torch.Tensor, y: torch.Tensor, *, alpha: float = 1.0, num_classes: int,
           generator: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    r"""CutMix (Yun et al., 2019) with ``torchvision.transforms.v2.CutMix``'s semantics.

    One :math:`\lambda \sim \mathrm{Beta}(\alpha, \alpha)` per batch; a box centred at a
    uniform pixel :math:`(r_y, r_x)` with half-sides :math:`\lfloor rH\rfloor`,
    :math:`\lfloor rW\rfloor`, :math:`r = \tfrac12\sqrt{1 - \lambda}` (so its area is
    :math:`(1 - \lambda)HW` before clipping), clipped to the image, is pasted from the partner
    ``x.roll(1, 0)``; the label weight is then **recomputed from the clipped box**,
    :math:`\lambda' = 1 - \frac{(x_2 - x_1)(y_2 - y_1)}{HW}`, and
    :math:`\tilde y = \lambda' e_{y_i} + (1 - \lambda') e_{y_{i-1}}`.

    Args:
        x: images :math:`(N, C, H, W)`.
        y: labels :math:`(N,)` in ``[0, num_classes)``, or probabilities :math:`(N, K)`.
        alpha: :math:`\alpha > 0`.
        num_classes: :math:`K`.
        generator: random source.

    Returns:
        tuple[torch.Tensor, torch.Tensor]: the mixed images and their soft labels
        :math:`(N, K)`; the weight of the partner's class is the pasted area's share.

    Examples:
        >>> x = torch.stack([torch.zeros(1, 4, 4), torch.ones(1, 4, 4)])
        >>> xm, ym = cutmix(x, torch.tensor([0, 1]), num_classes=2,
        ...                 generator=torch.Generator().manual_seed(1))
        >>> torch.allclose(ym[0, 1], xm[0].mean())   # label weight = pasted area
        True
    """
    target = _batch(x, y, num_classes, images=True)
    alpha = _checks.number(alpha, "alpha", low=0, low_open=True)
    H, W = x.shape[2:]
    lam = float(beta_sample(alpha, alpha, generator=generator))
    u = _uniform(2, generator, x.device)
    r_x, r_y = int(u[0] * W), int(u[1] * H)
    r = 0.5 * math.sqrt(1.0 - lam)
    r_w, r_h = int(r * W), int(r * H)
    x1, y1 = max(r_x - r_w, 0), max(r_y - r_h, 0)
    x2, y2 = min(r_x + r_w, W), min(r_y + r_h, H)
    out = x.clone()
    out[..., y1:y2, x1:x2] = x.roll(1, 0)[..., y1:y2, x1:x2]
    lam = 1.0 - (x2 - x1) * (y2 - y1) / (W * H)
    return out, lam * target + (1 - lam) * target.roll(1, 0)


def ricap(x: torch.Tensor, y: torch.Tensor, *, beta: float = 0.3, num_classes: int,
          generator: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    r"""RICAP (Takahashi et al., 2019): patch four random crops into one image.

    The boundary :math:`(h, w) = (\operatorname{round}(H\beta_1), \operatorname{round}(W
    \beta_2))`, :math:`\beta_i \sim \mathrm{Beta}(\beta, \beta)`, splits the image into four
    rectangles :math:`h\times w`, :math:`h\times(W-w)`, :math:`(H-h)\times w`,
    :math:`(H-h)\times(W-w)` (top-left, top-right, bottom-left, bottom-right). Rectangle
    :math:`k` is filled by a crop of that size, at a uniform position, of the images of a
    random permutation :math:`\pi_k` of the batch (one position and permutation per
    :math:`k` and batch, as in the authors' code), and the label is the area-weighted mix

    .. math::
        \tilde y = \sum_{k=1}^{4} \frac{h_k w_k}{HW}\, e_{y_{\pi_k(i)}} .

    Args:
        x: images :math:`(N, C, H, W)`.
        y: labels :math:`(N,)` in ``[0, num_classes)``, or probabilities :math:`(N, K)`.
        beta: :math:`\beta > 0` (0.3 in the paper).
        num_classes: :math:`K`.
        generator: random source.

    Returns:
        tuple[torch.Tensor, torch.Tensor]: the patched images and their soft labels
        :math:`(N, K)`; the four weights are the areas' shares and sum to 1.

    Examples:
        >>> x = torch.arange(4.).view(4, 1, 1, 1).expand(4, 1, 4, 4)
        >>> xm, ym = ricap(x, torch.arange(4), num_classes=4,
        ...                generator=torch.Generator().manual_seed(0))
        >>> torch.allclose(ym @ torch.arange(4.), xm.mean(dim=(1, 2, 3)))
        True
    """
    target = _batch(x, y, num_classes, images=True)
    beta = _checks.number(beta, "beta", low=0, low_open=True)
    N, _, H, W = x.shape
    where = generator.device if generator is not None else x.device
    hw = beta_sample(beta, beta, 2, generator=generator)
    h, w = int(round(H * float(hw[0]))), int(round(W * float(hw[1])))
    sizes = [(h, w), (h, W - w), (H - h, w), (H - h, W - w)]
    crops, label = [], torch.zeros_like(target)
    for hk, wk in sizes:
        perm = torch.randperm(N, generator=generator, device=where).to(x.device)
        u = _uniform(2, generator, x.device)
        top, left = int(u[0] * (H - hk + 1)), int(u[1] * (W - wk + 1))
        crops.append(x[perm][:, :, top:top + hk, left:left + wk])
        label = label + hk * wk / (H * W) * target[perm]
    out = torch.cat([torch.cat(crops[:2], dim=3), torch.cat(crops[2:], dim=3)], dim=2)
    return out, label
