r"""Recurrent layers: the Elman RNN, the LSTM, their bidirectional form and a Jordan network.

Each function is one layer written from its recurrence, with the weights, shapes, gate order
and defaults of :class:`torch.nn.RNN` and :class:`torch.nn.LSTM` (``num_layers=1``,
``batch_first=False``), so a module's ``weight_ih_l0``, ``weight_hh_l0``, ``bias_ih_l0`` and
``bias_hh_l0`` can be passed as they are:

* :func:`rnn` — :math:`h_t = \phi(W_{ih} x_t + b_{ih} + W_{hh} h_{t-1} + b_{hh})`,
  Elman (1990): the *hidden state* feeds back;
* :func:`lstm` — Hochreiter & Schmidhuber (1997) with the forget gate of Gers et al. (2000),
  gates in torch's order :math:`i, f, g, o`;
* :func:`bidirectional` — Schuster & Paliwal (1997): one layer forward in time, one backward,
  outputs concatenated and final states stacked as torch does;
* :func:`jordan` — Jordan (1986): the *output* feeds back, through state units with a
  self-loop.

Inputs are ``x`` of shape :math:`(L, N, H_\text{in})` (time first); states have shape
:math:`(N, H)`. Both biases exist, as in torch (``bias=False`` there means ``None`` here).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch

from dlcore import _checks

__all__ = ["rnn", "lstm", "bidirectional", "jordan"]

_ACT = {"tanh": torch.tanh, "relu": torch.relu}


def _shape(t: torch.Tensor, name: str, want: tuple, what: str) -> None:
    if tuple(t.shape) != want:
        raise ValueError(f"`{name}` must have shape {what} = {want}, got {tuple(t.shape)}")


def _same_dtype(t: torch.Tensor, name: str, x: torch.Tensor) -> None:
    if t.dtype != x.dtype:
        raise ValueError(f"`{name}` must have the dtype of `x` ({x.dtype}), got {t.dtype}")


def _validate(x, h0, W_ih, W_hh, b_ih, b_hh, gates: int, state_name: str = "h0"):
    """Check the shapes of one layer's input, state and weights; return (L, N, H, h0)."""
    x = _checks.tensor(x, "x", floating=True)
    _checks.ndim(x, "x", (3,))
    W_ih = _checks.tensor(W_ih, "W_ih", floating=True)
    W_hh = _checks.tensor(W_hh, "W_hh", floating=True)
    _checks.ndim(W_ih, "W_ih", (2,))
    _checks.ndim(W_hh, "W_hh", (2,))
    L, N, H_in = x.shape
    if W_ih.shape[0] % gates:
        raise ValueError(f"`W_ih` must have {gates}·H rows, got shape {tuple(W_ih.shape)}")
    H = W_ih.shape[0] // gates
    k = f"{gates}·" if gates > 1 else ""
    _shape(W_ih, "W_ih", (gates * H, H_in), f"({k}H, H_in)")
    _shape(W_hh, "W_hh", (gates * H, H), f"({k}H, H)")
    for b, name in ((b_ih, "b_ih"), (b_hh, "b_hh")):
        if b is not None:
            _checks.tensor(b, name, floating=True)
            _shape(b, name, (gates * H,), f"({k}H,)")
    if h0 is None:
        h0 = x.new_zeros(N, H)
    _checks.tensor(h0, state_name, floating=True)
    _shape(h0, state_name, (N, H), "(N, H)")
    for t, name in ((W_ih, "W_ih"), (W_hh, "W_hh"), (b_ih, "b_ih"), (b_hh, "b_hh"),
                    (h0, state_name)):
        if t is not None:
            _same_dtype(t, name, x)
    return h0


def _input_part(x, W_ih, b_ih):
    """W_ih x_t + b_ih for every t at once: one matrix product instead of L of them."""
    a = x @ W_ih.T
    return a if b_ih is None else a + b_ih


