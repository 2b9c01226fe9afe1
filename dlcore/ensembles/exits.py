r"""Multi-exit (early-exit) networks: a classifier head after each block, trained jointly.

A network of blocks :math:`f_1, \dots, f_E` gets a *head* :math:`g_j` after each block, so that
exit :math:`j` predicts from :math:`h_j = f_j(\cdots f_1(x))`:

.. math::
    z^{(j)} = g_j(h_j), \qquad j = 1, \dots, E.

All heads are trained together with a weighted sum of their losses (:func:`joint_loss`,
BranchyNet, Teerapittayanon et al. 2016; the *shallow-deep networks* of Kaya et al. 2019), or
with the earlier exits also distilling from the last one (:func:`self_distillation_loss`). At
inference an example leaves at the first exit that is confident enough (:func:`early_exit`),
so easy examples pay for fewer blocks.

Logits of all exits are stacked along the first dimension, as members are in the rest of
:mod:`dlcore.ensembles`: a tensor of shape ``(exits, samples, classes)``.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from dlcore import _checks
from dlcore.losses import cross_entropy, distillation_loss

__all__ = ["MultiExit", "joint_loss", "early_exit", "self_distillation_loss"]


class MultiExit(nn.Module):
    r"""A chain of blocks with a classifier head after each one; returns every exit's logits.

    .. math::
        h_0 = x, \qquad h_j = f_j(h_{j-1}), \qquad z^{(j)} = g_j(h_j), \qquad j = 1, \dots, E.

    The forward pass computes all the exits (that is what training needs); :func:`early_exit`
    then says which exit each example would have left at, and the blocks it would have paid
    for. A deployed early-exit network stops computing at that exit instead.

    Args:
        blocks: the :math:`E` blocks :math:`f_j`, applied in order.
        heads: the :math:`E` heads :math:`g_j`; head ``j`` reads the output of block ``j``.
            Every head must give logits of the same shape ``(N, K)``.

    Raises:
        ValueError: ``blocks`` is empty, or ``blocks`` and ``heads`` differ in length.
        TypeError: an element is not an :class:`torch.nn.Module`.

    Examples:
        >>> _ = torch.manual_seed(0)
        >>> net = MultiExit([nn.Linear(4, 8), nn.Sequential(nn.ReLU(), nn.Linear(8, 8))],
        ...                 [nn.Linear(8, 3), nn.Linear(8, 3)])
        >>> net(torch.randn(5, 4)).shape          # (exits, samples, classes)
        torch.Size([2, 5, 3])
        >>> len(net)
        2
    """

    def __init__(self, blocks: Sequence[torch.nn.Module],
                 heads: Sequence[torch.nn.Module]) -> None:
        super().__init__()
        blocks, heads = list(blocks), list(heads)
        if not blocks:
            raise ValueError("`blocks` must hold at least one block, got 0")
        if len(blocks) != len(heads):
            raise ValueError(
                f"`blocks` and `heads` must have the same length, got {len(blocks)} and "
                f"{len(heads)}"
            )
        for name, modules in (("blocks", blocks), ("heads", heads)):
            for j, m in enumerate(modules):
                if not isinstance(m, nn.Module):
                    raise TypeError(
                        f"`{name}[{j}]` must be a torch.nn.Module, got {type(m).__name__}"
                    )
        self.blocks = nn.ModuleList(blocks)
        self.heads = nn.ModuleList(heads)

    def __len__(self) -> int:
        return len(self.blocks)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Return the logits of every exit, a tensor ``(exits, N, K)``."""
        outputs = []
        for block, head in zip(self.blocks, self.heads, strict=True):
            x = block(x)                       # h_j = f_j(h_{j-1})
            outputs.append(head(x))            # z^(j) = g_j(h_j)
        shapes = {tuple(z.shape) for z in outputs}
        if len(shapes) > 1:
            raise ValueError(
                f"`heads` must all return logits of one shape, got {sorted(shapes)}"
            )
        return torch.stack(outputs)


def _exit_logits(logits, name: str = "logits") -> torch.Tensor:
    _checks.tensor(logits, name, floating=True)
    _checks.ndim(logits, name, (3,))
    _checks.finite(logits, name)
    return logits


