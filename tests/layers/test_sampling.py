"""dlcore.layers.sampling: bilinear sampling, the spatial transformer against
F.affine_grid + F.grid_sample, deformable convolution against F.conv2d (zero offsets) and
against a literal per-point bilinear interpolation (any offsets)."""

import math
import random

import pytest
import torch
import torch.nn.functional as F

from dlcore.layers import (
    affine_grid,
    affine_sample,
    bilinear_sample,
    conv_output_size,
    deform_conv2d,
)

D = torch.float64


def _normalised(rows, cols, H, W):
    """Pixel positions -> grid_sample's [-1, 1] coordinates for align_corners=True."""
    return torch.stack([2 * cols / (W - 1) - 1, 2 * rows / (H - 1) - 1], dim=-1)


@pytest.mark.parametrize("seed", range(4))
def test_bilinear_sample_equals_grid_sample_values_and_grads(seed):
    torch.manual_seed(seed)
    N, C, H, W = 2, 3, 5 + seed, 6
    x = torch.randn(N, C, H, W, dtype=D, requires_grad=True)
    # positions inside, near and outside the border
    rows = (torch.rand(N, 4, 7, dtype=D) * (H + 2) - 1.5).requires_grad_()
    cols = (torch.rand(N, 4, 7, dtype=D) * (W + 2) - 1.5).requires_grad_()
    y = bilinear_sample(x, rows, cols)
    y_ref = F.grid_sample(x, _normalised(rows, cols, H, W), mode="bilinear",
                          padding_mode="zeros", align_corners=True)
    torch.testing.assert_close(y, y_ref, rtol=1e-10, atol=1e-12)
    g = torch.randn_like(y)
    for a, e in zip(torch.autograd.grad(y, (x, rows, cols), g),
                    torch.autograd.grad(y_ref, (x, rows, cols), g), strict=True):
        torch.testing.assert_close(a, e, rtol=1e-9, atol=1e-10)


def test_bilinear_sample_integer_positions_and_far_outside():
    x = torch.arange(12.0, dtype=D).reshape(1, 1, 3, 4)
    r, c = torch.meshgrid(torch.arange(3.0, dtype=D), torch.arange(4.0, dtype=D),
                          indexing="ij")
    assert torch.equal(bilinear_sample(x, r[None], c[None]), x)
    far = torch.tensor([[-5.0, 100.0, -1.0, 3.0]], dtype=D)
    assert torch.equal(bilinear_sample(x, far, torch.zeros_like(far)),
                       torch.tensor([[[0.0, 0.0, 0.0, 0.0]]], dtype=D))


@pytest.mark.parametrize("align_corners", [True, False])
@pytest.mark.parametrize("seed", range(3))
def test_affine_grid_and_sample_equal_torch(align_corners, seed):
    torch.manual_seed(seed)
    x = torch.randn(2, 3, 6 + seed, 5, dtype=D, requires_grad=True)
    theta = (torch.eye(2, 3, dtype=D) + 0.4 * torch.randn(2, 2, 3, dtype=D)).requires_grad_()
    for size in (None, (4, 7), (3, 2)):
        H, W = x.shape[2:] if size is None else size
        grid_ref = F.affine_grid(theta, (2, 3, H, W), align_corners=align_corners)
        torch.testing.assert_close(affine_grid(theta, (H, W), align_corners=align_corners),
                                   grid_ref)
        y = affine_sample(x, theta, size, align_corners=align_corners)
        y_ref = F.grid_sample(x, grid_ref, mode="bilinear", padding_mode="zeros",
                              align_corners=align_corners)
        torch.testing.assert_close(y, y_ref, rtol=1e-10, atol=1e-12)
        g = torch.randn_like(y)
        for a, e in zip(torch.autograd.grad(y, (x, theta), g),
                        torch.autograd.grad(y_ref, (x, theta), g), strict=True):
            torch.testing.assert_close(a, e, rtol=1e-9, atol=1e-10)


@pytest.mark.filterwarnings("ignore:Since version 1.3.0")
@pytest.mark.parametrize("align_corners", [True, False])
def test_affine_grid_unit_size_as_torch(align_corners):
    theta = torch.randn(1, 2, 3, dtype=D)
    torch.testing.assert_close(affine_grid(theta, (1, 3), align_corners=align_corners),
                               F.affine_grid(theta, (1, 1, 1, 3), align_corners=align_corners))


@pytest.mark.parametrize("align_corners", [True, False])
def test_identity_returns_input_and_float32(align_corners):
    torch.manual_seed(0)
    x = torch.randn(3, 2, 8, 8)
    theta = torch.eye(2, 3).expand(3, 2, 3)
    torch.testing.assert_close(affine_sample(x, theta, align_corners=align_corners), x,
                               rtol=1e-5, atol=1e-5)


