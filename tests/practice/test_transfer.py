"""Tests of dlcore.practice.transfer: freezing, parameter groups, re-initialisation,
class-balanced re-sampling and τ-normalization."""

import pytest
import torch
from scipy import stats as sps
from torch import nn

from dlcore.losses import resampling_probabilities
from dlcore.practice import balanced_indices, freeze, param_groups, reset, tau_normalize


def _net(seed=0):
    torch.manual_seed(seed)
    return nn.Sequential(nn.Conv1d(1, 4, 3), nn.BatchNorm1d(4), nn.ReLU(), nn.Flatten(),
                         nn.Linear(4 * 6, 8), nn.ReLU(), nn.Linear(8, 3))


# ---------------------------------------------------------------- freeze


def test_freeze_stops_gradients_and_updates():
    net = _net()
    assert freeze(net[:5]) is not None
    before = [p.detach().clone() for p in net.parameters()]
    opt = torch.optim.SGD(net.parameters(), lr=0.1)
    net(torch.randn(5, 1, 8)).square().mean().backward()
    opt.step()
    params = list(net.parameters())
    frozen = {id(p) for p in net[:5].parameters()}
    for p, b in zip(params, before, strict=True):
        if id(p) in frozen:
            assert p.grad is None and torch.equal(p, b)
        else:
            assert p.grad is not None and not torch.equal(p, b)
    assert freeze(net, trainable=True) is net
    assert all(p.requires_grad for p in net.parameters())
    assert net.training  # mode untouched


def test_freeze_bad_input():
    with pytest.raises(TypeError, match="module"):
        freeze(torch.zeros(2))
    with pytest.raises(TypeError, match="trainable"):
        freeze(nn.Linear(2, 2), trainable=1)


# ---------------------------------------------------------------- param_groups


@pytest.mark.parametrize("new", ["head", "list", "params"])
def test_param_groups_cover_every_parameter_once(new):
    net = _net()
    head = {"head": net[6], "list": [net[4], net[6]],
            "params": [net[6].weight, net[6].bias, net[6].weight]}[new]
    groups = param_groups(net, new=head, lr=1e-3, new_lr=1e-2)
    ids = [id(p) for g in groups for p in g["params"]]
    assert sorted(ids) == sorted(id(p) for p in net.parameters())
    assert len(ids) == len(set(ids))
    assert [g["lr"] for g in groups] == [1e-3, 1e-2]
    opt = torch.optim.SGD(groups, lr=0.5)  # the groups' rates win over the default
    assert [g["lr"] for g in opt.param_groups] == [1e-3, 1e-2]


def test_param_groups_steps_match_hand_sgd():
    net = _net()
    groups = param_groups(net, new=net[6], lr=0.01, new_lr=0.1)
    opt = torch.optim.SGD(groups)
    before = [p.detach().clone() for p in net.parameters()]
    net(torch.randn(6, 1, 8)).sum().backward()
    opt.step()
    head = {id(p) for p in net[6].parameters()}
    for p, b in zip(net.parameters(), before, strict=True):
        rate = 0.1 if id(p) in head else 0.01
        torch.testing.assert_close(p.detach(), b - rate * p.grad)


def test_param_groups_shared_parameter_once():
    a = nn.Linear(3, 3)
    net = nn.Sequential(a, nn.ReLU(), a, nn.Linear(3, 2))
    groups = param_groups(net, new=net[3], lr=0.0, new_lr=1.0)
    assert len(groups[0]["params"]) == 2 and groups[0]["lr"] == 0.0


def test_param_groups_bad_input():
    net = _net()
    with pytest.raises(ValueError, match="`new` must hold parameters of `model`"):
        param_groups(net, new=nn.Linear(2, 2), lr=1e-3, new_lr=1e-2)
    with pytest.raises(ValueError, match="at least one parameter"):
        param_groups(net, new=net[2], lr=1e-3, new_lr=1e-2)
    with pytest.raises(ValueError, match="leave some pretrained"):
        param_groups(net, new=net, lr=1e-3, new_lr=1e-2)
    with pytest.raises(TypeError, match="`new` must hold modules or parameters"):
        param_groups(net, new=[3], lr=1e-3, new_lr=1e-2)
    with pytest.raises(TypeError, match="`new` must be a module"):
        param_groups(net, new=net[6].weight, lr=1e-3, new_lr=1e-2)
    with pytest.raises(TypeError, match="`new` must be a module"):
        param_groups(net, new=5, lr=1e-3, new_lr=1e-2)
    with pytest.raises(ValueError, match="new_lr"):
        param_groups(net, new=net[6], lr=1e-3, new_lr=0.0)
    with pytest.raises(ValueError, match="`lr`"):
        param_groups(net, new=net[6], lr=-1.0, new_lr=1.0)
    with pytest.raises(TypeError, match="model"):
        param_groups("net", new=net[6], lr=1e-3, new_lr=1e-2)


