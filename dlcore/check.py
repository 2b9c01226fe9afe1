"""Reader-visible checks of a hand-derived result against a reference.

Every derivation in the book ends in a cell such as::

    dlcore.check.close(sigmoid(x), torch.sigmoid(x), name="sigmoid", reference="torch.sigmoid")
    dlcore.check.derivative(sigmoid, sigmoid_grad, x, name="sigmoid_grad")

Each prints one line a reader understands,
``sigmoid_grad matches autograd: max |Δ| = 2.2e-16 ✓``, and raises :class:`AssertionError`
with the largest error when the two disagree, so a wrong derivation fails the notebook run
(nbval) and the book build.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch

from dlcore import _checks

# Central differences in float64 are accurate to about eps**(2/3) ~ 1e-11 relative;
# autograd is exact up to rounding, so its default tolerance is much tighter.
_TOLERANCE = {"autograd": (1e-9, 1e-12), "central": (1e-6, 1e-8)}
_MAX_JACOBIAN_INPUTS = 4096


def _as_float64(x, name: str) -> torch.Tensor:
    if not isinstance(x, torch.Tensor):
        try:
            x = torch.as_tensor(x, dtype=torch.float64)
        except (TypeError, ValueError, RuntimeError):
            raise TypeError(
                f"`{name}` must be a tensor or array-like of numbers, got {type(x).__name__}"
            ) from None
    return x.detach().to(device="cpu", dtype=torch.float64)


def _max_error(actual: torch.Tensor, expected: torch.Tensor) -> float:
    """Largest |actual - expected|, counting equal infinities as 0 and any other mismatch of
    non-finite values (inf against a number, NaN anywhere) as inf."""
    both_equal = actual == expected  # true for matching infinities
    diff = torch.where(both_equal, torch.zeros_like(actual), (actual - expected).abs())
    diff = torch.nan_to_num(diff, nan=float("inf"), posinf=float("inf"))
    return float(diff.max()) if diff.numel() else 0.0


def claim(condition, statement: str, *, quiet: bool = False) -> bool:
    """Back a sentence of the page with the run: print it if ``condition`` holds, else raise.

    A page that says "warm-up removes the spike in every seed" computes the condition in the
    cell and passes the sentence; a run that disagrees then fails the notebook (nbval) and the
    build instead of publishing a false sentence.

    Args:
        condition: a bool (or a 0-d bool tensor / NumPy bool) computed from the run.
        statement: the claim as the page states it.
        quiet: do not print the verdict.

    Raises:
        AssertionError: when ``condition`` is false.

    Examples:
        >>> claim(2 > 1, "two exceeds one")
        holds: two exceeds one ✓
        True
    """
    if not isinstance(statement, str) or not statement:
        raise ValueError(f"`statement` must be a non-empty str, got {statement!r}")
    if isinstance(condition, torch.Tensor):
        if condition.numel() != 1:
            raise ValueError(f"`condition` must be a single truth value, got a tensor of shape "
                             f"{tuple(condition.shape)}")
        condition = bool(condition)
    if isinstance(condition, np.bool_):
        condition = bool(condition)
    if not isinstance(condition, bool):
        raise TypeError(f"`condition` must be a bool, got {type(condition).__name__}")
    if not condition:
        raise AssertionError(f"does NOT hold in this run: {statement} ✗")
    if not quiet:
        print(f"holds: {statement} ✓")
    return True


def close(actual, expected, *, name: str, reference: str, rtol: float = 1e-7,
          atol: float = 1e-12, quiet: bool = False, identity: bool = False) -> float:
    """Check that ``actual`` equals ``expected`` elementwise within ``atol + rtol·|expected|``.

    Args:
        actual: the hand-derived result (tensor, array or number).
        expected: the reference result, same shape.
        name: what ``actual`` is, for the verdict (``"sigmoid"``).
        reference: what ``expected`` is (``"torch.sigmoid"``).
        rtol, atol: relative and absolute tolerance.
        quiet: do not print the verdict.
        identity: the two sides are equal by construction (an algebraic identity, a
            definition); the verdict then says "(identity, not a test)" so that a reader
            does not take it for evidence.

    Returns:
        float: the largest absolute difference.

    Raises:
        AssertionError: when any element is outside the tolerance.
        ValueError: when the shapes differ or a tolerance is negative.

    Examples:
        >>> close(torch.tensor([0.5]), torch.tensor([0.5]), name="half", reference="1/2")
        half matches 1/2: max |Δ| = 0.0e+00 ✓
        0.0
    """
    _checks.number(rtol, "rtol", low=0)
    _checks.number(atol, "atol", low=0)
    _checks.flag(identity, "identity")
    a = _as_float64(actual, "actual")
    e = _as_float64(expected, "expected")
    _checks.same_shape(a, e, "actual", "expected")
    err = _max_error(a, e)
    ok = bool(torch.isclose(a, e, rtol=rtol, atol=atol).all()) if a.numel() else True
    verdict = f"{name} matches {reference}: max |Δ| = {err:.1e}"
    if not ok:
        gap = torch.where(a == e, torch.zeros_like(a), (a - e).abs())
        worst = torch.nan_to_num(gap, nan=float("inf")).flatten().argmax().item()
        raise AssertionError(
            f"{name} does NOT match {reference}: max |Δ| = {err:.3e} "
            f"(rtol={rtol:g}, atol={atol:g}); worst at flat index {worst}: "
            f"{a.flatten()[worst].item()!r} vs {e.flatten()[worst].item()!r} ✗"
        )
    if not quiet:
        print(verdict + (" (identity, not a test) ✓" if identity else " ✓"))
    return err


def jacobian(f: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor, *,
             method: str = "autograd") -> torch.Tensor:
    """The Jacobian of ``f`` at ``x`` in float64, shape ``f(x).shape + x.shape``.

    ``method="autograd"`` differentiates with :func:`torch.autograd.functional.jacobian`;
    ``method="central"`` uses central differences
    :math:`(f(x + h e_i) - f(x - h e_i)) / 2h` with :math:`h = \\epsilon^{1/3}\\max(1, |x_i|)`,
    which balances truncation error :math:`O(h^2)` against rounding error :math:`O(\\epsilon/h)`.

    Examples:
        >>> jacobian(lambda t: t ** 2, torch.tensor([3.0]), method="central")
        tensor([[6.0000]], dtype=torch.float64)
    """
    _checks.choice(method, "method", ("autograd", "central"))
    x = _as_float64(x, "x")
    if x.numel() > _MAX_JACOBIAN_INPUTS:
        raise ValueError(
            f"`x` must have at most {_MAX_JACOBIAN_INPUTS} elements for a full Jacobian, "
            f"got {x.numel()}"
        )
    if method == "autograd":
        return torch.autograd.functional.jacobian(f, x)
    eps = torch.finfo(torch.float64).eps
    flat = x.flatten()
    cols = []
    for i in range(flat.numel()):
        h = eps ** (1 / 3) * max(1.0, abs(flat[i].item()))
        step = torch.zeros_like(flat)
        step[i] = h
        up = f((flat + step).reshape(x.shape))
        down = f((flat - step).reshape(x.shape))
        cols.append((up - down) / (2 * h))
    out_shape = cols[0].shape
    return torch.stack(cols, dim=-1).reshape(*out_shape, *x.shape)


def derivative(f: Callable[[torch.Tensor], torch.Tensor],
               df: Callable[[torch.Tensor], torch.Tensor], x, *, name: str,
               method: str = "autograd", rtol: float | None = None,
               atol: float | None = None, quiet: bool = False) -> float:
    """Check a hand-derived derivative ``df`` of ``f`` at the points ``x`` (in float64).

    If ``df(x)`` has the shape of ``x`` and ``f`` maps a tensor to one of the same shape,
    ``df`` is taken as the elementwise derivative :math:`f'(x_i)`, and the reference
    Jacobian must be the diagonal matrix :math:`\\operatorname{diag}(f'(x))` (a non-elementwise
    ``f`` fails). Otherwise ``df(x)`` must be the full Jacobian, shape ``f(x).shape + x.shape``.

    Args:
        f: the function, tensor to tensor.
        df: its hand-derived derivative.
        x: the points (at most 4096 values; a float64 copy is used).
        name: the derivative's name for the verdict (``"sigmoid_grad"``).
        method: ``"autograd"`` or ``"central"`` (finite differences).
        rtol, atol: tolerances; defaults are 1e-9/1e-12 (autograd), 1e-6/1e-8 (central).
        quiet: do not print the verdict.

    Returns:
        float: the largest absolute difference.

    Raises:
        AssertionError: when the derivative disagrees with the reference.

    Examples:
        >>> derivative(torch.sin, torch.cos, torch.linspace(-3, 3, 7), name="cos")
        cos matches autograd: max |Δ| = 0.0e+00 ✓
        0.0
    """
    _checks.choice(method, "method", ("autograd", "central"))
    x64 = _as_float64(x, "x")
    jac = jacobian(f, x64, method=method)
    got = _as_float64(df(x64), "df(x)")
    out_shape = jac.shape[: jac.ndim - x64.ndim]
    if got.shape == x64.shape and out_shape == x64.shape:
        got = torch.diag_embed(got.flatten()).reshape(jac.shape)
    elif got.shape != jac.shape:
        raise ValueError(
            f"`df(x)` must have the shape of `x` {tuple(x64.shape)} (elementwise derivative) "
            f"or of the Jacobian {tuple(jac.shape)}, got {tuple(got.shape)}"
        )
    default_rtol, default_atol = _TOLERANCE[method]
    reference = "autograd" if method == "autograd" else "central differences"
    return close(got, jac, name=name, reference=reference,
                 rtol=default_rtol if rtol is None else rtol,
                 atol=default_atol if atol is None else atol, quiet=quiet)
