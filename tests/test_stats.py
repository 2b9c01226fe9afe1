import math

import numpy as np
import pytest
import scipy.stats
import torch

from dlcore import metrics as M
from dlcore import stats


def rng(seed=0):
    return np.random.default_rng(seed)


# -- paired_difference: parity with scipy.stats.ttest_rel -----------------------------------

@pytest.mark.parametrize("n", [2, 3, 5, 10, 40])
@pytest.mark.parametrize("confidence", [0.8, 0.95, 0.99])
def test_paired_difference_equals_ttest_rel(n, confidence):
    g = rng(n)
    a = g.normal(0.9, 0.02, n)
    b = a - g.normal(0.005, 0.01, n)
    ours = stats.paired_difference(a, b, confidence=confidence)
    ref = scipy.stats.ttest_rel(a, b)
    ci = ref.confidence_interval(confidence)
    assert ours.low == pytest.approx(ci.low, rel=1e-12, abs=1e-15)
    assert ours.high == pytest.approx(ci.high, rel=1e-12, abs=1e-15)
    assert ours.pvalue == pytest.approx(ref.pvalue, rel=1e-10)
    assert ours.mean == pytest.approx(np.mean(a - b), rel=1e-13)
    assert ours.n == n
    assert ours.resolved == (ci.low > 0 or ci.high < 0)
    assert ours.resolved == (ours.pvalue < 1 - confidence)


def test_paired_difference_accepts_tensors_and_lists():
    a, b = [0.91, 0.93, 0.92, 0.95], [0.90, 0.91, 0.92, 0.93]
    r1 = stats.paired_difference(a, b)
    r2 = stats.paired_difference(torch.tensor(a), torch.tensor(b, dtype=torch.float64))
    assert r1.mean == pytest.approx(r2.mean) and r1.high == pytest.approx(r2.high)
    assert r1.differences == pytest.approx((0.01, 0.02, 0.0, 0.02))


def test_pairing_resolves_what_unpaired_intervals_hide():
    # a large shared seed effect and a small consistent difference
    g = rng(1)
    seed_effect = g.normal(0, 1.0, 6)
    a = 90 + seed_effect + 0.3
    b = 90 + seed_effect + g.normal(0, 0.05, 6)
    paired = stats.paired_difference(a, b, unit="points")
    unpaired = scipy.stats.ttest_ind(a, b).confidence_interval()
    assert paired.resolved and paired.sign == 1
    assert unpaired.low < 0 < unpaired.high


def test_sentences_say_resolved_or_not():
    r = stats.paired_difference([3.0, 4.0, 5.0, 6.0], [1.0, 1.5, 2.0, 3.2], unit="points")
    assert str(r) == "+2.58 ± 0.69 points (95 % CI over 4 paired seeds)"
    r = stats.paired_difference([1.0, 2.0, 3.0], [2.0, 1.0, 3.1])
    assert str(r).startswith("no resolved difference, -0.03 ± ")
    assert r.sign == 0
    r = stats.paired_difference([1.0, 2.0, 3.0], [2.0, 3.1, 4.05], digits=1)
    assert r.sign == -1 and str(r).startswith("-1.1 ± ")


def test_constant_differences_have_a_zero_width_interval():
    r = stats.paired_difference([2.0, 3.0], [1.0, 2.0])
    assert (r.low, r.high, r.pvalue, r.resolved) == (1.0, 1.0, 0.0, True)
    r = stats.paired_difference([2.0, 3.0], [2.0, 3.0])
    assert (r.low, r.high, r.pvalue, r.resolved) == (0.0, 0.0, 1.0, False)


@pytest.mark.parametrize("a, b, match", [
    ([1.0, 2.0], [1.0], "same length, got 2 and 1"),
    ([1.0], [2.0], "at least 2 paired results, got 1"),
    ([1.0, float("nan")], [1.0, 2.0], "`a` must hold finite numbers, got 1 NaN"),
    ([1.0, 2.0], [1.0, float("inf")], "`b` must hold finite numbers"),
    ([[1.0, 2.0]], [[1.0, 2.0]], "one-dimensional"),
])
def test_paired_difference_rejects_bad_input(a, b, match):
    with pytest.raises(ValueError, match=match):
        stats.paired_difference(a, b)


