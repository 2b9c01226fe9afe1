r"""Language-model metrics: :func:`perplexity` (chapter Metrics, section "Perplexity")."""

from __future__ import annotations

import torch

from dlcore import _checks


def perplexity(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    r"""Perplexity, the exponential of the mean cross-entropy (in nats).

    .. math::
        \mathrm{PPL} = \exp\Bigl(-\frac1N \sum_{n=1}^N \log p_\theta(y_n \mid x_n)\Bigr),
        \qquad \log p_\theta(c \mid x_n) = z_{nc} - \log \textstyle\sum_j e^{z_{nj}}

    A model that is uniform over :math:`C` classes has perplexity :math:`C`: the effective
    number of equally likely choices.

    Args:
        logits: ``(..., C)`` unnormalized scores, classes in the **last** dimension (e.g.
            ``(batch, seq_len, vocab)``); floating point, no NaN.
        target: ``(...)`` integer labels in ``[0, C)``, shape ``logits.shape[:-1]``.

    Returns:
        0-d tensor in ``logits``' dtype; differentiable.

    Notes:
        Equals ``torch.exp(F.cross_entropy(logits.reshape(-1, C), target.reshape(-1)))``;
        note that ``F.cross_entropy`` itself expects the classes in dimension 1.

    Examples:
        >>> perplexity(torch.zeros(2, 4), torch.tensor([0, 3]))
        tensor(4.)
    """
    _checks.tensor(logits, "logits", floating=True)
    _checks.no_nan(logits, "logits")
    if logits.ndim < 2:
        raise ValueError(
            f"`logits` must be at least 2-dimensional (..., C), got shape {tuple(logits.shape)}"
        )
    _checks.tensor(target, "target")
    if target.shape != logits.shape[:-1]:
        raise ValueError(
            f"`target` must have shape logits.shape[:-1] = {tuple(logits.shape[:-1])}, "
            f"got {tuple(target.shape)}"
        )
    _checks.labels(target, "target", logits.shape[-1])
    log_p = torch.log_softmax(logits, dim=-1)
    nll = -log_p.gather(-1, target.long().unsqueeze(-1))
    return torch.exp(nll.mean())
