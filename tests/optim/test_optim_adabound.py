"""dlcore.optim.adabound: AdaBound and AMSBound by hand (PyTorch has none), its bounds, their
convergence to SGD, an lr schedule, state_dict round trips, a parameter without gradient, bad
hyperparameters."""

import copy
import math

import optim_contract as contract
import pytest
import torch
from optim_contract import DT

from dlcore import optim as O

test_state_dict_round_trip_continues_identically = contract.round_trip([
    (O.AdaBound, dict(lr=1e-2, amsbound=True, weight_decay=1e-3)),
])

test_grad_none_is_untouched_and_caller_grad_is_not_modified = contract.grad_none([
    (O.AdaBound, dict(weight_decay=0.1)),
])

test_bad_hyperparameters_are_rejected_naming_the_argument = contract.bad_hyperparameters([
    (O.AdaBound, dict(lr=0.0), ValueError, "`lr` must be > 0, got 0.0"),
    (O.AdaBound, dict(final_lr=-0.1), ValueError, "`final_lr` must be >= 0"),
    (O.AdaBound, dict(gamma=0.0), ValueError, "`gamma` must be > 0"),
    (O.AdaBound, dict(gamma=1.0), ValueError, "`gamma` must be < 1"),
    (O.AdaBound, dict(betas=(0.9, 1.5)), ValueError, "`betas\\[1\\]` must be < 1"),
    (O.AdaBound, dict(amsbound=0), TypeError, "`amsbound` must be a bool"),
])


# --------------------------------------------------------------------------- by hand


@pytest.mark.parametrize("amsbound", [False, True])
@pytest.mark.parametrize("weight_decay", [0.0, 0.05])
def test_adabound_first_two_steps_by_hand(amsbound, weight_decay):
    lr, final_lr, gamma, beta1, beta2, eps = 0.01, 0.1, 0.1, 0.9, 0.999, 1e-8
    theta0 = [0.5, -1.0, 2.0, 0.3]
    # step 1: a moderate, a large-ish, a tiny (→ upper bound) and a huge (→ lower bound) grad;
    # step 2: the last coordinate's gradient collapses, so v_2 < v_1 there (AMSBound differs)
    g1 = [0.2, -3.0, 1e-4, 50.0]
    g2 = [0.1, 2.0, -1e-4, 1e-3]
    w = torch.tensor(theta0, dtype=DT, requires_grad=True)
    opt = O.AdaBound([w], lr=lr, final_lr=final_lr, gamma=gamma, weight_decay=weight_decay,
                     amsbound=amsbound)

    # the reference implementation's algorithm, one coordinate at a time in plain floats
    expected, m, v, v_max = [], [0.0] * 4, [0.0] * 4, [0.0] * 4
    theta = list(theta0)
    for t, grads in ((1, g1), (2, g2)):
        lower = final_lr * (1 - 1 / (gamma * t + 1))  # t=1: 0.1·(1 - 1/1.1) = 0.00909
        upper = final_lr * (1 + 1 / (gamma * t))      # t=1: 0.1·(1 + 10)   = 1.1
        alpha_t = lr * math.sqrt(1 - beta2**t) / (1 - beta1**t)
        for i in range(4):
            g = grads[i] + weight_decay * theta[i]
            m[i] = beta1 * m[i] + (1 - beta1) * g
            v[i] = beta2 * v[i] + (1 - beta2) * g * g
            v_max[i] = max(v_max[i], v[i])
            denom = math.sqrt(v_max[i] if amsbound else v[i]) + eps
            eta = min(max(alpha_t / denom, lower), upper)
            theta[i] -= eta * m[i]
        expected.append(list(theta))

    for t, grads in enumerate((g1, g2)):
        w.grad = torch.tensor(grads, dtype=DT)
        opt.step()
        torch.testing.assert_close(w.detach(), torch.tensor(expected[t], dtype=DT),
                                   rtol=1e-13, atol=1e-15)
    if weight_decay == 0.0 and not amsbound:
        # written out: coordinate 0, step 1 is unclipped Adam, |Δθ| = α·√(1-β2)/(1-β1)·m/√v
        m1, v1 = 0.1 * 0.2, 0.001 * 0.04
        step1 = 0.01 * math.sqrt(0.001) / 0.1 / (math.sqrt(v1) + 1e-8) * m1
        assert step1 == pytest.approx(0.01, rel=1e-5)  # Adam's first step ≈ lr (ε aside)
        assert expected[0][0] == pytest.approx(0.5 - step1, rel=1e-15)
        # coordinate 2 hits the upper bound 1.1, coordinate 3 the lower bound 0.1·(1 - 1/1.1)
        assert expected[0][2] == pytest.approx(2.0 - 1.1 * 0.1 * 1e-4, rel=1e-15)
        assert expected[0][3] == pytest.approx(0.3 - 0.1 * (1 - 1 / 1.1) * 0.1 * 50.0, rel=1e-14)
    state = opt.state[w]
    assert state["step"] == 2 and ("max_exp_avg_sq" in state) == amsbound


