"""Tests of dlcore.regularization.adversarial: FGSM, FGM and PGD."""

import pytest
import torch
from torch import nn
from torch.nn import functional as F

from dlcore.regularization import adversarial as A
from dlcore.regularization import fgm, fgsm, pgd


def _net(dtype=torch.float64, seed=0):
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(6, 16), nn.BatchNorm1d(16), nn.ReLU(), nn.Dropout(0.5),
                         nn.Linear(16, 3)).to(dtype)


def _batch(n=10, dtype=torch.float64, seed=1):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, 6, generator=g, dtype=dtype), torch.randint(0, 3, (n,), generator=g)


def _prepared_net():
    """A net in training mode with .grad set on every parameter and a BN in eval mode."""
    net = _net()
    x, y = _batch()
    F.cross_entropy(net(x), y).backward()   # every parameter now has a .grad
    net[1].eval()                          # mixed modes must come back mixed
    return net


def _reference_grad(net, x, y):
    """∇_x of the summed cross-entropy in eval mode, computed independently."""
    clone = _net()
    clone.load_state_dict(net.state_dict())
    clone.eval()
    xr = x.clone().requires_grad_(True)
    F.cross_entropy(clone(xr), y, reduction="sum").backward()
    return xr.grad


ATTACKS = {
    "fgsm": lambda net, x, y: fgsm(net, x, y, eps=0.3),
    "fgm": lambda net, x, y: fgm(net, x, y, eps=0.3),
    "pgd": lambda net, x, y: pgd(net, x, y, eps=0.3, alpha=0.1, steps=4,
                                 generator=torch.Generator().manual_seed(0)),
}


@pytest.mark.parametrize("name", ATTACKS)
def test_model_left_as_it_was(name):
    net = _prepared_net()
    x, y = _batch(seed=2)
    state = {k: v.clone() for k, v in net.state_dict().items()}   # params and BN buffers
    grads = [p.grad.clone() for p in net.parameters()]
    modes = [m.training for m in net.modules()]
    x_copy = x.clone()
    ATTACKS[name](net, x, y)
    for k, v in net.state_dict().items():
        assert torch.equal(v, state[k]), k
    for p, g in zip(net.parameters(), grads, strict=True):
        assert torch.equal(p.grad, g)
    assert [m.training for m in net.modules()] == modes
    assert modes[0] and not net[1].training      # the mixed modes really were mixed
    assert torch.equal(x, x_copy)                # the input is not modified in place


@pytest.mark.parametrize("name", ATTACKS)
def test_model_without_grad_and_under_no_grad(name):
    net = _net()
    x, y = _batch()
    with torch.no_grad():
        x_adv = ATTACKS[name](net, x, y)
    assert all(p.grad is None for p in net.parameters())
    assert not x_adv.requires_grad and x_adv.shape == x.shape
    assert not torch.equal(x_adv, x)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("n", [1, 7])
def test_fgsm_equals_independent_formula(dtype, n):
    net = _prepared_net().to(dtype)
    x, y = _batch(n, dtype)
    grad = _reference_grad(net.double(), x.double(), y)
    net = net.to(dtype)
    expected = x + 0.25 * grad.sign().to(dtype)
    torch.testing.assert_close(fgsm(net, x, y, eps=0.25), expected)


def test_fgsm_on_a_linear_score_moves_it_by_eps_l1():
    # the linear view: δ = ε sign(w) changes w·x by ε‖w‖₁
    torch.manual_seed(0)
    lin = nn.Linear(50, 1, dtype=torch.float64)
    x = torch.randn(4, 50, dtype=torch.float64)

    def loss_fn(out, y):
        return out.sum()

    x_adv = fgsm(lin, x, torch.zeros(4), eps=0.01, loss_fn=loss_fn)
    change = (lin(x_adv) - lin(x)).squeeze(1).detach()
    torch.testing.assert_close(change, torch.full((4,), 0.01).double()
                               * lin.weight.abs().sum().detach())


@pytest.mark.parametrize("shape", [(5, 6), (3, 2, 3)])
def test_fgm_has_l2_norm_eps_per_example(shape):
    torch.manual_seed(0)
    net = nn.Sequential(nn.Flatten(), nn.Linear(6, 3)).double()
    x = torch.randn(*shape, dtype=torch.float64)
    y = torch.randint(0, 3, (shape[0],))
    delta = fgm(net, x, y, eps=0.7) - x
    torch.testing.assert_close(delta.flatten(1).norm(dim=1),
                               torch.full((shape[0],), 0.7, dtype=torch.float64))
    # the direction is the gradient's
    xr = x.clone().requires_grad_(True)
    F.cross_entropy(net(xr), y, reduction="sum").backward()
    cos = F.cosine_similarity(delta.flatten(1), xr.grad.flatten(1), dim=1)
    torch.testing.assert_close(cos, torch.ones(shape[0], dtype=torch.float64))


