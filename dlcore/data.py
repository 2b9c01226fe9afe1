"""Data sets for the book: small, offline, deterministic.

* :func:`digits` (1797 8×8 images, 10 classes) and :func:`breast_cancer` (569 × 30, 2 classes)
  ship inside scikit-learn; they come back as tensors with a fixed stratified train/test split
  and standardisation fitted on the training part only (the test part must not leak into it).
* :func:`mnist1d` (Greydanus & Kobak 2024: 5000 one-dimensional signals of length 40, ten
  classes) is generated procedurally by the ``mnist1d`` package, never downloaded, and kept
  in :func:`cache_dir` so that the next session reads it instead (about 3 s saved); it is
  standardised with one global mean and standard deviation, so neighbouring positions keep their
  relative scale (what a convolution relies on) and a perturbation is not amplified by a
  near-constant position.
* :func:`moons`, :func:`spirals` and :func:`blobs` make 2-D sets for pictures.
* :func:`with_validation` carves a validation part from a split; :func:`subset` keeps some
  classes and fewer training rows (learning curves, long-tailed and few-label sets).

Nothing is downloaded at run time.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import importlib.metadata
import math
import os
import pathlib
import tempfile
import zipfile
from dataclasses import dataclass, fields

import numpy as np
import torch

from dlcore import _checks


@dataclass(frozen=True)
class Split:
    """A train/test split: features ``X_*`` (float, or integer token ids) and labels ``y_*``.

    ``X_val``/``y_val`` hold an optional validation part carved from the training data by
    :func:`with_validation`: choices (the epoch to stop at, a learning rate) are made on it,
    so the test part, which may be ``None``, is only ever reported.
    """

    X_train: torch.Tensor
    y_train: torch.Tensor
    X_test: torch.Tensor | None
    y_test: torch.Tensor | None
    num_classes: int
    X_val: torch.Tensor | None = None
    y_val: torch.Tensor | None = None

    @property
    def num_features(self) -> int:
        return self.X_train.shape[1]

    def to(self, device) -> Split:
        """The same split with every tensor on ``device``."""
        moved = {f.name: getattr(self, f.name) for f in fields(self)}
        for key, value in moved.items():
            if isinstance(value, torch.Tensor):
                moved[key] = value.to(device)
        return Split(**moved)


def with_validation(split: Split, *, fraction: float = 0.2, seed: int = 0) -> Split:
    """The same split with a stratified validation part carved from its training part.

    The test part is untouched. The features keep the standardisation fitted on the whole
    training part, a negligible leak of the validation rows' mean and variance that the
    book accepts (the test rows never leak).

    Args:
        split: a :class:`Split` without a validation part.
        fraction: share of the training rows moved to validation, in (0, 1).
        seed: seed of the stratified draw.

    Examples:
        >>> s = with_validation(digits(), fraction=0.2)
        >>> len(s.X_train), len(s.X_val), len(s.X_test)
        (1077, 270, 450)
    """
    from sklearn.model_selection import train_test_split

    if not isinstance(split, Split):
        raise TypeError(f"`split` must be a dlcore.data.Split, got {type(split).__name__}")
    if split.X_val is not None:
        raise ValueError("`split` already has a validation part")
    _checks.number(fraction, "fraction", low=0, high=1, low_open=True, high_open=True)
    _checks.number(seed, "seed", low=0, integer=True)
    y = split.y_train.cpu().numpy()
    stratify = y if y.ndim == 1 else None
    idx_train, idx_val = train_test_split(range(len(y)), test_size=fraction,
                                          random_state=seed, stratify=stratify)
    dev = split.X_train.device
    tr, va = torch.as_tensor(idx_train, device=dev), torch.as_tensor(idx_val, device=dev)
    return Split(X_train=split.X_train[tr], y_train=split.y_train[tr], X_test=split.X_test,
                 y_test=split.y_test, num_classes=split.num_classes,
                 X_val=split.X_train[va], y_val=split.y_train[va])


def _kept_classes(classes, num_classes: int) -> list[int]:
    if classes is None:
        return list(range(num_classes))
    if isinstance(classes, (str, bytes)) or not hasattr(classes, "__len__") or not classes:
        raise ValueError(f"`classes` must be a non-empty sequence of labels, got {classes!r}")
    kept = [_checks.number(c, f"classes[{i}]", low=0, high=num_classes - 1, integer=True)
            for i, c in enumerate(classes)]
    if len(set(kept)) != len(kept):
        raise ValueError(f"`classes` must not repeat a label, got {list(classes)!r}")
    return kept


def _keep(X, y, table):
    if X is None:
        return None, None
    new = table.to(y.device)[y]
    rows = torch.nonzero(new >= 0).flatten()
    return X[rows], new[rows]


def subset(split: Split, *, n: int | None = None, per_class=None, classes=None,
           seed: int = 0) -> Split:
    """A narrower or smaller copy of ``split``: some of its classes, fewer training rows.

    ``classes`` keeps those labels in every part (train, validation, test) and relabels them
    ``0, 1, …`` in the order given, so a model trained on the subset has one output per kept
    class. Then at most one of ``n`` and ``per_class`` shrinks the training part only (the
    validation and test parts are filtered by class, never subsampled):

    * ``n`` keeps ``n`` rows in the classes' proportions (each class within one row of its
      share). The rows are a prefix of one seeded order that interleaves the classes, so for
      one ``seed`` the rows kept at a smaller ``n`` are among those kept at a larger one:
      the points of a learning curve differ only by the rows added.
    * ``per_class`` is a count ``k`` (``k`` rows of every class, nested in ``k`` the same
      way) or one count per kept class (a long-tailed training set).

    The features keep the standardisation of ``split``; the kept rows keep their order.

    Args:
        split: a :class:`Split` with integer labels.
        n: training rows to keep, ``1 <= n <=`` the rows of the kept classes.
        per_class: an int, or a sequence with one int per kept class, each at least 1 and at
            most that class's training rows.
        classes: the labels to keep, distinct; default all.
        seed: seed of the order the rows are taken in.

    Examples:
        >>> d = digits()
        >>> small = subset(d, n=100, seed=0)
        >>> len(small.y_train), torch.equal(small.X_test, d.X_test)
        (100, True)
        >>> five = subset(d, classes=[5, 6, 7, 8, 9], per_class=3)
        >>> five.num_classes, five.y_train.bincount().tolist(), int(five.y_test.max())
        (5, [3, 3, 3, 3, 3], 4)
    """
    if not isinstance(split, Split):
        raise TypeError(f"`split` must be a dlcore.data.Split, got {type(split).__name__}")
    if split.y_train.ndim != 1 or split.y_train.is_floating_point():
        raise ValueError("`split` must have 1-D integer training labels, got shape "
                         f"{tuple(split.y_train.shape)} of {split.y_train.dtype}")
    _checks.number(seed, "seed", low=0, integer=True)
    if n is not None and per_class is not None:
        raise ValueError(f"give at most one of `n` and `per_class`, got n={n!r} and "
                         f"per_class={per_class!r}")
    kept = _kept_classes(classes, split.num_classes)
    table = torch.full((split.num_classes,), -1, dtype=torch.long)
    table[torch.tensor(kept)] = torch.arange(len(kept))
    parts = {}
    for part in ("train", "val", "test"):
        parts[f"X_{part}"], parts[f"y_{part}"] = _keep(
            getattr(split, f"X_{part}"), getattr(split, f"y_{part}"), table)
    y = parts["y_train"].cpu()
    order = torch.randperm(len(y), generator=torch.Generator().manual_seed(seed))
    counts = torch.bincount(y, minlength=len(kept))
    rank = torch.empty(len(y), dtype=torch.long)
    for c in range(len(kept)):  # position of each row within its class, in the seeded order
        in_class = order[y[order] == c]
        rank[in_class] = torch.arange(len(in_class))
    if n is not None:
        n = _checks.number(n, "n", low=1, high=len(y), integer=True)
        key = (rank.double() + 0.5) / counts[y].double()
        position = torch.empty(len(y), dtype=torch.long)
        position[order] = torch.arange(len(y))
        chosen = torch.from_numpy(np.lexsort((position.numpy(), key.numpy()))[:n])
    elif per_class is not None:
        if isinstance(per_class, (list, tuple)):
            if len(per_class) != len(kept):
                raise ValueError(f"`per_class` must have one count per kept class "
                                 f"({len(kept)}), got {len(per_class)}")
            want = [_checks.number(k, f"per_class[{i}]", low=1, integer=True)
                    for i, k in enumerate(per_class)]
        else:
            want = [_checks.number(per_class, "per_class", low=1, integer=True)] * len(kept)
        for c, k in enumerate(want):
            if k > counts[c]:
                raise ValueError(f"`per_class` asks for {k} rows of class {kept[c]}, which "
                                 f"has {int(counts[c])} training rows")
        chosen = torch.nonzero(rank < torch.tensor(want)[y]).flatten()
    else:
        chosen = torch.arange(len(y))
    rows = chosen.sort().values.to(parts["y_train"].device)
    parts["X_train"], parts["y_train"] = parts["X_train"][rows], parts["y_train"][rows]
    return Split(num_classes=len(kept), **parts)


def _split(X, y, *, test_size, seed, dtype, device, scale="feature") -> Split:
    from sklearn.model_selection import train_test_split

    _checks.number(test_size, "test_size", low=0, high=1, low_open=True, high_open=True)
    _checks.number(seed, "seed", low=0, integer=True)
    if dtype not in (torch.float16, torch.bfloat16, torch.float32, torch.float64):
        raise ValueError(f"`dtype` must be a floating torch dtype, got {dtype}")
    X_tr, X_te, y_tr, y_te = train_test_split(
        X, y, test_size=test_size, random_state=seed, stratify=y
    )
    X_tr = torch.as_tensor(X_tr, dtype=torch.float64)
    X_te = torch.as_tensor(X_te, dtype=torch.float64)
    dims = 0 if scale == "feature" else None
    mean = X_tr.mean(dim=dims)
    std = X_tr.std(dim=dims)
    std = torch.where(std > 0, std, torch.ones_like(std))  # constant pixels stay 0, not nan
    split = Split(
        X_train=((X_tr - mean) / std).to(dtype),
        y_train=torch.as_tensor(y_tr, dtype=torch.long),
        X_test=((X_te - mean) / std).to(dtype),
        y_test=torch.as_tensor(y_te, dtype=torch.long),
        num_classes=int(y.max()) + 1,
    )
    return split if device is None else split.to(device)


def digits(*, test_size: float = 0.25, seed: int = 0, dtype: torch.dtype = torch.float32,
           device=None, scale: str = "feature") -> Split:
    """scikit-learn's handwritten digits: 1797 images of 8×8 pixels flattened to 64 features.

    Args:
        test_size: fraction held out for testing, stratified by class.
        seed: seed of the split.
        scale: ``"feature"`` standardises each pixel with its own mean and standard deviation
            fitted on the training part (pixels constant there stay 0); ``"global"`` uses one
            mean and one standard deviation for all pixels, which keeps the image's relative
            intensities and does not amplify a perturbation of a near-constant pixel (use it
            for augmentation, adversarial examples or any shift of the inputs).
        dtype: floating dtype of the features.
        device: where the tensors live (default: CPU).

    Examples:
        >>> d = digits()
        >>> d.X_train.shape, d.X_test.shape, d.num_classes
        (torch.Size([1347, 64]), torch.Size([450, 64]), 10)
        >>> g = digits(scale="global")
        >>> abs(g.X_train.mean().item()) < 1e-6, round(g.X_train.std().item(), 4)
        (True, 1.0)
    """
    from sklearn.datasets import load_digits

    if scale not in ("feature", "global"):
        raise ValueError(f"`scale` must be 'feature' or 'global', got {scale!r}")
    bunch = load_digits()
    return _split(bunch.data, bunch.target, test_size=test_size, seed=seed, dtype=dtype,
                  device=device, scale=scale)


def breast_cancer(*, test_size: float = 0.25, seed: int = 0,
                  dtype: torch.dtype = torch.float32, device=None,
                  positive: str = "benign") -> Split:
    """scikit-learn's Wisconsin breast-cancer data: 569 samples, 30 features, two classes.

    Args:
        test_size: fraction held out for testing, stratified by class.
        seed: seed of the split.
        dtype: floating dtype of the features.
        device: where the tensors live (default: CPU).
        positive: the class labelled 1. ``"benign"`` keeps scikit-learn's labels
            (0 = malignant, 1 = benign); ``"malignant"`` flips them, so that the class a
            screening test must find is the positive one (the chapter *Metrics* does this).

    Examples:
        >>> b = breast_cancer()
        >>> b.X_train.shape, b.num_classes
        (torch.Size([426, 30]), 2)
        >>> m = breast_cancer(positive="malignant")
        >>> bool((m.y_train == 1 - b.y_train).all())
        True
    """
    from sklearn.datasets import load_breast_cancer

    if positive not in ("benign", "malignant"):
        raise ValueError(f"`positive` must be 'benign' or 'malignant', got {positive!r}")
    bunch = load_breast_cancer()
    split = _split(bunch.data, bunch.target, test_size=test_size, seed=seed, dtype=dtype,
                   device=device)
    if positive == "malignant":  # flipped after splitting: the same rows in each part
        split = dataclasses.replace(split, y_train=1 - split.y_train, y_test=1 - split.y_test)
    return split


CACHE_VAR = "DLCORE_CACHE"
# the arguments dlcore gives make_dataset, in the cache file's name: change it with them
_MNIST1D_FORMAT = "defaults"
_MNIST1D_LENGTH = 40


def cache_dir() -> pathlib.Path | None:
    """The folder where generated data sets are kept between sessions, or ``None`` (off).

    ``$DLCORE_CACHE`` if set (``off`` or an empty value turns the cache off), else
    ``$XDG_CACHE_HOME/dlcore``, else ``~/.cache/dlcore``. Only :func:`mnist1d` uses it: its
    5000 signals take about 3 s to generate and 1.6 MB to keep.

    Examples:
        >>> import os
        >>> saved = os.environ.pop("DLCORE_CACHE", None)
        >>> os.environ["DLCORE_CACHE"] = "off"
        >>> cache_dir() is None
        True
        >>> del os.environ["DLCORE_CACHE"]
        >>> cache_dir().name
        'dlcore'
        >>> if saved is not None:
        ...     os.environ["DLCORE_CACHE"] = saved
    """
    where = os.environ.get(CACHE_VAR)
    if where is not None:
        return None if where.strip().lower() in ("", "off") else pathlib.Path(where)
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return pathlib.Path(base) / "dlcore"


def _load_arrays(path: pathlib.Path, num_samples: int):
    """The arrays kept at ``path``, or ``None`` if missing, unreadable or of another shape."""
    try:
        with open(path, "rb") as f:  # our handle: closed whatever np.load raises
            kept = np.load(f, allow_pickle=False)
            if not isinstance(kept, np.lib.npyio.NpzFile):
                return None  # a single .npy array at that name
            with kept:
                X, y = kept["X"], kept["y"]
    except (OSError, EOFError, KeyError, ValueError, zipfile.BadZipFile):
        return None  # missing, empty, truncated, not an array file or a key missing
    good = (X.shape == (num_samples, _MNIST1D_LENGTH) and X.dtype == np.float64
            and y.shape == (num_samples,) and y.dtype == np.int64)
    return (X, y) if good else None


def _keep_arrays(path: pathlib.Path, X: np.ndarray, y: np.ndarray) -> None:
    """Write atomically (a temporary file, flushed to disk, then a rename), leaving no
    temporary file behind; a place that cannot be written is skipped."""
    tmp = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=path.parent, suffix=".tmp",
                                         delete=False) as f:
            tmp = f.name
            np.savez(f, X=X, y=y)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
        tmp = None
    except OSError:
        return
    finally:
        if tmp is not None:
            with contextlib.suppress(OSError):
                os.remove(tmp)


def _cache_file(where: pathlib.Path, num_samples: int, data_seed: int) -> pathlib.Path:
    version = importlib.metadata.version("mnist1d")  # new generator code, new signals
    return where / (f"mnist1d-{version}-{_MNIST1D_FORMAT}-n{num_samples}"
                    f"-seed{data_seed}.npz")


@functools.lru_cache(maxsize=4)
def _mnist1d_arrays(num_samples: int, data_seed: int) -> tuple[np.ndarray, np.ndarray]:
    where = cache_dir()
    path = None if where is None else _cache_file(where, num_samples, data_seed)
    kept = None if path is None else _load_arrays(path, num_samples)
    X, y = kept if kept is not None else _generate_mnist1d(num_samples, data_seed)
    if kept is None and path is not None:
        _keep_arrays(path, X, y)
    X.setflags(write=False)
    y.setflags(write=False)
    return X, y


def _generate_mnist1d(num_samples: int, data_seed: int) -> tuple[np.ndarray, np.ndarray]:
    import mnist1d.data

    args = mnist1d.data.get_dataset_args()
    args.num_samples = num_samples
    args.seed = data_seed
    state = np.random.get_state()  # make_dataset reseeds NumPy's global generator
    try:
        raw = mnist1d.data.make_dataset(args)
    finally:
        np.random.set_state(state)
    X = np.concatenate([raw["x"], raw["x_test"]]).astype(np.float64, copy=False)
    y = np.concatenate([raw["y"], raw["y_test"]]).astype(np.int64, copy=False)
    return X, y


def mnist1d(*, test_size: float = 0.2, seed: int = 0, num_samples: int = 5000,
            data_seed: int = 42, dtype: torch.dtype = torch.float32, device=None) -> Split:
    """MNIST-1D (Greydanus & Kobak 2024): ten 1-D templates of the digits, each padded, shifted,
    scaled, sheared and given correlated and white noise, then resampled to 40 positions.

    The signals are generated by ``mnist1d.data.make_dataset`` (about 3 s) and kept, bit for
    bit, in :func:`cache_dir` for the next session (``DLCORE_CACHE=off`` turns that off);
    nothing is downloaded. With the defaults the 5000 signals are those of the
    paper's data set (its ``seed`` 42), split 4000/1000 as in the paper but stratified by
    ``seed`` like :func:`digits`. The features are standardised with one mean and one
    standard deviation fitted on the training part, not per position.

    Args:
        test_size: fraction held out for testing, stratified by class.
        seed: seed of the split.
        num_samples: signals generated in all (a multiple of 10 gives equal classes).
        data_seed: seed of the generator of the signals themselves.
        dtype: floating dtype of the features.
        device: where the tensors live (default: CPU).

    Examples:
        >>> m = mnist1d()
        >>> m.X_train.shape, m.X_test.shape, m.num_classes
        (torch.Size([4000, 40]), torch.Size([1000, 40]), 10)
        >>> abs(m.X_train.mean().item()) < 1e-6, round(m.X_train.std().item(), 4)
        (True, 1.0)
    """
    num_samples = _count(num_samples, "num_samples", low=20)
    data_seed = _checks.number(data_seed, "data_seed", low=0, integer=True)
    X, y = _mnist1d_arrays(num_samples, data_seed)
    return _split(X, y, test_size=test_size, seed=seed, dtype=dtype, device=device,
                  scale="global")


def _count(n, name="n", low=1) -> int:
    return _checks.number(n, name, low=low, integer=True)


def moons(n: int = 200, *, noise: float = 0.1, generator: torch.Generator | None = None):
    """Two interleaving half circles, ``n`` points split evenly; returns ``(X, y)``.

    Examples:
        >>> X, y = moons(10, generator=torch.Generator().manual_seed(0))
        >>> X.shape, y.tolist()
        (torch.Size([10, 2]), [0, 0, 0, 0, 0, 1, 1, 1, 1, 1])
    """
    n = _count(n, low=2)
    noise = _checks.number(noise, "noise", low=0)
    n0 = n // 2
    t0 = torch.linspace(0, math.pi, n0, dtype=torch.float64)
    t1 = torch.linspace(0, math.pi, n - n0, dtype=torch.float64)
    upper = torch.stack([torch.cos(t0), torch.sin(t0)], dim=1)
    lower = torch.stack([1 - torch.cos(t1), 0.5 - torch.sin(t1)], dim=1)
    X = torch.cat([upper, lower]) + noise * torch.randn(n, 2, generator=generator,
                                                        dtype=torch.float64)
    y = torch.cat([torch.zeros(n0, dtype=torch.long), torch.ones(n - n0, dtype=torch.long)])
    return X.float(), y


def spirals(n: int = 300, *, classes: int = 3, noise: float = 0.2,
            generator: torch.Generator | None = None):
    """``classes`` interleaved spiral arms with ``n`` points in total; returns ``(X, y)``.

    Examples:
        >>> X, y = spirals(9, classes=3, generator=torch.Generator().manual_seed(0))
        >>> X.shape, torch.bincount(y).tolist()
        (torch.Size([9, 2]), [3, 3, 3])
    """
    n = _count(n)
    classes = _count(classes, "classes")
    if n < classes:
        raise ValueError(f"`n` must be at least `classes` ({classes}), got {n}")
    noise = _checks.number(noise, "noise", low=0)
    y = torch.arange(n) % classes
    r = (torch.arange(n) // classes).to(torch.float64) / max(1, (n - 1) // classes)
    theta = 4 * r + 2 * math.pi * y / classes
    theta = theta + noise * torch.randn(n, generator=generator, dtype=torch.float64)
    X = torch.stack([r * torch.cos(theta), r * torch.sin(theta)], dim=1)
    order = torch.argsort(y, stable=True)
    return X[order].float(), y[order]


def blobs(n: int = 200, *, centers: int = 3, std: float = 1.0,
          generator: torch.Generator | None = None):
    """Isotropic Gaussian clusters around ``centers`` points on a circle of radius 4.

    Examples:
        >>> X, y = blobs(6, centers=2, generator=torch.Generator().manual_seed(0))
        >>> X.shape, y.tolist()
        (torch.Size([6, 2]), [0, 0, 0, 1, 1, 1])
    """
    n = _count(n)
    centers = _count(centers, "centers")
    std = _checks.number(std, "std", low=0)
    y = torch.arange(n) * centers // n
    angle = 2 * math.pi * y.to(torch.float64) / centers
    mu = 4 * torch.stack([torch.cos(angle), torch.sin(angle)], dim=1)
    X = mu + std * torch.randn(n, 2, generator=generator, dtype=torch.float64)
    return X.float(), y
