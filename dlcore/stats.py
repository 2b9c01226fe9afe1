r"""The statistics a careful experimenter reports: intervals, paired comparisons, seeds.

A page that compares two methods runs both on the same seeds (same initialisation, same batch
order per seed) and reports the mean of the per-seed differences with a Student-t interval;
a page that reports one number on one test set gives it an interval too. Every verdict a page
prints ("resolved", "diverged in 2 of 5 seeds") is computed here, never typed.

* :func:`repeat` runs an experiment once per seed and keeps diverged (non-finite) runs apart;
* :func:`paired_difference` — the paired t-interval of ``a - b`` over seeds;
* :func:`mean_interval` — the t-interval of one method's mean over seeds;
* :func:`wilson_interval` — a proportion ``k / n`` (accuracy, recall, "spiked in k of n seeds");
* :func:`bootstrap_interval` — any metric on one test set (AUC, AP, F1), percentile bootstrap;
* :func:`mcnemar` — two classifiers on the same test examples, exact test;
* :func:`holm` — adjusted p-values when a page makes several comparisons at once.

Each equals its SciPy counterpart (tested): ``scipy.stats.ttest_rel(a, b)
.confidence_interval()``, ``scipy.stats.binomtest(k, n).proportion_ci(method="wilson")`` and
``scipy.stats.binomtest`` for McNemar's exact p-value.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import torch

from dlcore import _checks

__all__ = [
    "Interval", "PairedDifference", "McNemar", "Runs", "repeat", "paired_difference",
    "mean_interval", "wilson_interval", "bootstrap_interval", "mcnemar", "holm",
]


def _confidence(confidence) -> float:
    return _checks.number(confidence, "confidence", low=0, high=1, low_open=True,
                          high_open=True)


def _t_quantile(q: float, df: int) -> float:
    from scipy.special import stdtrit

    return float(stdtrit(df, q))


def _values(x, name: str) -> np.ndarray:
    """A 1-d float64 array of finite numbers from a sequence, array or tensor."""
    if isinstance(x, Runs):
        x = x.values()
    if isinstance(x, torch.Tensor):
        x = x.detach().cpu().to(torch.float64).numpy()
    try:
        arr = np.asarray(x, dtype=np.float64)
    except (TypeError, ValueError):
        raise TypeError(
            f"`{name}` must be a sequence of numbers, got {type(x).__name__}") from None
    if arr.ndim != 1:
        raise ValueError(f"`{name}` must be one-dimensional, got shape {arr.shape}")
    bad = int((~np.isfinite(arr)).sum())
    if bad:
        raise ValueError(
            f"`{name}` must hold finite numbers, got {bad} NaN or infinite value(s); "
            "record diverged runs with dlcore.stats.repeat, which keeps them apart"
        )
    return arr


def _fmt(x: float, digits: int) -> str:
    return f"{x:.{digits}f}"


@dataclass(frozen=True)
class Interval:
    """A point estimate with a two-sided interval ``[low, high]`` at level ``confidence``."""

    estimate: float
    low: float
    high: float
    confidence: float
    method: str
    n_invalid: int = 0  # bootstrap resamples on which the statistic was undefined

    def excludes(self, value: float) -> bool:
        """True if ``value`` lies outside the interval."""
        return bool(value < self.low or value > self.high)

    def describe(self, *, digits: int = 3, scale: float = 1.0, unit: str = "") -> str:
        """``"0.965 [0.921, 0.985] (95 % Wilson interval)"``, values multiplied by ``scale``."""
        e, lo, hi = (_fmt(v * scale, digits) for v in (self.estimate, self.low, self.high))
        return f"{e}{unit} [{lo}, {hi}] ({self.confidence * 100:.0f} % {self.method})"

    def __str__(self) -> str:
        return self.describe()


@dataclass(frozen=True)
class PairedDifference:
    r"""The mean of paired differences :math:`d_i = a_i - b_i` with its t-interval.

    ``mean ± half_width`` where ``half_width`` :math:`= t_{1-\alpha/2,\,n-1}\, s_d/\sqrt{n}`;
    ``resolved`` is true when the interval excludes 0 (equivalently the paired t-test's
    two-sided ``pvalue`` is below ``1 - confidence``).
    """

    mean: float
    low: float
    high: float
    n: int
    confidence: float
    sd: float
    pvalue: float
    differences: tuple[float, ...]
    unit: str = ""
    digits: int = 2
    excluded: tuple = ()  # seeds left out because a run diverged

    @property
    def half_width(self) -> float:
        return (self.high - self.low) / 2

    @property
    def resolved(self) -> bool:
        return bool(self.low > 0 or self.high < 0)

    @property
    def sign(self) -> int:
        """+1 if ``a`` is resolved above ``b``, -1 if below, 0 if unresolved."""
        return 0 if not self.resolved else (1 if self.mean > 0 else -1)

    def interval_text(self) -> str:
        """``"+1.07 ± 1.00 points (95 % CI over 5 paired seeds)"``."""
        unit = f" {self.unit}" if self.unit else ""
        text = (f"{self.mean:+.{self.digits}f} ± {self.half_width:.{self.digits}f}{unit} "
                f"({self.confidence * 100:.0f} % CI over {self.n} paired seeds)")
        if self.excluded:
            k = len(self.excluded)
            text += f"; {k} seed{'s' if k > 1 else ''} left out because a run diverged"
        return text

    def __str__(self) -> str:
        if self.resolved:
            return self.interval_text()
        return f"no resolved difference, {self.interval_text()}"


def _paired(d: np.ndarray, confidence: float) -> tuple[float, float, float, float, float]:
    n = len(d)
    mean = float(d.mean())
    sd = float(d.std(ddof=1))
    se = sd / math.sqrt(n)
    t = _t_quantile(0.5 + confidence / 2, n - 1)
    if se == 0:
        pvalue = 1.0 if mean == 0 else 0.0
    else:
        from scipy.special import stdtr

        pvalue = float(2 * stdtr(n - 1, -abs(mean) / se))
    return mean, mean - t * se, mean + t * se, sd, pvalue


def paired_difference(a, b, *, confidence: float = 0.95, unit: str = "",
                      digits: int = 2) -> PairedDifference:
    r"""Mean paired difference ``a - b`` over seeds, with its Student-t interval.

    .. math::
        \bar d \pm t_{1-\alpha/2,\,n-1}\,\frac{s_d}{\sqrt n},\qquad d_i = a_i - b_i,

    the interval of :func:`scipy.stats.ttest_rel`. Pairing removes the variation the two
    methods share (the seed's initialisation and batch order), so it resolves differences
    that two unpaired error bars would hide.

    Args:
        a, b: per-seed results of two methods on the same seeds, same order: sequences,
            arrays or tensors of finite numbers, or two :class:`Runs` from :func:`repeat`
            (then seeds where either run diverged are left out and reported).
        confidence: level of the two-sided interval, in (0, 1).
        unit: appended to the numbers in the sentence (``"points"``).
        digits: decimals in the sentence.

    Returns:
        PairedDifference: ``.mean``, ``.low``, ``.high``, ``.n``, ``.resolved``, ``.pvalue``;
        ``str()`` is a sentence a page can glue.

    Raises:
        ValueError: lengths differ, fewer than 2 pairs, a NaN or infinite value, or
            ``confidence`` outside (0, 1).

    Examples:
        >>> r = paired_difference([0.95, 0.96, 0.94], [0.93, 0.95, 0.93], unit="points")
        >>> round(r.mean, 4), r.n, r.resolved
        (0.0133, 3, False)
        >>> print(paired_difference([3.0, 4.0, 5.0, 6.0], [1.0, 1.5, 2.0, 3.2]))
        +2.58 ± 0.69 (95 % CI over 4 paired seeds)
    """
    confidence = _confidence(confidence)
    digits = _checks.number(digits, "digits", low=0, high=12, integer=True)
    excluded: tuple = ()
    if isinstance(a, Runs) and isinstance(b, Runs):
        if a.seeds != b.seeds:
            raise ValueError(
                f"`a` and `b` must be runs on the same seeds, got {a.seeds} and {b.seeds}")
        keep = [s for s in a.seeds if s not in a.diverged and s not in b.diverged]
        excluded = tuple(s for s in a.seeds if s not in keep)
        a, b = a.on(keep).values(), b.on(keep).values()
    a, b = _values(a, "a"), _values(b, "b")
    if len(a) != len(b):
        raise ValueError(f"`a` and `b` must have the same length, got {len(a)} and {len(b)}")
    if len(a) < 2:
        raise ValueError(f"`a` and `b` must hold at least 2 paired results, got {len(a)}")
    d = a - b
    mean, low, high, sd, pvalue = _paired(d, confidence)
    return PairedDifference(mean=mean, low=low, high=high, n=len(d), confidence=confidence,
                            sd=sd, pvalue=pvalue, differences=tuple(d.tolist()), unit=unit,
                            digits=digits, excluded=excluded)


def mean_interval(x, *, confidence: float = 0.95) -> Interval:
    r"""The mean of ``x`` over seeds with its t-interval :math:`\bar x \pm t\, s/\sqrt n`.

    Examples:
        >>> r = mean_interval([1.0, 2.0, 3.0])
        >>> r.estimate, round(r.low, 3), round(r.high, 3)
        (2.0, -0.484, 4.484)
    """
    confidence = _confidence(confidence)
    x = _values(x, "x")
    if len(x) < 2:
        raise ValueError(f"`x` must hold at least 2 results, got {len(x)}")
    mean, low, high, _, _ = _paired(x, confidence)
    return Interval(mean, low, high, confidence, "t-interval")


def wilson_interval(successes: int, n: int, *, confidence: float = 0.95) -> Interval:
    r"""Wilson's score interval for a proportion :math:`\hat p = k/n`.

    .. math::
        \frac{\hat p + \frac{z^2}{2n} \pm z\sqrt{\frac{\hat p(1-\hat p)}{n}
        + \frac{z^2}{4n^2}}}{1 + \frac{z^2}{n}},\qquad z = \Phi^{-1}\!\left(\tfrac{1+c}{2}\right).

    Unlike the textbook :math:`\hat p \pm z\sqrt{\hat p(1-\hat p)/n}` it stays inside [0, 1]
    and does not collapse to a point at :math:`k = 0` or :math:`k = n` (Wilson 1927; Brown,
    Cai & DasGupta 2001). Equals ``scipy.stats.binomtest(k, n).proportion_ci(confidence,
    method="wilson")``.

    Examples:
        >>> r = wilson_interval(138, 143)
        >>> round(r.estimate, 3), round(r.low, 3), round(r.high, 3)
        (0.965, 0.921, 0.985)
    """
    confidence = _confidence(confidence)
    n = _checks.number(n, "n", low=1, integer=True)
    successes = _checks.number(successes, "successes", low=0, high=n, integer=True)
    from scipy.special import ndtri

    z = float(ndtri(0.5 + confidence / 2))
    p = successes / n
    denom = 1 + z * z / n
    center = (p + z * z / (2 * n)) / denom
    half = z / denom * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    # at k = 0 (k = n) the lower (upper) end is exactly 0 (1); rounding would miss it
    low = 0.0 if successes == 0 else max(0.0, center - half)
    high = 1.0 if successes == n else min(1.0, center + half)
    return Interval(p, low, high, confidence, "Wilson interval")


def _resample(x, idx: torch.Tensor):
    if isinstance(x, torch.Tensor):
        return x[idx.to(x.device)]
    return np.asarray(x)[idx.numpy()]


def bootstrap_interval(statistic: Callable[..., float], *samples, n_resamples: int = 2000,
                       confidence: float = 0.95,
                       generator: torch.Generator | None = None) -> Interval:
    r"""Percentile-bootstrap interval of ``statistic(*samples)`` on one test set.

    The examples (rows) are resampled with replacement ``n_resamples`` times, the same rows
    for every sample (so ``statistic(scores, target)`` keeps each score with its label); the
    interval is the :math:`\alpha/2` and :math:`1-\alpha/2` quantiles of the statistic over
    the resamples (Efron & Tibshirani 1993, ch. 13). Resamples on which the statistic is
    undefined (it raises ``ValueError``, e.g. an AUC on a resample with one class only, or
    returns NaN) are skipped and counted in ``.n_invalid``.

    Args:
        statistic: maps the samples to a number (a float or a 0-d tensor).
        *samples: tensors or arrays with the same number of rows.
        n_resamples: at least 100.
        confidence: level in (0, 1).
        generator: CPU random source for the resampled rows.

    Examples:
        >>> x = torch.arange(20.0)
        >>> r = bootstrap_interval(torch.mean, x, generator=torch.Generator().manual_seed(0))
        >>> r.estimate, r.low < 9.5 < r.high
        (9.5, True)
    """
    if not callable(statistic):
        raise TypeError(f"`statistic` must be callable, got {type(statistic).__name__}")
    confidence = _confidence(confidence)
    n_resamples = _checks.number(n_resamples, "n_resamples", low=100, integer=True)
    if not samples:
        raise ValueError("`samples` must hold at least one tensor or array, got none")
    n = len(samples[0])
    for i, s in enumerate(samples):
        if len(s) != n:
            raise ValueError(
                f"`samples` must have the same number of rows, got {n} and {len(s)} "
                f"(sample {i})")
    if n < 2:
        raise ValueError(f"`samples` must have at least 2 rows, got {n}")
    estimate = float(statistic(*samples))
    stats, invalid = [], 0
    for _ in range(n_resamples):
        idx = torch.randint(n, (n,), generator=generator)
        try:
            value = float(statistic(*(_resample(s, idx) for s in samples)))
        except ValueError:
            value = math.nan
        if math.isfinite(value):
            stats.append(value)
        else:
            invalid += 1
    if len(stats) < n_resamples // 2:
        raise ValueError(
            f"`statistic` was undefined on {invalid} of {n_resamples} resamples; "
            "a percentile interval needs most of them")
    alpha = 1 - confidence
    low, high = np.quantile(np.asarray(stats), [alpha / 2, 1 - alpha / 2])
    return Interval(estimate, float(low), float(high), confidence, "bootstrap interval",
                    n_invalid=invalid)


@dataclass(frozen=True)
class McNemar:
    """Two classifiers on the same examples: ``b`` = A right and B wrong, ``c`` = the reverse."""

    b: int
    c: int
    pvalue: float

    def __str__(self) -> str:
        return (f"A right and B wrong on {self.b}, the reverse on {self.c}; "
                f"exact McNemar p = {self.pvalue:.3g}")


def _bool_vector(x, name: str) -> torch.Tensor:
    if not isinstance(x, torch.Tensor):
        x = torch.as_tensor(np.asarray(x))
    if x.dtype != torch.bool:
        raise ValueError(f"`{name}` must be a boolean vector (True = correct), got {x.dtype}")
    if x.ndim != 1 or x.numel() == 0:
        raise ValueError(f"`{name}` must be a non-empty 1-d vector, got shape {tuple(x.shape)}")
    return x.cpu()


def mcnemar(correct_a, correct_b) -> McNemar:
    r"""McNemar's exact test: are two classifiers equally accurate on these examples?

    Only the discordant examples carry information: with :math:`b` examples that A gets right
    and B wrong and :math:`c` the reverse, under the null hypothesis each discordant example
    is a fair coin, :math:`b \sim \mathrm{Bin}(b + c, 1/2)`, and the two-sided p-value is
    :math:`\min\{1,\ 2\,P[X \le \min(b, c)]\}` (McNemar 1947; Dietterich 1998), which equals
    ``scipy.stats.binomtest(b, b + c).pvalue``.

    Args:
        correct_a, correct_b: boolean vectors, True where each classifier is right.

    Examples:
        >>> a = torch.tensor([True] * 10 + [False] * 2)
        >>> b = torch.tensor([True] * 4 + [False] * 8)
        >>> r = mcnemar(a, b); r.b, r.c, round(r.pvalue, 4)
        (6, 0, 0.0312)
    """
    a = _bool_vector(correct_a, "correct_a")
    b_ = _bool_vector(correct_b, "correct_b")
    if a.shape != b_.shape:
        raise ValueError(
            f"`correct_a` and `correct_b` must have the same length, got {a.numel()} and "
            f"{b_.numel()}")
    b = int((a & ~b_).sum())
    c = int((~a & b_).sum())
    if b + c == 0:
        return McNemar(0, 0, 1.0)
    from scipy.special import bdtr

    pvalue = min(1.0, 2 * float(bdtr(min(b, c), b + c, 0.5)))
    return McNemar(b, c, pvalue)


def holm(pvalues) -> np.ndarray:
    r"""Holm's step-down adjusted p-values for :math:`m` simultaneous comparisons.

    Sort :math:`p_{(1)} \le \dots \le p_{(m)}`; the adjusted value of the :math:`i`-th is
    :math:`\max_{j \le i} \min\{1, (m - j + 1)\, p_{(j)}\}`. Rejecting where the adjusted
    value is below α keeps the chance of *any* false claim below α (Holm 1979), which
    a page comparing six activations against each other needs.

    Examples:
        >>> holm([0.01, 0.04, 0.03]).round(3).tolist()
        [0.03, 0.06, 0.06]
    """
    p = _values(pvalues, "pvalues")
    if len(p) == 0:
        raise ValueError("`pvalues` must not be empty")
    if ((p < 0) | (p > 1)).any():
        raise ValueError(f"`pvalues` must lie in [0, 1], got {p.min()} to {p.max()}")
    m = len(p)
    order = np.argsort(p, kind="stable")
    adjusted = np.minimum(1.0, np.maximum.accumulate((m - np.arange(m)) * p[order]))
    out = np.empty(m)
    out[order] = adjusted
    return out


def _finite(result) -> bool:
    if isinstance(result, Mapping):
        return all(_finite(v) for v in result.values())
    return math.isfinite(float(result))


def _number(result):
    if isinstance(result, Mapping):
        return {k: _number(v) for k, v in result.items()}
    if isinstance(result, torch.Tensor):
        if result.numel() != 1:
            raise ValueError(f"a run must return a number, got a tensor of shape "
                             f"{tuple(result.shape)}")
        return float(result)
    if isinstance(result, bool) or not isinstance(result, (int, float, np.floating,
                                                           np.integer)):
        raise TypeError(f"a run must return a number or a dict of numbers, got "
                        f"{type(result).__name__}")
    return float(result)


@dataclass(frozen=True)
class Runs:
    """One experiment's results over seeds, diverged (non-finite) runs kept apart.

    ``results[i]`` is what the run with ``seeds[i]`` returned: a number, or a dict of numbers
    (then ``runs["acc"]`` is the :class:`Runs` of one key). A run is *diverged* when any of its
    numbers is NaN or infinite; :meth:`values` returns the finite ones only, and every
    summary says how many diverged.
    """

    seeds: tuple
    results: tuple
    diverged: tuple = field(init=False)

    def __post_init__(self) -> None:
        if len(self.seeds) != len(self.results):
            raise ValueError(f"`seeds` and `results` must have the same length, got "
                             f"{len(self.seeds)} and {len(self.results)}")
        object.__setattr__(self, "diverged", tuple(
            s for s, r in zip(self.seeds, self.results, strict=True) if not _finite(r)))

    @property
    def finite_seeds(self) -> tuple:
        return tuple(s for s in self.seeds if s not in self.diverged)

    def __len__(self) -> int:
        return len(self.seeds)

    def __getitem__(self, key) -> Runs:
        if not all(isinstance(r, Mapping) for r in self.results):
            raise KeyError(f"runs return plain numbers, not dicts: no key {key!r}")
        missing = [s for s, r in zip(self.seeds, self.results, strict=True) if key not in r]
        if missing:
            raise KeyError(f"key {key!r} is missing in the runs of seeds {missing}")
        return Runs(self.seeds, tuple(r[key] for r in self.results))

    def on(self, seeds: Iterable) -> Runs:
        """The runs of the given seeds only, in that order."""
        seeds = tuple(seeds)
        where = {s: i for i, s in enumerate(self.seeds)}
        unknown = [s for s in seeds if s not in where]
        if unknown:
            raise ValueError(f"`seeds` must be among {self.seeds}, got {unknown}")
        return Runs(seeds, tuple(self.results[where[s]] for s in seeds))

    def values(self) -> np.ndarray:
        """The results of the runs that did not diverge, as a float64 array."""
        if any(isinstance(r, Mapping) for r in self.results):
            raise ValueError("runs return dicts: pick one number first, e.g. runs['acc']")
        return np.array([r for s, r in zip(self.seeds, self.results, strict=True)
                         if s not in self.diverged], dtype=np.float64)

    def count(self, predicate: Callable[[float], bool]) -> int:
        """How many finite runs satisfy ``predicate`` (diverged runs never count)."""
        return int(sum(bool(predicate(v)) for v in self.values()))

    def describe(self, *, digits: int = 3, scale: float = 1.0, unit: str = "") -> str:
        """``"mean 0.953 (sd 0.004) over 5 seeds"``, plus ``"; 1 of 6 diverged"`` if any did."""
        v = self.values() * scale
        n, k = len(self.seeds), len(self.diverged)
        unit = f" {unit}" if unit else ""
        if len(v) == 0:
            text = f"every one of {n} seeds diverged"
        elif len(v) == 1:
            text = f"{v[0]:.{digits}f}{unit} from the one seed that did not diverge"
        else:
            text = (f"mean {v.mean():.{digits}f}{unit} (sd {v.std(ddof=1):.{digits}f}) "
                    f"over {len(v)} seeds")
        if k and len(v):
            text += f"; {k} of {n} diverged"
        return text

    def __str__(self) -> str:
        return self.describe()


def repeat(fn: Callable[[int], object], seeds: Sequence[int] | int) -> Runs:
    """Run ``fn(seed)`` for each seed and collect the results, diverged runs kept apart.

    Args:
        fn: one run of the experiment; returns a number (a float or a 0-d tensor) or a dict
            of numbers. It should seed everything it uses from ``seed`` (``dlcore.seed``).
        seeds: the seeds, or an int ``k`` for seeds ``0 … k-1``.

    Returns:
        Runs: pass two of them to :func:`paired_difference`; ``.diverged`` lists the seeds
        whose result was NaN or infinite.

    Examples:
        >>> runs = repeat(lambda s: 1.0 / s if s else float("nan"), 3)
        >>> runs.diverged, runs.values().tolist()
        ((0,), [1.0, 0.5])
        >>> print(runs)
        mean 0.750 (sd 0.354) over 2 seeds; 1 of 3 diverged
    """
    if not callable(fn):
        raise TypeError(f"`fn` must be callable, got {type(fn).__name__}")
    if isinstance(seeds, int) and not isinstance(seeds, bool):
        seeds = range(_checks.number(seeds, "seeds", low=1, integer=True))
    seeds = tuple(seeds)
    if not seeds:
        raise ValueError("`seeds` must not be empty")
    for i, s in enumerate(seeds):
        _checks.number(s, f"seeds[{i}]", low=0, integer=True)
    if len(set(seeds)) != len(seeds):
        raise ValueError(f"`seeds` must be distinct, got {seeds}")
    return Runs(seeds, tuple(_number(fn(s)) for s in seeds))
