r"""Combining the predictions of several models (chapter Ensembles, sections "Why ensembles
work" and "Combining predictions").

Members are stacked along the first dimension: ``probs`` has shape (models, samples,
classes), ``scores`` and ``preds`` have shape (models, samples).

* :func:`average_probs` — the (weighted) mean of the members' probabilities,
  :math:`\bar p = \sum_m w_m p_m / \sum_m w_m`, as ``VotingClassifier(voting="soft")``;
* :func:`fit_weights` — simplex weights minimising the NLL of :func:`average_probs` on a
  *validation* split;
* :func:`rank_average` — the mean over members of each member's ranks (ties averaged), equal
  to averaging ``scipy.stats.rankdata`` per member: for ranking metrics such as AUC;
* :func:`vote` — (weighted) hard voting, ties to the smallest class label, as
  ``VotingClassifier(voting="hard")``;
* :func:`stratified_folds`, :func:`out_of_fold_predictions` and :func:`stack` — stacking
  (Wolpert 1992): a meta-model fitted on out-of-fold predictions of the base models, as
  ``StackingClassifier``.

A *model* in :func:`out_of_fold_predictions` and :func:`stack` is a callable
``make_model(X, y) -> predict`` that trains a fresh model on ``(X, y)`` and returns a function
``predict(X) -> probs`` of shape (samples, classes); :func:`from_sklearn` makes one from a
scikit-learn classifier.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch

from dlcore import _checks

__all__ = ["average_probs", "fit_weights", "rank_average", "vote", "stratified_folds",
           "out_of_fold_predictions", "stack", "Stacked", "from_sklearn"]


def _members(x, name: str, ndim: Sequence[int], *, floating: bool) -> torch.Tensor:
    _checks.tensor(x, name, floating=floating)
    _checks.ndim(x, name, ndim)
    return x


def _weights(weights, n_models: int, like: torch.Tensor) -> torch.Tensor:
    """Validate member weights and return them normalised to sum to one, in ``like``'s dtype."""
    if weights is None:
        return torch.full((n_models,), 1.0 / n_models, dtype=like.dtype, device=like.device)
    if not isinstance(weights, torch.Tensor):
        weights = torch.as_tensor(weights, dtype=torch.float64)
    _checks.tensor(weights, "weights")
    _checks.real(weights, "weights")
    if weights.shape != (n_models,):
        raise ValueError(f"`weights` must have shape ({n_models},), one per model, "
                         f"got {tuple(weights.shape)}")
    weights = _checks.finite(weights.to(like.dtype), "weights")
    if bool((weights < 0).any()):
        raise ValueError(f"`weights` must be non-negative, got {weights.tolist()}")
    total = weights.sum()
    if not bool(total > 0):
        raise ValueError(f"`weights` must not all be zero, got {weights.tolist()}")
    return (weights / total).to(like.device)


def average_probs(probs: torch.Tensor, *, weights=None) -> torch.Tensor:
    r"""The weighted mean of the members' predicted probabilities (soft voting).

    .. math:: \bar p_{ic} = \sum_{m=1}^{M} \tilde w_m\, p_{mic},\qquad
        \tilde w_m = \frac{w_m}{\sum_{k} w_k}.

    Weights are **normalised**, as ``numpy.average`` and
    ``sklearn.ensemble.VotingClassifier(voting="soft", weights=...)`` do: ``[1, 2, 1]`` and
    ``[0.25, 0.5, 0.25]`` give the same average. They must be non-negative and not all zero
    (a negative weight would let the average leave the probability simplex).

    Args:
        probs: (models, samples, classes) probabilities (any floating dtype, any device);
            also (models, samples) for one score per sample.
        weights: optional (models,) non-negative weights; ``None`` is the plain mean.

    Returns:
        torch.Tensor: (samples, classes) (or (samples,)) averaged probabilities.

    Examples:
        >>> p = torch.tensor([[[0.9, 0.1]], [[0.5, 0.5]]])
        >>> average_probs(p)
        tensor([[0.7000, 0.3000]])
        >>> average_probs(p, weights=[3.0, 1.0])
        tensor([[0.8000, 0.2000]])
    """
    _members(probs, "probs", (2, 3), floating=True)
    _checks.no_nan(probs, "probs")
    w = _weights(weights, probs.shape[0], probs)
    return torch.tensordot(w, probs, dims=1)


