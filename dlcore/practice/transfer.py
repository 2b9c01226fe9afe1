r"""Freezing and re-initialising layers, per-group learning rates for fine-tuning, and the
two-stage (decoupled) training of imbalanced data.

* :func:`freeze` switches ``requires_grad`` of every parameter of a module (a *linear probe*
  freezes the whole pretrained body; *fine-tuning the top* freezes only its lower layers);
* :func:`param_groups` gives an optimizer one learning rate for the pretrained parameters and
  another for the new layers (d2l's ten-times-larger rate for a new head);
* :func:`reset` re-initialises every submodule that has ``reset_parameters``, reproducibly;
* :func:`balanced_indices` draws a class-balanced re-sample of a training set, and
  :func:`tau_normalize` rescales a classifier's weight rows: the two ingredients of the
  classifier stage of Kang et al. (2020).

The functions are small on purpose: the chapter *Training practice* shows them in full.
"""

from __future__ import annotations

from collections.abc import Iterable

import torch
from torch import nn

from dlcore import _checks

__all__ = ["freeze", "param_groups", "reset", "balanced_indices", "tau_normalize"]


def _module(module, name: str) -> nn.Module:
    if not isinstance(module, nn.Module):
        raise TypeError(f"`{name}` must be a torch.nn.Module, got {type(module).__name__}")
    return module


def freeze(module: nn.Module, *, trainable: bool = False) -> nn.Module:
    """Set ``requires_grad`` of every parameter of ``module`` to ``trainable``, in place.

    A frozen parameter gets no gradient (its ``.grad`` stays ``None``), so an optimizer
    leaves it unchanged and the backward pass does not compute it. Freezing does not switch
    the module to evaluation mode: BatchNorm layers keep updating their running statistics in
    training mode, and dropout keeps dropping; call ``module.eval()`` for that as well.

    Args:
        module: the layers to freeze (or, with ``trainable=True``, to unfreeze).
        trainable: the new value of ``requires_grad``.

    Returns:
        torch.nn.Module: ``module`` itself, so that ``freeze(model[:-1])`` can be chained.

    Examples:
        >>> net = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2))
        >>> _ = freeze(net[0])
        >>> [p.requires_grad for p in net.parameters()]
        [False, False, True, True]
        >>> _ = freeze(net, trainable=True)
        >>> all(p.requires_grad for p in net.parameters())
        True
    """
    _module(module, "module")
    _checks.flag(trainable, "trainable")
    for p in module.parameters():
        p.requires_grad_(trainable)
    return module


def _parameters(new, name: str) -> list[nn.Parameter]:
    if isinstance(new, nn.Module):
        return list(new.parameters())
    if isinstance(new, torch.Tensor) or not isinstance(new, Iterable):
        raise TypeError(f"`{name}` must be a module or an iterable of modules/parameters, "
                        f"got {type(new).__name__}")
    params: list[nn.Parameter] = []
    for item in new:
        if isinstance(item, nn.Module):
            params.extend(item.parameters())
        elif isinstance(item, nn.Parameter):
            params.append(item)
        else:
            raise TypeError(f"`{name}` must hold modules or parameters, got "
                            f"{type(item).__name__}")
    return params


