"""Tests of dlcore.practice.sanity: every check passes on a correct model and fails on the bug
it is meant to catch; the model and the global random state are left untouched."""

from __future__ import annotations

import copy
import dataclasses
import math
import random

import numpy as np
import pytest
import torch
from scipy.stats import entropy
from torch import nn

import dlcore
from dlcore.data import Split
from dlcore.practice import _sanity_data, sanity
from dlcore.practice.sanity import (
    SanityCheck,
    SanityReport,
    first_batch,
    gradient_norms,
    prior_entropy,
    sanity_checks,
)
from dlcore.train import fit, mlp

K = 3


def blobs(n: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    y = torch.arange(n) % K
    centers = torch.tensor([[2.0, 0.0, 0.0, 0.0], [0.0, 2.0, 0.0, 0.0], [0.0, 0.0, 2.0, 0.0]])
    return centers[y] + 0.7 * torch.randn(n, 4, generator=g), y


@pytest.fixture(scope="module")
def data() -> Split:
    X, y = blobs(240, 0)
    Xv, yv = blobs(90, 1)
    Xt, yt = blobs(90, 2)
    return Split(X, y, Xt, yt, K, X_val=Xv, y_val=yv)


def net(seed: int = 0) -> nn.Sequential:
    dlcore.seed(seed)
    return mlp([4, 32, K])


def run(model, data, **kw) -> SanityReport:
    kw.setdefault("generator", torch.Generator().manual_seed(0))
    kw.setdefault("make_optimizer", lambda p: torch.optim.Adam(p, lr=1e-2))
    return sanity_checks(model, data, steps=100, baseline_steps=60, device="cpu", **kw)


def failed(report: SanityReport) -> set[str]:
    return {c.name for c in report.failed()}


def test_correct_model_passes_every_check(data):
    report = run(net(), data)
    assert report.passed, str(report)
    assert report.failed() == []
    assert len(report.checks) == 14
    assert abs(report["loss at init"].value - math.log(K)) < 0.1
    assert report["overfit one batch"].value < 0.05
    assert "14 of 14 passed" in str(report)


def test_probabilities_fed_to_cross_entropy(data):
    # softmax twice: the loss at init is still ln K, but one batch cannot be overfitted
    report = run(nn.Sequential(net(), nn.Softmax(dim=-1)), data)
    assert failed(report) == {"output: logits", "overfit one batch"}
    assert report["loss at init"].passed
    # the floor of cross-entropy of outputs in [0, 1]: -ln(e / (e + K - 1))
    assert report["overfit one batch"].value >= math.log(math.e + K - 1) - 1 - 1e-3
    text = str(report)
    assert "✗ overfit one batch" in text and "→ " in text


def test_shuffled_labels_caught_by_the_baseline(data):
    g = torch.Generator().manual_seed(5)
    bad = dataclasses.replace(data, y_train=data.y_train[torch.randperm(240, generator=g)])
    report = run(net(), bad)
    assert failed(report) == {"input-independent baseline"}
    assert report["overfit one batch"].passed  # 16 random labels are memorized anyway


def test_frozen_detached_and_dead_parameters(data):
    model = net()
    model[0].weight.requires_grad_(False)
    assert failed(run(model, data)) == {"gradients: frozen"}

    class Detached(nn.Module):
        def __init__(self):
            super().__init__()
            self.body, self.head = nn.Linear(4, 8), nn.Linear(8, K)

        def forward(self, x):
            return self.head(torch.relu(self.body(x)).detach())

    dlcore.seed(0)
    report = run(Detached(), data)
    assert "gradients: connected" in failed(report)
    assert report["gradients: connected"].value == 2
    assert "body.weight" in report["gradients: connected"].measured

    dead = net()
    with torch.no_grad():
        dead[0].bias.fill_(-100.0)  # every ReLU unit off: no gradient flows below it
    report = run(dead, data)
    assert "gradients: nonzero" in failed(report)
    assert "gradients: connected" not in failed(report)


def test_gradient_spread(data):
    dlcore.seed(0)
    deep = mlp([4, *[32] * 8, K], nn.Sigmoid)  # sigmoid' <= 1/4 per layer: vanishing
    report = run(deep, data, max_grad_ratio=100.0)
    assert "gradients: spread" in failed(report)
    assert report["gradients: spread"].value > 100
    assert run(deep, data, max_grad_ratio=1e12)["gradients: spread"].passed


def test_no_weight_matrix_means_no_spread_record(data):
    model = nn.Linear(4, K)
    model.weight.requires_grad_(False)
    report = run(model, data)
    with pytest.raises(KeyError, match="no check named"):
        report["gradients: spread"]


def test_init_scale_far_too_large(data):
    model = net()
    with torch.no_grad():
        for p in model.parameters():
            p.mul_(30.0)
    report = run(model, data)
    assert "loss at init" in failed(report)
    assert report["loss at init"].value > 3 * math.log(K)


def test_prior_bias_init_on_imbalanced_labels(data):
    keep = torch.cat([torch.nonzero(data.y_train == k).flatten()[:n]
                      for k, n in enumerate((80, 10, 2))])
    imb = dataclasses.replace(data, X_train=data.X_train[keep], y_train=data.y_train[keep])
    h = prior_entropy(imb.y_train, K)
    model = net()
    counts = torch.bincount(imb.y_train, minlength=K).float()
    with torch.no_grad():
        model[-1].weight.mul_(1e-3)
        model[-1].bias.copy_((counts / counts.sum()).log())
    report = run(model, imb)
    assert report["loss at init"].passed
    assert abs(report["loss at init"].value - h) < 0.01
    assert report["data: labels"].value == 40
    assert math.log(K) - h > (K - 1) / (2 * K)  # only the prior target accepts it
    # an explicit expectation replaces ln K and H(prior)
    assert not run(model, imb, expected_loss=math.log(K), init_tol=0.1)["loss at init"].passed
    assert "H(p̂) = " in report["loss at init"].expected
    assert run(model, imb, expected_loss=h, init_tol=0.01)["loss at init"].passed


def test_data_bugs(data):
    unscaled = dataclasses.replace(data, X_train=100 * data.X_train + 50)
    assert "data: scale" in failed(run(net(), unscaled))
    X = data.X_train.clone()
    X[3, 1] = float("nan")
    assert "data: finite" in failed(run(net(), dataclasses.replace(data, X_train=X)))
    short = dataclasses.replace(data, y_test=data.y_test[:-1])
    assert failed(run(net(), short)) >= {"data: shapes"}
    leak = dataclasses.replace(data, X_test=torch.cat([data.X_train[:7], data.X_test[7:]]))
    report = run(net(), leak)
    assert failed(report) == {"data: train-test duplicates"}
    assert report["data: train-test duplicates"].value == 7
    keep = data.y_test != 2
    missing = dataclasses.replace(data, X_test=data.X_test[keep], y_test=data.y_test[keep])
    report = run(net(), missing)
    assert failed(report) == {"data: classes in every part"}
    assert "test: [2]" in report["data: classes in every part"].measured


def test_invalid_labels_stop_after_the_data_checks(data):
    report = run(net(), dataclasses.replace(data, y_val=data.y_val + 1))
    assert report.checks[-1].name == "data: labels"
    assert not report.passed and math.isnan(report["data: labels"].value)


def test_integer_inputs_and_no_held_out_part():
    dlcore.seed(0)
    X = torch.randint(0, 5, (60, 3))
    y = X[:, 0] % 2
    model = nn.Sequential(nn.Embedding(5, 4), nn.Flatten(), nn.Linear(12, 2))
    report = sanity_checks(model, Split(X, y, None, None, 2), steps=150, device="cpu")
    names = [c.name for c in report.checks]
    assert "data: scale" not in names
    base = report["input-independent baseline"]
    assert base.passed and math.isnan(base.value) and "skipped" in base.measured
    assert report["data: train-test duplicates"].passed


def test_buggy_augmentation_caught(data):
    def roll(X, y):  # a "shift" along the batch axis: inputs move away from their labels
        return torch.roll(X, int(torch.randint(1, len(X), (1,))), dims=0), y

    report = run(net(), data, batch_transform=roll)
    assert {"overfit one batch", "input-independent baseline"} <= failed(report)
    assert run(net(), data, batch_transform=lambda X, y: (X, y)).passed


def test_model_and_global_state_untouched(data):
    dlcore.seed(0)
    model = nn.Sequential(nn.Linear(4, 16), nn.BatchNorm1d(16), nn.ReLU(), nn.Dropout(0.3),
                          nn.Linear(16, K))
    model.train()
    model[1].eval()  # mixed modes: a BatchNorm frozen in eval, dropout in train
    model[0].weight.grad = torch.ones_like(model[0].weight)
    state = copy.deepcopy(model.state_dict())
    modes = [m.training for m in model.modules()]
    rng, np_rng, py_rng = torch.get_rng_state(), np.random.get_state()[1].copy(), random.getstate()
    assert run(model, data).passed  # a correct BN + dropout model: no false alarm
    assert all(torch.equal(v, model.state_dict()[k]) for k, v in state.items())
    assert modes == [m.training for m in model.modules()]
    assert torch.equal(model[0].weight.grad, torch.ones_like(model[0].weight))
    assert all(p.grad is None for n, p in model.named_parameters() if n != "0.weight")
    gradient_norms(model, data.X_train[:16], data.y_train[:16])  # dropout active
    assert torch.equal(torch.get_rng_state(), rng)
    assert (np.random.get_state()[1] == np_rng).all() and random.getstate() == py_rng


def test_init_loss_and_overfit_measured_in_eval_mode(data):
    dlcore.seed(0)
    model = nn.Sequential(nn.Linear(4, 64), nn.ReLU(), nn.Dropout(0.5), nn.Linear(64, K))
    report = run(model, data)
    with torch.no_grad():
        expected = float(nn.functional.cross_entropy(model.eval()(data.X_train), data.y_train))
    assert report["loss at init"].value == pytest.approx(expected, rel=1e-6)
    assert report["overfit one batch"].passed  # in train mode dropout keeps it high


def test_baseline_runs_see_the_same_batches(data):
    seen = []

    def record(X, y):
        seen.append(y.clone())
        return X, y

    steps, b = 100, 60
    run(net(), data, batch_transform=record)
    assert len(seen) == steps + 2 * b
    real, zero = seen[steps:steps + b], seen[steps + b:]
    assert all(torch.equal(u, v) for u, v in zip(real, zero, strict=True))
    assert not all(torch.equal(u, real[0]) for u in real[1:])


def test_outputs_of_the_wrong_shape(data):
    report = run(mlp([4, 8, K + 1]), data)
    assert "output: logits" in failed(report)
    assert "spread" not in report["loss at init"].measured


def test_deterministic_with_a_generator(data):
    model = nn.Sequential(nn.Linear(4, 16), nn.ReLU(), nn.Dropout(0.3), nn.Linear(16, K))
    a = run(model, data, generator=torch.Generator().manual_seed(3))
    b = run(model, data, generator=torch.Generator().manual_seed(3))
    assert str(a) == str(b)
    c = sanity_checks(model, data, steps=20, baseline_steps=20, device="cpu")
    d = sanity_checks(model, data, steps=20, baseline_steps=20, device="cpu",
                      make_optimizer=lambda p: torch.optim.Adam(p, lr=1e-3))
    assert str(c) == str(d)  # the defaults: a generator seeded 0 and Adam at 1e-3
    assert sanity_checks(model, data, steps=5, baseline_steps=5).checks


def test_first_batch_is_fits_first_batch(data):
    seen = []

    def record(X, y):
        if not seen:
            seen.append((X.clone(), y.clone()))
        return X, y

    fit(net(), data, optimizer=torch.optim.SGD(net().parameters(), lr=0.0), epochs=1,
        batch_size=8, batch_transform=record, generator=torch.Generator().manual_seed(4),
        device="cpu")
    X, y = first_batch(data, batch_size=8, generator=torch.Generator().manual_seed(4))
    assert torch.equal(X, seen[0][0]) and torch.equal(y, seen[0][1])
    Xt, yt = first_batch(data, batch_size=8, batch_transform=lambda X, y: (2 * X, y),
                         generator=torch.Generator().manual_seed(4))
    assert torch.equal(Xt, 2 * X) and torch.equal(yt, y)


def test_gradient_norms_against_autograd(data):
    model = net()
    X, y = data.X_train[:16], data.y_train[:16]
    norms = gradient_norms(model, X, y)
    grads = torch.autograd.grad(nn.functional.cross_entropy(model(X), y),
                                list(model.parameters()))
    expected = [float(g.norm()) for g in grads]
    assert list(norms.values()) == pytest.approx(expected, rel=1e-6)
    assert all(p.grad is None for p in model.parameters())


def test_prior_entropy_against_scipy():
    y = torch.tensor([0, 0, 0, 1, 1, 3])
    assert prior_entropy(y, 4) == pytest.approx(entropy([3, 2, 0, 1]))
    assert prior_entropy(torch.arange(5), 5) == pytest.approx(math.log(5))


def test_check_str_wraps_at_88():
    c = SanityCheck("x", False, 1.0, "m " * 60, "e " * 40, "advice " * 20, "nat")
    assert all(len(line) <= 88 for line in str(c).splitlines())
    assert c.row().startswith("x" + " " * 28 + "✗  1.000 nat")
    assert c.details().startswith("✗ x: m m") and "→ advice" in c.details()
    assert SanityCheck("y", True, math.nan, "", "", "").row().split()[:3] == ["y", "✓", "—"]


def test_report_table(data):
    report = run(net(), data)
    lines = str(report).splitlines()
    assert lines[1].split() == ["check", "ok", "measured", "expected"]
    rows = [line for line in lines[2:] if not line.startswith(" ")]
    assert len(rows) == len(report.checks)  # nothing failed: no details below the table
    assert all(len(line) <= 88 for line in lines)
    init = report["loss at init"]
    assert "nat" in init.row() and "H(p̂)" not in init.expected  # balanced: ln K once
    assert init.expected == f"ln K = {math.log(K):.3f} ± 0.33 nat"
    assert report.details().count("\n") >= len(report.checks) - 1
    assert "logit spread s" in init.measured
    bad = str(run(nn.Sequential(net(), nn.Softmax(dim=-1)), data))
    assert "✗ overfit one batch: loss" in bad and "switch off" in bad


def test_scale_globally_and_per_feature(data):
    def scale(X):  # the data-scale record of a training part X
        return _sanity_data.data_checks(dataclasses.replace(data, X_train=X))[2]

    X = data.X_train - data.X_train.mean(0)
    assert scale(X)[1] and scale(X)[0] == "data: scale"
    assert "data: scale" in failed(run(net(), dataclasses.replace(data, X_train=50 * X)))
    assert not scale(0.01 * X)[1]  # mean 0, std 0.01: too small
    one = X.clone()
    one[:, 1] *= 15  # one column in other units: the global std stays below 10
    assert float(one.std()) < 10 and not scale(one)[1] and scale(one)[2] > 10
    shifted = X.clone()
    shifted[:, 0] += 3.5  # one feature's mean at 3.5: the global mean is below 1
    assert abs(float(shifted.mean())) < 1 and not scale(shifted)[1]
    from dlcore.data import digits
    for d in (digits(seed=0), digits(seed=0, scale="global")):
        assert _sanity_data.data_checks(d)[2][1]


def test_bad_input(data):
    with pytest.raises(TypeError, match="`model`"):
        sanity_checks("net", data)
    with pytest.raises(TypeError, match="`data`"):
        sanity_checks(net(), (data.X_train, data.y_train))
    with pytest.raises(ValueError, match="`batch_size` must be >= 1, got 0"):
        sanity_checks(net(), data, batch_size=0)
    with pytest.raises(ValueError, match="`steps`"):
        sanity_checks(net(), data, steps=0)
    with pytest.raises(ValueError, match="`baseline_steps`"):
        sanity_checks(net(), data, baseline_steps=0)
    with pytest.raises(TypeError, match="`loss_fn` must be callable"):
        sanity_checks(net(), data, loss_fn="ce")
    with pytest.raises(ValueError, match="`expected_loss` must be finite"):
        sanity_checks(net(), data, expected_loss=math.nan)
    with pytest.raises(ValueError, match="`init_tol` must be >= 0"):
        sanity_checks(net(), data, init_tol=-1.0)
    with pytest.raises(ValueError, match="`max_grad_ratio` must be >= 1"):
        sanity_checks(net(), data, max_grad_ratio=0.5)
    with pytest.raises(TypeError, match="`model`"):
        gradient_norms(None, data.X_train, data.y_train)
    with pytest.raises(TypeError, match="`loss_fn`"):
        gradient_norms(net(), data.X_train, data.y_train, loss_fn=3)
    with pytest.raises(TypeError, match="`batch_transform`"):
        first_batch(data, batch_transform=1)
    with pytest.raises(ValueError, match="`y` must hold labels in"):
        prior_entropy(torch.tensor([0, 3]), 2)


def test_public_names():
    import dlcore.practice as practice

    for name in sanity.__all__:
        assert getattr(practice, name) is getattr(sanity, name)
