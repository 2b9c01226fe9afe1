import math

import numpy as np
import pytest
import torch
from torch import nn

import dlcore
from dlcore import data
from dlcore.practice import Diagnosis, LearningCurve, diagnose, learning_curve, trainer
from dlcore.stats import mean_interval
from dlcore.train import History, mlp


@pytest.fixture(scope="module")
def digits():
    dlcore.seed(0)  # the one-thread policy: small steps run fast on a busy machine
    return data.with_validation(data.digits(), fraction=0.2, seed=0)


def blobs_split(val=True, test=False):
    X, y = data.blobs(160, centers=3, std=0.6, generator=torch.Generator().manual_seed(1))
    split = data.Split(X[:120], y[:120], X[120:] if test else None,
                       y[120:] if test else None, 3)
    return data.with_validation(split, fraction=0.25) if val else split


def linear(seed):
    return nn.Linear(2, 3)


def test_shapes_parts_and_histories(digits):
    curve = learning_curve(lambda s: nn.Linear(64, 10), digits, sizes=[30, 100, 300],
                           seeds=[3, 5], train=trainer(epochs=2, device="cpu"))
    assert isinstance(curve, LearningCurve)
    assert curve.sizes == (30, 100, 300) and curve.seeds == (3, 5)
    for part in ("train", "val", "test"):
        for metric in ("error", "loss"):
            arr = curve.get(part, metric)
            assert arr.shape == (3, 2) and np.isfinite(arr).all()
    assert ((curve.train_error >= 0) & (curve.train_error <= 1)).all()
    assert all(isinstance(h, History) and len(h.train_loss) == 2
               for row in curve.histories for h in row)
    # the recorded validation error is the history's last one (same model, same data)
    h = curve.histories[1][0]
    assert curve.val_error[1, 0] == pytest.approx(1 - h.val_acc[-1])
    assert curve.val_loss[1, 0] == pytest.approx(h.val_loss[-1])


def test_absent_parts_are_none_and_get_refuses_them():
    curve = learning_curve(linear, blobs_split(val=False), sizes=[20, 60], seeds=[0, 1],
                           train=trainer(epochs=1, device="cpu"))
    assert curve.val_error is None and curve.test_loss is None
    with pytest.raises(ValueError, match="no val part"):
        curve.mean("val")
    text = str(curve)
    assert "train error" in text and "val - train" not in text and "    60 " in text


def test_training_subsets_are_nested_and_stratified(digits):
    seen = {}

    def record(model, split, seed):
        seen[(len(split.X_train), seed)] = {tuple(r.tolist()) for r in split.X_train}
        assert torch.equal(split.X_val, digits.X_val)  # validation kept whole
        assert torch.equal(split.X_test, digits.X_test)
        counts = torch.bincount(split.y_train, minlength=10).double()
        share = torch.bincount(digits.y_train, minlength=10).double() / len(digits.y_train)
        assert (counts - share * len(split.y_train)).abs().max() <= 1
        return model

    learning_curve(lambda s: nn.Linear(64, 10), digits, sizes=[20, 50, 200], seeds=[0, 7],
                   train=record)
    for seed in (0, 7):
        assert seen[(20, seed)] <= seen[(50, seed)] <= seen[(200, seed)]
    assert seen[(50, 0)] != seen[(50, 7)]  # the seed draws the rows


def test_a_memorising_model_has_zero_training_error(digits):
    def make(seed):
        return mlp([64, 256, 10])

    curve = learning_curve(make, digits, sizes=[20, 80], seeds=[0, 1],
                           train=trainer(steps=150, lr=1e-2, batch_size=16, device="cpu",
                                         parts=("train",)))
    assert (curve.train_error == 0).all()
    gap = curve.gap()
    assert (gap > 0).all() and (gap == curve.val_error).all()
    # the gap closes with n (every seed)
    assert (gap[1] < gap[0]).all()
    # the flow calls it overfitting; a training error of exactly 0 answers "no" at 0
    d = diagnose(curve.train_error[0], curve.val_error[0], acceptable=0.0)
    assert d.branch == "overfitting" and d.steps[0].answer == "no"


