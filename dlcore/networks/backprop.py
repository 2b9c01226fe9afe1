r"""Forward and backward pass of a multilayer perceptron, written out by hand.

The network has :math:`L` affine layers with weights :math:`W^{(l)}` of shape
``(out, in)`` (as :class:`torch.nn.Linear`) and biases :math:`b^{(l)}`; rows of a matrix are
examples. With :math:`a^{(0)} = X`,

.. math::

    z^{(l)} = a^{(l-1)} W^{(l)\top} + b^{(l)}, \qquad a^{(l)} = f(z^{(l)})
    \quad (l < L), \qquad \hat y = z^{(L)},

so the last layer is affine, as in :func:`dlcore.train.mlp`. Backpropagation (BP1–BP4 of
Nielsen's notation, in matrix form over a batch) with :math:`\delta^{(l)} = \partial
\mathcal{L} / \partial z^{(l)}`:

.. math::

    \delta^{(L)} &= \partial\mathcal{L}/\partial\hat y \quad\text{(BP1, affine output)}\\
    \delta^{(l)} &= \bigl(\delta^{(l+1)} W^{(l+1)}\bigr) \odot f'(z^{(l)}) \quad\text{(BP2)}\\
    \partial\mathcal{L}/\partial b^{(l)} &= \textstyle\sum_n \delta^{(l)}_{n,:}
    \quad\text{(BP3)}\\
    \partial\mathcal{L}/\partial W^{(l)} &= \delta^{(l)\top} a^{(l-1)} \quad\text{(BP4)}
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from dlcore import _checks
from dlcore.networks import _acts

__all__ = ["Cache", "forward", "backward"]


@dataclass(frozen=True)
class Cache:
    """What :func:`forward` keeps for :func:`backward`.

    Attributes:
        inputs: ``[a^(0) = X, a^(1), ..., a^(L-1)]``, the input of each layer, shape (N, in_l).
        preacts: ``[z^(1), ..., z^(L)]``, each layer's pre-activation, shape (N, out_l);
            ``preacts[-1]`` is the network's output.
        activation: the hidden activation's name.
        params: the ``[(W1, b1), ..., (WL, bL)]`` the forward pass used.
    """

    inputs: list
    preacts: list
    activation: str
    params: list


def _check_params(X: torch.Tensor, params) -> list:
    if not isinstance(params, (list, tuple)) or len(params) == 0:
        raise ValueError(
            "`params` must be a non-empty list of (W, b) pairs, got "
            + (f"{type(params).__name__} of length 0" if isinstance(params, (list, tuple))
               else type(params).__name__)
        )
    width = X.shape[1]
    out = []
    for l, pair in enumerate(params, start=1):
        if not isinstance(pair, (list, tuple)) or len(pair) != 2:
            raise ValueError(f"`params[{l - 1}]` must be a (W, b) pair, got {pair!r:.60}")
        W, b = pair
        _checks.tensor(W, f"W{l}", floating=True)
        _checks.tensor(b, f"b{l}", floating=True)
        _checks.ndim(W, f"W{l}", (2,))
        _checks.ndim(b, f"b{l}", (1,))
        if W.shape[1] != width:
            raise ValueError(
                f"`W{l}` must have shape (out, {width}) to take the {width} "
                f"{'input features of X' if l == 1 else f'outputs of layer {l - 1}'}, "
                f"got {tuple(W.shape)}"
            )
        if b.shape[0] != W.shape[0]:
            raise ValueError(
                f"`b{l}` must have shape ({W.shape[0]},) to match `W{l}` of shape "
                f"{tuple(W.shape)}, got {tuple(b.shape)}"
            )
        if W.dtype != X.dtype or b.dtype != X.dtype:
            raise ValueError(
                f"`W{l}` and `b{l}` must have the dtype of `X` ({X.dtype}), "
                f"got {W.dtype} and {b.dtype}"
            )
        out.append((W, b))
        width = W.shape[0]
    return out


def forward(X: torch.Tensor, params, *, activation: str = "sigmoid"):
    r"""Forward pass of an MLP, keeping what the backward pass needs.

    Hidden layers compute :math:`z^{(l)} = a^{(l-1)} W^{(l)\top} + b^{(l)}` and
    :math:`a^{(l)} = f(z^{(l)})` with :math:`f` from :mod:`dlcore.activations`; the last layer
    is affine. The result equals an ``nn.Sequential`` of ``nn.Linear`` and the activation
    module holding the same weights. The operations are differentiable, so autograd can be
    run through this function too (that is how the tests check :func:`backward`).

    Args:
        X: floating tensor of shape (N, in_features), no NaN.
        params: ``[(W1, b1), ..., (WL, bL)]``, ``W_l`` of shape (out_l, in_l) with
            ``in_1 = in_features`` and ``in_{l+1} = out_l``, ``b_l`` of shape (out_l,), the
            dtype of ``X``.
        activation: the hidden activation, ``"sigmoid"`` (default), ``"tanh"`` or ``"relu"``
            (also ``"leaky_relu"``, ``"elu"``, ``"gelu"``, ``"silu"``, ``"selu"``,
            ``"softplus"`` with torch's default arguments).

    Returns:
        tuple: ``(output, cache)``: the output :math:`z^{(L)}` of shape (N, out_L) and a
        :class:`Cache` for :func:`backward`.

    Examples:
        >>> W1, b1 = torch.ones(2, 3), torch.zeros(2)
        >>> W2, b2 = torch.ones(1, 2), torch.tensor([-1.0])
        >>> out, cache = forward(torch.zeros(1, 3), [(W1, b1), (W2, b2)])
        >>> out                  # sigmoid(0) + sigmoid(0) - 1
        tensor([[0.]])
        >>> [tuple(a.shape) for a in cache.inputs]
        [(1, 3), (1, 2)]
    """
    _checks.tensor(X, "X", floating=True)
    _checks.ndim(X, "X", (2,))
    _checks.no_nan(X, "X")
    f, _ = _acts.FUNCTIONS[_acts.name(activation)]
    params = _check_params(X, params)
    a, inputs, preacts = X, [], []
    for l, (W, b) in enumerate(params, start=1):
        inputs.append(a)
        z = a @ W.T + b  # z^(l) = a^(l-1) W^(l)T + b^(l)
        preacts.append(z)
        if l < len(params):
            a = f(z)  # a^(l) = f(z^(l)); the last layer stays affine
    return preacts[-1], Cache(inputs, preacts, activation, params)


def backward(cache: Cache, grad_output: torch.Tensor) -> list:
    r"""Backward pass: the gradient of a loss with respect to every weight and bias.

    Implements BP1–BP4 (see the module docstring) for a batch, from
    :math:`\delta^{(L)} = \partial\mathcal{L}/\partial\hat y` down to layer 1. In float64 the
    result equals autograd's to rounding. Runs under :func:`torch.no_grad`.

    Args:
        cache: the :class:`Cache` returned by :func:`forward`.
        grad_output: :math:`\partial\mathcal{L}/\partial\hat y`, shape of the output (N, out_L),
            e.g. ``(softmax(out) - onehot(y)) / N`` for the mean cross-entropy.

    Returns:
        list: ``[(dW1, db1), ..., (dWL, dbL)]`` with the shapes of the weights and biases.

    Examples:
        >>> W1, b1 = torch.ones(2, 3), torch.zeros(2)
        >>> W2, b2 = torch.ones(1, 2), torch.zeros(1)
        >>> out, cache = forward(torch.ones(1, 3), [(W1, b1), (W2, b2)], activation="relu")
        >>> (dW1, db1), (dW2, db2) = backward(cache, torch.ones(1, 1))
        >>> dW2, db1             # a^(1) = (3, 3); delta^(1) = 1 * W2 * relu'(3)
        (tensor([[3., 3.]]), tensor([1., 1.]))
    """
    if not isinstance(cache, Cache):
        raise TypeError(f"`cache` must be the Cache returned by forward, got "
                        f"{type(cache).__name__}")
    out = cache.preacts[-1]
    _checks.tensor(grad_output, "grad_output", floating=True)
    _checks.no_nan(grad_output, "grad_output")
    if grad_output.shape != out.shape:
        raise ValueError(f"`grad_output` must have the shape of the output {tuple(out.shape)}, "
                         f"got {tuple(grad_output.shape)}")
    _, f_grad = _acts.FUNCTIONS[cache.activation]
    grads = []
    with torch.no_grad():
        delta = grad_output.to(out.dtype)  # BP1: delta^(L) = dL/dy_hat (affine output)
        for l in range(len(cache.params) - 1, -1, -1):
            a_prev = cache.inputs[l]
            # BP4: dL/dW^(l) = delta^(l)T a^(l-1);  BP3: dL/db^(l) = sum over the batch
            grads.append((delta.T @ a_prev, delta.sum(dim=0)))
            if l > 0:
                W = cache.params[l][0]
                # BP2: delta^(l-1) = (delta^(l) W^(l)) * f'(z^(l-1))
                delta = (delta @ W) * f_grad(cache.preacts[l - 1])
    return grads[::-1]
