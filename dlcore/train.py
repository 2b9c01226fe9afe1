"""A short training loop shared by every chapter.

Read it in two screens: :func:`mlp` builds a network, :func:`fit` trains it with mini-batches
on ``dlcore.device()`` and records a :class:`History`, :func:`evaluate` measures loss and
accuracy. :func:`fit` optionally follows a per-step learning-rate schedule (any function of the
step ``t``, such as those in :mod:`dlcore.schedules`), clips the gradient norm, evaluates a
validation part (see :func:`dlcore.data.with_validation`), stops early and restores the best
weights, and calls a hook after every epoch (to keep snapshots, for instance).
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable
from dataclasses import dataclass, field

import torch
from torch import nn
from torch.nn import functional as F

from dlcore import _checks
from dlcore.data import Split
from dlcore.optim import clip_grad_norm
from dlcore.runtime import device as default_device

PARTS = ("train", "val", "test")


@dataclass
class History:
    """Per-epoch loss and accuracy on each part (an empty list for a part that is absent),
    per-step training loss and learning rate, and where training stopped.

    ``best_epoch`` (0-based) is the epoch with the lowest validation loss, ``None`` without a
    validation part; ``stopped_early`` says whether patience ran out; ``diverged`` whether
    a step produced a non-finite loss (training then stops at once).
    """

    train_loss: list[float] = field(default_factory=list)
    train_acc: list[float] = field(default_factory=list)
    val_loss: list[float] = field(default_factory=list)
    val_acc: list[float] = field(default_factory=list)
    test_loss: list[float] = field(default_factory=list)
    test_acc: list[float] = field(default_factory=list)
    step_loss: list[float] = field(default_factory=list)
    lr: list[float] = field(default_factory=list)
    best_epoch: int | None = None
    stopped_early: bool = False
    diverged: bool = False


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


def cross_entropy(logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Mean cross-entropy over every position: ``(N, C)`` logits with ``(N,)`` labels, or
    ``(N, T, C)`` logits (a sequence model) with ``(N, T)`` token labels, or floating
    probability targets of the logits' shape (the soft labels of mixup or CutMix)."""
    classes = logits.shape[-1]
    if y.is_floating_point() and y.shape == logits.shape:
        return F.cross_entropy(logits.reshape(-1, classes), y.reshape(-1, classes))
    return F.cross_entropy(logits.reshape(-1, classes), y.reshape(-1))


@torch.no_grad()
def evaluate(model: nn.Module, X: torch.Tensor, y: torch.Tensor, *,
             loss_fn: Callable = cross_entropy) -> tuple[float, float]:
    """Mean loss and accuracy (argmax over the last axis) of ``model`` on ``(X, y)``, in
    evaluation mode. ``X`` may hold floats or integer token ids.

    Examples:
        >>> model = nn.Linear(2, 2)
        >>> loss, acc = evaluate(model, torch.zeros(4, 2), torch.tensor([0, 1, 0, 1]))
        >>> 0.0 <= acc <= 1.0
        True
    """
    _checks.tensor(X, "X")
    _checks.tensor(y, "y")
    if len(X) != len(y):
        raise ValueError(f"`X` and `y` must have the same length, got {len(X)} and {len(y)}")
    was_training = model.training
    model.eval()
    logits = model(X)
    model.train(was_training)
    loss = float(loss_fn(logits, y))
    acc = float((logits.argmax(dim=-1) == y).float().mean())
    return loss, acc


def _parts(data: Split):
    for part in PARTS:
        X, y = getattr(data, f"X_{part}"), getattr(data, f"y_{part}")
        if X is not None:
            yield part, X, y


