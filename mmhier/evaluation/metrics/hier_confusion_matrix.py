# Copyright (c) mmhier contributors. All rights reserved.
from typing import Any, Dict, List, Optional, Sequence

import numpy as np
import torch
from mmpretrain.registry import METRICS

from mmhier.structures import PATH_UNKNOWN, ClassTree
from ..functional import get_gt_paths, get_pred_path, single_gt_path, to_paths
from .base_hier_metric import BaseHierMetric

#: Label of the extra row / column of each level's matrix.
NONE_LABEL = '(none)'


@METRICS.register_module()
class HierConfusionMatrix(BaseHierMetric):
    """One confusion matrix per level of the tree (single-label).

    The matrix of level l (depth l) has a row and a column for each node
    of depth l, in index order (``tree.levels[l - 1]``), plus a last row
    and column ``(none)``: no node of depth l, because the path stopped
    above depth l, or (predictions only) the node at that position is not
    of depth l (an inconsistent path). Rows are the ground truth, columns
    the prediction; entry ``[i, j]`` counts the samples. Samples whose
    ground truth is ``PATH_UNKNOWN`` at depth l are left out of level l,
    and so are samples with no node of depth l in both, so entry
    ``[none, none]`` is always 0.

    Flat models are scored through the path of ``pred_label`` (DHNN
    Remark 1). Results are long tensors under ``hier_confusion/level1``
    ... ``hier_confusion/level{T}``, for analysis tools (mmengine prints
    them in the log); :meth:`plot` draws them.

    Args:
        tree: The class tree; defaults to ``dataset_meta['class_tree']``.
        collect_device: Device for gathering results across ranks.
        prefix: Prefix of the result keys. Defaults to
            ``'hier_confusion'``.
        collect_dir: Directory for gathering results on the CPU.
    """
    default_prefix: Optional[str] = 'hier_confusion'

    def process(self, data_batch: Any, data_samples: Sequence[dict]) -> None:
        """Store the predicted and ground-truth paths of each sample."""
        tree = self.tree
        for sample in data_samples:
            self.results.append(
                dict(
                    pred_path=get_pred_path(sample, tree),
                    gt_path=get_gt_paths(sample, tree)))

    def compute_metrics(self, results: List[dict]) -> Dict[str, Any]:
        pred = torch.stack([r['pred_path'] for r in results])
        gt = self.stack_paths([r['gt_path'] for r in results])
        matrices = self.calculate(pred, gt, self.tree)
        return {f'level{t + 1}': m for t, m in enumerate(matrices)}

    @staticmethod
    def calculate(pred_paths: Any, gt_paths: Any,
                  tree: Any) -> List[torch.Tensor]:
        """Per-level confusion matrices.

        Args:
            pred_paths: ``(B, T)`` predicted paths.
            gt_paths: ``(B, T)``, or ``(B, P, T)`` with one non-padding row
                per sample.
            tree: The class tree (anything :meth:`ClassTree.build` takes).

        Returns:
            list[Tensor]: for each depth l = 1..T a long tensor of shape
            ``(n_l + 1, n_l + 1)``, n_l the number of nodes of depth l.
        """
        tree = ClassTree.build(tree)
        pred = to_paths(pred_paths, tree.max_depth, 'pred_paths')
        gt = single_gt_path(to_paths(gt_paths, tree.max_depth, 'gt_paths'))
        if pred.dim() != 2 or pred.shape[0] != gt.shape[0]:
            raise ValueError(f'pred_paths must be (B, T) for {gt.shape[0]} '
                             f'samples, got shape {tuple(pred.shape)}')
        n = tree.num_nodes
        sizes = [len(nodes) + 1 for nodes in tree.levels]
        depths = torch.cat([tree.tensor('depths'), torch.zeros(1).long()])
        # Position of each node inside its level (the last entry: none).
        position = torch.zeros(n + 1, dtype=torch.long)
        for nodes in tree.levels:
            position[torch.from_numpy(nodes)] = torch.arange(len(nodes))
        step_depth = torch.arange(1, tree.max_depth + 1)
        none = torch.tensor(sizes) - 1

        def slot(x: torch.Tensor) -> torch.Tensor:
            """(B, T) paths -> (B, T) row / column index at each level."""
            x = torch.where((x >= 0) & (x < n), x, x.new_full((), n))
            return torch.where(depths[x] == step_depth, position[x],
                               none.expand_as(x))

        g, p = slot(gt), slot(pred)
        keep = (gt != PATH_UNKNOWN) & ~((g == none) & (p == none))
        matrices = []
        for t, size in enumerate(sizes):  # T levels, each vectorised
            flat = torch.bincount(
                g[keep[:, t], t] * size + p[keep[:, t], t],
                minlength=size * size)
            matrices.append(flat.view(size, size))
        return matrices

    @staticmethod
    def plot(matrices: Sequence[Any],
             tree: Optional[Any] = None,
             normalize: bool = False,
             include_values: bool = True,
             cmap: str = 'viridis',
             show: bool = False):
        """Draw the per-level matrices side by side with matplotlib.

        Args:
            matrices: The per-level matrices (``calculate()`` output, or
                the ``hier_confusion/level*`` results in level order).
            tree: The class tree, for the node names on the axes; index
                numbers without it.
            normalize: Divide each row by its sum (recall per true node).
            include_values: Write the value in each cell.
            cmap: The matplotlib colour map.
            show: Call ``plt.show()``.

        Returns:
            matplotlib.figure.Figure
        """
        import matplotlib.pyplot as plt
        tree = None if tree is None else ClassTree.build(tree)
        mats = [np.asarray(m, dtype=np.float64) for m in matrices]
        sizes = [max(4.0, 0.45 * m.shape[0] + 2) for m in mats]
        fig, axes = plt.subplots(
            1, len(mats), figsize=(sum(sizes), max(sizes)), squeeze=False)
        for t, (ax, m) in enumerate(zip(axes[0], mats)):
            if normalize:
                m = m / np.maximum(m.sum(1, keepdims=True), 1)
            if tree is not None:
                labels = [tree.names[i] for i in tree.levels[t]]
            else:
                labels = [str(i) for i in range(m.shape[0] - 1)]
            labels.append(NONE_LABEL)
            im = ax.imshow(m, interpolation='nearest', cmap=cmap)
            if include_values:
                mid = (m.max() + m.min()) / 2
                for i, j in np.ndindex(m.shape):  # drawing, not maths
                    ax.text(
                        j,
                        i,
                        f'{m[i, j]:.2f}' if normalize else f'{m[i, j]:.0f}',
                        ha='center',
                        va='center',
                        fontsize=7,
                        color='black' if m[i, j] > mid else 'white')
            ticks = np.arange(len(labels))
            ax.set(
                xticks=ticks,
                yticks=ticks,
                xticklabels=labels,
                yticklabels=labels,
                xlabel='Predicted',
                ylabel='Ground truth',
                title=f'Level {t + 1}')
            ax.tick_params(axis='x', labelrotation=90)
            fig.colorbar(im, ax=ax, fraction=0.046, pad=0.04)
        fig.tight_layout()
        if show:
            plt.show()
        return fig
