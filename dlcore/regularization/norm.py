r"""Normalization layers as functions: batch, layer, instance and group normalization.

Each normalises a set :math:`S` of entries of its input by the mean and the *biased*
variance of that set, then applies a per-channel (or per-feature) affine map,

.. math::
    \hat x_i = \frac{x_i - \mu_S}{\sqrt{\sigma_S^2 + \epsilon}},\qquad
    y_i = \gamma \hat x_i + \beta,\qquad
    \mu_S = \frac{1}{|S|}\sum_{j\in S} x_j,\quad
    \sigma_S^2 = \frac{1}{|S|}\sum_{j\in S} (x_j-\mu_S)^2 .

They differ only in the set. For an input of shape ``(N, C, *)``:

* :func:`batch_norm` — one set per channel :math:`c`: all ``N`` examples and all positions
  (Ioffe & Szegedy 2015); it also keeps *running estimates* for inference;
* :func:`layer_norm` — one set per example: the trailing ``normalized_shape`` axes (Ba et
  al. 2016);
* :func:`instance_norm` — one set per example and channel: the positions (Ulyanov et al.
  2016);
* :func:`group_norm` — one set per example and group of ``C / G`` channels with their
  positions (Wu & He 2018); ``G = 1`` is layer norm over ``(C, *)``, ``G = C`` instance norm.

Every function equals its :mod:`torch.nn.functional` namesake in values and gradients
(tested in float64 and float32) and takes the same argument names with the same defaults,
except:

* :func:`batch_norm`: ``training`` is keyword-only and has no default (torch: positional,
  ``training=False``), so a call must say which mode it means; ``momentum`` and ``eps`` are
  keyword-only; ``momentum=None`` (the cumulative average of :class:`torch.nn.BatchNorm1d`)
  is supported through the extra keyword ``num_batches_tracked``;
* :func:`instance_norm`: ``use_input_stats``, ``momentum`` and ``eps`` are keyword-only;
* every function: ``eps`` must be > 0 (torch accepts ``eps=0`` and returns NaN for a
  constant set), and NaN or infinite inputs raise ``ValueError``.
"""

from __future__ import annotations

import math

import torch

from dlcore import _checks

__all__ = ["batch_norm", "layer_norm", "instance_norm", "group_norm"]


def _input(x, min_ndim: int, shape_name: str) -> torch.Tensor:
    """Validate a finite floating input with at least ``min_ndim`` dimensions."""
    _checks.tensor(x, "x", floating=True)
    if x.ndim < min_ndim:
        raise ValueError(f"`x` must have shape {shape_name} (at least {min_ndim} "
                         f"dimensions), got shape {tuple(x.shape)}")
    return _checks.finite(x, "x")


def _vector(v, name: str, shape: tuple[int, ...], x: torch.Tensor,
            *, finite: bool = True) -> torch.Tensor | None:
    """Validate an optional parameter or buffer of ``shape`` with ``x``'s dtype."""
    if v is None:
        return None
    _checks.tensor(v, name, floating=True)
    if tuple(v.shape) != shape:
        raise ValueError(f"`{name}` must have shape {shape}, got {tuple(v.shape)}")
    if v.dtype != x.dtype:
        raise ValueError(f"`{name}` must have the dtype of `x` ({x.dtype}), got {v.dtype}")
    return _checks.finite(v, name) if finite else _checks.no_nan(v, name)


def _buffers(running_mean, running_var, channels: int, x: torch.Tensor) -> bool:
    """Validate a pair of running buffers (both given or both None); return whether given."""
    if (running_mean is None) != (running_var is None):
        raise ValueError("`running_mean` and `running_var` must both be tensors or both "
                         f"be None, got {type(running_mean).__name__} and "
                         f"{type(running_var).__name__}")
    _vector(running_mean, "running_mean", (channels,), x)
    _vector(running_var, "running_var", (channels,), x)
    if running_var is not None and bool((running_var < 0).any()):
        raise ValueError("`running_var` must be >= 0 (a variance), got minimum "
                         f"{float(running_var.min())}")
    return running_mean is not None


def _eps(eps) -> float:
    # eps = 0 would turn a constant input into 0/0; torch allows it and returns NaN
    return _checks.number(eps, "eps", low=0, low_open=True)


