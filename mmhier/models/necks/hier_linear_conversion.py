# Copyright (c) mmhier contributors. All rights reserved.
import itertools
import math
from typing import Optional, Sequence, Tuple, Union

import torch
import torch.nn as nn
from mmpretrain.registry import MODELS

from .base_conversion import BaseHierConversion
from .conversion_solvers import solve_mode_dims

__all__ = ['HierLinearConversion']

_IN, _OUT = 'dhw', 'mnv'


@MODELS.register_module()
class HierLinearConversion(BaseHierConversion):
    """Linear conversion of the DHNN paper: n-mode products (section 3.3).

    .. math::
        g(a_s) = \\mathrm{vec}(a_s \\times_1 U^1_s \\times_2 U^2_s
                 \\times_3 U^3_s), \\quad m n v = p,

    with ``U1`` of shape ``(m, D_s)``, ``U2`` ``(n, H_s)`` and ``U3`` ``(v,
    W_s)``. The paper writes the map as ``D x W x H``; we keep PyTorch's ``(D,
    H, W)`` order, so ``U2`` acts on the height and ``U3`` on the width. The
    output is the row-major flattening of the ``(m, n, v)`` tensor.

    ``(m, n, v)`` is given by ``mode_dims`` or chosen by
    :func:`~mmhier.models.necks.conversion_solvers.solve_mode_dims`: the
    factorisation of ``p`` closest in log scale to ``(D_s, H_s, W_s)`` (every
    mode shrunk by about the same factor). The three products are applied in
    the order with the fewest multiplications for this shape.

    With ``full=True`` the conversion is instead a plain fully connected
    layer ``R^{D_s H_s W_s} -> R^p`` (``nn.Linear``) on the flattened map.

    Weights depend on ``(H_s, W_s)``, so the module only accepts maps of the
    declared shape.

    Args:
        in_shape (Sequence[int]): ``(D_s, H_s, W_s)``.
        out_channels (int): ``p``.
        mode_dims (Sequence[int], optional): ``(m, n, v)`` with ``m n v = p``.
            Defaults to None (solved).
        full (bool): use a full ``nn.Linear`` instead of the mode products.
            Defaults to False.
        bias (bool): add a learnt bias of length ``p`` (the paper has none).
            Defaults to False.
        init_cfg (dict | list[dict], optional): mmengine init config. The
            default initialisation draws each ``U_k`` from ``N(0, 1 / d_k)``
            (``d_k`` its input size), which keeps the variance of the values
            through the three products. Defaults to None.

    Examples:
        >>> conv = MODELS.build(dict(type='HierLinearConversion',
        ...                          in_shape=(2048, 7, 7), out_channels=256))
        >>> conv.mode_dims
        (256, 1, 1)
        >>> conv(torch.rand(2, 2048, 7, 7)).shape
        torch.Size([2, 256])
    """

    def __init__(self,
                 in_shape: Sequence[int],
                 out_channels: int,
                 mode_dims: Optional[Sequence[int]] = None,
                 full: bool = False,
                 bias: bool = False,
                 init_cfg: Optional[Union[dict, list]] = None) -> None:
        super().__init__(in_shape, out_channels, init_cfg=init_cfg)
        self.full = full
        if full:
            if mode_dims is not None:
                raise ValueError(f'mode_dims={mode_dims!r} has no meaning '
                                 f'with full=True')
            self.mode_dims = None
            self.linear = nn.Linear(
                math.prod(self.in_shape), out_channels, bias=bias)
            return
        if mode_dims is None:
            mode_dims = solve_mode_dims(self.in_shape, out_channels)
        elif (len(mode_dims) != 3
              or not all(isinstance(d, int) and d >= 1 for d in mode_dims)
              or math.prod(mode_dims) != out_channels):
            raise ValueError(f'mode_dims must be three positive ints (m, n, '
                             f'v) with m * n * v = p = {out_channels}, got '
                             f'{mode_dims!r}')
        self.mode_dims: Tuple[int, int, int] = tuple(mode_dims)
        # U1 (m, D), U2 (n, H), U3 (v, W)
        self.weights = nn.ParameterList([
            nn.Parameter(torch.empty(o, i))
            for o, i in zip(self.mode_dims, self.in_shape)
        ])
        self.bias = nn.Parameter(torch.zeros(out_channels)) if bias else None
        self._order = self._cheapest_order()
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Draw ``U_k ~ N(0, 1 / d_k)``, zero the bias."""
        if self.full:
            self.linear.reset_parameters()
            return
        for weight in self.weights:
            nn.init.normal_(weight, std=weight.shape[1]**-0.5)
        if self.bias is not None:
            nn.init.zeros_(self.bias)

    def _cheapest_order(self) -> Tuple[int, int, int]:
        """The order of the three mode products with the fewest MACs."""

        def cost(order):
            dims, total = list(self.in_shape), 0
            for k in order:
                total += math.prod(dims) * self.mode_dims[k]
                dims[k] = self.mode_dims[k]
            return total

        return min(itertools.permutations(range(3)), key=cost)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Convert ``x`` of shape ``(B, D_s, H_s, W_s)`` to ``(B, p)``."""
        self._check_input(x)
        if self.full:
            return self.linear(x.flatten(1))
        # eq. of section 3.3, a_s x_1 U1 x_2 U2 x_3 U3, as one einsum (one
        # op to launch, not three); the products run in the cheapest order
        # (opt_einsum's, or the operands' order without it)
        subscripts = ','.join(f'{_OUT[k]}{_IN[k]}' for k in self._order)
        x = torch.einsum(f'b{_IN},{subscripts}->b{_OUT}', x,
                         *[self.weights[k] for k in self._order])
        x = x.flatten(1)
        return x if self.bias is None else x + self.bias

    def extra_repr(self) -> str:
        extra = 'full=True' if self.full else f'mode_dims={self.mode_dims}'
        return f'{super().extra_repr()}, {extra}'
