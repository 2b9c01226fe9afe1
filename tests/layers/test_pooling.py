"""dlcore.layers.pooling against torch: k-max, chunk-max, attention, [CLS], routing."""

import math

import pytest
import torch
from torch.nn import functional as F

from dlcore.layers import pooling as P

D64 = torch.float64


def _rand(*shape, seed=0, dtype=D64, grad=False):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(*shape, generator=g, dtype=dtype).requires_grad_(grad)


def _grads(fn, *xs):
    """Values and input gradients of fn(*xs) against a fixed random cotangent."""
    out = fn(*xs)
    out = out[0] if isinstance(out, tuple) else out
    cot = _rand(*out.shape, seed=99, dtype=out.dtype)
    grads = torch.autograd.grad((out * cot).sum(), xs)
    return out.detach(), grads


# ---------------------------------------------------------------- k-max pooling

def _kmax_reference(x, k, dim):
    idx = x.topk(k, dim=dim).indices.sort(dim=dim).values
    return x.gather(dim, idx)


@pytest.mark.parametrize("seed", range(6))
def test_kmax_matches_topk_then_sort(seed):
    g = torch.Generator().manual_seed(seed)
    ndim = int(torch.randint(1, 4, (1,), generator=g))
    shape = [int(s) for s in torch.randint(2, 7, (ndim,), generator=g)]
    dim = int(torch.randint(-ndim, ndim, (1,), generator=g))
    k = int(torch.randint(1, shape[dim] + 1, (1,), generator=g))
    x = _rand(*shape, seed=seed, grad=True)
    x_ref = x.detach().clone().requires_grad_(True)
    out, (gx,) = _grads(lambda t: P.kmax_pool(t, k, dim=dim), x)
    ref, (gr,) = _grads(lambda t: _kmax_reference(t, k, dim), x_ref)
    torch.testing.assert_close(out, ref, rtol=0, atol=0)
    torch.testing.assert_close(gx, gr, rtol=0, atol=0)


def test_kmax_order_is_positional_not_by_value():
    x = torch.tensor([3.0, 1.0, 5.0, 2.0, 4.0])
    assert P.kmax_pool(x, 3).tolist() == [3.0, 5.0, 4.0]
    assert x.topk(3).values.tolist() == [5.0, 4.0, 3.0]


def test_kmax_edge_cases_and_gradient_support():
    x = _rand(2, 3, 7, seed=1, grad=True)
    torch.testing.assert_close(P.kmax_pool(x, 1), x.amax(-1, keepdim=True))
    torch.testing.assert_close(P.kmax_pool(x, 7), x)          # k = L keeps everything
    P.kmax_pool(x, 3).sum().backward()
    assert torch.equal(x.grad.sum(-1), torch.full((2, 3), 3.0, dtype=D64))  # 3 per row
    assert set(x.grad.unique().tolist()) <= {0.0, 1.0}


def test_kmax_ties_take_the_earliest_positions():
    x = torch.tensor([2.0, 7.0, 2.0, 2.0, 1.0])
    out = P.kmax_pool(x.requires_grad_(True), 2)
    out.sum().backward()
    assert out.tolist() == [2.0, 7.0] and x.grad.tolist() == [1.0, 1.0, 0.0, 0.0, 0.0]


def test_kmax_float32_and_extremes():
    x = torch.tensor([[1e38, -1e38, float("inf"), 0.0]], dtype=torch.float32)
    out = P.kmax_pool(x, 2)
    assert out.dtype == torch.float32
    assert torch.equal(out, torch.tensor([[1e38, float("inf")]], dtype=torch.float32))


def test_kmax_gradcheck():
    x = _rand(2, 6, seed=3, grad=True)
    assert torch.autograd.gradcheck(lambda t: P.kmax_pool(t, 3), (x,))