def _channel_shape(v: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """``v`` of shape (C,) viewed as (C, 1, ..., 1) to broadcast over ``x``'s channel axis."""
    return v.reshape(v.shape + (1,) * (x.ndim - 2))


def _affine(x_hat: torch.Tensor, weight, bias) -> torch.Tensor:
    """y = γ x̂ + β, per channel (axis 1)."""
    if weight is not None:
        x_hat = x_hat * _channel_shape(weight, x_hat)
    if bias is not None:
        x_hat = x_hat + _channel_shape(bias, x_hat)
    return x_hat


def _standardise(x: torch.Tensor, dims: tuple[int, ...], eps: float):
    """(x − μ) / √(σ² + ε) over ``dims``, with μ and the biased σ² (kept dims)."""
    mean = x.mean(dim=dims, keepdim=True)
    var = x.var(dim=dims, correction=0, keepdim=True)  # biased: divide by |S|
    return (x - mean) * torch.rsqrt(var + eps), mean, var


def _per_channel(x, min_dim, shape, running_mean, running_var, weight, bias):
    """Check the input and its per-channel tensors; return ``x``, ``C`` and whether running
    buffers are given (batch and instance norm share this)."""
    x = _input(x, min_dim, shape)
    channels = x.shape[1]
    tracked = _buffers(running_mean, running_var, channels, x)
    _vector(weight, "weight", (channels,), x)
    _vector(bias, "bias", (channels,), x)
    return x, channels, tracked


def batch_norm(x: torch.Tensor, running_mean: torch.Tensor | None,
               running_var: torch.Tensor | None, weight: torch.Tensor | None = None,
               bias: torch.Tensor | None = None, *, training: bool,
               momentum: float | None = 0.1, eps: float = 1e-5,
               num_batches_tracked: torch.Tensor | None = None) -> torch.Tensor:
    r"""Batch normalization of ``x`` (shape ``(N, C, *)``) per channel, with running estimates.

    In **training** (``training=True``) each channel :math:`c` is normalised by the
    statistics of the batch, over the :math:`m = N \cdot L` values of the examples and
    positions (:math:`L` = product of ``*``):

    .. math::
        \mu_c = \frac1m \sum_{i} x_{ic},\quad
        \sigma_c^2 = \frac1m \sum_{i} (x_{ic}-\mu_c)^2,\quad
        y_{ic} = \gamma_c \frac{x_{ic}-\mu_c}{\sqrt{\sigma_c^2+\epsilon}} + \beta_c ,

    and, when the buffers are given, they are updated **in place** with the *unbiased*
    variance :math:`s_c^2 = \frac{m}{m-1}\sigma_c^2`:

    .. math::
        \hat\mu_c \leftarrow (1-\alpha)\,\hat\mu_c + \alpha\,\mu_c,\qquad
        \hat\sigma^2_c \leftarrow (1-\alpha)\,\hat\sigma^2_c + \alpha\, s_c^2 ,

    with :math:`\alpha` = ``momentum`` (the weight on the *new* statistic) or, for
    ``momentum=None``, :math:`\alpha = 1/t` after the :math:`t`-th tracked batch (a
    cumulative average). In **inference** (``training=False``) the running estimates take
    the place of :math:`\mu_c, \sigma_c^2` and nothing is updated.

    Args:
        x: floating input of shape ``(N, C)`` or ``(N, C, *)``.
        running_mean: running estimate :math:`\hat\mu` of shape ``(C,)``, or None (then
            only ``training=True`` is possible, as in torch).
        running_var: running estimate :math:`\hat\sigma^2` of shape ``(C,)``, or None
            (with ``running_mean``).
        weight: :math:`\gamma` of shape ``(C,)`` (default 1).
        bias: :math:`\beta` of shape ``(C,)`` (default 0).
        training: normalise with the batch statistics and update the buffers (True), or
            with the running estimates (False).
        momentum: :math:`\alpha \in [0, 1]`, or None for the cumulative average.
        eps: :math:`\epsilon > 0` added to the variance.
        num_batches_tracked: optional integer 0-d tensor, the counter of
            :class:`torch.nn.BatchNorm1d`; incremented in place by each training call
            that updates buffers. Required for ``momentum=None``, where :math:`t` is its
            value after the increment.

    Returns:
        torch.Tensor: ``y``, the shape and dtype of ``x``.

    Raises:
        ValueError: a batch with one value per channel in training (torch says "Expected
            more than 1 value per channel when training"); buffers missing in inference;
            shapes or dtypes of the vectors not ``(C,)`` and ``x``'s; ``momentum`` outside
            [0, 1]; ``eps <= 0``; NaN or infinite input.

    Notes:
        *Biased vs unbiased.* The batch is normalised with the biased :math:`\sigma^2`
        (Ioffe & Szegedy's Algorithm 1), but the running variance collects the unbiased
        :math:`s^2`, the estimate their Algorithm 2 uses for inference
        (:math:`\frac{m}{m-1}\mathrm E[\sigma_B^2]`). From-scratch code that stores the
        biased one (d2l's, labml's) drifts from PyTorch by the factor :math:`m/(m-1)`.

        *Momentum.* PyTorch's ``momentum=0.1`` weighs the new batch by 0.1; TensorFlow's
        and Keras' ``momentum=0.99`` (MindSpore's 0.9) weigh the *old* estimate, so
        torch's :math:`\alpha` is their :math:`1-\text{momentum}`.

        :func:`torch.nn.functional.batch_norm` takes no ``momentum=None``: the module
        :class:`torch.nn.BatchNorm1d` turns it into :math:`1/t` with its
        ``num_batches_tracked`` buffer; this function does the same with the counter
        passed. A constant channel gives :math:`y = \beta` exactly (torch's float32
        kernel is off by a few hundredths at :math:`x \equiv 10^4`).

    References:
        Ioffe, Szegedy, "Batch Normalization: Accelerating Deep Network Training by
        Reducing Internal Covariate Shift", ICML 2015, Algorithms 1 and 2.

    Examples:
        >>> x = torch.tensor([[1.0, 10.0], [3.0, 30.0]])
        >>> rm, rv = torch.zeros(2), torch.ones(2)
        >>> batch_norm(x, rm, rv, training=True)
        tensor([[-1.0000, -1.0000],
                [ 1.0000,  1.0000]])
        >>> rm, rv            # 0.9·old + 0.1·new, the variance unbiased: 2 and 200
        (tensor([0.2000, 2.0000]), tensor([ 1.1000, 20.9000]))
    """
    _checks.flag(training, "training")
    x, channels, tracked = _per_channel(x, 2, "(N, C) or (N, C, *)", running_mean,
                                        running_var, weight, bias)
    if momentum is not None:
        _checks.number(momentum, "momentum", low=0, high=1)
    eps = _eps(eps)
    if num_batches_tracked is not None:
        _checks.tensor(num_batches_tracked, "num_batches_tracked")
        if num_batches_tracked.ndim != 0 or num_batches_tracked.is_floating_point():
            raise ValueError("`num_batches_tracked` must be a 0-d integer tensor, got "
                             f"shape {tuple(num_batches_tracked.shape)} and "
                             f"{num_batches_tracked.dtype}")
    if not training:
        if not tracked:
            raise ValueError("`running_mean` and `running_var` must be given when "
                             "training=False (inference normalises with them), got None")
        # inference: a fixed affine map per channel, y = γ (x − μ̂)/√(σ̂² + ε) + β
        x_hat = ((x - _channel_shape(running_mean, x))
                 * torch.rsqrt(_channel_shape(running_var, x) + eps))
        return _affine(x_hat, weight, bias)
    m = x.numel() // channels  # values per channel: N · L
    if m == 1:
        raise ValueError("Expected more than 1 value per channel when training, got "
                         f"input size {tuple(x.shape)}: `x` must hold at least 2 "
                         "values per channel (a batch of one example has no variance)")
    if tracked and momentum is None and num_batches_tracked is None:
        raise ValueError("`num_batches_tracked` must be given with momentum=None "
                         "(the cumulative average weighs batch t by 1/t), got None")
    dims = (0, *range(2, x.ndim))
    x_hat, mean, var = _standardise(x, dims, eps)
    if tracked:
        with torch.no_grad():
            if num_batches_tracked is not None:
                num_batches_tracked.add_(1)
            alpha = 1.0 / int(num_batches_tracked) if momentum is None else momentum
            # μ̂ ← (1 − α) μ̂ + α μ;  σ̂² ← (1 − α) σ̂² + α · m/(m − 1) · σ²
            running_mean.mul_(1 - alpha).add_(mean.reshape(-1), alpha=alpha)
            running_var.mul_(1 - alpha).add_(var.reshape(-1) * (m / (m - 1)), alpha=alpha)
    return _affine(x_hat, weight, bias)


def layer_norm(x: torch.Tensor, normalized_shape, weight: torch.Tensor | None = None,
               bias: torch.Tensor | None = None, eps: float = 1e-5) -> torch.Tensor:
    r"""Layer normalization: each example normalised over its trailing axes.

    With :math:`S` the entries of the last ``len(normalized_shape)`` axes of one example,

    .. math::
        y = \gamma \odot \frac{x - \mu_S}{\sqrt{\sigma_S^2 + \epsilon}} + \beta ,

    :math:`\sigma_S^2` biased; :math:`\gamma, \beta` have shape ``normalized_shape``
    (elementwise, not per channel). No batch statistics: training and inference are the
    same map, and a batch of one is fine.

    Args:
        x: floating input whose trailing shape is ``normalized_shape``.
        normalized_shape: an int or a tuple of ints, e.g. ``(C,)`` for ``(N, C)`` features
            or ``(C, L)`` for ``(N, C, L)`` (the whole example).
        weight: :math:`\gamma` of shape ``normalized_shape`` (default 1).
        bias: :math:`\beta` of shape ``normalized_shape`` (default 0).
        eps: :math:`\epsilon > 0`.

    Returns:
        torch.Tensor: ``y``, the shape and dtype of ``x``.

    Raises:
        ValueError: ``normalized_shape`` not the trailing shape of ``x``; ``weight`` or
            ``bias`` of another shape or dtype; ``eps <= 0``; NaN or infinite input.

    References:
        Ba, Kiros, Hinton, "Layer Normalization", arXiv:1607.06450, 2016, §3.

    Examples:
        >>> layer_norm(torch.tensor([[1.0, 2.0, 3.0], [0.0, 0.0, 6.0]]), (3,))
        tensor([[-1.2247,  0.0000,  1.2247],
                [-0.7071, -0.7071,  1.4142]])
    """
    if isinstance(normalized_shape, int) and not isinstance(normalized_shape, bool):
        normalized_shape = (normalized_shape,)
    if (not isinstance(normalized_shape, (tuple, list, torch.Size)) or not normalized_shape
            or any(isinstance(s, bool) or not isinstance(s, int) for s in normalized_shape)):
        raise ValueError("`normalized_shape` must be an int or a non-empty tuple of ints, "
                         f"got {normalized_shape!r}")
    shape = tuple(normalized_shape)
    x = _input(x, len(shape), f"(*, {', '.join(map(str, shape))})")
    if tuple(x.shape[x.ndim - len(shape):]) != shape:
        raise ValueError(f"`normalized_shape` must be the trailing shape of `x`, got "
                         f"{shape} for `x` of shape {tuple(x.shape)}")
    _vector(weight, "weight", shape, x)
    _vector(bias, "bias", shape, x)
    eps = _eps(eps)
    y, _, _ = _standardise(x, tuple(range(x.ndim - len(shape), x.ndim)), eps)
    if weight is not None:
        y = y * weight
    if bias is not None:
        y = y + bias
    return y


def instance_norm(x: torch.Tensor, running_mean: torch.Tensor | None = None,
                  running_var: torch.Tensor | None = None,
                  weight: torch.Tensor | None = None, bias: torch.Tensor | None = None,
                  *, use_input_stats: bool = True, momentum: float = 0.1,
                  eps: float = 1e-5) -> torch.Tensor:
    r"""Instance normalization: each (example, channel) normalised over its positions.

    For ``x`` of shape ``(N, C, *)`` with :math:`L` positions per channel,

    .. math::
        \mu_{nc} = \frac1L \sum_{l} x_{ncl},\quad
        \sigma^2_{nc} = \frac1L \sum_l (x_{ncl}-\mu_{nc})^2,\quad
        y_{ncl} = \gamma_c \frac{x_{ncl}-\mu_{nc}}{\sqrt{\sigma^2_{nc}+\epsilon}}+\beta_c .

    With ``use_input_stats=True`` (the default, and what :class:`torch.nn.InstanceNorm1d`
    does by default, ``track_running_stats=False``) these statistics are used, and given
    buffers are updated in place with their average over the batch,
    :math:`\hat\mu_c \leftarrow (1-\alpha)\hat\mu_c + \alpha\frac1N\sum_n\mu_{nc}` and
    likewise the variance with the unbiased :math:`\frac{L}{L-1}\sigma^2_{nc}` — what
    torch does. With ``use_input_stats=False`` the running estimates normalise instead
    (per channel, as batch norm in inference).

    Args:
        x: floating input of shape ``(N, C, *)`` with at least one position axis.
        running_mean: optional ``(C,)`` buffer (with ``running_var``).
        running_var: optional ``(C,)`` buffer.
        weight: :math:`\gamma` of shape ``(C,)`` (default 1; torch's module default is
            ``affine=False``).
        bias: :math:`\beta` of shape ``(C,)`` (default 0).
        use_input_stats: normalise with the instance statistics (True) or the buffers.
        momentum: :math:`\alpha \in [0, 1]`, the weight on the new statistic.
        eps: :math:`\epsilon > 0`.

    Returns:
        torch.Tensor: ``y``, the shape and dtype of ``x``.

    Raises:
        ValueError: one position per channel with ``use_input_stats`` (torch: "Expected
            more than 1 spatial element when training"); buffers missing with
            ``use_input_stats=False``; shapes, dtypes, ``momentum``, ``eps`` or NaN input
            as for :func:`batch_norm`.

    References:
        Ulyanov, Vedaldi, Lempitsky, "Instance Normalization: The Missing Ingredient for
        Fast Stylization", arXiv:1607.08022, 2016, eq. (4).

    Examples:
        >>> instance_norm(torch.tensor([[[1.0, 3.0], [10.0, 30.0]]]))
        tensor([[[-1.0000,  1.0000],
                 [-1.0000,  1.0000]]])
    """
    _checks.flag(use_input_stats, "use_input_stats")
    x, channels, tracked = _per_channel(x, 3, "(N, C, *) with at least one position axis",
                                        running_mean, running_var, weight, bias)
    _checks.number(momentum, "momentum", low=0, high=1)
    eps = _eps(eps)
    if not use_input_stats:
        if not tracked:
            raise ValueError("`running_mean` and `running_var` must be given when "
                             "use_input_stats=False, got None")
        return batch_norm(x, running_mean, running_var, weight, bias, training=False,
                          eps=eps)
    length = math.prod(x.shape[2:])
    if length == 1:
        raise ValueError("Expected more than 1 spatial element when training, got input "
                         f"size {tuple(x.shape)}: `x` must hold at least 2 positions per "
                         "channel")
    x_hat, mean, var = _standardise(x, tuple(range(2, x.ndim)), eps)
    if tracked:
        with torch.no_grad():
            # the batch average of the per-instance statistics, variance unbiased
            new_mean = mean.reshape(x.shape[:2]).mean(0)
            new_var = var.reshape(x.shape[:2]).mean(0) * (length / (length - 1))
            running_mean.mul_(1 - momentum).add_(new_mean, alpha=momentum)
            running_var.mul_(1 - momentum).add_(new_var, alpha=momentum)
    return _affine(x_hat, weight, bias)


def group_norm(x: torch.Tensor, num_groups: int, weight: torch.Tensor | None = None,
               bias: torch.Tensor | None = None, eps: float = 1e-5) -> torch.Tensor:
    r"""Group normalization: each example's channels split into groups, each normalised.

    The ``C`` channels of ``x`` (shape ``(N, C, *)``) fall into :math:`G` = ``num_groups``
    consecutive groups of :math:`C/G`; :math:`S_{ng}` is group :math:`g` of example
    :math:`n` with all its positions, normalised by its mean and biased variance, then
    :math:`y_{nc\cdot} = \gamma_c \hat x_{nc\cdot} + \beta_c` per channel. ``G = 1`` is
    layer norm over ``(C, *)`` (with per-channel :math:`\gamma`), ``G = C`` is instance
    norm. No batch statistics: a batch of one is fine.

    Args:
        x: floating input of shape ``(N, C)`` or ``(N, C, *)``.
        num_groups: :math:`G \geq 1`, a divisor of ``C``.
        weight: :math:`\gamma` of shape ``(C,)`` (default 1).
        bias: :math:`\beta` of shape ``(C,)`` (default 0).
        eps: :math:`\epsilon > 0`.

    Returns:
        torch.Tensor: ``y``, the shape and dtype of ``x``.

    Raises:
        ValueError: ``C`` not divisible by ``num_groups``; ``num_groups < 1``; shapes or
            dtypes of ``weight``/``bias``; ``eps <= 0``; NaN or infinite input.

    References:
        Wu, He, "Group Normalization", ECCV 2018, eq. (1)–(7) and Figure 3 (code).

    Examples:
        >>> x = torch.tensor([[1.0, 3.0, 10.0, 20.0]])
        >>> group_norm(x, 2)          # groups {1, 3} and {10, 20}
        tensor([[-1.0000,  1.0000, -1.0000,  1.0000]])
    """
    x = _input(x, 2, "(N, C) or (N, C, *)")
    _checks.number(num_groups, "num_groups", low=1, integer=True)
    channels = x.shape[1]
    if channels % num_groups:
        raise ValueError(f"`num_groups` must divide the {channels} channels of `x`, got "
                         f"{num_groups}")
    _vector(weight, "weight", (channels,), x)
    _vector(bias, "bias", (channels,), x)
    eps = _eps(eps)
    grouped = x.reshape(x.shape[0], num_groups, -1)  # (N, G, C/G · L)
    y, _, _ = _standardise(grouped, (2,), eps)
    return _affine(y.reshape(x.shape), weight, bias)