def test_fgm_zero_gradient_gives_no_step_and_no_nan():
    net = nn.Linear(3, 2)
    with torch.no_grad():
        net.weight.zero_()
    x = torch.randn(4, 3)
    out = fgm(net, x, torch.zeros(4, dtype=torch.long), eps=1.0)
    assert torch.equal(out, x)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_pgd_stays_in_ball_and_range(dtype):
    net = _net(dtype)
    x, y = _batch(20, dtype)
    x = x.clamp(-1, 1)
    x_adv = pgd(net, x, y, eps=0.2, alpha=0.15, steps=6, clamp=(-1.0, 1.0),
                generator=torch.Generator().manual_seed(3))
    assert (x_adv - x).abs().max() <= 0.2 + 1e-6
    assert x_adv.min() >= -1 and x_adv.max() <= 1


def test_pgd_random_start_is_uniform_on_the_ball():
    # zero weights: ∇ₓL = 0, sign 0, so PGD returns its random start x + u unchanged
    net = nn.Linear(6, 3).double()
    with torch.no_grad():
        net.weight.zero_()
    x = torch.randn(4000, 6, dtype=torch.float64, generator=torch.Generator().manual_seed(2))
    y = torch.randint(0, 3, (4000,), generator=torch.Generator().manual_seed(3))
    u = pgd(net, x, y, eps=0.25, alpha=0.1, steps=2,
            generator=torch.Generator().manual_seed(0)) - x
    # U[-ε, ε]: min ≈ -ε, max ≈ ε, mean 0 (sd of the mean ε/√(3·24000) ≈ 0.001),
    # variance ε²/3, and a fourth of the draws in each quarter of [-ε, ε]
    assert u.min() == pytest.approx(-0.25, abs=1e-3)
    assert u.max() == pytest.approx(0.25, abs=1e-3)
    assert abs(float(u.mean())) < 0.005
    assert float(u.var()) == pytest.approx(0.25 ** 2 / 3, rel=0.03)
    quarters = torch.histc(u, bins=4, min=-0.25, max=0.25) / u.numel()
    torch.testing.assert_close(quarters, torch.full((4,), 0.25, dtype=torch.float64),
                               rtol=0, atol=0.01)


def test_pgd_one_step_without_start_equals_fgsm():
    net = _prepared_net()
    x, y = _batch()
    torch.testing.assert_close(pgd(net, x, y, eps=0.3, alpha=0.3, steps=1,
                                   random_start=False),
                               fgsm(net, x, y, eps=0.3), rtol=0, atol=0)


def test_pgd_reproducible_with_generator_and_random_start_differs():
    net = _net()
    x, y = _batch()
    kw = dict(eps=0.3, alpha=0.05, steps=2)
    a = pgd(net, x, y, generator=torch.Generator().manual_seed(5), **kw)
    b = pgd(net, x, y, generator=torch.Generator().manual_seed(5), **kw)
    c = pgd(net, x, y, generator=torch.Generator().manual_seed(6), **kw)
    assert torch.equal(a, b) and not torch.equal(a, c)
    torch.manual_seed(0)
    d = pgd(net, x, y, **kw)        # the global generator
    assert d.shape == x.shape


def _eval_loss(net, x, y):
    net.eval()
    with torch.no_grad():
        return float(F.cross_entropy(net(x), y))


def test_attacks_increase_the_loss_and_pgd_beats_fgsm():
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(6, 32), nn.Tanh(), nn.Linear(32, 3)).double()
    x, y = _batch(200)
    opt = torch.optim.Adam(net.parameters(), lr=0.01)
    for _ in range(60):   # a trained net: the loss is no longer linear in x
        opt.zero_grad()
        F.cross_entropy(net(x), y).backward()
        opt.step()
    clean = _eval_loss(net, x, y)
    l_fgsm = _eval_loss(net, fgsm(net, x, y, eps=0.2), y)
    l_fgm = _eval_loss(net, fgm(net, x, y, eps=0.2 * 6 ** 0.5), y)
    l_pgd = _eval_loss(net, pgd(net, x, y, eps=0.2, alpha=0.05, steps=20,
                                generator=torch.Generator().manual_seed(0)), y)
    assert clean < l_fgsm < l_pgd
    assert clean < l_fgm


def test_embed_text_model():
    torch.manual_seed(0)
    emb = nn.Embedding(20, 4).double()
    head = nn.Sequential(nn.Dropout(0.3), nn.Linear(4, 2)).double()

    def classify(e):
        return head(e.mean(dim=1))

    tokens = torch.randint(0, 20, (5, 7))
    y = torch.randint(0, 2, (5,))
    # model as a plain function: its modes cannot be saved, so pass the modules' maps
    e_adv = fgm(head_model := _Pool(head), tokens, y, eps=0.5, embed=emb)
    assert e_adv.shape == (5, 7, 4)
    e = emb(tokens).detach()
    torch.testing.assert_close((e_adv - e).flatten(1).norm(dim=1),
                               torch.full((5,), 0.5, dtype=torch.float64))
    assert head_model.training and emb.training
    assert emb.weight.grad is None
    # a plain function is called as it is (no eval mode): dropout off by hand here
    head.eval()
    e_fgsm = fgsm(classify, tokens, y, eps=0.1, embed=emb)
    e_var = e.clone().requires_grad_(True)
    (g_e,) = torch.autograd.grad(F.cross_entropy(classify(e_var), y, reduction="sum"),
                                 e_var)
    assert (g_e != 0).float().mean() > 0.9          # the sign test below has content
    torch.testing.assert_close(e_fgsm, e + 0.1 * g_e.sign(), rtol=0, atol=1e-12)
    head.train()
    e_pgd = pgd(head_model, tokens, y, eps=0.1, alpha=0.05, steps=3, embed=emb,
                generator=torch.Generator().manual_seed(0))
    assert (e_pgd - e).abs().max() <= 0.1 + 1e-12


