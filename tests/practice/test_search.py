"""Tests of dlcore.practice.search: the LR range test, random and grid search."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from scipy import stats as sps

from dlcore.data import Split
from dlcore.practice import search
from dlcore.practice.search import (
    Dimension,
    choice,
    grid_search,
    integers,
    log_uniform,
    lr_range_test,
    random_search,
    uniform,
)


def _sgd(params):
    return torch.optim.SGD(params, lr=1.0)


def _mse(out, target):
    return 0.5 * ((out - target) ** 2).mean()


def _classification(n=96, d=4, seed=0):
    gen = torch.Generator().manual_seed(seed)
    X = torch.randn(n, d, generator=gen)
    y = (X[:, 0] > 0).long()
    return Split(X, y, None, None, num_classes=2)


def _line(n=50):
    X = torch.linspace(-2, 2, n, dtype=torch.float64)[:, None]
    return Split(X, 3 * X, None, None, num_classes=1), float((X ** 2).mean())


def _zero_linear(d=1):
    net = torch.nn.Linear(d, 1, bias=False).double()
    torch.nn.init.zeros_(net.weight)
    return net


# ---------------------------------------------------------------- the range test
def test_rate_schedule_is_geometric_from_lr_min_to_lr_max():
    test = lr_range_test(torch.nn.Linear(4, 2), _classification(), make_optimizer=_sgd,
                         lr_min=1e-5, lr_max=1e-1, steps=30, batch_size=16,
                         diverge=1e9, generator=torch.Generator().manual_seed(0), device="cpu")
    assert len(test.lrs) == 30 and not test.diverged
    assert test.lrs[0] == pytest.approx(1e-5, rel=1e-12)
    assert test.lrs[-1] == pytest.approx(1e-1, rel=1e-12)
    ratios = test.lrs[1:] / test.lrs[:-1]
    np.testing.assert_allclose(ratios, (1e4) ** (1 / 29), rtol=1e-10)


def test_losses_and_smoothing_match_a_hand_loop():
    data, beta, steps, bs = _classification(), 0.9, 25, 32
    torch.manual_seed(3)
    model = torch.nn.Linear(4, 2)
    test = lr_range_test(model, data, make_optimizer=lambda p: torch.optim.SGD(
        p, lr=1.0, momentum=0.9), lr_min=1e-3, lr_max=1.0, steps=steps, beta=beta,
        batch_size=bs, diverge=1e9, generator=torch.Generator().manual_seed(7), device="cpu")
    # the same run by hand: passes of n // bs batches, reshuffled each pass
    import copy
    net = copy.deepcopy(model)
    opt = torch.optim.SGD(net.parameters(), lr=1.0, momentum=0.9)
    gen = torch.Generator().manual_seed(7)
    losses, smoothed, m, order, start = [], [], 0.0, torch.randperm(96, generator=gen), 0
    for t in range(steps):
        if start + bs > 96:
            order, start = torch.randperm(96, generator=gen), 0
        idx = order[start:start + bs]
        start += bs
        for g in opt.param_groups:
            g["lr"] = 1e-3 * 1000 ** (t / (steps - 1))
        loss = torch.nn.functional.cross_entropy(net(data.X_train[idx]), data.y_train[idx])
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
        m = beta * m + (1 - beta) * loss.item()
        smoothed.append(m / (1 - beta ** (t + 1)))
    np.testing.assert_allclose(test.losses, losses, rtol=1e-6)
    np.testing.assert_allclose(test.smoothed, smoothed, rtol=1e-6)
    # the first smoothed value is the first loss (bias correction)
    assert test.smoothed[0] == pytest.approx(test.losses[0])


def test_stop_rule_fires_at_the_first_smoothed_loss_above_diverge_times_the_minimum():
    data, _ = _line()
    test = lr_range_test(_zero_linear(), data, make_optimizer=_sgd, lr_min=1e-3, lr_max=10.0,
                         steps=100, beta=0.5, diverge=4.0, batch_size=64, loss_fn=_mse,
                         device="cpu")
    assert test.diverged
    s = test.smoothed
    running_min = np.minimum.accumulate(s)
    assert s[-1] > 4.0 * running_min[-1]
    assert np.all(s[:-1] <= 4.0 * running_min[:-1])
    assert "diverged" in str(test)


def _prescribed(values):
    """A loss that returns values[0], values[1], … whatever the model does (with a graph)."""
    calls = iter(values)

    def loss_fn(out, target):
        return out.sum() * 0.0 + next(calls)
    return loss_fn


@pytest.mark.parametrize("diverge, stop", [(4.0, 15), (2.0, 8), (1.5, 5)])
def test_stop_rule_factor_is_exact_on_a_slowly_rising_loss(diverge, stop):
    # beta = 0: the smoothed loss is the loss 1, 1.1, 1.1², …; the minimum stays 1, so the
    # run stops at the first t with 1.1^t > diverge (15 for 4: 1.1^14 = 3.80, 1.1^15 = 4.18)
    data, _ = _line()
    test = lr_range_test(_zero_linear(), data, make_optimizer=_sgd, lr_min=1e-6, lr_max=1e-5,
                         steps=40, beta=0.0, diverge=diverge, batch_size=64, device="cpu",
                         loss_fn=_prescribed([1.1 ** t for t in range(40)]))
    assert test.diverged and len(test.lrs) == stop + 1
    np.testing.assert_allclose(test.smoothed, 1.1 ** np.arange(stop + 1))


def test_infinite_diverge_switches_the_stop_off():
    data, _ = _line()
    values = [1.0] + [100.0] * 29
    test = lr_range_test(_zero_linear(), data, make_optimizer=_sgd, lr_min=1e-6, lr_max=1e-5,
                         steps=30, beta=0.0, diverge=math.inf, batch_size=64, device="cpu",
                         loss_fn=_prescribed(values))
    assert len(test.lrs) == 30 and not test.diverged
    stopped = lr_range_test(_zero_linear(), data, make_optimizer=_sgd, lr_min=1e-6,
                            lr_max=1e-5, steps=30, beta=0.0, batch_size=64, device="cpu",
                            loss_fn=_prescribed(values))
    assert len(stopped.lrs) == 2 and stopped.diverged


def test_non_finite_loss_stops_the_run():
    data, _ = _line()
    calls = []

    def loss_fn(out, target):  # finite for 30 steps, then NaN
        calls.append(1)
        return _mse(out, target) * (math.nan if len(calls) > 30 else 1.0)
    test = lr_range_test(_zero_linear(), data, make_optimizer=_sgd, lr_min=1e-6, lr_max=1e-5,
                         steps=60, beta=0.9, batch_size=64, loss_fn=loss_fn, device="cpu")
    assert test.diverged and len(test.lrs) == 31 and not math.isfinite(test.losses[-1])
    assert math.isfinite(test.lr_at_minimum)


def test_model_and_global_rng_untouched():
    model = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.Dropout(0.5),
                                torch.nn.Linear(8, 2))
    model.eval()
    for p in model.parameters():  # pre-existing gradients must survive too
        p.grad = torch.full_like(p, 0.5)
    before = [p.detach().clone() for p in model.parameters()]
    torch.manual_seed(11)
    state = torch.get_rng_state()
    lr_range_test(model, _classification(), make_optimizer=_sgd, steps=20, batch_size=16,
                  device="cpu")
    assert torch.equal(torch.get_rng_state(), state)
    assert not model.training
    assert all(torch.equal(p.grad, torch.full_like(p, 0.5)) for p in model.parameters())
    assert all(torch.equal(a, b) for a, b in zip(before, model.parameters(), strict=True))


def test_deterministic_with_a_generator():
    def run():
        torch.manual_seed(0)
        return lr_range_test(torch.nn.Linear(4, 2), _classification(), make_optimizer=_sgd,
                             steps=40, batch_size=16,
                             generator=torch.Generator().manual_seed(5), device="cpu")
    a, b = run(), run()
    np.testing.assert_array_equal(a.losses, b.losses)
    assert a.suggestion_steep == b.suggestion_steep


def test_quadratic_loss_first_rises_exactly_above_two_over_lambda():
    """Full-batch GD on 1/2·mean((wx - y)²): e ← (1 - ηλ) e with λ = mean(x²), so the loss
    rises at step t exactly when η_t > 2/λ, and the stop lands a few steps later."""
    data, lam = _line()
    test = lr_range_test(_zero_linear(), data, make_optimizer=_sgd, lr_min=1e-3, lr_max=10.0,
                         steps=100, beta=0.0, batch_size=64, loss_fn=_mse, device="cpu")
    first_rise = np.nonzero(np.diff(test.losses) > 0)[0][0]
    first_above = np.nonzero(test.lrs > 2 / lam)[0][0]
    assert first_rise == first_above
    assert test.diverged and 2 / lam < test.lrs[-1] < 2 * (2 / lam)


def test_quadratic_never_stops_below_two_over_lambda_max():
    """In d dimensions every eigen-component contracts while η < 2/λ_max: the loss cannot
    rise, so the test cannot stop there."""
    gen = torch.Generator().manual_seed(1)
    X = torch.randn(200, 5, generator=gen, dtype=torch.float64) * torch.tensor(
        [3.0, 1.0, 1.0, 0.5, 0.2], dtype=torch.float64)
    y = X @ torch.randn(5, 1, generator=gen, dtype=torch.float64)
    y = y + 0.1 * torch.randn(200, 1, generator=gen, dtype=torch.float64)
    lam_max = float(torch.linalg.eigvalsh(X.T @ X / 200).max())
    test = lr_range_test(_zero_linear(5), Split(X, y, None, None, 1), make_optimizer=_sgd,
                         lr_min=1e-3, lr_max=10.0, steps=200, beta=0.0, batch_size=200,
                         loss_fn=_mse, device="cpu")
    below = test.lrs < 2 / lam_max
    assert np.all(np.diff(test.losses)[below[:-1]] <= 1e-12)
    assert test.diverged and test.lrs[-1] > 2 / lam_max


def test_suggestions_follow_the_fastai_rules():
    lrs = np.geomspace(1e-4, 1.0, 40)
    smoothed = np.concatenate([np.full(10, 2.0), np.linspace(2.0, 0.5, 20), np.full(10, 5.0)])
    smoothed[15] = 0.2  # a dip in the window: the minimum rule finds it
    at_min, steep = search._suggest(lrs, smoothed, 40)
    window = slice(4, 35)
    assert at_min == pytest.approx(lrs[15])
    slope = np.diff(smoothed[window]) / np.diff(np.log(lrs[window]))
    assert steep == pytest.approx(lrs[window][np.argmin(slope)])
    # too few points to trim: all of them; one point: both rules give it
    assert search._suggest(lrs[:5], np.array([3.0, 2.0, 1.0, 2.0, 9.0]), 5)[0] == lrs[2]
    assert search._suggest(lrs[:1], np.array([1.0]), 1) == (lrs[0], lrs[0])


def test_trim_window_is_fastais():
    # the window is [T // 10, len - 5): with T = 40, [4, 35). A lower point at 2 (outside) is
    # ignored; the steepest drop 5 → 6 and the lowest point 7 (inside) are found
    lrs = np.geomspace(1e-4, 1.0, 40)
    smoothed = np.full(40, 2.0)
    smoothed[2], smoothed[6], smoothed[7] = 0.1, 1.0, 0.9
    smoothed[35:] = 0.05  # the last five: ignored as well
    assert search._suggest(lrs, smoothed, 40) == (lrs[7], lrs[5])
    # after an early stop the start still counts the steps requested (fastai's num_it // 10):
    # 30 recorded of 100 requested, window [10, 25)
    smoothed = np.full(30, 2.0)
    smoothed[9], smoothed[12] = 0.1, 1.0
    assert search._suggest(lrs[:30], smoothed, 100) == (lrs[12], lrs[11])


def test_range_test_on_a_real_model_finds_a_rate_below_the_explosion():
    test = lr_range_test(torch.nn.Linear(4, 2), _classification(), make_optimizer=_sgd,
                         lr_min=1e-4, lr_max=1e4, steps=80, batch_size=16,
                         generator=torch.Generator().manual_seed(0), device="cpu")
    assert test.suggestion_minimum == pytest.approx(test.lr_at_minimum / 10)
    assert test.lrs[0] <= test.suggestion_steep <= test.lrs[-1]
    assert "suggestions" in str(test)


@pytest.mark.parametrize("kwargs, match", [
    ({"lr_min": 0.0}, "lr_min"), ({"lr_max": -1.0}, "lr_max"),
    ({"lr_min": 1.0, "lr_max": 0.5}, "lr_max"), ({"steps": 1}, "steps"),
    ({"beta": 1.0}, "beta"), ({"diverge": 1.0}, "diverge"), ({"diverge": math.nan}, "diverge"),
    ({"diverge": -math.inf}, "diverge"), ({"batch_size": 0}, "batch_size"),
])
def test_range_test_bad_input(kwargs, match):
    with pytest.raises(ValueError, match=match):
        lr_range_test(torch.nn.Linear(4, 2), _classification(), make_optimizer=_sgd,
                      device="cpu", **kwargs)


def test_range_test_empty_training_part():
    empty = Split(torch.zeros(0, 4), torch.zeros(0, dtype=torch.long), None, None, 2)
    with pytest.raises(ValueError, match="`data`.*empty"):
        lr_range_test(torch.nn.Linear(4, 2), empty, make_optimizer=_sgd, device="cpu")


def test_range_test_bad_types():
    with pytest.raises(TypeError, match="data"):
        lr_range_test(torch.nn.Linear(4, 2), (1, 2), make_optimizer=_sgd)
    with pytest.raises(TypeError, match="make_optimizer"):
        lr_range_test(torch.nn.Linear(4, 2), _classification(), make_optimizer=0.1)
    with pytest.raises(TypeError, match="loss_fn"):
        lr_range_test(torch.nn.Linear(4, 2), _classification(), make_optimizer=_sgd,
                      loss_fn="mse")


def test_default_device_runs():
    test = lr_range_test(torch.nn.Linear(4, 2), _classification(), make_optimizer=_sgd,
                         steps=5, batch_size=500)  # batch larger than the data: full batch
    assert len(test.lrs) <= 5


# ---------------------------------------------------------------- search spaces
SPACE = {"lr": log_uniform(1e-4, 1.0), "p": uniform(-1.0, 2.0), "width": integers(2, 5),
         "act": choice(["relu", "tanh", "gelu"])}


def _draw(seed, n=2000):
    gen = torch.Generator().manual_seed(seed)
    return [{k: d.sample(gen) for k, d in SPACE.items()} for _ in range(n)]


def test_samples_lie_inside_their_bounds_and_cover_them():
    draws = _draw(0)
    lr = np.array([d["lr"] for d in draws])
    p = np.array([d["p"] for d in draws])
    width = [d["width"] for d in draws]
    assert lr.min() >= 1e-4 and lr.max() <= 1.0
    assert p.min() >= -1.0 and p.max() < 2.0
    assert set(width) == {2, 3, 4, 5} and all(isinstance(w, int) for w in width)
    assert {d["act"] for d in draws} == {"relu", "tanh", "gelu"}


def test_log_uniform_is_uniform_in_log_space_ks():
    lr = np.array([d["lr"] for d in _draw(1)])
    u = (np.log(lr) - np.log(1e-4)) / (np.log(1.0) - np.log(1e-4))
    assert sps.kstest(u, "uniform").pvalue > 0.01
    # and NOT uniform on the raw scale (the test has power)
    assert sps.kstest(lr, "uniform").pvalue < 1e-6
    p = np.array([d["p"] for d in _draw(2)])
    assert sps.kstest((p + 1.0) / 3.0, "uniform").pvalue > 0.01


def test_integer_and_choice_frequencies_chi_square():
    draws = _draw(3, 4000)
    counts = np.bincount([d["width"] - 2 for d in draws], minlength=4)
    assert sps.chisquare(counts).pvalue > 0.01
    acts = [d["act"] for d in draws]
    assert sps.chisquare([acts.count(a) for a in ("relu", "tanh", "gelu")]).pvalue > 0.01


def test_grids():
    assert log_uniform(1e-3, 1e1).grid(5) == pytest.approx([1e-3, 1e-2, 1e-1, 1.0, 1e1])
    assert uniform(0.0, 1.0).grid(1) == [0.5]
    assert log_uniform(1e-2, 1.0).grid(1) == pytest.approx([0.1])
    assert integers(0, 10).grid(3) == [0, 5, 10]
    assert choice([1, 2, 3]).grid(2) == [1, 2, 3]
    with pytest.raises(ValueError, match="k"):
        uniform(0.0, 1.0).grid(0)


@pytest.mark.parametrize("make, args, match", [
    (log_uniform, (0.0, 1.0), "low"), (log_uniform, (1.0, 1.0), "high"),
    (uniform, (2.0, 1.0), "high"), (uniform, (math.nan, 1.0), "low"),
    (integers, (0.5, 3), "low"), (integers, (3, 3), "high"),
])
def test_dimension_bad_input(make, args, match):
    with pytest.raises((ValueError, TypeError), match=match):
        make(*args)


def test_choice_bad_input():
    for bad in ([], "abc", 3):
        with pytest.raises(ValueError, match="options"):
            choice(bad)


def test_dimension_checks_its_fields():
    with pytest.raises(ValueError, match="kind"):
        Dimension("bogus", 0.0, 1.0)
    with pytest.raises(ValueError, match="high"):
        Dimension("uniform", 1.0, 0.0)
    with pytest.raises(ValueError, match="low"):
        Dimension("log_uniform", -1.0, 1.0)
    with pytest.raises(ValueError, match="options"):
        Dimension("choice")


# ---------------------------------------------------------------- random and grid search
def test_random_search_reproducible_with_a_generator():
    def objective(lr, p, width, act):
        return (math.log10(lr) + 2) ** 2 + p ** 2 + width + len(act)
    a = random_search(objective, SPACE, trials=20, generator=torch.Generator().manual_seed(4))
    b = random_search(objective, SPACE, trials=20, generator=torch.Generator().manual_seed(4))
    c = random_search(objective, SPACE, trials=20, generator=torch.Generator().manual_seed(5))
    assert a.trials == b.trials and a.trials != c.trials
    assert len(a.trials) == 20
    assert a.best.value == a.values.min()
    # the trials are the sampler's draws in order: entries drawn in the dict's order
    gen = torch.Generator().manual_seed(4)
    first = {k: d.sample(gen) for k, d in SPACE.items()}
    assert a.trials[0].params == first


def test_grid_search_enumerates_the_product_in_order():
    seen = []

    def objective(a, b):
        seen.append((a, b))
        return torch.tensor(float(a - b))  # a tensor value is accepted
    result = grid_search(objective, {"a": [1, 2, 3], "b": [10, 20]}, mode="max")
    assert seen == [(1, 10), (1, 20), (2, 10), (2, 20), (3, 10), (3, 20)]
    assert result.best.params == {"a": 3, "b": 10} and result.best.value == -7.0
    assert isinstance(result.trials[0].value, float)


def test_non_finite_trials_are_never_best():
    result = grid_search(lambda x: x, {"x": [math.nan, 3.0, math.inf, 2.0]})
    assert result.best.params == {"x": 2.0}
    none = grid_search(lambda x: x, {"x": [math.nan]})
    assert none.best is None and "none finite" in str(none)


def test_str_is_a_table_with_the_best():
    result = random_search(lambda lr, act: lr, {"lr": log_uniform(1e-3, 1.0),
                                                "act": choice(["relu"])},
                           trials=3, generator=torch.Generator().manual_seed(0))
    text = str(result)
    assert text.splitlines()[0] == "# | lr | act | value"
    assert len(text.splitlines()) == 5 and "best (min)" in text and "relu" in text


def test_search_bad_input():
    with pytest.raises(TypeError, match="objective"):
        grid_search(3, {"x": [1]})
    with pytest.raises(ValueError, match="mode"):
        grid_search(lambda x: x, {"x": [1]}, mode="best")
    with pytest.raises(ValueError, match="grid"):
        grid_search(lambda x: x, {})
    with pytest.raises(ValueError, match="grid"):
        grid_search(lambda x: x, {"x": []})
    with pytest.raises(ValueError, match="space"):
        random_search(lambda x: x, [("x", uniform(0, 1))], trials=2)
    with pytest.raises(TypeError, match="space"):
        random_search(lambda x: x, {"x": [0, 1]}, trials=2)
    with pytest.raises(ValueError, match="trials"):
        random_search(lambda x: x, {"x": uniform(0, 1)}, trials=0)
    for bad in ("a", None, torch.ones(2)):
        with pytest.raises(ValueError, match=r"`objective` must return a number.*'x': 1"):
            grid_search(lambda x, bad=bad: bad, {"x": [1]})


def test_dimension_is_a_plain_record():
    dim = Dimension("uniform", 0.0, 1.0)
    assert dim == uniform(0.0, 1.0)
