r"""Regularizers of the chapter *Regularization*, each equal to its PyTorch reference where torch
has one.

* :mod:`~dlcore.regularization.norm` — batch, layer, instance and group normalization as
  functions (batch norm with its running estimates), equal to ``torch.nn.functional``'s;
* ``dlcore/regularization/dropout.py`` — inverted dropout and multi-sample dropout;
* :mod:`~dlcore.regularization.penalties` — L1 and L2 penalties and the max-norm constraint;
* :mod:`~dlcore.regularization.augment` — flips, crops, rotations, colour shifts, PCA colour
  augmentation and a policy applier for AutoAugment- and RandAugment-style operations;
* :mod:`~dlcore.regularization.mixing` — cutout and random erasing, which occlude a region,
  and mixup, CutMix and RICAP, which mix examples and their labels;
* :mod:`~dlcore.regularization.adversarial` — FGSM, FGM and PGD attacks that leave the model
  as they found it.

Every public name is importable from ``dlcore.regularization`` itself. There,
``dlcore.regularization.dropout`` is the function, which shadows the module of the same
name (its source is ``dlcore/regularization/dropout.py``).
"""

from __future__ import annotations

# the modules under private names: the function ``dropout`` shadows its module's name
from dlcore.regularization import adversarial as _adversarial
from dlcore.regularization import augment as _augment
from dlcore.regularization import dropout as _dropout
from dlcore.regularization import mixing as _mixing
from dlcore.regularization import norm as _norm
from dlcore.regularization import penalties as _penalties
from dlcore.regularization.adversarial import *  # noqa: F403
from dlcore.regularization.augment import *  # noqa: F403
from dlcore.regularization.dropout import *  # noqa: F403
from dlcore.regularization.mixing import *  # noqa: F403
from dlcore.regularization.norm import *  # noqa: F403
from dlcore.regularization.penalties import *  # noqa: F403

__all__ = [*_norm.__all__, *_dropout.__all__, *_penalties.__all__, *_augment.__all__,
           *_mixing.__all__, *_adversarial.__all__]
