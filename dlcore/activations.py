r"""Activation functions and their hand-derived derivatives.

Every function with a :mod:`torch.nn.functional` namesake mirrors it (same argument names and
defaults, except that ``softmax``/``log_softmax`` require ``dim``); the ``*_grad`` functions and
``softmax_jacobian`` are the hand-derived derivatives. All are written from elementary tensor
operations so that the code reads like the formula in the Activations chapter. Values and
autograd gradients equal PyTorch's to float64 precision, including for inputs as large as
:math:`|x| = 10^4`.

Conventions shared by all functions:

* ``input`` must be a floating-point tensor without NaN; anything else raises ``TypeError`` or
  ``ValueError`` naming the argument.
* Nothing is modified in place, so torch's ``inplace=`` flags are not offered.
* At a kink (``x = 0`` for the ReLU family) the derivative functions return the value PyTorch's
  autograd uses: 0 for ReLU, ``negative_slope`` for Leaky ReLU, ``alpha`` for ELU,
  :math:`\lambda\alpha` for SELU.
"""

from __future__ import annotations

import math

import torch

from dlcore import _checks

__all__ = [
    "sigmoid", "tanh", "relu", "leaky_relu", "prelu", "rrelu", "elu", "gelu",
    "silu", "softplus", "selu", "softmax", "log_softmax",
    "sigmoid_grad", "tanh_grad", "relu_grad", "leaky_relu_grad", "elu_grad", "gelu_grad",
    "silu_grad", "softplus_grad", "selu_grad", "softmax_jacobian",
]

_SQRT_2_OVER_PI = math.sqrt(2.0 / math.pi)
_GELU_TANH_COEF = 0.044715
# SELU's constants as torch writes them (Klambauer et al., 2017, eq. 14)
SELU_ALPHA = 1.6732632423543772848170429916717
SELU_SCALE = 1.0507009873554804934193349852946


def _input(x, name: str = "input") -> torch.Tensor:
    _checks.tensor(x, name, floating=True, allow_empty=True)
    return _checks.no_nan(x, name)


# --------------------------------------------------------------------------- saturating


def sigmoid(input: torch.Tensor) -> torch.Tensor:
    r"""Logistic sigmoid.

    .. math:: \sigma(x) = \frac{1}{1 + e^{-x}}

    Computed as :math:`1/(1+e^{-x})` for :math:`x \ge 0` and :math:`e^{x}/(1+e^{x})` for
    :math:`x < 0`, so every exponent is :math:`\le 0` and nothing overflows. Each branch sees
    only its own half-line (``clamp``), so the branch not taken cannot put an ``inf`` (and, via
    ``0·inf``, a NaN) into the gradient.

    Args:
        input: floating tensor of any shape.

    Returns:
        Tensor of the same shape, values in :math:`[0, 1]`.

    Examples:
        >>> sigmoid(torch.tensor([-1e4, 0.0, 1e4]))
        tensor([0.0000, 0.5000, 1.0000])
    """
    x = _input(input)
    e_neg = torch.exp(-x.clamp(min=0))  # e^{-x} on x >= 0, at most 1
    e_pos = torch.exp(x.clamp(max=0))  # e^{x} on x < 0, at most 1
    return torch.where(x >= 0, 1 / (1 + e_neg), e_pos / (1 + e_pos))


def sigmoid_grad(input: torch.Tensor) -> torch.Tensor:
    r"""Derivative of the sigmoid, :math:`\sigma'(x) = \sigma(x)\,(1 - \sigma(x))`.

    Its maximum is :math:`\sigma'(0) = 1/4`.

    Examples:
        >>> sigmoid_grad(torch.tensor([0.0]))
        tensor([0.2500])
    """
    s = sigmoid(input)
    return s * (1 - s)


def tanh(input: torch.Tensor) -> torch.Tensor:
    r"""Hyperbolic tangent.

    .. math:: \tanh(x) = \frac{e^{x} - e^{-x}}{e^{x} + e^{-x}} = 2\sigma(2x) - 1

    Computed as :math:`t(x)` for :math:`x \ge 0` and :math:`-t(-x)` for :math:`x < 0`, with
    :math:`t(u) = (1 - e^{-2u})/(1 + e^{-2u})` and ``expm1`` in the numerator: this neither
    overflows for large :math:`|x|` nor loses relative precision near 0 (as
    :math:`2\sigma(2x) - 1` does).

    Examples:
        >>> tanh(torch.tensor([-1e4, 0.0, 1e4]))
        tensor([-1.,  0.,  1.])
    """
    x = _input(input)

    def t(u):  # tanh on u >= 0
        return -torch.expm1(-2 * u) / (1 + torch.exp(-2 * u))

    return torch.where(x >= 0, t(x.clamp(min=0)), -t(-x.clamp(max=0)))