def rnn(x: torch.Tensor, h0: torch.Tensor | None, W_ih: torch.Tensor, W_hh: torch.Tensor,
        b_ih: torch.Tensor | None = None, b_hh: torch.Tensor | None = None, *,
        nonlinearity: str = "tanh") -> tuple[torch.Tensor, torch.Tensor]:
    r"""One layer of an Elman recurrent network, equal to :class:`torch.nn.RNN`.

    .. math::
        h_t = \phi\bigl(W_{ih}\, x_t + b_{ih} + W_{hh}\, h_{t-1} + b_{hh}\bigr),
        \qquad t = 1, \dots, L,

    with :math:`\phi` = tanh or ReLU. The output at step :math:`t` is :math:`h_t` itself.

    Args:
        x: input of shape :math:`(L, N, H_\text{in})`, time first (torch's default layout).
        h0: initial state of shape :math:`(N, H)`, or ``None`` for zeros (as torch).
        W_ih: input weights of shape :math:`(H, H_\text{in})` (``weight_ih_l0``).
        W_hh: recurrent weights of shape :math:`(H, H)` (``weight_hh_l0``).
        b_ih, b_hh: biases of shape :math:`(H,)`, or ``None`` (``bias=False``).
        nonlinearity: ``"tanh"`` (default, as torch) or ``"relu"``.

    Returns:
        tuple: ``(outputs, h_L)``, outputs :math:`(h_1, \dots, h_L)` of shape
        :math:`(L, N, H)` and the final state :math:`h_L` of shape :math:`(N, H)` (torch's
        ``h_n`` has an extra leading axis of size 1 for the one layer).

    Raises:
        ValueError: a shape that does not fit the others, dtypes that differ, or an unknown
            ``nonlinearity``.

    Notes:
        torch keeps two biases where one would do (:math:`b_{ih} + b_{hh}` is all that
        matters), to match cuDNN. The sum over the input is computed for all steps at once;
        only the recurrent part is a loop.

    References:
        Elman, "Finding structure in time", Cognitive Science 14 (1990).

    Examples:
        >>> x = torch.ones(3, 1, 1)
        >>> out, h = rnn(x, None, torch.ones(1, 1), torch.zeros(1, 1))
        >>> out.squeeze().tolist() == [torch.tanh(torch.tensor(1.0)).item()] * 3
        True
        >>> out, h = rnn(x, torch.zeros(1, 1), torch.ones(1, 1), torch.ones(1, 1),
        ...              nonlinearity="relu")
        >>> out.squeeze().tolist(), h.tolist()
        ([1.0, 2.0, 3.0], [[3.0]])
    """
    _checks.choice(nonlinearity, "nonlinearity", tuple(_ACT))
    h = _validate(x, h0, W_ih, W_hh, b_ih, b_hh, gates=1)
    phi = _ACT[nonlinearity]
    a = _input_part(x, W_ih, b_ih)
    if b_hh is not None:
        a = a + b_hh
    outputs = []
    for t in range(x.shape[0]):
        h = phi(a[t] + h @ W_hh.T)          # h_t = φ(W_ih x_t + b + W_hh h_{t-1})
        outputs.append(h)
    return torch.stack(outputs), h


