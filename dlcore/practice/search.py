r"""The learning-rate range test, random and grid search over hyperparameters.

:func:`lr_range_test` trains with a geometrically growing rate and suggests rates from the
smoothed loss (Smith 2017; fastai's ``lr_find``); :func:`random_search` and :func:`grid_search`
evaluate an objective on sampled or enumerated configurations (Bergstra & Bengio 2012) over a
space of :func:`log_uniform`, :func:`uniform`, :func:`integers` and :func:`choice` entries.
"""

from __future__ import annotations

import copy
import itertools
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np
import torch

from dlcore import _checks
from dlcore.data import Split
from dlcore.runtime import device as default_device
from dlcore.train import cross_entropy

__all__ = [
    "RangeTest", "lr_range_test", "Dimension", "log_uniform", "uniform", "integers", "choice",
    "Trial", "SearchResult", "random_search", "grid_search",
]


@dataclass(frozen=True)
class RangeTest:
    r"""The curve of a learning-rate range test and the rates it suggests.

    Attributes:
        lrs: (steps run,) the rate of each step.
        losses: (steps run,) the mini-batch training loss of each step (before its update).
        smoothed: (steps run,) the bias-corrected moving average of ``losses``.
        diverged: whether the stop rule fired (the smoothed loss above ``diverge`` times its
            minimum, or a non-finite loss), at or before the last step.
        lr_at_minimum: the rate at the lowest smoothed loss.
        suggestion_minimum: ``lr_at_minimum / 10`` (fastai's ``minimum`` rule).
        suggestion_steep: the rate where the smoothed loss falls fastest against
            :math:`\log\eta` (fastai's ``steep`` rule).
    """

    lrs: np.ndarray
    losses: np.ndarray
    smoothed: np.ndarray
    diverged: bool
    lr_at_minimum: float
    suggestion_minimum: float
    suggestion_steep: float

    def __str__(self) -> str:
        end = (f"stopped (diverged) at lr {self.lrs[-1]:.3g}" if self.diverged
               else f"ran to lr {self.lrs[-1]:.3g}")
        return (f"range test: {len(self.lrs)} steps from lr {self.lrs[0]:.3g}, {end}; "
                f"smoothed loss lowest at lr {self.lr_at_minimum:.3g}; suggestions: "
                f"minimum/10 {self.suggestion_minimum:.3g}, steepest {self.suggestion_steep:.3g}")


def _suggest(lrs: np.ndarray, smoothed: np.ndarray, steps: int) -> tuple[float, float]:
    # fastai drops the first tenth of the *requested* steps (the average is still warming up)
    # and the last five recorded (the explosion) before its rules; under 3 points left, use all
    lo, hi = steps // 10, len(lrs) - 5
    if hi - lo < 3:
        lo, hi = 0, len(lrs)
    lr, s = lrs[lo:hi], smoothed[lo:hi]
    finite = np.isfinite(s)
    lr, s = lr[finite], s[finite]
    at_min = float(lr[np.argmin(s)])
    if len(s) < 2:
        return at_min, at_min
    slope = np.diff(s) / np.diff(np.log(lr))
    return at_min, float(lr[np.argmin(slope)])


