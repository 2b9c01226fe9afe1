r"""Optimizers written as one update function each, plus the classes that drive them.

Every optimizer has two layers:

* an **update function** (:func:`sgd_update`, :func:`adam_update`, ...) that takes a parameter,
  its gradient and the optimizer state, one equation comment above each line, so that the code
  reads like the Optimizers chapter. It is *pure by default*: it works on copies and returns
  the new parameter and state, leaving its arguments alone. With ``inplace=True`` the same lines
  overwrite the given parameter and state tensors instead;
* a thin :class:`torch.optim.Optimizer` subclass (:class:`SGD`, :class:`Adam`, ...) with the same
  constructor arguments and defaults as its :mod:`torch.optim` namesake, which only keeps the
  state and calls the function once per parameter, with ``inplace=True`` on its *own* buffers.

Why ``inplace=True`` in the classes: a pure step must allocate a new parameter and new state
tensors every step (three fresh 3 MB tensors per 1024×784 float32 weight for Adam), and the page
faults of that fresh memory make it slower than ``torch.optim.Adam(foreach=False)``, while the
class needs one temporary per step where torch's loop has two. For measured times see
``benchmarks/bench_optim.py`` and the README. The arithmetic is the same in both modes, and the
gradient is never written in either.

With ``foreach=False`` in PyTorch, parameter trajectories equal :mod:`torch.optim`'s to float64
rounding (the tests compare 100+ steps). Conventions shared by all classes:

* A parameter whose ``.grad`` is ``None`` is skipped: it is not changed and gets no state
  (``torch.optim.Adagrad`` is the exception in PyTorch: it creates its state up front).
* The caller's ``.grad`` tensors are never modified; weight decay is added to a copy.
* State entries use PyTorch's names (``exp_avg``, ``exp_avg_sq``, ``momentum_buffer``, ...), so a
  ``state_dict`` saved by ``torch.optim.Adam`` loads into :class:`Adam` and vice versa. The step
  count is stored as a Python ``int``.
* Hyperparameters are validated when a parameter group is added (constructor or
  :meth:`~torch.optim.Optimizer.add_param_group`) and by each update function, raising
  ``ValueError`` / ``TypeError`` that names the argument.
* Not offered: ``maximize`` (minimise ``-f`` instead), ``foreach``, ``fused``, ``capturable``,
  ``differentiable``, a tensor-valued ``lr``, sparse gradients and complex parameters.

One module per algorithm holds its validation, its update function and its class:
:mod:`~dlcore.optim.sgd`, :mod:`~dlcore.optim.adagrad`, :mod:`~dlcore.optim.rmsprop`,
:mod:`~dlcore.optim.adadelta`, :mod:`~dlcore.optim.adam` (Adam, AMSGrad, AdamW) and
:mod:`~dlcore.optim.adabound`; :mod:`~dlcore.optim._common` holds what they share (input checks,
the copy rule of the pure mode, the driver class). The package also holds the training helpers
of the chapter: :func:`param_groups` (no weight decay on biases and normalization weights) and
:func:`linear_scaling` in :mod:`~dlcore.optim.groups`, and gradient clipping
(:func:`clip_grad_norm`, :func:`clip_grad_value`) in :mod:`~dlcore.optim.clip`. Every public
name is importable from ``dlcore.optim`` itself.
"""

from __future__ import annotations

from dlcore.optim.adabound import AdaBound, adabound_bounds, adabound_update
from dlcore.optim.adadelta import Adadelta, adadelta_update
from dlcore.optim.adagrad import Adagrad, adagrad_update
from dlcore.optim.adam import Adam, AdamW, adam_update
from dlcore.optim.clip import clip_grad_norm, clip_grad_value
from dlcore.optim.groups import linear_scaling, param_groups
from dlcore.optim.rmsprop import RMSprop, rmsprop_update
from dlcore.optim.sgd import SGD, sgd_update

__all__ = [
    "sgd_update", "adagrad_update", "rmsprop_update", "adadelta_update", "adam_update",
    "adabound_bounds", "adabound_update",
    "SGD", "Adagrad", "RMSprop", "Adadelta", "Adam", "AdamW", "AdaBound",
    "param_groups", "linear_scaling", "clip_grad_norm", "clip_grad_value",
]