def _mixture_nll(w: torch.Tensor, probs: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    picked = probs[:, torch.arange(probs.shape[1], device=probs.device), target]  # (M, N)
    mix = (w[:, None] * picked).sum(0)
    return -torch.log(mix.clamp_min(torch.finfo(mix.dtype).tiny)).mean()


def fit_weights(probs: torch.Tensor, target: torch.Tensor, *, steps: int = 100,
                tol: float = 1e-10) -> torch.Tensor:
    r"""Simplex weights that minimise the log-loss of :func:`average_probs`.

    .. math:: \hat w = \operatorname*{arg\,min}_{w \in \Delta^{M-1}}
        -\frac1N \sum_{i=1}^{N} \log \sum_{m=1}^{M} w_m\, p_{m i y_i},\qquad
        w = \operatorname{softmax}(a).

    The objective is convex in :math:`w` (minus the log of a linear function); it is minimised
    over unconstrained :math:`a` (softmax keeps :math:`w` on the simplex) with L-BFGS and a
    strong-Wolfe line search in float64, starting from equal weights. Fit on a **validation**
    split: weights fitted on the test split make the test score optimistic.

    Args:
        probs: (models, samples, classes) validation probabilities.
        target: (samples,) integer labels.
        steps: maximum number of L-BFGS iterations (>= 1).
        tol: tolerance on the change of the loss and of ``a`` (> 0).

    Returns:
        torch.Tensor: (models,) non-negative weights summing to one, in ``probs``' dtype and
        on its device.

    Examples:
        >>> p = torch.tensor([[[0.9, 0.1], [0.2, 0.8]],    # model 0: right twice
        ...                   [[0.4, 0.6], [0.6, 0.4]]])   # model 1: wrong twice
        >>> w = fit_weights(p, torch.tensor([0, 1]))
        >>> float(w.sum()), bool(w[0] > 0.99)
        (1.0, True)
    """
    _members(probs, "probs", (3,), floating=True)
    _checks.finite(probs, "probs")
    _checks.tensor(target, "target")
    _checks.ndim(target, "target", (1,))
    _checks.labels(target, "target", probs.shape[2])
    if target.shape[0] != probs.shape[1]:
        raise ValueError(f"`target` must have one label per sample ({probs.shape[1]}), "
                         f"got {target.shape[0]}")
    _checks.number(steps, "steps", low=1, integer=True)
    _checks.number(tol, "tol", low=0, low_open=True)
    p64 = probs.detach().to(torch.float64)
    y = target.to(probs.device).long()
    a = torch.zeros(probs.shape[0], dtype=torch.float64, device=probs.device,
                    requires_grad=True)
    opt = torch.optim.LBFGS([a], lr=1.0, max_iter=steps, tolerance_grad=tol,
                            tolerance_change=tol, line_search_fn="strong_wolfe")

    def closure():
        opt.zero_grad()
        loss = _mixture_nll(torch.softmax(a, 0), p64, y)
        loss.backward()
        return loss

    opt.step(closure)
    return torch.softmax(a.detach(), 0).to(probs.dtype)


def _ranks(row: torch.Tensor) -> torch.Tensor:
    """1-based ranks of a 1-d tensor, ties given their average rank (``rankdata`` "average")."""
    _, inverse, counts = torch.unique(row, sorted=True, return_inverse=True,
                                      return_counts=True)
    counts = counts.to(torch.float64)
    start = torch.cumsum(counts, 0) - counts        # 0-based position of each distinct value
    return (start + (counts + 1) / 2)[inverse]


def rank_average(scores: torch.Tensor) -> torch.Tensor:
    r"""The mean over members of each member's ranks of the samples.

    .. math:: \bar r_i = \frac1M \sum_{m=1}^{M} \operatorname{rank}_m(s_{mi}),

    where :math:`\operatorname{rank}_m` ranks member :math:`m`'s scores from 1 (smallest) to
    :math:`N`, tied scores sharing their average rank: the mean of
    ``scipy.stats.rankdata(scores[m])`` over ``m``. Only the order of each member's scores
    counts, so members on different scales (a probability, a logit, a distance) weigh
    equally; the result is a ranking (for AUC), **not** a probability.

    Args:
        scores: (models, samples) real scores, higher = more positive; NaN is rejected
            (``±inf`` ranks first/last).

    Returns:
        torch.Tensor: (samples,) mean ranks in :math:`[1, N]`, in ``scores``' dtype when it
        is floating (else the default dtype).

    Examples:
        >>> rank_average(torch.tensor([[0.1, 0.9, 0.5], [10.0, 30.0, 30.0]]))
        tensor([1.0000, 2.7500, 2.2500])
    """
    _members(scores, "scores", (2,), floating=False)
    _checks.real(scores, "scores")
    _checks.no_nan(scores, "scores")
    dtype = scores.dtype if scores.is_floating_point() else torch.get_default_dtype()
    ranks = torch.stack([_ranks(row) for row in scores])
    return ranks.mean(0).to(dtype)


def vote(preds: torch.Tensor, *, weights=None, num_classes: int | None = None) -> torch.Tensor:
    r"""(Weighted) majority vote of the members' predicted labels (hard voting).

    .. math:: \hat y_i = \min \operatorname*{arg\,max}_{c}\ \sum_{m=1}^{M} w_m\,
        [\hat y_{mi} = c].

    Ties go to the **smallest** class label, as ``sklearn.ensemble.VotingClassifier(
    voting="hard")`` does (``argmax`` of a weighted ``bincount``): with two members voting 3
    and 1 the ensemble says 1, whichever member comes first. The tally is done in float64.

    Args:
        preds: (models, samples) integer labels.
        weights: optional (models,) non-negative weights, not all zero.
        num_classes: number of classes (default: the largest label + 1).

    Returns:
        torch.Tensor: (samples,) int64 labels.

    Examples:
        >>> vote(torch.tensor([[0, 3, 2], [1, 1, 2], [0, 3, 1]]))
        tensor([0, 3, 2])
        >>> vote(torch.tensor([[3], [1]]))   # a tie: the smaller label
        tensor([1])
    """
    _members(preds, "preds", (2,), floating=False)
    if num_classes is None:
        _checks.labels(preds, "preds")
        num_classes = int(preds.max()) + 1
    else:
        _checks.number(num_classes, "num_classes", low=1, integer=True)
        _checks.labels(preds, "preds", num_classes)
    like = torch.empty(0, dtype=torch.float64, device=preds.device)
    w = _weights(weights, preds.shape[0], like)
    tally = torch.zeros(preds.shape[1], num_classes, dtype=torch.float64, device=preds.device)
    tally.scatter_add_(1, preds.long().T, w.expand(preds.shape[1], -1))
    return tally.argmax(1)     # the first (smallest) class among equal maxima


def stratified_folds(y: torch.Tensor, folds: int, *, generator: torch.Generator | None = None
                     ) -> torch.Tensor:
    """A fold id in ``[0, folds)`` for every sample, each class spread evenly over the folds.

    The samples of each class are shuffled (with ``generator``) and dealt to the folds in
    turn, so every fold holds ``⌊n_c/k⌋`` or ``⌈n_c/k⌉`` samples of class ``c``.

    Args:
        y: (samples,) integer labels.
        folds: number of folds ``k >= 2``.
        generator: optional ``torch.Generator`` for the shuffle.

    Returns:
        torch.Tensor: (samples,) int64 fold ids on ``y``'s device.

    Examples:
        >>> stratified_folds(torch.tensor([0, 0, 1, 1, 1, 1]), 2,
        ...                  generator=torch.Generator().manual_seed(0)).bincount()
        tensor([3, 3])
    """
    _checks.tensor(y, "y")
    _checks.ndim(y, "y", (1,))
    _checks.labels(y, "y")
    _checks.number(folds, "folds", low=2, integer=True)
    if folds > y.shape[0]:
        raise ValueError(f"`folds` must be <= the number of samples ({y.shape[0]}), got {folds}")
    ids = torch.empty(y.shape[0], dtype=torch.long)
    y_cpu = y.cpu()
    offset = 0
    for c in torch.unique(y_cpu).tolist():
        idx = (y_cpu == c).nonzero().flatten()
        idx = idx[torch.randperm(idx.numel(), generator=generator)]
        ids[idx] = (torch.arange(idx.numel()) + offset) % folds
        offset += idx.numel()             # continue the deal where the last class stopped
    return ids.to(y.device)


def _fold_ids(folds, y, generator) -> torch.Tensor:
    if isinstance(folds, torch.Tensor):
        _checks.ndim(folds, "folds", (1,))
        _checks.labels(folds, "folds")
        if folds.shape != y.shape:
            raise ValueError(f"`folds` must hold one fold id per sample ({y.shape[0]}), "
                             f"got shape {tuple(folds.shape)}")
        if torch.unique(folds).numel() < 2:
            raise ValueError("`folds` must name at least two folds, got one")
        return folds.to(y.device).long()
    return stratified_folds(y, folds, generator=generator)


def _predictions(predict, X, n: int, name: str) -> torch.Tensor:
    out = torch.as_tensor(predict(X))
    if out.ndim != 2 or out.shape[0] != n:
        raise ValueError(f"`{name}` must return (samples, classes) = ({n}, C) predictions, "
                         f"got shape {tuple(out.shape)}")
    return out


def out_of_fold_predictions(make_model: Callable, X: torch.Tensor, y: torch.Tensor, *,
                            folds=5, generator: torch.Generator | None = None) -> torch.Tensor:
    r"""Every sample's prediction by a model that did not see it in training.

    .. math:: \hat p_i = f^{(-k(i))}(x_i),

    where :math:`f^{(-k)}` is trained on all folds but :math:`k` and :math:`k(i)` is the fold
    of sample :math:`i` (``sklearn.model_selection.cross_val_predict``). These are the
    features a stacking meta-model may be fitted on: in-sample predictions of a model that
    memorises (1-NN, a deep tree) are near-perfect and teach the meta-model to trust it.

    Args:
        make_model: ``make_model(X_train, y_train) -> predict`` trains a fresh model and
            returns ``predict(X) -> (samples, classes)`` probabilities.
        X: (samples, ...) features; y: (samples,) integer labels.
        folds: the number of stratified folds (see :func:`stratified_folds`), or a (samples,)
            tensor of fold ids (e.g. to match a given ``cv``).
        generator: optional ``torch.Generator`` for the fold assignment.

    Returns:
        torch.Tensor: (samples, classes) out-of-fold predictions.

    Examples:
        >>> def make_prior(X, y):            # predicts the training class frequencies
        ...     freq = torch.bincount(y, minlength=2) / len(y)
        ...     return lambda Z: freq.expand(len(Z), 2)
        >>> y = torch.tensor([0, 0, 0, 1])
        >>> out_of_fold_predictions(make_prior, torch.zeros(4, 1), y,
        ...                         folds=torch.tensor([0, 1, 0, 1]))
        tensor([[0.5000, 0.5000],
                [1.0000, 0.0000],
                [0.5000, 0.5000],
                [1.0000, 0.0000]])
    """
    if not callable(make_model):
        raise TypeError(f"`make_model` must be callable, got {type(make_model).__name__}")
    _checks.tensor(X, "X")
    _checks.tensor(y, "y")
    _checks.ndim(y, "y", (1,))
    if X.shape[0] != y.shape[0]:
        raise ValueError(f"`X` and `y` must have the same number of samples, "
                         f"got {X.shape[0]} and {y.shape[0]}")
    ids = _fold_ids(folds, y, generator)
    out = None
    for k in torch.unique(ids).tolist():
        test = ids == k
        pred = _predictions(make_model(X[~test], y[~test]), X[test], int(test.sum()),
                            "make_model(...)")
        if out is None:
            out = pred.new_zeros(X.shape[0], pred.shape[1])
        if pred.shape[1] != out.shape[1]:
            raise ValueError(f"`make_model(...)` must predict the same number of classes on "
                             f"every fold, got {out.shape[1]} and {pred.shape[1]}")
        out[test.to(out.device)] = pred.to(out.dtype)
    return out


@dataclass
class Stacked:
    """A fitted stacking ensemble: ``stacked(X)`` is the meta-model's prediction.

    Attributes:
        bases: the base models' ``predict`` functions (refitted on all the training data).
        meta: the meta-model's ``predict`` function, taking (samples, models·classes).
        features: (samples, models·classes) training features the meta-model was fitted on.
    """

    bases: list
    meta: Callable
    features: torch.Tensor

    def meta_features(self, X) -> torch.Tensor:
        """The base models' predictions on ``X``, concatenated along the classes."""
        n = X.shape[0]
        return torch.cat([_predictions(p, X, n, "bases[i]").to(self.features.dtype)
                          for p in self.bases], 1)

    def __call__(self, X) -> torch.Tensor:
        return torch.as_tensor(self.meta(self.meta_features(X)))


def stack(make_models: Sequence[Callable], make_meta: Callable, X: torch.Tensor,
          y: torch.Tensor, *, folds=5, generator: torch.Generator | None = None,
          in_sample: bool = False) -> Stacked:
    r"""Stacking: a meta-model fitted on the base models' out-of-fold predictions.

    .. math:: z_i = \bigl[\hat p^{(1)}_i, \dots, \hat p^{(B)}_i\bigr] \in \mathbb R^{BC},
        \qquad g = \text{make\_meta}(z, y),\qquad
        \text{predict}(x) = g\bigl([f_1(x), \dots, f_B(x)]\bigr),

    with :math:`\hat p^{(b)}_i` from :func:`out_of_fold_predictions` and every :math:`f_b`
    refitted on all of ``(X, y)`` for prediction: what
    ``StackingClassifier(stack_method="predict_proba", cv=...)`` does, except that all
    :math:`C` columns are kept for two classes too (scikit-learn drops the first).

    Args:
        make_models: base models, each ``make_model(X, y) -> predict``.
        make_meta: the meta-model, ``make_meta(z, y) -> predict``.
        X, y: training features and integer labels.
        folds, generator: as in :func:`out_of_fold_predictions`.
        in_sample: fit the meta-model on the base models' **in-sample** predictions instead
            (the leaky variant, for measuring the leak; never for use).

    Returns:
        Stacked: the fitted ensemble; call it on features to get probabilities.

    Examples:
        >>> def make_prior(X, y):
        ...     freq = torch.bincount(y, minlength=2) / len(y)
        ...     return lambda Z: freq.expand(len(Z), 2)
        >>> y = torch.tensor([0, 0, 0, 1])
        >>> s = stack([make_prior], make_prior, torch.zeros(4, 1), y, folds=2,
        ...           generator=torch.Generator().manual_seed(0))
        >>> s(torch.zeros(1, 1))
        tensor([[0.7500, 0.2500]])
    """
    if isinstance(make_models, (str, bytes)) or not isinstance(make_models, Sequence) \
            or not make_models:
        raise ValueError(f"`make_models` must be a non-empty sequence of callables, "
                         f"got {make_models!r}")
    if not callable(make_meta):
        raise TypeError(f"`make_meta` must be callable, got {type(make_meta).__name__}")
    _checks.flag(in_sample, "in_sample")
    bases = []
    columns = []
    for make in make_models:
        if not callable(make):
            raise TypeError(f"`make_models` must hold callables, got {type(make).__name__}")
        predict = make(X, y)
        bases.append(predict)
        if in_sample:
            columns.append(_predictions(predict, X, X.shape[0], "make_model(...)"))
        else:
            columns.append(out_of_fold_predictions(make, X, y, folds=folds,
                                                   generator=generator))
    dtype = columns[0].dtype if columns[0].is_floating_point() else torch.float64
    features = torch.cat([c.to(dtype) for c in columns], 1)
    return Stacked(bases=bases, meta=make_meta(features, y), features=features)


def from_sklearn(estimator) -> Callable:
    """A ``make_model`` that trains a fresh clone of a scikit-learn classifier.

    ``from_sklearn(est)(X, y)`` fits ``sklearn.base.clone(est)`` on NumPy copies of the
    tensors and returns ``predict(X) -> predict_proba(X)`` as a float64 tensor on ``X``'s
    device; the fitted estimator is ``predict.model`` (e.g. a meta-model's ``coef_``).

    Args:
        estimator: an unfitted scikit-learn classifier with ``predict_proba``.

    Returns:
        Callable: ``make_model(X, y) -> predict``.

    Examples:
        >>> from sklearn.dummy import DummyClassifier
        >>> make = from_sklearn(DummyClassifier(strategy="prior"))
        >>> make(torch.zeros(4, 1), torch.tensor([0, 0, 0, 1]))(torch.zeros(1, 1))
        tensor([[0.7500, 0.2500]], dtype=torch.float64)
    """
    from sklearn.base import clone

    if not hasattr(estimator, "predict_proba"):
        raise TypeError(f"`estimator` must be a scikit-learn classifier with predict_proba, "
                        f"got {type(estimator).__name__}")

    def make_model(X, y):
        model = clone(estimator).fit(X.detach().cpu().numpy(), y.detach().cpu().numpy())

        def predict(Z):
            out = model.predict_proba(Z.detach().cpu().numpy())
            return torch.as_tensor(out, dtype=torch.float64, device=Z.device)

        predict.model = model
        return predict

    return make_model