def lstm(x: torch.Tensor, state: tuple[torch.Tensor, torch.Tensor] | None,
         W_ih: torch.Tensor, W_hh: torch.Tensor, b_ih: torch.Tensor | None = None,
         b_hh: torch.Tensor | None = None, *, return_gates: bool = False):
    r"""One layer of a long short-term memory network, equal to :class:`torch.nn.LSTM`.

    .. math::
        \begin{aligned}
        \begin{pmatrix} \tilde\imath_t \\ \tilde f_t \\ \tilde g_t \\ \tilde o_t \end{pmatrix}
          &= W_{ih}\, x_t + b_{ih} + W_{hh}\, h_{t-1} + b_{hh},\\
        i_t &= \sigma(\tilde\imath_t),\quad f_t = \sigma(\tilde f_t),\quad
        g_t = \tanh(\tilde g_t),\quad o_t = \sigma(\tilde o_t),\\
        c_t &= f_t \odot c_{t-1} + i_t \odot g_t,\qquad h_t = o_t \odot \tanh(c_t).
        \end{aligned}

    The rows of ``W_ih``, ``W_hh`` and the biases are the four blocks in torch's order
    :math:`i` (input gate), :math:`f` (forget gate), :math:`g` (cell candidate),
    :math:`o` (output gate), each of :math:`H` rows.

    Args:
        x: input of shape :math:`(L, N, H_\text{in})`.
        state: ``(h0, c0)``, each of shape :math:`(N, H)`, or ``None`` for zeros.
        W_ih: shape :math:`(4H, H_\text{in})` (``weight_ih_l0``).
        W_hh: shape :math:`(4H, H)` (``weight_hh_l0``).
        b_ih, b_hh: shape :math:`(4H,)`, or ``None``.
        return_gates: also return the gate activations.

    Returns:
        tuple: ``(outputs, (h_L, c_L))`` with outputs of shape :math:`(L, N, H)`; with
        ``return_gates=True`` a third element, the activations
        :math:`(i, f, g, o)` stacked to shape :math:`(4, L, N, H)` (``gates[1]`` is the
        forget gate).

    Raises:
        ValueError: ``state`` not a pair, a shape that does not fit the others, dtypes
            that differ.

    Notes:
        The 1997 LSTM had no forget gate (its cell kept :math:`c_t = c_{t-1} + i_t g_t`);
        Gers, Schmidhuber & Cummins (2000) added :math:`f_t`. Because torch adds two biases,
        a "forget-gate bias of 1" means :math:`b_{ih} + b_{hh} = 1` on the :math:`f` block.

    References:
        Hochreiter & Schmidhuber, "Long short-term memory", Neural Computation 9 (1997);
        Gers, Schmidhuber & Cummins, "Learning to forget", Neural Computation 12 (2000).

    Examples:
        >>> H = 1
        >>> W_ih, W_hh = torch.zeros(4 * H, 1), torch.zeros(4 * H, H)
        >>> b = torch.tensor([0.0, 50.0, 50.0, 50.0])   # i = ½, f = 1, g = 1, o = 1
        >>> out, (h, c) = lstm(torch.zeros(3, 1, 1), None, W_ih, W_hh, b)
        >>> c.item()                                     # c_t = c_{t-1} + ½: 0.5, 1, 1.5
        1.5
    """
    _checks.flag(return_gates, "return_gates")
    if state is None:
        h0 = c0 = None
    elif isinstance(state, Sequence) and not isinstance(state, str) and len(state) == 2:
        h0, c0 = state
    else:
        raise ValueError(f"`state` must be a pair (h0, c0) or None, got {type(state).__name__}")
    h = _validate(x, h0, W_ih, W_hh, b_ih, b_hh, gates=4)
    c = _validate(x, c0, W_ih, W_hh, b_ih, b_hh, gates=4, state_name="c0")
    a = _input_part(x, W_ih, b_ih)
    if b_hh is not None:
        a = a + b_hh
    outputs, acts = [], []
    for t in range(x.shape[0]):
        pre_i, pre_f, pre_g, pre_o = (a[t] + h @ W_hh.T).chunk(4, dim=-1)
        i, f = torch.sigmoid(pre_i), torch.sigmoid(pre_f)
        g, o = torch.tanh(pre_g), torch.sigmoid(pre_o)
        c = f * c + i * g                   # c_t = f ⊙ c_{t-1} + i ⊙ g
        h = o * torch.tanh(c)               # h_t = o ⊙ tanh(c_t)
        outputs.append(h)
        if return_gates:
            acts.append(torch.stack([i, f, g, o]))
    result = (torch.stack(outputs), (h, c))
    if return_gates:
        return (*result, torch.stack(acts, dim=1))
    return result


