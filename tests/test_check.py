import math

import pytest
import torch

from dlcore import activations as A
from dlcore import check


def test_close_prints_one_line_verdict(capsys):
    err = check.close(torch.tensor([1.0, 2.0]), [1.0, 2.0 + 1e-13], name="f", reference="g")
    out = capsys.readouterr().out
    assert out.startswith("f matches g: max |Δ| = ") and out.strip().endswith("✓")
    assert out.count("\n") == 1
    assert 0 < err < 1e-12


def test_close_raises_with_largest_error():
    with pytest.raises(AssertionError, match=r"f does NOT match g: max \|Δ\| = 1\.000e-03"):
        check.close(
            torch.tensor([1.0, 2.0]),
            torch.tensor([1.0, 2.001], dtype=torch.float64),
            name="f",
            reference="g",
            rtol=0,
            atol=1e-6,
        )


def test_close_handles_infinities_and_nan():
    inf = float("inf")
    assert (
        check.close([inf, -inf, 1.0], [inf, -inf, 1.0], name="a", reference="b", quiet=True) == 0.0
    )
    with pytest.raises(AssertionError, match="max \\|Δ\\| = inf"):
        check.close([inf], [1.0], name="a", reference="b")
    with pytest.raises(AssertionError):
        check.close([math.nan], [math.nan], name="a", reference="b")


def test_close_bad_input():
    with pytest.raises(ValueError, match="`actual` and `expected` must have the same shape"):
        check.close(torch.zeros(3), torch.zeros(2), name="a", reference="b")
    with pytest.raises(ValueError, match="`rtol` must be >= 0"):
        check.close(torch.zeros(3), torch.zeros(3), name="a", reference="b", rtol=-1)
    with pytest.raises(TypeError, match="`actual` must be a tensor or array-like"):
        check.close(object(), torch.zeros(1), name="a", reference="b")


@pytest.mark.parametrize("method", ["autograd", "central"])
def test_derivative_accepts_correct_elementwise_derivative(method, capsys):
    x = torch.linspace(-6, 6, 41)
    err = check.derivative(A.sigmoid, A.sigmoid_grad, x, name="sigmoid_grad", method=method)
    assert err < (1e-15 if method == "autograd" else 1e-9)
    want = "autograd" if method == "autograd" else "central differences"
    assert f"sigmoid_grad matches {want}" in capsys.readouterr().out


@pytest.mark.parametrize("method", ["autograd", "central"])
def test_derivative_rejects_wrong_derivative(method):
    x = torch.linspace(-3, 3, 13, dtype=torch.float64)
    wrong = lambda t: A.sigmoid(t) * (1 + A.sigmoid(t))  # noqa: E731 - a sign error
    with pytest.raises(AssertionError, match="does NOT match"):
        check.derivative(A.sigmoid, wrong, x, name="sigmoid_grad", method=method)


def test_derivative_rejects_elementwise_claim_for_coupled_function():
    # softmax is not elementwise: its Jacobian's diagonal alone must not pass
    x = torch.tensor([0.1, -0.4, 0.7], dtype=torch.float64)
    diag = lambda t: A.softmax(t, 0) * (1 - A.softmax(t, 0))  # noqa: E731
    with pytest.raises(AssertionError):
        check.derivative(lambda t: A.softmax(t, 0), diag, x, name="softmax diag")
    check.derivative(
        lambda t: A.softmax(t, 0),
        lambda t: A.softmax_jacobian(t, 0),
        x,
        name="softmax_jacobian",
        method="central",
        quiet=True,
    )


def test_derivative_shape_and_size_errors():
    x = torch.zeros(3, dtype=torch.float64)
    with pytest.raises(ValueError, match="`df\\(x\\)` must have the shape of `x`"):
        check.derivative(torch.sin, lambda t: torch.zeros(2), x, name="bad")
    with pytest.raises(ValueError, match="`method` must be one of"):
        check.derivative(torch.sin, torch.cos, x, name="cos", method="forward")
    with pytest.raises(ValueError, match="at most 4096 elements"):
        check.jacobian(torch.sin, torch.zeros(5000))


def test_jacobian_of_scalar_function():
    x = torch.tensor([1.0, 2.0], dtype=torch.float64)
    J = check.jacobian(lambda t: (t**2).sum(), x, method="central")
    torch.testing.assert_close(J, 2 * x, rtol=1e-8, atol=1e-8)


def test_claim_prints_the_sentence_or_fails_the_run(capsys):
    import numpy as np
    assert check.claim(torch.tensor(True), "the loss fell")
    assert check.claim(np.float64(3) > 2, "three exceeds two")
    assert capsys.readouterr().out == "holds: the loss fell ✓\nholds: three exceeds two ✓\n"
    with pytest.raises(AssertionError, match="does NOT hold in this run: the loss fell"):
        check.claim(False, "the loss fell")
    check.claim(True, "quiet", quiet=True)
    assert capsys.readouterr().out == ""


@pytest.mark.parametrize("condition, statement, exc, match", [
    (1, "s", TypeError, "`condition` must be a bool, got int"),
    (torch.tensor([True, False]), "s", ValueError, "single truth value"),
    (True, "", ValueError, "`statement` must be a non-empty str"),
])
def test_claim_rejects_bad_input(condition, statement, exc, match):
    with pytest.raises(exc, match=match):
        check.claim(condition, statement)


def test_identity_checks_say_so(capsys):
    check.close(torch.tensor([1.0]), torch.tensor([1.0]), name="a", reference="b", identity=True)
    assert capsys.readouterr().out.strip().endswith("(identity, not a test) ✓")
    with pytest.raises(TypeError, match="`identity` must be a bool"):
        check.close(1.0, 1.0, name="a", reference="b", identity=1)