def _exit_weights(weights, exits: int, like: torch.Tensor) -> torch.Tensor:
    if weights is None:
        return torch.full((exits,), 1.0 / exits, dtype=like.dtype, device=like.device)
    w = torch.as_tensor(weights, dtype=like.dtype, device=like.device)
    if w.shape != (exits,):
        raise ValueError(
            f"`weights` must hold one weight per exit, shape ({exits},), got "
            f"{tuple(w.shape)}"
        )
    if not bool(torch.isfinite(w).all()) or bool((w < 0).any()):
        raise ValueError(f"`weights` must be finite and non-negative, got {w.tolist()}")
    return w


def joint_loss(logits: torch.Tensor, target: torch.Tensor, *,
               weights=None) -> torch.Tensor:
    r"""The weighted sum of the exits' cross-entropies: the joint training loss.

    .. math::
        \mathcal{L} = \sum_{j=1}^{E} w_j\, \mathcal{L}_j, \qquad
        \mathcal{L}_j = \frac1N \sum_{i=1}^{N} -\log \operatorname{softmax}(z^{(j)}_i)_{y_i}.

    Args:
        logits: floating tensor ``(E, N, K)``, the logits of the :math:`E` exits.
        target: class indices ``(N,)`` or probabilities ``(N, K)``, as
            :func:`~dlcore.losses.cross_entropy` accepts them.
        weights: :math:`E` non-negative numbers :math:`w_j`, used as given (they need not
            sum to one); ``None`` gives every exit :math:`1/E`, the mean of the losses.

    Returns:
        torch.Tensor: the scalar loss.

    Notes:
        BranchyNet (Teerapittayanon et al. 2016) writes this weighted sum with weights
        chosen by hand; PABEE (Zhou et al. 2020) weights exit :math:`j` by
        :math:`j / \sum_k k`, the form in the source notes; the shallow-deep networks of
        Kaya et al. (2019) let the weights of the internal exits grow during training.

    Examples:
        >>> z = torch.zeros(2, 4, 3)            # two exits, four examples, three classes
        >>> y = torch.tensor([0, 1, 2, 0])
        >>> joint_loss(z, y)                    # log 3 at every exit
        tensor(1.0986)
        >>> joint_loss(z, y, weights=[1.0, 2.0])
        tensor(3.2958)
    """
    _exit_logits(logits)
    w = _exit_weights(weights, len(logits), logits)
    losses = torch.stack([cross_entropy(z, target) for z in logits])   # L_j, shape (E,)
    return (w * losses).sum()


def self_distillation_loss(logits: torch.Tensor, target: torch.Tensor, *,
                           temperature: float, alpha: float, weights=None) -> torch.Tensor:
    r"""Joint loss in which every earlier exit also distils from the last exit.

    .. math::
        \mathcal{L} = \sum_{j=1}^{E-1} w_j\,
            \mathcal{L}_{\mathrm{KD}}\bigl(z^{(j)}, \operatorname{sg}(z^{(E)}), y\bigr)
        + w_E\, \mathcal{L}_E,

    with :math:`\mathcal{L}_{\mathrm{KD}}` the distillation loss of
    :func:`~dlcore.losses.distillation_loss` (soft term weighted :math:`\alpha T^2`, hard
    term :math:`1 - \alpha`), :math:`\mathcal{L}_E` the last exit's cross-entropy and
    :math:`\operatorname{sg}` a stop-gradient: the last exit teaches, but is trained on the
    labels alone.

    Args:
        logits: floating tensor ``(E, N, K)`` with :math:`E \ge 2` exits.
        target: class indices ``(N,)`` or probabilities ``(N, K)``.
        temperature: :math:`T > 0` of the soft targets.
        alpha: :math:`\alpha \in [0, 1]`; 0 gives :func:`joint_loss`.
        weights: as in :func:`joint_loss`.

    Returns:
        torch.Tensor: the scalar loss.

    Notes:
        This is the "exits distil from the deepest one" variant of *Be your own teacher*
        (Zhang et al. 2019) and of Phuong and Lampert (2019). The knowledge synergy of Sun
        et al. (2019) matches every pair of exits instead, in both directions.

    Examples:
        >>> z = torch.tensor([[[2.0, 0.0]], [[2.0, 0.0]]])    # two exits that agree
        >>> y = torch.tensor([0])
        >>> self_distillation_loss(z, y, temperature=2.0, alpha=1.0)  # only the last CE
        tensor(0.0635)
        >>> joint_loss(z, y, weights=[0.0, 0.5])
        tensor(0.0635)
    """
    _exit_logits(logits)
    if len(logits) < 2:
        raise ValueError(f"`logits` must hold at least 2 exits, got shape {tuple(logits.shape)}")
    w = _exit_weights(weights, len(logits), logits)
    teacher = logits[-1].detach()              # sg(z^(E)): no gradient into the teacher
    losses = [distillation_loss(z, teacher, target, temperature=temperature, alpha=alpha)
              for z in logits[:-1]]
    losses.append(cross_entropy(logits[-1], target))
    return (w * torch.stack(losses)).sum()