def bidirectional(layer: Callable, x: torch.Tensor, state, forward_weights: Sequence,
                  backward_weights: Sequence, **kwargs):
    r"""Run ``layer`` forward and backward in time, as ``bidirectional=True`` in torch.

    .. math::
        \overrightarrow{h}_t = \text{layer}(x_1, \dots, x_t),\qquad
        \overleftarrow{h}_t = \text{layer}(x_L, \dots, x_t),\qquad
        y_t = \bigl[\overrightarrow{h}_t ;\, \overleftarrow{h}_t\bigr].

    The backward direction is the same layer, with its own weights, run on the reversed
    sequence; its outputs are reversed back, so :math:`y_t` sees the whole sequence.

    Args:
        layer: :func:`rnn` or :func:`lstm`.
        x: input of shape :math:`(L, N, H_\text{in})`.
        state: for :func:`rnn`, ``h0`` of shape :math:`(2, N, H)` (forward first), for
            :func:`lstm` a pair ``(h0, c0)`` of such tensors; or ``None`` for zeros.
        forward_weights, backward_weights: ``(W_ih, W_hh, b_ih, b_hh)`` of each direction
            (torch's ``*_l0`` and ``*_l0_reverse``); the biases may be ``None``.
        **kwargs: passed to ``layer`` (``nonlinearity=`` for :func:`rnn`);
            ``return_gates`` is not supported (call :func:`lstm` on each direction).

    Returns:
        tuple: ``(outputs, final)``: outputs of shape :math:`(L, N, 2H)`, forward half first;
        ``final`` the two directions' final states stacked to :math:`(2, N, H)` (a pair of
        them for :func:`lstm`). The backward direction's final state is the one after it
        has read :math:`x_1`, i.e. its output at :math:`t = 1`, as torch's ``h_n[1]``.

    Raises:
        ValueError: ``layer`` is not :func:`rnn` or :func:`lstm`, weights not four tensors,
            a state of the wrong shape, or ``return_gates`` among ``kwargs``.

    References:
        Schuster & Paliwal, "Bidirectional recurrent neural networks", IEEE Trans. Signal
        Processing 45 (1997).

    Examples:
        >>> x = torch.tensor([[[1.0]], [[0.0]], [[0.0]]])        # L = 3, N = 1
        >>> w = (torch.ones(1, 1), torch.ones(1, 1), None, None)
        >>> out, h = bidirectional(rnn, x, None, w, w, nonlinearity="relu")
        >>> out.squeeze(1).tolist()                              # [forward, backward]
        [[1.0, 1.0], [1.0, 0.0], [1.0, 0.0]]
    """
    if layer not in (rnn, lstm):
        raise ValueError(f"`layer` must be dlcore.layers.rnn or dlcore.layers.lstm, "
                         f"got {layer!r}")
    if "return_gates" in kwargs:
        raise ValueError("`return_gates` is not supported by bidirectional: call "
                         "dlcore.layers.lstm(..., return_gates=True) on each direction, "
                         f"got return_gates={kwargs['return_gates']!r}")
    for w, name in ((forward_weights, "forward_weights"),
                    (backward_weights, "backward_weights")):
        if not isinstance(w, Sequence) or len(w) != 4:
            raise ValueError(f"`{name}` must be (W_ih, W_hh, b_ih, b_hh), got {w!r:.60}")
    x = _checks.tensor(x, "x", floating=True)
    _checks.ndim(x, "x", (3,))
    if state is None:
        states = (None, None)
    else:
        parts = state if layer is lstm else (state,)
        if layer is lstm and not (isinstance(state, Sequence) and len(state) == 2):
            raise ValueError(f"`state` must be a pair (h0, c0) or None, "
                             f"got {type(state).__name__}")
        for s in parts:
            _checks.tensor(s, "state", floating=True)
            if s.ndim != 3 or s.shape[0] != 2:
                raise ValueError(f"`state` must have shape (2, N, H) (one per direction), "
                                 f"got {tuple(s.shape)}")
        states = (state[0], state[1]) if layer is rnn else \
            tuple((state[0][d], state[1][d]) for d in (0, 1))
    out_f, last_f = layer(x, states[0], *forward_weights, **kwargs)
    out_b, last_b = layer(x.flip(0), states[1], *backward_weights, **kwargs)
    outputs = torch.cat([out_f, out_b.flip(0)], dim=-1)  # y_t = [→h_t ; ←h_t]
    if layer is rnn:
        return outputs, torch.stack([last_f, last_b])
    return outputs, (torch.stack([last_f[0], last_b[0]]), torch.stack([last_f[1], last_b[1]]))


