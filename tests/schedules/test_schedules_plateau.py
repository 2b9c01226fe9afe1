"""dlcore.schedules.ReduceOnPlateau / reduce_on_plateau against torch's ReduceLROnPlateau after
every epoch: both modes, both threshold modes, cooldown, min_lr, eps; and bad input."""

import math

import pytest
import torch
from torch.optim import lr_scheduler as L

from dlcore import schedules as S


def torch_rates(metrics, lr, **kw):
    w = torch.zeros(1, requires_grad=True)
    opt = torch.optim.SGD([w], lr=lr)
    sched = L.ReduceLROnPlateau(opt, **kw)
    out = []
    for m in metrics:
        opt.step()
        sched.step(m)
        out.append(opt.param_groups[0]["lr"])
    return out


def noisy_plateaus(seed, n=120, sign=1.0, offset=0.0):
    """A loss that falls, stalls, jitters and falls again (or its negation)."""
    g = torch.Generator().manual_seed(seed)
    base = torch.cat([torch.linspace(2, 1, n // 4), torch.full((n // 4,), 1.0),
                      torch.linspace(1, 0.5, n // 4), torch.full((n - 3 * (n // 4),), 0.5)])
    noise = 1e-3 * torch.randn(n, generator=g, dtype=torch.float64)
    return (sign * (base.double() + noise) + offset).tolist()


CONFIGS = [
    dict(),
    dict(patience=3, factor=0.5),
    dict(patience=2, factor=0.5, threshold=1e-2, threshold_mode="abs"),
    dict(patience=1, factor=0.3, cooldown=4),
    dict(patience=2, factor=0.1, min_lr=1e-3),
    dict(patience=0, factor=0.5, eps=0.05),  # a change below eps is not applied
    dict(mode="max", patience=3, factor=0.5),
    dict(mode="max", patience=2, threshold=0.02, threshold_mode="abs", cooldown=2),
    dict(patience=2, factor=0.5, threshold=0.0),
]


@pytest.mark.parametrize("kw", CONFIGS)
@pytest.mark.parametrize("seed", [0, 1])
@pytest.mark.parametrize("offset", [0.0, -3.0])  # negative metrics: the rel rule's odd side
def test_reduce_on_plateau_equals_ReduceLROnPlateau(kw, seed, offset):
    sign = -1.0 if kw.get("mode") == "max" else 1.0
    metrics = noisy_plateaus(seed, sign=sign, offset=offset)
    want = torch_rates(metrics, 0.8, **kw)
    got = S.reduce_on_plateau(metrics, lr=0.8, **kw)
    assert got == want  # same float operations in the same order: bitwise equal
    assert len(set(got)) > 1 or kw.get("eps") == 0.05  # the rate did change


def test_class_steps_like_the_function_and_keeps_state():
    sched = S.ReduceOnPlateau(1.0, patience=0, factor=0.5, cooldown=1)
    rates = [sched.step(m) for m in [1.0, 1.0, 1.0, 1.0]]
    assert rates == [1.0, 0.5, 0.5, 0.25]
    assert sched.best == 1.0 and sched.improves(0.5) and not sched.improves(1.0)
    assert S.ReduceOnPlateau(1.0, mode="max").improves(-1e300)
    assert math.isinf(S.ReduceOnPlateau(1.0).best)


@pytest.mark.parametrize("kw,exc,match", [
    (dict(lr=-1.0), ValueError, "`lr` must be >= 0"),
    (dict(lr=1.0, mode="minimum"), ValueError, "`mode` must be one of"),
    (dict(lr=1.0, factor=1.0), ValueError, "`factor` must be < 1"),
    (dict(lr=1.0, factor=0.0), ValueError, "`factor` must be > 0"),
    (dict(lr=1.0, patience=-1), ValueError, "`patience` must be >= 0"),
    (dict(lr=1.0, patience=1.5), TypeError, "`patience` must be an int"),
    (dict(lr=1.0, threshold=-1e-4), ValueError, "`threshold` must be >= 0"),
    (dict(lr=1.0, threshold_mode="relative"), ValueError, "`threshold_mode` must be one of"),
    (dict(lr=1.0, cooldown=-2), ValueError, "`cooldown` must be >= 0"),
    (dict(lr=1.0, min_lr=-1.0), ValueError, "`min_lr` must be >= 0"),
    (dict(lr=1.0, eps=-1.0), ValueError, "`eps` must be >= 0"),
])
def test_bad_hyperparameters_are_rejected(kw, exc, match):
    with pytest.raises(exc, match=match):
        S.ReduceOnPlateau(**kw)
    lr = kw.pop("lr")
    with pytest.raises(exc, match=match):
        S.reduce_on_plateau([1.0], lr=lr, **kw)


def test_bad_metrics_are_rejected():
    sched = S.ReduceOnPlateau(0.1)
    with pytest.raises(ValueError, match="`metric` must be finite, got nan"):
        sched.step(float("nan"))
    with pytest.raises(TypeError, match="`metric` must be a real number"):
        sched.step("0.5")
    with pytest.raises(TypeError, match="`metrics` must be a sequence of numbers, got float"):
        S.reduce_on_plateau(0.5, lr=0.1)


TESTED = {"ReduceOnPlateau", "reduce_on_plateau"}
