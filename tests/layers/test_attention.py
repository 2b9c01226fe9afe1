"""dlcore.layers.attention against torch: F.scaled_dot_product_attention, nn.MultiheadAttention."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from dlcore.layers import attention as A

f64 = torch.float64


def _rand(gen, *shape, dtype=f64):
    return torch.randn(*shape, generator=gen, dtype=dtype).requires_grad_()


def _grads(out, inputs, gen):
    g = torch.randn(out.shape, generator=gen, dtype=out.dtype)
    return torch.autograd.grad(out, inputs, g, allow_unused=True)


# ------------------------------------------------------------------ scaled dot-product
@pytest.mark.parametrize("case", range(12))
def test_sdpa_matches_torch(case):
    gen = torch.Generator().manual_seed(case)
    r = lambda lo, hi: int(torch.randint(lo, hi, (1,), generator=gen))  # noqa: E731
    batch = [(), (3,), (2, 3)][case % 3]
    L, S, E, Ev = r(1, 7), r(1, 7), r(1, 9), r(1, 6)
    q, k, v = _rand(gen, *batch, L, E), _rand(gen, *batch, S, E), _rand(gen, *batch, S, Ev)
    kind = case % 4
    kwargs = {}
    if kind == 1:      # boolean, True = allowed; keep one key per row so no row is empty
        m = torch.rand(L, S, generator=gen) > 0.4
        m[:, 0] = True
        kwargs["attn_mask"] = m
    elif kind == 2:    # float mask, added
        kwargs["attn_mask"] = torch.randn(*batch, L, S, generator=gen, dtype=f64)
    elif kind == 3:
        kwargs["is_causal"] = True
    if case % 5 == 0:
        kwargs["scale"] = 0.3
    ours = A.scaled_dot_product_attention(q, k, v, **kwargs)
    ref = F.scaled_dot_product_attention(q, k, v, **kwargs)
    torch.testing.assert_close(ours, ref, rtol=1e-12, atol=1e-12)
    g1 = _grads(ours, (q, k, v), torch.Generator().manual_seed(99))
    g2 = _grads(ref, (q, k, v), torch.Generator().manual_seed(99))
    for a, b in zip(g1, g2, strict=True):
        torch.testing.assert_close(a, b, rtol=1e-10, atol=1e-12)


def test_sdpa_float32_and_broadcast_batch():
    gen = torch.Generator().manual_seed(1)
    q = torch.randn(2, 3, 4, 8, generator=gen)
    k, v = torch.randn(1, 3, 5, 8, generator=gen), torch.randn(1, 3, 5, 2, generator=gen)
    torch.testing.assert_close(A.scaled_dot_product_attention(q, k, v),
                               F.scaled_dot_product_attention(q, k, v))


def test_weights_are_distributions_and_output_is_weighted_values():
    gen = torch.Generator().manual_seed(2)
    q, k, v = (torch.randn(4, n, 3, generator=gen, dtype=f64) for n in (5, 6, 6))
    w = A.attention_weights(q, k)
    torch.testing.assert_close(w.sum(-1), torch.ones(4, 5, dtype=f64))
    torch.testing.assert_close(w, torch.softmax(q @ k.mT / math.sqrt(3), -1))
    torch.testing.assert_close(A.scaled_dot_product_attention(q, k, v), w @ v)


def test_causal_equals_lower_triangle_and_ignores_the_future():
    gen = torch.Generator().manual_seed(3)
    x = torch.randn(2, 6, 4, generator=gen, dtype=f64)
    causal = A.scaled_dot_product_attention(x, x, x, is_causal=True)
    tril = torch.ones(6, 6, dtype=torch.bool).tril()
    torch.testing.assert_close(causal, A.scaled_dot_product_attention(x, x, x, attn_mask=tril))
    y = x.clone()
    y[:, 4:] = torch.randn(2, 2, 4, generator=gen, dtype=f64)    # change the last two tokens
    later = A.scaled_dot_product_attention(y, y, y, is_causal=True)
    torch.testing.assert_close(later[:, :4], causal[:, :4], rtol=0, atol=0)


def test_fully_masked_row_is_zero_like_torch():
    gen = torch.Generator().manual_seed(4)
    q, k, v = _rand(gen, 3, 4), _rand(gen, 5, 4), _rand(gen, 5, 2)
    m = torch.ones(3, 5, dtype=torch.bool)
    m[1] = False
    fm = torch.zeros(3, 5, dtype=f64).masked_fill(~m, float("-inf"))
    for mask in (m, fm):
        ours = A.scaled_dot_product_attention(q, k, v, attn_mask=mask)
        ref = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)
        torch.testing.assert_close(ours, ref)
        assert torch.equal(ours[1], torch.zeros(2, dtype=f64))
        (gq,) = torch.autograd.grad(ours.sum(), q)
        (gq_ref,) = torch.autograd.grad(ref.sum(), q)
        torch.testing.assert_close(gq, gq_ref)
        assert torch.equal(gq[1], torch.zeros(4, dtype=f64))


def test_extreme_scores_give_no_nan():
    q = torch.tensor([[1e4, 0.0]], dtype=f64)
    k = torch.tensor([[1e4, 0.0], [-1e4, 0.0]], dtype=f64)
    v = torch.tensor([[1.0], [2.0]], dtype=f64)
    ours = A.scaled_dot_product_attention(q, k, v)
    torch.testing.assert_close(ours, F.scaled_dot_product_attention(q, k, v))
    assert torch.isfinite(ours).all()


def test_sdpa_gradcheck():
    gen = torch.Generator().manual_seed(5)
    q, k, v = _rand(gen, 2, 3, 4), _rand(gen, 2, 5, 4), _rand(gen, 2, 5, 3)
    m = torch.rand(3, 5, generator=gen) > 0.3
    m[:, 2] = True
    assert torch.autograd.gradcheck(
        lambda q, k, v: A.scaled_dot_product_attention(q, k, v, attn_mask=m), (q, k, v))


@pytest.mark.parametrize("call, match", [
    (lambda q, k, v: A.scaled_dot_product_attention(q, k[..., :3], v), "last dimension"),
    (lambda q, k, v: A.scaled_dot_product_attention(q[0, 0], k, v), r"\(\.\.\., length"),
    (lambda q, k, v: A.scaled_dot_product_attention(q, k.float(), v), "same dtype"),
    (lambda q, k, v: A.scaled_dot_product_attention(q, k, v[:, :2]), "`v` must have"),
    (lambda q, k, v: A.scaled_dot_product_attention(q, k, v[0, 0]), "`v` must have"),
    (lambda q, k, v: A.scaled_dot_product_attention(q, k, v.float()), "`v` must have"),
    (lambda q, k, v: A.scaled_dot_product_attention(q, k, v[:2]),
     "batch dimensions of `q`, `k` and `v`"),
    (lambda q, k, v: A.scaled_dot_product_attention(q[:2], k[:3], v), "batch dimensions"),
    (lambda q, k, v: A.scaled_dot_product_attention(
        q, k, v, attn_mask=torch.ones(4, 5, dtype=torch.bool), is_causal=True), "is_causal"),
    (lambda q, k, v: A.scaled_dot_product_attention(
        q, k, v, attn_mask=torch.ones(3, 4, dtype=torch.bool)), "`attn_mask` and the scores"),
    (lambda q, k, v: A.scaled_dot_product_attention(
        q, k, v, attn_mask=torch.ones(4, 5, dtype=torch.long)), "bool or floating"),
    (lambda q, k, v: A.scaled_dot_product_attention(
        q, k, v, attn_mask=torch.full((4, 5), math.nan)), "NaN"),
    (lambda q, k, v: A.scaled_dot_product_attention(q * math.nan, k, v), "NaN"),
    (lambda q, k, v: A.scaled_dot_product_attention(q, k, v, scale=math.inf), "finite"),
])
def test_sdpa_bad_input(call, match):
    gen = torch.Generator().manual_seed(6)
    q, k, v = (torch.randn(3, n, e, generator=gen, dtype=f64) for n, e in ((4, 4), (5, 4),
                                                                             (5, 2)))
    with pytest.raises(ValueError, match=match):
        call(q, k, v)


def test_sdpa_type_errors():
    x = torch.randn(2, 3)
    with pytest.raises(TypeError, match="`q`"):
        A.scaled_dot_product_attention(x.tolist(), x, x)
    with pytest.raises(ValueError, match="floating"):
        A.attention_weights(x.long(), x.long())
    with pytest.raises(TypeError, match="is_causal"):
        A.attention_weights(x, x, is_causal=1)


# ------------------------------------------------------------------ multi-head attention
def _module(E, H, bias, seed):
    torch.manual_seed(seed)
    m = nn.MultiheadAttention(E, H, bias=bias, batch_first=True, dtype=f64)
    if bias:   # torch initialises the biases to 0: make them matter
        with torch.no_grad():
            m.in_proj_bias.normal_()
            m.out_proj.bias.normal_()
    return m


def _weights(m):
    b = m.in_proj_bias is not None
    return (m.in_proj_weight, m.in_proj_bias if b else None, m.out_proj.weight,
            m.out_proj.bias if b else None)


@pytest.mark.parametrize("case", range(10))
def test_mha_matches_module(case):
    gen = torch.Generator().manual_seed(100 + case)
    H = [1, 2, 4][case % 3]
    E, N = H * (1 + case % 3), 1 + case % 3
    L, S = 2 + case % 4, 3 + case % 3
    bias, self_attention = case % 2 == 0, case % 4 == 1
    m = _module(E, H, bias, case)
    query = _rand(gen, N, L, E)
    key, value = (query, query) if self_attention and L == S else (
        _rand(gen, N, S, E), _rand(gen, N, S, E))
    S = key.shape[1]
    kwargs = {}
    kind = case % 5
    if kind == 1:     # bool, True = blocked (the module's convention); key 0 always allowed
        am = torch.rand(L, S, generator=gen) > 0.6
        am[:, 0] = False
        kwargs["attn_mask"] = am
    elif kind == 2:
        kwargs["attn_mask"] = torch.randn(N * H, L, S, generator=gen, dtype=f64)
    elif kind == 3:
        kpm = torch.zeros(N, S, dtype=torch.bool)
        kpm[:, -1] = True
        kwargs["key_padding_mask"] = kpm
        kwargs["attn_mask"] = torch.ones(L, S, dtype=torch.bool).triu(1 + S)  # all allowed
    elif kind == 4:
        kwargs["key_padding_mask"] = torch.randn(N, S, generator=gen, dtype=f64)
    for average in (True, False):
        ours, w = A.multi_head_attention(query, key, value, *_weights(m), num_heads=H,
                                         average_attn_weights=average, **kwargs)
        ref, w_ref = m(query, key, value, average_attn_weights=average, **kwargs)
        torch.testing.assert_close(ours, ref, rtol=1e-10, atol=1e-12)
        torch.testing.assert_close(w, w_ref, rtol=1e-10, atol=1e-12)
    params = (query, key, value, *[p for p in _weights(m) if p is not None])
    g1 = _grads(ours, params, torch.Generator().manual_seed(7))
    g2 = _grads(ref, params, torch.Generator().manual_seed(7))
    for a, b in zip(g1, g2, strict=True):
        torch.testing.assert_close(a, b, rtol=1e-9, atol=1e-11)


def test_mha_unbatched_and_no_weights():
    gen = torch.Generator().manual_seed(8)
    m = _module(6, 3, True, 8)
    q, k = torch.randn(4, 6, generator=gen, dtype=f64), torch.randn(5, 6, generator=gen,
                                                                     dtype=f64)
    kpm = torch.tensor([False, False, True, False, True])
    ours, w = A.multi_head_attention(q, k, k, *_weights(m), num_heads=3, key_padding_mask=kpm)
    ref, w_ref = m(q, k, k, key_padding_mask=kpm)
    torch.testing.assert_close(ours, ref)
    torch.testing.assert_close(w, w_ref)
    out, none = A.multi_head_attention(q, k, k, *_weights(m), num_heads=3, need_weights=False)
    assert none is None
    torch.testing.assert_close(out, m(q, k, k)[0])


def test_mha_heads_are_slices_of_the_projections():
    """Each head is plain SDPA on its block of E/H projected features (no reshape trick)."""
    gen = torch.Generator().manual_seed(9)
    E, H = 8, 4
    d = E // H
    m = _module(E, H, True, 9)
    x = torch.randn(2, 5, E, generator=gen, dtype=f64)
    Wi, bi, Wo, bo = _weights(m)
    heads = []
    for h in range(H):
        rows = slice(h * d, (h + 1) * d)
        proj = [x @ Wi[j * E:(j + 1) * E][rows].T + bi[j * E:(j + 1) * E][rows]
                for j in range(3)]
        heads.append(F.scaled_dot_product_attention(*proj))
    loop = torch.cat(heads, -1) @ Wo.T + bo
    torch.testing.assert_close(A.multi_head_attention(x, x, x, Wi, bi, Wo, bo,
                                                      num_heads=H)[0], loop)


def test_mha_fully_masked_query_gives_bias_where_torch_gives_nan():
    m = _module(4, 2, True, 10)
    x = torch.randn(1, 3, 4, dtype=f64)
    am = torch.zeros(3, 3, dtype=torch.bool)
    am[1] = True                                            # query 1 may see no key
    ours, w = A.multi_head_attention(x, x, x, *_weights(m), num_heads=2, attn_mask=am)
    ref, _ = m(x, x, x, attn_mask=am)
    torch.testing.assert_close(ours[:, [0, 2]], ref[:, [0, 2]])
    torch.testing.assert_close(ours[0, 1], m.out_proj.bias)
    assert torch.equal(w[0, 1], torch.zeros(3, dtype=f64))
    assert torch.isnan(ref[0, 1]).all()                    # the module's behaviour (2.13)


def test_mha_permutation_equivariant():
    gen = torch.Generator().manual_seed(11)
    m = _module(6, 2, True, 11)
    x = torch.randn(2, 7, 6, generator=gen, dtype=f64)
    perm = torch.randperm(7, generator=gen)
    out = A.multi_head_attention(x, x, x, *_weights(m), num_heads=2)[0]
    out_p = A.multi_head_attention(x[:, perm], x[:, perm], x[:, perm], *_weights(m),
                                   num_heads=2)[0]
    torch.testing.assert_close(out_p, out[:, perm])


def test_mha_gradcheck():
    gen = torch.Generator().manual_seed(12)
    m = _module(4, 2, True, 12)
    x = _rand(gen, 1, 3, 4)
    Wi, bi, Wo, bo = (p.detach().clone().requires_grad_() for p in _weights(m))
    assert torch.autograd.gradcheck(
        lambda x, Wi, bi, Wo, bo: A.multi_head_attention(x, x, x, Wi, bi, Wo, bo,
                                                         num_heads=2)[0],
        (x, Wi, bi, Wo, bo))


def _mha_inputs():
    m = _module(4, 2, True, 13)
    x = torch.randn(2, 3, 4, dtype=f64)
    return x, _weights(m)


@pytest.mark.parametrize("change, match", [
    (lambda a: {**a, "num_heads": 3}, "divisible by `num_heads`"),
    (lambda a: {**a, "num_heads": 0}, "num_heads"),
    (lambda a: {**a, "key": a["key"][..., :3]}, "`key` and `value` must have shape"),
    (lambda a: {**a, "value": a["value"][:, :2]}, "`key` and `value` must have shape"),
    (lambda a: {**a, "key": a["key"][:1], "value": a["value"][:1]}, "same batch size"),
    (lambda a: {**a, "key": a["key"][0], "value": a["value"][0]}, "all be batched"),
    (lambda a: {**a, "query": a["query"][None]}, "2 or 3-dimensional"),
    (lambda a: {**a, "value": a["value"].float()}, "dtype of `query`"),
    (lambda a: {**a, "query": a["query"] * math.nan}, "NaN"),
    (lambda a: {**a, "in_proj_weight": a["in_proj_weight"][:8]}, r"\(12, 4\)"),
    (lambda a: {**a, "out_proj_bias": a["out_proj_bias"][:2]}, r"\(4,\)"),
    (lambda a: {**a, "out_proj_weight": a["out_proj_weight"].float()}, "dtype of `query`"),
    (lambda a: {**a, "attn_mask": torch.zeros(3, 4, dtype=torch.bool)}, "`attn_mask` must"),
    (lambda a: {**a, "attn_mask": torch.zeros(3, 3, dtype=torch.int32)}, "bool or floating"),
    (lambda a: {**a, "key_padding_mask": torch.zeros(2, 4, dtype=torch.bool)},
     "`key_padding_mask` must have shape"),
])
def test_mha_bad_input(change, match):
    x, (Wi, bi, Wo, bo) = _mha_inputs()
    args = {"query": x, "key": x, "value": x, "in_proj_weight": Wi, "in_proj_bias": bi,
            "out_proj_weight": Wo, "out_proj_bias": bo, "num_heads": 2}
    with pytest.raises(ValueError, match=match):
        A.multi_head_attention(**change(args))


def test_mha_flag_types():
    x, w = _mha_inputs()
    with pytest.raises(TypeError, match="need_weights"):
        A.multi_head_attention(x, x, x, *w, num_heads=2, need_weights=1)
    with pytest.raises(TypeError, match="average_attn_weights"):
        A.multi_head_attention(x, x, x, *w, num_heads=2, average_attn_weights=None)
    with pytest.raises(TypeError, match="in_proj_weight"):
        A.multi_head_attention(x, x, x, None, *w[1:], num_heads=2)


# ------------------------------------------------------------------ sinusoidal positions
@pytest.mark.parametrize("length, dim", [(1, 1), (5, 4), (7, 9), (50, 16)])
def test_sinusoidal_positions_equal_the_formula(length, dim):
    P = A.sinusoidal_positions(length, dim, dtype=f64)
    loop = torch.empty(length, dim, dtype=f64)
    for t in range(length):
        for j in range(dim):
            i = j // 2
            angle = t / 10000 ** (2 * i / dim)
            loop[t, j] = math.sin(angle) if j % 2 == 0 else math.cos(angle)
    torch.testing.assert_close(P, loop, rtol=1e-12, atol=1e-12)
    assert A.sinusoidal_positions(length, dim).dtype == torch.get_default_dtype()


def test_sinusoidal_offset_is_a_rotation():
    dim, k = 8, 3
    P = A.sinusoidal_positions(20, dim, dtype=f64)
    omega = 10000 ** (-torch.arange(0, dim, 2, dtype=f64) / dim)
    c, s = torch.cos(k * omega), torch.sin(k * omega)
    R = torch.zeros(dim, dim, dtype=f64)
    for i in range(dim // 2):   # (sin, cos)(t+k) = [[c, s], [-s, c]] (sin, cos)(t)
        R[2 * i:2 * i + 2, 2 * i:2 * i + 2] = torch.stack(
            [torch.stack([c[i], s[i]]), torch.stack([-s[i], c[i]])])
    torch.testing.assert_close(P[k:], P[:-k] @ R.T)


@pytest.mark.parametrize("kwargs, error", [
    ({"length": 0, "dim": 4}, ValueError), ({"length": 3, "dim": 0}, ValueError),
    ({"length": 3, "dim": 4, "base": 1.0}, ValueError), ({"length": 2.5, "dim": 4}, TypeError),
])
def test_sinusoidal_bad_input(kwargs, error):
    with pytest.raises(error):
        A.sinusoidal_positions(**kwargs)