@pytest.mark.parametrize("bad, error, match", [
    (dict(x=[1.0, 2.0], k=1), TypeError, "`x` must be a torch.Tensor"),
    (dict(x=torch.tensor([1, 2]), k=1), ValueError, "floating-point"),
    (dict(x=torch.tensor([1.0, math.nan]), k=1), ValueError, "NaN"),
    (dict(x=torch.tensor(1.0), k=1), ValueError, "at least one dimension"),
    (dict(x=torch.ones(3), k=0), ValueError, "`k` must be >= 1"),
    (dict(x=torch.ones(3), k=4), ValueError, "`k` must be at most the 3 entries"),
    (dict(x=torch.ones(3), k=1.0), TypeError, "`k` must be an int"),
    (dict(x=torch.ones(3), k=1, dim=1), ValueError, "`dim` must be in"),
])
def test_kmax_bad_input(bad, error, match):
    with pytest.raises(error, match=match):
        P.kmax_pool(**bad)


# ------------------------------------------------------------- chunk-max pooling

@pytest.mark.parametrize("length, chunks", [(12, 3), (12, 4), (10, 10), (9, 1)])
def test_chunk_max_divisible_equals_view_amax_and_max_pool(length, chunks):
    x = _rand(2, 3, length, seed=length + chunks, grad=True)
    x_ref = x.detach().clone().requires_grad_(True)
    out, (gx,) = _grads(lambda t: P.chunk_max_pool(t, chunks), x)
    ref, (gr,) = _grads(lambda t: t.view(2, 3, chunks, -1).amax(-1), x_ref)
    torch.testing.assert_close(out, ref, rtol=0, atol=0)
    torch.testing.assert_close(gx, gr, rtol=0, atol=0)
    w = length // chunks
    torch.testing.assert_close(out, F.max_pool1d(x.detach(), w, w), rtol=0, atol=0)
    torch.testing.assert_close(out, F.adaptive_max_pool1d(x.detach(), chunks), rtol=0,
                               atol=0)


def _chunk_max_loop(x, chunks):
    """The documented rule with Python loops: the first L mod C pieces have ceil(L/C)
    positions, the others floor(L/C); max over each piece, per (row, channel)."""
    n, length, ch = x.shape
    size, extra = divmod(length, chunks)
    bounds, start = [], 0
    for c in range(chunks):
        stop = start + size + (1 if c < extra else 0)
        bounds.append((start, stop))
        start = stop
    assert start == length
    rows = []
    for i in range(n):
        cols = []
        for start, stop in bounds:
            cols.append([max(float(x[i, t, k]) for t in range(start, stop))
                         for k in range(ch)])
        rows.append(cols)
    return torch.tensor(rows, dtype=x.dtype), bounds


@pytest.mark.parametrize("seed", range(5))
def test_chunk_max_not_divisible_matches_loop_reference(seed):
    g = torch.Generator().manual_seed(seed)
    length = int(torch.randint(3, 15, (1,), generator=g))
    chunks = int(torch.randint(1, length + 1, (1,), generator=g))
    x = _rand(4, length, 2, seed=seed, grad=True)
    out = P.chunk_max_pool(x, chunks, dim=1)
    ref, bounds = _chunk_max_loop(x.detach(), chunks)
    torch.testing.assert_close(out.detach(), ref, rtol=0, atol=0)
    assert out.shape == (4, chunks, 2)
    # gradient: each piece's argmax (unique for continuous data) gets the upstream value
    cot = _rand(*out.shape, seed=99)
    (gx,) = torch.autograd.grad((out * cot).sum(), x)
    expected = torch.zeros_like(x)
    xd = x.detach()
    for i in range(4):
        for c, (start, stop) in enumerate(bounds):
            for k in range(2):
                best = max(range(start, stop), key=lambda t: float(xd[i, t, k]))
                expected[i, best, k] = cot[i, c, k]
    torch.testing.assert_close(gx, expected, rtol=0, atol=0)


