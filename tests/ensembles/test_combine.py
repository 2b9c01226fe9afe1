"""Tests of dlcore.ensembles.combine: parity with scikit-learn and SciPy, properties, bad input."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy.optimize import minimize
from scipy.stats import rankdata
from sklearn.datasets import make_classification
from sklearn.ensemble import StackingClassifier, VotingClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import PredefinedSplit, cross_val_predict
from sklearn.naive_bayes import GaussianNB
from sklearn.tree import DecisionTreeClassifier

from dlcore.ensembles import (
    Stacked,
    average_probs,
    fit_weights,
    from_sklearn,
    out_of_fold_predictions,
    rank_average,
    stack,
    stratified_folds,
    vote,
)


def _probs(m, n, c, seed=0, dtype=torch.float64):
    g = torch.Generator().manual_seed(seed)
    return torch.softmax(2 * torch.randn(m, n, c, generator=g, dtype=dtype), -1)


@pytest.fixture(scope="module")
def problem():
    X, y = make_classification(n_samples=120, n_features=6, n_informative=4, n_classes=3,
                               random_state=0)
    bases = [("lr", LogisticRegression(C=0.5, max_iter=500)), ("nb", GaussianNB()),
             ("tree", DecisionTreeClassifier(max_depth=3, random_state=0))]
    return X, y, bases


# --- average_probs ------------------------------------------------------------------------

@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("shape", [(1, 5, 3), (4, 7, 2), (3, 1, 10)])
def test_average_matches_numpy(shape, dtype):
    p = _probs(*shape, dtype=dtype)
    w = torch.rand(shape[0], generator=torch.Generator().manual_seed(1)).tolist()
    torch.testing.assert_close(average_probs(p), p.mean(0))
    want = np.average(p.numpy(), axis=0, weights=w)
    torch.testing.assert_close(average_probs(p, weights=w), torch.from_numpy(want).to(dtype))
    assert average_probs(p).dtype == dtype


def test_average_properties():
    p = _probs(4, 9, 3)
    torch.testing.assert_close(average_probs(p[:1]), p[0])          # one model: itself
    perm = torch.tensor([2, 0, 3, 1])
    w = torch.tensor([0.1, 0.2, 0.3, 0.4], dtype=torch.float64)
    torch.testing.assert_close(average_probs(p[perm], weights=w[perm]),
                               average_probs(p, weights=w))
    torch.testing.assert_close(average_probs(p, weights=[1, 2, 3, 4]),
                               average_probs(p, weights=w))          # normalised
    torch.testing.assert_close(average_probs(p).sum(-1), torch.ones(9, dtype=torch.float64))
    torch.testing.assert_close(average_probs(p, weights=[0, 0, 1, 0]), p[2])
    scores = torch.rand(3, 5)
    torch.testing.assert_close(average_probs(scores), scores.mean(0))


def test_soft_vote_matches_sklearn(problem):
    X, y, bases = problem
    w = [1.0, 2.0, 0.5]
    clf = VotingClassifier(bases, voting="soft", weights=w).fit(X, y)
    probs = torch.stack([torch.from_numpy(e.predict_proba(X)) for e in clf.estimators_])
    ours = average_probs(probs, weights=w)
    torch.testing.assert_close(ours, torch.from_numpy(clf.predict_proba(X)))
    assert np.array_equal(ours.argmax(1).numpy(), clf.predict(X))


@pytest.mark.parametrize("weights, match", [
    ([1.0, 2.0], r"`weights` must have shape \(3,\)"),
    ([1.0, -1.0, 1.0], "non-negative"),
    ([0.0, 0.0, 0.0], "not all be zero"),
    ([1.0, float("nan"), 1.0], "finite"),
    (torch.tensor([1, 2, 3j]), "real numbers"),
])
def test_average_bad_weights(weights, match):
    with pytest.raises(ValueError, match=match):
        average_probs(_probs(3, 4, 2), weights=weights)


def test_average_bad_probs():
    with pytest.raises(ValueError, match="`probs` must be 2 or 3-dimensional"):
        average_probs(torch.rand(5))
    with pytest.raises(ValueError, match="floating-point"):
        average_probs(torch.ones(2, 3, 2, dtype=torch.long))
    with pytest.raises(ValueError, match="NaN"):
        average_probs(torch.full((2, 3, 2), float("nan")))
    with pytest.raises(TypeError, match="torch.Tensor"):
        average_probs([[[0.5, 0.5]]])


# --- fit_weights ----------------------------------------------------------------------------

def _nll(w, p, y):
    return -np.log((w[:, None] * p[:, np.arange(len(y)), y]).sum(0)).mean()


@pytest.mark.parametrize("m, seed", [(2, 0), (3, 1), (5, 2)])
def test_fit_weights_matches_scipy(m, seed):
    g = torch.Generator().manual_seed(seed)
    y = torch.randint(0, 4, (60,), generator=g)
    p = _probs(m, 60, 4, seed=seed)
    # members of different quality: member k is mixed with k/m of the one-hot truth
    onehot = torch.nn.functional.one_hot(y, 4).double()
    p = torch.stack([(1 - 0.15 * k) * p[k] + 0.15 * k * onehot for k in range(m)])
    w = fit_weights(p, y)
    torch.testing.assert_close(w.sum(), torch.tensor(1.0, dtype=torch.float64))
    assert bool((w >= 0).all())
    pn, yn = p.numpy(), y.numpy()
    ref = minimize(_nll, np.full(m, 1 / m), args=(pn, yn), method="SLSQP",
                   bounds=[(0, 1)] * m, constraints={"type": "eq", "fun": lambda v: v.sum() - 1},
                   options={"ftol": 1e-14, "maxiter": 500})
    assert _nll(w.numpy(), pn, yn) <= ref.fun + 1e-7
    assert _nll(w.numpy(), pn, yn) <= _nll(np.full(m, 1 / m), pn, yn)


def test_fit_weights_dtype_permutation_and_single():
    y = torch.tensor([0, 1, 1, 2, 0, 2])
    p = _probs(3, 6, 3, seed=3, dtype=torch.float32)
    w = fit_weights(p, y)
    assert w.dtype == torch.float32
    perm = torch.tensor([1, 2, 0])
    torch.testing.assert_close(fit_weights(p[perm], y), w[perm], atol=1e-4, rtol=0)
    torch.testing.assert_close(fit_weights(p[:1], y), torch.ones(1))
    # a zero probability of the true class does not give NaN
    z = torch.zeros(2, 2, 2)
    z[0, :, 0] = 1
    z[1, :, 1] = 1
    assert torch.isfinite(fit_weights(z, torch.tensor([0, 1]))).all()


def test_fit_weights_bad_input():
    p = _probs(2, 4, 3)
    with pytest.raises(ValueError, match="one label per sample"):
        fit_weights(p, torch.tensor([0, 1]))
    with pytest.raises(ValueError, match=r"labels in \[0, 3\)"):
        fit_weights(p, torch.tensor([0, 1, 2, 3]))
    with pytest.raises(ValueError, match="`steps` must be >= 1"):
        fit_weights(p, torch.tensor([0, 1, 2, 0]), steps=0)
    with pytest.raises(ValueError, match="`tol` must be > 0"):
        fit_weights(p, torch.tensor([0, 1, 2, 0]), tol=0.0)
    with pytest.raises(ValueError, match="3-dimensional"):
        fit_weights(p[0], torch.tensor([0, 1, 2, 0]))
    with pytest.raises(ValueError, match="1-dimensional"):
        fit_weights(p, torch.zeros(4, 1, dtype=torch.long))


# --- rank_average ---------------------------------------------------------------------------

@pytest.mark.parametrize("dtype", [torch.float32, torch.float64, torch.int64])
@pytest.mark.parametrize("m, n", [(1, 1), (3, 10), (5, 200)])
def test_rank_average_matches_scipy(m, n, dtype):
    g = torch.Generator().manual_seed(n)
    s = torch.randint(0, 6, (m, n), generator=g).to(dtype)       # many ties
    want = np.mean([rankdata(row) for row in s.numpy()], axis=0)
    out = rank_average(s)
    assert out.dtype == (dtype if dtype.is_floating_point else torch.get_default_dtype())
    np.testing.assert_allclose(out.numpy(), want, rtol=1e-6)


def test_rank_average_properties():
    s = torch.randn(4, 30, dtype=torch.float64)
    scaled = s * torch.tensor([[1.0], [100.0], [0.01], [3.0]], dtype=torch.float64) + 5
    torch.testing.assert_close(rank_average(scaled), rank_average(s))   # only order counts
    torch.testing.assert_close(rank_average(s[[3, 1, 0, 2]]), rank_average(s))
    inf = torch.tensor([[float("-inf"), 0.0, float("inf")]])
    torch.testing.assert_close(rank_average(inf), torch.tensor([1.0, 2.0, 3.0]))


def test_rank_average_bad_input():
    with pytest.raises(ValueError, match="2-dimensional"):
        rank_average(torch.rand(3))
    with pytest.raises(ValueError, match="NaN"):
        rank_average(torch.tensor([[0.0, float("nan")]]))
    with pytest.raises(ValueError, match="real numbers"):
        rank_average(torch.tensor([[1j, 2j]]))


# --- vote -----------------------------------------------------------------------------------

@pytest.mark.parametrize("weights", [None, [1.0, 1.0, 1.0], [0.5, 2.0, 1.0], [1.0, 1.0, 2.0]])
def test_hard_vote_matches_sklearn(problem, weights):
    X, y, bases = problem
    clf = VotingClassifier(bases, voting="hard", weights=weights).fit(X, y)
    preds = torch.stack([torch.from_numpy(e.predict(X)) for e in clf.estimators_])
    assert np.array_equal(vote(preds, weights=weights).numpy(), clf.predict(X))


def test_vote_ties_and_properties():
    g = torch.Generator().manual_seed(0)
    preds = torch.randint(0, 5, (4, 300), generator=g)
    # brute-force reference: a Python bincount per sample, argmax → first maximum
    want = [int(np.argmax(np.bincount(preds[:, i].numpy(), minlength=5))) for i in range(300)]
    assert vote(preds).tolist() == want
    assert vote(preds[[2, 0, 3, 1]]).tolist() == want                 # order of members
    assert vote(preds[:1]).tolist() == preds[0].tolist()              # one model: itself
    assert vote(torch.tensor([[3], [1]])).tolist() == [1]
    assert vote(torch.tensor([[1], [3]])).tolist() == [1]
    assert vote(torch.tensor([[4], [4]]), num_classes=6).tolist() == [4]
    assert vote(torch.tensor([[2], [1]]), weights=[2, 1]).tolist() == [2]
    assert vote(torch.tensor([[True], [False]])).tolist() == [0]
    assert vote(preds).dtype == torch.int64


def test_vote_bad_input():
    with pytest.raises(ValueError, match="integer class labels"):
        vote(torch.rand(2, 3))
    with pytest.raises(ValueError, match="labels >= 0"):
        vote(torch.tensor([[0, -1]]))
    with pytest.raises(ValueError, match=r"labels in \[0, 2\)"):
        vote(torch.tensor([[0, 2]]), num_classes=2)
    with pytest.raises(ValueError, match="`num_classes` must be >= 1"):
        vote(torch.tensor([[0, 0]]), num_classes=0)
    with pytest.raises(ValueError, match=r"shape \(2,\)"):
        vote(torch.tensor([[0], [1]]), weights=[1.0])


# --- folds, out-of-fold predictions, stacking -------------------------------------------------

def test_stratified_folds():
    y = torch.tensor([0] * 7 + [1] * 5 + [2] * 3)
    ids = stratified_folds(y, 3, generator=torch.Generator().manual_seed(0))
    assert ids.dtype == torch.int64 and ids.shape == y.shape
    for c in range(3):
        counts = torch.bincount(ids[y == c], minlength=3)
        assert int(counts.max() - counts.min()) <= 1
    counts = torch.bincount(ids, minlength=3)
    assert int(counts.max() - counts.min()) <= 1
    again = stratified_folds(y, 3, generator=torch.Generator().manual_seed(0))
    assert torch.equal(ids, again)
    with pytest.raises(ValueError, match="`folds` must be >= 2"):
        stratified_folds(y, 1)
    with pytest.raises(ValueError, match="<= the number of samples"):
        stratified_folds(y[:2], 3)
    with pytest.raises(ValueError, match="1-dimensional"):
        stratified_folds(y[None], 2)


def test_oof_matches_cross_val_predict(problem):
    X, y, _ = problem
    ids = stratified_folds(torch.from_numpy(y), 4, generator=torch.Generator().manual_seed(1))
    est = LogisticRegression(C=0.5, max_iter=500)
    Xt, yt = torch.from_numpy(X), torch.from_numpy(y)
    ours = out_of_fold_predictions(from_sklearn(est), Xt, yt, folds=ids)
    want = cross_val_predict(est, X, y, cv=PredefinedSplit(ids.numpy()), method="predict_proba")
    torch.testing.assert_close(ours, torch.from_numpy(want))
    ours_int = out_of_fold_predictions(from_sklearn(est), Xt, yt, folds=4,
                                       generator=torch.Generator().manual_seed(1))
    torch.testing.assert_close(ours_int, ours)                    # same fold assignment


def test_stack_matches_sklearn(problem):
    X, y, bases = problem
    ids = stratified_folds(torch.from_numpy(y), 5, generator=torch.Generator().manual_seed(2))
    meta = LogisticRegression(C=1.0, max_iter=1000)
    ref = StackingClassifier(bases, final_estimator=meta, cv=PredefinedSplit(ids.numpy()),
                             stack_method="predict_proba").fit(X, y)
    Xt, yt = torch.from_numpy(X), torch.from_numpy(y)
    ours = stack([from_sklearn(e) for _, e in bases], from_sklearn(meta), Xt, yt, folds=ids)
    assert isinstance(ours, Stacked)
    assert ours.features.shape == (120, 9)
    torch.testing.assert_close(ours(Xt), torch.from_numpy(ref.predict_proba(X)))
    torch.testing.assert_close(ours.meta_features(Xt), torch.from_numpy(ref.transform(X)))


def test_stack_binary_keeps_both_columns():
    X, y = make_classification(n_samples=80, n_features=5, random_state=1)
    bases = [("lr", LogisticRegression(max_iter=500)), ("nb", GaussianNB())]
    ids = stratified_folds(torch.from_numpy(y), 4, generator=torch.Generator().manual_seed(3))
    ref = StackingClassifier(bases, final_estimator=LogisticRegression(),
                             cv=PredefinedSplit(ids.numpy()),
                             stack_method="predict_proba").fit(X, y)
    Xt, yt = torch.from_numpy(X), torch.from_numpy(y)
    ours = stack([from_sklearn(e) for _, e in bases], from_sklearn(LogisticRegression()),
                 Xt, yt, folds=ids)
    z = ours.meta_features(Xt)
    assert z.shape == (80, 4)                                    # C = 2 columns per base
    torch.testing.assert_close(z[:, 1::2], torch.from_numpy(ref.transform(X)))
    torch.testing.assert_close(z[:, 0::2], 1 - z[:, 1::2])       # the dropped column
    assert ours.meta.model.coef_.shape == (1, 4)                 # the fitted meta-model


def test_in_sample_stack_sees_training_predictions(problem):
    X, y, _ = problem
    Xt, yt = torch.from_numpy(X), torch.from_numpy(y)
    tree = from_sklearn(DecisionTreeClassifier(random_state=0))      # memorises the data
    leaky = stack([tree], from_sklearn(LogisticRegression()), Xt, yt, in_sample=True)
    oof = stack([tree], from_sklearn(LogisticRegression()), Xt, yt, folds=5,
                generator=torch.Generator().manual_seed(0))
    onehot = torch.nn.functional.one_hot(yt, 3).double()
    torch.testing.assert_close(leaky.features, onehot)          # in-sample: perfect
    assert not torch.equal(oof.features, onehot)                 # out of fold: honest errors


def test_torch_models_and_int_features():
    def make_prior(X, y):
        freq = torch.bincount(y, minlength=2).float() / len(y)
        return lambda Z: freq.expand(len(Z), 2)

    def make_counts(X, y):                 # integer "probabilities": features become float64
        return lambda Z: torch.ones(len(Z), 2, dtype=torch.long)

    y = torch.tensor([0, 0, 1, 1, 0, 1])
    s = stack([make_counts, make_prior], make_prior, torch.zeros(6, 1), y, folds=2,
              generator=torch.Generator().manual_seed(0))
    assert s.features.dtype == torch.float64 and s.features.shape == (6, 4)
    assert s(torch.zeros(3, 1)).shape == (3, 2)


def test_oof_and_stack_bad_input():
    X = torch.randn(6, 2, generator=torch.Generator().manual_seed(0))
    y = torch.tensor([0, 1, 0, 1, 0, 1])
    good = from_sklearn(GaussianNB())
    with pytest.raises(TypeError, match="`make_model` must be callable"):
        out_of_fold_predictions(3, X, y)
    with pytest.raises(ValueError, match="same number of samples"):
        out_of_fold_predictions(good, X[:5], y)
    with pytest.raises(ValueError, match="one fold id per sample"):
        out_of_fold_predictions(good, X, y, folds=torch.tensor([0, 1]))
    with pytest.raises(ValueError, match="at least two folds"):
        out_of_fold_predictions(good, X, y, folds=torch.zeros(6, dtype=torch.long))
    with pytest.raises(ValueError, match=r"\(samples, classes\)"):
        out_of_fold_predictions(lambda A, b: (lambda Z: torch.zeros(len(Z))), X, y, folds=2)

    def uneven(A, b):                                  # predicts more classes on fold 2
        width = 2 if len(b) == 3 else 3
        return lambda Z: torch.zeros(len(Z), width)

    with pytest.raises(ValueError, match="same number of classes on every fold"):
        out_of_fold_predictions(uneven, X, y, folds=torch.tensor([0, 0, 0, 1, 1, 2]))
    with pytest.raises(ValueError, match="non-empty sequence"):
        stack([], good, X, y)
    with pytest.raises(ValueError, match="non-empty sequence"):
        stack("ab", good, X, y)
    with pytest.raises(TypeError, match="`make_meta` must be callable"):
        stack([good], None, X, y)
    with pytest.raises(TypeError, match="`make_models` must hold callables"):
        stack([good, 1], good, X, y, folds=2)
    with pytest.raises(TypeError, match="`in_sample` must be a bool"):
        stack([good], good, X, y, in_sample=1)
    with pytest.raises(TypeError, match="predict_proba"):
        from_sklearn(object())
