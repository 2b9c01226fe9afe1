r"""Sanity checks to run before training, after Karpathy's "A Recipe for Training Neural
Networks" (2019): a summary of the data the model sees, the loss at initialization, one
backward pass's gradient per parameter, one batch overfitted, and an input-independent
baseline, in one readable :class:`SanityReport`.

Every check runs on a deep copy of the model, inside :func:`torch.random.fork_rng` seeded from
``generator``: the caller's model (parameters, buffers, gradients, train/eval modes) and the
global random state are left as they were. ``generator`` itself is advanced (it draws the
batches), so a generator in the same state gives the same report.
"""

from __future__ import annotations

import copy
import math
import textwrap
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import nn

from dlcore import _checks
from dlcore.data import Split
from dlcore.practice import _sanity_data
from dlcore.runtime import device as default_device
from dlcore.train import cross_entropy

__all__ = ["SanityCheck", "SanityReport", "sanity_checks", "gradient_norms", "first_batch",
           "prior_entropy"]


_W = (28, 2, 14)  # widths of the columns check, ok, measured; expected takes the rest


@dataclass(frozen=True)
class SanityCheck:
    """One sanity check: its ``name``, whether it ``passed``, the headline number ``value``
    (NaN where the check has none) in ``unit``, the ``measured`` facts as text, what was
    ``expected`` and one line of ``advice`` for when it fails."""

    name: str
    passed: bool
    value: float
    measured: str
    expected: str
    advice: str
    unit: str = ""

    def row(self) -> str:
        """The check as one row (wrapped in the last column) of the report's table."""
        v = ("—" if math.isnan(self.value) else f"{self.value:.3f} nat" if self.unit == "nat"
             else f"{self.value:.3g}")
        cells = [self.name, "✓" if self.passed else "✗", v]
        head = " ".join(f"{c:<{w}}" for c, w in zip(cells, _W, strict=True))
        rest = textwrap.wrap(self.expected, 88 - len(head) - 1) or [""]
        pad = " " * (len(head) + 1)
        return "\n".join([f"{head} {rest[0]}", *(pad + r for r in rest[1:])])

    def details(self) -> str:
        """The measured facts, and the advice when the check failed, wrapped at 88."""
        text = textwrap.wrap(f"{'✓' if self.passed else '✗'} {self.name}: {self.measured}",
                             88, subsequent_indent="    ")
        if not self.passed:
            text += textwrap.wrap(f"→ {self.advice}", 88, initial_indent="    ",
                                  subsequent_indent="      ")
        return "\n".join(text)

    def __str__(self) -> str:
        return f"{self.row()}\n{self.details()}"


@dataclass(frozen=True)
class SanityReport:
    """The records of :func:`sanity_checks`, in the order they ran.

    ``report["loss at init"].value`` reads one number; ``print(report)`` shows the table
    (check | ok | measured | expected) and the facts and advice of each failed check;
    :meth:`details` gives the facts of every check.
    """

    checks: tuple[SanityCheck, ...]

    @property
    def passed(self) -> bool:
        """True when every check passed."""
        return all(c.passed for c in self.checks)

    def failed(self) -> list[SanityCheck]:
        """The checks that failed, in order."""
        return [c for c in self.checks if not c.passed]

    def __getitem__(self, name: str) -> SanityCheck:
        for c in self.checks:
            if c.name == name:
                return c
        raise KeyError(f"no check named {name!r}; the checks are "
                       f"{[c.name for c in self.checks]}")

    def details(self) -> str:
        """The measured facts of every check, one paragraph each."""
        return "\n".join(c.details() for c in self.checks)

    def __str__(self) -> str:
        cols = " ".join(f"{c:<{w}}" for c, w in zip(("check", "ok", "measured"), _W,
                                                     strict=True))
        lines = [f"sanity checks: {sum(c.passed for c in self.checks)} of "
                 f"{len(self.checks)} passed", f"{cols} expected",
                 *(c.row() for c in self.checks)]
        return "\n".join(lines + [c.details() for c in self.failed()])