def lr_range_test(model: torch.nn.Module, data: Split, *, make_optimizer: Callable,
                  lr_min: float = 1e-7, lr_max: float = 10.0, steps: int = 100,
                  beta: float = 0.98, diverge: float = 4.0, batch_size: int = 64,
                  loss_fn: Callable = cross_entropy, generator: torch.Generator | None = None,
                  device=None) -> RangeTest:
    r"""Train a copy of ``model`` while the learning rate grows geometrically; record the loss.

    Step :math:`t = 0, \dots, T-1` (``T = steps``) uses the rate and records the smoothed loss

    .. math::
        \eta_t = \eta_{\min}\Big(\frac{\eta_{\max}}{\eta_{\min}}\Big)^{t/(T-1)}, \qquad
        m_t = \beta m_{t-1} + (1-\beta)\,\ell_t,\quad m_{-1} = 0, \qquad
        \hat m_t = \frac{m_t}{1-\beta^{t+1}},

    where :math:`\ell_t` is the mini-batch loss before step ``t``'s update. The run stops
    after the first step with :math:`\hat m_t > \text{diverge}\cdot\min_{s\le t}\hat m_s` or a
    non-finite loss. Two rules turn the curve into a rate, both as fastai 2 applies them,
    on the smoothed curve without its first ``T // 10`` (of the steps requested) and last 5
    recorded steps:
    *minimum* — the rate at the lowest smoothed loss divided by 10; *steep* — the rate
    :math:`\eta_t` with the most negative slope
    :math:`(\hat m_{t+1}-\hat m_t)/(\log\eta_{t+1}-\log\eta_t)`.

    Args:
        model: the network; it is **not** modified (a ``copy.deepcopy`` trains).
        data: a :class:`~dlcore.data.Split`; only ``X_train``/``y_train`` are used.
        make_optimizer: ``make_optimizer(params)`` returns an optimizer; every parameter
            group's rate is overwritten with :math:`\eta_t` before step ``t``.
        lr_min, lr_max: the first and the last rate, ``0 < lr_min < lr_max``.
        steps: the most steps ``T >= 2``; the training part is reshuffled each pass.
        beta: smoothing factor in ``[0, 1)`` (fastai's 0.98).
        diverge: stop factor ``> 1`` (fastai's 4); ``math.inf`` switches the factor rule off
            (fastai's ``stop_div=False``), a non-finite loss still stops.
        batch_size: examples per step; a last incomplete batch of a pass is skipped (the
            whole training part when it has fewer rows).
        loss_fn: ``loss_fn(outputs, y)``, default cross-entropy.
        generator: CPU random source of the batch order (default: torch's global one).
        device: default ``dlcore.device()``.

    Returns:
        RangeTest: the rates, losses and smoothed losses of the steps run, and the suggestions.

    Notes:
        Differences from fastai's ``lr_find``: its rate exponent is ``t/T``, so it stops one
        factor short of ``end_lr`` (here the last rate is ``lr_max``); it does not stop at a
        NaN loss but cuts the suggestions at the first NaN (here the run stops there); its
        default rule since fastai 2.5 is a third one, ``valley`` (the longest falling stretch
        of the curve), not implemented here. Smith (2017) grew the rate linearly and read the
        *accuracy*. Torch's global RNG state (dropout's, and the batch order's when
        ``generator`` is None) is restored afterwards.

    Examples:
        >>> gen = torch.Generator().manual_seed(0)
        >>> data = Split(torch.randn(64, 3, generator=gen), torch.randint(0, 2, (64,),
        ...              generator=gen), None, None, num_classes=2)
        >>> test = lr_range_test(torch.nn.Linear(3, 2), data, steps=20, batch_size=16,
        ...                      make_optimizer=lambda p: torch.optim.SGD(p, lr=1.0),
        ...                      generator=gen, device="cpu")
        >>> bool(len(test.lrs) <= 20 and test.lrs[0] == 1e-7)
        True
    """
    if not isinstance(data, Split):
        raise TypeError(f"`data` must be a dlcore.data.Split, got {type(data).__name__}")
    for name, fn in (("make_optimizer", make_optimizer), ("loss_fn", loss_fn)):
        if not callable(fn):
            raise TypeError(f"`{name}` must be callable, got {type(fn).__name__}")
    for name, lr in (("lr_min", lr_min), ("lr_max", lr_max)):
        _checks.number(lr, name, low=0, low_open=True)
    if lr_max <= lr_min:
        raise ValueError(f"`lr_max` must be > `lr_min` ({lr_min}), got {lr_max}")
    steps = _checks.number(steps, "steps", low=2, integer=True)
    _checks.number(beta, "beta", low=0, high=1, high_open=True)
    if diverge != math.inf:  # inf: no factor rule
        _checks.number(diverge, "diverge", low=1, low_open=True)
    batch_size = _checks.number(batch_size, "batch_size", low=1, integer=True)
    n = len(data.X_train)
    if n == 0:
        raise ValueError("`data` must have at least one training row, got an empty X_train")
    dev = default_device() if device is None else torch.device(device)
    net = copy.deepcopy(model).to(dev)
    net.train()
    X, y = data.X_train.to(dev), data.y_train.to(dev)
    batch_size = min(batch_size, n)
    optimizer = make_optimizer(net.parameters())
    lrs, losses, smoothed = [], [], []
    m, best, diverged = 0.0, math.inf, False
    # restore the CPU generator (and this device's, on CUDA) when done; naming the device
    # keeps fork_rng from warning on a machine with several GPUs
    with torch.random.fork_rng(devices=[dev.index or 0] * (dev.type == "cuda")):
        order, start = torch.randperm(n, generator=generator), 0
        for t in range(steps):
            if start + batch_size > n:  # a new pass over the training part
                order, start = torch.randperm(n, generator=generator), 0
            idx = order[start:start + batch_size].to(dev)
            start += batch_size
            # η_t = η_min (η_max/η_min)^{t/(T-1)}
            lr = lr_min * (lr_max / lr_min) ** (t / (steps - 1))
            for group in optimizer.param_groups:
                group["lr"] = lr
            loss = loss_fn(net(X[idx]), y[idx])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            value = float(loss.detach())
            # m_t = β m_{t-1} + (1-β) ℓ_t, bias-corrected by 1 - β^{t+1}
            m = beta * m + (1 - beta) * value
            smooth = m / (1 - beta ** (t + 1)) if math.isfinite(value) else math.inf
            lrs.append(lr)
            losses.append(value)
            smoothed.append(smooth)
            best = min(best, smooth)
            if not math.isfinite(value) or smooth > diverge * best:
                diverged = True
                break
    lrs_a, smoothed_a = np.array(lrs), np.array(smoothed)
    at_min, steep = _suggest(lrs_a, smoothed_a, steps)
    return RangeTest(lrs=lrs_a, losses=np.array(losses), smoothed=smoothed_a,
                     diverged=diverged, lr_at_minimum=at_min,
                     suggestion_minimum=at_min / 10, suggestion_steep=steep)


