r"""Pooling beyond a sliding window: k-max, chunk-max, attention, [CLS] and capsule
routing.

Max and average pooling over windows are :func:`torch.nn.functional.max_pool2d` and
:func:`~torch.nn.functional.avg_pool2d`; this module adds the poolings that reduce a
*sequence* of any length to a fixed size, written from their equations:

* :func:`kmax_pool` — the :math:`k` largest values in their original order (Kalchbrenner
  et al. 2014);
* :func:`chunk_max_pool` — the maximum of each of ``chunks`` contiguous pieces;
* :func:`attention_pool` — a softmax-weighted average whose weights a learned vector
  scores;
* :func:`cls_pool` — BERT's pooler, :math:`\tanh(W h_{[CLS]} + b)` (Devlin et al. 2019);
* :func:`squash` and :func:`dynamic_routing` — the capsule layer of Sabour et al.
  (2017), Procedure 1.

All are functional (tensors in, tensors out), batched, and differentiable by autograd.
"""

from __future__ import annotations

import torch

from dlcore import _checks

__all__ = ["kmax_pool", "chunk_max_pool", "attention_pool", "cls_pool", "squash",
           "dynamic_routing"]


def _float_input(x, name: str) -> torch.Tensor:
    _checks.tensor(x, name, floating=True)
    return _checks.no_nan(x, name)


def _axis_input(x, name: str, dim: int, what: str) -> int:
    """Validate a float tensor with at least one dimension; return ``dim`` made positive."""
    _float_input(x, name)
    d = _checks.dim_index(dim, x)
    if x.ndim == 0:
        raise ValueError(f"`{name}` must have at least one dimension {what}, got a 0-d "
                         "tensor")
    return d


def _length(x: torch.Tensor, dim: int, name: str, what: str, value: int,
            low: int = 1) -> int:
    """Validate an int ``value`` in ``[low, x.shape[dim]]``."""
    _checks.number(value, name, low=low, integer=True)
    size = x.shape[dim]
    if value > size:
        raise ValueError(f"`{name}` must be at most the {size} {what} along dim {dim}, "
                         f"got {value}")
    return value


def kmax_pool(x: torch.Tensor, k: int, *, dim: int = -1) -> torch.Tensor:
    r"""The ``k`` largest values of ``x`` along ``dim``, kept in their original order.

    .. math::
        \operatorname{kmax}(x)_j = x_{i_j},\qquad
        \{i_1 < i_2 < \dots < i_k\} = \text{the positions of the } k \text{ largest }
        x_i .

    Args:
        x: floating tensor of any shape, e.g. ``(N, C, L)`` feature maps of a sequence.
        k: how many values to keep, ``1 <= k <= x.shape[dim]``.
        dim: the axis to pool over (default the last).

    Returns:
        torch.Tensor: ``x``'s shape with ``k`` in place of ``x.shape[dim]``.

    Notes:
        ``x.topk(k).values`` holds the same values sorted by *value*; Kalchbrenner et
        al. keep the positions' order, so the pooled sequence still says which feature
        came first. Among equal values the earlier positions are taken (a stable sort),
        so the result is deterministic. The gradient flows to the selected entries only,
        one each. Kalchbrenner et al.'s *dynamic* k-max pooling chooses ``k`` per layer,
        :math:`k_l = \max(k_\text{top}, \lceil (L_\text{layers} - l) s / L_\text{layers}
        \rceil)` for a sentence of length :math:`s`; pass that ``k``.

    References:
        Kalchbrenner, Grefenstette, Blunsom, "A Convolutional Neural Network for
        Modelling Sentences", ACL 2014, §3.2 (k-max pooling) and §3.3 (dynamic k-max
        pooling).

    Examples:
        >>> kmax_pool(torch.tensor([3.0, 1.0, 5.0, 2.0, 4.0]), 3)
        tensor([3., 5., 4.])
        >>> torch.tensor([3.0, 1.0, 5.0, 2.0, 4.0]).topk(3).values   # sorted by value
        tensor([5., 4., 3.])
    """
    d = _axis_input(x, "x", dim, "to pool over")
    _length(x, d, "k", "entries", k)
    # a stable descending sort lists ties left to right; keep the first k, then restore
    # the order
    top = torch.sort(x, dim=d, descending=True, stable=True).indices.narrow(d, 0, k)
    return x.gather(d, top.sort(dim=d).values)


