"""Tests of dlcore.regularization.mixing: defining properties of cutout, random erasing, mixup,
CutMix and RICAP, Beta draws by a KS test, kornia parity for mixup's blend."""

import math

import kornia
import pytest
import scipy.stats
import torch

from dlcore.regularization import mixing as M

F64 = torch.float64


def gen(seed=0):
    return torch.Generator().manual_seed(seed)


def boxes_of(mask):
    """(top, left, h, w) of a 2-D boolean mask that must be one full rectangle."""
    rows, cols = mask.any(1).nonzero().flatten(), mask.any(0).nonzero().flatten()
    top, left = int(rows[0]), int(cols[0])
    h, w = int(rows[-1]) - top + 1, int(cols[-1]) - left + 1
    assert int(mask.sum()) == h * w and bool(mask[top:top + h, left:left + w].all())
    return top, left, h, w


@pytest.mark.parametrize(("a", "b"), [(0.2, 0.2), (1.0, 1.0), (2.0, 5.0)])
def test_beta_sample_ks(a, b):
    lam = M.beta_sample(a, b, (3000,), generator=gen(1))
    assert scipy.stats.kstest(lam.numpy(), scipy.stats.beta(a, b).cdf).pvalue > 0.01
    # a wrong shape is rejected by the same test: it can fail
    assert scipy.stats.kstest(lam.numpy(), scipy.stats.beta(a + 0.5, b).cdf).pvalue < 0.01
    assert torch.equal(lam, M.beta_sample(a, b, (3000,), generator=gen(1)))


def test_beta_sample_tiny_shape_and_bad_input():
    lam = M.beta_sample(0.01, 0.01, 500, generator=gen())
    assert bool(torch.isfinite(lam).all()) and lam.dtype == F64
    assert float(((lam < 0.01) | (lam > 0.99)).double().mean()) > 0.9
    assert M.beta_sample(1.0, 1.0).shape == ()
    with pytest.raises(ValueError, match="`a` must be > 0"):
        M.beta_sample(0.0, 1.0)


def test_cutout_square_clipped_and_centre_uniform():
    x = torch.ones(4000, 1, 6, 6, dtype=F64)
    out = M.cutout(x, 2, value=-1.0, generator=gen())
    sides = []
    for n in range(200):
        _, _, h, w = boxes_of(out[n, 0] == -1)
        sides.append((h, w))
    assert set(sides) <= {(1, 1), (1, 2), (2, 1), (2, 2)} and (1, 2) in sides
    # rows [c - 1, c + 1) with the centre row c uniform over the 6 rows: row 5 is covered
    # only when c = 5 (the square hangs over the edge), every other row for 2 of the 6
    hit = (out[:, 0] == -1).any(2).double().mean(0)
    assert abs(hit[5] - 1 / 6) < 0.03 and (abs(hit[:5] - 2 / 6) < 0.03).all()
    assert bool((M.cutout(x[0], 13, generator=gen()) == 0).all())   # covers any centre
    with pytest.raises(ValueError, match="`size` must be >= 1"):
        M.cutout(x, 0)


@pytest.mark.parametrize(("scale", "ratio"), [((0.02, 0.33), (0.3, 3.3)),
                                                ((0.1, 0.4), (1 / 3, 3.0))])
def test_random_erasing_area_ratio_and_untouched_pixels(scale, ratio):
    H = W = 20
    x = torch.rand(400, 2, H, W, generator=gen(2), dtype=F64) + 1
    out = M.random_erasing(x, p=1.0, scale=scale, ratio=ratio, generator=gen(3))
    erased = 0
    for n in range(400):
        mask = out[n, 0] == 0
        assert torch.equal(mask, out[n, 1] == 0)          # same box in every channel
        assert torch.equal(out[n][:, ~mask], x[n][:, ~mask])   # outside: untouched
        if not mask.any():
            continue
        erased += 1
        _, _, h, w = boxes_of(mask)
        # h = round(sqrt(s A r)), w = round(sqrt(s A / r)) for some s, r in range
        assert (h + 0.5) * (w + 0.5) >= scale[0] * H * W
        assert (h - 0.5) * (w - 0.5) <= scale[1] * H * W
        assert (h + 0.5) / (w - 0.5) >= ratio[0] and (h - 0.5) / (w + 0.5) <= ratio[1]
    assert erased >= 390


