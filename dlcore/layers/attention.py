r"""Attention: scaled dot-product attention, multi-head attention and sinusoidal positions.

Each function is written from its equation in Vaswani et al. (2017) and equals PyTorch's
operator: :func:`scaled_dot_product_attention` equals
:func:`torch.nn.functional.scaled_dot_product_attention`, :func:`multi_head_attention` equals
:class:`torch.nn.MultiheadAttention` (``batch_first=True``) given its weights. The two torch
APIs read a boolean mask in *opposite* ways, and so do these functions, on purpose:

* :func:`scaled_dot_product_attention` and :func:`attention_weights`: ``True`` = **allowed**;
* :func:`multi_head_attention` (``attn_mask``, ``key_padding_mask``): ``True`` = **blocked**.

A float mask is added to the scores in both.
"""

from __future__ import annotations

import math

import torch

from dlcore import _checks

__all__ = ["attention_weights", "scaled_dot_product_attention", "multi_head_attention",
           "sinusoidal_positions"]


def _broadcast(shapes, names: str) -> torch.Size:
    try:
        return torch.broadcast_shapes(*shapes)
    except RuntimeError:
        got = " and ".join(str(tuple(s)) for s in shapes)
        raise ValueError(f"{names} must broadcast against each other, got {got}") from None


def _additive(mask: torch.Tensor, name: str, like: torch.Tensor, *, blocked: bool):
    """A mask as the float added to the scores: 0 where allowed, -inf where blocked."""
    _checks.tensor(mask, name)
    if mask.dtype == torch.bool:
        keep = ~mask if blocked else mask
        zero = torch.zeros((), dtype=like.dtype, device=like.device)
        return torch.where(keep, zero, float("-inf"))
    if not mask.is_floating_point():
        raise ValueError(f"`{name}` must be a bool or floating-point tensor, got {mask.dtype}")
    _checks.no_nan(mask, name)
    return mask.to(like.dtype)


def _validate_qk(q, k, scale):
    for x, name in ((q, "q"), (k, "k")):
        _checks.tensor(x, name, floating=True)
        _checks.no_nan(x, name)
        if x.ndim < 2:
            raise ValueError(f"`{name}` must have shape (..., length, dim), "
                             f"got shape {tuple(x.shape)}")
    if q.dtype != k.dtype:
        raise ValueError(f"`q` and `k` must have the same dtype, got {q.dtype} and {k.dtype}")
    if q.shape[-1] != k.shape[-1]:
        raise ValueError(f"`q` (..., L, E) and `k` (..., S, E) must have the same last "
                         f"dimension E, got shapes {tuple(q.shape)} and {tuple(k.shape)}")
    _broadcast((q.shape[:-2], k.shape[:-2]), "the batch dimensions of `q` and `k`")
    if scale is not None:
        _checks.number(scale, "scale")


