"""dlcore.activations against torch.nn.functional: values, autograd gradients, hand-derived
derivatives (gradcheck in float64), extreme inputs and bad inputs."""

import pytest
import torch
from torch.nn import functional as F

from dlcore import activations as A

EXTREME = torch.tensor(
    [-1e4, -750.0, -100.0, -20.0, -1e-8, 0.0, 1e-8, 20.0, 100.0, 750.0, 1e4], dtype=torch.float64
)


def inputs(seed=0, n=257):
    g = torch.Generator().manual_seed(seed)
    x = torch.cat([torch.randn(n, generator=g, dtype=torch.float64) * 5, EXTREME])
    return x


# (name, dlcore function, torch reference) for elementwise functions with default arguments
ELEMENTWISE = [
    ("sigmoid", A.sigmoid, torch.sigmoid),
    ("tanh", A.tanh, torch.tanh),
    ("relu", A.relu, F.relu),
    ("leaky_relu", A.leaky_relu, F.leaky_relu),
    ("leaky_relu_0.2", lambda x: A.leaky_relu(x, 0.2), lambda x: F.leaky_relu(x, 0.2)),
    ("elu", A.elu, F.elu),
    ("elu_0.5", lambda x: A.elu(x, alpha=0.5), lambda x: F.elu(x, alpha=0.5)),
    ("gelu", A.gelu, F.gelu),
    ("gelu_tanh", lambda x: A.gelu(x, "tanh"), lambda x: F.gelu(x, approximate="tanh")),
    ("rrelu_eval", A.rrelu, F.rrelu),
    ("silu", A.silu, F.silu),
    ("softplus", A.softplus, F.softplus),
    ("softplus_beta", lambda x: A.softplus(x, beta=2.5, threshold=5.0),
     lambda x: F.softplus(x, beta=2.5, threshold=5.0)),
    ("softplus_small_beta", lambda x: A.softplus(x, beta=0.3),
     lambda x: F.softplus(x, beta=0.3)),
    ("selu", A.selu, F.selu),
    (
        "prelu",
        lambda x: A.prelu(x, torch.tensor([0.25], dtype=x.dtype)),
        lambda x: F.prelu(x, torch.tensor([0.25], dtype=x.dtype)),
    ),
]

# (name, hand-derived derivative, function it differentiates)
DERIVATIVES = [
    ("sigmoid_grad", A.sigmoid_grad, torch.sigmoid),
    ("tanh_grad", A.tanh_grad, torch.tanh),
    ("relu_grad", A.relu_grad, F.relu),
    ("leaky_relu_grad", lambda x: A.leaky_relu_grad(x, 0.2), lambda x: F.leaky_relu(x, 0.2)),
    ("elu_grad", lambda x: A.elu_grad(x, alpha=0.7), lambda x: F.elu(x, alpha=0.7)),
    ("gelu_grad", A.gelu_grad, F.gelu),
    ("gelu_grad_tanh", lambda x: A.gelu_grad(x, "tanh"), lambda x: F.gelu(x, approximate="tanh")),
    ("silu_grad", A.silu_grad, F.silu),
    ("softplus_grad", A.softplus_grad, F.softplus),
    ("softplus_grad_beta", lambda x: A.softplus_grad(x, beta=2.5, threshold=5.0),
     lambda x: F.softplus(x, beta=2.5, threshold=5.0)),
    ("selu_grad", A.selu_grad, F.selu),
]


def autograd_derivative(f, x):
    x = x.clone().requires_grad_(True)
    (g,) = torch.autograd.grad(f(x).sum(), x)
    return g


