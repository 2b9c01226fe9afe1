r"""Training helpers for the optimizers' hyperparameters: :func:`param_groups` (no weight decay
on biases and normalization weights) and :func:`linear_scaling` (the learning rate for a batch
size)."""

from __future__ import annotations

from collections.abc import Iterable

from torch import nn

from dlcore import _checks

_NORM_LAYERS = (
    nn.BatchNorm1d, nn.BatchNorm2d, nn.BatchNorm3d, nn.SyncBatchNorm,
    nn.LazyBatchNorm1d, nn.LazyBatchNorm2d, nn.LazyBatchNorm3d,
    nn.InstanceNorm1d, nn.InstanceNorm2d, nn.InstanceNorm3d,
    nn.LayerNorm, nn.GroupNorm, nn.RMSNorm,
)


def param_groups(model: nn.Module, *, weight_decay: float,
                 no_decay: Iterable[str] = ("bias",)) -> list[dict]:
    r"""Split a model's parameters into a decayed group and a group without weight decay.

    A trainable parameter is exempt from decay when any of these holds:

    * it belongs to a normalization layer (BatchNorm, InstanceNorm, LayerNorm, GroupNorm,
      RMSNorm), whatever its shape;
    * it has at most one dimension (biases, normalization scales and shifts, PReLU slopes);
    * its qualified name (``"encoder.0.bias"``) contains one of the strings in ``no_decay``.

    This is the practice of BERT (Devlin et al., 2019; its optimizer excludes ``"bias"`` and
    ``"LayerNorm"``): decay pulls weights towards 0, which regularizes a weight matrix, but a
    bias or a normalization scale only sets an offset or a scale, and shrinking a scale
    towards 0 fights the normalization.

    Args:
        model: the module whose ``named_parameters()`` are split (shared parameters once).
        weight_decay: :math:`\lambda \ge 0` for the decayed group.
        no_decay: extra name substrings to exempt; a plain ``str`` is rejected (it would be
            read letter by letter).

    Returns:
        The list of two groups ``[decayed_group, exempt_group]``, namely
        ``{"params": decayed, "weight_decay": weight_decay}`` and
        ``{"params": exempt, "weight_decay": 0.0}``, ready for any optimizer here or in
        :mod:`torch.optim`. Frozen parameters (``requires_grad=False``) are left out.

    Examples:
        >>> net = nn.Sequential(nn.Linear(3, 4), nn.LayerNorm(4), nn.Linear(4, 1))
        >>> decay, exempt = param_groups(net, weight_decay=0.01)
        >>> [tuple(p.shape) for p in decay["params"]], len(exempt["params"])
        ([(4, 3), (1, 4)], 4)
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"`model` must be a torch.nn.Module, got {type(model).__name__}")
    _checks.number(weight_decay, "weight_decay", low=0)
    if isinstance(no_decay, str):
        raise TypeError(f"`no_decay` must be an iterable of str, got the str {no_decay!r}")
    patterns = tuple(no_decay)
    if not all(isinstance(s, str) for s in patterns):
        raise TypeError(f"`no_decay` must be an iterable of str, got {patterns!r}")
    decay, exempt, seen = [], [], set()
    for module_name, module in model.named_modules():
        for name, p in module.named_parameters(recurse=False):
            full_name = f"{module_name}.{name}" if module_name else name
            if id(p) in seen or not p.requires_grad:
                continue  # a tied weight is listed once; frozen weights need no optimizer
            seen.add(id(p))
            skip = (isinstance(module, _NORM_LAYERS) or p.ndim <= 1
                    or any(s in full_name for s in patterns))
            (exempt if skip else decay).append(p)
    return [{"params": decay, "weight_decay": weight_decay},
            {"params": exempt, "weight_decay": 0.0}]


def linear_scaling(base_lr: float, batch_size: int, base_batch_size: int = 256) -> float:
    r"""The linear scaling rule: multiply the learning rate by the batch-size ratio.

    .. math:: \eta = \eta_{\text{base}} \cdot \frac{B}{B_{\text{base}}}

    Goyal et al. trained ResNet-50 with :math:`\eta = 0.1 \cdot B/256` up to :math:`B = 8192`;
    the rule relies on a warm-up (they use 5 epochs) and breaks down for very large batches.

    Args:
        base_lr: :math:`\eta_{\text{base}} \ge 0`, tuned at ``base_batch_size``.
        batch_size: the batch size :math:`B \ge 1` you will use.
        base_batch_size: :math:`B_{\text{base}} \ge 1` (default 256, the paper's).

    References:
        Goyal et al., *Accurate, Large Minibatch SGD: Training ImageNet in 1 Hour*, 2017.

    Examples:
        >>> linear_scaling(0.1, 8192)
        3.2
    """
    _checks.number(base_lr, "base_lr", low=0)
    _checks.number(batch_size, "batch_size", low=1, integer=True)
    _checks.number(base_batch_size, "base_batch_size", low=1, integer=True)
    return base_lr * batch_size / base_batch_size