def test_chunk_max_piece_sizes_follow_the_documented_rule():
    # 7 positions in 3 pieces: sizes 3, 2, 2 -> pieces [0:3], [3:5], [5:7]
    x = torch.tensor([1.0, 2.0, 9.0, 8.0, 0.0, 0.0, 7.0])
    assert P.chunk_max_pool(x, 3).tolist() == [9.0, 8.0, 7.0]
    y = torch.tensor([1.0, 2.0, 0.0, 8.0, 9.0, 7.0, 0.0])       # 9 in piece 1, not 2
    assert P.chunk_max_pool(y, 3).tolist() == [2.0, 9.0, 7.0]


def test_chunk_max_not_divisible_differs_from_adaptive_pool():
    x = torch.tensor([[[0.0, 9.0, 1.0, 2.0, 3.0]]])
    assert P.chunk_max_pool(x, 2).tolist() == [[[9.0, 3.0]]]  # pieces [0:3], [3:5]
    assert F.adaptive_max_pool1d(x, 2).tolist() == [[[9.0, 3.0]]]   # [0:3], [2:5]
    y = torch.tensor([[[0.0, 1.0, 9.0, 2.0, 3.0]]])
    assert P.chunk_max_pool(y, 2).tolist() == [[[9.0, 3.0]]]
    assert F.adaptive_max_pool1d(y, 2).tolist() == [[[9.0, 9.0]]]  # windows overlap
    assert len(torch.chunk(torch.arange(5.0), 4)) == 3
    assert P.chunk_max_pool(torch.arange(5.0), 4).tolist() == [1.0, 2.0, 3.0, 4.0]


def test_chunk_max_ties_share_the_gradient():
    x = torch.tensor([1.0, 1.0, 0.0, 2.0], requires_grad=True)
    P.chunk_max_pool(x, 2).sum().backward()
    assert x.grad.tolist() == [0.5, 0.5, 0.0, 1.0]


def test_chunk_max_gradcheck():
    x = _rand(2, 7, seed=4, grad=True)
    assert torch.autograd.gradcheck(lambda t: P.chunk_max_pool(t, 3), (x,))


@pytest.mark.parametrize("bad, error, match", [
    (dict(x=torch.ones(4), chunks=5), ValueError, "`chunks` must be at most the 4"),
    (dict(x=torch.ones(4), chunks=0), ValueError, "`chunks` must be >= 1"),
    (dict(x=torch.tensor(2.0), chunks=1), ValueError, "at least one dimension"),
    (dict(x=torch.ones(4, dtype=torch.int64), chunks=1), ValueError, "floating"),
])
def test_chunk_max_bad_input(bad, error, match):
    with pytest.raises(error, match=match):
        P.chunk_max_pool(**bad)


# -------------------------------------------------------------- attention pooling

@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("masked", [False, True])
def test_attention_pool_is_sdpa_with_one_learned_query(seed, masked):
    g = torch.Generator().manual_seed(seed)
    n, length, dim = (int(v) for v in torch.randint(1, 6, (3,), generator=g))
    h = _rand(n, length, dim, seed=seed, grad=True)
    w = _rand(dim, seed=seed + 10, grad=True)
    mask = None
    if masked:
        mask = torch.rand(n, length, generator=g) < 0.6
        mask[:, 0] = True
    h_ref = h.detach().clone().requires_grad_(True)
    w_ref = w.detach().clone().requires_grad_(True)
    out, grads = _grads(lambda a, b: P.attention_pool(a, b, mask=mask), h, w)

    def sdpa(a, b):
        attn_mask = None if mask is None else mask[:, None, :]
        q = b.expand(a.shape[0], 1, -1)
        return F.scaled_dot_product_attention(q, a, a, attn_mask=attn_mask,
                                              scale=1.0).squeeze(1)

    ref, ref_grads = _grads(sdpa, h_ref, w_ref)
    torch.testing.assert_close(out, ref, rtol=1e-12, atol=1e-12)
    for a, b in zip(grads, ref_grads, strict=True):
        torch.testing.assert_close(a, b, rtol=1e-10, atol=1e-12)


