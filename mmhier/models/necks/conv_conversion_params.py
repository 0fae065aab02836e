# Copyright (c) mmhier contributors. All rights reserved.
"""The convolution of the DHNN convolutional conversion (appendix A)."""
from typing import NamedTuple, Optional, Sequence, Tuple

from .conversion_windows import (check_positive, check_size, divisors,
                                 factor_pairs, feasible_pool_dims, log_ratio,
                                 nearest, solve_conv_window)


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
    check_positive(channels=channels, height=height, width=width, p=p)
    shape = f'{channels}x{height}x{width}'
    if out_size is not None:
        h, w = check_size(out_size, height, width, 'convolve')
        if num_filters is not None and num_filters * h * w != p:
            raise ValueError(
                f'num_filters={num_filters} and out_size={(h, w)} give '
                f'{num_filters * h * w} values, not p={p}')
        if p % (h * w):
            hint = ', '.join(
                str(v) for v in nearest(
                    [h * w * k for k in range(1, p // (h * w) + 2)], p))
            raise ValueError(
                f'a conv of a {shape} map with out_size={(h, w)} gives K * '
                f'{h * w} values, so p={p} cannot be reached exactly '
                f'(appendix A: p = K * h * w). Nearest p that work: {hint}')
        pairs = [(h, w)]
    elif num_filters is not None:
        check_positive(num_filters=num_filters)
        q, rem = divmod(p, num_filters)
        pairs = factor_pairs(q, height, width) if rem == 0 else []
        if not pairs:
            valid = [
                num_filters * k for k in feasible_pool_dims(height, width)
            ]
            hint = ', '.join(str(v) for v in nearest(valid, p))
            raise ValueError(
                f'a conv of a {shape} map with num_filters={num_filters} '
                f'cannot give exactly p={p} values: p must be '
                f'{num_filters} * h * w with h <= {height}, w <= {width} '
                f'(appendix A). Nearest p that work: {hint}')
    else:
        pairs = [
            hw for q in divisors(p) for hw in factor_pairs(q, height, width)
        ]

    def key(hw):
        h, w = hw
        balance = log_ratio(p // (h * w), h * w)
        aspect = log_ratio(h / w, height / width)
        return balance, aspect, -h * w, h

    h, w = min(pairs, key=key)
    fh, gh, zh = solve_conv_window(height, h)
    fw, gw, zw = solve_conv_window(width, w)
    return ConvParams(p // (h * w), (fh, fw), (gh, gw), (zh, zw), (h, w),
                      (_conv_case(height, fh, gh), _conv_case(width, fw, gw)))