def prior_entropy(y: torch.Tensor, num_classes: int) -> float:
    r"""Entropy in nats of the label frequencies :math:`\hat p_k` of ``y``,
    :math:`H(\hat p) = -\sum_k \hat p_k \ln \hat p_k \le \ln K`.

    It is the lowest mean cross-entropy a model that ignores its input can reach on these
    labels (predict :math:`\hat p` for every example), and the loss at initialization of a
    network whose final bias is set to :math:`\ln \hat p_k` and whose weights are small.

    Examples:
        >>> round(prior_entropy(torch.tensor([0, 1, 2, 3]), 4), 4) == round(math.log(4), 4)
        True
        >>> round(prior_entropy(torch.tensor([0, 0, 0, 1]), 2), 4)
        0.5623
    """
    _checks.tensor(y, "y")
    _checks.labels(y, "y", num_classes)
    p = torch.bincount(y.flatten().cpu(), minlength=num_classes).double() / y.numel()
    p = p[p > 0]
    return float(-(p * p.log()).sum())


def first_batch(data: Split, *, batch_size: int = 16, batch_transform: Callable | None = None,
                generator: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """The first training batch exactly as :func:`dlcore.train.fit` hands it to the model.

    ``fit`` draws ``torch.randperm(n, generator=generator)`` and trains its first step on the
    first ``batch_size`` rows of that order, after ``batch_transform``; this returns that
    ``(X, y)`` (for a generator in the same state), to be plotted before training: an
    augmentation that destroys the signal or pairs inputs with the wrong labels shows there.

    Examples:
        >>> d = Split(torch.arange(6.).reshape(6, 1), torch.arange(6) % 2, None, None, 2)
        >>> X, y = first_batch(d, batch_size=2, generator=torch.Generator().manual_seed(0))
        >>> X.shape, bool((X[:, 0].long() % 2 == y).all())
        (torch.Size([2, 1]), True)
    """
    _split(data)
    batch_size = _checks.number(batch_size, "batch_size", low=1, integer=True)
    _callable(batch_transform, "batch_transform")
    order = torch.randperm(len(data.X_train), generator=generator)
    idx = order[:batch_size].to(data.X_train.device)
    X, y = data.X_train[idx], data.y_train[idx]
    return batch_transform(X, y) if batch_transform is not None else (X, y)


def gradient_norms(model: nn.Module, X: torch.Tensor, y: torch.Tensor, *,
                   loss_fn: Callable = cross_entropy) -> dict[str, float | None]:
    r"""The norm :math:`\lVert \partial L / \partial \theta \rVert_2` of each named parameter
    after one backward pass of ``loss_fn(model(X), y)``, computed on a deep copy.

    A parameter that ``requires_grad`` but is not connected to the loss (a layer left out
    of the forward pass, a ``.detach()``) gets ``None``; a frozen one (``requires_grad``
    false) is left out of the dictionary. The copy keeps the model's train/eval mode; its
    dropout draws from a forked global random state, so the caller's is left as it was.

    Examples:
        >>> _ = torch.manual_seed(0)
        >>> g = gradient_norms(nn.Linear(3, 2), torch.randn(4, 3), torch.tensor([0, 1, 0, 1]))
        >>> sorted(g), all(v > 0 for v in g.values())
        (['bias', 'weight'], True)
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"`model` must be a torch.nn.Module, got {type(model).__name__}")
    _callable(loss_fn, "loss_fn")
    twin = copy.deepcopy(model)
    twin.zero_grad(set_to_none=True)
    with torch.random.fork_rng(devices=[X.device.index or 0] if X.is_cuda else []):
        loss_fn(twin(X), y).backward()
    return {name: (None if p.grad is None else float(p.grad.norm()))
            for name, p in twin.named_parameters() if p.requires_grad}


def _split(data) -> None:
    if not isinstance(data, Split):
        raise TypeError(f"`data` must be a dlcore.data.Split, got {type(data).__name__}")


def _callable(fn, name: str) -> None:
    if fn is not None and not callable(fn):
        raise TypeError(f"`{name}` must be callable, got {type(fn).__name__}")


def _names(names: list[str]) -> str:
    return f" {names}" if names else ""


def _init_checks(twin, data, loss_fn, expected_loss, init_tol) -> list[SanityCheck]:
    K = data.num_classes
    twin.eval()  # the network as it will predict: no dropout noise in the logits
    with torch.no_grad():
        out = twin(data.X_train)
        loss = float(loss_fn(out, data.y_train))
    # (2a) logits, not probabilities: the loss applies the softmax itself
    probs = (out.dim() >= 1 and out.shape[-1] == K and bool((out >= 0).all())
             and bool(torch.allclose(out.sum(-1), torch.ones((), dtype=out.dtype,
                                                             device=out.device), atol=1e-4)))
    shape_ok = tuple(out.shape) == (len(data.X_train), K)
    ok = shape_ok and not probs
    kind = "probabilities (rows >= 0 summing to 1)" if probs else "unnormalized scores"
    checks = [SanityCheck("output: logits", ok, float(out.shape[-1]),
                    f"shape {tuple(out.shape)}, {kind}",
                    f"shape ({len(data.X_train)}, {K}) of logits",
                    "return logits: cross-entropy applies log-softmax itself")]
    # (2b) the loss at init: ln K for near-uniform outputs, H(prior) after a prior bias init;
    # the default tolerance is the second-order excess (K-1)s^2/2K of a logit spread s = 1
    ln_k, h = math.log(K), prior_entropy(data.y_train, K)
    tol = (K - 1) / (2 * K) if init_tol is None else init_tol
    targets = [expected_loss] if expected_loss is not None else [ln_k, h]
    ok = math.isfinite(loss) and min(abs(loss - t) for t in targets) <= tol
    if expected_loss is not None:
        expect = f"{expected_loss:.3f} ± {tol:.2f} nat"
    elif round(h, 3) == round(ln_k, 3):
        expect = f"ln K = {ln_k:.3f} ± {tol:.2f} nat"
    else:
        expect = f"ln K = {ln_k:.3f} or H(p̂) = {h:.3f}, ± {tol:.2f} nat"
    spread = ""
    if shape_ok:
        zc = out.double() - out.double().mean(-1, keepdim=True)
        s2 = float((zc ** 2).sum(-1).mean()) / max(K - 1, 1)
        first = -float(zc.gather(-1, data.y_train.reshape(-1, 1)).mean())
        spread = (f"; logit spread s = {math.sqrt(s2):.3g}, ln K + first-order {first:+.3g}"
                  f" + second-order {(K - 1) * s2 / (2 * K):.3g} nat")
    checks.append(SanityCheck("loss at init", ok, loss,
                              f"{loss:.4g} nat on the training part, in eval mode{spread}",
                              expect, "shrink the last layer's init (logits near 0) or fix "
                              "the loss", "nat"))
    return checks


def _gradient_checks(twin, X, y, loss_fn, max_grad_ratio) -> list[SanityCheck]:
    norms = gradient_norms(twin, X, y, loss_fn=loss_fn)
    frozen = [n for n, p in twin.named_parameters() if not p.requires_grad]
    none = [n for n, v in norms.items() if v is None]
    zero = [n for n, v in norms.items() if v == 0.0]
    checks = [
        SanityCheck("gradients: connected", not none, float(len(none)),
              f"{len(none)} parameter(s) without a gradient{_names(none)}", "0",
              "a layer is not used in forward or its input is detached"),
        SanityCheck("gradients: nonzero", not zero, float(len(zero)),
              f"{len(zero)} parameter(s) with an exactly zero gradient{_names(zero)}", "0",
              "dead units or a constant input upstream: check the activations"),
        SanityCheck("gradients: frozen", not frozen, float(len(frozen)),
              f"{len(frozen)} parameter(s) with requires_grad=False{_names(frozen)}", "0",
              "unfreeze them, unless freezing is intended (a linear probe)"),
    ]
    # (3) the RMS gradient of each weight matrix: layers orders of magnitude apart
    rms = {n: norms[n] / math.sqrt(p.numel()) for n, p in twin.named_parameters()
           if p.dim() >= 2 and norms.get(n)}
    if rms:
        lo, hi = min(rms, key=rms.get), max(rms, key=rms.get)
        ratio = rms[hi] / rms[lo]
        checks.append(SanityCheck("gradients: spread", ratio <= max_grad_ratio, ratio,
                            f"RMS gradient of the weights from {rms[lo]:.2g} ({lo}) to "
                            f"{rms[hi]:.2g} ({hi}), ratio {ratio:.3g}",
                            f"ratio <= {max_grad_ratio:g}",
                            "vanishing or exploding gradients: fix the init or normalize"))
    return checks


def _train(twin, X, y, loss_fn, make_optimizer, steps, batch_size, batch_transform,
           generator, zero=False):
    """``steps`` steps on mini-batches of ``(X, y)`` drawn with ``generator``."""
    optimizer = make_optimizer(twin.parameters())
    twin.train()
    n, order, pos = len(X), None, len(X)
    for _ in range(steps):
        if pos + batch_size > n:  # a fresh permutation when the current one is used up
            order, pos = torch.randperm(n, generator=generator).to(X.device), 0
        idx = order[pos:pos + batch_size]
        pos += batch_size
        Xb, yb = X[idx], y[idx]
        if batch_transform is not None:
            Xb, yb = batch_transform(Xb, yb)
        if zero:
            Xb = torch.zeros_like(Xb)
        loss = loss_fn(twin(Xb), yb)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    twin.eval()
    return twin


def sanity_checks(model: nn.Module, data: Split, *, loss_fn: Callable = cross_entropy,
                  batch_size: int = 16, steps: int = 200,
                  make_optimizer: Callable | None = None,
                  batch_transform: Callable | None = None, baseline_steps: int = 200,
                  expected_loss: float | None = None, init_tol: float | None = None,
                  max_grad_ratio: float = 100.0, overfit_loss: float = 0.05,
                  baseline_margin: float = 0.1, generator: torch.Generator | None = None,
                  device=None) -> SanityReport:
    r"""Run Karpathy's checks before training on a copy of ``model``; return the report.

    The checks, each a :class:`SanityCheck` record, in order:

    1. **The data** (``data: …``): shapes and dtypes, NaN/inf, the scale of the training
       features (:math:`|\mu| \le 1`, :math:`0.1 \le \sigma \le 10`), the label range and
       counts, classes missing from a part, exact duplicate rows shared by the training
       part and a held-out part (a leak). With invalid labels the other checks do not run.
    2. **The output and the loss at init**, in eval mode: the outputs on the training part
       are ``(N, K)`` logits, not probabilities, and the loss is :math:`\ln K` (near-uniform
       outputs) or :math:`H(\hat p)`, the entropy of the training label prior (a final bias
       set to :math:`\ln \hat p_k`), within ``init_tol`` nats. For logits with a small
       spread :math:`s`, :math:`\mathbb E[L_0] \approx \ln K + \tfrac{K-1}{2K}s^2`; a
       correct init keeps :math:`s \lesssim 1` (no class a factor :math:`e` likelier than
       another), so the default tolerance is :math:`\tfrac{K-1}{2K}` (0.45 nat at
       :math:`K = 10`, 0.25 at :math:`K = 2`). A bad init scale gives :math:`s \gg 1` and a
       loss many times :math:`\ln K`. The measured spread and the two terms are reported.
    3. **Gradients** of one backward pass on a batch at init: every parameter that requires
       a gradient gets one (connected), none is exactly zero, none is frozen, and the RMS
       gradients :math:`\lVert g_W\rVert/\sqrt{|W|}` of the weight matrices are within a
       factor ``max_grad_ratio`` of each other.
    4. **Overfit one batch**: ``steps`` optimizer steps on one batch of ``batch_size``
       training rows must reach a loss below ``overfit_loss`` (0.05 nat: the geometric-mean
       probability of the right class above :math:`e^{-0.05} \approx 0.95`) and accuracy 1
       (measured in eval mode; strong dropout or weight decay can still stop it).
    5. **Input-independent baseline**: ``baseline_steps`` steps on mini-batches of the
       training part with the real inputs and, from the same copy and batch order, with the
       inputs zeroed; on the validation part (else the test part) the zeroed run's loss must
       exceed the real run's by at least ``baseline_margin`` nats. Skipped (passed) without
       a held-out part. The zeroed run should end near the loss of a constant predicting
       the training prior (reported); with BatchNorm it ends higher, since a constant batch
       has variance 0, and the gap overstates what the inputs give.

    The copy trains in ``train()`` mode and is measured in ``eval()`` mode as a whole: the
    caller's per-submodule modes (a BatchNorm frozen in eval) are not kept in the checks.

    Args:
        model: the network, left untouched (a deep copy is checked on ``device``).
        data: a :class:`~dlcore.data.Split`.
        loss_fn: ``loss_fn(outputs, y)``, a mean; default cross-entropy of logits. For
            another loss pass ``expected_loss``.
        batch_size: rows of the batch of checks 3 and 4 and of the baseline's mini-batches.
        steps: optimizer steps of check 4.
        make_optimizer: ``make_optimizer(params)`` returns an optimizer; default
            ``torch.optim.Adam(params, lr=1e-3, foreach=True)``.
        batch_transform: ``batch_transform(X, y)`` applied to each training batch of checks
            4 and 5, as :func:`dlcore.train.fit` does (augmentation).
        baseline_steps: optimizer steps of each run of check 5.
        expected_loss: the loss expected at init instead of :math:`\ln K` or
            :math:`H(\hat p)`.
        init_tol, max_grad_ratio, overfit_loss, baseline_margin: the tolerances above.
        generator: CPU random source for the batches and (through a forked global state
            seeded from it) dropout; it is advanced. Default a generator seeded with 0.
        device: default ``dlcore.device()``.

    Returns:
        SanityReport: ``.checks``, ``.passed``, ``.failed()``; ``print`` it for the table.

    References:
        A. Karpathy, "A Recipe for Training Neural Networks", 2019.

    Examples:
        >>> g = torch.Generator().manual_seed(0)
        >>> X = torch.randn(64, 4, generator=g)
        >>> y = (X[:, 0] > 0).long()
        >>> data = Split(X, y, X[:8], y[:8], 2)  # the test rows leak from training
        >>> model = nn.Linear(4, 2)
        >>> _ = nn.init.zeros_(model.weight), nn.init.zeros_(model.bias)
        >>> report = sanity_checks(model, data, generator=g, device="cpu",
        ...                        make_optimizer=lambda p: torch.optim.Adam(p, lr=0.1))
        >>> round(report["loss at init"].value, 4), report["data: train-test duplicates"].value
        (0.6931, 8.0)
        >>> len(report.checks), [c.name for c in report.failed()]
        (14, ['data: train-test duplicates'])
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"`model` must be a torch.nn.Module, got {type(model).__name__}")
    _split(data)
    batch_size = _checks.number(batch_size, "batch_size", low=1, integer=True)
    steps = _checks.number(steps, "steps", low=1, integer=True)
    baseline_steps = _checks.number(baseline_steps, "baseline_steps", low=1, integer=True)
    for name, fn in (("loss_fn", loss_fn), ("make_optimizer", make_optimizer),
                     ("batch_transform", batch_transform)):
        _callable(fn, name)
    if expected_loss is not None:
        _checks.number(expected_loss, "expected_loss")
    for name, v in (("init_tol", init_tol), ("overfit_loss", overfit_loss),
                    ("baseline_margin", baseline_margin)):
        if v is not None:
            _checks.number(v, name, low=0)
    _checks.number(max_grad_ratio, "max_grad_ratio", low=1)
    if generator is None:
        generator = torch.Generator().manual_seed(0)
    if make_optimizer is None:
        def make_optimizer(params):
            return torch.optim.Adam(params, lr=1e-3, foreach=True)

    dev = default_device() if device is None else torch.device(device)
    data = data.to(dev)
    checks = [SanityCheck(*t) for t in _sanity_data.data_checks(data)]
    if not SanityReport(tuple(checks))["data: labels"].passed:
        # invalid labels: the losses below cannot be computed
        return SanityReport(tuple(checks))
    base = copy.deepcopy(model).to(dev)
    base.train()
    fork = [dev.index or 0] if dev.type == "cuda" else []
    with torch.random.fork_rng(devices=fork):
        torch.manual_seed(int(torch.randint(2**62, (1,), generator=generator)))
        checks += _init_checks(copy.deepcopy(base), data, loss_fn, expected_loss, init_tol)
        Xb, yb = first_batch(data, batch_size=batch_size, generator=generator)
        checks += _gradient_checks(copy.deepcopy(base), Xb, yb, loss_fn, max_grad_ratio)
        # (4) overfit the one batch
        twin = _train(copy.deepcopy(base), Xb, yb, loss_fn, make_optimizer, steps,
                      batch_size, batch_transform, generator)
        with torch.no_grad():
            out = twin(Xb)
            loss = float(loss_fn(out, yb))
            acc = float((out.argmax(-1) == yb).double().mean())
        ok = loss <= overfit_loss and acc == 1.0
        checks.append(SanityCheck("overfit one batch", ok, loss,
                            f"loss {loss:.3g} nat, accuracy {acc:.3g} on {len(yb)} rows after "
                            f"{steps} steps (eval mode)",
                            f"loss <= {overfit_loss:g} nat and accuracy 1",
                            "a bug in the loss, the labels or the model; or raise the rate; "
                            "or switch off dropout and weight decay for this check", "nat"))
        # (5) input-independent baseline on held-out data
        held = ("val", data.X_val, data.y_val) if data.X_val is not None else (
            "test", data.X_test, data.y_test)
        if held[1] is None:
            checks.append(SanityCheck("input-independent baseline", True, math.nan,
                                "skipped: no validation or test part", "a held-out part",
                                "add a validation part"))
        else:
            losses = []
            for zero in (False, True):
                state = generator.get_state()  # both runs see the same batches
                twin = _train(copy.deepcopy(base), data.X_train, data.y_train, loss_fn,
                              make_optimizer, baseline_steps, batch_size, batch_transform,
                              generator, zero=zero)
                if not zero:
                    generator.set_state(state)
                Xh = torch.zeros_like(held[1]) if zero else held[1]
                with torch.no_grad():
                    losses.append(float(loss_fn(twin(Xh), held[2])))
            gap = losses[1] - losses[0]
            ok = math.isfinite(gap) and gap >= baseline_margin
            p = torch.bincount(data.y_train.flatten(), minlength=data.num_classes).double()
            const = float(-(p / p.sum()).log()[held[2].flatten()].mean())
            checks.append(SanityCheck("input-independent baseline", ok, gap,
                                f"{held[0]} loss {losses[0]:.3g} nat with the inputs, "
                                f"{losses[1]:.3g} with zeros (gap {gap:.3g}); a constant "
                                f"predicting the training prior: {const:.3g}",
                                f"gap >= {baseline_margin:g} nat",
                                "the model ignores its inputs: labels misaligned with "
                                "inputs, or the inputs never reach the model", "nat"))
    return SanityReport(tuple(checks))