# ---------------------------------------------------------------- reset


def test_reset_changes_weights_reproducibly_and_keeps_global_rng():
    net = _net()
    old = [p.detach().clone() for p in net.parameters()]
    state = torch.get_rng_state()
    a = [p.detach().clone() for p in reset(net, seed=3).parameters()]
    assert torch.equal(torch.get_rng_state(), state)
    b = [p.detach().clone() for p in reset(net, seed=3).parameters()]
    c = [p.detach().clone() for p in reset(net, seed=4).parameters()]
    assert all(torch.equal(x, y) for x, y in zip(a, b, strict=True))
    assert not torch.equal(a[0], c[0]) and not torch.equal(a[0], old[0])
    # a fresh layer of the same shapes under the same seed: PyTorch's default init
    torch.manual_seed(3)
    fresh = nn.Conv1d(1, 4, 3)
    torch.testing.assert_close(a[0], fresh.weight.detach())


def test_reset_with_generator_and_global():
    head = nn.Linear(5, 2)
    x = reset(head, generator=torch.Generator().manual_seed(1)).weight.detach().clone()
    y = reset(head, generator=torch.Generator().manual_seed(1)).weight.detach().clone()
    assert torch.equal(x, y)
    torch.manual_seed(7)
    reset(head)
    g = head.weight.detach().clone()
    torch.manual_seed(7)
    torch.testing.assert_close(g, nn.Linear(5, 2).weight.detach())
    assert reset(nn.ReLU(), seed=0) is not None  # nothing to reset is fine


def test_reset_bad_input():
    with pytest.raises(ValueError, match="not both"):
        reset(nn.Linear(2, 2), seed=0, generator=torch.Generator())
    with pytest.raises(TypeError, match="generator"):
        reset(nn.Linear(2, 2), generator=0)
    with pytest.raises(ValueError, match="seed"):
        reset(nn.Linear(2, 2), seed=-1)
    with pytest.raises(TypeError, match="module"):
        reset([nn.Linear(2, 2)])


# ---------------------------------------------------------------- balanced_indices


def test_balanced_indices_frequencies_chi_square():
    y = torch.tensor([0] * 200 + [1] * 40 + [3] * 8)  # class 2 absent
    idx = balanced_indices(y, num_samples=30_000, generator=torch.Generator().manual_seed(0))
    assert idx.dtype == torch.int64 and idx.shape == (30_000,)
    counts = torch.bincount(y[idx], minlength=4)
    assert counts[2] == 0
    observed = counts[[0, 1, 3]].numpy()
    assert sps.chisquare(observed).pvalue > 1e-3  # uniform over the present classes
    # within a class, uniform over its samples
    rare = torch.bincount(idx[y[idx] == 3] - 240, minlength=8).numpy()
    assert sps.chisquare(rare).pvalue > 1e-3


def test_balanced_indices_matches_resampling_probabilities():
    y = torch.tensor([0] * 9 + [1] * 3 + [2])
    p = resampling_probabilities(torch.bincount(y), q=0.0).double()[y]
    counts = torch.bincount(balanced_indices(y, num_samples=200_000,
                                             generator=torch.Generator().manual_seed(1)),
                            minlength=len(y))
    torch.testing.assert_close(counts.double() / 200_000, p, atol=4e-3, rtol=0)


def test_balanced_indices_reproducible():
    y = torch.randint(0, 5, (50,), generator=torch.Generator().manual_seed(0))
    a = balanced_indices(y, num_samples=20, generator=torch.Generator().manual_seed(2))
    b = balanced_indices(y, num_samples=20, generator=torch.Generator().manual_seed(2))
    assert torch.equal(a, b)