def test_determinism_and_global_rng_untouched():
    split = blobs_split()
    torch.manual_seed(123)
    state = torch.get_rng_state()

    def make(seed):
        return nn.Sequential(nn.Linear(2, 8), nn.Dropout(0.3), nn.Linear(8, 3))

    kw = dict(sizes=[30, 90], seeds=[0, 1], train=trainer(epochs=3, device="cpu"))
    a = learning_curve(make, split, **kw)
    assert torch.equal(torch.get_rng_state(), state)
    b = learning_curve(make, split, **kw)
    for name in ("train_error", "train_loss", "val_error", "val_loss"):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name))
    assert not np.array_equal(a.train_loss[:, 0], a.train_loss[:, 1])  # seeds differ


def test_same_seed_same_initial_weights():
    inits = []

    def grab(model, split, seed):
        inits.append(model.weight.detach().clone())
        return model

    learning_curve(linear, blobs_split(), sizes=[10, 20], seeds=[4, 5], train=grab)
    # order: (size 10, seed 4), (10, 5), (20, 4), (20, 5)
    assert torch.equal(inits[0], inits[2]) and torch.equal(inits[1], inits[3])
    assert not torch.equal(inits[0], inits[1])  # the seed draws the initial weights


def test_train_may_return_another_module_and_models_without_parameters():
    split = blobs_split()

    class Constant(nn.Module):  # predicts class 0 for everything
        def forward(self, x):
            return torch.zeros(len(x), 3).index_fill_(1, torch.tensor([0]), 1.0)

    curve = learning_curve(linear, split, sizes=[30, 90], seeds=[0, 1],
                           train=lambda m, s, seed: Constant())
    assert all(h is None for row in curve.histories for h in row)
    share0 = (split.y_val == 0).double().mean().item()
    np.testing.assert_allclose(curve.val_error, 1 - share0)
    # cross-entropy of the logits (1, 0, 0): log(e + 2) - 1 on class 0, log(e + 2) elsewhere
    assert curve.val_loss[0, 0] == pytest.approx(math.log(2 + math.e) - share0)


def test_trainer_steps_gives_equal_optimisation_budget():
    split = blobs_split()
    train = trainer(steps=20, batch_size=16, device="cpu")
    for n, epochs in ((16, 20), (40, 7), (90, 4)):  # ceil(20 / ceil(n / 16))
        h = train(nn.Linear(2, 3), data.subset(split, n=n), seed=0)
        assert len(h.train_loss) == epochs and len(h.step_loss) >= 20


def test_learning_curve_default_trainer_and_device():
    curve = learning_curve(linear, blobs_split(test=True), sizes=[40], seeds=[0, 1],
                           device="cpu")
    assert len(curve.histories[0][0].train_loss) == 20  # trainer(epochs=20)
    assert curve.test_error.shape == (1, 2)


def test_summaries():
    curve = learning_curve(linear, blobs_split(), sizes=[15, 60, 90], seeds=[0, 1, 2],
                           train=trainer(epochs=2, device="cpu"))
    np.testing.assert_allclose(curve.mean("train", "loss"), curve.train_loss.mean(axis=1))
    ivs = curve.intervals("val", confidence=0.9)
    assert len(ivs) == 3 and ivs[2].confidence == 0.9
    ref = mean_interval(curve.val_error[2], confidence=0.9)
    assert (ivs[2].low, ivs[2].high) == pytest.approx((ref.low, ref.high))
    np.testing.assert_allclose(curve.gap("val", "loss"), curve.val_loss - curve.train_loss)
    text = str(curve)
    assert "3 seed(s)" in text and "val - train" in text and text.count("\n") == 4
    with pytest.raises(ValueError, match="`part`"):
        curve.get("dev")
    with pytest.raises(ValueError, match="`metric`"):
        curve.get("val", "acc")


