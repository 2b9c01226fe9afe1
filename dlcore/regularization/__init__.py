r"""Regularizers of the chapter *Regularization*, each equal to its PyTorch reference where torch
has one.

* :mod:`~dlcore.regularization.norm` — batch, layer, instance and group normalization as
  functions (batch norm with its running estimates), equal to ``torch.nn.functional``'s;
* :mod:`~dlcore.regularization.dropout` — inverted dropout and multi-sample dropout;
* :mod:`~dlcore.regularization.penalties` — L1 and L2 penalties and the max-norm constraint;
* :mod:`~dlcore.regularization.augment` — flips, crops, rotations, colour shifts, PCA colour
  augmentation, cutout, random erasing, mixup, CutMix, RICAP and a policy applier for
  AutoAugment- and RandAugment-style operations;
* :mod:`~dlcore.regularization.adversarial` — FGSM, FGM and PGD attacks that leave the model
  as they found it.

Every public name is importable from ``dlcore.regularization`` itself.
"""

from __future__ import annotations

from dlcore.regularization import adversarial, augment, dropout, norm, penalties
from dlcore.regularization.adversarial import *  # noqa: F403
from dlcore.regularization.augment import *  # noqa: F403
from dlcore.regularization.dropout import *  # noqa: F403
from dlcore.regularization.norm import *  # noqa: F403
from dlcore.regularization.penalties import *  # noqa: F403

__all__ = [*norm.__all__, *dropout.__all__, *penalties.__all__, *augment.__all__,
           *adversarial.__all__]