def test_balanced_indices_bad_input():
    with pytest.raises(ValueError, match="labels"):
        balanced_indices(torch.tensor([0.0, 1.0]), num_samples=2)
    with pytest.raises(ValueError, match="labels"):
        balanced_indices(torch.tensor([0, -1]), num_samples=2)
    with pytest.raises(ValueError, match="1-dimensional"):
        balanced_indices(torch.zeros(2, 2, dtype=torch.long), num_samples=2)
    with pytest.raises(ValueError, match="num_samples"):
        balanced_indices(torch.tensor([0, 1]), num_samples=0)
    with pytest.raises(ValueError, match="empty"):
        balanced_indices(torch.tensor([], dtype=torch.long), num_samples=1)


# ---------------------------------------------------------------- tau_normalize


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_tau_normalize_properties(dtype):
    w = torch.randn(6, 5, dtype=dtype, generator=torch.Generator().manual_seed(0))
    assert torch.equal(tau_normalize(w, 0.0), w)  # τ = 0: identity
    unit = tau_normalize(w, 1.0)
    torch.testing.assert_close(unit.norm(dim=1), torch.ones(6, dtype=dtype))
    half = tau_normalize(w, 0.5)
    torch.testing.assert_close(half.norm(dim=1), w.norm(dim=1).sqrt())  # ‖w‖^(1-τ)
    torch.testing.assert_close(half, w / w.norm(dim=1, keepdim=True) ** 0.5)
    assert half.dtype == dtype
    # directions (hence the argmax of a bias-free classifier's ranking per class) unchanged
    cos = torch.nn.functional.cosine_similarity(half, w, dim=1)
    torch.testing.assert_close(cos, torch.ones(6, dtype=dtype))


def test_tau_normalize_zero_row_and_gradient():
    w = torch.tensor([[0.0, 0.0], [3.0, 4.0]], requires_grad=True)
    out = tau_normalize(w, 1.0)
    assert torch.equal(out[0].detach(), torch.zeros(2))
    out.sum().backward()
    assert torch.isfinite(w.grad).all()


def test_tau_normalize_bad_input():
    with pytest.raises(ValueError, match="2-dimensional"):
        tau_normalize(torch.ones(3), 1.0)
    with pytest.raises(ValueError, match="floating"):
        tau_normalize(torch.ones(2, 2, dtype=torch.long), 1.0)
    with pytest.raises(ValueError, match="NaN"):
        tau_normalize(torch.tensor([[float("nan"), 1.0]]), 1.0)
    with pytest.raises(ValueError, match="finite"):
        tau_normalize(torch.tensor([[float("inf"), 1.0]]), 1.0)
    with pytest.raises(ValueError, match="tau"):
        tau_normalize(torch.ones(2, 2), -0.5)


@pytest.mark.parametrize("scale", [1e-30, 1e-40, 1e30, 1e37])
@pytest.mark.parametrize("tau", [0.5, 1.0, 2.0])
def test_tau_normalize_extreme_rows_float32(scale, tau):
    # the float32 norm of these rows under- or overflows; the result must still be exact
    base = torch.tensor([[1.0, -2.0, 2.0], [3.0, 0.0, 4.0]], dtype=torch.float64)
    w = (base * scale).float()
    exact = (w.double() / w.double().norm(dim=1, keepdim=True) ** tau)
    out = tau_normalize(w, tau)
    assert out.dtype == torch.float32
    if tau == 1.0:
        torch.testing.assert_close(out.norm(dim=1), torch.ones(2))
    representable = exact.abs().max() < torch.finfo(torch.float32).max
    if representable and exact.abs()[exact != 0].min() > torch.finfo(torch.float32).tiny:
        torch.testing.assert_close(out.double(), exact, rtol=1e-5, atol=0)


def test_tau_normalize_gradient_matches_plain_formula():
    w = torch.randn(4, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(3),
                    requires_grad=True)
    v = w.detach().clone().requires_grad_(True)
    tau_normalize(w, 0.7).square().sum().backward()
    (v / v.norm(dim=1, keepdim=True) ** 0.7).square().sum().backward()
    torch.testing.assert_close(w.grad, v.grad)
    assert tau_normalize(w, 0.0) is not w  # a copy, not the tensor itself
