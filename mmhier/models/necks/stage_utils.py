# Copyright (c) mmhier contributors. All rights reserved.
"""Helpers around backbone stages: their shapes and the step groups ``S_t``.

These are plain functions (nothing registered), for the conversion neck,
configs, tools and tests.
"""
import math
from typing import List, Sequence, Tuple, Union

import torch

__all__ = [
    'STAGE_ORDERS', 'make_stage_groups', 'check_stage_groups',
    'default_strides', 'stage_shapes_from_strides', 'infer_stage_shapes'
]

#: the two orders of :func:`make_stage_groups`
STAGE_ORDERS = ('shallow_to_coarse', 'deep_to_coarse')

Size = Union[int, Sequence[int]]


def _pair(size: Size, name: str) -> Tuple[int, int]:
    if isinstance(size, int) and not isinstance(size, bool):
        size = (size, size)
    if (not isinstance(size, Sequence) or len(size) != 2 or not all(
            isinstance(s, int) and not isinstance(s, bool) and s >= 1
            for s in size)):
        raise ValueError(f'{name} must be a positive int or (height, width), '
                         f'got {size!r}')
    return tuple(size)


def make_stage_groups(num_stages: int,
                      num_steps: int,
                      order: str = 'shallow_to_coarse') -> List[List[int]]:
    """Default stage groups ``S_1, ..., S_T`` of the DHNN conversion.

    Step ``t`` of a sequence head predicts level ``t + 1`` of the tree (step 0
    the coarsest level), from ``u_t``, the mean of the converted maps of the
    stages in ``S_t`` (section 3.1). The paper is of two minds about which
    stages feed the coarse steps:

    * ``'shallow_to_coarse'``: the paper's definition of ``S_t`` asks the
      groups to be increasing (``i in S_n``, ``j in S_{n+1}`` imply ``i <
      j``), so the first (coarsest) step reads the shallowest stages.
    * ``'deep_to_coarse'``: the paper's motivation (deep, object-level
      features for the top of the tree; shallow, detailed features for the
      bottom) gives the reverse, the deepest stages at the first step.

    Neither is enforced by :class:`HierConversionNeck`; pick one per config.

    Stages are split into contiguous groups as evenly as possible: with
    ``T <= L`` stage ``s`` goes to group ``floor(s T / L)`` (every stage
    used once); with ``T > L`` group ``t`` holds stage ``floor(t L / T)``
    (some stages used by several steps). ``'deep_to_coarse'`` reverses the
    list of groups.

    Args:
        num_stages (int): ``L``, the number of stage maps of the backbone.
        num_steps (int): ``T``, the number of steps (tree depth).
        order (str): ``'shallow_to_coarse'`` or ``'deep_to_coarse'``.

    Returns:
        list[list[int]]: ``T`` lists of stage indices.

    Examples:
        >>> make_stage_groups(4, 2)
        [[0, 1], [2, 3]]
        >>> make_stage_groups(4, 3, 'deep_to_coarse')
        [[3], [2], [0, 1]]
        >>> make_stage_groups(4, 6)
        [[0], [0], [1], [2], [2], [3]]
    """
    for name, value in (('num_stages', num_stages), ('num_steps', num_steps)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f'{name} must be a positive int, got {value!r}')
    if order not in STAGE_ORDERS:
        raise ValueError(f'order must be one of {STAGE_ORDERS}, got {order!r}')
    if num_steps <= num_stages:
        groups = [[] for _ in range(num_steps)]
        for s in range(num_stages):
            groups[s * num_steps // num_stages].append(s)
    else:
        groups = [[t * num_stages // num_steps] for t in range(num_steps)]
    return groups[::-1] if order == 'deep_to_coarse' else groups


def check_stage_groups(stage_groups: Sequence[Sequence[int]],
                       num_stages: int) -> List[List[int]]:
    """Validate ``stage_groups`` against ``num_stages`` and return a copy.

    Every step needs a non-empty group of distinct, existing stage indices
    (``0 <= s < num_stages``). No order between the groups is imposed (see
    :func:`make_stage_groups`).

    Raises:
        ValueError / TypeError: naming the bad group.
    """
    if (isinstance(stage_groups, (str, bytes))
            or not isinstance(stage_groups, Sequence)):
        raise TypeError(f'stage_groups must be a list of lists of stage '
                        f'indices, got {stage_groups!r}')
    if len(stage_groups) == 0:
        raise ValueError('stage_groups must name at least one step, got '
                         f'{stage_groups!r}')
    groups = []
    for t, group in enumerate(stage_groups):
        if (isinstance(group, (str, bytes))
                or not isinstance(group, Sequence)):
            raise TypeError(f'stage_groups[{t}]={group!r} must be a list of '
                            f'stage indices')
        if len(group) == 0:
            raise ValueError(f'stage_groups[{t}]={list(group)} is empty; '
                             f'every step needs at least one stage')
        seen = set()
        for s in group:
            if isinstance(s, bool) or not isinstance(s, int):
                raise TypeError(f'stage_groups[{t}]={list(group)} holds '
                                f'{s!r}, which is not a stage index (int)')
            if not 0 <= s < num_stages:
                raise ValueError(
                    f'stage_groups[{t}]={list(group)} names stage {s}, but '
                    f'the backbone gives {num_stages} stages (indices 0..'
                    f'{num_stages - 1})')
            if s in seen:
                raise ValueError(f'stage_groups[{t}]={list(group)} names '
                                 f'stage {s} twice')
            seen.add(s)
        groups.append(list(group))
    return groups


def default_strides(num_stages: int) -> Tuple[int, ...]:
    """Strides of ``num_stages`` stages ending at 32, each twice the last.

    This is the layout of ResNet / SE-ResNet (``(4, 8, 16, 32)``) and VGG
    (``(2, 4, 8, 16, 32)``) with all stages returned, and of any contiguous
    suffix of their stages (e.g. ResNet's ``out_indices=(1, 2, 3)``).
    """
    if not 1 <= num_stages <= 6:
        raise ValueError(f'no default strides for {num_stages} stages; pass '
                         f'strides or in_shapes explicitly')
    return tuple(32 >> (num_stages - 1 - i) for i in range(num_stages))


def stage_shapes_from_strides(
        in_channels: Sequence[int], input_size: Size,
        strides: Sequence[int]) -> List[Tuple[int, int, int]]:
    """Stage shapes ``(D_s, ceil(H / stride_s), ceil(W / stride_s))``.

    Rounding up matches ResNet-like backbones (padded stride-2 convs and
    pools). VGG's unpadded pools round down instead; the two agree when the
    input size is a multiple of the largest stride (e.g. 224, 160, 192x256).
    Otherwise use :func:`infer_stage_shapes` for the exact shapes.

    Args:
        in_channels (Sequence[int]): ``D_s`` of every stage.
        input_size (int | Sequence[int]): image ``(H, W)`` (an int: square).
        strides (Sequence[int]): total stride of every stage.

    Returns:
        list[tuple[int, int, int]]: ``(D_s, H_s, W_s)`` of every stage.
    """
    height, width = _pair(input_size, 'input_size')
    if len(strides) != len(in_channels):
        raise ValueError(f'strides={tuple(strides)} must give one stride per '
                         f'stage of in_channels={tuple(in_channels)}')
    return [(int(d), math.ceil(height / s), math.ceil(width / s))
            for d, s in zip(in_channels, strides)]


def infer_stage_shapes(backbone: Union[dict, torch.nn.Module],
                       input_size: Size) -> List[Tuple[int, int, int]]:
    """Exact ``(D_s, H_s, W_s)`` of a backbone's stage maps.

    Builds the backbone (when given a config) and runs it once, in eval mode
    and without gradients, on a zero image of batch 1.

    Args:
        backbone (dict | nn.Module): a backbone config for mmpretrain's
            ``MODELS`` (e.g. ``dict(type='ResNet', depth=50, out_indices=(0,
            1, 2, 3))``) or a built backbone.
        input_size (int | Sequence[int]): image ``(H, W)`` (an int: square).

    Returns:
        list[tuple[int, int, int]]: one shape per returned stage; pass it as
        ``in_shapes`` to :class:`HierConversionNeck`.

    Examples:
        >>> infer_stage_shapes(dict(type='ResNet', depth=18,
        ...                         out_indices=(0, 1, 2, 3)), (64, 96))
        [(64, 16, 24), (128, 8, 12), (256, 4, 6), (512, 2, 3)]
    """
    height, width = _pair(input_size, 'input_size')
    if isinstance(backbone, dict):
        import mmpretrain.models  # noqa: F401 (fills the registry)
        from mmpretrain.registry import MODELS
        backbone = MODELS.build(backbone)
    was_training = backbone.training
    # mmpretrain's ResNet.train() returns None, so no chained .eval()
    backbone.eval()
    try:
        param = next(backbone.parameters(), None)
        device = param.device if param is not None else 'cpu'
        with torch.no_grad():
            feats = backbone(torch.zeros(1, 3, height, width, device=device))
    finally:
        backbone.train(was_training)
    if isinstance(feats, torch.Tensor):
        feats = (feats, )
    return [tuple(int(d) for d in f.shape[1:]) for f in feats]
