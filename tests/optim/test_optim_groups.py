"""dlcore.optim.groups: param_groups (no decay on biases, normalization weights and 1-d
parameters; tied and frozen weights) driving AdamW like torch, and linear_scaling."""

import copy

import pytest
import torch
from optim_contract import assert_same_params
from torch import nn

from dlcore import optim as O

# --------------------------------------------------------------------------- param_groups


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(4, 8)
        self.bn = nn.BatchNorm1d(8)
        self.ln = nn.LayerNorm([2, 4])  # a 2-D normalization weight: exempt by its layer
        self.emb = nn.Embedding(10, 4)
        self.act = nn.PReLU()
        self.head = nn.Linear(8, 2, bias=False)
        self.tied = nn.Linear(4, 8)
        self.tied.weight = self.fc.weight  # tied weights: listed once, as fc.weight
        self.pos_bias = nn.Parameter(torch.zeros(3, 3))  # 2-D, exempt by its name
        self.frozen = nn.Linear(3, 3)
        self.frozen.requires_grad_(False)
        self.shared = self.head  # the same module twice: its weight is listed once


def names_of(model, params):
    lookup = {id(p): n for n, p in model.named_parameters()}
    return sorted(lookup[id(p)] for p in params)


def test_param_groups_exempt_biases_norms_and_1d():
    net = Net()
    decay, exempt = O.param_groups(net, weight_decay=0.05)
    assert decay["weight_decay"] == 0.05 and exempt["weight_decay"] == 0.0
    assert names_of(net, decay["params"]) == ["emb.weight", "fc.weight", "head.weight"]
    assert names_of(net, exempt["params"]) == [
        "act.weight", "bn.bias", "bn.weight", "fc.bias", "ln.bias", "ln.weight", "pos_bias",
        "tied.bias"]
    trainable = [p for p in net.parameters() if p.requires_grad]
    listed = decay["params"] + exempt["params"]
    assert len(listed) == len(trainable) == len({id(p) for p in listed})
    # extra patterns: also exempt the embedding
    decay2, _ = O.param_groups(net, weight_decay=0.05, no_decay=("bias", "emb"))
    assert "emb.weight" not in names_of(net, decay2["params"])


def test_param_groups_drive_adamw_like_torch():
    net_a = Net().double()
    net_b = copy.deepcopy(net_a)
    opt_a = O.AdamW(O.param_groups(net_a, weight_decay=0.5), lr=0.1)
    opt_b = torch.optim.AdamW(O.param_groups(net_b, weight_decay=0.5), lr=0.1, foreach=False)
    for net in (net_a, net_b):
        for p in net.parameters():
            p.grad = torch.zeros_like(p) if p.requires_grad else None
    before = {n: p.detach().clone() for n, p in net_a.named_parameters()}
    opt_a.step()
    opt_b.step()
    assert_same_params(net_a, net_b, tol=1e-15)
    # zero gradient: decayed weights shrink by 1 - lr·λ = 0.95, exempt ones stay put
    torch.testing.assert_close(net_a.fc.weight, 0.95 * before["fc.weight"])
    assert torch.equal(net_a.ln.weight, before["ln.weight"])
    assert torch.equal(net_a.fc.bias, before["fc.bias"])


def test_param_groups_rejects_bad_input():
    with pytest.raises(TypeError, match="`model` must be a torch.nn.Module"):
        O.param_groups([torch.zeros(2)], weight_decay=0.1)
    with pytest.raises(ValueError, match="`weight_decay` must be >= 0"):
        O.param_groups(nn.Linear(2, 2), weight_decay=-0.1)
    with pytest.raises(TypeError, match="`no_decay` must be an iterable of str, got the str"):
        O.param_groups(nn.Linear(2, 2), weight_decay=0.1, no_decay="bias")
    with pytest.raises(TypeError, match="`no_decay` must be an iterable of str"):
        O.param_groups(nn.Linear(2, 2), weight_decay=0.1, no_decay=[1])


# --------------------------------------------------------------------------- linear scaling


def test_linear_scaling():
    assert O.linear_scaling(0.1, 256) == 0.1
    assert O.linear_scaling(0.1, 8192) == pytest.approx(3.2, rel=1e-15)  # Goyal et al.'s largest
    assert O.linear_scaling(0.4, 32, base_batch_size=128) == pytest.approx(0.1, rel=1e-15)
    with pytest.raises(ValueError, match="`batch_size` must be >= 1, got 0"):
        O.linear_scaling(0.1, 0)
    with pytest.raises(TypeError, match="`batch_size` must be an int"):
        O.linear_scaling(0.1, 32.0)
    with pytest.raises(ValueError, match="`base_lr` must be >= 0"):
        O.linear_scaling(-0.1, 32)
    with pytest.raises(ValueError, match="`base_batch_size` must be >= 1"):
        O.linear_scaling(0.1, 32, base_batch_size=0)
