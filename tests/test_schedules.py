"""dlcore.schedules against torch.optim.lr_scheduler at every step (three or more settings each),
hand-computed points, the Transformer formula of Vaswani et al., the LambdaLR adapter and bad
arguments."""

import math

import pytest
import torch
from torch.optim import lr_scheduler as L

from dlcore import optim as O
from dlcore import schedules as S

# Closed forms against PyTorch's recursive updates (η_t = γ η_{t-1}, CosineAnnealingLR's ratio
# of cosines): equal up to accumulated rounding, a few ulps over these horizons.
RTOL = 1e-12


def torch_lrs(make_scheduler, steps, lr=1.0):
    """The lr that PyTorch's scheduler gives optimizer steps 0 .. steps-1."""
    w = torch.zeros(1, requires_grad=True)
    opt = torch.optim.SGD([w], lr=lr)
    sched = make_scheduler(opt)
    lrs = [opt.param_groups[0]["lr"]]
    for _ in range(steps - 1):
        opt.step()
        sched.step()
        lrs.append(opt.param_groups[0]["lr"])
    return lrs


def ours(schedule, steps, **kw):
    return [schedule(t, **kw) for t in range(steps)]


def assert_equal_lrs(got, want, rtol=RTOL, atol=1e-15):
    assert len(got) == len(want)
    for t, (a, b) in enumerate(zip(got, want, strict=True)):
        assert a == pytest.approx(b, rel=rtol, abs=atol), f"step {t}: {a} != {b}"


# --------------------------------------------------------------------------- parity with torch


@pytest.mark.parametrize("base_lr,step_size,gamma", [(0.1, 3, 0.1), (1.0, 1, 0.5),
                                                      (0.05, 7, 0.9)])
def test_step_decay_equals_StepLR(base_lr, step_size, gamma):
    want = torch_lrs(lambda o: L.StepLR(o, step_size, gamma), 60, lr=base_lr)
    assert_equal_lrs(ours(S.step_decay, 60, base_lr=base_lr, step_size=step_size, gamma=gamma),
                     want)


@pytest.mark.parametrize("base_lr,gamma", [(0.1, 0.9), (1.0, 0.99), (0.3, 1.0), (2.0, 0.5)])
def test_exponential_decay_equals_ExponentialLR(base_lr, gamma):
    want = torch_lrs(lambda o: L.ExponentialLR(o, gamma), 60, lr=base_lr)
    assert_equal_lrs(ours(S.exponential_decay, 60, base_lr=base_lr, gamma=gamma), want)


@pytest.mark.parametrize("base_lr,warmup,start", [(0.3, 5, 1 / 3), (0.1, 10, 0.1),
                                                  (1.0, 3, 1.0), (0.5, 1, 0.5)])
def test_linear_warmup_equals_LinearLR(base_lr, warmup, start):
    want = torch_lrs(lambda o: L.LinearLR(o, start_factor=start, total_iters=warmup), 30,
                     lr=base_lr)
    got = ours(S.linear_warmup, 30, base_lr=base_lr, warmup_steps=warmup, start_factor=start)
    assert_equal_lrs(got, want)


@pytest.mark.parametrize("base_lr,total,min_lr", [(0.1, 10, 0.0), (1.0, 50, 1e-3),
                                                  (0.5, 1, 0.01), (0.2, 97, 0.05)])
def test_cosine_decay_equals_CosineAnnealingLR(base_lr, total, min_lr):
    # t in [0, T]: afterwards torch keeps following the cosine, we stay at min_lr
    want = torch_lrs(lambda o: L.CosineAnnealingLR(o, T_max=total, eta_min=min_lr), total + 1,
                     lr=base_lr)
    got = ours(S.cosine_decay, total + 1, base_lr=base_lr, total_steps=total, min_lr=min_lr)
    # torch's recursive form: tolerance relative to base_lr, since the end is close to 0
    assert_equal_lrs(got, want, rtol=RTOL, atol=1e-12 * base_lr)
    assert S.cosine_decay(total + 5, base_lr=base_lr, total_steps=total, min_lr=min_lr) == min_lr


