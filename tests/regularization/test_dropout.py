"""dlcore.regularization.dropout: inverted dropout and multi-sample dropout, against
torch.nn.functional.dropout's statistics and exact scaling."""

import math

import pytest
import torch
from torch import nn
from torch.nn import functional as F

from dlcore.regularization import dropout, dropout_mask, multi_sample_dropout, multi_sample_loss
from dlcore.stats import wilson_interval


def gen(seed=0):
    return torch.Generator().manual_seed(seed)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("p", [0.1, 0.5, 0.8])
def test_kept_units_are_exactly_x_over_keep_prob_as_torch(dtype, p):
    x = torch.randn(300, 70, dtype=dtype, generator=gen(1))
    ours = dropout(x, p, training=True, generator=gen(2))
    torch.manual_seed(3)
    ref = F.dropout(x, p, training=True)
    for y in (ours, ref):
        kept = y != 0
        # every element is 0 or exactly x · (1/(1-p)), computed as torch does
        assert torch.equal(y[kept], x[kept] * (1 / (1 - p)))
        assert torch.equal(y[~kept], torch.zeros_like(y[~kept]))


@pytest.mark.parametrize("p", [0.05, 0.3, 0.5, 0.9])
def test_fraction_zeroed_inside_a_binomial_interval_like_torch(p):
    x = torch.randn(400, 250, generator=gen(4)).abs() + 0.1  # no zeros in x
    n = x.numel()
    torch.manual_seed(5)
    for y in (dropout(x, p, training=True, generator=gen(6)), F.dropout(x, p, training=True)):
        k = int((y == 0).sum())
        ci = wilson_interval(k, n, confidence=0.999)
        assert ci.low <= p <= ci.high, (k / n, p)


@pytest.mark.parametrize("p", [0.2, 0.5, 0.75])
def test_mean_preserved_in_expectation(p):
    x = torch.full((200_000,), 3.0, dtype=torch.float64)
    y = dropout(x, p, training=True, generator=gen(7))
    # Var(y_i) = x² p/(1-p); the mean of n draws is within 5 standard errors of x
    se = 3.0 * math.sqrt(p / (1 - p) / x.numel())
    assert abs(float(y.mean()) - 3.0) < 5 * se
    yt = F.dropout(x, p, training=True)
    assert abs(float(yt.mean()) - 3.0) < 5 * se


def test_identity_when_not_training_or_p_zero():
    x = torch.randn(4, 5)
    assert dropout(x, 0.5, training=False) is x
    assert dropout(x, 0.0, training=True) is x
    # torch's own no-op paths: p = 0 in training and any p in evaluation return an equal
    # tensor; dlcore returns the input itself, so compare the values with x
    assert torch.equal(F.dropout(x, 0.0, training=True), dropout(x, 0.0, training=True))
    assert torch.equal(F.dropout(x, 0.5, training=False), x)
    # p = 0 in training must not even touch the generator (torch draws nothing either)
    g = gen(4)
    state = g.get_state()
    dropout(x, 0.0, training=True, generator=g)
    assert torch.equal(g.get_state(), state)


def test_reproducible_with_a_generator_and_different_across_seeds():
    x = torch.randn(50, 40)
    a = dropout(x, 0.5, training=True, generator=gen(11))
    b = dropout(x, 0.5, training=True, generator=gen(11))
    c = dropout(x, 0.5, training=True, generator=gen(12))
    assert torch.equal(a, b)
    assert not torch.equal(a, c)


def test_gradient_is_the_mask():
    x = torch.randn(6, 7, dtype=torch.float64, requires_grad=True)
    y = dropout(x, 0.4, training=True, generator=gen(8))
    y.sum().backward()
    expected = (y != 0).to(x.dtype) * (1 / 0.6)
    assert torch.equal(x.grad, expected)


@pytest.mark.parametrize("shape", [(0,), (), (3,), (2, 3, 4, 5)])
def test_shapes_and_dtype_kept(shape):
    x = torch.randn(shape, dtype=torch.float64)
    y = dropout(x, 0.3, training=True, generator=gen())
    assert y.shape == x.shape and y.dtype == x.dtype


def test_extreme_inputs_stay_finite():
    x = torch.full((100,), 1e4)
    y = dropout(x, 0.5, training=True, generator=gen())
    assert torch.isfinite(y).all()
    assert set(y.tolist()) <= {0.0, 2e4}


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cpu_generator_on_a_cuda_input():  # pragma: no cover - runs on a GPU machine only
    x = torch.randn(10, 10, device="cuda")
    y = dropout(x, 0.5, training=True, generator=gen())
    assert y.device == x.device


def test_dropout_mask_values_and_dtype():
    m = dropout_mask((1000,), 0.25, dtype=torch.float64, generator=gen())
    assert m.dtype == torch.float64
    assert set(m.unique().tolist()) <= {0.0, 1 / 0.75}
    m2 = dropout_mask((3, 2), 0.5)
    assert m2.shape == (3, 2) and m2.dtype == torch.float32
    with pytest.raises(ValueError, match="`dtype` must be a floating"):
        dropout_mask((3,), 0.5, dtype=torch.int64)


@pytest.mark.parametrize("p", [1, 1.0, 1.5, -0.1, float("nan")])
def test_bad_p(p):
    with pytest.raises(ValueError, match="`p` must"):
        dropout(torch.ones(3), p, training=True)


