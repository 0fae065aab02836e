# Copyright (c) mmhier contributors. All rights reserved.
"""Solvers for the sizes of the DHNN conversions (appendices A and B).

The DHNN paper (Koo, Klabjan and Utke) converts a stage map ``a_s`` of shape
``D_s x H_s x W_s`` into a vector of a fixed length ``p``. The convolutional
and pooling conversions only give exactly ``p`` values for some kernels,
strides and paddings; appendices A and B of the paper list the equations that
these must satisfy. These modules solve them: one axis in
:mod:`.conversion_windows`, the conv in :mod:`.conv_conversion_params`, the
pooling in :mod:`.pool_conversion_params`, the n-mode products here; all are
re-exported here. They hold pure functions (no ``torch.nn``), so configs,
tools and tests can call them directly.

Notation (the paper's, with our tensor order ``(D, H, W)``): ``F`` kernel
(filter) size, ``G`` stride, ``Z`` zero padding, ``K`` number of filters. For
one spatial axis of length ``n`` the output length is

    o = (n - F + 2 Z) / G + 1,                               (appendix A)

and the solvers only accept solutions where the division is exact (no
flooring), so that every input position is seen and the output is exactly
``p`` long. The paper assumes square maps and solves both axes at once; we
solve the two axes independently, which gives the paper's answer on square
maps and also handles non-square ones.
"""
import math
from typing import Sequence, Tuple

from .conv_conversion_params import ConvParams, solve_conv_params
from .conversion_windows import (check_positive, divisors, feasible_pool_dims,
                                 solve_conv_window, solve_pool_window)
from .pool_conversion_params import PoolParams, solve_pool_params

__all__ = [
    'ConvParams', 'PoolParams', 'solve_conv_window', 'solve_pool_window',
    'solve_conv_params', 'solve_pool_params', 'solve_mode_dims',
    'feasible_pool_dims', 'divisors'
]


def solve_mode_dims(in_dims: Sequence[int], p: int) -> Tuple[int, int, int]:
    """Output sizes ``(m, n, v)`` of the n-mode products, ``m * n * v = p``.

    The linear conversion ``vec(a_s x_1 U1 x_2 U2 x_3 U3)`` (section 3.3)
    needs ``m * n * v = p`` but the paper does not say how to split ``p``.
    We take the factorisation closest to the input dims in log scale,
    minimising ``sum_k (log m_k - log d_k)^2``; as ``sum_k log m_k = log p``
    is fixed, this is the split that shrinks (or grows) every mode by the
    same factor as nearly as possible. Ties go to the larger ``m``, then the
    larger ``n``.

    Args:
        in_dims (Sequence[int]): ``(D_s, H_s, W_s)``.
        p (int): the wanted output length.

    Returns:
        tuple[int, int, int]: ``(m, n, v)``.

    Examples:
        >>> solve_mode_dims((256, 56, 56), 256)
        (16, 4, 4)
        >>> solve_mode_dims((2048, 7, 7), 2048)
        (512, 2, 2)
    """
    if len(in_dims) != 3:
        raise ValueError(f'in_dims must be (D, H, W), got {in_dims!r}')
    check_positive(p=p, **{f'in_dims[{i}]': d for i, d in enumerate(in_dims)})
    logs = [math.log(d) for d in in_dims]
    best = None
    for m in divisors(p):
        for n in divisors(p // m):
            dims = (m, n, p // (m * n))
            cost = round(
                sum((math.log(x) - y)**2 for x, y in zip(dims, logs)), 9)
            key = (cost, -m, -n)
            if best is None or key < best[0]:
                best = (key, dims)
    return best[1]