def test_rotation_by_90_degrees_is_rot90():
    x = torch.randn(1, 1, 5, 5, dtype=D)
    c, s = math.cos(math.pi / 2), math.sin(math.pi / 2)
    theta = torch.tensor([[[c, -s, 0.0], [s, c, 0.0]]], dtype=D)
    y = affine_sample(x, theta, align_corners=True)
    torch.testing.assert_close(y, torch.rot90(x, 1, dims=(2, 3)), rtol=0, atol=1e-12)


def test_affine_sample_gradcheck():
    torch.manual_seed(3)
    x = torch.randn(1, 2, 4, 5, dtype=D, requires_grad=True)
    theta = (torch.eye(2, 3, dtype=D) + 0.2 * torch.randn(1, 2, 3, dtype=D)).requires_grad_()
    assert torch.autograd.gradcheck(lambda x, t: affine_sample(x, t, align_corners=False),
                                    (x, theta))


def _bilinear_point(img, u, v):
    """Bilinear interpolation of a 2-D image at one point, zeros outside (a transcription)."""
    H, W = img.shape
    u0, v0 = math.floor(u), math.floor(v)
    total = 0.0
    for r in (u0, u0 + 1):
        for q in (v0, v0 + 1):
            if 0 <= r < H and 0 <= q < W:
                total += (1 - abs(u - r)) * (1 - abs(v - q)) * float(img[r, q])
    return total


def _deform_loop(x, offset, weight, bias, s, p, d, mask=None):
    """Deformable convolution by its definition, one output and one tap at a time."""
    N, C, H, W = x.shape
    O, _, kh, kw = weight.shape
    Ho, Wo = offset.shape[2:]
    y = torch.zeros(N, O, Ho, Wo, dtype=D)
    for n in range(N):
        for i in range(Ho):
            for j in range(Wo):
                for a in range(kh):
                    for b in range(kw):
                        k = a * kw + b
                        u = i * s[0] - p[0] + a * d[0] + float(offset[n, 2 * k, i, j])
                        v = j * s[1] - p[1] + b * d[1] + float(offset[n, 2 * k + 1, i, j])
                        m = 1.0 if mask is None else float(mask[n, k, i, j])
                        for c in range(C):
                            val = m * _bilinear_point(x[n, c], u, v)
                            y[n, :, i, j] += weight[:, c, a, b] * val
    return y if bias is None else y + bias[None, :, None, None]


CASES = [((1, 1), (0, 0), (1, 1), (3, 3)), ((2, 1), (1, 0), (1, 2), (2, 3)),
         ((1, 2), (1, 1), (2, 1), (3, 2))]