def test_random_erasing_probability_random_value_and_bad_input():
    x = torch.ones(2000, 1, 8, 8)
    out = M.random_erasing(x, generator=gen())
    frac = float((out == 0).flatten(1).any(1).double().mean())
    assert abs(frac - 0.5) < 0.05
    assert torch.equal(M.random_erasing(x, p=0.0), x)
    noisy = M.random_erasing(x[:50], p=1.0, value="random", generator=gen(1))
    changed = noisy != 1
    assert 0.02 < float(changed.double().mean()) < 0.4 and noisy[changed].std() > 0.5
    assert M.random_erasing(x[0], p=1.0, generator=gen()).shape == x[0].shape
    # a scale the image cannot hold leaves it alone (every attempt fails)
    assert torch.equal(M.random_erasing(x[:5], p=1.0, scale=(0.99, 1.0), ratio=(3, 3)), x[:5])
    with pytest.raises(ValueError, match="`p` must be <= 1"):
        M.random_erasing(x, p=1.5)
    with pytest.raises(ValueError, match="low <= high"):
        M.random_erasing(x, scale=(0.3, 0.1))
    with pytest.raises(ValueError, match="`value` must be one of"):
        M.random_erasing(x, value="mean")


@pytest.mark.parametrize("shape", [(6, 40), (5, 3, 4, 4)])
def test_mixup_definition(shape):
    x = torch.rand(shape, generator=gen(), dtype=F64)
    y = torch.tensor([0, 1, 2, 3, 4, 0][:shape[0]])
    xm, ym = M.mixup(x, y, alpha=0.4, num_classes=5, generator=gen(7))
    lam = float(M.beta_sample(0.4, 0.4, generator=gen(7)))
    assert torch.allclose(xm, lam * x + (1 - lam) * x.roll(1, 0))
    one = torch.nn.functional.one_hot(y, 5).double()
    assert torch.allclose(ym, lam * one + (1 - lam) * one.roll(1, 0))
    assert torch.allclose(ym.sum(1), torch.ones(shape[0], dtype=F64))


def test_mixup_lambda_is_beta_and_equals_kornia_given_lambda():
    x = torch.eye(2, dtype=F64)
    lam = torch.tensor([float(M.mixup(x, torch.tensor([0, 1]), alpha=0.5, num_classes=2,
                                      generator=gen(s))[1][0, 0]) for s in range(600)])
    assert scipy.stats.kstest(lam.numpy(), scipy.stats.beta(0.5, 0.5).cdf).pvalue > 0.01
    # kornia's RandomMixUpV2 with the same pairs and λ mixes the images identically
    imgs = torch.rand(4, 1, 3, 3, dtype=F64)
    xm, _ = M.mixup(imgs, torch.arange(4), num_classes=4, generator=gen(3))
    lam3 = float(M.beta_sample(1.0, 1.0, generator=gen(3)))
    aug = kornia.augmentation.RandomMixUpV2(p=1.0, data_keys=["input", "class"])
    params = {"mixup_pairs": torch.tensor([3, 0, 1, 2]),
              "mixup_lambdas": torch.full((4,), 1 - lam3, dtype=F64),
              "batch_prob": torch.ones(4, dtype=torch.bool)}
    ref, _ = aug(imgs, torch.arange(4), params=params)
    assert torch.allclose(xm, ref, atol=1e-12)


