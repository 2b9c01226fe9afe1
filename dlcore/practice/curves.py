r"""Learning curves against the training-set size and the diagnosis flow they support.

* :func:`learning_curve` trains a fresh model for every training-set size and seed on nested
  stratified subsets (:func:`dlcore.data.subset`) and records the final error and loss on
  every part (train, validation, test) in a :class:`LearningCurve`;
* :func:`trainer` makes the training callable it uses by default (Adam and
  :func:`dlcore.train.fit`, a fixed number of epochs or of steps);
* :func:`diagnose` walks the flowchart of a training guide (high training error: model bias
  or optimization; low training error but high validation error: overfitting; validation and
  test disagree: mismatch) on measured numbers, each step a t-interval over seeds tested
  against a threshold the caller chooses, and says which branch it took and why.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from dlcore import _checks
from dlcore.data import Split, subset
from dlcore.stats import Interval, mean_interval
from dlcore.train import History, cross_entropy, evaluate, fit

__all__ = ["Diagnosis", "DiagnosisStep", "LearningCurve", "diagnose", "learning_curve",
           "trainer"]

_PARTS = ("train", "val", "test")


def trainer(*, epochs: int | None = None, steps: int | None = None, lr: float = 1e-3,
            weight_decay: float = 0.0, batch_size: int = 64, **fit_kwargs) -> Callable:
    r"""A training callable ``train(model, split, seed) -> History`` for :func:`learning_curve`.

    It trains with Adam (``lr``, ``weight_decay``; ``foreach=True``: every tensor's update
    in one call, bit for bit the default loop's result) through :func:`dlcore.train.fit`, the
    batch order drawn from ``torch.Generator().manual_seed(seed)``. Give ``epochs`` (passes
    over the training part, whatever its size) or ``steps`` (then it makes
    :math:`\lceil \text{steps} / \lceil n / B\rceil \rceil` epochs, so a small training set
    gets as many gradient steps as a large one: a learning curve then compares sizes at an
    equal optimisation budget).

    Args:
        epochs: passes over the training part; exactly one of ``epochs`` and ``steps``.
        steps: the least number of gradient steps.
        lr: Adam's learning rate.
        weight_decay: Adam's (L2) weight decay.
        batch_size: examples per step.
        **fit_kwargs: passed on to :func:`dlcore.train.fit` (``loss_fn``, ``drop_last``,
            ``batch_transform``, ``parts``, ``device``, ...).

    Returns:
        Callable: ``train(model, split, seed)``, which trains ``model`` in place and returns
        its :class:`~dlcore.train.History`.

    Examples:
        >>> train = trainer(epochs=2)
        >>> h = train(nn.Linear(2, 2), Split(torch.randn(8, 2), torch.arange(8) % 2,
        ...                                    None, None, 2), seed=0)
        >>> len(h.train_loss)
        2
    """
    if (epochs is None) == (steps is None):
        raise ValueError(f"give exactly one of `epochs` and `steps`, got epochs={epochs!r} "
                         f"and steps={steps!r}")
    if epochs is not None:
        _checks.number(epochs, "epochs", low=1, integer=True)
    else:
        _checks.number(steps, "steps", low=1, integer=True)
    _checks.number(lr, "lr", low=0, low_open=True)
    _checks.number(weight_decay, "weight_decay", low=0)
    _checks.number(batch_size, "batch_size", low=1, integer=True)
    for key in ("optimizer", "epochs", "generator", "batch_size"):
        if key in fit_kwargs:
            raise ValueError(f"`{key}` is set by trainer itself, got it in fit_kwargs")

    def train(model: nn.Module, split: Split, seed: int) -> History:
        if epochs is None:  # ceil(steps / batches per epoch)
            per_epoch = math.ceil(len(split.X_train) / batch_size)
            n_epochs = math.ceil(steps / per_epoch)
        else:
            n_epochs = epochs
        optimizer = torch.optim.Adam(model.parameters(), lr=lr, weight_decay=weight_decay,
                                     foreach=True)
        return fit(model, split, optimizer=optimizer, epochs=n_epochs, batch_size=batch_size,
                   generator=torch.Generator().manual_seed(seed), **fit_kwargs)

    return train


@dataclass(frozen=True)
class LearningCurve:
    """Final error and loss per training-set size and seed, on each part of the data.

    Every array has shape ``(len(sizes), len(seeds))``; a part absent from the data (no
    validation or no test part) has ``None``. Error is ``1 - accuracy``. ``histories[i][j]``
    is what the training callable returned for size ``i`` and seed ``j`` (a
    :class:`~dlcore.train.History` with :func:`trainer`), so per-epoch curves stay at hand.
    """

    sizes: tuple[int, ...]
    seeds: tuple[int, ...]
    train_error: np.ndarray
    train_loss: np.ndarray
    val_error: np.ndarray | None
    val_loss: np.ndarray | None
    test_error: np.ndarray | None
    test_loss: np.ndarray | None
    histories: tuple

    def get(self, part: str = "val", metric: str = "error") -> np.ndarray:
        """The ``(sizes, seeds)`` array of ``metric`` (``"error"`` or ``"loss"``) on
        ``part`` (``"train"``, ``"val"`` or ``"test"``)."""
        _checks.choice(part, "part", _PARTS)
        _checks.choice(metric, "metric", ("error", "loss"))
        values = getattr(self, f"{part}_{metric}")
        if values is None:
            raise ValueError(f"`part` {part!r} is absent: the data had no {part} part")
        return values

    def mean(self, part: str = "val", metric: str = "error") -> np.ndarray:
        """The mean over seeds at each size, shape ``(len(sizes),)``."""
        return self.get(part, metric).mean(axis=1)

    def intervals(self, part: str = "val", metric: str = "error", *,
                  confidence: float = 0.95) -> list[Interval]:
        """One t-interval over seeds per size (:func:`dlcore.stats.mean_interval`)."""
        return [mean_interval(row, confidence=confidence) for row in self.get(part, metric)]

    def gap(self, part: str = "val", metric: str = "error") -> np.ndarray:
        """``part`` minus training ``metric`` per size and seed: the generalization gap."""
        return self.get(part, metric) - self.get("train", metric)

    def __str__(self) -> str:
        parts = [p for p in _PARTS if getattr(self, f"{p}_error") is not None]
        head = "     n " + "".join(f"{p + ' error':>14}" for p in parts)
        if "val" in parts:
            head += f"{'val - train':>14}"
        lines = [f"learning curve over {len(self.seeds)} seed(s) (mean error)", head]
        for i, size in enumerate(self.sizes):
            row = f"{size:>6} " + "".join(f"{self.mean(p)[i]:>14.3f}" for p in parts)
            if "val" in parts:
                row += f"{self.gap().mean(axis=1)[i]:>+14.3f}"
            lines.append(row)
        return "\n".join(lines)


def _int_sequence(values, name: str, *, low: int, increasing: bool) -> tuple[int, ...]:
    if isinstance(values, (str, bytes)) or not isinstance(values, Sequence) or not values:
        raise ValueError(f"`{name}` must be a non-empty sequence of ints, got {values!r}")
    out = tuple(_checks.number(v, f"{name}[{i}]", low=low, integer=True)
                for i, v in enumerate(values))
    if increasing and any(a >= b for a, b in zip(out[:-1], out[1:], strict=True)):
        raise ValueError(f"`{name}` must be strictly increasing, got {list(out)}")
    if not increasing and len(set(out)) != len(out):
        raise ValueError(f"`{name}` must be distinct, got {list(out)}")
    return out


def learning_curve(make_model: Callable[[int], nn.Module], data: Split, *,
                   sizes: Sequence[int], seeds: Sequence[int], train: Callable | None = None,
                   loss_fn: Callable = cross_entropy, device=None) -> LearningCurve:
    r"""Train a fresh model per training-set size and seed; record the final errors.

    For seed :math:`s` and size :math:`n`, the training part is
    ``dlcore.data.subset(data, n=n, seed=s)``: stratified, and nested in :math:`n` (the rows
    at a smaller size are among those at a larger one), so the curve of one seed differs
    between sizes only by the rows added. The validation and test parts are kept whole. Then

    1. ``model = make_model(s)`` under :func:`torch.random.fork_rng` seeded with :math:`s`
       (the same seed gives the same initial weights; the global generator is restored);
    2. ``out = train(model, split, s)``, also under a forked, seeded generator (dropout
       draws are reproducible); if ``out`` is a module it is the trained model, else
       ``model`` is (trained in place);
    3. error :math:`1 - \text{accuracy}` and mean loss on the training subset, the
       validation and the test part (:func:`dlcore.train.evaluate`).

    Args:
        make_model: ``make_model(seed)`` returns a new, untrained network.
        data: a :class:`~dlcore.data.Split`; give it a validation part
            (:func:`dlcore.data.with_validation`) to measure the generalization gap.
        sizes: training-set sizes, strictly increasing, each at most ``len(data.X_train)``.
        seeds: distinct non-negative seeds (of the subset, the weights and the batch order).
        train: ``train(model, split, seed)``; default ``trainer(epochs=20)`` (Adam, lr 1e-3,
            batch 64).
        loss_fn: the loss reported, ``loss_fn(logits, y)``.
        device: where evaluation runs; default the device of ``model``'s parameters.

    Returns:
        LearningCurve: arrays of shape ``(len(sizes), len(seeds))`` with ``mean``,
        ``intervals`` and ``gap`` helpers; ``str()`` is a table.

    Examples:
        >>> from dlcore.data import blobs, with_validation
        >>> X, y = blobs(120, centers=2, generator=torch.Generator().manual_seed(0))
        >>> split = with_validation(Split(X, y, None, None, 2), fraction=0.25)
        >>> curve = learning_curve(lambda s: nn.Linear(2, 2), split, sizes=[10, 40],
        ...                        seeds=[0, 1], train=trainer(epochs=5, device="cpu"))
        >>> curve.train_error.shape, curve.test_error is None
        ((2, 2), True)
    """
    if not callable(make_model):
        raise TypeError(f"`make_model` must be callable, got {type(make_model).__name__}")
    if not isinstance(data, Split):
        raise TypeError(f"`data` must be a dlcore.data.Split, got {type(data).__name__}")
    train = trainer(epochs=20) if train is None else train
    if not callable(train):
        raise TypeError(f"`train` must be callable, got {type(train).__name__}")
    sizes = _int_sequence(sizes, "sizes", low=1, increasing=True)
    seeds = _int_sequence(seeds, "seeds", low=0, increasing=False)
    if sizes[-1] > len(data.X_train):
        raise ValueError(f"`sizes` must be at most the {len(data.X_train)} training rows, "
                         f"got {sizes[-1]}")
    cuda = list(range(torch.cuda.device_count()))
    shape = (len(sizes), len(seeds))
    values = {f"{p}_{m}": np.full(shape, np.nan) for p in _PARTS for m in ("error", "loss")}
    histories = [[None] * len(seeds) for _ in sizes]
    for i, n in enumerate(sizes):
        for j, seed in enumerate(seeds):
            split = subset(data, n=n, seed=seed)
            with torch.random.fork_rng(devices=cuda):
                torch.manual_seed(seed)
                model = make_model(seed)
                if not isinstance(model, nn.Module):
                    raise TypeError(f"`make_model` must return an nn.Module, got "
                                    f"{type(model).__name__}")
                out = train(model, split, seed)
            model = out if isinstance(out, nn.Module) else model
            histories[i][j] = None if isinstance(out, nn.Module) else out
            params = next(model.parameters(), None)
            dev = device if device is not None else (
                params.device if params is not None else split.X_train.device)
            for part in _PARTS:
                X, y = getattr(split, f"X_{part}"), getattr(split, f"y_{part}")
                if X is not None:
                    loss, acc = evaluate(model, X.to(dev), y.to(dev), loss_fn=loss_fn)
                    values[f"{part}_error"][i, j], values[f"{part}_loss"][i, j] = 1 - acc, loss
    absent = {p for p in _PARTS if getattr(data, f"X_{p}") is None}
    arrays = {k: (None if k.split("_")[0] in absent else v) for k, v in values.items()}
    return LearningCurve(sizes=sizes, seeds=seeds, histories=tuple(map(tuple, histories)),
                         **arrays)


@dataclass(frozen=True)
class DiagnosisStep:
    """One question of the flowchart: is the mean of ``quantity`` above ``threshold``?

    ``answer`` is ``"yes"`` when the whole interval lies above the threshold, ``"no"`` when
    it lies at or below it, ``"unresolved"`` when it contains it.
    """

    question: str
    interval: Interval
    threshold: float
    answer: str

    def __str__(self) -> str:
        iv = self.interval
        return (f"{self.question} {iv.estimate:.3f} [{iv.low:.3f}, {iv.high:.3f}] vs "
                f"{self.threshold:.3f}: {self.answer}")


@dataclass(frozen=True)
class Diagnosis:
    """The branch :func:`diagnose` reached, the steps that led there and the advice."""

    branch: str
    steps: tuple[DiagnosisStep, ...]
    advice: str

    def __str__(self) -> str:
        lines = [f"diagnosis: {self.branch}"]
        lines += [f"  {step}" for step in self.steps]
        lines.append(f"  -> {self.advice}")
        return "\n".join(lines)


_ADVICE = {
    "model bias": "a larger or more expressive model (more units, layers, features)",
    "optimization": "the shallower model trains better: fix the optimization (residual "
                    "connections, normalization, init, learning rate)",
    "model bias or optimization": "train a shallower or easier-to-optimize model on the "
                                  "same data and pass its training error as `reference`",
    "overfitting": "more data, augmentation, regularization, a simpler model, early stopping",
    "mismatch": "the test data differ from the training data: hold out a train-dev part to "
                "confirm, then get training data like the test data",
    "no problem found": "no step exceeded its threshold",
    "undecided": "an interval contains its threshold: more seeds or more data",
}


def _step(question: str, values, threshold: float, confidence: float) -> DiagnosisStep:
    iv = mean_interval(values, confidence=confidence)
    answer = "yes" if iv.low > threshold else ("no" if iv.high <= threshold else "unresolved")
    return DiagnosisStep(question, iv, float(threshold), answer)


def _per_seed(values, name: str, length: int | None = None) -> np.ndarray:
    arr = np.asarray(values, dtype=np.float64)
    if arr.ndim != 1 or len(arr) < 2 or (length is not None and len(arr) != length):
        want = f"{length} values (one per seed)" if length else "at least 2 values"
        raise ValueError(f"`{name}` must be 1-D with {want}, got shape {arr.shape}")
    if not np.isfinite(arr).all():
        raise ValueError(f"`{name}` must be finite, got {arr.tolist()}")
    if (arr < 0).any() or (arr > 1).any():
        raise ValueError(f"`{name}` must be error rates in [0, 1], got {arr.tolist()}")
    return arr


def diagnose(train_error, val_error, test_error=None, *, acceptable: float,
             reference=None, margin: float = 0.0, gap: float = 0.05, shift: float = 0.05,
             confidence: float = 0.95) -> Diagnosis:
    r"""Walk the diagnosis flowchart on per-seed errors and return the branch and why.

    Each step asks whether the mean of a per-seed quantity exceeds a threshold, answered from
    its t-interval over seeds (:func:`dlcore.stats.mean_interval`): *yes* if the interval
    lies above, *no* if at or below, *unresolved* if it contains the threshold (then the flow
    stops at ``"undecided"``: it never guesses). In order:

    1. training error :math:`> \text{acceptable}`? If yes: with ``reference`` (the training
       error of a shallower or easier-to-optimize model on the same seeds), is
       :math:`e_\text{train} - e_\text{ref} > \text{margin}`? yes → ``"optimization"`` (the
       larger model could represent the smaller one's solution but did not find it), no →
       ``"model bias"``; without ``reference`` → ``"model bias or optimization"``. "Model
       bias" only says that the model trains at least about as well as the reference: both
       may still be under-trained (more steps, another learning rate), which the flow cannot
       see.
    2. otherwise two gaps, each asked on its own (Ng's train-dev split): is
       :math:`e_\text{val} - e_\text{train} > \text{gap}`? yes → ``"overfitting"``; with
       ``test_error``, is :math:`e_\text{test} - e_\text{val} > \text{shift}`? yes →
       ``"mismatch"`` (the validation part is drawn like the training data, the test part is
       not). Both yes → ``"overfitting and mismatch"``; none yes but one unresolved →
       ``"undecided"``; one yes and the other unresolved → the one found, its advice noting
       the unresolved step.
    3. otherwise ``"no problem found"``.

    The thresholds are the caller's: what error is acceptable, and what gap matters, depend
    on the task. Every step taken is in ``.steps`` with its interval.

    Args:
        train_error, val_error: per-seed errors of the model, same seeds, same order.
        test_error: per-seed test errors, optional.
        acceptable: the training error the task tolerates (a baseline's, a human's), in
            [0, 1]. Every error is a rate in [0, 1].
        reference: per-seed training errors of a shallower / simpler model, optional.
        margin: how much higher than the reference's the training error must be to count
            as an optimization problem (default 0: any resolved excess), non-negative.
        gap, shift: thresholds of the two gaps of step 2, in error units, non-negative.
        confidence: level of the intervals.

    Returns:
        Diagnosis: ``.branch``, ``.steps`` and ``.advice``; ``str()`` prints them.

    Examples:
        >>> d = diagnose([0.01, 0.02, 0.01], [0.20, 0.22, 0.19], acceptable=0.05)
        >>> d.branch
        'overfitting'
        >>> print(d.steps[1])
        val - train error 0.190 [0.165, 0.215] vs 0.050: yes
    """
    tr = _per_seed(train_error, "train_error")
    va = _per_seed(val_error, "val_error", len(tr))
    te = None if test_error is None else _per_seed(test_error, "test_error", len(tr))
    ref = None if reference is None else _per_seed(reference, "reference", len(tr))
    _checks.number(acceptable, "acceptable", low=0, high=1)
    _checks.number(margin, "margin", low=0)
    _checks.number(gap, "gap", low=0)
    _checks.number(shift, "shift", low=0)
    _checks.number(confidence, "confidence", low=0, high=1, low_open=True, high_open=True)
    steps = [_step("training error", tr, acceptable, confidence)]

    def done(branch: str, note: str = "") -> Diagnosis:
        advice = "; ".join(_ADVICE[b] for b in branch.split(" and "))
        return Diagnosis(branch, tuple(steps), advice + note)

    if steps[-1].answer == "yes":
        if ref is None:
            return done("model bias or optimization")
        steps.append(_step("train - reference error", tr - ref, margin, confidence))
        return done({"yes": "optimization", "no": "model bias",
                     "unresolved": "undecided"}[steps[-1].answer])
    if steps[-1].answer == "unresolved":
        return done("undecided")
    steps.append(_step("val - train error", va - tr, gap, confidence))
    if te is not None:
        steps.append(_step("test - val error", te - va, shift, confidence))
    found = [name for name, step in zip(("overfitting", "mismatch"), steps[1:], strict=False)
             if step.answer == "yes"]
    open_steps = [s.question for s in steps[1:] if s.answer == "unresolved"]
    if found:
        note = f" ({', '.join(open_steps)} unresolved)" if open_steps else ""
        return done(" and ".join(found), note)
    if open_steps:
        return done("undecided")
    return done("no problem found")