def test_adabound_effective_rate_is_clipped_into_the_bounds():
    g = torch.Generator().manual_seed(0)
    n = 2000
    # θ = 0 (no weight decay, so θ does not enter the step): then θ_new = -η ⊙ m exactly
    zero = torch.zeros(n, dtype=DT)
    m, v = torch.zeros(n, dtype=DT), torch.zeros(n, dtype=DT)
    kw = dict(lr=1e-2, final_lr=0.05, gamma=0.01, beta1=0.9, beta2=0.999, eps=1e-8)
    hit_lower = hit_upper = 0
    for step in range(1, 30):
        # gradients spread over ten orders of magnitude, so both bounds bind somewhere
        magnitude = 10.0 ** torch.empty(n, dtype=DT).uniform_(-6, 4, generator=g)
        grad = torch.randn(n, generator=g, dtype=DT) * magnitude
        new_theta, m, v, _ = O.adabound_update(zero, grad, m, v, step=step, **kw)
        eta = -new_theta / m  # the per-coordinate rate actually used
        lower, upper = O.adabound_bounds(step, final_lr=0.05, gamma=0.01)
        assert (eta >= lower * (1 - 1e-12)).all() and (eta <= upper * (1 + 1e-12)).all()
        hit_lower += int(torch.isclose(eta, torch.tensor(lower, dtype=DT), rtol=1e-9).sum())
        hit_upper += int(torch.isclose(eta, torch.tensor(upper, dtype=DT), rtol=1e-9).sum())
    assert hit_lower > 100 and hit_upper > 100  # both bounds were active


def test_adabound_bounds_converge_to_final_lr():
    steps = [1, 10, 100, 10**3, 10**4, 10**6, 10**9]
    bounds = [O.adabound_bounds(t, final_lr=0.1, gamma=1e-3) for t in steps]
    lows, ups = zip(*bounds, strict=True)
    assert all(a < b for a, b in zip(lows, lows[1:], strict=False))  # lower bound rises
    assert all(a > b for a, b in zip(ups, ups[1:], strict=False))  # upper bound falls
    assert all(lo < 0.1 < up for lo, up in bounds)
    assert lows[-1] == pytest.approx(0.1, rel=1e-5) and ups[-1] == pytest.approx(0.1, rel=1e-5)
    # at t = 1/γ: lower = η*/2 and upper = 2η*
    assert O.adabound_bounds(1000, final_lr=0.1, gamma=1e-3) == pytest.approx((0.05, 0.2))


def test_adabound_late_steps_are_sgd_with_final_lr():
    # with a fast γ the bounds pinch to final_lr: the update becomes θ - final_lr·m
    w = torch.tensor([1.0, -2.0, 3.0], dtype=DT, requires_grad=True)
    opt = O.AdaBound([w], lr=1e-3, final_lr=0.02, gamma=0.9)
    for _ in range(5000):
        w.grad = 2 * w.detach()
        before = w.detach().clone()
        opt.step()
    m = opt.state[w]["exp_avg"]
    torch.testing.assert_close((before - w.detach()) / m, torch.full((3,), 0.02, dtype=DT),
                               rtol=1e-3, atol=0)


def test_adabound_bounds_follow_an_lr_schedule_and_survive_state_dict():
    w = torch.tensor([1.0, -1.0], dtype=DT, requires_grad=True)
    opt = O.AdaBound([w], lr=1e-2, final_lr=0.1, gamma=1e-3)
    assert opt.param_groups[0]["base_lr"] == 1e-2
    opt.param_groups[0]["lr"] = 5e-3  # a scheduler halves the lr
    w.grad = torch.tensor([1e-6, 1e-6], dtype=DT)  # tiny gradient: the upper bound binds
    opt.step()
    upper = O.adabound_bounds(1, final_lr=0.05, gamma=1e-3)[1]  # final_lr·lr/base_lr
    m = opt.state[w]["exp_avg"]
    torch.testing.assert_close(1 - w.detach()[0], upper * m[0], rtol=1e-12, atol=0)
    # a fresh optimizer built with another lr takes base_lr from the state_dict
    fresh = O.AdaBound([w], lr=0.7)
    fresh.load_state_dict(copy.deepcopy(opt.state_dict()))
    assert fresh.param_groups[0]["base_lr"] == 1e-2 and fresh.param_groups[0]["lr"] == 5e-3
    # a group may bring its own base_lr (e.g. resumed by hand); it must be positive
    resumed = O.AdaBound([{"params": [w], "lr": 1e-3, "base_lr": 4e-3}])
    assert resumed.param_groups[0]["base_lr"] == 4e-3
    with pytest.raises(ValueError, match="`base_lr` must be > 0, got 0"):
        O.AdaBound([{"params": [w], "lr": 1e-3, "base_lr": 0}])
