"""dlcore.metrics.language: perplexity against torch's cross-entropy (values and gradients, extreme
logits) and bad input."""

from __future__ import annotations

import pytest
import torch
from metrics_helpers import F64, close
from torch.nn import functional as F

from dlcore import metrics as M


def test_perplexity_matches_torch_cross_entropy_and_has_gradients():
    g = torch.Generator().manual_seed(0)
    z = (torch.randn(4, 9, 11, generator=g, dtype=F64) * 5).requires_grad_(True)
    y = torch.randint(0, 11, (4, 9), generator=g)
    ours = M.perplexity(z, y)
    ref = torch.exp(F.cross_entropy(z.reshape(-1, 11), y.reshape(-1)))
    torch.testing.assert_close(ours, ref, rtol=1e-12, atol=0)
    (g1,) = torch.autograd.grad(ours, z)
    (g2,) = torch.autograd.grad(ref, z)
    torch.testing.assert_close(g1, g2, rtol=1e-10, atol=1e-14)
    extreme = torch.tensor([[1e4, -1e4, 0.0], [-1e4, 1e4, 0.0]], dtype=F64)
    for y in (torch.tensor([0, 1]), torch.tensor([2, 2]), torch.tensor([1, 0])):
        # finite where torch is finite (exp(1e4) = inf is the true value in the last case)
        ref = torch.exp(F.cross_entropy(extreme, y))
        torch.testing.assert_close(M.perplexity(extreme, y), ref, rtol=1e-12, atol=0)
    close(M.perplexity(extreme, torch.tensor([0, 1])), 1.0)


def test_bad_perplexity_inputs_rejected():
    z, y = torch.randn(4, 5), torch.tensor([0, 1, 2, 3])
    with pytest.raises(ValueError, match="`logits` must have a floating-point dtype"):
        M.perplexity(z.long(), y)
    with pytest.raises(ValueError, match=r"`target` must have shape logits.shape\[:-1\] = "
                                         r"\(4,\), got \(3,\)"):
        M.perplexity(z, y[:3])
    with pytest.raises(ValueError, match=r"`target` must hold labels in \[0, 5\)"):
        M.perplexity(z, torch.tensor([0, 1, 2, 5]))
    with pytest.raises(ValueError, match="`logits` must be at least 2-dimensional"):
        M.perplexity(z[0], y[0])