@pytest.mark.parametrize("s, p, d, k", CASES)
def test_deform_conv2d_zero_offsets_equal_conv2d(s, p, d, k):
    torch.manual_seed(4)
    x = torch.randn(2, 3, 7, 8, dtype=D, requires_grad=True)
    w = torch.randn(4, 3, *k, dtype=D, requires_grad=True)
    b = torch.randn(4, dtype=D)
    Ho, Wo = conv_output_size((7, 8), k, stride=s, padding=p, dilation=d)
    offset = torch.zeros(2, 2 * k[0] * k[1], Ho, Wo, dtype=D)
    y = deform_conv2d(x, offset, w, b, stride=s, padding=p, dilation=d)
    y_ref = F.conv2d(x, w, b, stride=s, padding=p, dilation=d)
    torch.testing.assert_close(y, y_ref, rtol=1e-10, atol=1e-12)
    g = torch.randn_like(y)
    for a, e in zip(torch.autograd.grad(y, (x, w), g), torch.autograd.grad(y_ref, (x, w), g),
                    strict=True):
        torch.testing.assert_close(a, e, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("seed, case", [(seed, c) for seed, c in enumerate(CASES)])
def test_deform_conv2d_equals_direct_bilinear_loop(seed, case):
    s, p, d, k = case
    torch.manual_seed(10 + seed)
    x = torch.randn(1, 2, 5, 6, dtype=D)
    w = torch.randn(3, 2, *k, dtype=D)
    b = torch.randn(3, dtype=D) if seed % 2 else None
    Ho, Wo = conv_output_size((5, 6), k, stride=s, padding=p, dilation=d)
    offset = 1.5 * torch.randn(1, 2 * k[0] * k[1], Ho, Wo, dtype=D)
    mask = torch.rand(1, k[0] * k[1], Ho, Wo, dtype=D) if seed == 2 else None
    torch.testing.assert_close(
        deform_conv2d(x, offset, w, b, stride=s, padding=p, dilation=d, mask=mask),
        _deform_loop(x, offset, w, b, s, p, d, mask), rtol=1e-10, atol=1e-12)


def test_deform_conv2d_integer_offset_is_a_shifted_conv():
    torch.manual_seed(5)
    x = torch.randn(1, 2, 8, 8, dtype=D)
    w = torch.randn(3, 2, 3, 3, dtype=D)
    offset = torch.tensor([1.0, -2.0], dtype=D).repeat(9).reshape(1, 18, 1, 1)
    y = deform_conv2d(x, offset.expand(1, 18, 6, 6), w)
    # every tap moves down 1 and left 2: the conv of the image shifted by (-1, +2)
    shifted = F.pad(x, (2, 0, 0, 0))[:, :, 1:, :8]
    y_ref = F.conv2d(F.pad(shifted, (0, 0, 0, 1)), w)
    torch.testing.assert_close(y, y_ref, rtol=1e-10, atol=1e-12)


def test_deform_conv2d_gradcheck_with_offsets_and_mask():
    torch.manual_seed(6)
    x = torch.randn(1, 2, 4, 4, dtype=D, requires_grad=True)
    w = torch.randn(2, 2, 2, 2, dtype=D, requires_grad=True)
    # offsets away from integers: bilinear interpolation has kinks at whole pixels
    off = (torch.randint(-1, 2, (1, 8, 3, 3)).to(D) + 0.3 + 0.4 * torch.rand(1, 8, 3, 3,
                                                                          dtype=D))
    off.requires_grad_()
    mask = torch.rand(1, 4, 3, 3, dtype=D, requires_grad=True)
    assert torch.autograd.gradcheck(
        lambda x, o, w, m: deform_conv2d(x, o, w, mask=m), (x, off, w, mask))


X = torch.randn(1, 2, 5, 5)
W = torch.randn(3, 2, 3, 3)
OFF = torch.zeros(1, 18, 3, 3)


@pytest.mark.parametrize("call, match", [
    (lambda: bilinear_sample(X[0], OFF[:, 0], OFF[:, 0]), "`x` must be 4"),
    (lambda: bilinear_sample(X, OFF[:, 0].double(), OFF[:, 0]), "`rows`"),
    (lambda: bilinear_sample(X, torch.zeros(2, 3), torch.zeros(2, 3)), "`rows`"),
    (lambda: bilinear_sample(X, torch.zeros(1, 3), torch.zeros(1, 4)), "same shape"),
    (lambda: bilinear_sample(X, torch.zeros(1, 3), torch.full((1, 3), math.nan)), "`cols`"),
    (lambda: affine_grid(torch.zeros(1, 3, 3), (2, 2), align_corners=True), "theta"),
    (lambda: affine_grid(torch.eye(2, 3)[None], (2, 0), align_corners=True), "size"),
    (lambda: affine_sample(X, torch.eye(2, 3).expand(2, 2, 3), align_corners=True), "theta"),
    (lambda: affine_sample(X, torch.full((1, 2, 3), math.inf), align_corners=True),
     "theta"),
    (lambda: deform_conv2d(X, OFF, W[:, :1]), "weight"),
    (lambda: deform_conv2d(X, OFF[:, :9], W), "offset"),
    (lambda: deform_conv2d(X, OFF, W, padding=1), "offset"),
    (lambda: deform_conv2d(X, OFF, W, mask=torch.ones(1, 8, 3, 3)), "mask"),
    (lambda: deform_conv2d(X, OFF, W, torch.zeros(2)), "bias"),
    (lambda: deform_conv2d(X, OFF.to("meta"), W), "offset.*device"),
    (lambda: deform_conv2d(X, OFF, W, mask=torch.ones(1, 9, 3, 3, device="meta")),
     "mask.*device"),
    (lambda: deform_conv2d(X, OFF, W, torch.zeros(3, device="meta")), "bias.*device"),
    (lambda: deform_conv2d(X, OFF, W, stride=0), "stride"),
    (lambda: deform_conv2d(X, OFF, torch.randn(3, 2, 7, 3)), "kernel does not fit"),
])
def test_sampling_rejects_bad_input(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def test_deform_conv2d_bias_must_be_a_tensor():
    with pytest.raises(TypeError, match="`bias` must be a torch.Tensor"):
        deform_conv2d(X, OFF, W, [0.0, 0.0, 0.0])


def test_align_corners_is_required_and_a_bool():
    with pytest.raises(TypeError, match="align_corners"):
        affine_sample(X, torch.eye(2, 3)[None])
    with pytest.raises(TypeError, match="align_corners"):
        affine_sample(X, torch.eye(2, 3)[None], align_corners=1)


def test_random_positions_match_the_point_formula():
    rng = random.Random(0)
    x = torch.randn(1, 1, 4, 5, dtype=D)
    pts = [(rng.uniform(-1.5, 4.5), rng.uniform(-1.5, 5.5)) for _ in range(20)]
    rows = torch.tensor([[u for u, _ in pts]], dtype=D)
    cols = torch.tensor([[v for _, v in pts]], dtype=D)
    ours = bilinear_sample(x, rows, cols)[0, 0]
    ref = torch.tensor([_bilinear_point(x[0, 0], u, v) for u, v in pts], dtype=D)
    torch.testing.assert_close(ours, ref, rtol=1e-12, atol=1e-12)