@pytest.mark.parametrize("confidence", [0, 1, 1.5, -0.1, float("nan")])
def test_confidence_must_be_inside_zero_one(confidence):
    with pytest.raises(ValueError, match="`confidence` must"):
        stats.paired_difference([1.0, 2.0], [0.0, 1.5], confidence=confidence)
    with pytest.raises(ValueError, match="`confidence` must"):
        stats.wilson_interval(3, 10, confidence=confidence)


def test_non_numbers_are_rejected():
    with pytest.raises(TypeError, match="`a` must be a sequence of numbers"):
        stats.paired_difference(["x", "y"], [1.0, 2.0])
    with pytest.raises(TypeError, match="`digits` must be an int"):
        stats.paired_difference([1.0, 2.0], [0.0, 1.5], digits=1.5)


# -- mean_interval ------------------------------------------------------------------------

def test_mean_interval_equals_scipy_t_interval():
    x = rng(2).normal(5, 2, 7)
    ours = stats.mean_interval(x, confidence=0.9)
    low, high = scipy.stats.t.interval(0.9, len(x) - 1, loc=x.mean(), scale=scipy.stats.sem(x))
    assert (ours.low, ours.high) == pytest.approx((low, high), rel=1e-12)
    assert ours.method == "t-interval" and not ours.excludes(x.mean())
    with pytest.raises(ValueError, match="at least 2 results, got 1"):
        stats.mean_interval([1.0])


# -- wilson_interval: parity with scipy.stats.binomtest ------------------------------------

@pytest.mark.parametrize("k, n", [(0, 1), (1, 1), (0, 10), (10, 10), (3, 10), (138, 143),
                                  (49, 53), (1, 1000), (500, 1000)])
@pytest.mark.parametrize("confidence", [0.9, 0.95, 0.999])
def test_wilson_equals_scipy(k, n, confidence):
    ours = stats.wilson_interval(k, n, confidence=confidence)
    ref = scipy.stats.binomtest(k, n).proportion_ci(confidence, method="wilson")
    assert ours.low == pytest.approx(ref.low, abs=1e-12)
    assert ours.high == pytest.approx(ref.high, abs=1e-12)
    assert ours.estimate == k / n and 0 <= ours.low <= k / n <= ours.high <= 1


def test_wilson_describe():
    r = stats.wilson_interval(138, 143)
    assert str(r) == "0.965 [0.921, 0.985] (95 % Wilson interval)"
    wide = r.describe(digits=1, scale=100, unit=" %")
    assert wide == "96.5 % [92.1, 98.5] (95 % Wilson interval)"
    assert r.excludes(0.9) and not r.excludes(0.95)


@pytest.mark.parametrize("k, n, error, match", [
    (5, 4, ValueError, "`successes` must be <= 4, got 5"),
    (-1, 4, ValueError, "`successes` must be >= 0"),
    (0, 0, ValueError, "`n` must be >= 1, got 0"),
    (1.5, 4, TypeError, "`successes` must be an int"),
])
def test_wilson_rejects_bad_counts(k, n, error, match):
    with pytest.raises(error, match=match):
        stats.wilson_interval(k, n)


def test_wilson_covers_the_true_proportion_at_its_level():
    # coverage over many simulated studies: the interval is a procedure with a guarantee
    g = rng(3)
    p, n, trials = 0.3, 40, 4000
    ks = g.binomial(n, p, trials)
    covered = np.mean([not stats.wilson_interval(int(k), n).excludes(p) for k in ks])
    assert 0.93 < covered < 0.97


# -- bootstrap_interval ------------------------------------------------------------------

def test_bootstrap_matches_percentiles_of_the_same_resamples():
    x = torch.tensor(rng(4).normal(0, 1, 50))
    g = torch.Generator().manual_seed(7)
    r = stats.bootstrap_interval(torch.mean, x, n_resamples=500, confidence=0.9, generator=g)
    g = torch.Generator().manual_seed(7)
    means = [float(x[torch.randint(50, (50,), generator=g)].mean()) for _ in range(500)]
    assert (r.low, r.high) == pytest.approx(tuple(np.quantile(means, [0.05, 0.95])), rel=1e-12)
    assert r.estimate == pytest.approx(float(x.mean())) and r.n_invalid == 0


def test_bootstrap_agrees_with_scipy_percentile_bootstrap():
    x = rng(5).exponential(1.0, 200)
    ours = stats.bootstrap_interval(np.mean, x, n_resamples=4000,
                                    generator=torch.Generator().manual_seed(0))
    ref = scipy.stats.bootstrap((x,), np.mean, n_resamples=4000, method="percentile",
                                random_state=0).confidence_interval
    # two independent Monte Carlo estimates of the same quantiles
    assert ours.low == pytest.approx(ref.low, abs=0.02)
    assert ours.high == pytest.approx(ref.high, abs=0.02)