def test_attention_pool_weights_and_identities():
    h = _rand(3, 5, 4, seed=5)
    v, alpha = P.attention_pool(h, torch.zeros(4, dtype=D64))
    torch.testing.assert_close(v, h.mean(1))                    # w = 0: average pooling
    torch.testing.assert_close(alpha, torch.full((3, 5), 0.2, dtype=D64))
    mask = torch.tensor([[True, True, False, False, False]] * 3)
    v, alpha = P.attention_pool(h, torch.zeros(4, dtype=D64), mask=mask)
    torch.testing.assert_close(v, h[:, :2].mean(1))  # mean over real positions
    assert torch.all(alpha[:, 2:] == 0)
    w = _rand(4, seed=6)
    v, alpha = P.attention_pool(h, w)
    torch.testing.assert_close(alpha.sum(1), torch.ones(3, dtype=D64))
    torch.testing.assert_close(v, (alpha[..., None] * h).sum(1))


def test_attention_pool_large_scores_stay_finite():
    h = torch.tensor([[[1e4, 0.0], [-1e4, 0.0]]], dtype=torch.float32)
    v, alpha = P.attention_pool(h, torch.tensor([1.0, 0.0]))
    assert torch.isfinite(v).all() and alpha.tolist() == [[1.0, 0.0]]


def test_attention_pool_gradcheck():
    h, w = _rand(2, 4, 3, seed=7, grad=True), _rand(3, seed=8, grad=True)
    mask = torch.tensor([[True, True, True, False], [True, False, True, True]])
    assert torch.autograd.gradcheck(lambda a, b: P.attention_pool(a, b, mask=mask)[0],
                                    (h, w))


@pytest.mark.parametrize("kwargs, match", [
    (dict(h=torch.ones(2, 3), w=torch.ones(3)), "`h` must be 3-dimensional"),
    (dict(h=torch.ones(2, 3, 4), w=torch.ones(3)),
     r"`w` must have shape \(D,\) = \(4,\)"),
    (dict(h=torch.ones(2, 3, 4), w=torch.ones(4), mask=torch.ones(2, 3)),
     "`mask` must be a bool tensor"),
    (dict(h=torch.ones(2, 3, 4), w=torch.ones(4),
          mask=torch.ones(3, 2, dtype=torch.bool)),
     r"`mask` must have shape \(N, L\) = \(2, 3\)"),
    (dict(h=torch.ones(2, 3, 4), w=torch.ones(4),
          mask=torch.tensor([[True, False, False], [False, False, False]])),
     "at least one position per row, got 1 row"),
    (dict(h=torch.full((1, 2, 2), math.nan), w=torch.ones(2)), "NaN"),
])
def test_attention_pool_bad_input(kwargs, match):
    with pytest.raises(ValueError, match=match):
        P.attention_pool(**kwargs)


# ------------------------------------------------------------------- [CLS] pooling

def test_cls_pool_is_bert_pooler():
    h = _rand(3, 6, 8, seed=9, grad=True)
    dense = torch.nn.Linear(8, 8).double()
    h_ref = h.detach().clone().requires_grad_(True)
    out, (gh,) = _grads(lambda t: P.cls_pool(t, dense.weight, dense.bias), h)
    ref, (gr,) = _grads(lambda t: torch.tanh(dense(t[:, 0])), h_ref)
    torch.testing.assert_close(out, ref)
    torch.testing.assert_close(gh, gr)
    assert torch.equal(P.cls_pool(h.detach()), h.detach()[:, 0])
    no_bias = P.cls_pool(h.detach(), dense.weight)
    torch.testing.assert_close(no_bias, torch.tanh(h.detach()[:, 0] @ dense.weight.T))


def test_cls_pool_gradcheck():
    h, W, b = _rand(2, 3, 4, seed=10, grad=True), _rand(5, 4, seed=11, grad=True), \
        _rand(5, seed=12, grad=True)
    assert torch.autograd.gradcheck(P.cls_pool, (h, W, b))