def tanh_grad(input: torch.Tensor) -> torch.Tensor:
    r"""Derivative of tanh, :math:`\tanh'(x) = 1 - \tanh^2(x)`; maximum 1 at :math:`x = 0`.

    Examples:
        >>> tanh_grad(torch.tensor([0.0]))
        tensor([1.])
    """
    t = tanh(input)
    return 1 - t * t


# --------------------------------------------------------------------------- rectifiers


def relu(input: torch.Tensor) -> torch.Tensor:
    r"""Rectified linear unit, :math:`\operatorname{ReLU}(x) = \max(0, x)`.

    Examples:
        >>> relu(torch.tensor([-2.0, 0.0, 3.0]))
        tensor([0., 0., 3.])
    """
    x = _input(input)
    return torch.where(x > 0, x, torch.zeros_like(x))


def relu_grad(input: torch.Tensor) -> torch.Tensor:
    r"""Derivative of ReLU: 1 for :math:`x > 0`, else 0 (PyTorch's choice at the kink).

    Examples:
        >>> relu_grad(torch.tensor([-2.0, 0.0, 3.0]))
        tensor([0., 0., 1.])
    """
    x = _input(input)
    return (x > 0).to(x.dtype)


def leaky_relu(input: torch.Tensor, negative_slope: float = 0.01) -> torch.Tensor:
    r"""Leaky ReLU, :math:`x` for :math:`x > 0` and :math:`a x` otherwise (Maas et al., 2013).

    Args:
        input: floating tensor.
        negative_slope: the slope :math:`a` for negative inputs (torch's default 0.01).

    Examples:
        >>> leaky_relu(torch.tensor([-2.0, 3.0]), negative_slope=0.1)
        tensor([-0.2000,  3.0000])
    """
    x = _input(input)
    a = _checks.number(negative_slope, "negative_slope")
    return torch.where(x > 0, x, a * x)


def leaky_relu_grad(input: torch.Tensor, negative_slope: float = 0.01) -> torch.Tensor:
    r"""Derivative of Leaky ReLU: 1 for :math:`x > 0`, else ``negative_slope``.

    Examples:
        >>> leaky_relu_grad(torch.tensor([-2.0, 0.0, 3.0]), negative_slope=0.1)
        tensor([0.1000, 0.1000, 1.0000])
    """
    x = _input(input)
    a = _checks.number(negative_slope, "negative_slope")
    return torch.where(x > 0, torch.ones_like(x), torch.full_like(x, a))


