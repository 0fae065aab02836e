# Copyright (c) mmhier contributors. All rights reserved.
from typing import Any, Dict, List, Optional, Sequence, Union

import torch
from mmpretrain.registry import METRICS

from mmhier.structures import ClassTree
from ..functional import (ancestor_closure, get_gt_paths, get_pred_path,
                          get_pred_score, gt_node_sets, path_min_scores,
                          paths_to_node_mask, resolve_threshold, to_paths,
                          to_scores)
from .base_hier_metric import BaseHierMetric, f1_from


@METRICS.register_module()
class HierF1(BaseHierMetric):
    r"""Hierarchical precision, recall and F1 on ancestor sets.

    The set-based measures of Kiritchenko et al. (2005), used by hiclass
    and the hierarchical classification literature. Each sample's
    predicted and true labels are widened to their ancestor sets
    :math:`\hat P_b` and :math:`\hat T_b` (the nodes on their paths, root
    excluded), and counts are pooled over all samples (micro average):

    .. math::

        hP = \frac{\sum_b |\hat P_b \cap \hat T_b|}{\sum_b |\hat P_b|},\quad
        hR = \frac{\sum_b |\hat P_b \cap \hat T_b|}{\sum_b |\hat T_b|},\quad
        hF = \frac{2\, hP\, hR}{hP + hR}.

    - Single-label (``threshold=None``): :math:`\hat P_b` is the node set
      of the predicted path (``pred_path``, or the implied path of a flat
      model's ``pred_label``) together with the ancestors of its nodes, so
      an inconsistent path of a flat multi-head model is closed upwards.
    - Multi-label (``threshold`` a float or ``'from_val'``):
      :math:`\hat P_b` holds every node whose path passes the threshold
      (all node scores of ``pred_score`` along it at least the
      threshold), which is the union of the predicted paths and already
      closed upwards. :math:`\hat T_b` is the union of all ground-truth
      paths. With the same threshold this equals the node F1 of
      :class:`HierMultiLabelMetric` with ``average='micro'``.
    - ``PATH_UNKNOWN``: for a ground truth known only down to node v,
      predicted nodes strictly below v are left out of
      :math:`\hat P_b` (not judged).

    A ratio with a zero denominator is 0. Values are percentages. Result
    keys: ``hier/h_precision``, ``hier/h_recall``, ``hier/h_f1``.

    Args:
        threshold: None for single-label path predictions; a float, or
            ``'from_val'`` (read ``threshold_file``, written by
            :class:`HierMultiLabelMetric` with ``threshold='auto'``) to
            score multi-label ``pred_score``.
        threshold_file: JSON file of the validation threshold;
            ``tools/train.py`` / ``tools/test.py`` set it to
            ``<work_dir>/hier_threshold.json`` when left None.
        tree: The class tree; defaults to ``dataset_meta['class_tree']``.
        collect_device: Device for gathering results across ranks.
        prefix: Prefix of the result keys. Defaults to ``'hier'``.
        collect_dir: Directory for gathering results on the CPU.
    """

    def __init__(self,
                 threshold: Union[float, str, None] = None,
                 threshold_file: Optional[str] = None,
                 tree: Any = None,
                 collect_device: str = 'cpu',
                 prefix: Optional[str] = None,
                 collect_dir: Optional[str] = None) -> None:
        super().__init__(
            tree=tree,
            collect_device=collect_device,
            prefix=prefix,
            collect_dir=collect_dir)
        if not (threshold is None or threshold == 'from_val'
                or isinstance(threshold, (int, float))):
            raise ValueError("threshold must be None, a float or "
                             f"'from_val', got {threshold!r}")
        if threshold == 'from_val' and threshold_file is None:
            raise ValueError(
                "threshold='from_val' needs threshold_file (tools/test.py "
                'sets it to <work_dir>/hier_threshold.json)')
        self.threshold = threshold
        self.threshold_file = threshold_file

    def process(self, data_batch: Any, data_samples: Sequence[dict]) -> None:
        """Store the ground-truth paths and the prediction of each sample."""
        tree = self.tree
        for sample in data_samples:
            result = dict(gt_path=get_gt_paths(sample, tree))
            if self.threshold is None:
                result['pred_path'] = get_pred_path(sample, tree)
            else:
                result['pred_score'] = get_pred_score(sample, tree)
            self.results.append(result)

    def compute_metrics(self, results: List[dict]) -> Dict[str, float]:
        gt = self.stack_paths([r['gt_path'] for r in results])
        if self.threshold is None:
            pred = torch.stack([r['pred_path'] for r in results])
            return self.calculate(pred, gt, self.tree)
        # Resolved here, not in __init__: in a validation run the file is
        # written by HierMultiLabelMetric just before.
        threshold = resolve_threshold(self.threshold, self.threshold_file)
        scores = torch.stack([r['pred_score'] for r in results])
        return self.calculate(scores, gt, self.tree, threshold=threshold)

    @staticmethod
    def calculate(pred: Any,
                  gt_paths: Any,
                  tree: Any,
                  threshold: Optional[float] = None) -> Dict[str, float]:
        """Compute hierarchical precision, recall and F1.

        Args:
            pred: Without ``threshold``: predicted paths ``(B, T)`` or
                ``(B, K, T)`` (K paths per sample, their union is scored).
                With ``threshold``: node scores ``(B, N)``.
            gt_paths: Ground-truth paths ``(B, T)`` or ``(B, P, T)``
                (tensor, array or ragged lists).
            tree: The class tree (anything :meth:`ClassTree.build` takes).
            threshold: Score threshold for multi-label node scores.

        Returns:
            dict: ``h_precision``, ``h_recall``, ``h_f1`` in percent.
        """
        tree = ClassTree.build(tree)
        gt = to_paths(gt_paths, tree.max_depth, 'gt_paths')
        if threshold is None:
            pred_paths = to_paths(pred, tree.max_depth, 'pred_paths')
            pred_nodes = ancestor_closure(
                paths_to_node_mask(pred_paths, tree.num_nodes), tree)
        else:
            scores = to_scores(pred, 'pred scores')
            pred_nodes = path_min_scores(scores, tree) >= threshold
        if pred_nodes.shape[0] != gt.shape[0]:
            raise ValueError(f'got predictions for {pred_nodes.shape[0]} '
                             f'samples and ground truth for {gt.shape[0]}')
        pos, judged, _, _ = gt_node_sets(gt, tree)
        tp = (pred_nodes & pos).sum()
        precision, recall, f1 = f1_from(tp, (pred_nodes & judged).sum(),
                                        pos.sum())
        return dict(
            h_precision=float(precision),
            h_recall=float(recall),
            h_f1=float(f1))
