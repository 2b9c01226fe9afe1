"""A short training loop shared by every chapter.

Read it in one screen: :func:`mlp` builds a network, :func:`fit` trains it with mini-batches on
``dlcore.device()`` and records a :class:`History`, :func:`evaluate` measures loss and accuracy.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import torch
from torch import nn
from torch.nn import functional as F

from dlcore import _checks
from dlcore.data import Split
from dlcore.runtime import device as default_device


@dataclass
class History:
    """Per-epoch loss and accuracy on the training and test parts."""

    train_loss: list[float] = field(default_factory=list)
    train_acc: list[float] = field(default_factory=list)
    test_loss: list[float] = field(default_factory=list)
    test_acc: list[float] = field(default_factory=list)


def mlp(sizes: list[int], activation: Callable[[], nn.Module] = nn.ReLU) -> nn.Sequential:
    """A multilayer perceptron ``Linear → activation → … → Linear`` (no activation at the end).

    Args:
        sizes: layer widths, input first and output last, e.g. ``[64, 32, 10]``.
        activation: a factory called once per hidden layer, e.g. ``nn.Tanh`` or
            ``lambda: nn.LeakyReLU(0.1)``.

    Examples:
        >>> mlp([4, 3, 2], nn.Tanh)
        Sequential(
          (0): Linear(in_features=4, out_features=3, bias=True)
          (1): Tanh()
          (2): Linear(in_features=3, out_features=2, bias=True)
        )
    """
    if not isinstance(sizes, (list, tuple)) or len(sizes) < 2:
        raise ValueError(f"`sizes` must be a list of at least two layer widths, got {sizes!r}")
    for i, s in enumerate(sizes):
        _checks.number(s, f"sizes[{i}]", low=1, integer=True)
    layers: list[nn.Module] = []
    for i, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:], strict=True)):
        layers.append(nn.Linear(n_in, n_out))
        if i < len(sizes) - 2:
            layers.append(activation())
    return nn.Sequential(*layers)


@torch.no_grad()
def evaluate(model: nn.Module, X: torch.Tensor, y: torch.Tensor, *,
             loss_fn: Callable = F.cross_entropy) -> tuple[float, float]:
    """Mean loss and accuracy of ``model`` on ``(X, y)``, in evaluation mode.

    Examples:
        >>> model = nn.Linear(2, 2)
        >>> loss, acc = evaluate(model, torch.zeros(4, 2), torch.tensor([0, 1, 0, 1]))
        >>> 0.0 <= acc <= 1.0
        True
    """
    _checks.tensor(X, "X", floating=True)
    _checks.tensor(y, "y")
    if len(X) != len(y):
        raise ValueError(f"`X` and `y` must have the same length, got {len(X)} and {len(y)}")
    was_training = model.training
    model.eval()
    logits = model(X)
    model.train(was_training)
    loss = float(loss_fn(logits, y))
    acc = float((logits.argmax(dim=1) == y).float().mean())
    return loss, acc


def fit(model: nn.Module, data: Split, *, optimizer: torch.optim.Optimizer, epochs: int,
        batch_size: int = 64, loss_fn: Callable = F.cross_entropy,
        generator: torch.Generator | None = None, device=None) -> History:
    """Train ``model`` on ``data`` with mini-batch gradient steps; return the history.

    Each epoch shuffles the training set with ``generator`` (so a seeded generator gives the
    same run twice), takes one optimizer step per mini-batch, then evaluates on both parts.

    Args:
        model: the network; moved to ``device``.
        data: a :class:`~dlcore.data.Split`.
        optimizer: built on ``model.parameters()``.
        epochs: passes over the training set.
        batch_size: examples per step.
        loss_fn: ``loss_fn(logits, y)``, default cross-entropy.
        generator: CPU random source for shuffling.
        device: default ``dlcore.device()``.
    """
    epochs = _checks.number(epochs, "epochs", low=1, integer=True)
    batch_size = _checks.number(batch_size, "batch_size", low=1, integer=True)
    if not isinstance(data, Split):
        raise TypeError(f"`data` must be a dlcore.data.Split, got {type(data).__name__}")
    dev = default_device() if device is None else torch.device(device)
    model.to(dev)
    data = data.to(dev)
    history = History()
    n = len(data.X_train)
    for _ in range(epochs):
        model.train()
        order = torch.randperm(n, generator=generator).to(dev)
        for start in range(0, n, batch_size):
            idx = order[start:start + batch_size]
            loss = loss_fn(model(data.X_train[idx]), data.y_train[idx])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        for part, X, y in (("train", data.X_train, data.y_train),
                           ("test", data.X_test, data.y_test)):
            loss_value, acc = evaluate(model, X, y, loss_fn=loss_fn)
            getattr(history, f"{part}_loss").append(loss_value)
            getattr(history, f"{part}_acc").append(acc)
    return history