def param_groups(model: nn.Module, *, new, lr: float, new_lr: float) -> list[dict]:
    r"""Optimizer parameter groups: the pretrained parameters at ``lr``, the new ones at
    ``new_lr``.

    The pretrained group is every parameter of ``model`` that is not in ``new``; each
    parameter appears in exactly one group (a parameter shared by two layers once), in the
    order of ``model.parameters()``. Frozen parameters are included: they get no gradient,
    so the optimizer skips them, and unfreezing them later needs no new optimizer.

    .. math::
        \theta_{\text{pre}} \leftarrow \theta_{\text{pre}} - \eta\, g_{\text{pre}}, \qquad
        \theta_{\text{new}} \leftarrow \theta_{\text{new}} - \eta_{\text{new}}\, g_{\text{new}}

    (for SGD; any ``torch.optim`` optimizer takes the groups). Zhang et al. (d2l, §14.2)
    train a re-initialised output layer with ``new_lr = 10 * lr``.

    Args:
        model: the whole network.
        new: the new (re-initialised) layers: a submodule of ``model``, or an iterable of
            submodules and parameters of it.
        lr: learning rate of the pretrained parameters, ``>= 0`` (0 keeps them fixed).
        new_lr: learning rate of the new parameters, ``> 0``.

    Returns:
        list[dict]: ``[{"params": pretrained, "lr": lr}, {"params": new, "lr": new_lr}]``,
        the first argument of any ``torch.optim`` optimizer.

    Examples:
        >>> net = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2))
        >>> groups = param_groups(net, new=net[2], lr=1e-3, new_lr=1e-2)
        >>> [(len(g["params"]), g["lr"]) for g in groups]
        [(2, 0.001), (2, 0.01)]
        >>> opt = torch.optim.SGD(groups, lr=1e-3)
    """
    _module(model, "model")
    lr = _checks.number(lr, "lr", low=0)
    new_lr = _checks.number(new_lr, "new_lr", low=0, low_open=True)
    everything = list(model.parameters())
    inside = {id(p) for p in everything}
    new_params, seen = [], set()
    for p in _parameters(new, "new"):
        if id(p) not in inside:
            raise ValueError(f"`new` must hold parameters of `model`, got one of shape "
                             f"{tuple(p.shape)} that `model` does not have")
        if id(p) not in seen:
            seen.add(id(p))
            new_params.append(p)
    if not new_params:
        raise ValueError("`new` must hold at least one parameter, got none")
    pretrained = [p for p in everything if id(p) not in seen]
    if not pretrained:
        raise ValueError("`new` must leave some pretrained parameters in `model`, got all "
                         f"{len(everything)} of them: use one learning rate instead")
    return [{"params": pretrained, "lr": lr}, {"params": new_params, "lr": new_lr}]


def reset(module: nn.Module, *, seed: int | None = None,
          generator: torch.Generator | None = None) -> nn.Module:
    """Re-initialise, in place, every submodule of ``module`` (itself included) that has a
    ``reset_parameters`` method, with PyTorch's default initialisation of each layer.

    ``reset_parameters`` draws from the global random state; here it runs inside
    ``torch.random.fork_rng`` seeded with ``seed`` (or with a seed drawn from
    ``generator``), so the same seed gives the same weights on the same device and the
    global random state is left as it was. With neither, it draws from the global state
    (and advances it), as calling ``reset_parameters`` by hand does.

    Args:
        module: the layers to re-initialise, e.g. a pretrained network's head.
        seed: a non-negative integer.
        generator: a CPU generator to draw the seed from (advanced by one draw).

    Returns:
        torch.nn.Module: ``module`` itself.

    Examples:
        >>> head = nn.Linear(4, 2)
        >>> a = reset(head, seed=0).weight.clone()
        >>> b = reset(head, seed=0).weight.clone()
        >>> bool(torch.equal(a, b))
        True
    """
    _module(module, "module")
    if seed is not None and generator is not None:
        raise ValueError("pass `seed` or `generator`, not both")
    if generator is not None:
        if not isinstance(generator, torch.Generator):
            raise TypeError(f"`generator` must be a torch.Generator, got "
                            f"{type(generator).__name__}")
        seed = int(torch.randint(0, 2**62, (1,), generator=generator))
    layers = [m for m in module.modules() if callable(getattr(m, "reset_parameters", None))]
    if seed is None:
        for m in layers:
            m.reset_parameters()
        return module
    _checks.number(seed, "seed", low=0, integer=True)
    cuda = sorted({p.device.index or 0 for p in module.parameters() if p.is_cuda})
    with torch.random.fork_rng(devices=cuda):
        torch.manual_seed(seed)
        for m in layers:
            m.reset_parameters()
    return module