@pytest.mark.parametrize("kwargs, match", [
    (dict(h=torch.ones(2, 3)), "`h` must be 3-dimensional"),
    (dict(h=torch.ones(2, 3, 4), bias=torch.ones(4)), "`bias` needs a `weight`"),
    (dict(h=torch.ones(2, 3, 4), weight=torch.ones(4, 3)), r"`weight` must have shape"),
    (dict(h=torch.ones(2, 3, 4), weight=torch.ones(4)), r"`weight` must have shape"),
    (dict(h=torch.ones(2, 3, 4), weight=torch.ones(5, 4), bias=torch.ones(4)),
     r"`bias` must have shape \(5,\)"),
])
def test_cls_pool_bad_input(kwargs, match):
    with pytest.raises(ValueError, match=match):
        P.cls_pool(**kwargs)


# ------------------------------------------------------------------------ squash

def _squash_paper(s, dim=-1):
    n2 = (s * s).sum(dim, keepdim=True)
    return n2 / (1 + n2) * s / n2.sqrt()                      # eq. (1) as printed


@pytest.mark.parametrize("dtype", [torch.float32, D64])
@pytest.mark.parametrize("dim", [-1, 1])
def test_squash_matches_eq1_and_norm_below_one(dtype, dim):
    s = _rand(4, 5, 3, seed=13, dtype=dtype, grad=True) * 3
    s_ref = s.detach().clone().requires_grad_(True)
    out, (gs,) = _grads(lambda t: P.squash(t, dim=dim), s)
    ref, (gr,) = _grads(lambda t: _squash_paper(t, dim=dim), s_ref)
    tol = dict(rtol=1e-5, atol=1e-6) if dtype == torch.float32 else {}
    torch.testing.assert_close(out, ref, **tol)
    torch.testing.assert_close(gs, gr, **tol)
    norm = out.norm(dim=dim)
    n_s = s.detach().norm(dim=dim)
    torch.testing.assert_close(norm, n_s**2 / (1 + n_s**2), **tol)
    assert bool((norm < 1).all())


def test_squash_at_zero_and_huge():
    s = torch.zeros(2, 3, dtype=D64, requires_grad=True)
    out = P.squash(s)
    out.sum().backward()
    assert torch.equal(out.detach(), torch.zeros(2, 3, dtype=D64))
    assert torch.equal(s.grad, torch.zeros(2, 3, dtype=D64))    # the limit, not NaN
    assert torch.isnan(_squash_paper(torch.zeros(3, dtype=D64))).all()
    big = torch.tensor([3e200, 4e200], dtype=D64)
    torch.testing.assert_close(P.squash(big), torch.tensor([0.6, 0.8], dtype=D64))
    assert torch.isnan(_squash_paper(big)).all()                 # ‖s‖² overflows there
    tiny = torch.tensor([3e-200, 4e-200], dtype=D64)
    torch.testing.assert_close(P.squash(tiny), tiny * 5e-200, rtol=1e-12, atol=0)


def test_squash_gradcheck():
    s = _rand(3, 4, seed=14, grad=True)
    assert torch.autograd.gradcheck(P.squash, (s,))


@pytest.mark.parametrize("kwargs, error, match", [
    (dict(s=torch.tensor(1.0)), ValueError, "at least one dimension"),
    (dict(s=torch.ones(2, 3), dim=2), ValueError, "`dim` must be in"),
    (dict(s=torch.ones(2, dtype=torch.int32)), ValueError, "floating"),
])
def test_squash_bad_input(kwargs, error, match):
    with pytest.raises(error, match=match):
        P.squash(**kwargs)


# --------------------------------------------------------------- dynamic routing