def test_bad_input():
    with pytest.raises(TypeError, match="`p` must be a real number"):
        dropout(torch.ones(3), "0.5", training=True)
    with pytest.raises(TypeError, match="`training` must be a bool"):
        dropout(torch.ones(3), 0.5, training=1)
    with pytest.raises(ValueError, match="`x` must have a floating-point dtype"):
        dropout(torch.ones(3, dtype=torch.int64), 0.5, training=True)
    with pytest.raises(TypeError, match="`x` must be a torch.Tensor"):
        dropout([1.0, 2.0], 0.5, training=True)
    with pytest.raises(TypeError):
        dropout(torch.ones(3), 0.5)  # training has no default


# ----------------------------------------------------------------------- multi-sample


def test_multi_sample_each_sample_is_the_head_on_its_own_mask():
    x = torch.randn(5, 4, dtype=torch.float64, generator=gen(1))
    head = nn.Linear(4, 3).double()
    out = multi_sample_dropout(x, head, 0.5, samples=6, training=True, generator=gen(2))
    masks = dropout_mask((6, 5, 4), 0.5, dtype=torch.float64, generator=gen(2))
    for k in range(6):
        torch.testing.assert_close(out[k], head(x * masks[k]), rtol=0, atol=1e-12)
    # the OUTPUTS differ between samples (independent masks, not one mask repeated)
    assert all(not torch.equal(out[0], out[k]) for k in range(1, 6))


def test_multi_sample_masks_are_independent_bernoulli_per_sample():
    # independent of dlcore's mask code: recover each sample's mask through an identity
    # head and test its zeroed fraction against p with a Wilson interval (99.9 %)
    p, samples = 0.3, 4
    x = torch.ones(5000, 20, dtype=torch.float64)
    out = multi_sample_dropout(x, nn.Identity(), p, samples=samples, training=True,
                               generator=gen(5))
    assert out.shape == (samples, 5000, 20)
    kept = out != 0
    torch.testing.assert_close(out[kept], torch.full_like(out[kept], 1 / (1 - p)),
                               rtol=0, atol=0)
    for k in range(samples):
        ci = wilson_interval(int((~kept[k]).sum()), kept[k].numel(), confidence=0.999)
        assert ci.low <= p <= ci.high
    # two samples' masks agree on a unit with probability p² + (1-p)² = 0.58, not 1
    same = float((kept[0] == kept[1]).double().mean())
    assert abs(same - (p**2 + (1 - p) ** 2)) < 0.01


def test_multi_sample_eval_is_one_plain_pass_and_shapes():
    x = torch.randn(7, 2, 3)
    head = nn.Sequential(nn.Flatten(), nn.Linear(6, 4))
    out = multi_sample_dropout(x, head, 0.3, samples=5, training=False)
    assert out.shape == (1, 7, 4)
    assert torch.equal(out[0], head(x))
    assert multi_sample_dropout(x, head, 0.3, samples=5, training=True).shape == (5, 7, 4)
    one = multi_sample_dropout(x, head, 0.3, samples=1, training=True, generator=gen(3))
    ref = head(dropout(x.unsqueeze(0), 0.3, training=True, generator=gen(3))[0])
    torch.testing.assert_close(one[0], ref)


def test_multi_sample_loss_is_the_mean_of_sample_losses():
    z = torch.randn(4, 6, 5, dtype=torch.float64, generator=gen(4))
    y = torch.tensor([0, 1, 2, 3, 4, 0])
    loss = multi_sample_loss(z, y)
    per = torch.stack([F.cross_entropy(zk, y) for zk in z])
    torch.testing.assert_close(loss, per.mean())
    # the same as one cross-entropy over the m·N rows with labels repeated
    torch.testing.assert_close(loss, F.cross_entropy(z.reshape(-1, 5), y.repeat(4)))
    # Jensen: the loss of the averaged logits is smaller (cross-entropy is convex in them)
    assert float(F.cross_entropy(z.mean(0), y)) < float(loss)
    mse = multi_sample_loss(z, torch.zeros(6, 5, dtype=torch.float64), F.mse_loss)
    torch.testing.assert_close(mse, z.square().mean())


def test_multi_sample_gradients_flow_to_the_head():
    head = nn.Linear(4, 3)
    x = torch.randn(8, 4)
    out = multi_sample_dropout(x, head, 0.5, samples=3, training=True, generator=gen())
    multi_sample_loss(out, torch.zeros(8, dtype=torch.long)).backward()
    assert head.weight.grad is not None and torch.isfinite(head.weight.grad).all()


def test_multi_sample_bad_input():
    head = nn.Linear(4, 3)
    x = torch.randn(2, 4)
    with pytest.raises(ValueError, match="`samples` must be >= 1"):
        multi_sample_dropout(x, head, 0.5, samples=0, training=True)
    with pytest.raises(TypeError, match="`samples` must be an int"):
        multi_sample_dropout(x, head, 0.5, samples=2.0, training=True)
    with pytest.raises(TypeError, match="`head` must be callable"):
        multi_sample_dropout(x, "linear", 0.5, samples=2, training=True)
    with pytest.raises(ValueError, match="batch axis"):
        multi_sample_dropout(torch.tensor(1.0), head, 0.5, samples=2, training=True)
    with pytest.raises(ValueError, match="`p` must be in"):
        multi_sample_dropout(x, head, 1.0, samples=2, training=True)
    with pytest.raises(ValueError, match="leading sample axis"):
        multi_sample_loss(torch.zeros(3), torch.zeros(3))
    with pytest.raises(TypeError, match="`loss_fn` must be callable"):
        multi_sample_loss(torch.zeros(2, 3, 4), torch.zeros(3, dtype=torch.long), loss_fn=1)