def test_bootstrap_resamples_rows_jointly_and_counts_undefined_resamples():
    g = rng(6)
    target = torch.tensor([1] + [0] * 19)  # one positive: many resamples have none
    scores = torch.tensor(g.random(20))
    r = stats.bootstrap_interval(M.roc_auc_score, scores, target, n_resamples=200,
                                 generator=torch.Generator().manual_seed(0))
    assert 0 < r.n_invalid < 200
    assert 0.0 <= r.low <= r.high <= 1.0
    # with perfectly separated data every defined resample has AUC 1
    target = torch.tensor([0] * 10 + [1] * 10)
    scores = torch.arange(20.0)
    r = stats.bootstrap_interval(M.roc_auc_score, scores, target, n_resamples=200,
                                 generator=torch.Generator().manual_seed(0))
    assert (r.low, r.high, r.estimate) == (1.0, 1.0, 1.0)


def test_bootstrap_rejects_bad_input():
    x = torch.arange(5.0)
    with pytest.raises(ValueError, match="same number of rows, got 5 and 4"):
        stats.bootstrap_interval(lambda a, b: 0.0, x, x[:4])
    with pytest.raises(ValueError, match="at least one tensor"):
        stats.bootstrap_interval(torch.mean)
    with pytest.raises(ValueError, match="`n_resamples` must be >= 100"):
        stats.bootstrap_interval(torch.mean, x, n_resamples=10)
    with pytest.raises(TypeError, match="`statistic` must be callable"):
        stats.bootstrap_interval(3, x)
    with pytest.raises(ValueError, match="at least 2 rows, got 1"):
        stats.bootstrap_interval(torch.mean, x[:1])
    with pytest.raises(ValueError, match="undefined on 200 of 200 resamples"):
        stats.bootstrap_interval(lambda a: float("nan"), x, n_resamples=200)


# -- mcnemar: parity with scipy.stats.binomtest -------------------------------------------

@pytest.mark.parametrize("b, c", [(6, 0), (0, 6), (12, 4), (4, 12), (5, 5), (1, 0), (30, 18)])
def test_mcnemar_equals_exact_binomial_test(b, c):
    both, neither = 40, 3
    a = [True] * b + [False] * c + [True] * both + [False] * neither
    bb = [False] * b + [True] * c + [True] * both + [False] * neither
    r = stats.mcnemar(torch.tensor(a), np.array(bb))
    assert (r.b, r.c) == (b, c)
    assert r.pvalue == pytest.approx(scipy.stats.binomtest(b, b + c).pvalue, rel=1e-12)
    assert "exact McNemar p =" in str(r)


def test_mcnemar_without_discordant_pairs_has_p_one():
    x = torch.tensor([True, False, True])
    assert stats.mcnemar(x, x).pvalue == 1.0


def test_mcnemar_rejects_bad_input():
    with pytest.raises(ValueError, match="`correct_a` must be a boolean vector"):
        stats.mcnemar(torch.tensor([1, 0]), torch.tensor([True, False]))
    with pytest.raises(ValueError, match="same length, got 2 and 3"):
        stats.mcnemar(torch.tensor([True, False]), torch.tensor([True, False, True]))
    with pytest.raises(ValueError, match="`correct_b` must be a non-empty 1-d vector"):
        stats.mcnemar(torch.tensor([True]), torch.tensor([[True]]))


# -- holm ---------------------------------------------------------------------------------

def test_holm_by_hand_and_properties():
    p = np.array([0.01, 0.04, 0.03, 0.005])
    adj = stats.holm(p)
    # sorted 0.005, 0.01, 0.03, 0.04 → 4·0.005, 3·0.01, 2·0.03, 1·0.04 then running max
    assert adj.tolist() == pytest.approx([0.03, 0.06, 0.06, 0.02])
    assert (adj >= p).all() and (adj <= 1).all()
    assert stats.holm([0.5]).tolist() == [0.5]
    assert stats.holm([0.6, 0.7]).tolist() == [1.0, 1.0]


def test_holm_controls_familywise_error_under_the_null():
    g = rng(8)
    false_claims = np.mean([(stats.holm(g.random(6)) < 0.05).any() for _ in range(3000)])
    assert false_claims <= 0.05 + 0.01