@dataclass(frozen=True)
class Dimension:
    """One entry of a search space: how to sample a value and how to lay out a grid.

    Build it with :func:`log_uniform`, :func:`uniform`, :func:`integers` or :func:`choice`;
    the bounds are checked here (``low < high``; ``low > 0`` for log-uniform; integers).
    """

    kind: str
    low: float | None = None
    high: float | None = None
    options: tuple = ()

    def __post_init__(self):
        _checks.choice(self.kind, "kind", ("log_uniform", "uniform", "integers", "choice"))
        if self.kind != "choice":
            _bounds(self.low, self.high, positive=self.kind == "log_uniform",
                    integer=self.kind == "integers")
        elif not self.options:
            raise ValueError("`options` must be a non-empty sequence, got ()")

    def sample(self, generator: torch.Generator | None = None):
        """One value drawn with ``generator`` (one uniform or integer draw)."""
        if self.kind == "choice":
            return self.options[int(torch.randint(len(self.options), (), generator=generator))]
        if self.kind == "integers":
            return int(torch.randint(int(self.low), int(self.high) + 1, (), generator=generator))
        u = float(torch.rand((), generator=generator, dtype=torch.float64))
        if self.kind == "log_uniform":
            return math.exp(math.log(self.low) + u * (math.log(self.high) - math.log(self.low)))
        return self.low + u * (self.high - self.low)

    def grid(self, k: int) -> list:
        """``k`` evenly spaced values (geometrically for log-uniform) including both ends;
        integers rounded without repeats; a choice gives all its options whatever ``k``."""
        k = _checks.number(k, "k", low=1, integer=True)
        if self.kind == "choice":
            return list(self.options)
        points = np.array([0.5]) if k == 1 else np.linspace(0.0, 1.0, k)  # k = 1: the centre
        if self.kind == "log_uniform":
            return [float(v) for v in np.exp(np.log(self.low)
                                             + points * np.log(self.high / self.low))]
        values = [float(v) for v in self.low + points * (self.high - self.low)]
        if self.kind == "integers":
            return sorted({int(round(v)) for v in values})
        return values


def _bounds(low, high, *, positive=False, integer=False) -> None:
    _checks.number(low, "low", integer=integer, low=0 if positive else None, low_open=positive)
    _checks.number(high, "high", integer=integer)
    if high <= low:
        raise ValueError(f"`high` must be > `low` ({low}), got {high}")


def log_uniform(low: float, high: float) -> Dimension:
    r"""A value whose logarithm is uniform: :math:`\exp(U(\log a, \log b))`, ``0 < a < b``.

    Examples:
        >>> [f"{v:.3g}" for v in log_uniform(1e-4, 1e-1).grid(4)]
        ['0.0001', '0.001', '0.01', '0.1']
    """
    return Dimension("log_uniform", low, high)


def uniform(low: float, high: float) -> Dimension:
    """A value drawn uniformly from ``[low, high)``.

    Examples:
        >>> uniform(0.0, 1.0).grid(3)
        [0.0, 0.5, 1.0]
    """
    return Dimension("uniform", low, high)


def integers(low: int, high: int) -> Dimension:
    """An integer drawn uniformly from ``low, …, high`` (both included).

    Examples:
        >>> integers(1, 4).grid(10)
        [1, 2, 3, 4]
    """
    return Dimension("integers", low, high)


def choice(options) -> Dimension:
    """One of ``options`` (a non-empty sequence), each with the same probability.

    Examples:
        >>> choice(["relu", "tanh"]).sample(torch.Generator().manual_seed(0)) in ("relu", "tanh")
        True
    """
    if isinstance(options, (str, bytes)) or not hasattr(options, "__len__"):
        raise ValueError(f"`options` must be a non-empty sequence, got {options!r}")
    return Dimension("choice", options=tuple(options))


@dataclass(frozen=True)
class Trial:
    """One evaluated configuration: its ``params`` and the objective's ``value``."""

    params: dict
    value: float