@pytest.mark.parametrize("base_lr,period,mult,min_lr", [(0.1, 5, 1, 0.0), (1.0, 3, 2, 1e-3),
                                                        (0.5, 1, 3, 0.0), (0.2, 4, 1, 0.01)])
def test_cosine_restarts_equals_CosineAnnealingWarmRestarts(base_lr, period, mult, min_lr):
    def make(o):
        return L.CosineAnnealingWarmRestarts(o, T_0=period, T_mult=mult, eta_min=min_lr)

    want = torch_lrs(make, 150, lr=base_lr)
    got = ours(S.cosine_restarts, 150, base_lr=base_lr, period=period, period_mult=mult,
               min_lr=min_lr)
    assert_equal_lrs(got, want)


@pytest.mark.parametrize("base_lr,max_lr,step_size", [(1e-3, 0.1, 4), (0.01, 0.02, 1),
                                                      (0.0, 1.0, 10)])
def test_triangular_equals_CyclicLR(base_lr, max_lr, step_size):
    def make(o):
        return L.CyclicLR(o, base_lr=base_lr, max_lr=max_lr, step_size_up=step_size,
                          mode="triangular", cycle_momentum=False)

    want = torch_lrs(make, 100)
    assert_equal_lrs(ours(S.triangular, 100, base_lr=base_lr, max_lr=max_lr,
                          step_size=step_size), want)


ONE_CYCLE = [
    dict(max_lr=0.1, total_steps=100),
    dict(max_lr=1.0, total_steps=37, pct_start=0.25, div_factor=10.0, final_div_factor=100.0),
    dict(max_lr=0.5, total_steps=10, pct_start=0.5),
    dict(max_lr=2.0, total_steps=5),  # peak at the fractional step 0.3·5 - 1 = 0.5
    dict(max_lr=0.3, total_steps=20, pct_start=0.0),  # no warm-up phase at all
]


@pytest.mark.parametrize("kw", ONE_CYCLE)
def test_one_cycle_equals_OneCycleLR(kw):
    def make(o):
        return L.OneCycleLR(o, cycle_momentum=False, anneal_strategy="cos", three_phase=False,
                            **kw)

    n = kw["total_steps"] + 1  # torch allows stepping up to t = total_steps
    assert_equal_lrs(ours(S.one_cycle, n, **kw), torch_lrs(make, n))


# --------------------------------------------------------------------------- hand-computed points


def test_hand_computed_points():
    assert S.step_decay(7, base_lr=1.0, step_size=3, gamma=0.5) == 0.25
    assert S.step_decay(2, base_lr=1.0, step_size=3) == 1.0
    assert S.exponential_decay(2, base_lr=2.0, gamma=0.5) == 0.5
    assert S.linear_warmup(0, base_lr=0.3, warmup_steps=3) == pytest.approx(0.1)
    assert S.linear_warmup(99, base_lr=0.3, warmup_steps=3) == pytest.approx(0.3)
    # cosine: half-way is the mean of the ends; warm-up from 0 reaches base_lr at t = w
    assert S.cosine_decay(5, base_lr=1.0, total_steps=10) == pytest.approx(0.5)
    assert S.cosine_decay(5, base_lr=1.0, total_steps=10, min_lr=0.2) == pytest.approx(0.6)
    warm = dict(base_lr=1.0, total_steps=12, warmup_steps=4)
    assert [S.cosine_decay(t, **warm) for t in (0, 2, 4, 8, 12)] == pytest.approx(
        [0.0, 0.5, 1.0, 0.5, 0.0], abs=1e-15)
    # SGDR with doubling cycles [0, 2), [2, 6), [6, 14)
    sgdr = dict(base_lr=1.0, period=2, period_mult=2)
    assert [S.cosine_restarts(t, **sgdr) for t in (0, 1, 2, 4, 6, 10, 14)] == pytest.approx(
        [1.0, 0.5, 1.0, 0.5, 1.0, 0.5, 1.0], abs=1e-15)
    assert S.cosine_restarts(10, base_lr=1.0, period=4) == pytest.approx(0.5)  # 10 mod 4 = 2
    # BERT / HF: warm-up to the peak at t = w, linear decay to 0 at T
    bert = dict(base_lr=1.0, warmup_steps=10, total_steps=110)
    assert [S.linear_warmup_decay(t, **bert) for t in (0, 5, 10, 60, 110, 200)] == [
        0.0, 0.5, 1.0, 0.5, 0.0, 0.0]
    assert S.linear_warmup_decay(3, base_lr=1.0, warmup_steps=0, total_steps=4) == 0.25
    # Smith's triangle
    tri = dict(base_lr=0.0, max_lr=1.0, step_size=10)
    assert [S.triangular(t, **tri) for t in (0, 5, 10, 15, 20, 25, 30)] == pytest.approx(
        [0.0, 0.5, 1.0, 0.5, 0.0, 0.5, 1.0])
    # one-cycle: starts at max_lr/25, peaks at step 0.3·T - 1, ends at max_lr/25/1e4
    assert S.one_cycle(0, max_lr=1.0, total_steps=100) == pytest.approx(0.04)
    assert S.one_cycle(29, max_lr=1.0, total_steps=100) == 1.0
    assert S.one_cycle(99, max_lr=1.0, total_steps=100) == pytest.approx(4e-6)
    # zero-length phases: the phase's end value instead of PyTorch's ZeroDivisionError
    assert S.one_cycle(0, max_lr=1.0, total_steps=10, pct_start=0.1) == 1.0
    assert S.one_cycle(2, max_lr=1.0, total_steps=2, pct_start=1.0) == pytest.approx(4e-6)