def test_holm_rejects_bad_input():
    with pytest.raises(ValueError, match="must not be empty"):
        stats.holm([])
    with pytest.raises(ValueError, match=r"must lie in \[0, 1\]"):
        stats.holm([0.5, 1.5])
    with pytest.raises(ValueError, match="finite"):
        stats.holm([float("nan")])


# -- repeat and Runs ----------------------------------------------------------------------

def test_repeat_keeps_diverged_runs_apart():
    runs = stats.repeat(lambda s: float("nan") if s == 2 else 0.9 + s / 100, range(5))
    assert runs.seeds == (0, 1, 2, 3, 4) and runs.diverged == (2,)
    assert runs.values().tolist() == pytest.approx([0.90, 0.91, 0.93, 0.94])
    assert runs.finite_seeds == (0, 1, 3, 4) and len(runs) == 5
    assert runs.describe() == "mean 0.920 (sd 0.018) over 4 seeds; 1 of 5 diverged"
    assert runs.count(lambda v: v > 0.92) == 2


def test_runs_of_dicts_and_tensors():
    runs = stats.repeat(lambda s: {"acc": torch.tensor(0.5 + s / 10), "loss": 1.0 / (s + 1)}, 3)
    assert runs["acc"].values().tolist() == pytest.approx([0.5, 0.6, 0.7])
    assert runs["loss"].values()[0] == 1.0
    with pytest.raises(ValueError, match="pick one number first"):
        runs.values()
    with pytest.raises(KeyError, match="no key|missing"):
        runs["nope"]
    plain = stats.repeat(float, 2)
    with pytest.raises(KeyError, match="plain numbers"):
        plain["acc"]


def test_a_diverged_entry_makes_the_whole_run_diverged():
    runs = stats.repeat(lambda s: {"acc": 0.1, "loss": math.inf if s else 1.0}, 2)
    assert runs.diverged == (1,)
    assert runs["acc"].diverged == ()  # that key alone is finite


def test_paired_difference_on_runs_pairs_by_seed_and_reports_exclusions():
    a = stats.repeat(lambda s: 0.9 + s / 100, range(6))
    b = stats.repeat(lambda s: math.nan if s == 3 else 0.89 + s / 100, range(6))
    r = stats.paired_difference(a, b, unit="points")
    assert r.n == 5 and r.excluded == (3,)
    assert r.mean == pytest.approx(0.01)
    assert str(r).endswith("; 1 seed left out because a run diverged")
    other = stats.repeat(lambda s: 0.5, range(1, 7))
    with pytest.raises(ValueError, match="same seeds"):
        stats.paired_difference(a, other)


def test_runs_summaries_when_almost_everything_diverges():
    assert str(stats.repeat(lambda s: math.nan, 3)) == "every one of 3 seeds diverged"
    one = stats.repeat(lambda s: 0.5 if s == 0 else math.nan, 3)
    assert one.describe(digits=2) == "0.50 from the one seed that did not diverge; 2 of 3 diverged"
    assert one.describe(scale=100, unit="%", digits=0).startswith("50 %")
    assert stats.repeat(float, [4, 7]).on([7]).values().tolist() == [7.0]
    with pytest.raises(ValueError, match="must be among"):
        stats.repeat(float, [4, 7]).on([5])


@pytest.mark.parametrize("fn, seeds, error, match", [
    (float, [], ValueError, "must not be empty"),
    (float, [1, 1], ValueError, "distinct"),
    (float, [-1], ValueError, r"`seeds\[0\]` must be >= 0"),
    (float, 0, ValueError, "`seeds` must be >= 1"),
    ("f", 3, TypeError, "`fn` must be callable"),
    (lambda s: "x", 1, TypeError, "must return a number"),
    (lambda s: True, 1, TypeError, "must return a number"),
    (lambda s: torch.ones(2), 1, ValueError, "tensor of shape"),
])
def test_repeat_rejects_bad_input(fn, seeds, error, match):
    with pytest.raises(error, match=match):
        stats.repeat(fn, seeds)


def test_runs_reject_mismatched_lengths():
    with pytest.raises(ValueError, match="same length"):
        stats.Runs((0, 1), (1.0,))


def test_functions_take_runs_directly():
    runs = stats.repeat(lambda s: math.nan if s == 0 else float(s), 4)
    r = stats.mean_interval(runs)
    assert r.estimate == 2.0  # the diverged seed is not a number
