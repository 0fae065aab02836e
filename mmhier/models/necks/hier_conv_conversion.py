# Copyright (c) mmhier contributors. All rights reserved.
from typing import Optional, Sequence, Union

import torch
import torch.nn as nn
from mmpretrain.registry import MODELS

from .base_conversion import BaseHierConversion
from .conversion_solvers import solve_conv_params

__all__ = ['HierConvConversion']


@MODELS.register_module()
class HierConvConversion(BaseHierConversion):
    """Convolutional conversion of the DHNN paper (section 3.3, app. A).

    .. math::
        g(a_s) = \\mathrm{vec}(\\mathrm{Conv}(a_s; \\alpha_s)),

    one ``nn.Conv2d`` with ``K`` filters of size ``F`` (stride ``G``, zero
    padding ``Z``) whose output has exactly ``p = K * h * w`` values
    (appendix A). ``K, F, G, Z`` are solved from ``(D_s, H_s, W_s)`` and ``p``
    by :func:`~mmhier.models.necks.conversion_solvers.solve_conv_params` (see
    it for the rule: output size balancing ``K`` against ``h * w``, then the
    smallest kernel); ``out_size`` or ``num_filters`` pin part of the
    solution, and a ``ValueError`` names the nearest ``p`` that work when the
    pinned values admit no exact solution. The solved values are kept in
    :attr:`params` (a ``ConvParams``).

    The output length depends on ``(H_s, W_s)``, so the module only accepts
    maps of the declared shape.

    Args:
        in_shape (Sequence[int]): ``(D_s, H_s, W_s)``.
        out_channels (int): ``p``.
        out_size (Sequence[int], optional): force the conv output size ``(h,
            w)``; ``out_size=(1, 1)`` is appendix A's case 1 (``F = W_s``,
            ``K = p``). Defaults to None.
        num_filters (int, optional): force ``K``. Defaults to None.
        bias (bool): conv bias. Defaults to True.
        init_cfg (dict | list[dict], optional): mmengine init config; the
            default is PyTorch's conv initialisation. Defaults to None.

    Examples:
        >>> conv = MODELS.build(dict(type='HierConvConversion',
        ...                          in_shape=(1024, 14, 14),
        ...                          out_channels=256))
        >>> conv.params.kernel_size, conv.params.padding
        ((4, 4), (1, 1))
        >>> conv(torch.rand(2, 1024, 14, 14)).shape
        torch.Size([2, 256])
    """

    def __init__(self,
                 in_shape: Sequence[int],
                 out_channels: int,
                 out_size: Optional[Sequence[int]] = None,
                 num_filters: Optional[int] = None,
                 bias: bool = True,
                 init_cfg: Optional[Union[dict, list]] = None) -> None:
        super().__init__(in_shape, out_channels, init_cfg=init_cfg)
        self.params = solve_conv_params(
            *self.in_shape,
            out_channels,
            out_size=out_size,
            num_filters=num_filters)
        self.conv = nn.Conv2d(
            self.in_shape[0],
            self.params.out_channels,
            kernel_size=self.params.kernel_size,
            stride=self.params.stride,
            padding=self.params.padding,
            bias=bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Convert ``x`` of shape ``(B, D_s, H_s, W_s)`` to ``(B, p)``."""
        self._check_input(x)
        return self.conv(x).flatten(1)
