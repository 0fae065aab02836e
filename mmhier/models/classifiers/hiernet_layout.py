# Copyright (c) mmhier contributors. All rights reserved.
"""Where HierNet cuts the backbone: segment boundaries and extra layers.

Section 3.3 of the paper; checked against the backbone's number of units so
that a bad config names the level and the unit.
"""
from typing import List, Sequence, Union

import numpy as np


def resolve_split_points(split_points: Sequence[Union[int, float]],
                         depth: int, num_units: int) -> List[int]:
    """Boundaries ``b_0 = 0 <= b_1 <= ... <= b_T = K`` of the segments.

    Args:
        split_points: ``T - 1`` cuts, ints (units before the cut) or
            fractions in ``[0, 1]`` of the units.
        depth: T, the depth of the tree.
        num_units: K, the number of backbone units.

    Returns:
        list[int]: the ``T + 1`` boundaries.
    """
    t, k = depth, num_units
    points = list(split_points)
    if len(points) != t - 1:
        raise ValueError(
            f'split_points={split_points!r} has {len(points)} values, '
            f'but the tree has {t} levels and needs {t - 1} (one cut '
            'per level below the root)')
    cuts = []
    for i, p in enumerate(points):
        if isinstance(p, float):
            if not 0.0 <= p <= 1.0:
                raise ValueError(
                    f'split_points[{i}]={p!r} is a float, so it must be '
                    'a fraction in [0, 1] of the backbone units')
            p = int(round(p * k))
        elif not isinstance(p, (int, np.integer)) or not 0 <= p <= k:
            raise ValueError(
                f'split_points[{i}]={p!r} must be an int in 0..{k} (the '
                f'backbone gives {k} units) or a fraction')
        cuts.append(int(p))
    bounds = [0] + cuts + [k]
    if any(a > b for a, b in zip(bounds, bounds[1:])):
        raise ValueError(f'split_points={split_points!r} (units {cuts}) '
                         'must be non-decreasing')
    return bounds


def resolve_extra_layers(extra_layers: Union[int, Sequence[int]], depth: int,
                         num_units: int,
                         boundaries: Sequence[int]) -> List[int]:
    """Extra units per level ``0 .. T-1`` (the last level gets 0).

    Args:
        extra_layers: An int for every level that can have them, or one
            int per level ``0 .. T-2``.
        depth: T, the depth of the tree.
        num_units: K, the number of backbone units.
        boundaries: The segment boundaries of :func:`resolve_split_points`.

    Returns:
        list[int]: ``T`` counts of extra units.
    """
    t, k = depth, num_units
    if isinstance(extra_layers, (int, np.integer)):
        extra = [int(extra_layers)] * (t - 1) + [0]
    else:
        extra = [int(e) for e in extra_layers]
        if len(extra) == t - 1:
            extra.append(0)
        if len(extra) != t or extra[-1] != 0:
            raise ValueError(
                f'extra_layers={extra_layers!r} must be an int or give '
                f'one value per level 0..{t - 2} (the {t - 1} levels '
                'whose edges end before the last backbone layer)')
    for level, e in enumerate(extra):
        end = boundaries[level + 1]
        if e < 0 or end + e > k:
            raise ValueError(
                f'extra_layers={extra_layers!r}: level {level} ends at '
                f'unit {end} of {k}, so it can take 0..{k - end} extra '
                f'units, got {e}')
    return extra