def _procedure1(u_hat, r):
    """Sabour et al. 2017, Procedure 1, transcribed line by line with loops."""
    n, n_in, n_out, _ = u_hat.shape
    out_v, out_c = [], []
    for e in range(n):
        b = [[u_hat.new_zeros(()) for _ in range(n_out)] for _ in range(n_in)]
        for _ in range(r):
            c = [torch.softmax(torch.stack(b[i]), 0) for i in range(n_in)]   # line 4
            s = [sum(c[i][j] * u_hat[e, i, j] for i in range(n_in))          # line 5
                 for j in range(n_out)]
            v = [_squash_paper(s[j]) for j in range(n_out)]                    # line 6
            b = [[b[i][j] + u_hat[e, i, j] @ v[j] for j in range(n_out)]       # line 7
                 for i in range(n_in)]
        out_v.append(torch.stack(v))
        out_c.append(torch.stack([torch.stack(list(ci)) for ci in c]))
    return torch.stack(out_v), torch.stack(out_c)


@pytest.mark.parametrize("iterations", [1, 2, 3, 5])
def test_routing_matches_literal_procedure_1(iterations):
    u_hat = _rand(2, 5, 3, 4, seed=iterations, grad=True)
    u_ref = u_hat.detach().clone().requires_grad_(True)
    v, c = P.dynamic_routing(u_hat, iterations)
    v_ref, c_ref = _procedure1(u_ref, iterations)
    torch.testing.assert_close(v, v_ref)
    torch.testing.assert_close(c, c_ref)
    cot = _rand(*v.shape, seed=50)
    (g,) = torch.autograd.grad((v * cot).sum(), u_hat)
    (g_ref,) = torch.autograd.grad((v_ref * cot).sum(), u_ref)
    torch.testing.assert_close(g, g_ref)
    torch.testing.assert_close(c.sum(2), torch.ones(2, 5, dtype=D64))  # Σ_j c_ij = 1


def test_routing_one_iteration_is_uniform_coupling_and_agreement_rises():
    u_hat = _rand(3, 6, 4, 5, seed=20)
    v1, c1 = P.dynamic_routing(u_hat, 1)
    torch.testing.assert_close(c1, torch.full((3, 6, 4), 0.25, dtype=D64))
    torch.testing.assert_close(v1, P.squash(u_hat.sum(1) / 4))   # c_ij = 1/out_caps
    # inputs 0-3 agree on output 0; routing moves their coupling towards it
    agree = torch.tensor([2.0, 0.0, 0.0, 0.0, 0.0], dtype=D64)
    u = _rand(1, 6, 4, 5, seed=21) * 0.5
    u[0, :4, 0] = agree
    _, c_first = P.dynamic_routing(u, 1)
    _, c_later = P.dynamic_routing(u, 3)
    assert bool((c_later[0, :4, 0] > c_first[0, :4, 0]).all())


def test_routing_float32_and_gradcheck():
    u32 = _rand(2, 3, 2, 4, seed=22, dtype=torch.float32)
    v32, _ = P.dynamic_routing(u32)
    v64, _ = P.dynamic_routing(u32.double())
    torch.testing.assert_close(v32, v64.float(), rtol=1e-5, atol=1e-6)
    assert v32.dtype == torch.float32
    u = _rand(1, 3, 2, 3, seed=23, grad=True)
    assert torch.autograd.gradcheck(lambda t: P.dynamic_routing(t, 3)[0], (u,))


@pytest.mark.parametrize("args, error, match", [
    ((torch.ones(2, 3, 4),), ValueError, "`u_hat` must be 4-dimensional"),
    ((torch.ones(1, 2, 3, 4), 0), ValueError, "`iterations` must be >= 1"),
    ((torch.ones(1, 2, 3, 4), 2.0), TypeError, "`iterations` must be an int"),
    ((torch.ones(1, 2, 3, 4, dtype=torch.int64),), ValueError, "floating"),
])
def test_routing_bad_input(args, error, match):
    with pytest.raises(error, match=match):
        P.dynamic_routing(*args)


def test_public_names_are_in_dlcore_layers():
    import dlcore.layers

    for name in P.__all__:
        assert getattr(dlcore.layers, name) is getattr(P, name)
