"""dlcore.optim.adam: Adam, AMSGrad and AdamW against torch.optim, step with a closure,
state_dict round trips (also to and from torch), a parameter without gradient, float32 state,
bad hyperparameters."""

import optim_contract as contract
import torch

from dlcore import optim as O

test_trajectory_equals_torch = contract.trajectory([
    (O.Adam, torch.optim.Adam, [
        dict(lr=1e-2),
        dict(lr=1e-2, betas=(0.8, 0.99), weight_decay=1e-2),
        dict(lr=1e-2, amsgrad=True, eps=1e-6),
        dict(lr=3e-3, weight_decay=0.1, decoupled_weight_decay=True, amsgrad=True),
    ]),
    (O.AdamW, torch.optim.AdamW, [
        dict(lr=1e-2),
        dict(lr=1e-2, weight_decay=0.1, amsgrad=True),
        dict(lr=3e-3, betas=(0.5, 0.9), eps=1e-10),
    ]),
])

test_step_with_closure_equals_torch = contract.step_with_closure([
    (O.Adam, torch.optim.Adam),
])

test_state_dict_round_trip_continues_identically = contract.round_trip([
    (O.Adam, dict(lr=1e-2, amsgrad=True)),
    (O.AdamW, dict(lr=1e-2)),
])

test_state_dict_interchanges_with_torch = contract.interchange([
    (O.Adam, torch.optim.Adam, dict(lr=1e-2, amsgrad=True)),
])

test_grad_none_is_untouched_and_caller_grad_is_not_modified = contract.grad_none([
    (O.Adam, dict(weight_decay=0.1, amsgrad=True)),
    (O.AdamW, dict()),
])

test_bad_hyperparameters_are_rejected_naming_the_argument = contract.bad_hyperparameters([
    (O.Adam, dict(betas=(1.0, 0.999)), ValueError, "`betas\\[0\\]` must be < 1, got 1.0"),
    (O.Adam, dict(betas=(0.9, -0.1)), ValueError, "`betas\\[1\\]` must be >= 0"),
    (O.Adam, dict(betas=0.9), ValueError, "`betas` must be a pair"),
    (O.Adam, dict(eps=-1.0), ValueError, "`eps` must be >= 0"),
    (O.Adam, dict(amsgrad=None), TypeError, "`amsgrad` must be a bool"),
    (O.Adam, dict(decoupled_weight_decay="no"), TypeError, "`decoupled_weight_decay`"),
    (O.AdamW, dict(weight_decay=-0.01), ValueError, "`weight_decay` must be >= 0"),
])


def test_dtype_and_device_are_kept_float32():
    w = torch.ones(3, requires_grad=True)
    opt = O.Adam([w], lr=0.1)
    w.grad = torch.ones(3)
    opt.step()
    assert w.dtype == torch.float32
    assert all(v.dtype == torch.float32 for v in opt.state[w].values() if torch.is_tensor(v))
