# Copyright (c) mmhier contributors. All rights reserved.
"""Images with the predicted paths of several models, level by level
marked right (green) or wrong (red) against the ground truth."""
from typing import Dict, List, Optional, Sequence

import numpy as np

from mmhier.structures import ClassTree

__all__ = ['level_marks', 'draw_level_marks']

RIGHT_COLOUR = '#1a7f1a'
WRONG_COLOUR = '#c0150f'
TRUTH_COLOUR = '#333333'
MISSING = '(none)'


def level_marks(pred: Sequence[int], truth: Sequence[int]) -> List[bool]:
    """Whether each level of a predicted path is right: level t is right
    when the predicted node equals the true node at depth t. A predicted
    path shorter than the truth misses the deeper levels (wrong), a longer
    one predicts levels that do not exist (wrong)."""
    pred = [int(i) for i in pred if int(i) >= 0]
    truth = [int(i) for i in truth if int(i) >= 0]
    marks = [
        t < len(truth) and truth[t] == node for t, node in enumerate(pred)
    ]
    return marks + [False] * (len(truth) - len(pred))


def draw_level_marks(images: Sequence[np.ndarray],
                     gt_paths: Sequence[Sequence[int]],
                     predictions: Dict[str, Sequence[Sequence[int]]],
                     tree: ClassTree,
                     out_file: Optional[str] = None,
                     titles: Optional[Sequence[str]] = None,
                     ncols: int = 4,
                     dpi: int = 120):
    """Draw a grid of images, each with its true path and every model's
    predicted path, each level of a prediction coloured green where it
    equals the true node of that level and red where it does not (a
    missing level shows as a red ``(none)``).

    Args:
        images: Grey ``(H, W)`` or RGB ``(H, W, 3)`` images.
        gt_paths: The true path of each image (node indices, padding < 0).
        predictions: Model name -> the predicted path of each image.
        tree: The class tree.
        out_file: Save the figure there (PNG) when given.
        titles: Optional text above each image.
        ncols: Images per row.
        dpi: Pixels per inch.

    Returns:
        The matplotlib figure.
    """
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    from matplotlib.offsetbox import (AnchoredOffsetbox, HPacker, TextArea,
                                      VPacker)

    tree = ClassTree.build(tree)
    names = tree.display_names
    num = len(images)
    if len(gt_paths) != num or any(
            len(p) != num for p in predictions.values()):
        raise ValueError(f'got {num} images, {len(gt_paths)} true paths and '
                         f'{[len(p) for p in predictions.values()]} '
                         'predictions per model: give one of each per image')
    ncols = max(1, min(ncols, num))
    nrows = -(-num // ncols)
    text_lines = 1 + len(predictions)
    fig, axes = plt.subplots(
        nrows,
        ncols,
        figsize=(3.6 * ncols, (2.6 + 0.28 * text_lines) * nrows),
        squeeze=False)
    font = dict(fontsize=8, family='monospace')
    for ax in axes.flat[num:]:
        ax.axis('off')
    for i, ax in enumerate(axes.flat[:num]):
        image = np.asarray(images[i])
        ax.imshow(
            image,
            cmap='gray' if image.ndim == 2 else None,
            interpolation='nearest')
        ax.set_xticks([])
        ax.set_yticks([])
        if titles is not None:
            ax.set_title(titles[i], fontsize=9)
        truth = [int(j) for j in gt_paths[i] if int(j) >= 0]
        rows = [
            TextArea(
                'truth: ' + ' > '.join(names[j] for j in truth),
                textprops=dict(color=TRUTH_COLOUR, **font))
        ]
        for model, paths in predictions.items():
            pred = [int(j) for j in paths[i] if int(j) >= 0]
            marks = level_marks(pred, truth)
            parts = [TextArea(f'{model}: ', textprops=dict(font))]
            for t, right in enumerate(marks):
                text = names[pred[t]] if t < len(pred) else MISSING
                colour = RIGHT_COLOUR if right else WRONG_COLOUR
                sep = ' > ' if t + 1 < len(marks) else ''
                parts.append(
                    TextArea(text + sep, textprops=dict(color=colour, **font)))
            rows.append(HPacker(children=parts, pad=0, sep=0))
        box = AnchoredOffsetbox(
            loc='upper left',
            child=VPacker(children=rows, pad=0, sep=2, align='left'),
            bbox_to_anchor=(0., -0.02),
            bbox_transform=ax.transAxes,
            frameon=False,
            pad=0.)
        ax.add_artist(box)
    fig.subplots_adjust(
        left=0.02, right=0.98, top=0.95, bottom=0.05, hspace=0.9, wspace=0.6)
    if out_file is not None:
        fig.savefig(out_file, dpi=dpi, bbox_inches='tight')
    return fig