def chunk_max_pool(x: torch.Tensor, chunks: int, *, dim: int = -1) -> torch.Tensor:
    r"""The maximum of each of ``chunks`` contiguous pieces of ``x`` along ``dim``.

    .. math::
        \operatorname{chunkmax}(x)_c = \max_{i \in P_c} x_i,\qquad c = 1, \dots, C,

    where :math:`P_1, \dots, P_C` cut the :math:`L` positions into :math:`C` consecutive
    pieces as :func:`torch.tensor_split` does: the first :math:`L \bmod C` pieces have
    :math:`\lceil L/C \rceil` positions, the others :math:`\lfloor L/C \rfloor`.

    Args:
        x: floating tensor of any shape.
        chunks: the number of pieces :math:`C`, ``1 <= chunks <= x.shape[dim]``.
        dim: the axis to pool over (default the last).

    Returns:
        torch.Tensor: ``x``'s shape with ``chunks`` in place of ``x.shape[dim]``.

    Notes:
        When :math:`C` divides :math:`L` this is
        ``x.unflatten(dim, (C, L // C)).amax(dim + 1)`` and equals
        :func:`torch.nn.functional.adaptive_max_pool1d` and ``max_pool1d`` with kernel
        and stride :math:`L/C`. When it does not, the three torch ways differ and this
        function is none of the last two: ``adaptive_max_pool1d`` uses windows
        :math:`[\lfloor cL/C \rfloor, \lceil (c+1)L/C \rceil)` that *overlap*, and
        :func:`torch.chunk` may return *fewer* than ``chunks`` pieces (5 positions in 4
        chunks give 3). Here the pieces never overlap and there are always exactly
        ``chunks``. Ties inside a piece share its gradient equally (as
        :func:`torch.amax`; ``max_pool1d`` gives it all to one entry).

    Examples:
        >>> chunk_max_pool(torch.tensor([1.0, 4.0, 2.0, 8.0, 5.0, 3.0]), 3)
        tensor([4., 8., 5.])
        >>> chunk_max_pool(torch.tensor([1.0, 4.0, 2.0, 8.0, 5.0]), 2)  # pieces: 3, 2
        tensor([4., 8.])
    """
    d = _axis_input(x, "x", dim, "to pool over")
    _length(x, d, "chunks", "entries", chunks)
    size = x.shape[d]
    if size % chunks == 0:  # equal pieces: one reshape and one reduction
        return x.unflatten(d, (chunks, size // chunks)).amax(d + 1)
    pieces = torch.tensor_split(x, chunks, dim=d)
    return torch.stack([piece.amax(d) for piece in pieces], d)


def _mask(mask, h: torch.Tensor) -> torch.Tensor | None:
    if mask is None:
        return None
    _checks.tensor(mask, "mask")
    if mask.dtype != torch.bool:
        raise ValueError(f"`mask` must be a bool tensor (True = a position to pool), "
                         f"got {mask.dtype}")
    if mask.shape != h.shape[:2]:
        raise ValueError(f"`mask` must have shape (N, L) = {tuple(h.shape[:2])}, got "
                         f"{tuple(mask.shape)}")
    empty = (~mask.any(dim=1)).nonzero().flatten()
    if empty.numel():
        raise ValueError(f"`mask` must keep at least one position per row, got "
                         f"{empty.numel()} row(s) with none, the first is row "
                         f"{int(empty[0])}")
    return mask


def attention_pool(h: torch.Tensor, w: torch.Tensor, *,
                   mask: torch.Tensor | None = None
                   ) -> tuple[torch.Tensor, torch.Tensor]:
    r"""Attention pooling: a weighted average of the positions, weighted by a softmax of
    scores.

    .. math::
        e_i = h_i^\top w,\qquad
        \alpha_i = \frac{\exp e_i}{\sum_{j} \exp e_j},\qquad
        v = \sum_{i=1}^{L} \alpha_i h_i .

    This is scaled dot-product attention with one learned query :math:`w`, keys and
    values :math:`h`, and no scale:
    ``F.scaled_dot_product_attention(w, h, h, scale=1)``.

    Args:
        h: ``(N, L, D)`` floating tensor, a sequence of :math:`L` vectors per example.
        w: ``(D,)`` the learned scoring vector (the query); :math:`w = 0` gives average
            pooling.
        mask: optional ``(N, L)`` bool tensor, True where a position is real (the
            convention of ``F.scaled_dot_product_attention``'s bool mask;
            ``nn.MultiheadAttention``'s ``key_padding_mask`` is the opposite). Masked
            positions get weight 0; every row must keep at least one.

    Returns:
        tuple: ``v`` of shape ``(N, D)`` and the weights ``alpha`` of shape ``(N, L)``.

    Notes:
        The hierarchical attention network of Yang et al. (2016) scores a transformed
        vector, :math:`e_i = \tanh(W h_i + b)^\top u`, and still averages :math:`h_i`;
        this function is its :math:`W = I, b = 0` case without the tanh.

    Examples:
        >>> h = torch.tensor([[[1.0, 0.0], [0.0, 1.0]]])
        >>> v, alpha = attention_pool(h, torch.zeros(2))      # w = 0: the mean
        >>> v, alpha
        (tensor([[0.5000, 0.5000]]), tensor([[0.5000, 0.5000]]))
    """
    _float_input(h, "h")
    _float_input(w, "w")
    _checks.ndim(h, "h", (3,))
    if w.shape != (h.shape[2],):
        raise ValueError(f"`w` must have shape (D,) = ({h.shape[2]},) to score `h` of "
                         f"shape {tuple(h.shape)}, got {tuple(w.shape)}")
    mask = _mask(mask, h)
    e = h @ w  # e_i = h_i · w, shape (N, L)
    if mask is not None:
        e = e.masked_fill(~mask, float("-inf"))
    alpha = torch.softmax(e, dim=1)  # subtracts the max: no overflow for large e
    return torch.einsum("nl,nld->nd", alpha, h), alpha


def cls_pool(h: torch.Tensor, weight: torch.Tensor | None = None,
             bias: torch.Tensor | None = None) -> torch.Tensor:
    r"""[CLS]-token pooling: the first position's vector, through BERT's pooler if
    weights come.

    .. math::
        \operatorname{pool}(h) = \tanh\bigl(W h_{[CLS]} + b\bigr),\qquad
        h_{[CLS]} = h_1 .

    Args:
        h: ``(N, L, D)`` floating tensor whose position 0 is the [CLS] token.
        weight: ``(D_out, D)`` the pooler's dense layer (``BertPooler.dense.weight`` in
            Hugging Face's implementation, ``D_out = D`` there); ``None`` returns
            :math:`h_1` itself, plain [CLS] selection.
        bias: ``(D_out,)`` or ``None`` (no bias); only with ``weight``.

    Returns:
        torch.Tensor: ``(N, D_out)``, or ``(N, D)`` without ``weight``.

    Notes:
        The paper (Devlin et al. 2019, §4.1) classifies from the final hidden vector of
        [CLS], :math:`C`; in the released code that vector, ``pooled_output``, is
        the output of this pooler, a dense layer with tanh pre-trained with the
        next-sentence-prediction task (``BertPooler`` in Hugging Face's port), not the
        last layer's :math:`h_{[CLS]}` itself.

    Examples:
        >>> h = torch.tensor([[[1.0, -2.0], [5.0, 5.0]]])
        >>> cls_pool(h)
        tensor([[ 1., -2.]])
        >>> cls_pool(h, torch.eye(2), torch.zeros(2))
        tensor([[ 0.7616, -0.9640]])
    """
    _float_input(h, "h")
    _checks.ndim(h, "h", (3,))
    first = h[:, 0]
    if weight is None:
        if bias is not None:
            raise ValueError("`bias` needs a `weight`: got a bias without a weight")
        return first
    _float_input(weight, "weight")
    if weight.ndim != 2 or weight.shape[1] != h.shape[2]:
        raise ValueError(f"`weight` must have shape (D_out, {h.shape[2]}), got "
                         f"{tuple(weight.shape)}")
    z = first @ weight.T  # W h_CLS
    if bias is not None:
        _float_input(bias, "bias")
        if bias.shape != (weight.shape[0],):
            raise ValueError(f"`bias` must have shape ({weight.shape[0]},), got "
                             f"{tuple(bias.shape)}")
        z = z + bias
    return torch.tanh(z)


def squash(s: torch.Tensor, dim: int = -1) -> torch.Tensor:
    r"""The capsule nonlinearity: keep the direction of ``s``, map its length into
    [0, 1).

    .. math::
        v = \frac{\lVert s\rVert^2}{1 + \lVert s\rVert^2}\,\frac{s}{\lVert s\rVert}
          = \frac{s}{\lVert s\rVert + 1/\lVert s\rVert},
        \qquad \lVert v\rVert = \frac{\lVert s\rVert^2}{1 + \lVert s\rVert^2} .

    Args:
        s: floating tensor; ``dim`` holds each capsule's vector.
        dim: the axis of the vector (default the last).

    Returns:
        torch.Tensor: ``s``'s shape; every vector's norm is in ``[0, 1)``.

    Notes:
        The first form divides by :math:`\lVert s\rVert` and gives NaN at :math:`s = 0`
        (value and gradient); the limit there is :math:`v = 0` with zero Jacobian, which
        is what this function returns. The norm is computed on ``s`` scaled by its
        largest entry, so a huge vector is not an infinite one (its :math:`v` is its
        unit vector).

    References:
        Sabour, Frosst, Hinton, "Dynamic Routing Between Capsules", NeurIPS 2017,
        eq. (1).

    Examples:
        >>> squash(torch.tensor([3.0, 4.0]))        # length 5 -> 25/26
        tensor([0.5769, 0.7692])
        >>> squash(torch.zeros(2))
        tensor([0., 0.])
    """
    d = _axis_input(s, "s", dim, "(the capsule's vector)")
    scale = s.detach().abs().amax(dim=d, keepdim=True)
    scale = torch.where(scale > 0, scale, torch.ones_like(scale))
    # ‖s‖ without overflow
    n = scale * torch.linalg.vector_norm(s / scale, dim=d, keepdim=True)
    positive = n > 0
    n_safe = torch.where(positive, n, torch.ones_like(n))
    # ‖s‖ / (1 + ‖s‖²) written as 1 / (‖s‖ + 1/‖s‖): no overflow of ‖s‖², 0 at s = 0
    factor = torch.where(positive, 1 / (n_safe + 1 / n_safe), torch.zeros_like(n))
    return s * factor


def dynamic_routing(u_hat: torch.Tensor, iterations: int = 3
                    ) -> tuple[torch.Tensor, torch.Tensor]:
    r"""Routing by agreement between capsule layers (Sabour et al. 2017, Procedure 1).

    With predictions :math:`\hat u_{j|i} = W_{ij} u_i` of every input capsule :math:`i`
    for every output capsule :math:`j`, start from logits :math:`b_{ij} = 0` and repeat
    ``iterations`` times:

    .. math::
        c_{ij} = \frac{\exp b_{ij}}{\sum_k \exp b_{ik}},\qquad
        s_j = \sum_i c_{ij}\,\hat u_{j|i},\qquad
        v_j = \operatorname{squash}(s_j),\qquad
        b_{ij} \leftarrow b_{ij} + \hat u_{j|i}^\top v_j .

    Args:
        u_hat: ``(N, in_caps, out_caps, D)`` floating tensor of predictions
            :math:`\hat u_{j|i}`.
        iterations: routing iterations :math:`r \ge 1` (the paper uses 3).

    Returns:
        tuple: ``v`` of shape ``(N, out_caps, D)``, the output capsules, and ``c`` of
        shape ``(N, in_caps, out_caps)``, the coupling coefficients used for the last
        ``v``.

    Notes:
        The softmax runs over the *output* capsules :math:`j`: each input capsule splits
        a unit of "vote" among the parents (:math:`\sum_j c_{ij} = 1`). The last update
        of :math:`b` in Procedure 1 is not used and is skipped. Gradients flow through
        every iteration (the paper's procedure does not stop them; some implementations
        do). :math:`W_{ij}` is applied by the caller, e.g.
        ``u_hat = torch.einsum("ijed,nid->nije", W, u)``.

    References:
        Sabour, Frosst, Hinton, "Dynamic Routing Between Capsules", NeurIPS 2017,
        Procedure 1.

    Examples:
        >>> u_hat = torch.tensor([[[[2.0, 0.0]], [[2.0, 0.0]]]])  # 2 inputs agree
        >>> v, c = dynamic_routing(u_hat)      # s = (4, 0), so ‖v‖ = 16/17
        >>> v, c.squeeze(-1)
        (tensor([[[0.9412, 0.0000]]]), tensor([[1., 1.]]))
    """
    _float_input(u_hat, "u_hat")
    _checks.ndim(u_hat, "u_hat", (4,))
    _checks.number(iterations, "iterations", low=1, integer=True)
    b = u_hat.new_zeros(u_hat.shape[:3])  # b_ij = 0
    for r in range(iterations):
        c = torch.softmax(b, dim=2)  # c_ij = softmax over the output capsules j
        s = torch.einsum("nij,nijd->njd", c, u_hat)  # s_j = Σ_i c_ij û_j|i
        v = squash(s)  # v_j = squash(s_j)
        if r < iterations - 1:
            b = b + torch.einsum("nijd,njd->nij", u_hat, v)  # b_ij += û_j|i · v_j
    return v, c