def fit(model: nn.Module, data: Split, *, optimizer: torch.optim.Optimizer, epochs: int,
        batch_size: int = 64, loss_fn: Callable = cross_entropy,
        schedule: Callable[[int], float] | None = None, clip_norm: float | None = None,
        patience: int | None = None, callback: Callable | None = None,
        batch_transform: Callable | None = None, drop_last: bool = False,
        parts: tuple[str, ...] = PARTS, generator: torch.Generator | None = None,
        device=None) -> History:
    """Train ``model`` on ``data`` with mini-batch gradient steps; return the history.

    Each epoch shuffles the training part with ``generator`` (a seeded generator gives the
    same run twice), takes one optimizer step per mini-batch, then evaluates every part
    present (train, val, test) that ``parts`` names. The test part never influences
    training.

    Args:
        model: the network; moved to ``device``.
        data: a :class:`~dlcore.data.Split`, optionally with a validation part.
        optimizer: built on ``model.parameters()``.
        epochs: passes over the training part (the most, with ``patience``).
        batch_size: examples per step.
        loss_fn: ``loss_fn(logits, y)``, default :func:`cross_entropy`.
        schedule: ``schedule(t)`` is the learning rate of step ``t = 0, 1, …`` (every
            parameter group), e.g. ``functools.partial(schedules.cosine_decay, base_lr=0.1,
            total_steps=T)``.
        clip_norm: clip the global gradient norm to this value before each step.
        patience: stop after this many epochs without a lower validation loss and restore
            the weights of the best epoch (needs a validation part).
        callback: ``callback(epoch, model, history)`` after each epoch's evaluation.
        batch_transform: ``batch_transform(X, y)`` returns the ``(X, y)`` that a step trains
            on: augmented inputs, mixed inputs with soft labels (``loss_fn`` must accept
            them, as the default does), adversarial examples. Evaluation always uses the
            data untouched.
        drop_last: skip a last incomplete batch (BatchNorm fails on a batch of one).
        parts: the parts evaluated after each epoch, a subset of ``("train", "val",
            "test")``; leaving out ``"train"`` saves a pass over the training data per
            epoch (its lists in the history stay empty). ``patience`` needs ``"val"``.
        generator: CPU random source for shuffling.
        device: default ``dlcore.device()``.
    """
    epochs = _checks.number(epochs, "epochs", low=1, integer=True)
    batch_size = _checks.number(batch_size, "batch_size", low=1, integer=True)
    _checks.flag(drop_last, "drop_last")
    if not isinstance(data, Split):
        raise TypeError(f"`data` must be a dlcore.data.Split, got {type(data).__name__}")
    if clip_norm is not None:
        _checks.number(clip_norm, "clip_norm", low=0, low_open=True)
    for name, fn in (("schedule", schedule), ("callback", callback),
                     ("batch_transform", batch_transform)):
        if fn is not None and not callable(fn):
            raise TypeError(f"`{name}` must be callable, got {type(fn).__name__}")
    if (not isinstance(parts, tuple) or not parts
            or any(not isinstance(p, str) or p not in PARTS for p in parts)):
        raise ValueError(f"`parts` must be a non-empty tuple of names from {PARTS}, "
                         f"got {parts!r}")
    if patience is not None:
        _checks.number(patience, "patience", low=1, integer=True)
        if "val" not in parts:
            raise ValueError(f"`patience` needs \"val\" in `parts`, got {parts!r}")
        if data.X_val is None:
            raise ValueError("`patience` needs a validation part: use "
                             "dlcore.data.with_validation(split)")
    n = len(data.X_train)
    if drop_last and n < batch_size:
        raise ValueError(f"`batch_size` must be at most the {n} training rows with "
                         f"drop_last=True, got {batch_size}")
    dev = default_device() if device is None else torch.device(device)
    model.to(dev)
    data = data.to(dev)
    history, best_state, t = History(), None, 0
    stop = n - batch_size + 1 if drop_last else n
    for epoch in range(epochs):
        model.train()
        order = torch.randperm(n, generator=generator).to(dev)
        for start in range(0, stop, batch_size):
            idx = order[start:start + batch_size]
            if schedule is not None:
                lr = float(schedule(t))
                for group in optimizer.param_groups:
                    group["lr"] = lr
            X, y = data.X_train[idx], data.y_train[idx]
            if batch_transform is not None:
                X, y = batch_transform(X, y)
            loss = loss_fn(model(X), y)
            optimizer.zero_grad()
            loss.backward()
            if clip_norm is not None:
                clip_grad_norm(model.parameters(), clip_norm)
            optimizer.step()
            history.step_loss.append(float(loss.detach()))
            history.lr.append(float(optimizer.param_groups[0]["lr"]))
            t += 1
            if not math.isfinite(history.step_loss[-1]):
                history.diverged = True  # a NaN never recovers: report it, stop
                break
        for part, X, y in _parts(data):
            if part in parts:
                loss_value, acc = evaluate(model, X, y, loss_fn=loss_fn)
                getattr(history, f"{part}_loss").append(loss_value)
                getattr(history, f"{part}_acc").append(acc)
        # the last step can leave non-finite weights, or weights so large that the loss
        # overflows, although its own loss was finite
        history.diverged |= not all(math.isfinite(getattr(history, f"{part}_loss")[-1])
                                    for part in parts if getattr(history, f"{part}_loss"))
        history.diverged |= not all(bool(torch.isfinite(p).all())
                                    for p in model.parameters())
        if history.val_loss and math.isfinite(history.val_loss[-1]) and (
                history.best_epoch is None
                or history.val_loss[-1] < history.val_loss[history.best_epoch]):
            history.best_epoch = epoch
            if patience is not None:
                best_state = copy.deepcopy(model.state_dict())
        if callback is not None:
            callback(epoch, model, history)
        if history.diverged:
            break
        if patience is not None and epoch - (history.best_epoch or 0) >= patience:
            history.stopped_early = True
            break
    if best_state is not None:
        model.load_state_dict(best_state)  # the weights of the best validation epoch
    return history
