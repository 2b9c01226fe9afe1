"""ResidualBlock, ReZeroBlock and deep_mlp."""

import pytest
import torch
from torch import nn

from dlcore import networks as N


@pytest.mark.parametrize("activation", ["relu", "tanh", "sigmoid", "gelu"])
def test_rezero_is_identity_at_init(activation):
    torch.manual_seed(0)
    block = N.ReZeroBlock(6, activation=activation)
    x = torch.randn(5, 6)
    assert float(block.alpha.detach()) == 0.0 and block.alpha.shape == ()
    assert torch.equal(block(x), x)
    model = N.deep_mlp(6, 6, 5, 6, kind="rezero")
    hidden = model[2:-1]
    h = torch.randn(3, 6)
    assert torch.equal(hidden(h), h)


def test_rezero_trains_and_alpha_moves():
    torch.manual_seed(1)
    model = N.deep_mlp(4, 16, 3, 1, kind="rezero", activation="tanh")
    X = torch.randn(64, 4)
    y = X[:, :1] * X[:, 1:2]
    opt = torch.optim.SGD(model.parameters(), lr=0.05)
    loss0 = nn.functional.mse_loss(model(X), y).item()
    for _ in range(200):
        opt.zero_grad()
        loss = nn.functional.mse_loss(model(X), y)
        loss.backward()
        opt.step()
    alphas = [float(b.alpha.detach()) for b in model[2:-1]]
    assert all(abs(a) > 1e-3 for a in alphas)
    assert loss.item() < 0.8 * loss0


def test_rezero_alpha_gradient_at_init():
    torch.manual_seed(2)
    block = N.ReZeroBlock(3)
    x = torch.randn(4, 3)
    block(x).sum().backward()
    want = torch.relu(block.linear(x)).sum()
    torch.testing.assert_close(block.alpha.grad, want.detach())
    assert torch.count_nonzero(block.linear.weight.grad) == 0  # W waits for alpha


def test_residual_block_formula():
    torch.manual_seed(3)
    block = N.ResidualBlock(4, activation="tanh")
    x = torch.randn(2, 4)
    torch.testing.assert_close(block(x), x + torch.tanh(block.linear(x)))


@pytest.mark.parametrize("kind,block", [("plain", nn.Sequential), ("residual", N.ResidualBlock),
                                        ("rezero", N.ReZeroBlock)])
@pytest.mark.parametrize("depth", [0, 1, 4])
def test_deep_mlp_layout(kind, block, depth):
    model = N.deep_mlp(7, 12, depth, 3, kind=kind, activation="tanh")
    assert isinstance(model, nn.Sequential) and len(model) == depth + 3
    assert isinstance(model[0], nn.Linear) and model[0].in_features == 7
    assert isinstance(model[1], nn.Tanh)
    assert isinstance(model[-1], nn.Linear) and model[-1].out_features == 3
    for b in model[2:-1]:
        assert isinstance(b, block)
    assert model(torch.zeros(5, 7)).shape == (5, 3)
    n_linear = sum(isinstance(m, nn.Linear) for m in model.modules())
    assert n_linear == depth + 2


def test_deep_mlp_plain_formula():
    torch.manual_seed(4)
    model = N.deep_mlp(3, 5, 2, 2, kind="plain", activation="sigmoid")
    x = torch.randn(4, 3)
    h = torch.sigmoid(model[0](x))
    for b in model[2:-1]:
        h = torch.sigmoid(b[0](h))
    torch.testing.assert_close(model(x), model[-1](h))


def test_bad_input():
    with pytest.raises(ValueError, match="`width` must be >= 1"):
        N.ReZeroBlock(0)
    with pytest.raises(TypeError, match="`width` must be an int"):
        N.ResidualBlock(2.5)
    with pytest.raises(ValueError, match="`activation` must be one of"):
        N.ReZeroBlock(3, activation="swish")
    with pytest.raises(ValueError, match="`kind` must be one of"):
        N.deep_mlp(2, 3, 1, 1, kind="dense")
    with pytest.raises(ValueError, match="`depth` must be >= 0"):
        N.deep_mlp(2, 3, -1, 1)
    with pytest.raises(ValueError, match="`in_features` must be >= 1"):
        N.deep_mlp(0, 3, 1, 1)
    with pytest.raises(ValueError, match="`out_features` must be >= 1"):
        N.deep_mlp(2, 3, 1, 0)


def test_public_names():
    import dlcore

    assert dlcore.networks is N
    for name in N.__all__:
        assert hasattr(N, name)
    assert N.xavier_uniform_ is N.init.xavier_uniform_
