# Copyright (c) mmhier contributors. All rights reserved.
from typing import Any, Dict, List, Optional, Sequence, Union

import torch
from mmpretrain.registry import METRICS

from ..functional import (get_gt_paths, get_pred_topk_paths, path_distance,
                          path_lengths, single_gt_path, to_paths)
from .base_hier_metric import BaseHierMetric, percent


@METRICS.register_module()
class MistakeSeverity(BaseHierMetric):
    r"""Mistake severity and average hierarchical distance of the top k.

    After Bertinetto et al., "Making Better Mistakes" (CVPR 2020). The
    distance of a predicted path p to the ground truth g is

    .. math::

        d(p, g) = \max(|p|, |g|) - c(p, g),

    with :math:`|\cdot|` the number of nodes of a path and :math:`c` the
    number of leading nodes they share. For valid paths :math:`c` is the
    depth of the lowest common ancestor (LCA), so :math:`d` counts the
    edges from the deeper of the two nodes up to the LCA: on a fixed-depth
    tree it is the LCA height of Bertinetto et al.; on a general tree a
    path that stops one level short of the truth, or goes one level too
    deep, is at distance 1. :math:`d = 0` exactly when the path is right
    in the sense of path accuracy. For a ground truth annotated only down
    to node v (``PATH_UNKNOWN`` below), :math:`|p|` is cut to
    :math:`|g|`: predictions below v are not judged. Inconsistent paths
    (flat multi-head models) are measured by their common prefix.

    - **mistake severity**: the mean of :math:`d(p^{(1)}_b, g_b)` over the
      samples whose top-1 path is wrong (NaN when there is none).
    - **hdist@k**: the mean over samples of the mean distance of the k best
      paths, :math:`\frac{1}{B}\sum_b \frac{1}{k}\sum_{j \le k}
      d(p^{(j)}_b, g_b)`; right paths count 0.
    - **mistake_height{h}_share**: the share (percent) of the top-1
      mistakes at distance h, h = 1..T (the histogram of Bertinetto et
      al.'s figures).

    The k best paths are ``pred_beam_paths`` of beam search, or for a flat
    model the implied paths of the k best nodes of ``pred_score`` (DHNN
    Remark 1). Samples with no annotated ground-truth node are left out.
    Result keys: ``hier/mistake_severity``, ``hier/hdist@1``, ...,
    ``hier/mistake_height1_share``, ...

    Args:
        topk: The k of hdist@k, an int or a sequence. Defaults to 1;
            Bertinetto et al. report k = 1, 5, 20. Heads must keep at least
            ``max(topk)`` beams.
        tree: The class tree; defaults to ``dataset_meta['class_tree']``.
        collect_device: Device for gathering results across ranks.
        prefix: Prefix of the result keys. Defaults to ``'hier'``.
        collect_dir: Directory for gathering results on the CPU.
    """

    def __init__(self,
                 topk: Union[int, Sequence[int]] = 1,
                 tree: Any = None,
                 collect_device: str = 'cpu',
                 prefix: Optional[str] = None,
                 collect_dir: Optional[str] = None) -> None:
        super().__init__(
            tree=tree,
            collect_device=collect_device,
            prefix=prefix,
            collect_dir=collect_dir)
        self.topk = _check_topk(topk)

    def process(self, data_batch: Any, data_samples: Sequence[dict]) -> None:
        """Store the ground truth and the k best paths of each sample."""
        tree, k = self.tree, max(self.topk)
        for sample in data_samples:
            self.results.append(
                dict(
                    pred_paths=get_pred_topk_paths(sample, tree, k),
                    gt_path=get_gt_paths(sample, tree)))

    def compute_metrics(self, results: List[dict]) -> Dict[str, float]:
        pred = torch.stack([r['pred_paths'] for r in results])
        gt = self.stack_paths([r['gt_path'] for r in results])
        return self.calculate(pred, gt, self.topk)

    @staticmethod
    def calculate(pred_paths: Any,
                  gt_paths: Any,
                  topk: Union[int, Sequence[int]] = 1) -> Dict[str, float]:
        """Compute mistake severity and hdist@k.

        Args:
            pred_paths: ``(B, K, T)`` paths, best first, or ``(B, T)``
                top-1 paths (tensor, array or ragged lists).
            gt_paths: ``(B, T)``, or ``(B, P, T)`` with one non-padding row
                per sample.
            topk: The k of hdist@k; each at most K.

        Returns:
            dict: ``mistake_severity``, ``hdist@{k}`` and
            ``mistake_height{h}_share`` (percent) for h = 1..T.
        """
        topk = _check_topk(topk)
        pred = to_paths(pred_paths, name='pred_paths')
        gt = single_gt_path(to_paths(gt_paths, name='gt_paths'))
        if pred.dim() == 2:
            pred = pred[:, None]
        if pred.dim() != 3 or pred.shape[0] != gt.shape[0]:
            raise ValueError(f'pred_paths must be (B, K, T) for {gt.shape[0]}'
                             f' samples, got shape {tuple(pred.shape)}')
        if max(topk) > pred.shape[1]:
            raise ValueError(f'topk={topk} needs {max(topk)} paths per '
                             f'sample, got {pred.shape[1]}')
        depth = max(pred.shape[-1], gt.shape[-1])
        pred, gt = to_paths(pred, depth), to_paths(gt, depth)
        keep = path_lengths(gt) > 0
        dist = path_distance(pred[keep], gt[keep, None]).double()  # (B, K)
        wrong = dist[:, 0] > 0
        out = dict(
            mistake_severity=float(dist[
                wrong, 0].mean()) if wrong.any() else float('nan'))
        for k in topk:
            out[f'hdist@{k}'] = float(
                dist[:, :k].mean(1).mean()) if len(dist) else float('nan')
        counts = torch.bincount(dist[wrong, 0].long(), minlength=depth + 1)
        for h in range(1, depth + 1):
            out[f'mistake_height{h}_share'] = percent(counts[h], wrong.sum())
        return out


def _check_topk(topk: Union[int, Sequence[int]]) -> tuple:
    topk = (topk, ) if isinstance(topk, int) else tuple(topk)
    if not topk or any(not isinstance(k, int) or k < 1 for k in topk):
        raise ValueError(f'topk must be positive ints, got {topk!r}')
    return topk
