"""The shared validators: messages name the argument, the expectation and what came."""

import pytest
import torch

from dlcore import _checks


def test_tensor():
    with pytest.raises(TypeError, match="`x` must be a torch.Tensor, got int"):
        _checks.tensor(3, "x")
    with pytest.raises(ValueError, match="`x` must not be empty, got shape \\(0,\\)"):
        _checks.tensor(torch.empty(0), "x")
    assert _checks.tensor(torch.empty(0), "x", allow_empty=True).numel() == 0


def test_number_bounds():
    assert _checks.number(0.5, "lr", low=0, low_open=True) == 0.5
    with pytest.raises(ValueError, match="`lr` must be > 0, got 0"):
        _checks.number(0, "lr", low=0, low_open=True)
    with pytest.raises(ValueError, match="`p` must be < 1, got 1"):
        _checks.number(1, "p", high=1, high_open=True)
    with pytest.raises(TypeError, match="`k` must be an int, got float 2.0"):
        _checks.number(2.0, "k", integer=True)


def test_same_shape_ndim_choice_dim():
    with pytest.raises(ValueError, match=r"got \(8, 3\) and \(8,\)"):
        _checks.same_shape(torch.zeros(8, 3), torch.zeros(8), "preds", "target")
    with pytest.raises(ValueError, match="`w` must be 1 or 2-dimensional, got shape \\(\\)"):
        _checks.ndim(torch.tensor(1.0), "w", (1, 2))
    with pytest.raises(ValueError, match="`mode` must be one of \\('a', 'b'\\), got 'c'"):
        _checks.choice("c", "mode", ("a", "b"))
    assert _checks.dim_index(-1, torch.zeros(2, 3)) == 1