def test_learning_curve_bad_input():
    split = blobs_split()
    ok = dict(sizes=[10, 20], seeds=[0, 1], train=trainer(epochs=1))
    with pytest.raises(TypeError, match="make_model"):
        learning_curve("linear", split, **ok)
    with pytest.raises(TypeError, match="data"):
        learning_curve(linear, (split.X_train, split.y_train), **ok)
    with pytest.raises(TypeError, match="train"):
        learning_curve(linear, split, sizes=[10], seeds=[0], train=3)
    for sizes, match in (([20, 10], "increasing"), ([], "non-empty"), ("10", "sequence"),
                         ([0, 5], r"sizes\[0\]"), ([10, 9999], "at most the 90")):
        with pytest.raises(ValueError, match=match):
            learning_curve(linear, split, sizes=sizes, seeds=[0], train=ok["train"])
    with pytest.raises(ValueError, match="distinct"):
        learning_curve(linear, split, sizes=[10], seeds=[1, 1], train=ok["train"])
    with pytest.raises(ValueError, match=r"seeds\[0\]"):
        learning_curve(linear, split, sizes=[10], seeds=[-1], train=ok["train"])
    with pytest.raises(TypeError, match="nn.Module"):
        learning_curve(lambda s: "model", split, **ok)


def test_trainer_bad_input():
    for kw in ({}, {"epochs": 2, "steps": 5}):
        with pytest.raises(ValueError, match="exactly one"):
            trainer(**kw)
    with pytest.raises(ValueError, match="`epochs`"):
        trainer(epochs=0)
    with pytest.raises(ValueError, match="`steps`"):
        trainer(steps=0)
    with pytest.raises(ValueError, match="`lr`"):
        trainer(epochs=1, lr=0.0)
    with pytest.raises(ValueError, match="`optimizer` is set by trainer"):
        trainer(epochs=1, optimizer=None)


def per_seed(mean, spread=0.002, n=5):
    return mean + spread * np.linspace(-1, 1, n)


@pytest.mark.parametrize("kwargs, branch", [
    (dict(train_error=per_seed(0.30), val_error=per_seed(0.32)), "model bias or optimization"),
    (dict(train_error=per_seed(0.30), val_error=per_seed(0.32), reference=per_seed(0.10)),
     "optimization"),
    (dict(train_error=per_seed(0.30), val_error=per_seed(0.32), reference=per_seed(0.40)),
     "model bias"),
    (dict(train_error=per_seed(0.30), val_error=per_seed(0.32),
          reference=per_seed(0.30, 0.05)), "undecided"),
    (dict(train_error=per_seed(0.10, 0.1), val_error=per_seed(0.32)), "undecided"),
    (dict(train_error=per_seed(0.01), val_error=per_seed(0.30)), "overfitting"),
    (dict(train_error=per_seed(0.01), val_error=per_seed(0.06, 0.05)), "undecided"),
    (dict(train_error=per_seed(0.01), val_error=per_seed(0.03), test_error=per_seed(0.30)),
     "mismatch"),
    (dict(train_error=per_seed(0.01), val_error=per_seed(0.03),
          test_error=per_seed(0.08, 0.06)), "undecided"),
    (dict(train_error=per_seed(0.01), val_error=per_seed(0.03), test_error=per_seed(0.04)),
     "no problem found"),
    (dict(train_error=per_seed(0.01), val_error=per_seed(0.30), test_error=per_seed(0.60)),
     "overfitting and mismatch"),
    (dict(train_error=per_seed(0.01), val_error=per_seed(0.30),
          test_error=per_seed(0.35, 0.06)), "overfitting"),
    (dict(train_error=per_seed(0.01), val_error=per_seed(0.03)), "no problem found"),
])
def test_diagnose_branches(kwargs, branch):
    d = diagnose(**kwargs, acceptable=0.05)
    assert isinstance(d, Diagnosis) and d.branch == branch
    assert d.advice.count(";") == branch.count(" and ")
    assert d.advice and str(d).startswith(f"diagnosis: {branch}\n")
    assert str(d).count("\n") == len(d.steps) + 1
    # a step is "yes" exactly when its interval lies above its threshold
    for step in d.steps:
        assert (step.answer == "yes") == (step.interval.low > step.threshold)
        assert step.question in str(step)


