r"""Dropout and multi-sample dropout (chapter Regularization, section "Dropout").

:func:`dropout` is *inverted* dropout, the form :func:`torch.nn.functional.dropout` uses: in
training each unit is kept with probability :math:`1 - p` and a kept unit is divided by
:math:`1 - p`, so the expectation of every unit is unchanged and evaluation is the identity
(no rescaling at test time). :func:`multi_sample_dropout` draws several dropout masks on the
same features and passes each through the same head (Inoue, 2019); :func:`multi_sample_loss`
averages the loss over those samples, as the paper does.

Conventions:

* ``p`` is the probability of *dropping* a unit (PyTorch's meaning; Srivastava et al. (2014)
  write :math:`p` for the probability of *keeping* one).
* ``training`` has no default: forgetting it is the pitfall of ``F.dropout``, whose
  ``training=True`` default ignores ``model.eval()`` (pytorch/pytorch#26338).
* Random numbers come from ``generator`` (drawn on the generator's device, then moved to
  the input's), so a seeded generator gives the same mask twice.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch.nn import functional as F

from dlcore import _checks

__all__ = ["dropout", "dropout_mask", "multi_sample_dropout", "multi_sample_loss"]


def _p(p) -> float:
    _checks.number(p, "p", low=0)
    if p >= 1:
        raise ValueError(
            f"`p` must be in [0, 1) (the probability of dropping a unit; p = 1 would drop "
            f"every unit and the scale 1/(1 - p) is undefined), got {p}")
    return float(p)


def _input(x, name: str = "x") -> torch.Tensor:
    return _checks.tensor(x, name, floating=True, allow_empty=True)


def dropout_mask(shape, p: float = 0.5, *, dtype: torch.dtype = torch.float32,
                 device=None, generator: torch.Generator | None = None) -> torch.Tensor:
    r"""The multiplier of inverted dropout: :math:`m_i = r_i/(1-p)` with
    :math:`r_i \sim \mathrm{Bernoulli}(1-p)` independent.

    Args:
        shape: shape of the mask (a ``torch.Size`` or a tuple of ints).
        p: probability of dropping a unit, in :math:`[0, 1)`.
        dtype: floating dtype of the mask.
        device: device of the mask (default: the CPU).
        generator: random source; the uniforms are drawn on its device.

    Returns:
        torch.Tensor: values in :math:`\{0, 1/(1-p)\}`, mean :math:`1` in expectation.

    Examples:
        >>> m = dropout_mask((2, 4), 0.5, generator=torch.Generator().manual_seed(0))
        >>> sorted(set(m.flatten().tolist())) in ([0.0, 2.0], [0.0], [2.0])
        True
    """
    p = _p(p)
    if not isinstance(dtype, torch.dtype) or not dtype.is_floating_point:
        raise ValueError(f"`dtype` must be a floating torch.dtype, got {dtype!r}")
    draw_on = generator.device if generator is not None else device
    u = torch.rand(tuple(shape), generator=generator, dtype=dtype, device=draw_on)
    # keep with probability P(u >= p) = 1 - p; the kept value 1/(1 - p) as torch computes it
    keep = (u >= p).to(dtype)
    return keep.div_(1.0 - p).to(device if device is not None else keep.device)


def dropout(x: torch.Tensor, p: float = 0.5, *, training: bool,
            generator: torch.Generator | None = None) -> torch.Tensor:
    r"""Inverted dropout: zero each element with probability ``p``, scale the rest by
    :math:`1/(1-p)`; the identity when not training.

    .. math::
        y_i = \frac{r_i}{1-p}\,x_i,\qquad r_i \sim \mathrm{Bernoulli}(1-p),\qquad
        \mathbb E[y_i \mid x] = x_i .

    Equal in distribution to ``torch.nn.functional.dropout(x, p, training)``; the masks
    differ because the random streams differ.

    Args:
        x: floating tensor of any shape.
        p: probability of dropping an element, in :math:`[0, 1)`; ``p = 0`` is the identity.
        training: apply the mask (``True``) or return ``x`` unchanged (``False``). No
            default, on purpose: pass ``training=self.training`` inside a module.
        generator: random source (any device: the mask is moved to ``x``'s device).

    Returns:
        torch.Tensor: same shape and dtype as ``x``; a new tensor (``x`` itself when not
        training or ``p = 0``, as torch returns its input).

    Raises:
        ValueError: ``p`` outside :math:`[0, 1)`, or ``x`` not floating.
        TypeError: ``training`` not a bool, ``x`` not a tensor.

    References:
        Srivastava et al. (2014), *Dropout: a simple way to prevent neural networks from
        overfitting*, JMLR 15; Hinton et al. (2012), arXiv:1207.0580.

    Examples:
        >>> x = torch.ones(2, 4)
        >>> y = dropout(x, 0.5, training=True, generator=torch.Generator().manual_seed(0))
        >>> bool(((y == 0) | (y == 2)).all())
        True
        >>> dropout(x, 0.5, training=False) is x
        True
    """
    _input(x)
    p = _p(p)
    _checks.flag(training, "training")
    if not training or p == 0:
        return x
    return x * dropout_mask(x.shape, p, dtype=x.dtype, device=x.device, generator=generator)


def multi_sample_dropout(x: torch.Tensor, head: Callable[[torch.Tensor], torch.Tensor],
                         p: float = 0.5, *, samples: int, training: bool,
                         generator: torch.Generator | None = None) -> torch.Tensor:
    r"""Multi-sample dropout: ``samples`` independent dropout masks on the same features,
    each passed through the same ``head``; the outputs stacked on a new first axis.

    .. math::
        z^{(k)} = \mathrm{head}\bigl(r^{(k)} \odot x/(1-p)\bigr),\qquad k = 1,\dots,m,

    the loss of the step being the mean of the :math:`m` sample losses
    (:func:`multi_sample_loss`, Inoue 2019, §3). The layers below ``x`` run once, which is
    why the extra cost is small when the head is small.

    Args:
        x: features ``(N, *)`` below the dropout layer.
        head: the shared layers after dropout (e.g. an ``nn.Linear``).
        p: dropout probability, in :math:`[0, 1)`.
        samples: the number :math:`m \ge 1` of dropout samples (masks).
        training: draw masks (``True``) or evaluate: then dropout is off, the :math:`m`
            samples would coincide, and one pass is returned (leading axis of size 1).
        generator: random source for the masks.

    Returns:
        torch.Tensor: ``(m, *head(x).shape)`` in training, ``(1, *head(x).shape)`` in
        evaluation; average over axis 0 for a prediction.

    Raises:
        ValueError: ``samples < 1``, ``p`` outside :math:`[0, 1)`; TypeError: ``head`` not
            callable.

    Examples:
        >>> head = torch.nn.Linear(4, 3)
        >>> z = multi_sample_dropout(torch.randn(5, 4), head, 0.5, samples=8, training=True)
        >>> tuple(z.shape)
        (8, 5, 3)
        >>> tuple(multi_sample_dropout(torch.randn(5, 4), head, samples=8,
        ...                            training=False).shape)
        (1, 5, 3)
    """
    _input(x)
    if x.ndim == 0:
        raise ValueError("`x` must have a batch axis (at least 1-dimensional), got a scalar")
    p = _p(p)
    samples = _checks.number(samples, "samples", low=1, integer=True)
    _checks.flag(training, "training")
    if not callable(head):
        raise TypeError(f"`head` must be callable, got {type(head).__name__}")
    if not training:
        return head(x).unsqueeze(0)
    # m masks at once: the features repeated along a new sample axis, one mask each
    xs = x.unsqueeze(0).expand(samples, *x.shape)
    dropped = dropout(xs, p, training=True, generator=generator)
    out = head(dropped.reshape(samples * x.shape[0], *x.shape[1:]))
    return out.reshape(samples, x.shape[0], *out.shape[1:])


def multi_sample_loss(outputs: torch.Tensor, target: torch.Tensor,
                      loss_fn: Callable = F.cross_entropy) -> torch.Tensor:
    r"""The mean over dropout samples of the loss of each sample (Inoue, 2019):

    .. math:: \mathcal L = \frac1m \sum_{k=1}^m \ell\bigl(z^{(k)}, y\bigr).

    This is *not* the loss of the averaged logits :math:`\ell(\bar z, y)`, which is smaller
    for a loss convex in the logits (Jensen's inequality); the paper averages the losses.

    Args:
        outputs: ``(m, N, …)`` from :func:`multi_sample_dropout`.
        target: the labels of the ``N`` examples, as ``loss_fn`` expects them.
        loss_fn: ``loss_fn(logits, target)`` returning a scalar (default cross-entropy).

    Returns:
        torch.Tensor: a scalar.

    Examples:
        >>> z = torch.zeros(3, 2, 4)
        >>> float(multi_sample_loss(z, torch.tensor([0, 1])))  # log 4
        1.3862943649291992
    """
    _checks.tensor(outputs, "outputs", floating=True)
    if outputs.ndim < 2:
        raise ValueError(f"`outputs` must have a leading sample axis and a batch axis, got "
                         f"shape {tuple(outputs.shape)}")
    if not callable(loss_fn):
        raise TypeError(f"`loss_fn` must be callable, got {type(loss_fn).__name__}")
    return torch.stack([loss_fn(z, target) for z in outputs]).mean()
