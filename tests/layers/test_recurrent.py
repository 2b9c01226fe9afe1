"""dlcore.layers.recurrent against torch.nn.RNN / nn.LSTM (values and gradients, float64)."""

import math

import pytest
import torch
from torch import nn

from dlcore.layers import bidirectional, jordan, lstm, recurrent, rnn

CASES = [  # (L, N, H_in, H, bias)
    (1, 1, 1, 1, True), (5, 3, 4, 6, True), (7, 2, 3, 5, False), (4, 1, 8, 2, True),
    (12, 4, 2, 3, True),
]


def _weights(module, suffix=""):
    return tuple(getattr(module, f"{n}_l0{suffix}", None)
                 for n in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"))


def _probe(L, N, H, two=1, seed=0):
    """A random weighting of the outputs and final states, so every entry gets a gradient."""
    g = torch.Generator().manual_seed(seed + 1)
    return (torch.randn(L, N, two * H, generator=g, dtype=torch.float64),
            torch.randn(two, N, H, generator=g, dtype=torch.float64),
            torch.randn(two, N, H, generator=g, dtype=torch.float64))


@pytest.mark.parametrize("nonlinearity", ["tanh", "relu"])
@pytest.mark.parametrize("case", CASES)
def test_rnn_matches_torch(case, nonlinearity):
    L, N, H_in, H, bias = case
    torch.manual_seed(L * 100 + H)
    m = nn.RNN(H_in, H, nonlinearity=nonlinearity, bias=bias, dtype=torch.float64)
    x = torch.randn(L, N, H_in, dtype=torch.float64, requires_grad=True)
    h0 = torch.randn(N, H, dtype=torch.float64, requires_grad=True)
    out_t, hn_t = m(x, h0[None])
    out, hn = rnn(x, h0, *_weights(m), nonlinearity=nonlinearity)
    torch.testing.assert_close(out, out_t, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(hn, hn_t[0], rtol=1e-12, atol=1e-12)
    wo, wh, _ = _probe(L, N, H)
    leaves = [x, h0, *(p for p in _weights(m) if p is not None)]
    g_ref = torch.autograd.grad((out_t * wo).sum() + (hn_t[0] * wh[0]).sum(), leaves)
    g = torch.autograd.grad((out * wo).sum() + (hn * wh[0]).sum(), leaves)
    for a, b in zip(g, g_ref, strict=True):
        torch.testing.assert_close(a, b, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("case", CASES)
def test_lstm_matches_torch(case):
    L, N, H_in, H, bias = case
    torch.manual_seed(L * 10 + H)
    m = nn.LSTM(H_in, H, bias=bias, dtype=torch.float64)
    x = torch.randn(L, N, H_in, dtype=torch.float64, requires_grad=True)
    h0 = torch.randn(N, H, dtype=torch.float64, requires_grad=True)
    c0 = torch.randn(N, H, dtype=torch.float64, requires_grad=True)
    out_t, (hn_t, cn_t) = m(x, (h0[None], c0[None]))
    out, (hn, cn) = lstm(x, (h0, c0), *_weights(m))
    torch.testing.assert_close(out, out_t, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(hn, hn_t[0], rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(cn, cn_t[0], rtol=1e-12, atol=1e-12)
    wo, wh, wc = _probe(L, N, H)
    leaves = [x, h0, c0, *(p for p in _weights(m) if p is not None)]
    g_ref = torch.autograd.grad(
        (out_t * wo).sum() + (hn_t[0] * wh[0]).sum() + (cn_t[0] * wc[0]).sum(), leaves)
    g = torch.autograd.grad((out * wo).sum() + (hn * wh[0]).sum() + (cn * wc[0]).sum(), leaves)
    for a, b in zip(g, g_ref, strict=True):
        torch.testing.assert_close(a, b, rtol=1e-10, atol=1e-12)


def test_default_state_is_zeros_and_float32():
    torch.manual_seed(3)
    x = torch.randn(6, 2, 3)
    m = nn.RNN(3, 4)
    out, h = rnn(x, None, *_weights(m))
    torch.testing.assert_close(out, m(x)[0])
    assert out.dtype == torch.float32
    ml = nn.LSTM(3, 4)
    out, (h, c) = lstm(x, None, *_weights(ml))
    ref, (h_t, c_t) = ml(x)
    torch.testing.assert_close(out, ref)
    torch.testing.assert_close(c, c_t[0])


def test_lstm_gates():
    torch.manual_seed(4)
    m = nn.LSTM(3, 5, dtype=torch.float64)
    x = torch.randn(7, 2, 3, dtype=torch.float64)
    out, (h, c), gates = lstm(x, None, *_weights(m), return_gates=True)
    assert gates.shape == (4, 7, 2, 5)
    i, f, g, o = gates
    # the cell recurrence rebuilt from the returned gates
    c_prev = torch.zeros(2, 5, dtype=torch.float64)
    for t in range(7):
        c_prev = f[t] * c_prev + i[t] * g[t]
        torch.testing.assert_close(out[t], o[t] * torch.tanh(c_prev))
    torch.testing.assert_close(c, c_prev)
    assert bool(((gates[[0, 1, 3]] > 0) & (gates[[0, 1, 3]] < 1)).all())
    assert bool((g.abs() < 1).all())
    # the gates themselves, from torch's hidden states: gates of step t are the slices
    # i, f, g, o of x_t W_ihᵀ + b_ih + h_(t-1) W_hhᵀ + b_hh (torch's order)
    out_ref, _ = m(x)
    h_prev = torch.cat([torch.zeros(1, 2, 5, dtype=torch.float64), out_ref[:-1]])
    pre = (x @ m.weight_ih_l0.T + m.bias_ih_l0 + h_prev @ m.weight_hh_l0.T
           + m.bias_hh_l0).detach()
    i_ref, f_ref, g_ref, o_ref = pre.chunk(4, dim=-1)
    torch.testing.assert_close(i, torch.sigmoid(i_ref), rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(f, torch.sigmoid(f_ref), rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(g, torch.tanh(g_ref), rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(o, torch.sigmoid(o_ref), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("kind", ["rnn_tanh", "rnn_relu", "lstm"])
@pytest.mark.parametrize("case", [(5, 3, 4, 6, True), (1, 2, 2, 3, False), (9, 1, 3, 2, True)])
def test_bidirectional_matches_torch(kind, case):
    L, N, H_in, H, bias = case
    torch.manual_seed(L + H)
    x = torch.randn(L, N, H_in, dtype=torch.float64, requires_grad=True)
    h0 = torch.randn(2, N, H, dtype=torch.float64, requires_grad=True)
    c0 = torch.randn(2, N, H, dtype=torch.float64, requires_grad=True)
    wo, wh, wc = _probe(L, N, H, two=2)
    if kind == "lstm":
        m = nn.LSTM(H_in, H, bias=bias, bidirectional=True, dtype=torch.float64)
        out_t, (hn_t, cn_t) = m(x, (h0, c0))
        out, (hn, cn) = bidirectional(lstm, x, (h0, c0), _weights(m), _weights(m, "_reverse"))
        torch.testing.assert_close(cn, cn_t, rtol=1e-12, atol=1e-12)
        extra, extra_t = (cn * wc).sum(), (cn_t * wc).sum()
        leaves = [x, h0, c0]
    else:
        nl = kind.split("_")[1]
        m = nn.RNN(H_in, H, nonlinearity=nl, bias=bias, bidirectional=True,
                   dtype=torch.float64)
        out_t, hn_t = m(x, h0)
        out, hn = bidirectional(rnn, x, h0, _weights(m), _weights(m, "_reverse"),
                                nonlinearity=nl)
        extra = extra_t = 0
        leaves = [x, h0]
    assert out.shape == (L, N, 2 * H)
    torch.testing.assert_close(out, out_t, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(hn, hn_t, rtol=1e-12, atol=1e-12)
    leaves += [p for p in m.parameters()]
    g_ref = torch.autograd.grad((out_t * wo).sum() + (hn_t * wh).sum() + extra_t, leaves)
    g = torch.autograd.grad((out * wo).sum() + (hn * wh).sum() + extra, leaves)
    for a, b in zip(g, g_ref, strict=True):
        torch.testing.assert_close(a, b, rtol=1e-10, atol=1e-12)


def test_bidirectional_default_state():
    torch.manual_seed(5)
    x = torch.randn(4, 2, 3, dtype=torch.float64)
    m = nn.LSTM(3, 2, bidirectional=True, dtype=torch.float64)
    out, (h, c) = bidirectional(lstm, x, None, _weights(m), _weights(m, "_reverse"))
    out_ref, (h_ref, c_ref) = m(x)
    torch.testing.assert_close(out, out_ref)
    torch.testing.assert_close(h, h_ref)
    torch.testing.assert_close(c, c_ref)
    r = nn.RNN(3, 2, bidirectional=True, dtype=torch.float64)
    out, h = bidirectional(rnn, x, None, _weights(r), _weights(r, "_reverse"))
    out_ref, h_ref = r(x)
    torch.testing.assert_close(out, out_ref)
    torch.testing.assert_close(h, h_ref)


def test_gradcheck():
    g = torch.Generator().manual_seed(6)

    def r(*shape):
        return torch.randn(*shape, generator=g, dtype=torch.float64, requires_grad=True)

    x, h0, c0 = r(4, 2, 3), r(2, 2), r(2, 2)
    assert torch.autograd.gradcheck(
        lambda *a: rnn(a[0], a[1], *a[2:])[0], (x, h0, r(2, 3), r(2, 2), r(2), r(2)))
    assert torch.autograd.gradcheck(
        lambda *a: lstm(a[0], (a[1], a[2]), *a[3:])[0],
        (x, h0, c0, r(8, 3), r(8, 2), r(8), r(8)))
    assert torch.autograd.gradcheck(
        lambda *a: jordan(a[0], a[1], *a[2:], decay=0.5)[0],
        (x, r(2, 1), r(2, 3), r(2, 1), r(1, 2), r(2), r(1)))


def _jordan_loop(x, y0, W_ih, W_sh, W_hy, b_h, b_y, mu, phi):
    """A literal transcription, one sample and one unit at a time."""
    L, N, _ = x.shape
    H, O = W_ih.shape[0], W_hy.shape[0]
    out = torch.zeros(L, N, O, dtype=x.dtype)
    for n in range(N):
        s = [0.0] * O
        y = [float(v) for v in y0[n]]
        for t in range(L):
            s = [mu * s[k] + y[k] for k in range(O)]
            h = [phi(float(W_ih[j] @ x[t, n] + sum(W_sh[j, k] * s[k] for k in range(O))
                           + b_h[j])) for j in range(H)]
            y = [float(sum(W_hy[k, j] * h[j] for j in range(H)) + b_y[k]) for k in range(O)]
            out[t, n] = torch.tensor(y, dtype=x.dtype)
    return out


@pytest.mark.parametrize("mu", [0.0, 0.7])
@pytest.mark.parametrize("nonlinearity", ["tanh", "relu"])
def test_jordan_matches_loop(mu, nonlinearity):
    torch.manual_seed(7)
    L, N, H_in, H, O = 5, 2, 3, 4, 2
    args = (torch.randn(L, N, H_in), torch.randn(N, O), torch.randn(H, H_in),
            torch.randn(H, O), torch.randn(O, H), torch.randn(H), torch.randn(O))
    args = tuple(a.double() for a in args)
    y, s = jordan(*args, nonlinearity=nonlinearity, decay=mu)
    phi = (lambda v: max(v, 0.0)) if nonlinearity == "relu" else math.tanh
    torch.testing.assert_close(y, _jordan_loop(*args, mu, phi), rtol=1e-12, atol=1e-12)
    # s_L = μ s_{L-1} + y_{L-1}
    s_prev = torch.zeros(N, O, dtype=torch.float64)
    ys = torch.cat([args[1][None], y])
    for t in range(L):
        s_prev = mu * s_prev + ys[t]
    torch.testing.assert_close(s, s_prev)


def test_jordan_with_identity_output_is_elman():
    # y_t = h_t (W_hy = I, b_y = 0, μ = 0): the output feedback is the hidden state's
    torch.manual_seed(8)
    x = torch.randn(6, 3, 2, dtype=torch.float64)
    W_ih, W_hh, b = (torch.randn(4, 2, dtype=torch.float64),
                     torch.randn(4, 4, dtype=torch.float64), torch.randn(4, dtype=torch.float64))
    y, _ = jordan(x, None, W_ih, W_hh, torch.eye(4, dtype=torch.float64), b)
    out, _ = rnn(x, None, W_ih, W_hh, b)
    torch.testing.assert_close(y, out)


def test_extreme_inputs_stay_finite():
    x = torch.full((3, 1, 1), 1e30)
    w = torch.ones(4, 1)
    out, (h, c) = lstm(x, None, w, torch.ones(4, 1))
    ref = nn.LSTM(1, 1, bias=False)
    with torch.no_grad():
        ref.weight_ih_l0.fill_(1)
        ref.weight_hh_l0.fill_(1)
    torch.testing.assert_close(out, ref(x)[0])
    assert bool(torch.isfinite(out).all())
    out, h = rnn(x, None, torch.ones(1, 1), torch.ones(1, 1))
    assert out.eq(1).all()


@pytest.mark.parametrize("call, match", [
    (lambda: rnn(torch.zeros(2, 3), None, torch.zeros(4, 3), torch.zeros(4, 4)),
     "`x` must be 3-dimensional"),
    (lambda: rnn(torch.zeros(2, 1, 3), None, torch.zeros(4, 2), torch.zeros(4, 4)),
     r"`W_ih` must have shape \(H, H_in\) = \(4, 3\), got \(4, 2\)"),
    (lambda: rnn(torch.zeros(2, 1, 3), None, torch.zeros(4, 3), torch.zeros(4, 3)),
     r"`W_hh` must have shape"),
    (lambda: rnn(torch.zeros(2, 1, 3), None, torch.zeros(4, 3), torch.zeros(4)),
     "`W_hh` must be 2-dimensional"),
    (lambda: rnn(torch.zeros(2, 1, 3), None, torch.zeros(4, 3), torch.zeros(4, 4),
                 torch.zeros(3)), r"`b_ih` must have shape \(H,\) = \(4,\)"),
    (lambda: rnn(torch.zeros(2, 1, 3), torch.zeros(2, 4), torch.zeros(4, 3),
                 torch.zeros(4, 4)), r"`h0` must have shape \(N, H\) = \(1, 4\)"),
    (lambda: rnn(torch.zeros(2, 1, 3), None, torch.zeros(4, 3, dtype=torch.float64),
                 torch.zeros(4, 4)), "`W_ih` must have the dtype of `x`"),
    (lambda: rnn(torch.zeros(2, 1, 3), None, torch.zeros(4, 3), torch.zeros(4, 4),
                 nonlinearity="sigmoid"), "`nonlinearity` must be one of"),
    (lambda: rnn(torch.zeros(2, 1, 3, dtype=torch.long), None, torch.zeros(4, 3),
                 torch.zeros(4, 4)), "floating-point"),
    (lambda: lstm(torch.zeros(2, 1, 3), None, torch.zeros(6, 3), torch.zeros(6, 6)),
     "`W_ih` must have 4·H rows"),
    (lambda: lstm(torch.zeros(2, 1, 3), torch.zeros(1, 2), torch.zeros(8, 3),
                  torch.zeros(8, 2)), r"`state` must be a pair \(h0, c0\)"),
    (lambda: lstm(torch.zeros(2, 1, 3), (None, torch.zeros(2, 2)), torch.zeros(8, 3),
                  torch.zeros(8, 2)), r"`c0` must have shape \(N, H\)"),
    (lambda: lstm(torch.zeros(2, 1, 3), None, torch.zeros(8, 3), torch.zeros(8, 2),
                  None, torch.zeros(4)), r"`b_hh` must have shape \(4·H,\)"),
    (lambda: bidirectional(torch.tanh, torch.zeros(2, 1, 3), None, (), ()),
     "`layer` must be dlcore.layers.rnn"),
    (lambda: bidirectional(rnn, torch.zeros(2, 1, 3), None, (1, 2), (1, 2, 3, 4)),
     r"`forward_weights` must be \(W_ih, W_hh, b_ih, b_hh\)"),
    (lambda: bidirectional(rnn, torch.zeros(2, 1, 3), torch.zeros(1, 1, 4),
                           (torch.zeros(4, 3), torch.zeros(4, 4), None, None),
                           (torch.zeros(4, 3), torch.zeros(4, 4), None, None)),
     r"`state` must have shape \(2, N, H\)"),
    (lambda: bidirectional(lstm, torch.zeros(2, 1, 3), torch.zeros(2, 1, 4),
                           (torch.zeros(16, 3), torch.zeros(16, 4), None, None),
                           (torch.zeros(16, 3), torch.zeros(16, 4), None, None)),
     r"`state` must be a pair"),
    (lambda: bidirectional(rnn, torch.zeros(3), None, (1, 2, 3, 4), (1, 2, 3, 4)),
     "`x` must be 3-dimensional"),
    (lambda: bidirectional(lstm, torch.zeros(2, 1, 3), None,
                           (torch.zeros(16, 3), torch.zeros(16, 4), None, None),
                           (torch.zeros(16, 3), torch.zeros(16, 4), None, None),
                           return_gates=True),
     "`return_gates` is not supported by bidirectional"),
    (lambda: jordan(torch.zeros(2, 1, 3), None, torch.zeros(4, 3), torch.zeros(4, 2),
                    torch.zeros(2, 4), decay=1.0), "`decay` must be < 1"),
    (lambda: jordan(torch.zeros(2, 1, 3), None, torch.zeros(4, 3), torch.zeros(4, 3),
                    torch.zeros(2, 4)), r"`W_sh` must have shape \(H, O\) = \(4, 2\)"),
    (lambda: jordan(torch.zeros(2, 1, 3), torch.zeros(2, 2), torch.zeros(4, 3),
                    torch.zeros(4, 2), torch.zeros(2, 4)), r"`y0` must have shape \(N, O\)"),
    (lambda: jordan(torch.zeros(2, 1, 3), None, torch.zeros(4, 3), torch.zeros(4, 2),
                    torch.zeros(2, 4), None, torch.zeros(2, dtype=torch.float64)),
     "`b_y` must have the dtype"),
    (lambda: jordan(torch.zeros(2, 1, 3), None, torch.zeros(4, 3), torch.zeros(4, 2),
                    torch.zeros(2)), "`W_hy` must be 2-dimensional"),
    (lambda: jordan(torch.zeros(2, 1), None, torch.zeros(4, 3), torch.zeros(4, 2),
                    torch.zeros(2, 4)), "`x` must be 3-dimensional"),
])
def test_bad_input(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def test_bad_types():
    with pytest.raises(TypeError, match="`x` must be a torch.Tensor"):
        rnn([[[0.0]]], None, torch.zeros(1, 1), torch.zeros(1, 1))
    with pytest.raises(TypeError, match="`return_gates` must be a bool"):
        lstm(torch.zeros(1, 1, 1), None, torch.zeros(4, 1), torch.zeros(4, 1), return_gates=1)


def test_all_exported():
    import dlcore.layers as layers
    for name in recurrent.__all__:
        assert getattr(layers, name) is getattr(recurrent, name)