def test_mixup_soft_targets_and_bad_input():
    x = torch.rand(4, 3)
    soft = torch.full((4, 3), 1 / 3)
    _, ym = M.mixup(x, soft, num_classes=3, generator=gen())
    assert torch.allclose(ym, soft)
    with pytest.raises(ValueError, match=r"`y` must hold labels in \[0, 3\)"):
        M.mixup(x, torch.tensor([0, 1, 2, 3]), num_classes=3)
    with pytest.raises(ValueError, match="must hold 4 labels"):
        M.mixup(x, torch.tensor([0, 1]), num_classes=3)
    with pytest.raises(ValueError, match=r"probabilities must have shape \(4, 3\)"):
        M.mixup(x, torch.rand(4, 2), num_classes=3)
    with pytest.raises(ValueError, match="`alpha` must be > 0"):
        M.mixup(x, torch.tensor([0, 1, 2, 0]), alpha=0.0, num_classes=3)
    with pytest.raises(TypeError, match="`num_classes` must be an int"):
        M.mixup(x, torch.tensor([0, 1, 2, 0]), num_classes=None)
    with pytest.raises(ValueError, match="`x` must be 4-dimensional"):
        M.cutmix(x, torch.tensor([0, 1, 2, 0]), num_classes=3)


@pytest.mark.parametrize("alpha", [0.3, 1.0])
def test_cutmix_weights_are_pasted_areas(alpha):
    N, H, W = 5, 9, 12
    x = torch.arange(N, dtype=F64).view(N, 1, 1, 1).expand(N, 2, H, W).contiguous()
    for s in range(60):
        xm, ym = M.cutmix(x, torch.arange(N), alpha=alpha, num_classes=N, generator=gen(s))
        for n in range(N):
            pasted = xm[n, 0] != n
            assert torch.equal(xm[n, 0][pasted], torch.full_like(xm[n, 0][pasted], (n - 1) % N))
            if pasted.any():
                boxes_of(pasted)                               # one rectangle
            share = float(pasted.double().mean())
            assert ym[n, (n - 1) % N] == pytest.approx(share, abs=1e-12)
            assert ym[n].sum() == pytest.approx(1.0)


def test_cutmix_box_follows_the_sampled_lambda():
    """Before clipping the box side is about sqrt(1 - λ) of the image's."""
    x = torch.zeros(2, 1, 40, 40, dtype=F64)
    x[1] = 1
    for s in range(20):
        lam = float(M.beta_sample(1.0, 1.0, generator=gen(s)))
        xm, ym = M.cutmix(x, torch.tensor([0, 1]), num_classes=2, generator=gen(s))
        half = int(0.5 * math.sqrt(1 - lam) * 40)
        _, _, h, w = boxes_of(xm[0, 0] == 1) if (xm[0, 0] == 1).any() else (0, 0, 0, 0)
        assert h <= 2 * half and w <= 2 * half
        assert ym[0, 1] == pytest.approx(h * w / 1600)


@pytest.mark.parametrize("beta", [0.3, 1.0])
def test_ricap_weights_are_crop_areas(beta):
    N, H, W = 6, 8, 10
    x = torch.arange(N, dtype=F64).view(N, 1, 1, 1).expand(N, 1, H, W).contiguous()
    for s in range(40):
        xm, ym = M.ricap(x, torch.arange(N), beta=beta, num_classes=N, generator=gen(s))
        assert xm.shape == x.shape
        for n in range(N):
            share = torch.bincount(xm[n].flatten().long(), minlength=N).double() / (H * W)
            assert torch.allclose(ym[n], share, atol=1e-12)
            assert ym[n].sum() == pytest.approx(1.0)