def test_inverse_sqrt_is_vaswani_with_peak_at_warmup():
    d_model, warmup = 512, 4000
    peak = d_model**-0.5 * warmup**-0.5
    for n in list(range(1, 10000, 37)) + [warmup, 10**6]:
        vaswani = d_model**-0.5 * min(n**-0.5, n * warmup**-1.5)
        assert S.inverse_sqrt(n, base_lr=peak, warmup_steps=warmup) == pytest.approx(
            vaswani, rel=1e-12)
    assert S.inverse_sqrt(0, base_lr=peak, warmup_steps=warmup) == 0.0
    assert S.inverse_sqrt(warmup, base_lr=0.5, warmup_steps=warmup) == 0.5
    assert S.inverse_sqrt(4 * warmup, base_lr=0.5, warmup_steps=warmup) == 0.25
    values = [S.inverse_sqrt(t, base_lr=1.0, warmup_steps=50) for t in range(200)]
    assert max(values) == 1.0 and values.index(1.0) == 50


def test_schedules_return_python_floats():
    calls = [
        S.step_decay(0, base_lr=1, step_size=1), S.exponential_decay(0, base_lr=1, gamma=1),
        S.linear_warmup(0, base_lr=1, warmup_steps=1), S.cosine_decay(9, base_lr=1,
                                                                      total_steps=1, min_lr=0),
        S.cosine_restarts(0, base_lr=1, period=1), S.inverse_sqrt(0, base_lr=1, warmup_steps=1),
        S.linear_warmup_decay(5, base_lr=1, warmup_steps=0, total_steps=1),
        S.triangular(0, base_lr=0, max_lr=1, step_size=1), S.one_cycle(0, max_lr=1,
                                                                      total_steps=1),
    ]
    assert all(type(v) is float for v in calls)


# --------------------------------------------------------------------------- LambdaLR adapter

ADAPTED = [
    (S.step_decay, dict(base_lr=0.1, step_size=5, gamma=0.5)),
    (S.cosine_decay, dict(base_lr=0.1, total_steps=40, warmup_steps=5, min_lr=1e-3)),
    (S.cosine_restarts, dict(base_lr=0.1, period=4, period_mult=2)),
    (S.inverse_sqrt, dict(base_lr=0.1, warmup_steps=8)),
    (S.linear_warmup_decay, dict(base_lr=0.1, warmup_steps=8, total_steps=40)),
    (S.triangular, dict(base_lr=0.01, max_lr=0.1, step_size=6)),
    (S.one_cycle, dict(max_lr=0.1, total_steps=50)),
]