def early_exit(logits: torch.Tensor, *, threshold: float,
               criterion: str = "confidence") -> tuple[torch.Tensor, torch.Tensor]:
    r"""Predict with the first exit that is confident enough; return the predictions and exits.

    With :math:`p^{(j)} = \operatorname{softmax}(z^{(j)})`, example :math:`i` leaves at

    .. math::
        e_i = \min\bigl\{\, j : \max_c p^{(j)}_{ic} \ge \tau \,\bigr\}
        \quad\text{(confidence)}, \qquad
        e_i = \min\bigl\{\, j : -\textstyle\sum_c p^{(j)}_{ic} \log p^{(j)}_{ic} \le \tau
        \,\bigr\} \quad\text{(entropy)},

    or at the last exit :math:`E` when no exit qualifies, and is predicted as
    :math:`\arg\max_c z^{(e_i)}_{ic}`. With ``"confidence"``, :math:`\tau = 0` sends every
    example out at the first exit and :math:`\tau > 1` every example to the last.

    Args:
        logits: floating tensor ``(E, N, K)``, the logits of the :math:`E` exits.
        threshold: :math:`\tau \ge 0`: the least maximum probability (``"confidence"``) or
            the largest entropy in nats (``"entropy"``) at which an example may leave.
        criterion: ``"confidence"`` (the shallow-deep networks of Kaya et al. 2019) or
            ``"entropy"`` (BranchyNet, Teerapittayanon et al. 2016).

    Returns:
        tuple[torch.Tensor, torch.Tensor]: ``(preds, exits)``, two integer tensors ``(N,)``:
        the predicted classes and the **0-based** exit index :math:`e_i - 1` of each example
        (so ``exits + 1`` is the number of blocks it used).

    Examples:
        >>> z = torch.tensor([[[3.0, 0.0], [0.1, 0.0]],     # exit 1: sure, unsure
        ...                   [[0.0, 2.0], [0.0, 2.0]]])    # exit 2
        >>> early_exit(z, threshold=0.9)
        (tensor([0, 1]), tensor([0, 1]))
        >>> early_exit(z, threshold=0.0)[1], early_exit(z, threshold=1.5)[1]
        (tensor([0, 0]), tensor([1, 1]))
    """
    _exit_logits(logits)
    _checks.number(threshold, "threshold", low=0)
    _checks.choice(criterion, "criterion", ("confidence", "entropy"))
    log_p = torch.log_softmax(logits, dim=-1)
    if criterion == "confidence":
        ok = log_p.exp().amax(dim=-1) >= threshold                     # (E, N)
    else:
        # 0·log 0 = 0: log p is -inf only when logits differ by more than the dtype's
        # range; clamping it keeps p·log p = 0 there instead of 0·(-inf) = NaN
        entropy = -(log_p.exp() * log_p.clamp_min(torch.finfo(log_p.dtype).min)).sum(-1)
        ok = entropy <= threshold
    ok[-1] = True                              # the last exit takes everyone left
    exits = ok.to(torch.uint8).argmax(dim=0)   # first True along the exits
    chosen = logits.gather(0, exits.view(1, -1, 1).expand(1, *logits.shape[1:]))[0]
    return chosen.argmax(dim=-1), exits
