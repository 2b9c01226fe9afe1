"""Tests of dlcore.regularization.augment: kornia parity, defining properties, bad input."""

import kornia
import pytest
import torch

from dlcore.regularization import augment as A

F64 = torch.float64


def gen(seed=0):
    return torch.Generator().manual_seed(seed)


def images(n=3, c=3, h=7, w=10, dtype=F64, seed=0):
    return torch.rand(n, c, h, w, generator=gen(seed), dtype=dtype)


@pytest.mark.parametrize("dtype", [torch.float32, F64])
@pytest.mark.parametrize("shape", [(1, 1, 8, 8), (3, 3, 7, 10), (2, 2, 5, 4)])
def test_hflip_equals_kornia(shape, dtype):
    x = torch.rand(shape, dtype=dtype)
    assert torch.equal(A.hflip(x), kornia.geometry.transform.hflip(x))
    assert torch.equal(A.hflip(x[0]), kornia.geometry.transform.hflip(x)[0])


@pytest.mark.parametrize("shape", [(3, 1, 8, 8), (3, 3, 7, 10), (3, 2, 9, 5)])
def test_rotate_equals_kornia(shape):
    x = torch.rand(shape, dtype=F64)
    angle = torch.tensor([12.0, -47.0, 90.0], dtype=F64)
    ref = kornia.geometry.transform.rotate(x, angle)
    assert torch.allclose(A.rotate(x, angle), ref, atol=1e-12)
    assert torch.allclose(A.rotate(x[1], -47.0), ref[1], atol=1e-12)


def test_rotate_float32_and_special_angles():
    x = images(dtype=torch.float32)
    ref = kornia.geometry.transform.rotate(x, torch.full((3,), 33.0))
    assert torch.allclose(A.rotate(x, 33.0), ref, atol=1e-5)
    sq = images(h=6, w=6)
    assert torch.allclose(A.rotate(sq, 0.0), sq, atol=1e-12)
    assert torch.allclose(A.rotate(sq, 180.0), sq.flip(-1).flip(-2), atol=1e-12)
    assert torch.allclose(A.rotate(sq, 90.0), sq.rot90(1, dims=(2, 3)), atol=1e-12)


def test_affine_fill_and_mirror():
    x = images()
    assert torch.allclose(A.affine(x, torch.tensor([[-1.0, 0], [0, 1]], dtype=F64)),
                          x.flip(-1), atol=1e-12)
    # the corners of a 45° rotation read outside the image: they get `fill`, not 0
    out = A.rotate(torch.zeros(1, 5, 5, dtype=F64), 45.0, fill=-0.8)
    assert out[0, 2, 2] == 0 and out[0, 0, 0] < -0.6 and out[0, 4, 4] < -0.6
    assert torch.allclose(A.rotate(x, 30.0, fill=0.3), A.rotate(x - 0.3, 30.0) + 0.3)
    with pytest.raises(ValueError, match="`matrix` must have shape"):
        A.affine(x, torch.eye(3, dtype=F64))
    with pytest.raises(ValueError, match="`matrix` must be invertible"):
        A.affine(x, torch.zeros(2, 2, dtype=F64))


def test_affine_equals_dlcore_affine_sample():
    from dlcore.layers import affine_sample
    x = images()
    m = torch.tensor([[1.1, 0.3], [-0.2, 0.9]], dtype=F64)
    got = A.affine(x, m, fill=0.5)
    D = torch.diag(torch.tensor([10 / 2, 7 / 2], dtype=F64))
    theta = torch.cat([D.inverse() @ m.inverse() @ D, torch.zeros(2, 1, dtype=F64)], 1)
    ref = affine_sample(x - 0.5, theta.expand(3, 2, 3), align_corners=False) + 0.5
    assert torch.allclose(got, ref, atol=1e-12)


def test_random_crop_is_a_window_of_the_padded_image():
    x = images(n=20, c=2, h=6, w=6)
    out = A.random_crop(x, (4, 5), padding=1, fill=-1.0, generator=gen(3))
    xp = torch.nn.functional.pad(x, (1, 1, 1, 1), value=-1.0)
    for n in range(20):
        hits = [(i, j) for i in range(5) for j in range(4)
                if torch.equal(xp[n, :, i:i + 4, j:j + 5], out[n])]
        assert hits, n
    assert torch.equal(A.random_crop(x, 6), x)          # nothing to choose
    assert A.random_crop(x[0], 3, generator=gen()).shape == (2, 3, 3)


def test_random_crop_offsets_are_uniform_and_reproducible():
    x = torch.arange(9.0, dtype=F64).view(1, 1, 3, 3).expand(3000, 1, 3, 3)
    out = A.random_crop(x, 1, generator=gen(1))
    counts = torch.bincount(out.flatten().long(), minlength=9).double()
    assert counts.min() > 250 and counts.max() < 420     # 3000/9 ≈ 333 each
    assert torch.equal(out, A.random_crop(x, 1, generator=gen(1)))


