r"""Layers of the chapter *Architectures*, written from their equations and equal to PyTorch's.

* :mod:`~dlcore.layers.conv` — :func:`conv1d`, :func:`conv2d` (a sum over the kernel, then
  unfold + matrix multiply), :func:`conv_output_size`, :func:`receptive_field`,
  :func:`conv_params`, :func:`conv_macs`;
* :mod:`~dlcore.layers.sampling` — :func:`bilinear_sample`, :func:`affine_grid`,
  :func:`affine_sample` and :func:`deform_conv2d` (bilinear sampling: the spatial transformer
  and deformable convolution);
* :mod:`~dlcore.layers.pooling` — :func:`kmax_pool`, :func:`chunk_max_pool`,
  :func:`attention_pool` and the capsule layer's routing;
* :mod:`~dlcore.layers.recurrent` — :func:`rnn`, :func:`lstm`, their :func:`bidirectional`
  form and the output-feedback :func:`jordan` network, with the weights, shapes and gate
  order of :class:`torch.nn.RNN` and :class:`torch.nn.LSTM`;
* :mod:`~dlcore.layers.attention` — :func:`scaled_dot_product_attention`,
  :func:`attention_weights`, :func:`multi_head_attention` and :func:`sinusoidal_positions`.

Every public name is importable from ``dlcore.layers`` itself.
"""

from __future__ import annotations

from dlcore.layers import attention, conv, pooling, recurrent, sampling
from dlcore.layers.attention import *  # noqa: F403
from dlcore.layers.conv import *  # noqa: F403
from dlcore.layers.pooling import *  # noqa: F403
from dlcore.layers.recurrent import *  # noqa: F403
from dlcore.layers.sampling import *  # noqa: F403

__all__ = [*conv.__all__, *sampling.__all__, *pooling.__all__, *recurrent.__all__,
           *attention.__all__]
