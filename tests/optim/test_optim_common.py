"""dlcore.optim._common, what all optimizers share: constructor arguments and defaults equal to
torch's, the pure update functions (inputs never modified; inplace=True overwrites the given
buffers with the same results; bad input rejected) and the driver's checks of parameter groups,
sparse gradients and complex parameters. The tests each optimizer passes with its own settings
are in optim_contract.py, instantiated by test_optim_<algorithm>.py."""

import inspect

import pytest
import torch
from optim_contract import DT
from torch import nn

from dlcore import optim as O

# (dlcore class, its torch.optim namesake)
NAMESAKES = [
    (O.SGD, torch.optim.SGD),
    (O.Adagrad, torch.optim.Adagrad),
    (O.RMSprop, torch.optim.RMSprop),
    (O.Adadelta, torch.optim.Adadelta),
    (O.Adam, torch.optim.Adam),
    (O.AdamW, torch.optim.AdamW),
]


def test_constructor_arguments_and_defaults_equal_torch():
    omitted = {"foreach", "maximize", "capturable", "differentiable", "fused"}
    for ours, ref in NAMESAKES:
        mine = inspect.signature(ours.__init__).parameters
        theirs = inspect.signature(ref.__init__).parameters
        assert set(theirs) - set(mine) <= omitted, ours.__name__
        for name, param in mine.items():
            assert name in theirs, f"{ours.__name__}.{name} is not torch's"
            assert param.default == theirs[name].default, f"{ours.__name__}.{name}"
            assert param.kind == theirs[name].kind or name == "decoupled_weight_decay"


# --------------------------------------------------------------------------- pure functions


def test_pure_functions_do_not_modify_inputs():
    g = torch.Generator().manual_seed(0)
    theta, grad, s1, s2, s3 = (torch.rand(4, generator=g, dtype=DT) for _ in range(5))
    snapshot = [x.clone() for x in (theta, grad, s1, s2, s3)]
    O.sgd_update(theta, grad, s1, lr=0.1, momentum=0.9, weight_decay=0.1, nesterov=True)
    O.adagrad_update(theta, grad, s1, step=3, lr=0.1, lr_decay=0.1, weight_decay=0.1)
    O.rmsprop_update(theta, grad, s1, s2, s3, lr=0.1, momentum=0.9, centered=True)
    O.adadelta_update(theta, grad, s1, s2, weight_decay=0.1)
    O.adam_update(theta, grad, s1, s2, s3, step=2, amsgrad=True, weight_decay=0.1)
    O.adam_update(theta, grad, s1, s2, step=2, weight_decay=0.1, decoupled_weight_decay=True)
    O.adabound_update(theta, grad, s1, s2, s3, step=2, amsbound=True, weight_decay=0.1)
    for x, y in zip((theta, grad, s1, s2, s3), snapshot, strict=True):
        assert torch.equal(x, y)


def test_inplace_mode_updates_the_given_tensors_to_the_pure_results():
    g = torch.Generator().manual_seed(1)
    theta, grad, s1, s2, s3 = (torch.rand(4, generator=g, dtype=DT) for _ in range(5))
    calls = [
        (O.sgd_update, (theta, grad, s1), dict(lr=0.1, momentum=0.9, nesterov=True)),
        (O.adagrad_update, (theta, grad, s1), dict(step=3, lr=0.1, lr_decay=0.1)),
        (O.rmsprop_update, (theta, grad, s1, s2, s3), dict(lr=0.1, momentum=0.9, centered=True)),
        (O.adadelta_update, (theta, grad, s1, s2), dict(weight_decay=0.1)),
        (O.adam_update, (theta, grad, s1, s2, s3), dict(step=2, amsgrad=True)),
        (O.adabound_update, (theta, grad, s1, s2, s3), dict(step=2, amsbound=True)),
    ]
    for f, args, kw in calls:
        pure = f(*args, **kw)
        own = [x.clone() for x in args]
        result = f(*own, **kw, inplace=True)
        for out, buf, want in zip(result, own[:1] + own[2:], pure, strict=True):
            assert out is buf  # the caller's buffer, overwritten
            assert torch.equal(out, want), f.__name__
        assert torch.equal(own[1], grad)  # the gradient is never written


def test_update_functions_reject_bad_input():
    x = torch.zeros(3, dtype=DT)
    with pytest.raises(ValueError, match="`param` and `grad` must have the same shape"):
        O.sgd_update(x, torch.zeros(2, dtype=DT), lr=0.1)
    with pytest.raises(ValueError, match="`grad` must have a floating-point dtype"):
        O.sgd_update(x, torch.zeros(3, dtype=torch.long), lr=0.1)
    with pytest.raises(TypeError, match="`param` must be a torch.Tensor"):
        O.sgd_update([0.0], x, lr=0.1)
    with pytest.raises(ValueError, match="`param` and `exp_avg_sq` must have the same shape"):
        O.adam_update(x, x, x, torch.zeros(4, dtype=DT), step=1)
    with pytest.raises(ValueError, match="`step` must be >= 1, got 0"):
        O.adam_update(x, x, x, x, step=0)
    with pytest.raises(ValueError, match="`max_exp_avg_sq` must be a tensor"):
        O.adam_update(x, x, x, x, step=1, amsgrad=True)
    with pytest.raises(ValueError, match="`max_exp_avg_sq` must be a tensor"):
        O.adabound_update(x, x, x, x, step=1, amsbound=True)
    with pytest.raises(ValueError, match="`grad_avg` must be a tensor"):
        O.rmsprop_update(x, x, x, lr=0.1, centered=True)
    with pytest.raises(ValueError, match="`momentum_buffer` must be a tensor"):
        O.rmsprop_update(x, x, x, lr=0.1, momentum=0.5)
    with pytest.raises(ValueError, match="`betas\\[1\\]` must be < 1, got 1.0"):
        O.adam_update(x, x, x, x, step=1, beta2=1.0)
    with pytest.raises(ValueError, match="`gamma` must be > 0, got 0"):
        O.adabound_bounds(1, final_lr=0.1, gamma=0)
    with pytest.raises(ValueError, match="`rho` must be <= 1"):
        O.adadelta_update(x, x, x, x, rho=2.0)
    with pytest.raises(ValueError, match="`lr_decay` must be >= 0"):
        O.adagrad_update(x, x, x, step=1, lr=0.1, lr_decay=-1.0)


# --------------------------------------------------------------------------- bad groups


def test_bad_group_values_sparse_grads_and_complex_params_are_rejected():
    w, u = torch.zeros(2, requires_grad=True), torch.zeros(2, requires_grad=True)
    with pytest.raises(ValueError, match="`lr` must be >= 0, got -1"):
        O.Adam([{"params": [w], "lr": -1}])
    opt = O.SGD([w], lr=0.1)
    with pytest.raises(ValueError, match="`momentum` must be >= 0"):
        opt.add_param_group({"params": [u], "momentum": -1})
    with pytest.raises(ValueError, match="complex parameters are not supported"):
        O.Adam([torch.zeros(2, dtype=torch.complex64, requires_grad=True)])
    emb = nn.Embedding(5, 2, sparse=True)
    emb(torch.tensor([1, 3])).sum().backward()
    with pytest.raises(ValueError, match="`grad` must be a dense \\(strided\\) tensor"):
        O.Adam(emb.parameters()).step()