@pytest.mark.parametrize("schedule,kw", ADAPTED, ids=[s.__name__ for s, _ in ADAPTED])
def test_lambda_lr_drives_every_group_with_the_schedule(schedule, kw):
    a, b = torch.zeros(2, requires_grad=True), torch.zeros(3, requires_grad=True)
    opt = O.Adam([{"params": [a], "lr": 0.7}, {"params": [b], "lr": 3e-4}])
    sched = S.lambda_lr(opt, schedule, **kw)
    assert isinstance(sched, L.LambdaLR)
    for t in range(45):
        want = schedule(t, **kw)
        for group in opt.param_groups:  # one rounding: lr0 · (s / lr0)
            assert group["lr"] == pytest.approx(want, rel=1e-15, abs=1e-300)
        a.grad, b.grad = torch.ones(2), torch.ones(3)
        opt.step()
        sched.step()


def test_lambda_lr_matches_torch_one_cycle_in_training():
    w_a = torch.tensor([1.0, -1.0], dtype=torch.float64, requires_grad=True)
    w_b = w_a.detach().clone().requires_grad_(True)
    opt_a = torch.optim.SGD([w_a], lr=1.0, momentum=0.9)
    opt_b = torch.optim.SGD([w_b], lr=1.0, momentum=0.9)
    sched_a = S.lambda_lr(opt_a, S.one_cycle, max_lr=0.05, total_steps=60)
    sched_b = L.OneCycleLR(opt_b, max_lr=0.05, total_steps=60, cycle_momentum=False)
    for _ in range(60):
        for w, opt, sched in ((w_a, opt_a, sched_a), (w_b, opt_b, sched_b)):
            opt.zero_grad()
            (w**4).sum().backward()
            opt.step()
            sched.step()
    torch.testing.assert_close(w_a, w_b, rtol=1e-12, atol=1e-14)
    assert not torch.allclose(w_a, torch.tensor([1.0, -1.0], dtype=torch.float64))


def test_lambda_lr_keeps_an_existing_initial_lr():
    w = torch.zeros(1, requires_grad=True)
    opt = torch.optim.SGD([w], lr=0.5)
    opt.param_groups[0]["initial_lr"] = 0.25  # left by an earlier scheduler
    S.lambda_lr(opt, S.exponential_decay, base_lr=0.1, gamma=0.9)
    assert opt.param_groups[0]["lr"] == pytest.approx(0.1, rel=1e-15)


def test_lambda_lr_rejects_bad_input():
    w = torch.zeros(1, requires_grad=True)
    with pytest.raises(TypeError, match="`optimizer` must be a torch.optim.Optimizer"):
        S.lambda_lr([w], S.step_decay, base_lr=0.1, step_size=1)
    opt = torch.optim.SGD([w], lr=0.1)
    with pytest.raises(TypeError, match="`schedule` must be callable"):
        S.lambda_lr(opt, 0.1)
    with pytest.raises(ValueError, match="`step_size` must be >= 1"):
        S.lambda_lr(opt, S.step_decay, base_lr=0.1, step_size=0)
    with pytest.raises(TypeError, match="step_size"):  # a missing hyperparameter
        S.lambda_lr(opt, S.step_decay, base_lr=0.1)
    zero = torch.optim.SGD([w], lr=0.0)
    with pytest.raises(ValueError, match="param_groups\\[0\\] must have a non-zero"):
        S.lambda_lr(zero, S.step_decay, base_lr=0.1, step_size=1)


# --------------------------------------------------------------------------- bad arguments

