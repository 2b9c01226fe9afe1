"""dlcore.optim.sgd: SGD (momentum, dampening, Nesterov, L2) against torch.optim.SGD, step with a
closure, state_dict round trips (also to and from torch), a parameter without gradient, bad
hyperparameters."""

import optim_contract as contract
import torch

from dlcore import optim as O

test_trajectory_equals_torch = contract.trajectory([
    (O.SGD, torch.optim.SGD, [
        dict(lr=0.05),
        dict(lr=0.05, momentum=0.9),
        dict(lr=0.05, momentum=0.9, dampening=0.3, weight_decay=1e-2),
        dict(lr=0.02, momentum=0.8, nesterov=True, weight_decay=1e-3),
    ]),
])

test_step_with_closure_equals_torch = contract.step_with_closure([
    (O.SGD, torch.optim.SGD),
])

test_state_dict_round_trip_continues_identically = contract.round_trip([
    (O.SGD, dict(lr=0.05, momentum=0.9, nesterov=True)),
])

test_state_dict_interchanges_with_torch = contract.interchange([
    (O.SGD, torch.optim.SGD, dict(lr=0.05, momentum=0.9)),
])

test_grad_none_is_untouched_and_caller_grad_is_not_modified = contract.grad_none([
    (O.SGD, dict(lr=0.1, momentum=0.9, weight_decay=0.1)),
])

test_bad_hyperparameters_are_rejected_naming_the_argument = contract.bad_hyperparameters([
    (O.SGD, dict(lr=-0.1), ValueError, "`lr` must be >= 0, got -0.1"),
    (O.SGD, dict(lr="0.1"), TypeError, "`lr` must be a real number"),
    (O.SGD, dict(momentum=-0.5), ValueError, "`momentum` must be >= 0"),
    (O.SGD, dict(dampening=1.5), ValueError, "`dampening` must be <= 1"),
    (O.SGD, dict(weight_decay=-1e-4), ValueError, "`weight_decay` must be >= 0"),
    (O.SGD, dict(nesterov=True), ValueError, "`nesterov=True` needs `momentum` > 0"),
    (O.SGD, dict(momentum=0.9, dampening=0.1, nesterov=True), ValueError, "`dampening` = 0"),
    (O.SGD, dict(momentum=0.9, nesterov=1), TypeError, "`nesterov` must be a bool"),
])
