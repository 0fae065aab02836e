# Copyright (c) mmhier contributors. All rights reserved.
"""The pooling of the DHNN pooling conversion (appendix B)."""
from typing import NamedTuple, Optional, Sequence, Tuple

from .conversion_windows import (aspect_key, check_positive, check_size,
                                 factor_pairs, feasible_pool_dims, nearest,
                                 solve_pool_window)


class PoolParams(NamedTuple):
    """The solved pooling of the pooling conversion (no padding).

    Attributes:
        kernel_size (tuple[int, int]): ``(F_h, F_w)``.
        stride (tuple[int, int]): ``(G_h, G_w)``.
        out_size (tuple[int, int]): ``(h, w)``, the pooled map size.
        cases (tuple[int, int]): the case of appendix B of each axis (1:
            disjoint pooling ``F == G``, 2: overlapping ``F != G``).
    """
    kernel_size: Tuple[int, int]
    stride: Tuple[int, int]
    out_size: Tuple[int, int]
    cases: Tuple[int, int]


def solve_pool_params(channels: int,
                      height: int,
                      width: int,
                      p: int,
                      exact: bool = True,
                      out_size: Optional[Sequence[int]] = None) -> PoolParams:
    """Solve the pooling of the DHNN pooling conversion (appendix B).

    Pooling keeps the depth, ``D_pool = D_s``, so the pooled map has
    ``D_s * h * w`` values with ``h = (H_s - F_h) / G_h + 1`` and ``w = (W_s -
    F_w) / G_w + 1``; appendix B asks for

        p = D_pool * W_pool * H_pool = D_s * h * w,

    which on a square map with disjoint pooling (case 1, ``F = G``) gives
    ``F = W_s * sqrt(D_s / p)``. We generalise to non-square maps and to
    ``h != w``: ``q = p / D_s`` must be an integer, ``(h, w)`` is the
    factorisation ``h * w = q`` (``h <= H_s``, ``w <= W_s``) whose aspect
    ratio is closest to ``H_s / W_s`` (ties: the smaller ``h``), and each axis
    is solved by :func:`solve_pool_window`.

    Args:
        channels (int): ``D_s``.
        height (int): ``H_s``.
        width (int): ``W_s``.
        p (int): the wanted output length.
        exact (bool): if True, raise when no pooling gives exactly ``p``
            values. If False (the pooling is followed by a projection to
            ``p``), fall back to the largest pooled map with at most
            ``max(p, D_s)`` values (a global pooling when ``D_s >= p``).
            Defaults to True.
        out_size (Sequence[int], optional): force the pooled size ``(h, w)``;
            with ``exact=True`` it must give ``D_s * h * w == p``.

    Returns:
        PoolParams: kernel, stride, pooled size and appendix-B cases.

    Raises:
        ValueError: no exact solution (with ``exact=True``); the message names
            the nearest ``p`` that work.

    Examples:
        >>> solve_pool_params(512, 28, 28, 2048)   # F = 28 * sqrt(1/4) = 14
        PoolParams(kernel_size=(14, 14), stride=(14, 14), out_size=(2, 2),
                   cases=(1, 1))
    """
    check_positive(channels=channels, height=height, width=width, p=p)
    shape = f'{channels}x{height}x{width}'
    if out_size is not None:
        h, w = check_size(out_size, height, width, 'pool')
        if exact and channels * h * w != p:
            raise ValueError(
                f'pooling a {shape} map to out_size={(h, w)} gives '
                f'{channels * h * w} values, not p={p}; set p to '
                f'{channels * h * w} or add a projection to p')
    else:
        q, rem = divmod(p, channels)
        pairs = factor_pairs(q, height, width) if rem == 0 else []
        if not pairs:
            if exact:
                hw = (height, width)
                valid = [channels * k for k in feasible_pool_dims(*hw)]
                hint = ', '.join(
                    f'{v} (pooled to {_pool_size_text(v, channels, *hw)})'
                    for v in nearest(valid, p))
                raise ValueError(
                    f'no pooling of a {shape} map gives exactly p={p} '
                    f'values: pooling keeps the {channels} channels, so p '
                    f'must be {channels} * h * w for a pooled size h <= '
                    f'{height}, w <= {width} (appendix B). Nearest p that '
                    f'work: {hint}; or set projection=\'mode\' or '
                    f'\'linear\' to map the pooled values to p={p}')
            q = max(p // channels, 1)
            pairs = factor_pairs(q, height, width)
            while not pairs:
                q -= 1
                pairs = factor_pairs(q, height, width)
        h, w = min(pairs, key=lambda hw: aspect_key(*hw, height, width))
    fh, gh = solve_pool_window(height, h)
    fw, gw = solve_pool_window(width, w)
    return PoolParams((fh, fw), (gh, gw), (h, w),
                      (1 if fh == gh else 2, 1 if fw == gw else 2))


def _pool_size_text(p: int, channels: int, height: int, width: int) -> str:
    h, w = min(
        factor_pairs(p // channels, height, width),
        key=lambda hw: aspect_key(*hw, height, width))
    return f'{h}x{w}'