def test_ricap_crops_come_from_the_images():
    x = torch.rand(3, 2, 6, 6, generator=gen(), dtype=F64)
    xm, _ = M.ricap(x, torch.tensor([0, 1, 2]), num_classes=3, generator=gen(4))
    # each output pixel equals some image's pixel somewhere in that channel
    for n in range(3):
        for c in range(2):
            vals = set(x[:, c].flatten().tolist())
            assert set(xm[n, c].flatten().tolist()) <= vals
    with pytest.raises(ValueError, match="`beta` must be > 0"):
        M.ricap(x, torch.tensor([0, 1, 2]), beta=-1.0, num_classes=3)


def test_cutmix_unclipped_box_has_the_drawn_size():
    """A box away from the border is exactly 2·floor(½·sqrt(1 − λ)·side) on each side."""
    x = torch.zeros(2, 1, 40, 40, dtype=F64)
    x[1] = 1
    unclipped = 0
    for s in range(60):
        lam = float(M.beta_sample(1.0, 1.0, generator=gen(s)))
        xm, _ = M.cutmix(x, torch.tensor([0, 1]), num_classes=2, generator=gen(s))
        half = int(0.5 * math.sqrt(1 - lam) * 40)
        pasted = xm[0, 0] == 1
        if not pasted.any():
            assert half == 0
            continue
        top, left, h, w = boxes_of(pasted)
        if top > 0 and left > 0 and top + h < 40 and left + w < 40:
            unclipped += 1
            assert h == w == 2 * half
    assert unclipped >= 10


@pytest.mark.parametrize("beta", [1.0, 3.0])
def test_ricap_boundary_is_beta_distributed(beta):
    """The boundary row h/H, read off the output, follows Beta(β, β) (KS)."""
    N, H = 16, 100
    x = torch.arange(N, dtype=torch.float32).view(N, 1, 1, 1).expand(N, 1, H, H)
    hs = []
    for s in range(200):
        xm, _ = M.ricap(x, torch.arange(N), beta=beta, num_classes=N, generator=gen(s))
        col = xm[:, 0, :, 0]                                   # column 0 of every output
        change = (col[:, 1:] != col[:, :1]).double()
        first = [int(c.argmax()) + 1 for c in change if c.any()]
        assert len(set(first)) <= 1                            # one boundary per batch
        hs.append(first[0] / H if first else 0.0)
    d = scipy.stats.kstest(hs, scipy.stats.beta(beta, beta).cdf).statistic
    assert d < 0.1, d


def test_ricap_mixes_other_images():
    """Most outputs carry more than one label: the crops come from permuted images."""
    N = 8
    x = torch.arange(N, dtype=F64).view(N, 1, 1, 1).expand(N, 1, 8, 8)
    several = own = 0
    for s in range(30):
        _, ym = M.ricap(x, torch.arange(N), beta=1.0, num_classes=N, generator=gen(s))
        several += int(((ym > 0).sum(1) >= 2).sum())
        own += int((ym.diagonal() == 1).sum())
    assert several > 0.6 * 30 * N and own < 0.1 * 30 * N


def test_random_erasing_aspect_log_uniform_and_position_uniform():
    """log(h/w) ~ U[log r1, log r2] and the top-left corner is uniform over its range (KS)."""
    H = W = 80
    out = M.random_erasing(torch.ones(1500, 1, H, W), p=1.0, scale=(0.1, 0.25),
                           generator=gen(3))
    mask = out[:, 0] == 0
    rows, cols = mask.any(2), mask.any(1)
    h, w = rows.sum(1).double(), cols.sum(1).double()
    top, left = rows.double().argmax(1), cols.double().argmax(1)
    lo, hi = math.log(0.3), math.log(3.3)
    d = scipy.stats.kstest(torch.log(h / w).numpy(), scipy.stats.uniform(lo, hi - lo).cdf)
    assert d.statistic < 0.05, d
    for pos, size, side in ((top, h, H), (left, w, W)):
        u = ((pos + torch.rand(len(pos), generator=gen(4), dtype=F64)) / (side - size + 1))
        d = scipy.stats.kstest(u.numpy(), "uniform")
        assert d.statistic < 0.05, d