class _Pool(nn.Module):
    def __init__(self, head):
        super().__init__()
        self.head = head

    def forward(self, e):
        return self.head(e.mean(dim=1))


def test_eps_zero_is_identity_and_extreme_inputs_finite():
    net = _net()
    x, y = _batch()
    assert torch.equal(fgsm(net, x, y, eps=0.0), x)
    assert torch.equal(fgm(net, x, y, eps=0.0), x)
    big = 1e4 * x
    for out in (fgsm(net, big, y, eps=1.0), fgm(net, big, y, eps=1.0),
                pgd(net, big, y, eps=1.0, alpha=0.5, steps=2,
                    generator=torch.Generator().manual_seed(0))):
        assert torch.isfinite(out).all()


def test_custom_loss_fn_is_used():
    net = nn.Linear(3, 2).double()
    x = torch.randn(4, 3, dtype=torch.float64)

    def loss_fn(out, y):          # raise the score of class 1: δ = ε sign(w_1)
        return out[:, 1].sum()

    out = fgsm(net, x, torch.zeros(4), eps=0.1, loss_fn=loss_fn)
    torch.testing.assert_close(out - x, 0.1 * net.weight[1].detach().sign().expand(4, 3))


@pytest.mark.parametrize("kwargs, match", [
    (dict(eps=-0.1), "`eps` must be >= 0"),
    (dict(eps=float("nan")), "`eps` must be finite"),
    (dict(eps=0.1, clamp=(1.0, 0.0)), "low <= high"),
    (dict(eps=0.1, clamp=[0.0, 1.0]), "`clamp` must be a"),
    (dict(eps=0.1, clamp=(0.0,)), "`clamp` must be a"),
])
@pytest.mark.parametrize("attack", [fgsm, fgm])
def test_bad_input_one_step(attack, kwargs, match):
    net = _net()
    x, y = _batch()
    with pytest.raises(ValueError, match=match):
        attack(net, x, y, **kwargs)


@pytest.mark.parametrize("kwargs, match", [
    (dict(eps=0.1, alpha=0.0, steps=1), "`alpha` must be > 0"),
    (dict(eps=0.1, alpha=0.1, steps=0), "`steps` must be >= 1"),
    (dict(eps=-1.0, alpha=0.1, steps=1), "`eps` must be >= 0"),
])
def test_bad_input_pgd(kwargs, match):
    net = _net()
    x, y = _batch()
    with pytest.raises(ValueError, match=match):
        pgd(net, x, y, **kwargs)


def test_bad_input_types_and_shapes():
    net = _net()
    x, y = _batch()
    with pytest.raises(TypeError, match="`model` must be callable"):
        fgsm(None, x, y, eps=0.1)
    with pytest.raises(TypeError, match="`embed` must be callable"):
        fgsm(net, x, y, eps=0.1, embed=3)
    with pytest.raises(TypeError, match="`loss_fn` must be callable"):
        fgsm(net, x, y, eps=0.1, loss_fn="ce")
    with pytest.raises(TypeError, match="`x` must be a torch.Tensor"):
        fgsm(net, x.tolist(), y, eps=0.1)
    with pytest.raises(ValueError, match="`x` must have a floating-point dtype"):
        fgsm(net, x.long(), y, eps=0.1)
    with pytest.raises(ValueError, match="`x` must not contain NaN"):
        fgsm(net, torch.full_like(x, float("nan")), y, eps=0.1)
    with pytest.raises(ValueError, match="same length"):
        fgm(net, x, y[:-1], eps=0.1)
    with pytest.raises(TypeError, match="`steps` must be an int"):
        pgd(net, x, y, eps=0.1, alpha=0.1, steps=2.0)
    with pytest.raises(TypeError, match="`random_start` must be a bool"):
        pgd(net, x, y, eps=0.1, alpha=0.1, steps=2, random_start=1)
    with pytest.raises(TypeError, match="`generator` must be a torch.Generator"):
        pgd(net, x, y, eps=0.1, alpha=0.1, steps=2, generator=0)
    emb = nn.Embedding(5, 6)
    tokens = torch.zeros(10, 2, dtype=torch.long)
    with pytest.raises(ValueError, match="cannot be used with `embed`"):
        fgsm(_Pool(net), tokens, y, eps=0.1, clamp=(0.0, 1.0), embed=emb)
    with pytest.raises(ValueError, match="`embed\\(x\\)` must have a floating"):
        fgsm(net, tokens, y, eps=0.1, embed=lambda t: t)


def test_all_names_exported():
    assert set(A.__all__) == {"fgsm", "fgm", "pgd"}