@dataclass(frozen=True)
class SearchResult:
    """Every trial of a search, in the order run, and the best of them.

    A trial whose value is NaN or infinite (a diverged run) is kept but never the best.
    """

    trials: tuple
    mode: str

    @property
    def values(self) -> np.ndarray:
        """(trials,) the objective values."""
        return np.array([t.value for t in self.trials], dtype=float)

    @property
    def best(self) -> Trial | None:
        """The trial with the lowest (``mode="min"``) or highest value; None if none finite."""
        finite = [t for t in self.trials if math.isfinite(t.value)]
        return (min if self.mode == "min" else max)(finite, key=lambda t: t.value, default=None)

    def __str__(self) -> str:
        names = list(self.trials[0].params)
        rows = [" | ".join(["#", *names, "value"])]
        for i, t in enumerate(self.trials):
            cells = [f"{v:.3g}" if isinstance(v, float) else str(v) for v in t.params.values()]
            rows.append(" | ".join([str(i), *cells, f"{t.value:.4g}"]))
        best = self.best
        rows.append("best: none finite" if best is None else
                    f"best ({self.mode}): #{self.trials.index(best)}, value {best.value:.4g}")
        return "\n".join(rows)


def _run(objective: Callable, configs, mode: str) -> SearchResult:
    if not callable(objective):
        raise TypeError(f"`objective` must be callable, got {type(objective).__name__}")
    _checks.choice(mode, "mode", ("min", "max"))
    trials = []
    for params in configs:
        value = objective(**params)
        try:
            value = float(value.item() if isinstance(value, torch.Tensor) else value)
        except (TypeError, ValueError, RuntimeError):
            raise ValueError(f"`objective` must return a number, got {type(value).__name__} "
                             f"for params {params}") from None
        trials.append(Trial(params=params, value=value))
    return SearchResult(trials=tuple(trials), mode=mode)


def _space(space, name: str) -> None:
    if not isinstance(space, Mapping) or not space:
        raise ValueError(f"`{name}` must be a non-empty dict of names to entries, got {space!r}")


def random_search(objective: Callable, space: Mapping, *, trials: int,
                  generator: torch.Generator | None = None, mode: str = "min") -> SearchResult:
    """Evaluate ``objective(**params)`` on ``trials`` configurations drawn independently.

    Each trial draws every entry of ``space`` in turn (in the dict's order) with
    ``generator``, so a seeded generator gives the same configurations; the objective's own
    randomness is its business. Bergstra & Bengio (2012): when only a few of the
    hyperparameters matter, ``n`` random trials try ``n`` distinct values of each, a grid of
    ``n`` points only :math:`n^{1/d}`.

    Args:
        objective: called with one keyword argument per entry; returns a number.
        space: name → :class:`Dimension` (:func:`log_uniform`, :func:`uniform`,
            :func:`integers`, :func:`choice`).
        trials: number of configurations ``>= 1``.
        generator: random source of the draws (default: torch's global one).
        mode: ``"min"`` or ``"max"``: which value is best.

    Returns:
        SearchResult: the trials and the best.

    Examples:
        >>> result = random_search(lambda x: (x - 0.3) ** 2, {"x": uniform(0.0, 1.0)},
        ...                        trials=50, generator=torch.Generator().manual_seed(0))
        >>> abs(result.best.params["x"] - 0.3) < 0.05
        True
    """
    _space(space, "space")
    for key, dim in space.items():
        if not isinstance(dim, Dimension):
            raise TypeError(f"`space[{key!r}]` must be a Dimension, got {type(dim).__name__}")
    trials = _checks.number(trials, "trials", low=1, integer=True)
    configs = ({key: dim.sample(generator) for key, dim in space.items()}
               for _ in range(trials))
    return _run(objective, configs, mode)


def grid_search(objective: Callable, grid: Mapping, *, mode: str = "min") -> SearchResult:
    """Evaluate ``objective(**params)`` on every combination of the values in ``grid``.

    The trials follow ``itertools.product`` order (the last entry varies fastest).

    Args:
        objective: called with one keyword argument per entry; returns a number.
        grid: name → a non-empty sequence of values (e.g. ``log_uniform(…).grid(3)``).
        mode: ``"min"`` or ``"max"``.

    Returns:
        SearchResult: the ``∏ len(values)`` trials and the best.

    Examples:
        >>> result = grid_search(lambda a, b: a * b, {"a": [1, 2], "b": [3, 4, 5]})
        >>> len(result.trials), result.best.params
        (6, {'a': 1, 'b': 3})
    """
    _space(grid, "grid")
    for key, values in grid.items():
        if isinstance(values, (str, bytes)) or not hasattr(values, "__len__") or not values:
            raise ValueError(f"`grid[{key!r}]` must be a non-empty sequence, got {values!r}")
    names = list(grid)
    configs = (dict(zip(names, combo, strict=True)) for combo in itertools.product(*grid.values()))
    return _run(objective, configs, mode)