def jordan(x: torch.Tensor, y0: torch.Tensor | None, W_ih: torch.Tensor, W_sh: torch.Tensor,
           W_hy: torch.Tensor, b_h: torch.Tensor | None = None,
           b_y: torch.Tensor | None = None, *, nonlinearity: str = "tanh",
           decay: float = 0.0) -> tuple[torch.Tensor, torch.Tensor]:
    r"""A Jordan network: the previous *output*, not the hidden state, feeds back.

    .. math::
        s_t = \mu\, s_{t-1} + y_{t-1},\qquad
        h_t = \phi\bigl(W_{ih}\, x_t + W_{sh}\, s_t + b_h\bigr),\qquad
        y_t = W_{hy}\, h_t + b_y,

    with :math:`s_0 = 0` and :math:`y_0` given. The *state units* :math:`s_t` hold a copy of
    the last output plus, with :math:`\mu > 0` (``decay``), an exponentially decaying trace
    of the earlier ones, as in Jordan (1986); :math:`\mu = 0` gives the common textbook form
    :math:`h_t = \phi(W_{ih} x_t + W_{sh} y_{t-1} + b_h)`. The output is linear; apply a
    softmax or sigmoid to it outside if the task needs one.

    Args:
        x: input of shape :math:`(L, N, H_\text{in})`.
        y0: the output before the first step, shape :math:`(N, O)`, or ``None`` for zeros.
        W_ih: input weights of shape :math:`(H, H_\text{in})`.
        W_sh: weights from the state units to the hidden layer, shape :math:`(H, O)`.
        W_hy: output weights of shape :math:`(O, H)`.
        b_h: hidden bias of shape :math:`(H,)`, or ``None``.
        b_y: output bias of shape :math:`(O,)`, or ``None``.
        nonlinearity: ``"tanh"`` or ``"relu"``, for the hidden units.
        decay: :math:`\mu \in [0, 1)`, the state units' self-connection.

    Returns:
        tuple: ``(outputs, s_L)``: outputs :math:`y_1, \dots, y_L` of shape
        :math:`(L, N, O)` and the last state units' value :math:`s_L` of shape
        :math:`(N, O)`.

    Raises:
        ValueError: shapes that do not fit, dtypes that differ, ``decay`` outside [0, 1).

    References:
        Jordan, "Serial order: a parallel distributed processing approach", ICS Report 8604,
        UC San Diego (1986).

    Examples:
        >>> x = torch.ones(3, 1, 1)
        >>> one = torch.ones(1, 1)
        >>> y, s = jordan(x, None, one, one, one, nonlinearity="relu")   # y_t = 1 + y_{t-1}
        >>> y.squeeze().tolist()
        [1.0, 2.0, 3.0]
    """
    _checks.choice(nonlinearity, "nonlinearity", tuple(_ACT))
    decay = _checks.number(decay, "decay", low=0, high=1, high_open=True)
    x = _checks.tensor(x, "x", floating=True)
    _checks.ndim(x, "x", (3,))
    L, N, H_in = x.shape
    for t, name in ((W_ih, "W_ih"), (W_sh, "W_sh"), (W_hy, "W_hy")):
        _checks.tensor(t, name, floating=True)
        _checks.ndim(t, name, (2,))
    H, O = W_ih.shape[0], W_hy.shape[0]
    y = x.new_zeros(N, O) if y0 is None else y0
    for t, name, want, what in (
            (W_ih, "W_ih", (H, H_in), "(H, H_in)"), (W_sh, "W_sh", (H, O), "(H, O)"),
            (W_hy, "W_hy", (O, H), "(O, H)"), (b_h, "b_h", (H,), "(H,)"),
            (b_y, "b_y", (O,), "(O,)"), (y, "y0", (N, O), "(N, O)")):
        if t is not None:
            _checks.tensor(t, name, floating=True)
            _shape(t, name, want, what)
            _same_dtype(t, name, x)
    phi = _ACT[nonlinearity]
    a = _input_part(x, W_ih, b_h)
    s = torch.zeros_like(y)
    outputs = []
    for t in range(x.shape[0]):
        s = decay * s + y                   # s_t = μ s_{t-1} + y_{t-1}
        h = phi(a[t] + s @ W_sh.T)          # h_t = φ(W_ih x_t + W_sh s_t + b_h)
        y = h @ W_hy.T                      # y_t = W_hy h_t + b_y
        if b_y is not None:
            y = y + b_y
        outputs.append(y)
    return torch.stack(outputs), s
