"""What every optimizer of :mod:`dlcore.optim` shares: input validation, the L2 term, the copy
rule of the pure mode, and :class:`_Optimizer`, the driver of the thin classes."""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor

from dlcore import _checks

# --------------------------------------------------------------------------- validation


def _check_tensors(param, grad, **state) -> None:
    """``param`` and ``grad`` are floating tensors of one shape; state tensors (or None) too."""
    _checks.tensor(param, "param", floating=True, allow_empty=True)
    _checks.tensor(grad, "grad", floating=True, allow_empty=True)
    _checks.dense(grad, "grad")
    _checks.same_shape(param, grad, "param", "grad")
    for name, value in state.items():
        if value is not None:
            _checks.tensor(value, name, floating=True, allow_empty=True)
            _checks.same_shape(param, value, "param", name)


def _check_step(step) -> int:
    return _checks.number(step, "step", low=1, integer=True)


def _check_betas(betas) -> tuple[float, float]:
    if not isinstance(betas, (tuple, list)) or len(betas) != 2:
        raise ValueError(f"`betas` must be a pair (beta1, beta2), got {betas!r}")
    beta1 = _checks.number(betas[0], "betas[0]", low=0, high=1, high_open=True)
    beta2 = _checks.number(betas[1], "betas[1]", low=0, high=1, high_open=True)
    return beta1, beta2


def _with_l2(grad: Tensor, param: Tensor, weight_decay: float) -> Tensor:
    """g + λθ as a new tensor: the L2 penalty λ/2‖θ‖² folded into the gradient."""
    return grad.add(param, alpha=weight_decay) if weight_decay != 0 else grad


# --------------------------------------------------------------------------- functional core


def _own(inplace: bool, *tensors: Tensor | None) -> tuple[Tensor | None, ...]:
    """The tensors an update may overwrite: the caller's own (``inplace``) or fresh copies."""
    if inplace:
        return tensors
    return tuple(None if x is None else x.clone() for x in tensors)


def _zeros(p: Tensor) -> Tensor:
    return torch.zeros_like(p, memory_format=torch.preserve_format)


# --------------------------------------------------------------------------- thin classes


class _Optimizer(torch.optim.Optimizer):
    """Common driver: validate groups, loop over parameters with a gradient, call ``_update``."""

    def add_param_group(self, param_group: dict) -> None:
        super().add_param_group(param_group)
        group = self.param_groups[-1]
        for p in group["params"]:
            if p.is_complex():
                raise ValueError(f"complex parameters are not supported, got dtype {p.dtype}")
        self._check_group(group)

    def _check_group(self, group: dict) -> None:  # pragma: no cover - every subclass overrides
        raise NotImplementedError

    def _update(self, p: Tensor, grad: Tensor, state: dict, group: dict) -> None:
        raise NotImplementedError  # pragma: no cover

    @torch.no_grad()
    def step(self, closure: Callable[[], float] | None = None):
        """Update every parameter that has a gradient; return ``closure()``'s loss if given."""
        loss = None
        if closure is not None:
            # the closure recomputes the loss and its gradients, so autograd must be on
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is None:
                    continue  # unused or frozen: no update and no state, as in torch.optim
                self._update(p, p.grad, self.state[p], group)
        return loss
