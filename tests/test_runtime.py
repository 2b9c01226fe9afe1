import random

import numpy as np
import pytest
import torch

import dlcore
from dlcore import runtime


def test_device_defaults_to_best_available(monkeypatch):
    monkeypatch.delenv("DLCORE_DEVICE", raising=False)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(runtime, "_mps_available", lambda: False)
    assert dlcore.device() == torch.device("cpu")
    monkeypatch.setattr(runtime, "_mps_available", lambda: True)
    assert dlcore.device() == torch.device("mps")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert dlcore.device() == torch.device("cuda")


@pytest.mark.parametrize("spec", ["cpu", "CPU", " cpu "])
def test_env_override_cpu(monkeypatch, spec):
    monkeypatch.setenv("DLCORE_DEVICE", spec)
    assert dlcore.device() == torch.device("cpu")


def test_env_override_cuda_index(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    monkeypatch.setenv("DLCORE_DEVICE", "cuda:1")
    assert dlcore.device() == torch.device("cuda", 1)
    monkeypatch.setenv("DLCORE_DEVICE", "cuda:2")
    with pytest.raises(ValueError, match="asks for a CUDA device, but this machine has 2"):
        dlcore.device()


@pytest.mark.parametrize("spec", ["gpu", "tpu", "cuda:x", "xla", "meta"])
def test_env_override_unknown_value(monkeypatch, spec):
    monkeypatch.setenv("DLCORE_DEVICE", spec)
    with pytest.raises(ValueError, match=r"`DLCORE_DEVICE` must be 'cpu', 'cuda', 'cuda:<index>'"):
        dlcore.device()


def test_env_override_unavailable(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(runtime, "_mps_available", lambda: False)
    monkeypatch.setenv("DLCORE_DEVICE", "cuda")
    with pytest.raises(ValueError, match="this machine has 0"):
        dlcore.device()
    monkeypatch.setenv("DLCORE_DEVICE", "mps")
    with pytest.raises(ValueError, match="Apple MPS, which is not available"):
        dlcore.device()


def test_describe(monkeypatch):
    assert dlcore.describe(torch.device("cpu")) == "device: cpu"
    monkeypatch.setattr(torch.cuda, "get_device_name", lambda d: "NVIDIA Fake")
    assert dlcore.describe(torch.device("cuda")) == "device: cuda (NVIDIA Fake)"
    monkeypatch.setenv("DLCORE_DEVICE", "cpu")
    assert dlcore.describe() == "device: cpu"


def draw():
    return random.random(), np.random.rand(), torch.rand(1).item()


def test_seed_makes_all_generators_repeatable():
    g1 = dlcore.seed(123)
    a = draw() + (torch.rand(1, generator=g1).item(),)
    g2 = dlcore.seed(123)
    b = draw() + (torch.rand(1, generator=g2).item(),)
    assert a == b
    dlcore.seed(124)
    assert draw() != a[:3]
    assert isinstance(g1, torch.Generator)


@pytest.mark.parametrize("bad,exc", [(-1, ValueError), (2**32, ValueError), (1.5, TypeError),
                                     ("0", TypeError), (True, TypeError)])
def test_seed_rejects_bad_values(bad, exc):
    with pytest.raises(exc, match="`n` must be"):
        dlcore.seed(bad)


def test_mps_probe_returns_a_bool_matching_torch():
    mps = getattr(torch.backends, "mps", None)
    expected = bool(mps is not None and mps.is_available())
    assert runtime._mps_available() is expected


def test_thread_policy_is_one_thread_unless_overridden(monkeypatch):
    from threadpoolctl import threadpool_info
    monkeypatch.delenv("DLCORE_THREADS", raising=False)
    torch.set_num_threads(2)
    dlcore.seed(0)  # seeding applies the policy
    assert torch.get_num_threads() == 1
    assert all(pool["num_threads"] == 1 for pool in threadpool_info())
    monkeypatch.setenv("DLCORE_THREADS", "2")
    assert runtime.use_threads() == 2
    assert runtime.use_threads(1) == 1


@pytest.mark.parametrize("spec", ["0", "two", "-1", "1.5"])
def test_thread_override_must_be_a_positive_integer(monkeypatch, spec):
    monkeypatch.setenv("DLCORE_THREADS", spec)
    with pytest.raises(ValueError, match="`DLCORE_THREADS` must be a positive integer"):
        runtime.use_threads()
    with pytest.raises(ValueError, match="`n` must be >= 1"):
        runtime.use_threads(0)