def prelu(input: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    r"""Parametric ReLU (He et al., 2015): Leaky ReLU whose slope :math:`a` is learned.

    .. math:: \operatorname{PReLU}(x) = \max(0, x) + a \min(0, x)

    Args:
        input: floating tensor; with more than one slope, dimension 1 holds the channels.
        weight: the slopes, shape ``(1,)`` (shared) or ``(C,)`` (one per channel of ``input``).

    Examples:
        >>> prelu(torch.tensor([[-2.0, 3.0]]), torch.tensor([0.25]))
        tensor([[-0.5000,  3.0000]])
    """
    x = _input(input)
    w = _input(weight, "weight")
    _checks.ndim(w, "weight", (1,))
    if w.numel() > 1:
        if x.ndim < 2 or x.shape[1] != w.numel():
            raise ValueError(
                f"`weight` with {w.numel()} slopes needs `input` with {w.numel()} channels in "
                f"dimension 1, got input shape {tuple(x.shape)}"
            )
        w = w.reshape(1, -1, *([1] * (x.ndim - 2)))
    else:
        w = w.reshape(())
    return torch.where(x > 0, x, w * x)


def rrelu(input: torch.Tensor, lower: float = 1.0 / 8, upper: float = 1.0 / 3,
          training: bool = False, *, generator: torch.Generator | None = None) -> torch.Tensor:
    r"""Randomized Leaky ReLU (Xu et al., 2015).

    In training each negative element gets its own slope :math:`a \sim U(\text{lower},
    \text{upper})`; in evaluation the slope is fixed at its mean
    :math:`(\text{lower} + \text{upper})/2`, which makes the layer deterministic.

    Args:
        input: floating tensor.
        lower, upper: the range of the random slope, ``0 <= lower <= upper``.
        training: sample slopes (True) or use the mean slope (False, torch's default).
        generator: random source for the slopes (CPU generator); default: torch's global one.

    Notes:
        Random numbers come from ``generator``, not from the same stream as
        ``torch.nn.functional.rrelu``, so training-mode outputs equal torch's only in
        distribution; evaluation mode equals it exactly.

    Examples:
        >>> rrelu(torch.tensor([-8.0, 1.0]), lower=0.125, upper=0.375)
        tensor([-2.,  1.])
    """
    x = _input(input)
    lo = _checks.number(lower, "lower", low=0)
    hi = _checks.number(upper, "upper", low=lo)
    if not training:
        return torch.where(x > 0, x, (lo + hi) / 2 * x)
    u = torch.rand(x.shape, generator=generator, dtype=x.dtype).to(x.device)
    a = lo + (hi - lo) * u
    return torch.where(x > 0, x, a * x)


def elu(input: torch.Tensor, alpha: float = 1.0) -> torch.Tensor:
    r"""Exponential linear unit (Clevert et al., 2016).

    .. math:: \operatorname{ELU}(x) = x \ (x > 0), \qquad \alpha\,(e^{x} - 1) \ (x \le 0)

    ``expm1`` keeps precision for small :math:`|x|`, and the exponential only ever sees
    :math:`\min(x, 0)`, so the branch not taken cannot overflow and poison the gradient.

    Examples:
        >>> elu(torch.tensor([-1e4, 0.0, 2.0]))
        tensor([-1.,  0.,  2.])
    """
    x = _input(input)
    a = _checks.number(alpha, "alpha")
    return torch.where(x > 0, x, a * torch.expm1(x.clamp(max=0)))


def elu_grad(input: torch.Tensor, alpha: float = 1.0) -> torch.Tensor:
    r"""Derivative of ELU: 1 for :math:`x > 0`, :math:`\alpha e^{x}` for :math:`x \le 0`.

    Examples:
        >>> elu_grad(torch.tensor([-1e4, 0.0, 2.0]))
        tensor([0., 1., 1.])
    """
    x = _input(input)
    a = _checks.number(alpha, "alpha")
    return torch.where(x > 0, torch.ones_like(x), a * torch.exp(x.clamp(max=0)))


# --------------------------------------------------------------------------- GELU


def _gelu_tanh_inner(x: torch.Tensor) -> torch.Tensor:
    # u = sqrt(2/pi) (x + 0.044715 x^3)
    return _SQRT_2_OVER_PI * (x + _GELU_TANH_COEF * x**3)


def gelu(input: torch.Tensor, approximate: str = "none") -> torch.Tensor:
    r"""Gaussian error linear unit (Hendrycks & Gimpel, 2016).

    .. math::
        \operatorname{GELU}(x) = x\,\Phi(x)
        = \frac{x}{2}\left(1 + \operatorname{erf}\!\left(\frac{x}{\sqrt 2}\right)\right)

    With ``approximate="tanh"``:
    :math:`\frac{x}{2}\bigl(1 + \tanh\bigl(\sqrt{2/\pi}\,(x + 0.044715\,x^3)\bigr)\bigr)`.

    Args:
        input: floating tensor.
        approximate: ``"none"`` (exact, erf) or ``"tanh"``.

    Examples:
        >>> gelu(torch.tensor([0.0, 1.0]))
        tensor([0.0000, 0.8413])
    """
    x = _input(input)
    _checks.choice(approximate, "approximate", ("none", "tanh"))
    if approximate == "tanh":
        return 0.5 * x * (1 + tanh(_gelu_tanh_inner(x)))
    return 0.5 * x * (1 + torch.erf(x / math.sqrt(2)))


def gelu_grad(input: torch.Tensor, approximate: str = "none") -> torch.Tensor:
    r"""Derivative of GELU.

    Exact form: :math:`\Phi(x) + x\,\varphi(x)` with :math:`\varphi(x) = e^{-x^2/2}/\sqrt{2\pi}`.

    Tanh form, with :math:`u = \sqrt{2/\pi}(x + 0.044715x^3)`:
    :math:`\tfrac12(1 + \tanh u) + \tfrac12 x\,(1 - \tanh^2 u)\,\sqrt{2/\pi}\,(1 + 3\cdot
    0.044715\,x^2)`.

    Examples:
        >>> gelu_grad(torch.tensor([0.0]))
        tensor([0.5000])
    """
    x = _input(input)
    _checks.choice(approximate, "approximate", ("none", "tanh"))
    if approximate == "tanh":
        t = tanh(_gelu_tanh_inner(x))
        du = _SQRT_2_OVER_PI * (1 + 3 * _GELU_TANH_COEF * x * x)
        return 0.5 * (1 + t) + 0.5 * x * (1 - t * t) * du
    cdf = 0.5 * (1 + torch.erf(x / math.sqrt(2)))
    pdf = torch.exp(-0.5 * x * x) / math.sqrt(2 * math.pi)
    return cdf + x * pdf


# --------------------------------------------------------------------------- smooth rectifiers


def silu(input: torch.Tensor) -> torch.Tensor:
    r"""Sigmoid-weighted linear unit, SiLU, also called Swish (with :math:`\beta = 1`).

    .. math:: \operatorname{SiLU}(x) = x\,\sigma(x)

    Elfwing et al. (2018) introduced it for reinforcement learning; Ramachandran et al. (2017)
    found :math:`x\,\sigma(\beta x)` by automated search and called it Swish. It is GELU's
    :math:`x\,\Phi(x)` with the logistic CDF in place of the Gaussian one.

    Examples:
        >>> silu(torch.tensor([-1e4, 0.0, 1.0]))
        tensor([-0.0000,  0.0000,  0.7311])
    """
    x = _input(input)
    return x * sigmoid(x)


def silu_grad(input: torch.Tensor) -> torch.Tensor:
    r"""Derivative of SiLU, :math:`\sigma(x)\,\bigl(1 + x\,(1 - \sigma(x))\bigr)`.

    Examples:
        >>> silu_grad(torch.tensor([0.0]))
        tensor([0.5000])
    """
    x = _input(input)
    s = sigmoid(x)
    return s * (1 + x * (1 - s))


def _softplus_args(beta, threshold) -> tuple[float, float]:
    b = _checks.number(beta, "beta", low=0, low_open=True)
    return b, _checks.number(threshold, "threshold")


def softplus(input: torch.Tensor, beta: float = 1.0, threshold: float = 20.0) -> torch.Tensor:
    r"""Softplus, a smooth ReLU (Dugas et al., 2001), with torch's ``beta`` and ``threshold``.

    .. math::
        \operatorname{softplus}_\beta(x) = \frac{1}{\beta}\log\bigl(1 + e^{\beta x}\bigr),
        \qquad \text{and } x \text{ itself where } \beta x > \text{threshold}.

    Computed as :math:`(u + \log(1 + e^{-u}))/\beta` for :math:`u = \beta x > 0` and
    :math:`\log(1 + e^{u})/\beta` otherwise, so no exponential overflows. Above the threshold
    torch returns :math:`x` (the gap is :math:`\log(1 + e^{-\beta x})/\beta < e^{-20}/\beta`
    at the default), and so does this function, so that the two agree there exactly.

    Args:
        input: floating tensor.
        beta: sharpness :math:`\beta > 0`; :math:`\beta \to \infty` gives ReLU.
        threshold: above :math:`\beta x >` ``threshold`` the function is the identity.

    Examples:
        >>> softplus(torch.tensor([-1e4, 0.0, 1e4]))
        tensor([0.0000e+00, 6.9315e-01, 1.0000e+04])
    """
    x = _input(input)
    b, t = _softplus_args(beta, threshold)
    bx = b * x
    pos, neg = bx.clamp(min=0), bx.clamp(max=0)  # each branch sees only its half-line
    # log(1 + e^u) = u + log(1 + e^{-u}) for u > 0: every exponent is <= 0
    smooth = torch.where(bx > 0, pos + torch.log1p(torch.exp(-pos)),
                         torch.log1p(torch.exp(neg))) / b
    return torch.where(bx > t, x, smooth)


def softplus_grad(input: torch.Tensor, beta: float = 1.0, threshold: float = 20.0
                  ) -> torch.Tensor:
    r"""Derivative of softplus: :math:`\sigma(\beta x)`, and 1 where :math:`\beta x >`
    ``threshold`` (torch's convention).

    Examples:
        >>> softplus_grad(torch.tensor([0.0, 30.0]))
        tensor([0.5000, 1.0000])
    """
    x = _input(input)
    b, t = _softplus_args(beta, threshold)
    bx = b * x
    return torch.where(bx > t, torch.ones_like(x), sigmoid(bx))


def selu(input: torch.Tensor) -> torch.Tensor:
    r"""Scaled exponential linear unit (Klambauer et al., 2017).

    .. math::
        \operatorname{SELU}(x) = \lambda\,x \ (x > 0), \qquad
        \lambda\alpha\,(e^{x} - 1) \ (x \le 0),

    with :math:`\alpha \approx 1.6733` and :math:`\lambda \approx 1.0507` (``SELU_ALPHA``,
    ``SELU_SCALE``), the constants that make mean 0 and variance 1 a fixed point of a layer
    with standard-normal pre-activations.

    Examples:
        >>> selu(torch.tensor([-1e4, 0.0, 1.0]))
        tensor([-1.7581,  0.0000,  1.0507])
    """
    return SELU_SCALE * elu(input, alpha=SELU_ALPHA)


def selu_grad(input: torch.Tensor) -> torch.Tensor:
    r"""Derivative of SELU: :math:`\lambda` for :math:`x > 0`, :math:`\lambda\alpha e^{x}` for
    :math:`x \le 0`.

    Examples:
        >>> selu_grad(torch.tensor([-1e4, 1.0]))
        tensor([0.0000, 1.0507])
    """
    return SELU_SCALE * elu_grad(input, alpha=SELU_ALPHA)


# --------------------------------------------------------------------------- softmax


def softmax(input: torch.Tensor, dim: int) -> torch.Tensor:
    r"""Softmax along ``dim``, computed stably.

    .. math::
        \operatorname{softmax}(x)_i = \frac{e^{x_i}}{\sum_j e^{x_j}}
        = \frac{e^{x_i - m}}{\sum_j e^{x_j - m}}, \qquad m = \max_j x_j

    Subtracting the maximum changes nothing mathematically (shift invariance) but keeps every
    exponent :math:`\le 0`, so nothing overflows.

    Args:
        input: floating tensor.
        dim: the dimension that sums to 1. Unlike torch, which deprecated guessing it, ``dim``
            is required.

    Examples:
        >>> softmax(torch.tensor([1000.0, 1000.0]), dim=0)
        tensor([0.5000, 0.5000])
    """
    x = _input(input)
    d = _checks.dim_index(dim, x)
    if x.numel() == 0:
        return x.clone()
    # the max is a constant shift: detaching it leaves value and gradient unchanged
    z = x - x.amax(dim=d, keepdim=True).detach()
    e = torch.exp(z)
    return e / e.sum(dim=d, keepdim=True)


def log_softmax(input: torch.Tensor, dim: int) -> torch.Tensor:
    r"""Logarithm of softmax via the log-sum-exp trick.

    .. math::
        \log\operatorname{softmax}(x)_i = x_i - m - \log \sum_j e^{x_j - m},
        \qquad m = \max_j x_j

    Examples:
        >>> log_softmax(torch.tensor([0.0, -1e4]), dim=0)
        tensor([     0., -10000.])
    """
    x = _input(input)
    d = _checks.dim_index(dim, x)
    if x.numel() == 0:
        return x.clone()
    z = x - x.amax(dim=d, keepdim=True).detach()
    return z - torch.log(torch.exp(z).sum(dim=d, keepdim=True))


def softmax_jacobian(input: torch.Tensor, dim: int = -1) -> torch.Tensor:
    r"""Jacobian of softmax, :math:`J_{ij} = \partial s_i / \partial x_j = s_i(\delta_{ij} - s_j)`,
    i.e. :math:`J = \operatorname{diag}(s) - s s^\top`.

    Args:
        input: floating tensor; ``dim`` is the softmax dimension, of size :math:`n`.
        dim: the softmax dimension.

    Returns:
        Tensor of shape ``(*batch, n, n)`` where ``batch`` is ``input.shape`` without ``dim``.

    Examples:
        >>> softmax_jacobian(torch.zeros(2))
        tensor([[ 0.2500, -0.2500],
                [-0.2500,  0.2500]])
    """
    x = _input(input)
    d = _checks.dim_index(dim, x)
    s = softmax(x, dim=d).movedim(d, -1)
    return torch.diag_embed(s) - s.unsqueeze(-1) * s.unsqueeze(-2)
