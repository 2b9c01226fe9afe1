"""Tests of dlcore.ensembles.averaging: the snapshot and FGE schedules against their papers'
formulas, SWA, update_bn and SWALR against torch.optim.swa_utils."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn
from torch.optim import swa_utils
from torch.utils.data import DataLoader, TensorDataset

from dlcore import schedules
from dlcore.ensembles import SWA, fge_lr, snapshot_lr, swalr, update_bn


# ---------------------------------------------------------------- snapshot schedule
@pytest.mark.parametrize(("T", "M"), [(10, 1), (12, 3), (10, 3), (7, 7), (100, 6)])
def test_snapshot_equals_paper_formula_with_one_based_t(T, M):
    period = math.ceil(T / M)
    for i in range(1, T + 1):  # the paper's iteration counter starts at 1
        paper = 0.3 / 2 * (math.cos(math.pi * ((i - 1) % period) / period) + 1)
        assert snapshot_lr(i - 1, base_lr=0.3, total_steps=T, cycles=M) == pytest.approx(
            paper, abs=1e-15)


def test_snapshot_cycle_boundaries():
    T, M, lr = 60, 4, 0.2
    lrs = [snapshot_lr(t, base_lr=lr, total_steps=T, cycles=M) for t in range(T)]
    starts = [t for t in range(1, T) if lrs[t] > lrs[t - 1]]  # a restart jumps up
    assert starts == [15, 30, 45]
    for s in [0, *starts]:
        assert lrs[s] == lr
        assert lrs[s + 14] == pytest.approx(lr / 2 * (1 + math.cos(math.pi * 14 / 15)))
    assert min(lrs) > 0 and all(a > b for a, b in zip(lrs[:14], lrs[1:15], strict=True))


def test_snapshot_known_values():
    # hand values, independent of the formula's code: T = 10, M = 3 -> period ceil(10/3) = 4
    # (the last cycle is cut after 2 steps); cos(pi/4) = sqrt(2)/2
    h = (1 + math.sqrt(2) / 2) / 2  # 0.8535...
    expected = [1.0, h, 0.5, 1 - h, 1.0, h, 0.5, 1 - h, 1.0, h]
    got = [snapshot_lr(t, base_lr=1.0, total_steps=10, cycles=3) for t in range(10)]
    assert got == pytest.approx(expected, abs=1e-15)
    assert got[3] == pytest.approx(0.1464466094067262, abs=1e-15)


def test_snapshot_special_cases_equal_dlcore_schedules():
    for t in range(20):
        assert snapshot_lr(t, base_lr=0.1, total_steps=20, cycles=1) == pytest.approx(
            schedules.cosine_decay(t, base_lr=0.1, total_steps=20))
        assert snapshot_lr(t, base_lr=0.1, total_steps=20, cycles=4) == pytest.approx(
            schedules.cosine_restarts(t, base_lr=0.1, period=5))


@pytest.mark.parametrize(("kwargs", "match"), [
    ({"t": -1}, "`t`"), ({"t": 1.5}, "`t`"), ({"base_lr": -0.1}, "`base_lr`"),
    ({"total_steps": 0}, "`total_steps`"), ({"cycles": 0}, "`cycles`"),
    ({"cycles": 11}, "`cycles`"), ({"base_lr": math.nan}, "`base_lr`")])
def test_snapshot_rejects_bad_input(kwargs, match):
    args = {"t": 0, "base_lr": 0.1, "total_steps": 10, "cycles": 2, **kwargs}
    with pytest.raises((ValueError, TypeError), match=match):
        snapshot_lr(args.pop("t"), **args)


# ---------------------------------------------------------------- FGE schedule
@pytest.mark.parametrize("c", [2, 4, 10])
def test_fge_equals_paper_formula(c):
    a1, a2 = 0.05, 0.0005
    for i in range(1, 3 * c + 1):
        tau = ((i - 1) % c + 1) / c
        paper = ((1 - 2 * tau) * a1 + 2 * tau * a2 if tau <= 0.5
                 else (2 - 2 * tau) * a2 + (2 * tau - 1) * a1)
        assert fge_lr(i - 1, lr_max=a1, lr_min=a2, cycle=c) == pytest.approx(paper, abs=1e-15)


def test_fge_minimum_in_the_middle_maximum_at_the_end():
    c = 8
    lrs = [fge_lr(t, lr_max=1.0, lr_min=0.1, cycle=c) for t in range(3 * c)]
    assert [t for t, v in enumerate(lrs) if v == pytest.approx(0.1)] == [3, 11, 19]
    assert [t for t, v in enumerate(lrs) if v == pytest.approx(1.0)] == [7, 15, 23]


@pytest.mark.parametrize(("kwargs", "match"), [
    ({"t": -2}, "`t`"), ({"lr_min": -1.0}, "`lr_min`"), ({"lr_max": 0.001}, "`lr_max`"),
    ({"cycle": 1}, "`cycle`"), ({"cycle": 5}, "even")])
def test_fge_rejects_bad_input(kwargs, match):
    args = {"t": 0, "lr_max": 0.1, "lr_min": 0.01, "cycle": 4, **kwargs}
    with pytest.raises(ValueError, match=match):
        fge_lr(args.pop("t"), **args)


# ---------------------------------------------------------------- SWALR
@pytest.mark.parametrize("strategy", ["cos", "linear"])
@pytest.mark.parametrize("anneal", [0, 1, 3, 10])
def test_swalr_equals_torch(strategy, anneal):
    p = nn.Parameter(torch.zeros(1))
    opt = torch.optim.SGD([p], lr=0.1)
    sched = swa_utils.SWALR(opt, swa_lr=0.02, anneal_epochs=anneal, anneal_strategy=strategy)
    for k in range(14):
        expected = opt.param_groups[0]["lr"]
        assert swalr(k, base_lr=0.1, swa_lr=0.02, anneal_epochs=anneal,
                     anneal_strategy=strategy) == pytest.approx(expected, rel=1e-12)
        opt.step()
        sched.step()


def test_swalr_rejects_bad_input():
    with pytest.raises(ValueError, match="`anneal_strategy`"):
        swalr(0, base_lr=0.1, swa_lr=0.05, anneal_strategy="cosine")
    with pytest.raises(ValueError, match="`anneal_epochs`"):
        swalr(0, base_lr=0.1, swa_lr=0.05, anneal_epochs=-1)
    with pytest.raises(ValueError, match="`epoch`"):
        swalr(-1, base_lr=0.1, swa_lr=0.05)
    with pytest.raises(ValueError, match="`swa_lr`"):
        swalr(0, base_lr=0.1, swa_lr=-0.05)


# ---------------------------------------------------------------- SWA and update_bn
def _net(dtype):
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(5, 8), nn.BatchNorm1d(8), nn.ReLU(),
                         nn.Linear(8, 3)).to(dtype)


def _train_and_average(dtype, use_buffers, steps=12):
    model = _net(dtype)
    g = torch.Generator().manual_seed(1)
    X = torch.randn(64, 5, generator=g, dtype=dtype)
    y = torch.randint(0, 3, (64,), generator=g)
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    ours = SWA(model, use_buffers=use_buffers)
    theirs = swa_utils.AveragedModel(model, use_buffers=use_buffers)
    for step in range(steps):
        idx = torch.arange(16) + 16 * (step % 4)
        loss = nn.functional.cross_entropy(model(X[idx]), y[idx])
        opt.zero_grad()
        loss.backward()
        opt.step()
        if step % 2:
            ours.update(model)
            theirs.update_parameters(model)
    return model, ours, theirs, X


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("use_buffers", [False, True])
def test_swa_equals_averaged_model(dtype, use_buffers):
    model, ours, theirs, _ = _train_and_average(dtype, use_buffers)
    tol = 1e-12 if dtype == torch.float64 else 1e-6
    assert ours.n_averaged == int(theirs.n_averaged) == 6
    for a, b in zip(ours.module.state_dict().values(), theirs.module.state_dict().values(),
                    strict=True):
        torch.testing.assert_close(a, b, rtol=tol, atol=tol)
    bn_model, bn_avg = model[1], ours.module[1]
    if use_buffers:  # averaged: differ from the last iterate's, the counter too
        assert not torch.allclose(bn_avg.running_mean, bn_model.running_mean)
        assert int(bn_avg.num_batches_tracked) == 7  # mean of 2, 4, ..., 12
    else:  # copied from the model at every update, as torch does
        assert torch.equal(bn_avg.running_mean, bn_model.running_mean)
        assert torch.equal(bn_avg.running_var, bn_model.running_var)
        assert torch.equal(bn_avg.num_batches_tracked, bn_model.num_batches_tracked)


def test_swa_is_the_mean_of_the_collected_weights():
    net = nn.Linear(3, 2)
    swa = SWA(net)
    seen = []
    for k in range(5):
        with torch.no_grad():
            net.weight.normal_(generator=torch.Generator().manual_seed(k))
        seen.append(net.weight.detach().clone())
        swa.update(net)
    torch.testing.assert_close(swa.module.weight, torch.stack(seen).mean(0))
    x = torch.randn(4, 3)
    torch.testing.assert_close(swa(x), swa.module(x))
    assert swa.module is not net  # a copy: the trained model is left alone


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("bs", [16, 24, 64])
def test_update_bn_equals_torch(dtype, bs):
    _, ours, theirs, X = _train_and_average(dtype, False)
    y = torch.zeros(len(X))
    update_bn(X, ours, batch_size=bs)
    swa_utils.update_bn(DataLoader(TensorDataset(X, y), batch_size=bs), theirs)
    tol = 1e-12 if dtype == torch.float64 else 1e-6
    for a, b in zip(ours.module.state_dict().values(), theirs.module.state_dict().values(),
                    strict=True):
        torch.testing.assert_close(a, b, rtol=tol, atol=tol)
    bn = ours.module[1]
    assert bn.momentum == 0.1 and ours.training  # restored
    # with one batch the running mean is the mean of the layer's input over the data
    update_bn(X, ours)
    with torch.no_grad():
        h = ours.module[0](X)
    torch.testing.assert_close(bn.running_mean, h.mean(0), rtol=tol, atol=tol)
    torch.testing.assert_close(bn.running_var, h.var(0), rtol=tol, atol=tol)


def test_update_bn_iterables_modes_and_no_bn():
    _, ours, _, X = _train_and_average(torch.float64, False)
    ours.eval()
    update_bn([X[:32], (X[32:],)], ours)  # tensors or tuples, as torch's loader batches
    assert not ours.training and int(ours.module[1].num_batches_tracked) == 2
    plain = nn.Linear(5, 2)
    before = plain.weight.detach().clone()
    update_bn(X.float(), plain)  # nothing to update
    assert torch.equal(plain.weight, before)


def test_swa_and_update_bn_reject_bad_input():
    net = nn.Linear(2, 2)
    with pytest.raises(TypeError, match="`model`"):
        SWA("net")
    with pytest.raises(TypeError, match="`use_buffers`"):
        SWA(net, use_buffers=1)
    swa = SWA(net)
    with pytest.raises(TypeError, match="`model`"):
        swa.update(None)
    with pytest.raises(ValueError, match="parameter shapes"):
        swa.update(nn.Linear(3, 2))
    with pytest.raises(TypeError, match="`model`"):
        update_bn(torch.zeros(2, 2), "net")
    with pytest.raises(ValueError, match="`batch_size`"):
        update_bn(torch.zeros(2, 2), net, batch_size=0)
    with pytest.raises(ValueError, match="`batch_size`"):
        update_bn([torch.zeros(2, 2)], net, batch_size=2)
    with pytest.raises(ValueError, match="`batches`"):
        update_bn(torch.zeros(0, 2), net)
