# Copyright (c) mmhier contributors. All rights reserved.
from typing import Any, Dict, List, Optional, Sequence

import torch
from mmpretrain.registry import METRICS

from mmhier.structures import PATH_UNKNOWN, ClassTree
from ..functional import (get_gt_paths, get_pred_path, single_gt_path,
                          to_paths)
from .base_hier_metric import BaseHierMetric, percent


@METRICS.register_module()
class HierAccuracy(BaseHierMetric):
    r"""Path, node and per-level accuracy of single-label path predictions.

    With ground-truth paths :math:`g_b` and predicted paths :math:`p_b`
    (both padded to the depth T; :math:`g_{bt} \ge 0` a node,
    ``PATH_END`` after the last node, ``PATH_UNKNOWN`` on levels that are
    not annotated), positions are compared step by step, i.e. by depth:

    - **path accuracy** (DHNN paper, sec. 4): a prediction is right only
      if it equals the ground truth on every annotated position,
      :math:`p_{bt} = g_{bt}` for all t with :math:`g_{bt} \ne`
      ``PATH_UNKNOWN``. The ``PATH_END`` positions count, so a path that
      stops early, or goes on below a ground truth that stops at an inner
      node, is wrong. Samples with no annotated node are left out.
    - **node accuracy** (DHNN paper, sec. 4): the share of ground-truth
      nodes that the prediction has at their level,
      :math:`\sum_{b,t} [g_{bt} \ge 0][p_{bt} = g_{bt}] /
      \sum_{b,t} [g_{bt} \ge 0]`, pooled over all ground-truth nodes of
      the set. As every node has one depth, this is the same as "the
      ground-truth node appears in the predicted path". Predicted nodes
      below the end of the ground truth neither gain nor lose (over-long
      predictions show in path accuracy and hierarchical precision); a
      shorter prediction loses the ground-truth nodes it lacks. On a
      fixed-depth tree it equals the mean of the level accuracies.
    - **level accuracy** (``level{l}_acc``, l = 1..T): over the samples
      whose ground truth has a node at depth l, the share predicted with
      that node at depth l. NaN when no sample reaches depth l.
    - **invalid path rate**: the share of predicted paths that are not
      paths of the tree (:meth:`ClassTree.valid_paths`: a node that is not
      a child of the previous one, or broken padding). It is 0 for heads
      that decode with tree-constrained beam search; flat multi-head
      baselines can predict inconsistent paths. A path that stops at an
      inner node is a valid path.

    A flat model (no ``pred_path``) is scored through the path of its
    ``pred_label`` (DHNN paper, Remark 1), so flat and hierarchical models
    share one scale. All values are percentages. Result keys (with the
    default prefix): ``hier/path_acc``, ``hier/node_acc``,
    ``hier/level1_acc`` ... ``hier/level{T}_acc``,
    ``hier/invalid_path_rate``.

    Args:
        tree: The class tree; defaults to ``dataset_meta['class_tree']``.
        collect_device: Device for gathering results across ranks.
        prefix: Prefix of the result keys. Defaults to ``'hier'``.
        collect_dir: Directory for gathering results on the CPU.

    Examples:
        >>> from mmpretrain.registry import METRICS
        >>> tree = {'A': ['C', 'D'], 'B': ['E', 'F', 'G']}
        >>> HierAccuracy.calculate([[0, 2], [1, 5]], [[0, 3], [1, 5]],
        ...                        tree)['node_acc']
        75.0
    """

    def process(self, data_batch: Any, data_samples: Sequence[dict]) -> None:
        """Store the predicted and ground-truth paths of each sample."""
        tree = self.tree
        for sample in data_samples:
            self.results.append(
                dict(
                    pred_path=get_pred_path(sample, tree),
                    gt_path=get_gt_paths(sample, tree)))

    def compute_metrics(self, results: List[dict]) -> Dict[str, float]:
        pred = torch.stack([r['pred_path'] for r in results])
        gt = self.stack_paths([r['gt_path'] for r in results])
        return self.calculate(pred, gt, self.tree)

    @staticmethod
    def calculate(pred_paths: Any,
                  gt_paths: Any,
                  tree: Optional[Any] = None) -> Dict[str, float]:
        """Compute the accuracies.

        Args:
            pred_paths: ``(B, T)`` predicted paths (tensor, array or ragged
                lists).
            gt_paths: ``(B, T)`` ground-truth paths, or ``(B, P, T)`` with
                one non-padding row per sample.
            tree: The class tree (anything :meth:`ClassTree.build` takes).
                Needed for ``invalid_path_rate``; without it that key is
                left out.

        Returns:
            dict: ``path_acc``, ``node_acc``, ``level{l}_acc``,
            ``invalid_path_rate`` (with a tree), in percent.
        """
        tree = None if tree is None else ClassTree.build(tree)
        depth = None if tree is None else tree.max_depth
        pred = to_paths(pred_paths, depth, 'pred_paths')
        gt = single_gt_path(to_paths(gt_paths, depth, 'gt_paths'))
        if pred.dim() != 2 or pred.shape[0] != gt.shape[0]:
            raise ValueError(f'pred_paths must be (B, T) for {gt.shape[0]} '
                             f'samples, got shape {tuple(pred.shape)}')
        if depth is None:  # pad both to the longer of the two
            depth = max(pred.shape[1], gt.shape[1])
            pred, gt = to_paths(pred, depth), to_paths(gt, depth)
        same = pred == gt
        node = gt >= 0
        judged = node.any(-1)
        path_ok = (same | (gt == PATH_UNKNOWN)).all(-1)
        out = dict(
            path_acc=percent(path_ok[judged].sum(), judged.sum()),
            node_acc=percent((same & node).sum(), node.sum()))
        hits, counts = (same & node).sum(0), node.sum(0)
        for t in range(depth):
            out[f'level{t + 1}_acc'] = percent(hits[t], counts[t])
        if tree is not None:
            invalid = ~tree.valid_paths(pred)
            out['invalid_path_rate'] = percent(invalid.sum(), len(invalid))
        return out