@pytest.mark.parametrize("name,ours,ref", ELEMENTWISE, ids=[e[0] for e in ELEMENTWISE])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_values_and_gradients_match_torch(name, ours, ref, seed):
    x = inputs(seed)
    got, want = ours(x), ref(x)
    assert torch.isfinite(got).all()
    torch.testing.assert_close(got, want, rtol=1e-12, atol=1e-15)
    g_ours, g_ref = autograd_derivative(ours, x), autograd_derivative(ref, x)
    assert torch.isfinite(g_ours).all(), f"{name}: non-finite gradient"
    # atol ~ float64 eps: near saturation 1 - s*s cancels, so relative error is meaningless
    torch.testing.assert_close(g_ours, g_ref, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("name,ours,ref", ELEMENTWISE, ids=[e[0] for e in ELEMENTWISE])
def test_float32_matches_torch(name, ours, ref):
    x = inputs(3).float()
    torch.testing.assert_close(ours(x), ref(x), rtol=2e-6, atol=1e-6)
    assert ours(x).dtype == torch.float32


@pytest.mark.parametrize("name,grad,f", DERIVATIVES, ids=[d[0] for d in DERIVATIVES])
@pytest.mark.parametrize("seed", [0, 1])
def test_hand_derived_derivative_equals_autograd(name, grad, f, seed):
    x = inputs(seed)  # contains 0: the kink convention must match torch's too
    torch.testing.assert_close(grad(x), autograd_derivative(f, x), rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize(
    "f",
    [
        A.sigmoid,
        A.tanh,
        A.gelu,
        lambda x: A.gelu(x, "tanh"),
        A.elu,
        lambda x: A.softmax(x, dim=-1),
        lambda x: A.log_softmax(x, dim=0),
        A.silu,
        lambda x: A.softplus(x, beta=2.0),
        A.selu,
    ],
)
def test_gradcheck(f):
    # smooth functions away from kinks; gradcheck compares autograd with finite differences
    x = torch.randn(6, 5, dtype=torch.float64, generator=torch.Generator().manual_seed(4))
    x = (x + 0.1 * torch.sign(x)).requires_grad_(True)
    assert torch.autograd.gradcheck(f, (x,))
    assert torch.autograd.gradgradcheck(f, (x,))


@pytest.mark.parametrize("f", [A.relu, A.leaky_relu, A.rrelu])
def test_gradcheck_piecewise_away_from_kink(f):
    x = torch.randn(40, dtype=torch.float64, generator=torch.Generator().manual_seed(5))
    x = (x + 0.1 * torch.sign(x)).requires_grad_(True)
    assert torch.autograd.gradcheck(f, (x,))


# the functions added in the second edition, at the dtypes a network uses
SMOOTH = [e for e in ELEMENTWISE if e[0] in ("silu", "softplus", "softplus_beta", "selu")]


@pytest.mark.parametrize("name,ours,ref", SMOOTH, ids=[e[0] for e in SMOOTH])
@pytest.mark.parametrize(
    "dtype,rtol,atol",
    [(torch.float64, 1e-14, 1e-15), (torch.float32, 2e-6, 1e-6),
     (torch.bfloat16, 2e-2, 2e-2), (torch.float16, 2e-3, 2e-3)],
)
def test_smooth_rectifiers_match_torch_at_each_dtype(name, ours, ref, dtype, rtol, atol):
    x = torch.cat([torch.linspace(-30, 30, 601, dtype=torch.float64),
                   torch.tensor([-6e4, -1e4, 1e4, 6e4], dtype=torch.float64)]).to(dtype)
    got, want = ours(x), ref(x)
    assert got.dtype == dtype and torch.isfinite(got).all()
    torch.testing.assert_close(got, want, rtol=rtol, atol=atol)
    g_ours, g_ref = autograd_derivative(ours, x), autograd_derivative(ref, x)
    assert torch.isfinite(g_ours).all()
    torch.testing.assert_close(g_ours, g_ref, rtol=rtol, atol=atol)


def test_softplus_threshold_and_limits():
    # exactly x above the threshold (torch's convention), log 2 / beta at 0, ReLU as beta grows
    x = torch.tensor([-3.0, 0.0, 4.0, 4.1, 50.0], dtype=torch.float64)
    y = A.softplus(x, beta=5.0, threshold=20.0)
    assert torch.equal(y[3:], x[3:]) and y[2] != x[2]
    assert y[1].item() == pytest.approx(0.6931471805599453 / 5, rel=1e-15)
    assert torch.equal(A.softplus_grad(x, beta=5.0)[3:], torch.ones(2, dtype=torch.float64))
    z = torch.linspace(-3, 3, 601, dtype=torch.float64)
    gaps = [(A.softplus(z, beta=b) - A.relu(z)).abs().max().item() for b in (1, 10, 100)]
    for b, gap in zip((1, 10, 100), gaps, strict=True):  # the largest gap is log 2 / beta
        assert gap == pytest.approx(0.6931471805599453 / b, rel=1e-12)
    # softplus' = sigmoid; softplus(x) - softplus(-x) = x
    torch.testing.assert_close(A.softplus_grad(z), A.sigmoid(z), rtol=1e-15, atol=0)
    torch.testing.assert_close(A.softplus(z) - A.softplus(-z), z, rtol=1e-13, atol=1e-14)


def test_selu_constants_and_kink():
    # Klambauer et al.'s fixed point: E[selu(Z)] = 0 and E[selu(Z)^2] = 1 for Z ~ N(0, 1)
    z = torch.linspace(-12, 12, 240_001, dtype=torch.float64)
    w = torch.exp(-z * z / 2) / (2 * torch.pi) ** 0.5 * (z[1] - z[0])
    y = A.selu(z)
    assert (w * y).sum().item() == pytest.approx(0.0, abs=1e-9)
    assert (w * y * y).sum().item() == pytest.approx(1.0, abs=1e-9)
    zero = torch.zeros(1, dtype=torch.float64)
    assert A.selu_grad(zero).item() == pytest.approx(A.SELU_SCALE * A.SELU_ALPHA, rel=1e-15)
    assert A.selu(torch.tensor([-1e4])).item() == pytest.approx(
        -A.SELU_SCALE * A.SELU_ALPHA, rel=1e-6)


def test_silu_is_x_times_sigmoid_and_its_minimum():
    z = torch.linspace(-10, 10, 200_001, dtype=torch.float64)
    torch.testing.assert_close(A.silu(z), z * torch.sigmoid(z), rtol=1e-14, atol=1e-15)
    x_min = z[A.silu(z).argmin()].item()  # SiLU' = 0 where 1 + x (1 - sigma(x)) = 0
    assert x_min == pytest.approx(-1.2784645, abs=1e-4)
    assert A.silu_grad(torch.tensor([x_min], dtype=torch.float64)).abs().item() < 1e-4


def test_maxima_of_saturating_derivatives():
    x = torch.linspace(-10, 10, 20001, dtype=torch.float64)
    assert A.sigmoid_grad(x).max().item() == pytest.approx(0.25, abs=1e-15)
    assert A.tanh_grad(x).max().item() == pytest.approx(1.0, abs=1e-15)
    assert x[A.sigmoid_grad(x).argmax()].item() == pytest.approx(0.0, abs=1e-12)


def test_tanh_sigmoid_identity_and_precision_near_zero():
    x = inputs(0)
    torch.testing.assert_close(A.tanh(x), 2 * A.sigmoid(2 * x) - 1, rtol=1e-9, atol=1e-15)
    tiny = torch.tensor([1e-12, -3e-20], dtype=torch.float64)
    torch.testing.assert_close(A.tanh(tiny), torch.tanh(tiny), rtol=1e-15, atol=0)


@pytest.mark.parametrize("dim", [0, 1, -1])
def test_softmax_and_log_softmax_match_torch(dim):
    g = torch.Generator().manual_seed(0)
    x = torch.randn(7, 9, generator=g, dtype=torch.float64) * 30
    x[0, 0], x[1, 1], x[2, 2] = 1e4, -1e4, 5e3
    torch.testing.assert_close(A.softmax(x, dim), F.softmax(x, dim), rtol=1e-12, atol=1e-300)
    torch.testing.assert_close(A.log_softmax(x, dim), F.log_softmax(x, dim), rtol=1e-12, atol=0)
    w = torch.randn(7, 9, generator=g, dtype=torch.float64)
    for ours, ref in ((A.softmax, F.softmax), (A.log_softmax, F.log_softmax)):
        a = x.clone().requires_grad_(True)
        b = x.clone().requires_grad_(True)
        (ga,) = torch.autograd.grad((ours(a, dim) * w).sum(), a)
        (gb,) = torch.autograd.grad((ref(b, dim) * w).sum(), b)
        assert torch.isfinite(ga).all()
        torch.testing.assert_close(ga, gb, rtol=1e-10, atol=1e-12)


def test_softmax_is_shift_invariant_and_sums_to_one():
    x = torch.tensor([[1.0, 2.0, 3.0], [1000.0, 1001.0, 1002.0]], dtype=torch.float64)
    s = A.softmax(x, dim=1)
    torch.testing.assert_close(s[0], s[1], rtol=1e-14, atol=0)
    torch.testing.assert_close(s.sum(dim=1), torch.ones(2, dtype=torch.float64))


def test_softmax_jacobian_equals_autograd_batched():
    g = torch.Generator().manual_seed(1)
    x = torch.randn(3, 4, 5, generator=g, dtype=torch.float64)
    for dim in (1, 2, -1):
        J = A.softmax_jacobian(x, dim)
        xd = x.movedim(dim, -1)
        assert J.shape == (*xd.shape[:-1], xd.shape[-1], xd.shape[-1])
        for idx in [(0, 0), (2, 3), (1, 2)]:
            row = xd[idx]
            ref = torch.autograd.functional.jacobian(lambda t: F.softmax(t, dim=0), row)
            torch.testing.assert_close(J[idx], ref, rtol=1e-12, atol=1e-15)


def test_prelu_per_channel_matches_torch():
    g = torch.Generator().manual_seed(2)
    x = torch.randn(4, 3, 5, generator=g, dtype=torch.float64)
    w = torch.tensor([0.1, 0.2, -0.3], dtype=torch.float64)
    torch.testing.assert_close(A.prelu(x, w), F.prelu(x, w), rtol=1e-15, atol=0)
    wa = w.clone().requires_grad_(True)
    wb = w.clone().requires_grad_(True)
    (ga,) = torch.autograd.grad(A.prelu(x, wa).sum(), wa)
    (gb,) = torch.autograd.grad(F.prelu(x, wb).sum(), wb)
    torch.testing.assert_close(ga, gb, rtol=1e-12, atol=0)


def test_rrelu_random_in_training_fixed_in_eval():
    x = -torch.rand(10000, dtype=torch.float64, generator=torch.Generator().manual_seed(0)) - 0.1
    y1 = A.rrelu(x, 0.1, 0.3, training=True, generator=torch.Generator().manual_seed(1))
    y2 = A.rrelu(x, 0.1, 0.3, training=True, generator=torch.Generator().manual_seed(1))
    y3 = A.rrelu(x, 0.1, 0.3, training=True, generator=torch.Generator().manual_seed(2))
    slope = y1 / x
    assert torch.equal(y1, y2) and not torch.equal(y1, y3)
    assert slope.min() >= 0.1 and slope.max() <= 0.3
    assert abs(slope.mean().item() - 0.2) < 0.005  # uniform mean, 10k samples
    torch.testing.assert_close(A.rrelu(x, 0.1, 0.3), 0.2 * x)
    pos = torch.tensor([0.5, 2.0], dtype=torch.float64)
    assert torch.equal(A.rrelu(pos, training=True), pos)


def test_inputs_are_not_modified_and_dtype_device_kept():
    x = inputs(0)
    before = x.clone()
    for _, f, _ in ELEMENTWISE:
        y = f(x)
        assert y.dtype == x.dtype and y.device == x.device
    A.softmax(x, 0)
    assert torch.equal(x, before)


def test_empty_input_gives_empty_output():
    e = torch.empty(0, dtype=torch.float64)
    assert A.sigmoid(e).shape == (0,)
    assert A.softmax(e, 0).shape == (0,)
    assert A.log_softmax(e, 0).shape == (0,)
    # like softmax, the Jacobian accepts empty input: a batch of 0 rows, or rows of size 0
    assert A.softmax_jacobian(torch.empty(0, 3, dtype=torch.float64)).shape == (0, 3, 3)
    assert A.softmax_jacobian(torch.empty(2, 0)).shape == (2, 0, 0)
    for f in (A.silu, A.softplus, A.selu, A.silu_grad, A.softplus_grad, A.selu_grad):
        assert f(e).shape == (0,)


PUBLIC = [
    lambda x: A.sigmoid(x),
    lambda x: A.tanh(x),
    lambda x: A.relu(x),
    lambda x: A.leaky_relu(x),
    lambda x: A.prelu(x, torch.tensor([0.1])),
    lambda x: A.rrelu(x),
    lambda x: A.elu(x),
    lambda x: A.gelu(x),
    lambda x: A.silu(x),
    lambda x: A.softplus(x),
    lambda x: A.selu(x),
    lambda x: A.softmax(x, 0),
    lambda x: A.log_softmax(x, 0),
    lambda x: A.sigmoid_grad(x),
    lambda x: A.tanh_grad(x),
    lambda x: A.relu_grad(x),
    lambda x: A.leaky_relu_grad(x),
    lambda x: A.elu_grad(x),
    lambda x: A.gelu_grad(x),
    lambda x: A.silu_grad(x),
    lambda x: A.softplus_grad(x),
    lambda x: A.selu_grad(x),
    lambda x: A.softmax_jacobian(x),
]


@pytest.mark.parametrize("f", PUBLIC)
def test_bad_inputs_rejected_with_named_argument(f):
    with pytest.raises(TypeError, match="`input` must be a torch.Tensor, got list"):
        f([1.0, 2.0])
    with pytest.raises(
        ValueError, match="`input` must have a floating-point dtype, got torch.int64"
    ):
        f(torch.tensor([1, 2]))
    with pytest.raises(ValueError, match="`input` must not contain NaN"):
        f(torch.tensor([1.0, float("nan")]))


def test_bad_hyperparameters_rejected():
    x = torch.tensor([1.0, -1.0])
    with pytest.raises(ValueError, match="`approximate` must be one of"):
        A.gelu(x, approximate="fast")
    with pytest.raises(ValueError, match="`approximate` must be one of"):
        A.gelu_grad(x, approximate="erf")
    with pytest.raises(ValueError, match="`upper` must be >= 0.3"):
        A.rrelu(x, lower=0.3, upper=0.1)
    with pytest.raises(ValueError, match="`dim` must be in"):
        A.softmax(x, dim=1)
    with pytest.raises(TypeError, match="`dim` must be an int"):
        A.log_softmax(x, dim=None)
    with pytest.raises(ValueError, match="`negative_slope` must be finite"):
        A.leaky_relu(x, float("inf"))
    with pytest.raises(ValueError, match="`weight` with 3 slopes needs `input` with 3 channels"):
        A.prelu(torch.randn(2, 4), torch.tensor([0.1, 0.2, 0.3]))
    for f in (A.softplus, A.softplus_grad):
        with pytest.raises(ValueError, match="`beta` must be > 0, got 0.0"):
            f(x, beta=0.0)
        with pytest.raises(ValueError, match="`threshold` must be finite, got inf"):
            f(x, threshold=float("inf"))
        with pytest.raises(TypeError, match="`beta` must be a real number"):
            f(x, beta="2")
    with pytest.raises(ValueError, match="`weight` must be 1-dimensional"):
        A.prelu(x, torch.tensor(0.1))