def attention_weights(q: torch.Tensor, k: torch.Tensor, *,
                      attn_mask: torch.Tensor | None = None, is_causal: bool = False,
                      scale: float | None = None) -> torch.Tensor:
    r"""The attention weights :math:`A = \operatorname{softmax}(s\,QK^\top + M)`, row by row.

    .. math::
        A_{ij} = \frac{\exp(s\, q_i^\top k_j + M_{ij})}{\sum_{j'} \exp(s\, q_i^\top k_{j'}
        + M_{ij'})}, \qquad s = \frac{1}{\sqrt{E}} \text{ by default},

    the weights that :func:`scaled_dot_product_attention` multiplies the values with
    (Vaswani et al., 2017, eq. 1). Each row is a probability distribution over the keys.

    Args:
        q: queries, shape ``(..., L, E)``, floating point.
        k: keys, shape ``(..., S, E)``, same dtype; the batch dimensions broadcast.
        attn_mask: ``None``, a **bool** tensor broadcastable to ``(..., L, S)`` with ``True``
            where query ``i`` may attend to key ``j`` (torch's SDPA convention), or a float
            tensor added to the scores (``-inf`` blocks).
        is_causal: block key ``j > i`` (the top-left aligned lower triangle
            ``ones(L, S).tril()``, as torch); not together with ``attn_mask``.
        scale: the factor :math:`s`; ``None`` gives :math:`1/\sqrt{E}`.

    Returns:
        torch.Tensor: ``(..., L, S)``; a row whose keys are all blocked is all zeros.

    Notes:
        A fully blocked row has no softmax (every score is :math:`-\infty`). PyTorch 2.13's
        ``scaled_dot_product_attention`` returns zeros there (its ``_safe_softmax``), while
        ``torch.softmax`` and :class:`torch.nn.MultiheadAttention` give NaN; this function
        returns zeros, so the output of such a query is 0 and its gradient is 0.

    Raises:
        ValueError: shapes that do not fit, a NaN input, a mask of another dtype, or
            ``attn_mask`` given with ``is_causal=True``.

    Examples:
        >>> q = torch.tensor([[1.0, 0.0]], dtype=torch.float64)
        >>> k = torch.tensor([[1.0, 0.0], [0.0, 1.0]], dtype=torch.float64)
        >>> attention_weights(q, k, scale=math.log(3.0))    # e^{log 3} : e^0 = 3 : 1
        tensor([[0.7500, 0.2500]], dtype=torch.float64)
        >>> attention_weights(q, k, attn_mask=torch.tensor([[False, True]]))
        tensor([[0., 1.]], dtype=torch.float64)
    """
    _validate_qk(q, k, scale)
    _checks.flag(is_causal, "is_causal")
    s = 1.0 / math.sqrt(q.shape[-1]) if scale is None else scale
    scores = s * (q @ k.transpose(-2, -1))                # (..., L, S): s q_i·k_j
    L, S = q.shape[-2], k.shape[-2]
    if is_causal:
        if attn_mask is not None:
            raise ValueError("`attn_mask` must be None when `is_causal=True`, "
                             "got a tensor")
        attn_mask = torch.ones(L, S, dtype=torch.bool, device=q.device).tril()
    if attn_mask is not None:
        M = _additive(attn_mask, "attn_mask", scores, blocked=False)
        _broadcast((M.shape, scores.shape), "`attn_mask` and the scores")
        scores = scores + M
    # a row with every key blocked: its softmax is 0/0; give it weights 0 instead
    dead = torch.isneginf(scores).all(dim=-1, keepdim=True)
    weights = torch.softmax(scores.masked_fill(dead, 0.0), dim=-1)
    return weights.masked_fill(dead, 0.0)


def scaled_dot_product_attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, *,
                                 attn_mask: torch.Tensor | None = None,
                                 is_causal: bool = False,
                                 scale: float | None = None) -> torch.Tensor:
    r"""Scaled dot-product attention, equal to torch's ``F.scaled_dot_product_attention``.

    .. math::
        \operatorname{Attention}(Q, K, V) = \operatorname{softmax}\!\Bigl(
        \frac{QK^\top}{\sqrt{E}} + M\Bigr) V

    (Vaswani et al., 2017, eq. 1): output row :math:`i` is the average of the values
    :math:`v_j`, weighted by how well query :math:`q_i` matches key :math:`k_j`. The weights
    are :func:`attention_weights`; call it when you need them.

    Args:
        q: queries ``(..., L, E)``.
        k: keys ``(..., S, E)``.
        v: values ``(..., S, Ev)``, same dtype; batch dimensions broadcast as in torch.
        attn_mask: bool (``True`` = **allowed**, torch's SDPA convention) or float (added),
            broadcastable to ``(..., L, S)``.
        is_causal: query ``i`` sees keys ``j <= i`` only (top-left aligned, as torch).
        scale: the factor on :math:`QK^\top`; ``None`` gives :math:`1/\sqrt{E}`.

    Returns:
        torch.Tensor: ``(..., L, Ev)``; a query whose keys are all blocked gets 0, as in
        torch 2.13.

    Notes:
        No dropout on the weights (torch's ``dropout_p``) and no grouped-query broadcasting
        (``enable_gqa``): this is the deterministic operator of the equation.

    Raises:
        ValueError: see :func:`attention_weights`; also when ``v`` does not have the keys'
            length ``S`` or dtype.

    Examples:
        >>> q = torch.zeros(1, 2)                       # a query that matches every key alike
        >>> k, v = torch.randn(3, 2), torch.tensor([[1.0], [2.0], [6.0]])
        >>> scaled_dot_product_attention(q, k, v)       # ... averages the values
        tensor([[3.]])
    """
    weights = attention_weights(q, k, attn_mask=attn_mask, is_causal=is_causal,
                                scale=scale)
    _checks.tensor(v, "v", floating=True)
    _checks.no_nan(v, "v")
    if v.ndim < 2 or v.shape[-2] != k.shape[-2] or v.dtype != k.dtype:
        raise ValueError(f"`v` must have shape (..., S, Ev) with the S of `k` and its "
                         f"dtype, got `k` {tuple(k.shape)} {k.dtype} and `v` "
                         f"{tuple(v.shape)} {v.dtype}")
    _broadcast((weights.shape[:-2], v.shape[:-2]),
               "the batch dimensions of `q`, `k` and `v`")
    return weights @ v                                    # Σ_j A_ij v_j