BAD = [
    (S.step_decay, dict(t=-1, base_lr=0.1, step_size=1), ValueError, "`t` must be >= 0"),
    (S.step_decay, dict(t=1.5, base_lr=0.1, step_size=1), TypeError, "`t` must be an int"),
    (S.step_decay, dict(t=0, base_lr=-0.1, step_size=1), ValueError, "`base_lr` must be >= 0"),
    (S.step_decay, dict(t=0, base_lr=0.1, step_size=0), ValueError, "`step_size` must be >= 1"),
    (S.step_decay, dict(t=0, base_lr=0.1, step_size=2, gamma=0), ValueError, "`gamma` must be"),
    (S.exponential_decay, dict(t=0, base_lr=0.1, gamma=-0.5), ValueError, "`gamma` must be > 0"),
    (S.exponential_decay, dict(t=0, base_lr=float("inf"), gamma=0.5), ValueError, "finite"),
    (S.linear_warmup, dict(t=0, base_lr=0.1, warmup_steps=0), ValueError, "`warmup_steps`"),
    (S.linear_warmup, dict(t=0, base_lr=0.1, warmup_steps=2, start_factor=1.5), ValueError,
     "`start_factor` must be <= 1"),
    (S.cosine_decay, dict(t=0, base_lr=0.1, total_steps=0), ValueError, "`total_steps`"),
    (S.cosine_decay, dict(t=0, base_lr=0.1, total_steps=5, min_lr=0.2), ValueError,
     "`min_lr` must be <= 0.1, got 0.2"),
    (S.cosine_decay, dict(t=0, base_lr=0.1, total_steps=5, warmup_steps=6), ValueError,
     "`warmup_steps` must be <= 5, got 6"),
    (S.cosine_restarts, dict(t=0, base_lr=0.1, period=0), ValueError, "`period` must be >= 1"),
    (S.cosine_restarts, dict(t=0, base_lr=0.1, period=2, period_mult=1.5), TypeError,
     "`period_mult` must be an int"),
    (S.cosine_restarts, dict(t=0, base_lr=0.1, period=2, period_mult=0), ValueError,
     "`period_mult` must be >= 1"),
    (S.cosine_restarts, dict(t=0, base_lr=0.1, period=2, min_lr=-1.0), ValueError, "`min_lr`"),
    (S.inverse_sqrt, dict(t=0, base_lr=0.1, warmup_steps=0), ValueError, "`warmup_steps`"),
    (S.inverse_sqrt, dict(t="3", base_lr=0.1, warmup_steps=2), TypeError, "`t` must be an int"),
    (S.linear_warmup_decay, dict(t=0, base_lr=0.1, warmup_steps=11, total_steps=10),
     ValueError, "`warmup_steps` must be <= 10"),
    (S.linear_warmup_decay, dict(t=0, base_lr=0.1, warmup_steps=1, total_steps=0), ValueError,
     "`total_steps` must be >= 1"),
    (S.triangular, dict(t=0, base_lr=0.1, max_lr=0.05, step_size=2), ValueError,
     "`max_lr` must be >= 0.1, got 0.05"),
    (S.triangular, dict(t=0, base_lr=0.1, max_lr=0.5, step_size=0), ValueError, "`step_size`"),
    (S.one_cycle, dict(t=0, max_lr=0.0, total_steps=10), ValueError, "`max_lr` must be > 0"),
    (S.one_cycle, dict(t=11, max_lr=0.1, total_steps=10), ValueError,
     "`t` must be <= total_steps \\(10\\), got 11"),
    (S.one_cycle, dict(t=0, max_lr=0.1, total_steps=10, pct_start=1.5), ValueError,
     "`pct_start` must be <= 1"),
    (S.one_cycle, dict(t=0, max_lr=0.1, total_steps=10, div_factor=0), ValueError,
     "`div_factor` must be > 0"),
    (S.one_cycle, dict(t=0, max_lr=0.1, total_steps=10, final_div_factor=-1.0), ValueError,
     "`final_div_factor` must be > 0"),
    (S.one_cycle, dict(t=0, max_lr=0.1, total_steps=0), ValueError, "`total_steps` must be"),
]


@pytest.mark.parametrize("schedule,kw,exc,match", BAD,
                         ids=[f"{s.__name__}-{i}" for i, (s, _, _, _) in enumerate(BAD)])
def test_bad_arguments_are_rejected_naming_the_argument(schedule, kw, exc, match):
    t = kw.pop("t")
    with pytest.raises(exc, match=match):
        schedule(t, **kw)


def test_every_public_schedule_is_tested_against_bad_input():
    # the newer schedules' bad-input tests live in tests/schedules/
    tested = {s.__name__ for s, _, _, _ in BAD} | {"lambda_lr"} | {
        "one_cycle_momentum", "multistep_decay", "ReduceOnPlateau", "reduce_on_plateau"}
    assert tested == set(S.__all__)


def test_hyperparameters_are_keyword_only():
    with pytest.raises(TypeError):
        S.step_decay(0, 0.1, 3)
    assert math.isclose(S.step_decay(0, base_lr=0.1, step_size=3), 0.1)
