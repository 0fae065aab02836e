# Copyright (c) mmhier contributors. All rights reserved.
from typing import Optional, Sequence, Tuple, Union

import torch
from mmengine.model import BaseModule

__all__ = ['BaseHierConversion']


class BaseHierConversion(BaseModule):
    """Base of the DHNN conversions ``g: R^{D_s x H_s x W_s} -> R^p``.

    A conversion turns one stage map ``a_s`` of shape ``(B, D_s, H_s, W_s)``
    into ``g(a_s)`` of shape ``(B, p)`` (section 3.1 of the DHNN paper). It is
    built for one declared stage shape ``in_shape = (D_s, H_s, W_s)``.

    Subclasses set :attr:`shape_adaptive`: True when the module also works on
    maps of another spatial size than the declared one (it still returns
    ``p`` values), False when its weights or its output length depend on
    ``(H_s, W_s)``; :class:`HierConversionNeck` then refuses other sizes with
    a message that says what to set.

    Args:
        in_shape (Sequence[int]): ``(D_s, H_s, W_s)`` of the stage map.
        out_channels (int): ``p``, the length of ``g(a_s)``.
        init_cfg (dict | list[dict], optional): mmengine initialisation
            config. Defaults to None.
    """

    #: whether the module accepts other spatial sizes than ``in_shape``
    shape_adaptive: bool = False

    def __init__(self,
                 in_shape: Sequence[int],
                 out_channels: int,
                 init_cfg: Optional[Union[dict, list]] = None) -> None:
        super().__init__(init_cfg=init_cfg)
        self.in_shape: Tuple[int, int, int] = self._check_shape(in_shape)
        if (isinstance(out_channels, bool)
                or not isinstance(out_channels, int) or out_channels < 1):
            raise ValueError(f'out_channels (p) must be a positive int, got '
                             f'{out_channels!r}')
        self.out_channels = out_channels

    @staticmethod
    def _check_shape(in_shape: Sequence[int]) -> Tuple[int, int, int]:
        if (not isinstance(in_shape, Sequence) or len(in_shape) != 3
                or not all(
                    isinstance(d, int) and not isinstance(d, bool) and d >= 1
                    for d in in_shape)):
            raise ValueError(f'in_shape must be three positive ints (D_s, '
                             f'H_s, W_s), got {in_shape!r}')
        return tuple(in_shape)

    def _check_input(self, x: torch.Tensor) -> None:
        """Raise if ``x`` cannot be converted by this module."""
        if x.dim() != 4:
            raise ValueError(f'{type(self).__name__} expects a (B, D, H, W) '
                             f'map, got shape {tuple(x.shape)}')
        shape = tuple(x.shape[1:])
        if shape[0] != self.in_shape[0] or (not self.shape_adaptive
                                            and shape != self.in_shape):
            raise ValueError(
                f'{type(self).__name__} was built for maps of shape (D, H, '
                f'W)={self.in_shape}, got {shape}')

    def extra_repr(self) -> str:
        return f'in_shape={self.in_shape}, out_channels={self.out_channels}'
