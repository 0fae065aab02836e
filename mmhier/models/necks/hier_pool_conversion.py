# Copyright (c) mmhier contributors. All rights reserved.
from typing import Dict, Optional, Sequence, Tuple, Union

import torch
import torch.nn.functional as F
from mmpretrain.registry import MODELS

from .base_conversion import BaseHierConversion
from .conversion_solvers import (PoolParams, solve_pool_params,
                                 solve_pool_window)
from .hier_linear_conversion import HierLinearConversion

__all__ = ['HierPoolConversion']

_PROJECTIONS = (None, 'mode', 'linear')
# (kernel_size, stride) of a pooling
_Window = Tuple[Tuple[int, int], Tuple[int, int]]


@MODELS.register_module()
class HierPoolConversion(BaseHierConversion):
    """Pooling conversion of the DHNN paper (section 3.3, appendix B).

    .. math::
        g(a_s) = \\mathrm{vec}(\\mathrm{Pool}(a_s)) \\quad \\text{or} \\quad
        \\mathrm{vec}(\\mathrm{Pool}(a_s) \\times_1 U^1_s \\times_2 U^2_s
        \\times_3 U^3_s).

    The pooling (max or average, no padding) has no weights. Its kernel and
    stride are solved by
    :func:`~mmhier.models.necks.conversion_solvers.solve_pool_params` so that
    the pooled map has ``D_s * h * w`` values:

    * ``projection=None`` (default, the weight-free conversion the paper
      recommends): ``D_s * h * w`` must equal ``p`` (appendix B); when it
      cannot, a ``ValueError`` names the nearest ``p`` that work. For
      instance, with ResNet-50 stages and ``p = 256`` only the first stage
      (256 channels) can be pooled to ``p`` values.
    * ``projection='mode'``: each stage is pooled to a small spatial grid
      ``(h, w) = min(grid, (H_s, W_s))`` (default 4x4), which keeps the
      spatial layout, and the pooled ``(D_s, h, w)`` map is then mapped to
      ``p`` by n-mode products (a :class:`HierLinearConversion`), the
      formula of section 3.3. The authors' code keeps 4x4 or 7x7 maps before
      its linear layer; the appendix-B rule cannot give a grid when ``D_s >=
      p`` (it degenerates to a global 1x1 pooling, which throws the spatial
      layout away). Global pooling is only used when asked for with
      ``out_size=(1, 1)`` (the neck's ``'pool_mode_global'``).
    * ``projection='linear'``: as ``'mode'`` with a full ``nn.Linear``.

    ``out_size`` pins the pooled size ``(h, w)`` instead of ``grid``.

    The module adapts to other spatial sizes than the declared one: the
    pooled size ``(h, w)`` stays fixed (so the projection still fits and the
    output keeps ``p`` values) and the kernel and stride are solved again for
    the new ``(H, W)`` (cached per size). It fails only when the new map is
    smaller than ``(h, w)``.

    Args:
        in_shape (Sequence[int]): ``(D_s, H_s, W_s)``.
        out_channels (int): ``p``.
        mode (str): ``'max'`` or ``'avg'``. Defaults to ``'max'``.
        projection (str, optional): None, ``'mode'`` or ``'linear'``.
            Defaults to None.
        projection_cfg (dict, optional): extra keyword arguments of the
            projection's :class:`HierLinearConversion` (``mode_dims``,
            ``bias``). Defaults to None.
        out_size (Sequence[int], optional): force the pooled size ``(h, w)``.
            Defaults to None.
        grid (int | Sequence[int]): with a projection and no ``out_size``,
            the pooled grid ``(h, w)``, clipped to the map size. Defaults to
            4 (4x4).
        init_cfg (dict | list[dict], optional): mmengine init config.
            Defaults to None.

    Examples:
        >>> pool = MODELS.build(dict(type='HierPoolConversion',
        ...                          in_shape=(512, 28, 28),
        ...                          out_channels=2048))
        >>> pool.params.kernel_size   # 28 * sqrt(512 / 2048) = 14
        (14, 14)
        >>> pool(torch.rand(2, 512, 28, 28)).shape
        torch.Size([2, 2048])
    """

    shape_adaptive = True

    def __init__(self,
                 in_shape: Sequence[int],
                 out_channels: int,
                 mode: str = 'max',
                 projection: Optional[str] = None,
                 projection_cfg: Optional[dict] = None,
                 out_size: Optional[Sequence[int]] = None,
                 grid: Union[int, Sequence[int]] = 4,
                 init_cfg: Optional[Union[dict, list]] = None) -> None:
        super().__init__(in_shape, out_channels, init_cfg=init_cfg)
        if mode not in ('max', 'avg'):
            raise ValueError(f"mode must be 'max' or 'avg', got {mode!r}")
        if projection not in _PROJECTIONS:
            raise ValueError(f'projection must be one of {_PROJECTIONS}, got '
                             f'{projection!r}')
        if projection is None and projection_cfg:
            raise ValueError(f'projection_cfg={projection_cfg!r} needs a '
                             f"projection ('mode' or 'linear')")
        self.mode = mode
        self.projection_type = projection
        if projection is not None and out_size is None:
            out_size = self._grid_size(grid)
        self.params: PoolParams = solve_pool_params(
            *self.in_shape,
            out_channels,
            exact=projection is None,
            out_size=out_size)
        window = (self.params.kernel_size, self.params.stride)
        self._windows: Dict[Tuple[int, int], _Window] = {
            self.in_shape[1:]: window
        }
        if projection is None:
            self.projection = None
        else:
            pooled = (self.in_shape[0], *self.params.out_size)
            self.projection = HierLinearConversion(
                pooled,
                out_channels,
                full=projection == 'linear',
                **(projection_cfg or {}))

    def _grid_size(self, grid: Union[int, Sequence[int]]) -> Tuple[int, int]:
        """``grid`` as ``(h, w)``, clipped to the declared map size."""
        pair = (grid, grid) if isinstance(grid, int) else tuple(grid)
        if len(pair) != 2 or not all(
                isinstance(g, int) and not isinstance(g, bool) and g >= 1
                for g in pair):
            raise ValueError(f'grid must be a positive int or two positive '
                             f'ints (h, w), got {grid!r}')
        return (min(pair[0], self.in_shape[1]), min(pair[1], self.in_shape[2]))

    def _window(self, height: int, width: int) -> _Window:
        """Kernel and stride that pool ``(height, width)`` to ``out_size``."""
        if (height, width) not in self._windows:
            h, w = self.params.out_size
            if height < h or width < w:
                raise ValueError(
                    f'{type(self).__name__} pools to {h}x{w}, but got a '
                    f'{height}x{width} map (declared in_shape='
                    f'{self.in_shape})')
            fh, gh = solve_pool_window(height, h)
            fw, gw = solve_pool_window(width, w)
            self._windows[(height, width)] = ((fh, fw), (gh, gw))
        return self._windows[(height, width)]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Convert ``x`` of shape ``(B, D_s, H, W)`` to ``(B, p)``."""
        self._check_input(x)
        kernel, stride = self._window(x.shape[2], x.shape[3])
        pool = F.max_pool2d if self.mode == 'max' else F.avg_pool2d
        x = pool(x, kernel_size=kernel, stride=stride)
        if self.projection is not None:
            return self.projection(x)
        return x.flatten(1)

    def extra_repr(self) -> str:
        return (f'{super().extra_repr()}, mode={self.mode!r}, '
                f'kernel_size={self.params.kernel_size}, '
                f'stride={self.params.stride}, '
                f'out_size={self.params.out_size}')
