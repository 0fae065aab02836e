# Copyright (c) mmhier contributors. All rights reserved.
"""One axis of the DHNN conversions, and the helpers the solvers share.

``o = (n - F + 2 Z) / G + 1`` solved exactly for one axis (appendices A and
B of the DHNN paper; notation in :mod:`.conversion_solvers`), plus the
factorisations and checks used by the conv and pool solvers.
"""
import math
from typing import List, Sequence, Tuple


def divisors(x: int) -> List[int]:
    """All positive divisors of ``x`` in increasing order."""
    small, large = [], []
    for d in range(1, math.isqrt(x) + 1):
        if x % d == 0:
            small.append(d)
            if d * d != x:
                large.append(x // d)
    return small + large[::-1]


def check_positive(**values: int) -> None:
    """Raise unless every keyword value is a positive int."""
    for name, value in values.items():
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f'{name} must be a positive int, got {value!r}')


def check_out_len(n: int, o: int, what: str) -> None:
    """Raise unless ``1 <= o <= n``."""
    check_positive(n=n, o=o)
    if o > n:
        raise ValueError(f'cannot {what} an axis of length {n} into {o} '
                         f'outputs: the output must not be longer than the '
                         f'input')


def solve_conv_window(n: int, o: int) -> Tuple[int, int, int]:
    """Kernel, stride and padding of a conv that maps ``n`` to ``o`` exactly.

    Solves ``o = (n - F + 2 Z) / G + 1`` (appendix A of the DHNN paper) with an
    exact division. Among all solutions with ``1 <= G <= F`` (no input
    position skipped) and ``0 <= Z <= F // 2`` (no window made of padding
    only), returns the one with the smallest kernel ``F``, then the smallest
    padding ``Z``. This rule picks the appendix's cases in order of cost:

    * ``o == 1``: case 1, ``F = n``, ``Z = 0`` (stride is irrelevant; we
      return ``G = n``).
    * ``F == G``: case 2 (disjoint windows, ``o = (n + 2 Z) / F``), whenever
      some ``F`` and small ``Z`` satisfy it, as it has the smallest kernel.
    * otherwise overlapping windows: case 4 (``1 < G < F``) or case 3
      (``G = 1``, ``F = n - o + 1``), which always exists.

    Args:
        n (int): input length (``H_s`` or ``W_s``).
        o (int): wanted output length, ``1 <= o <= n``.

    Returns:
        tuple[int, int, int]: ``(F, G, Z)``.

    Examples:
        >>> solve_conv_window(56, 4)   # case 2: 56 / 14
        (14, 14, 0)
        >>> solve_conv_window(14, 4)   # case 2 with padding: (14 + 2) / 4
        (4, 4, 1)
        >>> solve_conv_window(7, 4)    # case 4: (7 - 3 + 2) / 2 + 1
        (3, 2, 1)
    """
    check_out_len(n, o, 'convolve')
    if o == 1:
        return n, n, 0
    for kernel in range(-(-n // o), n + 1):
        for pad in range(kernel // 2 + 1):
            span = n + 2 * pad - kernel
            if span >= 0 and span % (o - 1) == 0:
                stride = span // (o - 1)
                if 1 <= stride <= kernel:
                    return kernel, stride, pad
    raise AssertionError('unreachable: F = n - o + 1, G = 1 always solves')


def solve_pool_window(n: int, o: int) -> Tuple[int, int]:
    """Kernel and stride of a pooling that maps ``n`` to ``o`` exactly.

    Solves ``o = (n - F) / G + 1`` (appendix B of the DHNN paper, no padding)
    with an exact division and ``1 <= G <= F``, taking the smallest kernel.
    When ``o`` divides ``n`` this is the paper's case 1, disjoint pooling
    ``F = G = n / o`` (on square maps ``F = W_s * sqrt(D_s / p)``); otherwise
    case 2, overlapping windows ``G < F``.

    Args:
        n (int): input length.
        o (int): wanted output length, ``1 <= o <= n``.

    Returns:
        tuple[int, int]: ``(F, G)``.

    Examples:
        >>> solve_pool_window(28, 2)   # case 1: 28 / 2
        (14, 14)
        >>> solve_pool_window(7, 2)    # case 2: (7 - 4) / 3 + 1
        (4, 3)
    """
    check_out_len(n, o, 'pool')
    if o == 1:
        return n, n
    for kernel in range(-(-n // o), n + 1):
        span = n - kernel
        if span % (o - 1) == 0 and 1 <= span // (o - 1) <= kernel:
            return kernel, span // (o - 1)
    raise AssertionError('unreachable: F = n - o + 1, G = 1 always solves')


def log_ratio(a: float, b: float) -> float:
    """``|log a - log b|``."""
    # rounded so that mathematically equal keys compare equal
    return round(abs(math.log(a) - math.log(b)), 9)


def factor_pairs(q: int, max_h: int, max_w: int) -> List[Tuple[int, int]]:
    """All ``(h, w)`` with ``h * w == q``, ``h <= max_h``, ``w <= max_w``."""
    return [(h, q // h) for h in divisors(q) if h <= max_h and q // h <= max_w]


def aspect_key(h: int, w: int, height: int, width: int) -> Tuple:
    """Sort key of a size ``(h, w)`` for a ``height x width`` map."""
    # closest aspect ratio to the input's; then the smaller height (so a
    # square map split in two is pooled 1 x 2, wider than tall)
    return (log_ratio(h / w, height / width), h)


def feasible_pool_dims(height: int, width: int) -> List[int]:
    """All ``h * w`` with ``1 <= h <= height`` and ``1 <= w <= width``."""
    return sorted(
        {h * w
         for h in range(1, height + 1)
         for w in range(1, width + 1)})


def nearest(valid: Sequence[int], p: int) -> List[int]:
    """The largest value of ``valid`` below ``p`` and the smallest above."""
    below = [v for v in valid if v < p]
    above = [v for v in valid if v > p]
    return ([below[-1]] if below else []) + ([above[0]] if above else [])


def check_size(size: Sequence[int], height: int, width: int,
               what: str) -> Tuple[int, int]:
    """``size`` as ``(h, w)``, checked to fit a ``height x width`` map."""
    if (not isinstance(size, Sequence) or len(size) != 2
            or not all(isinstance(s, int) and s >= 1 for s in size)):
        raise ValueError(f'out_size must be two positive ints (h, w), got '
                         f'{size!r}')
    h, w = size
    if h > height or w > width:
        raise ValueError(f'cannot {what} a {height}x{width} map to a larger '
                         f'out_size={tuple(size)}')
    return h, w
