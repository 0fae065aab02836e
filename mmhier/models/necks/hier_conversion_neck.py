# Copyright (c) mmhier contributors. All rights reserved.
import copy
from typing import List, Optional, Sequence, Tuple, Union

import torch
import torch.nn as nn
from mmengine.model import BaseModule
from mmpretrain.registry import MODELS

from .stage_utils import (STAGE_ORDERS, Size, check_stage_groups,
                          default_strides, make_stage_groups,
                          stage_shapes_from_strides)

__all__ = ['HierConversionNeck']

#: short names accepted by ``conversion``
CONVERSION_ALIASES = {
    'linear': dict(type='HierLinearConversion'),
    'linear_full': dict(type='HierLinearConversion', full=True),
    'conv': dict(type='HierConvConversion'),
    'pool': dict(type='HierPoolConversion', mode='max'),
    'pool_avg': dict(type='HierPoolConversion', mode='avg'),
    'pool_mode': dict(type='HierPoolConversion', projection='mode'),
    'pool_mode_global': dict(
        type='HierPoolConversion', projection='mode', out_size=(1, 1)),
}


@MODELS.register_module()
class HierConversionNeck(BaseModule):
    """The DHNN conversion: stage maps to one ``p``-vector per step.

    Implements eq. (u_t) of section 3.1 of the DHNN paper,

    .. math::
        u_t = \\frac{1}{|S_t|} \\sum_{s \\in S_t} g(a_s; \\alpha_s),
        \\quad t = 1, \\dots, T,

    where ``a_s`` (``B x D_s x H_s x W_s``) are the stage maps of a backbone
    (any mmpretrain backbone returning several stages through
    ``out_indices``), ``S_t`` the stages of step ``t`` (``stage_groups``) and
    ``g`` a conversion to ``R^p`` (``conversion``): one module per stage
    named in some group, built for that stage's shape, and shared by all the
    steps that use the stage. The output is the tuple ``(u, )`` with ``u`` of
    shape ``(B, T, p)``.

    **Stage shapes.** The conversions are built eagerly, in ``__init__``,
    from declared stage shapes, so that every parameter exists before
    mmengine's Runner builds the optimizer and loads checkpoints (lazy
    construction on the first forward would leave both without the
    conversion weights). The shapes come from, in order of precedence:

    1. ``in_shapes=[(D_s, H_s, W_s), ...]``, e.g. from
       :func:`~mmhier.models.necks.infer_stage_shapes` (exact for any
       backbone and input size);
    2. ``in_channels`` with ``input_size`` (default 224) and ``strides``
       (default: the last stage at stride 32, each earlier one at half the
       stride, as ResNet ``(4, 8, 16, 32)`` and VGG ``(2, 4, 8, 16, 32)``):
       ``H_s = ceil(H / stride_s)``.

    Non-square sizes work: give ``input_size=(H, W)``. In the forward pass the
    actual stage shapes are checked against the declared ones: the pooling
    conversion adapts to other spatial sizes (it re-solves its window for
    the same pooled size), while the linear and convolutional ones cannot
    (their weights or output length depend on ``H_s, W_s``) and raise an
    error that names the stage, both shapes and the ``in_shapes`` to set.

    **Stage groups.** ``stage_groups[t]`` lists the stage indices (0-based,
    in the order of the backbone's output tuple) averaged at step ``t``; step
    0 feeds the coarsest tree level. Groups must be non-empty and name
    existing stages; a stage may appear in several steps. No order is
    imposed because the paper is inconsistent: its definition of ``S_t``
    makes the groups increasing (shallow stages for the coarse steps,
    ``'shallow_to_coarse'``), its motivation gives the reverse (deep,
    object-level stages for the coarse steps, ``'deep_to_coarse'``). For
    ResNet's four stages and ``T = 4`` the two readings are ``[[0], [1],
    [2], [3]]`` and ``[[3], [2], [1], [0]]``. Passing one of the two order
    names with ``num_steps=T`` builds the groups with
    :func:`~mmhier.models.necks.make_stage_groups`.

    Args:
        in_channels (Sequence[int], optional): ``D_s`` of every stage the
            backbone returns. Needed unless ``in_shapes`` is given.
        out_channels (int): ``p``, the length of every ``u_t``.
        stage_groups (Sequence[Sequence[int]] | str): ``S_1, ..., S_T`` as
            lists of stage indices, or ``'shallow_to_coarse'`` /
            ``'deep_to_coarse'`` together with ``num_steps``.
        conversion (str | dict): the conversion ``g``: a config such as
            ``dict(type='HierPoolConversion', mode='avg')`` (the neck adds
            ``in_shape`` and ``out_channels``) or a short name: ``'linear'``
            (n-mode products), ``'linear_full'`` (``nn.Linear``), ``'conv'``,
            ``'pool'`` (max pooling, no weights), ``'pool_avg'``,
            ``'pool_mode'`` (max pooling to a 4x4 grid, then n-mode
            products), ``'pool_mode_global'`` (global max pooling, then
            n-mode products). Defaults to ``'pool'``.
        num_steps (int, optional): ``T``, only with an order name as
            ``stage_groups``.
        in_shapes (Sequence[Sequence[int]], optional): ``(D_s, H_s, W_s)`` of
            every stage. Defaults to None.
        input_size (int | Sequence[int]): image size ``(H, W)`` the model is
            built for, used when ``in_shapes`` is None. Defaults to 224.
        strides (Sequence[int], optional): total stride of every stage, used
            when ``in_shapes`` is None. Defaults to None (see above).
        init_cfg (dict | list[dict], optional): mmengine init config.
            Defaults to None.

    Examples:
        >>> neck = MODELS.build(dict(
        ...     type='HierConversionNeck',
        ...     in_channels=(256, 512, 1024, 2048),
        ...     out_channels=2048,
        ...     stage_groups=[[0, 1], [2], [3]],
        ...     conversion='pool'))
        >>> feats = tuple(torch.rand(2, d, 224 // s, 224 // s) for d, s in
        ...               zip((256, 512, 1024, 2048), (4, 8, 16, 32)))
        >>> neck(feats)[0].shape
        torch.Size([2, 3, 2048])
    """

    def __init__(self,
                 in_channels: Optional[Sequence[int]] = None,
                 out_channels: Optional[int] = None,
                 stage_groups: Union[Sequence[Sequence[int]], str,
                                     None] = None,
                 conversion: Union[str, dict] = 'pool',
                 num_steps: Optional[int] = None,
                 in_shapes: Optional[Sequence[Sequence[int]]] = None,
                 input_size: Size = 224,
                 strides: Optional[Sequence[int]] = None,
                 init_cfg: Optional[Union[dict, list]] = None) -> None:
        super().__init__(init_cfg=init_cfg)
        if out_channels is None:
            raise ValueError('out_channels (p, the length of every u_t) is '
                             'required')
        self.out_channels = out_channels
        self.in_shapes, self._shape_origin = self._resolve_shapes(
            in_channels, in_shapes, input_size, strides)
        self.in_channels = [shape[0] for shape in self.in_shapes]
        self.num_stages = len(self.in_shapes)

        if stage_groups is None:
            raise ValueError(
                f'stage_groups is required: a list of stage-index lists, one '
                f'per step, or one of {STAGE_ORDERS} with num_steps')
        if isinstance(stage_groups, str):
            if num_steps is None:
                raise ValueError(f'stage_groups={stage_groups!r} needs '
                                 f'num_steps (T)')
            stage_groups = make_stage_groups(self.num_stages, num_steps,
                                             stage_groups)
        elif num_steps is not None and num_steps != len(stage_groups):
            raise ValueError(f'num_steps={num_steps} but stage_groups has '
                             f'{len(stage_groups)} groups: {stage_groups!r}')
        self.stage_groups = check_stage_groups(stage_groups, self.num_stages)
        self.num_steps = len(self.stage_groups)

        self.conversion_cfg = self._conversion_cfg(conversion)
        self.used_stages = sorted({s for g in self.stage_groups for s in g})
        self.conversions = nn.ModuleDict(
            {str(s): self._build_conversion(s)
             for s in self.used_stages})
        # (T, S_used) averaging weights: eq. (u_t) as one einsum
        column = {s: i for i, s in enumerate(self.used_stages)}
        weights = torch.zeros(self.num_steps, len(self.used_stages))
        for t, group in enumerate(self.stage_groups):
            for s in group:
                weights[t, column[s]] = 1.0 / len(group)
        self.register_buffer('step_weights', weights, persistent=False)

    def _build_conversion(self, stage: int) -> nn.Module:
        cfg = dict(
            copy.deepcopy(self.conversion_cfg),
            in_shape=tuple(self.in_shapes[stage]),
            out_channels=self.out_channels)
        try:
            return MODELS.build(cfg)
        except ValueError as err:
            # name the stage: the conversion only knows its shape
            raise ValueError(
                f'{type(self).__name__}: cannot build {cfg["type"]} for stage '
                f'{stage} of shape {self.in_shapes[stage]} '
                f'({self._shape_origin}): {err}') from err

    @staticmethod
    def _resolve_shapes(in_channels, in_shapes, input_size,
                        strides) -> Tuple[List[Tuple[int, int, int]], str]:
        if in_shapes is not None:
            shapes = []
            for s, shape in enumerate(in_shapes):
                if (isinstance(shape, (str, bytes))
                        or not isinstance(shape, Sequence) or len(shape) != 3
                        or not all(
                            isinstance(d, int) and not isinstance(d, bool)
                            and d >= 1 for d in shape)):
                    raise ValueError(f'in_shapes[{s}]={shape!r} must be three '
                                     f'positive ints (D_s, H_s, W_s)')
                shapes.append(tuple(shape))
            if not shapes:
                raise ValueError('in_shapes is empty')
            if in_channels is not None and list(in_channels) != [
                    shape[0] for shape in shapes
            ]:
                raise ValueError(
                    f'in_channels={list(in_channels)} disagrees with the '
                    f'depths of in_shapes={shapes}')
            return shapes, 'from in_shapes'
        if in_channels is None or len(in_channels) == 0:
            raise ValueError('give in_channels (one per backbone stage) or '
                             'in_shapes')
        if isinstance(in_channels, int):
            raise TypeError(f'in_channels must be a sequence with one depth '
                            f'per stage, got {in_channels!r}')
        if strides is None:
            strides = default_strides(len(in_channels))
        shapes = stage_shapes_from_strides(in_channels, input_size, strides)
        return shapes, (f'from input_size={input_size!r} and '
                        f'strides={tuple(strides)}')

    @staticmethod
    def _conversion_cfg(conversion: Union[str, dict]) -> dict:
        if isinstance(conversion, str):
            if conversion not in CONVERSION_ALIASES:
                raise ValueError(
                    f'unknown conversion {conversion!r}; use a config dict or '
                    f'one of {sorted(CONVERSION_ALIASES)}')
            return dict(CONVERSION_ALIASES[conversion])
        if not isinstance(conversion, dict) or 'type' not in conversion:
            raise ValueError(f'conversion must be a short name or a config '
                             f'dict with a type, got {conversion!r}')
        for key in ('in_shape', 'out_channels'):
            if key in conversion:
                raise ValueError(f'conversion={conversion!r} sets {key!r}, '
                                 f'which the neck fills in per stage')
        return dict(conversion)

    def _check_feats(self, inputs: Sequence[torch.Tensor]) -> None:
        if len(inputs) != self.num_stages:
            raise ValueError(
                f'{type(self).__name__} was built for {self.num_stages} '
                f'stages (in_channels={self.in_channels}), but the backbone '
                f'gave {len(inputs)} maps; match its out_indices')
        for s in self.used_stages:
            actual = tuple(inputs[s].shape[1:])
            declared = self.in_shapes[s]
            if actual == declared:
                continue
            conv = self.conversions[str(s)]
            if len(actual) == 3 and actual[0] == declared[0] and getattr(
                    conv, 'shape_adaptive', False):
                continue
            all_shapes = [tuple(f.shape[1:]) for f in inputs]
            raise ValueError(
                f'{type(self).__name__}: stage {s} gave a map of shape (D, '
                f'H, W)={actual}, but the neck was built for {declared} '
                f'({self._shape_origin}), and its {type(conv).__name__} '
                f'cannot take another shape. Build the neck with in_shapes='
                f'{all_shapes} (or input_size=(H, W) of the images you '
                f'feed), or use the pooling conversion, which adapts to the '
                f'spatial size')

    def forward(
        self, inputs: Union[torch.Tensor, Sequence[torch.Tensor]]
    ) -> Tuple[torch.Tensor]:
        """Convert the stage maps.

        Args:
            inputs (Tensor | Sequence[Tensor]): the backbone's stage maps
                ``a_s``, each of shape ``(B, D_s, H_s, W_s)``.

        Returns:
            tuple[Tensor]: ``(u, )`` with ``u`` of shape ``(B, T, p)``.
        """
        if isinstance(inputs, torch.Tensor):
            inputs = (inputs, )
        self._check_feats(inputs)
        converted = torch.stack(
            [self.conversions[str(s)](inputs[s]) for s in self.used_stages],
            dim=1)  # (B, S_used, p)
        # eq. (u_t) of section 3.1: u_t = mean_{s in S_t} g(a_s)
        u = torch.einsum('ts,bsp->btp', self.step_weights.to(converted.dtype),
                         converted)
        return (u, )

    def extra_repr(self) -> str:
        return (f'in_shapes={self.in_shapes}, out_channels='
                f'{self.out_channels}, stage_groups={self.stage_groups}')
