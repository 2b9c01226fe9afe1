"""dlcore.optim.adagrad: Adagrad against torch.optim.Adagrad, a state_dict round trip, a parameter
without gradient, bad hyperparameters."""

import optim_contract as contract
import torch

from dlcore import optim as O

test_trajectory_equals_torch = contract.trajectory([
    (O.Adagrad, torch.optim.Adagrad, [
        dict(lr=0.1),
        dict(lr=0.1, lr_decay=0.01, weight_decay=1e-2),
        dict(lr=0.05, initial_accumulator_value=0.5, eps=1e-6),
    ]),
])

test_state_dict_round_trip_continues_identically = contract.round_trip([
    (O.Adagrad, dict(lr=0.1, lr_decay=0.01)),
])

test_grad_none_is_untouched_and_caller_grad_is_not_modified = contract.grad_none([
    (O.Adagrad, dict(weight_decay=0.1)),
])

test_bad_hyperparameters_are_rejected_naming_the_argument = contract.bad_hyperparameters([
    (O.Adagrad, dict(lr_decay=-1), ValueError, "`lr_decay` must be >= 0"),
    (O.Adagrad, dict(initial_accumulator_value=-1), ValueError,
     "`initial_accumulator_value`"),
    (O.Adagrad, dict(eps=-1e-10), ValueError, "`eps` must be >= 0"),
])