def balanced_indices(y: torch.Tensor, *, num_samples: int,
                     generator: torch.Generator | None = None) -> torch.Tensor:
    r"""Indices of a class-balanced re-sample of the labels ``y``, drawn with replacement.

    Each draw picks a class uniformly among the classes present in ``y``, then a sample of
    that class uniformly: sample :math:`i` of class :math:`c` has probability

    .. math::
        p_i = \frac{1}{K\, n_c},

    with :math:`K` the number of classes present and :math:`n_c` the count of class
    :math:`c`; this is :func:`dlcore.losses.resampling_probabilities` with :math:`q = 0`
    (Kang et al. 2020, eq. 1), the sampler of their classifier re-training stage.

    Args:
        y: ``(N,)`` integer class labels ``>= 0`` (on any device).
        num_samples: the number of indices to draw, ``>= 1`` (``len(y)`` for one epoch).
        generator: random source (on the device of ``y``).

    Returns:
        torch.Tensor: ``(num_samples,)`` int64 indices into ``y``, on the device of ``y``.

    Examples:
        >>> y = torch.tensor([0] * 90 + [1] * 10)
        >>> idx = balanced_indices(y, num_samples=10_000,
        ...                        generator=torch.Generator().manual_seed(0))
        >>> round(float((y[idx] == 1).float().mean()), 2)
        0.5
    """
    _checks.tensor(y, "y")
    _checks.ndim(y, "y", (1,))
    _checks.labels(y, "y")
    num_samples = _checks.number(num_samples, "num_samples", low=1, integer=True)
    counts = torch.bincount(y.long())
    weights = 1.0 / (counts.double()[y.long()] * int((counts > 0).sum()))
    return torch.multinomial(weights, num_samples, replacement=True, generator=generator)


def tau_normalize(weight: torch.Tensor, tau: float) -> torch.Tensor:
    r"""Kang et al.'s (2020) :math:`\tau`-normalization of a linear classifier's weights.

    .. math::
        \tilde w_j = \frac{w_j}{\lVert w_j \rVert_2^{\,\tau}}, \qquad j = 1, \dots, C,

    for each row :math:`w_j` (one class) of the ``(C, D)`` weight. :math:`\tau = 0` keeps the
    weights, :math:`\tau = 1` gives unit rows; in between it shrinks the norm gap that
    instance-balanced training leaves between frequent classes (large norms) and rare ones.
    A zero row stays zero (its limit) instead of 0/0. The norm is computed on the row
    divided by its largest entry :math:`m_j = \max_i |w_{ji}|`, as
    :math:`\tilde w_j = (w_j/m_j)\, \lVert w_j/m_j\rVert^{-\tau} m_j^{1-\tau}`, so rows
    of huge or tiny entries (whose plain norm would overflow to ``inf`` or underflow to 0)
    give the correct result whenever it is representable in the dtype; a result outside
    its range becomes ``inf`` or 0, as the exact value rounds.

    Args:
        weight: ``(C, D)`` floating weight, e.g. ``head.weight`` (detached or not; the result
            is differentiable).
        tau: the exponent, a real number ``>= 0`` (Kang et al.'s code sweeps
            ``numpy.linspace(0, 2, 21)`` and picks :math:`\tau` on validation data).

    Returns:
        torch.Tensor: ``(C, D)`` rescaled weight, dtype and device of ``weight``.

    Examples:
        >>> w = torch.tensor([[3.0, 4.0], [0.0, 0.5]])
        >>> tau_normalize(w, 1.0)
        tensor([[0.6000, 0.8000],
                [0.0000, 1.0000]])
        >>> tau_normalize(w, 0.0)
        tensor([[3.0000, 4.0000],
                [0.0000, 0.5000]])
    """
    _checks.no_nan(_checks.tensor(weight, "weight", floating=True), "weight")
    _checks.ndim(weight, "weight", (2,))
    _checks.finite(weight, "weight")
    tau = _checks.number(tau, "tau", low=0)
    if tau == 0:
        return weight.clone()
    top = weight.detach().abs().amax(dim=1, keepdim=True)
    top = torch.where(top > 0, top, torch.ones_like(top))
    scaled = weight / top
    norms = torch.linalg.vector_norm(scaled, dim=1, keepdim=True)
    norms = torch.where(norms > 0, norms, torch.ones_like(norms))
    return scaled / norms.pow(tau) * top.pow(1 - tau)
