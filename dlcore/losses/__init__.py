r"""Losses of the chapter *Losses*, each equal to its PyTorch reference where torch has one.

* :mod:`~dlcore.losses.information` — entropy, conditional entropy, KL divergence and mutual
  information of probability tables, and :func:`kl_div` as :func:`torch.nn.functional.kl_div`;
* :mod:`~dlcore.losses.regression` — :func:`mse_loss`, :func:`l1_loss`, :func:`huber_loss`,
  :func:`smooth_l1_loss`;
* :mod:`~dlcore.losses.classification` — :func:`cross_entropy` (class indices or
  probabilities, weights, label smoothing), :func:`nll_loss`, :func:`binary_cross_entropy`,
  :func:`binary_cross_entropy_with_logits`;
* :mod:`~dlcore.losses.distillation` — :func:`distillation_loss` (Hinton et al. 2015);
* :mod:`~dlcore.losses.imbalance` — class-balanced weights, resampling probabilities, focal
  losses, logit adjustment and the Dice loss.

Every public name is importable from ``dlcore.losses`` itself.
"""

from __future__ import annotations

from dlcore.losses import classification, distillation, imbalance, information, regression
from dlcore.losses.classification import *  # noqa: F403
from dlcore.losses.distillation import *  # noqa: F403
from dlcore.losses.imbalance import *  # noqa: F403
from dlcore.losses.information import *  # noqa: F403
from dlcore.losses.regression import *  # noqa: F403

__all__ = [*information.__all__, *regression.__all__, *classification.__all__,
           *distillation.__all__, *imbalance.__all__]