def test_random_crop_bad_input():
    x = images()
    with pytest.raises(ValueError, match="`size` must be at most the padded size"):
        A.random_crop(x, 9)
    with pytest.raises(ValueError, match="`size` must be a number or a pair"):
        A.random_crop(x, (1, 2, 3))
    with pytest.raises(ValueError, match="`padding` must be >= 0"):
        A.random_crop(x, 2, padding=-1)
    with pytest.raises(ValueError, match="`x` must be 3 or 4-dimensional"):
        A.random_crop(torch.ones(4, 4), 2)
    with pytest.raises(ValueError, match="floating-point"):
        A.hflip(torch.ones(1, 4, 4, dtype=torch.long))
    with pytest.raises(ValueError, match="NaN"):
        A.hflip(torch.full((1, 2, 2), float("nan")))
    with pytest.raises(ValueError, match="`angle` must be finite"):
        A.rotate(x, torch.tensor([float("inf")] * 3))


@pytest.mark.parametrize("f", [0.0, 0.4, 1.0, 1.7])
def test_colour_jitter_equals_kornia_blends(f):
    x = images()
    ft = torch.tensor([f], dtype=F64)
    pairs = [("contrast", kornia.enhance.adjust_contrast_with_mean_subtraction),
             ("saturation", kornia.enhance.adjust_saturation_with_gray_subtraction)]
    for name, ref in pairs:
        for n in range(3):
            got = A.colour_jitter(x[n], **{name: (f, f)})
            assert torch.allclose(got, ref(x[n:n + 1], ft)[0], atol=1e-12)
    # brightness blends with black: f·x, clamped to [0, 1]
    assert torch.allclose(A.colour_jitter(x, brightness=(f, f)), (f * x).clamp(0, 1))


def test_colour_jitter_grey_saturation_is_a_no_op_and_factors_in_range():
    x = images(n=50, c=1)
    assert torch.allclose(A.colour_jitter(x, saturation=0.9, generator=gen()), x)
    out = A.colour_jitter(x, brightness=0.5, clamp=None, generator=gen(2))
    ratio = (out / x).flatten(1)
    assert torch.allclose(ratio.max(1).values, ratio.min(1).values)   # one factor per image
    assert ratio.min() >= 0.5 and ratio.max() <= 1.5 and ratio.std() > 0.1
    with pytest.raises(ValueError, match="1 or 3 channels"):
        A.colour_jitter(images(c=2))
    with pytest.raises(ValueError, match="low <= high"):
        A.colour_jitter(x, contrast=(1.2, 0.8))
    with pytest.raises(ValueError, match="a number or a pair"):
        A.colour_jitter(x, contrast=(1.2,))
    with pytest.raises(ValueError, match="`brightness` must be >= 0"):
        A.colour_jitter(x, brightness=-0.1)


def test_fit_pca_colour_equals_numpy():
    x = images(n=4) @ torch.eye(10, dtype=F64)
    x = x + 0.5 * x[:, :1]            # correlated channels
    vals, vecs = A.fit_pca_colour(x)
    cov = torch.cov(x.transpose(0, 1).reshape(3, -1))
    assert torch.allclose(cov @ vecs, vecs * vals, atol=1e-12)
    assert bool((vals[:-1] >= vals[1:]).all())
    import numpy as np
    ref = np.sort(np.linalg.eigvalsh(np.cov(x.transpose(0, 1).reshape(3, -1).numpy())))[::-1]
    assert np.allclose(vals.numpy(), ref, atol=1e-12)
    with pytest.raises(ValueError, match="at least 2 pixels"):
        A.fit_pca_colour(torch.ones(1, 3, 1, 1))


def test_pca_colour_shift_statistics():
    x = torch.zeros(4000, 3, 2, 2, dtype=F64)
    vals = torch.tensor([0.3, 0.02, 0.001], dtype=F64)
    vecs = torch.linalg.qr(torch.rand(3, 3, generator=gen(), dtype=F64))[0]
    out = A.pca_colour(x, vals, vecs, generator=gen(5))
    assert torch.equal(out, out[:, :, :1, :1].expand_as(out))        # one shift per image
    alpha = out[:, :, 0, 0] @ vecs / vals                              # undo P diag(λ)
    assert abs(alpha.std(0) - 0.1).max() < 0.01 and abs(alpha.mean(0)).max() < 0.01
    assert torch.allclose(A.pca_colour(x[0], vals, vecs, std=0.0), x[0])
    with pytest.raises(ValueError, match="must have shapes"):
        A.pca_colour(x, vals[:2], vecs)
    with pytest.raises(ValueError, match="`eigvals` must be >= 0"):
        A.pca_colour(x, -vals, vecs)
    with pytest.raises(ValueError, match="`std` must be >= 0"):
        A.pca_colour(x, vals, vecs, std=-1.0)


