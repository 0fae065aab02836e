# Copyright (c) mmhier contributors. All rights reserved.
"""Solvers for the sizes of the DHNN conversions (appendices A and B).

The DHNN paper (Koo, Klabjan and Utke) converts a stage map ``a_s`` of shape
``D_s x H_s x W_s`` into a vector of a fixed length ``p``. The convolutional
and pooling conversions only give exactly ``p`` values for some kernels,
strides and paddings; appendices A and B of the paper list the equations that
these must satisfy. This module solves them. It holds pure functions (no
``torch.nn``), so configs, tools and tests can call them directly.

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
from typing import List, NamedTuple, Optional, Sequence, Tuple

__all__ = [
    'ConvParams', 'PoolParams', 'solve_conv_window', 'solve_pool_window',
    'solve_conv_params', 'solve_pool_params', 'solve_mode_dims',
    'feasible_pool_dims', 'divisors'
]


class ConvParams(NamedTuple):
    """The solved convolution of the convolutional conversion.

    Attributes:
        out_channels (int): ``K``, the number of filters.
        kernel_size (tuple[int, int]): ``(F_h, F_w)``.
        stride (tuple[int, int]): ``(G_h, G_w)``.
        padding (tuple[int, int]): ``(Z_h, Z_w)``.
        out_size (tuple[int, int]): ``(h, w)``, the output map size; ``K * h *
            w == p``.
        cases (tuple[int, int]): the case of appendix A that each axis falls
            in (1: kernel covers the axis, 2: disjoint ``F == G``, 3: stride 1,
            4: overlapping ``1 < G < F``).
    """
    out_channels: int
    kernel_size: Tuple[int, int]
    stride: Tuple[int, int]
    padding: Tuple[int, int]
    out_size: Tuple[int, int]
    cases: Tuple[int, int]


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


def divisors(x: int) -> List[int]:
    """All positive divisors of ``x`` in increasing order."""
    small, large = [], []
    for d in range(1, math.isqrt(x) + 1):
        if x % d == 0:
            small.append(d)
            if d * d != x:
                large.append(x // d)
    return small + large[::-1]


def _check_positive(**values: int) -> None:
    for name, value in values.items():
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f'{name} must be a positive int, got {value!r}')


def _check_out_len(n: int, o: int, what: str) -> None:
    _check_positive(n=n, o=o)
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
    _check_out_len(n, o, 'convolve')
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
    _check_out_len(n, o, 'pool')
    if o == 1:
        return n, n
    for kernel in range(-(-n // o), n + 1):
        span = n - kernel
        if span % (o - 1) == 0 and 1 <= span // (o - 1) <= kernel:
            return kernel, span // (o - 1)
    raise AssertionError('unreachable: F = n - o + 1, G = 1 always solves')


def _log_ratio(a: float, b: float) -> float:
    # rounded so that mathematically equal keys compare equal
    return round(abs(math.log(a) - math.log(b)), 9)


def _factor_pairs(q: int, max_h: int, max_w: int) -> List[Tuple[int, int]]:
    return [(h, q // h) for h in divisors(q) if h <= max_h and q // h <= max_w]


def _aspect_key(h: int, w: int, height: int, width: int) -> Tuple:
    # closest aspect ratio to the input's; then the smaller height (so a
    # square map split in two is pooled 1 x 2, wider than tall)
    return (_log_ratio(h / w, height / width), h)


def feasible_pool_dims(height: int, width: int) -> List[int]:
    """All ``h * w`` with ``1 <= h <= height`` and ``1 <= w <= width``."""
    return sorted(
        {h * w
         for h in range(1, height + 1)
         for w in range(1, width + 1)})


def _nearest(valid: Sequence[int], p: int) -> List[int]:
    below = [v for v in valid if v < p]
    above = [v for v in valid if v > p]
    return ([below[-1]] if below else []) + ([above[0]] if above else [])


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
    _check_positive(channels=channels, height=height, width=width, p=p)
    shape = f'{channels}x{height}x{width}'
    if out_size is not None:
        h, w = _check_size(out_size, height, width, 'pool')
        if exact and channels * h * w != p:
            raise ValueError(
                f'pooling a {shape} map to out_size={(h, w)} gives '
                f'{channels * h * w} values, not p={p}; set p to '
                f'{channels * h * w} or add a projection to p')
    else:
        q, rem = divmod(p, channels)
        pairs = _factor_pairs(q, height, width) if rem == 0 else []
        if not pairs:
            if exact:
                hw = (height, width)
                valid = [channels * k for k in feasible_pool_dims(*hw)]
                hint = ', '.join(
                    f'{v} (pooled to {_pool_size_text(v, channels, *hw)})'
                    for v in _nearest(valid, p))
                raise ValueError(
                    f'no pooling of a {shape} map gives exactly p={p} '
                    f'values: pooling keeps the {channels} channels, so p '
                    f'must be {channels} * h * w for a pooled size h <= '
                    f'{height}, w <= {width} (appendix B). Nearest p that '
                    f'work: {hint}; or set projection=\'mode\' or '
                    f'\'linear\' to map the pooled values to p={p}')
            q = max(p // channels, 1)
            pairs = _factor_pairs(q, height, width)
            while not pairs:
                q -= 1
                pairs = _factor_pairs(q, height, width)
        h, w = min(pairs, key=lambda hw: _aspect_key(*hw, height, width))
    fh, gh = solve_pool_window(height, h)
    fw, gw = solve_pool_window(width, w)
    return PoolParams((fh, fw), (gh, gw), (h, w),
                      (1 if fh == gh else 2, 1 if fw == gw else 2))


def _pool_size_text(p: int, channels: int, height: int, width: int) -> str:
    h, w = min(
        _factor_pairs(p // channels, height, width),
        key=lambda hw: _aspect_key(*hw, height, width))
    return f'{h}x{w}'


def _check_size(size: Sequence[int], height: int, width: int,
                what: str) -> Tuple[int, int]:
    if (not isinstance(size, Sequence) or len(size) != 2
            or not all(isinstance(s, int) and s >= 1 for s in size)):
        raise ValueError(f'out_size must be two positive ints (h, w), got '
                         f'{size!r}')
    h, w = size
    if h > height or w > width:
        raise ValueError(f'cannot {what} a {height}x{width} map to a larger '
                         f'out_size={tuple(size)}')
    return h, w


def _conv_case(n: int, kernel: int, stride: int) -> int:
    if kernel == n:
        return 1
    if kernel == stride:
        return 2
    return 3 if stride == 1 else 4


def solve_conv_params(channels: int,
                      height: int,
                      width: int,
                      p: int,
                      out_size: Optional[Sequence[int]] = None,
                      num_filters: Optional[int] = None) -> ConvParams:
    """Solve the convolution of the DHNN convolutional conversion (app. A).

    The conv output has ``K`` channels and ``h x w`` positions, with ``h = (H_s
    - F_h + 2 Z_h) / G_h + 1`` (likewise ``w``), and appendix A asks for

        p = D_conv * W_conv * H_conv = K * h * w.

    The appendix lists the families of solutions (case 1: ``F = W_s``, ``K =
    p``, a 1x1 output; case 2: disjoint ``F = G``; case 3: ``G = 1``; case 4:
    ``1 < G < F``) but not which one to take, so we fix a rule:

    1. The output size ``(h, w)`` (unless given) is the one, among ``h <=
       H_s``, ``w <= W_s`` with ``h * w`` dividing ``p``, that balances the
       number of filters ``K = p / (h w)`` against the number of positions
       ``h w`` (smallest ``|log K - log(h w)|``); ties go to the aspect ratio
       closest to ``H_s / W_s``, then to more positions, then to the smaller
       ``h``. With ``p = 256`` this is a 4x4 map of 16 filters; case 1 (a
       fully connected layer of ``p * D_s * H_s * W_s`` weights) is only
       taken when asked for with ``out_size=(1, 1)``.
    2. Each axis is solved by :func:`solve_conv_window` (smallest kernel).

    Args:
        channels (int): ``D_s``.
        height (int): ``H_s``.
        width (int): ``W_s``.
        p (int): the wanted output length.
        out_size (Sequence[int], optional): force the output size ``(h, w)``;
            ``h * w`` must divide ``p``.
        num_filters (int, optional): force ``K``; ``p / K`` must factor into
            a size that fits the map.

    Returns:
        ConvParams: filters, kernel, stride, padding, output size and the
        appendix-A case of each axis.

    Raises:
        ValueError: the constraints admit no exact solution; the message names
            the nearest ``p`` that work.

    Examples:
        >>> solve_conv_params(2048, 7, 7, 256)
        ConvParams(out_channels=16, kernel_size=(3, 3), stride=(2, 2),
                   padding=(1, 1), out_size=(4, 4), cases=(4, 4))
    """
    _check_positive(channels=channels, height=height, width=width, p=p)
    shape = f'{channels}x{height}x{width}'
    if out_size is not None:
        h, w = _check_size(out_size, height, width, 'convolve')
        if num_filters is not None and num_filters * h * w != p:
            raise ValueError(
                f'num_filters={num_filters} and out_size={(h, w)} give '
                f'{num_filters * h * w} values, not p={p}')
        if p % (h * w):
            hint = ', '.join(
                str(v) for v in _nearest(
                    [h * w * k for k in range(1, p // (h * w) + 2)], p))
            raise ValueError(
                f'a conv of a {shape} map with out_size={(h, w)} gives K * '
                f'{h * w} values, so p={p} cannot be reached exactly '
                f'(appendix A: p = K * h * w). Nearest p that work: {hint}')
        pairs = [(h, w)]
    elif num_filters is not None:
        _check_positive(num_filters=num_filters)
        q, rem = divmod(p, num_filters)
        pairs = _factor_pairs(q, height, width) if rem == 0 else []
        if not pairs:
            valid = [
                num_filters * k for k in feasible_pool_dims(height, width)
            ]
            hint = ', '.join(str(v) for v in _nearest(valid, p))
            raise ValueError(
                f'a conv of a {shape} map with num_filters={num_filters} '
                f'cannot give exactly p={p} values: p must be '
                f'{num_filters} * h * w with h <= {height}, w <= {width} '
                f'(appendix A). Nearest p that work: {hint}')
    else:
        pairs = [
            hw for q in divisors(p) for hw in _factor_pairs(q, height, width)
        ]

    def key(hw):
        h, w = hw
        balance = _log_ratio(p // (h * w), h * w)
        aspect = _log_ratio(h / w, height / width)
        return balance, aspect, -h * w, h

    h, w = min(pairs, key=key)
    fh, gh, zh = solve_conv_window(height, h)
    fw, gw, zw = solve_conv_window(width, w)
    return ConvParams(p // (h * w), (fh, fw), (gh, gw), (zh, zw), (h, w),
                      (_conv_case(height, fh, gh), _conv_case(width, fw, gw)))


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
    _check_positive(p=p, **{f'in_dims[{i}]': d for i, d in enumerate(in_dims)})
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
