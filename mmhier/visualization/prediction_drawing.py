# Copyright (c) mmhier contributors. All rights reserved.
"""Draw an image with its predicted top-k label paths (and the tree)."""
import textwrap
from typing import List, Optional, Sequence

import numpy as np

from mmhier.structures import ClassTree
from .tree_drawing import (BEST_COLOUR, CHAR_WIDTH, FONT_SIZE, MARGIN,
                           _as_path_list, _inch_figure, finish_figure,
                           layout_tree, render_tree)

__all__ = ['draw_hier_prediction', 'format_path']

IMAGE_BOX = 3.4  # inches: the image fits in a square this big
LINE_HEIGHT = 0.2  # inches per text line
OTHER_TEXT_COLOUR = '#a04d00'  # a darker orange, legible on white
GT_COLOUR = '#2ca02c'
SEPARATOR = ' > '


def format_path(names: Sequence[str], score: Optional[float] = None) -> str:
    """``'a > b > c'``, prefixed with the score (a percentage for scores in
    ``[0, 1]``)."""
    text = SEPARATOR.join(names) if names else '(empty path)'
    if score is None:
        return text
    if 0. <= score <= 1.:
        return f'{score:7.2%}  {text}'
    return f'{score:.3f}  {text}'


def _to_rgb_image(image: np.ndarray) -> np.ndarray:
    image = np.asarray(image)
    if image.ndim == 3 and image.shape[-1] == 1:
        image = image[..., 0]
    if image.ndim not in (2, 3) or (image.ndim == 3
                                    and image.shape[-1] not in (3, 4)):
        raise ValueError('image must be (H, W), (H, W, 1), (H, W, 3) or '
                         f'(H, W, 4), got shape {image.shape}')
    return image


def draw_hier_prediction(image: np.ndarray,
                         paths,
                         scores,
                         tree: ClassTree,
                         gt_paths=None,
                         draw_tree: bool = False,
                         out_file: Optional[str] = None,
                         title: Optional[str] = None,
                         use_display_names: bool = True,
                         max_tree_nodes: int = 60,
                         dpi: int = 150) -> np.ndarray:
    """Draw an image with its top-k paths listed below it, best first, and
    optionally the tree with the best path (red) and the other paths
    (orange) highlighted on the right.

    Args:
        image: RGB ``(H, W, 3)`` (or grey ``(H, W)``) image.
        paths: ``(K, T)`` predicted paths, best first, padded with negative
            values (a tensor, an array or lists).
        scores: ``(K,)`` their scores (probabilities are shown as
            percentages).
        tree: The class tree.
        gt_paths: Optional ground-truth paths ``(P, T)`` listed in green.
        draw_tree: Add the drawing of the tree.
        out_file: Save the drawing there (PNG, folders created).
        title: Text above the image (e.g. the file name).
        use_display_names: Name nodes by their display names.
        max_tree_nodes: See :func:`draw_tree`.
        dpi: Pixels per inch.

    Returns:
        The drawing, RGB uint8 ``(H', W', 3)``.
    """
    tree = ClassTree.build(tree)
    image = _to_rgb_image(image)
    paths = _as_path_list(paths)
    scores = [float(s) for s in np.asarray(scores, dtype=float).reshape(-1)]
    if len(scores) != len(paths):
        raise ValueError(f'got {len(paths)} paths but {len(scores)} scores')
    names = tree.display_names if use_display_names else tree.names
    gt_paths = _as_path_list(gt_paths)

    # left column: title, image, then the listed paths
    col_w = IMAGE_BOX + 2 * MARGIN
    chars = int((col_w - 2 * MARGIN) / CHAR_WIDTH)
    blocks = []  # (lines, colour, bold)
    for rank, (path, score) in enumerate(zip(paths, scores)):
        text = f'{rank + 1}. ' + format_path([names[i] for i in path], score)
        lines = textwrap.wrap(text, chars, subsequent_indent=' ' * 9)
        blocks.append((lines, BEST_COLOUR if rank == 0 else OTHER_TEXT_COLOUR,
                       rank == 0))
    for path in gt_paths:
        text = 'truth: ' + format_path([names[i] for i in path])
        blocks.append(
            (textwrap.wrap(text, chars,
                           subsequent_indent=' ' * 7), GT_COLOUR, False))
    if not blocks:
        blocks.append((['(no prediction)'], 'black', False))
    num_lines = sum(len(b[0]) for b in blocks)

    h, w = image.shape[:2]
    scale = IMAGE_BOX / max(h, w)
    img_w, img_h = w * scale, h * scale
    top = 0.4 if title else MARGIN
    left_h = top + img_h + 0.15 + (num_lines + 1) * LINE_HEIGHT + MARGIN

    layout = None
    tree_w = tree_h = 0.
    if draw_tree:
        flat = [i for p in paths for i in p]
        layout = layout_tree(
            tree,
            flat,
            max_nodes=max_tree_nodes,
            use_display_names=use_display_names)
        tree_w, tree_h = layout.size
    width = col_w + tree_w
    height = max(left_h, top + tree_h)
    fig, ax = _inch_figure(width, height, dpi)

    if title:
        ax.text(
            MARGIN,
            0.22,
            title,
            fontsize=FONT_SIZE + 1,
            fontweight='bold',
            va='center')
    x0 = (col_w - img_w) / 2
    img_ax = fig.add_axes([
        x0 / width, 1 - (top + img_h) / height, img_w / width, img_h / height
    ])
    small = max(h, w) < 128
    img_ax.imshow(
        image,
        cmap='gray' if image.ndim == 2 else None,
        interpolation='nearest' if small else 'antialiased',
        aspect='auto')
    img_ax.set_xticks([])
    img_ax.set_yticks([])

    y = top + img_h + 0.15 + LINE_HEIGHT / 2
    ax.text(
        MARGIN,
        y,
        f'top-{len(paths)} paths' if paths else 'prediction',
        fontsize=FONT_SIZE,
        color='#333333',
        fontweight='bold',
        va='center')
    for lines, colour, bold in blocks:
        for line in lines:
            y += LINE_HEIGHT
            ax.text(
                MARGIN,
                y,
                line,
                fontsize=FONT_SIZE,
                color=colour,
                fontweight='bold' if bold else 'normal',
                family='monospace',
                va='center')

    if layout is not None:
        best = paths[0] if paths else []
        others: List[int] = [i for p in paths[1:] for i in p]
        render_tree(ax, layout, best, others, offset=(col_w, top))
    return finish_figure(fig, out_file)