def test_diagnose_notes_an_unresolved_step_next_to_a_found_one():
    d = diagnose(per_seed(0.01), per_seed(0.30), per_seed(0.35, 0.06), acceptable=0.05)
    assert d.branch == "overfitting" and d.steps[2].answer == "unresolved"
    assert d.advice.endswith("(test - val error unresolved)")
    clean = diagnose(per_seed(0.01), per_seed(0.30), per_seed(0.31), acceptable=0.05)
    assert "unresolved" not in clean.advice


def test_diagnose_thresholds_are_arguments():
    tr, va = per_seed(0.01), per_seed(0.10)
    assert diagnose(tr, va, acceptable=0.05, gap=0.05).branch == "overfitting"
    assert diagnose(tr, va, acceptable=0.05, gap=0.2).branch == "no problem found"
    assert diagnose(tr, va, acceptable=0.0).branch == "model bias or optimization"
    wide = diagnose(tr, per_seed(0.07, 0.03), acceptable=0.05, confidence=0.5)
    narrow = diagnose(tr, per_seed(0.07, 0.03), acceptable=0.05, confidence=0.99)
    assert (wide.branch, narrow.branch) == ("overfitting", "undecided")
    # the reference step's margin: an excess of 0.05 is an optimization problem at margin
    # 0 and not at margin 0.1
    tr, ref = per_seed(0.35), per_seed(0.30)
    assert diagnose(tr, tr, acceptable=0.1, reference=ref).branch == "optimization"
    small = diagnose(tr, tr, acceptable=0.1, reference=ref, margin=0.1)
    assert small.branch == "model bias" and small.steps[1].threshold == 0.1


def test_diagnose_bad_input():
    tr = [0.1, 0.2, 0.1]
    with pytest.raises(ValueError, match="`val_error` must be 1-D with 3 values"):
        diagnose(tr, [0.1, 0.2], acceptable=0.1)
    with pytest.raises(ValueError, match="`train_error`.*at least 2"):
        diagnose([0.1], [0.1], acceptable=0.1)
    with pytest.raises(ValueError, match="`test_error` must be finite"):
        diagnose(tr, tr, [0.1, float("nan"), 0.1], acceptable=0.5)
    with pytest.raises(ValueError, match="`reference`"):
        diagnose(tr, tr, acceptable=0.0, reference=[0.1, 0.2])
    with pytest.raises(TypeError, match="`acceptable`"):
        diagnose(tr, tr, acceptable="low")
    with pytest.raises(ValueError, match="`confidence`"):
        diagnose(tr, tr, acceptable=0.1, confidence=1.0)
    with pytest.raises(ValueError, match="`train_error`"):
        diagnose(np.zeros((2, 2)), tr, acceptable=0.1)
    with pytest.raises(ValueError, match=r"`val_error` must be error rates in \[0, 1\]"):
        diagnose(tr, [0.1, 1.2, 0.1], acceptable=0.1)
    with pytest.raises(ValueError, match="`reference` must be error rates"):
        diagnose(tr, tr, acceptable=0.0, reference=[0.1, -0.2, 0.1])
    for kw, name in ((dict(acceptable=1.5), "acceptable"), (dict(acceptable=-0.1),
                     "acceptable"), (dict(acceptable=0.1, margin=-0.01), "margin"),
                     (dict(acceptable=0.1, gap=-0.1), "gap"),
                     (dict(acceptable=0.1, shift=-0.1), "shift")):
        with pytest.raises(ValueError, match=f"`{name}`"):
            diagnose(tr, tr, **kw)


def test_reexported_from_dlcore_practice():
    import dlcore.practice as practice

    assert {"learning_curve", "diagnose", "trainer", "LearningCurve"} <= set(practice.__all__)
    assert dlcore.practice.learning_curve is learning_curve
