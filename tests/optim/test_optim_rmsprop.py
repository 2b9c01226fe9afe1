"""dlcore.optim.rmsprop: RMSprop (plain, centered, with momentum) against torch.optim.RMSprop,
state_dict round trips (also to and from torch), a parameter without gradient, bad
hyperparameters."""

import optim_contract as contract
import torch

from dlcore import optim as O

test_trajectory_equals_torch = contract.trajectory([
    (O.RMSprop, torch.optim.RMSprop, [
        dict(lr=1e-2),
        dict(lr=1e-3, alpha=0.9, momentum=0.8),
        dict(lr=1e-3, centered=True, weight_decay=1e-2),
        dict(lr=5e-4, alpha=0.95, centered=True, momentum=0.9, eps=1e-6),
    ]),
])

test_state_dict_round_trip_continues_identically = contract.round_trip([
    (O.RMSprop, dict(lr=1e-3, momentum=0.5, centered=True)),
])

test_state_dict_interchanges_with_torch = contract.interchange([
    (O.RMSprop, torch.optim.RMSprop, dict(lr=1e-3, centered=True, momentum=0.5)),
])

test_grad_none_is_untouched_and_caller_grad_is_not_modified = contract.grad_none([
    (O.RMSprop, dict(momentum=0.9, centered=True, weight_decay=0.1)),
])

test_bad_hyperparameters_are_rejected_naming_the_argument = contract.bad_hyperparameters([
    (O.RMSprop, dict(alpha=1.5), ValueError, "`alpha` must be <= 1"),
    (O.RMSprop, dict(momentum=-0.1), ValueError, "`momentum` must be >= 0"),
    (O.RMSprop, dict(centered="yes"), TypeError, "`centered` must be a bool"),
])