def _heads(x: torch.Tensor, num_heads: int) -> torch.Tensor:
    """(N, L, E) -> (N, H, L, E/H): head h gets the features h·E/H ... (h+1)·E/H - 1."""
    N, L, E = x.shape
    return x.reshape(N, L, num_heads, E // num_heads).transpose(1, 2)


def _mha_checks(query, key, value, in_proj_weight, in_proj_bias, out_proj_weight,
                out_proj_bias, num_heads):
    for x, name in ((query, "query"), (key, "key"), (value, "value")):
        _checks.tensor(x, name, floating=True)
        _checks.no_nan(x, name)
        _checks.ndim(x, name, (2, 3))
        if x.dtype != query.dtype:
            raise ValueError(f"`{name}` must have the dtype of `query`, {query.dtype}, "
                             f"got {x.dtype}")
    if not query.ndim == key.ndim == value.ndim:
        raise ValueError(f"`query`, `key` and `value` must all be batched (N, L, E) or all "
                         f"unbatched (L, E), got shapes {tuple(query.shape)}, "
                         f"{tuple(key.shape)} and {tuple(value.shape)}")
    E = query.shape[-1]
    if key.shape[-1] != E or value.shape[-1] != E or key.shape[:-1] != value.shape[:-1]:
        raise ValueError(f"`key` and `value` must have shape (N, S, E) with the E of `query`, "
                         f"got {tuple(query.shape)}, {tuple(key.shape)}, {tuple(value.shape)}")
    if key.shape[:-2] != query.shape[:-2]:
        raise ValueError(f"`query` and `key` must have the same batch size N, got shapes "
                         f"{tuple(query.shape)} and {tuple(key.shape)}")
    _checks.number(num_heads, "num_heads", low=1, integer=True)
    if E % num_heads:
        raise ValueError(f"the embedding dimension E = {E} must be divisible by "
                         f"`num_heads`, got num_heads = {num_heads}")
    shapes = {"in_proj_weight": (3 * E, E), "in_proj_bias": (3 * E,),
              "out_proj_weight": (E, E), "out_proj_bias": (E,)}
    given = {"in_proj_weight": in_proj_weight, "in_proj_bias": in_proj_bias,
             "out_proj_weight": out_proj_weight, "out_proj_bias": out_proj_bias}
    for name, w in given.items():
        if w is None and name.endswith("bias"):
            continue
        _checks.tensor(w, name, floating=True)
        if w.dtype != query.dtype:
            raise ValueError(f"`{name}` must have the dtype of `query`, {query.dtype}, "
                             f"got {w.dtype}")
        if tuple(w.shape) != shapes[name]:
            raise ValueError(f"`{name}` must have shape {shapes[name]} for E = {E}, "
                             f"got {tuple(w.shape)}")


def multi_head_attention(query: torch.Tensor, key: torch.Tensor, value: torch.Tensor,
                         in_proj_weight: torch.Tensor, in_proj_bias: torch.Tensor | None,
                         out_proj_weight: torch.Tensor, out_proj_bias: torch.Tensor | None, *,
                         num_heads: int, attn_mask: torch.Tensor | None = None,
                         key_padding_mask: torch.Tensor | None = None,
                         need_weights: bool = True, average_attn_weights: bool = True):
    r"""Multi-head attention, equal to :class:`torch.nn.MultiheadAttention` (``batch_first=True``).

    .. math::
        \operatorname{MultiHead}(Q, K, V) = [\mathrm{head}_1, \dots, \mathrm{head}_H]\,
        W^{O\top} + b^O, \qquad
        \mathrm{head}_h = \operatorname{Attention}(Q W_h^{Q\top} + b^Q_h,\;
        K W_h^{K\top} + b^K_h,\; V W_h^{V\top} + b^V_h)

    (Vaswani et al., 2017, §3.2.2), where :math:`W_h^Q` is the rows
    :math:`h\,d \dots (h+1)\,d - 1` of :math:`W^Q` and :math:`d = E/H`: the heads split the
    *projected* features into :math:`H` blocks of :math:`d`, each attends with the scale
    :math:`1/\sqrt{d}`, and :math:`W^O` mixes the concatenated blocks.

    Args:
        query: ``(N, L, E)`` (or unbatched ``(L, E)``).
        key: ``(N, S, E)`` (or ``(S, E)``).
        value: ``(N, S, E)`` (or ``(S, E)``).
        in_proj_weight: ``(3E, E)``, the stack :math:`[W^Q; W^K; W^V]` (the module's
            ``in_proj_weight``).
        in_proj_bias: ``(3E,)`` or ``None`` (the module's ``in_proj_bias``).
        out_proj_weight: ``(E, E)`` (``out_proj.weight``).
        out_proj_bias: ``(E,)`` or ``None`` (``out_proj.bias``).
        num_heads: :math:`H`, must divide :math:`E`.
        attn_mask: ``(L, S)`` or ``(N·H, L, S)``; bool with ``True`` = **blocked** (the
            module's convention, the opposite of :func:`scaled_dot_product_attention`), or
            float, added to the scores.
        key_padding_mask: ``(N, S)`` (or ``(S,)``); bool ``True`` = this key is padding, or
            float, added.
        need_weights: also return the attention weights.
        average_attn_weights: average the weights over the heads (the module's default).

    Returns:
        tuple: ``(output, weights)``: output ``(N, L, E)``; weights ``(N, L, S)`` averaged
        over heads, ``(N, H, L, S)`` if not, ``None`` if ``need_weights`` is false
        (unbatched inputs drop the ``N``).

    Notes:
        A query with every key blocked gets weights 0 (see :func:`attention_weights`), so
        its output is ``out_proj_bias``; :class:`torch.nn.MultiheadAttention` returns NaN
        there. No dropout, ``bias_k``/``bias_v``, ``add_zero_attn`` or ``kdim``/``vdim``.

    Raises:
        ValueError: inconsistent shapes, :math:`E` not divisible by ``num_heads``, masks of
            the wrong shape or dtype.

    Examples:
        >>> E = 4
        >>> W, Wo = torch.eye(E).repeat(3, 1), torch.eye(E)   # identity projections
        >>> x = torch.randn(1, 3, E)
        >>> out, w = multi_head_attention(x, x, x, W, None, Wo, None, num_heads=2)
        >>> out.shape, w.shape, torch.allclose(w.sum(-1), torch.ones(1, 3))
        (torch.Size([1, 3, 4]), torch.Size([1, 3, 3]), True)
    """
    _mha_checks(query, key, value, in_proj_weight, in_proj_bias, out_proj_weight,
                out_proj_bias, num_heads)
    _checks.flag(need_weights, "need_weights")
    _checks.flag(average_attn_weights, "average_attn_weights")
    unbatched = query.ndim == 2
    if unbatched:
        query, key, value = query[None], key[None], value[None]
        if key_padding_mask is not None:
            key_padding_mask = key_padding_mask[None]
    (N, L, E), S, H = query.shape, key.shape[1], num_heads
    W_q, W_k, W_v = in_proj_weight.chunk(3)
    b_q, b_k, b_v = (None,) * 3 if in_proj_bias is None else in_proj_bias.chunk(3)
    q = _heads(torch.nn.functional.linear(query, W_q, b_q), H)   # (N, H, L, d)
    k = _heads(torch.nn.functional.linear(key, W_k, b_k), H)     # (N, H, S, d)
    v = _heads(torch.nn.functional.linear(value, W_v, b_v), H)   # (N, H, S, d)
    M = torch.zeros((), dtype=q.dtype, device=q.device)
    if attn_mask is not None:
        if tuple(attn_mask.shape) not in ((L, S), (N * H, L, S)):
            raise ValueError(f"`attn_mask` must have shape {(L, S)} or {(N * H, L, S)}, "
                             f"got {tuple(attn_mask.shape)}")
        am = _additive(attn_mask, "attn_mask", q, blocked=True)
        # a 3-d mask is indexed by n·H + h, torch's layout of the (N·H, L, S) scores
        M = M + (am.reshape(N, H, L, S) if am.ndim == 3 else am)
    if key_padding_mask is not None:
        if tuple(key_padding_mask.shape) != (N, S):
            raise ValueError(f"`key_padding_mask` must have shape {(N, S)} (batch, keys), "
                             f"got {tuple(key_padding_mask.shape)}")
        M = M + _additive(key_padding_mask, "key_padding_mask", q, blocked=True)[:, None, None]
    A = attention_weights(q, k, attn_mask=M if M.ndim else None)  # (N, H, L, S)
    heads = (A @ v).transpose(1, 2).reshape(N, L, E)             # concatenate the heads
    out = torch.nn.functional.linear(heads, out_proj_weight, out_proj_bias)
    weights = None
    if need_weights:
        weights = A.mean(dim=1) if average_attn_weights else A
        weights = weights[0] if unbatched else weights
    return (out[0] if unbatched else out), weights


def sinusoidal_positions(length: int, dim: int, *, base: float = 10000.0,
                         dtype: torch.dtype | None = None,
                         device: torch.device | str | None = None) -> torch.Tensor:
    r"""The sinusoidal positional encoding of Vaswani et al. (2017, §3.5).

    .. math::
        P_{t,\,2i} = \sin\bigl(t\,\omega_i\bigr), \qquad P_{t,\,2i+1} = \cos\bigl(t\,\omega_i
        \bigr), \qquad \omega_i = \text{base}^{-2i/\text{dim}},

    for positions :math:`t = 0, \dots, \text{length} - 1`: the pair :math:`(2i, 2i+1)` is a
    point turning on the unit circle with angular frequency :math:`\omega_i`, so
    :math:`P_{t+k}` is a fixed rotation of :math:`P_t` in every pair (a linear function of
    :math:`P_t` for each offset :math:`k`). An odd ``dim`` ends with a sine column.

    Args:
        length: number of positions, >= 1.
        dim: number of features, >= 1.
        base: the 10000 of the paper, > 1.
        dtype, device: of the result (default: torch's default dtype, the CPU).

    Returns:
        torch.Tensor: ``(length, dim)``, every entry in [-1, 1].

    Raises:
        ValueError: ``length`` or ``dim`` below 1, ``base`` not above 1.

    Examples:
        >>> sinusoidal_positions(2, 4)
        tensor([[0.0000, 1.0000, 0.0000, 1.0000],
                [0.8415, 0.5403, 0.0100, 0.9999]])
    """
    _checks.number(length, "length", low=1, integer=True)
    _checks.number(dim, "dim", low=1, integer=True)
    _checks.number(base, "base", low=1, low_open=True)
    dtype = torch.get_default_dtype() if dtype is None else dtype
    t = torch.arange(length, dtype=torch.float64, device=device)[:, None]
    two_i = torch.arange(0, dim, 2, dtype=torch.float64, device=device)
    omega = base ** (-two_i / dim)                               # ω_i = base^{-2i/dim}
    P = torch.empty(length, dim, dtype=torch.float64, device=device)
    P[:, 0::2] = torch.sin(t * omega)
    P[:, 1::2] = torch.cos(t * omega[: dim // 2])
    return P.to(dtype)