def test_translate_and_shear_ops():
    x = images(n=2, c=1, h=5, w=5)
    tx = A.RAND_AUGMENT_OPS["translate_x"][0]
    out = tx(x, torch.tensor([0.2, -0.4], dtype=F64), -1.0)          # +1 and -2 pixels
    assert torch.equal(out[0, :, :, 1:], x[0, :, :, :-1]) and bool((out[0, ..., 0] == -1).all())
    assert torch.equal(out[1, :, :, :-2], x[1, :, :, 2:])
    ty = A.RAND_AUGMENT_OPS["translate_y"][0]
    out = ty(x, torch.tensor([0.2, 0.0], dtype=F64), 0.0)
    assert torch.equal(out[0, :, 1:], x[0, :, :-1]) and torch.equal(out[1], x[1])
    sx = A.RAND_AUGMENT_OPS["shear_x"][0]
    got = sx(x, torch.tensor([0.3, 0.3], dtype=F64), 0.0)
    # output (u, v) reads input (u - 0.3 v, v): the centre row stays, row 0 (v = -2) reads
    # 0.6 of a pixel to the right, a linear interpolation of its neighbours
    assert torch.allclose(got[:, :, 2], x[:, :, 2], atol=1e-12)
    ref = 0.4 * x[:, :, 0, :-1] + 0.6 * x[:, :, 0, 1:]
    assert torch.allclose(got[:, :, 0, :-1], ref, atol=1e-12)
    sy = A.RAND_AUGMENT_OPS["shear_y"][0](x.transpose(2, 3), torch.tensor([0.3, 0.3]), 0.0)
    assert torch.allclose(sy.transpose(2, 3), got, atol=1e-12)


def test_rand_augment_and_policy():
    x = images(n=64, c=1, h=8, w=8)
    only = {"b": A.RAND_AUGMENT_OPS["brightness"]}
    out = A.rand_augment(x, n=1, magnitude=30, ops=only, generator=gen())
    factor = (out / x).flatten(1)                                    # blend with fill 0
    assert torch.allclose(factor.max(1).values, factor.min(1).values)
    factor = factor[:, 0]                                            # 1 ± 0.9
    assert set(torch.round(factor, decimals=6).tolist()) == {0.1, 1.9}   # both signs
    assert A.rand_augment(x, n=0, generator=gen()).equal(x)
    full = A.rand_augment(x, n=2, magnitude=5, generator=gen(1))
    assert full.shape == x.shape and not full.equal(x)
    assert torch.equal(full, A.rand_augment(x, n=2, magnitude=5, generator=gen(1)))
    assert A.rand_augment(x[0], generator=gen()).shape == x[0].shape
    contrast = A.apply_policy(x, [[("contrast", 1.0, 9)]], generator=gen())
    f = contrast.std(dim=(1, 2, 3)) / x.std(dim=(1, 2, 3))
    assert set(torch.round(f, decimals=6).tolist()) == {0.1, 1.9}      # bin 9 of 10 = max
    two = A.apply_policy(x, [[("identity", 1.0, 0)], [("rotate", 1.0, 9)]],
                         generator=gen(4))
    changed = (two - x).flatten(1).abs().max(1).values > 0
    assert 10 < int(changed.sum()) < 54                              # about half: 1 of 2
    assert A.apply_policy(x[0], [[("rotate", 0.0, 3)]]).equal(x[0])


def test_policy_bad_input():
    x = images(c=1)
    with pytest.raises(ValueError, match="`ops` must be a non-empty dict"):
        A.rand_augment(x, ops={})
    with pytest.raises(ValueError, match="`magnitude` must be <= 30"):
        A.rand_augment(x, magnitude=31)
    with pytest.raises(ValueError, match="`policy` must be a non-empty list"):
        A.apply_policy(x, [])
    with pytest.raises(ValueError, match="`policy op` must be one of"):
        A.apply_policy(x, [[("invert", 0.5, 3)]])
    with pytest.raises(ValueError, match="`policy magnitude` must be <= 9"):
        A.apply_policy(x, [[("rotate", 0.5, 10)]])
    with pytest.raises(ValueError, match="`policy probability` must be <= 1"):
        A.apply_policy(x, [[("rotate", 1.5, 1)]])


def test_policy_magnitude_nine_is_the_maximum():
    """AutoAugment's 10 bins (torchvision): bin 9 rotates by the full ±30°, both signs."""
    x = images(n=32, c=1, h=8, w=8).double()
    out = A.apply_policy(x, [[("rotate", 1.0, 9)]], generator=gen(2))
    plus, minus = A.rotate(x, 30.0), A.rotate(x, -30.0)
    is_plus = (out - plus).flatten(1).abs().amax(1) < 1e-10
    is_minus = (out - minus).flatten(1).abs().amax(1) < 1e-10
    assert bool((is_plus | is_minus).all()) and is_plus.any() and is_minus.any()
