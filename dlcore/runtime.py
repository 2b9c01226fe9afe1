"""Where computations run, how randomness is seeded, and how many CPU threads are used.

Every chapter starts with ``device = dlcore.device()`` and ``dlcore.seed(0)``: the same notebook
then uses a GPU when one is present, the CPU otherwise, and prints the same numbers on every run
on the same machine.

**The thread policy.** :func:`seed` also applies :func:`use_threads`: torch's intra-op pool and
the BLAS/OpenMP pools that NumPy and scikit-learn use get **one** thread (override with the
environment variable ``DLCORE_THREADS``). One thread is the only setting whose results do not
depend on how many cores the machine has: a parallel reduction adds its partial sums in an
order that depends on the thread count, and in a chaotic training run (a learning rate at the
edge of stability) a last-bit difference grows into a different outcome. It is also the
fastest setting for the book's small models, and the only one that stays fast on a busy
machine: two threads that wait for each other on two shared cores were measured up to 66×
slower per step. Pages therefore never call ``torch.set_num_threads`` themselves.
"""

from __future__ import annotations

import os
import random

import numpy as np
import torch

from dlcore import _checks

ENV_VAR = "DLCORE_DEVICE"
THREADS_VAR = "DLCORE_THREADS"
_KINDS = ("cpu", "cuda", "mps")


def _mps_available() -> bool:
    mps = getattr(torch.backends, "mps", None)
    return bool(mps is not None and mps.is_available())


def _parse(spec: str) -> torch.device:
    """Turn a ``DLCORE_DEVICE`` value into an available device, or raise ``ValueError``."""
    allowed = "'cpu', 'cuda', 'cuda:<index>' or 'mps'"
    try:
        dev = torch.device(spec.strip().lower())
    except (RuntimeError, ValueError):
        raise ValueError(f"`{ENV_VAR}` must be {allowed}, got {spec!r}") from None
    if dev.type not in _KINDS:
        raise ValueError(f"`{ENV_VAR}` must be {allowed}, got {spec!r}")
    if dev.type == "cuda":
        count = torch.cuda.device_count() if torch.cuda.is_available() else 0
        index = 0 if dev.index is None else dev.index
        if index >= count:
            raise ValueError(
                f"`{ENV_VAR}`={spec!r} asks for a CUDA device, but this machine has {count}"
            )
    if dev.type == "mps" and not _mps_available():
        raise ValueError(f"`{ENV_VAR}`={spec!r} asks for Apple MPS, which is not available here")
    return dev


def device() -> torch.device:
    """The device the book computes on: CUDA if available, else Apple MPS, else the CPU.

    The environment variable ``DLCORE_DEVICE`` (``cpu``, ``cuda``, ``cuda:1``, ``mps``)
    overrides the choice; an unknown or unavailable value raises :class:`ValueError`.

    Returns:
        torch.device: the chosen device.

    Examples:
        >>> import os
        >>> os.environ["DLCORE_DEVICE"] = "cpu"
        >>> device()
        device(type='cpu')
        >>> del os.environ["DLCORE_DEVICE"]
    """
    spec = os.environ.get(ENV_VAR)
    if spec:
        return _parse(spec)
    if torch.cuda.is_available():
        return torch.device("cuda")
    if _mps_available():
        return torch.device("mps")
    return torch.device("cpu")


def describe(dev: torch.device | None = None) -> str:
    """One line naming the device, e.g. ``device: cpu`` or ``device: cuda (NVIDIA H100 ...)``."""
    dev = device() if dev is None else torch.device(dev)
    if dev.type == "cuda":
        return f"device: {dev} ({torch.cuda.get_device_name(dev)})"
    return f"device: {dev}"


def use_threads(n: int | None = None) -> int:
    """Apply the thread policy: ``n`` CPU threads for torch and for the BLAS/OpenMP pools.

    Args:
        n: the number of threads; default ``DLCORE_THREADS`` from the environment, else 1.

    Returns:
        int: the thread count now in force (``torch.get_num_threads()``).

    Examples:
        >>> use_threads()
        1
    """
    if n is None:
        spec = os.environ.get(THREADS_VAR, "").strip()
        if spec:
            try:
                n = int(spec)
            except ValueError:
                raise ValueError(
                    f"`{THREADS_VAR}` must be a positive integer, got {spec!r}") from None
            if n < 1:
                raise ValueError(f"`{THREADS_VAR}` must be a positive integer, got {spec!r}")
        else:
            n = 1
    _checks.number(n, "n", low=1, integer=True)
    if torch.get_num_threads() != n:
        torch.set_num_threads(n)
    # NumPy's and SciPy's BLAS and scikit-learn's OpenMP loops: same policy, same reason.
    # threadpoolctl limits only libraries already loaded, so load them first.
    import scipy.linalg  # noqa: F401
    import sklearn.utils._openmp_helpers  # noqa: F401
    from threadpoolctl import threadpool_limits

    threadpool_limits(limits=n)
    return torch.get_num_threads()


def seed(n: int = 0) -> torch.Generator:
    """Seed Python's ``random``, NumPy and torch (CPU and every GPU) with ``n``, and apply
    the thread policy (:func:`use_threads`), so that what follows is reproducible.

    Args:
        n: a non-negative integer below 2**32 (NumPy's limit).

    Returns:
        torch.Generator: a fresh CPU generator seeded with ``n``, for functions that take
        ``generator=``; passing it explicitly keeps a cell's randomness independent of the
        cells before it.

    Examples:
        >>> g = seed(0); a = torch.rand(2, generator=g)
        >>> g = seed(0); b = torch.rand(2, generator=g)
        >>> bool((a == b).all())
        True
    """
    _checks.number(n, "n", low=0, high=2**32 - 1, integer=True)
    random.seed(n)
    np.random.seed(n)
    torch.manual_seed(n)  # also seeds every CUDA device
    use_threads()
    return torch.Generator().manual_seed(n)
