"""dlcore.schedules.one_cycle (two and three phases, cosine and linear), one_cycle_momentum and
multistep_decay against torch.optim.lr_scheduler at every step, and their bad input."""

import pytest
import torch
from torch.optim import lr_scheduler as L

from dlcore import schedules as S

RTOL = 1e-12


def torch_trace(make_scheduler, steps, key="lr", make_opt=None):
    """What PyTorch's scheduler sets for ``key`` at optimizer steps 0 .. steps-1."""
    w = torch.zeros(1, requires_grad=True)
    opt = (make_opt or (lambda p: torch.optim.SGD(p, lr=1.0, momentum=0.9)))([w])
    sched = make_scheduler(opt)

    def read():
        g = opt.param_groups[0]
        return g["betas"][0] if key == "beta1" else g[key]

    out = [read()]
    for _ in range(steps - 1):
        opt.step()
        sched.step()
        out.append(read())
    return out


def assert_equal(got, want):
    assert len(got) == len(want)
    for t, (a, b) in enumerate(zip(got, want, strict=True)):
        assert a == pytest.approx(b, rel=RTOL, abs=1e-15), f"step {t}: {a} != {b}"


ONE_CYCLE = [
    dict(max_lr=0.1, total_steps=100),
    dict(max_lr=1.0, total_steps=37, pct_start=0.25, div_factor=10.0, final_div_factor=100.0),
    dict(max_lr=0.5, total_steps=10, pct_start=0.5),
    dict(max_lr=2.0, total_steps=5),
    dict(max_lr=0.3, total_steps=20, pct_start=0.0),
    dict(max_lr=0.3, total_steps=41, pct_start=0.45),
]


@pytest.mark.parametrize("kw", ONE_CYCLE)
@pytest.mark.parametrize("anneal", ["cos", "linear"])
@pytest.mark.parametrize("three", [False, True])
def test_one_cycle_equals_OneCycleLR(kw, anneal, three):
    def make(o):
        return L.OneCycleLR(o, cycle_momentum=False, anneal_strategy=anneal, three_phase=three,
                            **kw)

    n = kw["total_steps"] + 1
    got = [S.one_cycle(t, anneal_strategy=anneal, three_phase=three, **kw) for t in range(n)]
    assert_equal(got, torch_trace(make, n))


@pytest.mark.parametrize("kw", ONE_CYCLE[:4])
@pytest.mark.parametrize("anneal", ["cos", "linear"])
@pytest.mark.parametrize("three", [False, True])
@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
def test_one_cycle_momentum_equals_what_OneCycleLR_writes(kw, anneal, three, optimizer):
    mom = dict(base_momentum=0.8, max_momentum=0.9) if kw["total_steps"] == 37 else {}

    def make(o):
        return L.OneCycleLR(o, anneal_strategy=anneal, three_phase=three, **mom, **kw)

    make_opt = ((lambda p: torch.optim.Adam(p, lr=1.0)) if optimizer == "adam" else None)
    n = kw["total_steps"] + 1
    want = torch_trace(make, n, key="beta1" if optimizer == "adam" else "momentum",
                       make_opt=make_opt)
    got = [S.one_cycle_momentum(t, total_steps=kw["total_steps"],
                                pct_start=kw.get("pct_start", 0.3), anneal_strategy=anneal,
                                three_phase=three, **mom) for t in range(n)]
    assert_equal(got, want)


def test_three_phase_differs_from_two_phase():
    # at t = 58 of 100 the three-phase rate is back at max_lr / 25, the two-phase one near 0.63
    two = S.one_cycle(58, max_lr=1.0, total_steps=100)
    three = S.one_cycle(58, max_lr=1.0, total_steps=100, three_phase=True)
    assert three == pytest.approx(0.04) and two > 0.6
    assert S.one_cycle(99, max_lr=1.0, total_steps=100, three_phase=True) == pytest.approx(4e-6)


MULTISTEP = [
    dict(base_lr=0.1, milestones=[3, 7]),
    dict(base_lr=1.0, milestones=[1, 2, 10], gamma=0.5),
    dict(base_lr=0.3, milestones=[5, 5, 9], gamma=0.3),  # a repeated milestone drops twice
    dict(base_lr=0.2, milestones=[], gamma=0.5),
]


@pytest.mark.parametrize("kw", MULTISTEP)
def test_multistep_decay_equals_MultiStepLR(kw):
    kw = dict(kw)
    base_lr = kw.pop("base_lr")
    want = torch_trace(lambda o: L.MultiStepLR(o, **kw), 15)
    got = [S.multistep_decay(t, base_lr=1.0, **kw) for t in range(15)]
    assert_equal(got, want)
    assert S.multistep_decay(14, base_lr=base_lr, **kw) == pytest.approx(base_lr * want[14])
    assert isinstance(S.multistep_decay(0, base_lr=1, milestones=[1]), float)


BAD = [
    (S.one_cycle, dict(t=0, max_lr=0.1, total_steps=10, anneal_strategy="cosine"), ValueError,
     "`anneal_strategy` must be one of"),
    (S.one_cycle, dict(t=0, max_lr=0.1, total_steps=10, three_phase=1), TypeError,
     "`three_phase` must be a bool"),
    (S.one_cycle_momentum, dict(t=0, total_steps=10, max_momentum=1.0), ValueError,
     "`max_momentum` must be < 1"),
    (S.one_cycle_momentum, dict(t=0, total_steps=10, base_momentum=0.99), ValueError,
     "`base_momentum` must be <= 0.95"),
    (S.one_cycle_momentum, dict(t=11, total_steps=10), ValueError, "`t` must be <="),
    (S.multistep_decay, dict(t=0, base_lr=0.1, milestones=[5, 2]), ValueError,
     "`milestones` must be non-decreasing, got \\[5, 2\\]"),
    (S.multistep_decay, dict(t=0, base_lr=0.1, milestones=[0]), ValueError,
     "`milestones\\[i\\]` must be >= 1"),
    (S.multistep_decay, dict(t=0, base_lr=0.1, milestones=3), TypeError,
     "`milestones` must be a sequence of ints, got int"),
    (S.multistep_decay, dict(t=0, base_lr=0.1, milestones=[1.5]), TypeError, "must be an int"),
    (S.multistep_decay, dict(t=0, base_lr=0.1, milestones=[1], gamma=0), ValueError,
     "`gamma` must be > 0"),
]
TESTED = {"one_cycle_momentum", "multistep_decay"}


@pytest.mark.parametrize("schedule,kw,exc,match", BAD,
                         ids=[f"{s.__name__}-{i}" for i, (s, _, _, _) in enumerate(BAD)])
def test_bad_arguments_are_rejected_naming_the_argument(schedule, kw, exc, match):
    t = kw.pop("t")
    with pytest.raises(exc, match=match):
        schedule(t, **kw)
