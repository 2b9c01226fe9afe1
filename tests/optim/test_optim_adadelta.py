"""dlcore.optim.adadelta: Adadelta against torch.optim.Adadelta, a state_dict round trip, a
parameter without gradient, bad hyperparameters."""

import optim_contract as contract
import torch

from dlcore import optim as O

test_trajectory_equals_torch = contract.trajectory([
    (O.Adadelta, torch.optim.Adadelta, [
        dict(lr=1.0),
        dict(lr=0.5, rho=0.95, eps=1e-5, weight_decay=1e-2),
        dict(lr=2.0, rho=0.5),
    ]),
])

test_state_dict_round_trip_continues_identically = contract.round_trip([
    (O.Adadelta, dict(weight_decay=1e-3)),
])

test_grad_none_is_untouched_and_caller_grad_is_not_modified = contract.grad_none([
    (O.Adadelta, dict(weight_decay=0.1)),
])

test_bad_hyperparameters_are_rejected_naming_the_argument = contract.bad_hyperparameters([
    (O.Adadelta, dict(rho=1.1), ValueError, "`rho` must be <= 1"),
    (O.Adadelta, dict(lr=float("nan")), ValueError, "`lr` must be finite"),
])
