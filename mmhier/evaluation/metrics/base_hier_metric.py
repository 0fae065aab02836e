# Copyright (c) mmhier contributors. All rights reserved.
"""Shared plumbing of the hierarchical metrics: the tree and batching."""
from typing import Any, Optional, Sequence

import torch
from mmengine.evaluator import BaseMetric
from torch.nn.utils.rnn import pad_sequence

from mmhier.structures import PATH_END, ClassTree


class BaseHierMetric(BaseMetric):
    """Base of the mmhier metrics (not registered itself).

    The class tree is ``tree`` when given (anything
    :meth:`ClassTree.build` accepts: a ``ClassTree``, a file path, a nested
    dict), else the ``class_tree`` of the dataset's ``metainfo``, which the
    evaluator hands over as ``dataset_meta``.

    ``process()`` stores one dict of CPU tensors per sample (so mmengine's
    result gathering and its truncation of padded samples work unchanged
    under distributed evaluation); the maths runs on rank 0 in
    ``compute_metrics()`` through the class's ``calculate()``.

    Args:
        tree: The class tree, or None to read it from ``dataset_meta``.
        collect_device: Device for gathering results across ranks.
        prefix: Prefix of the result keys. Defaults to ``'hier'``.
        collect_dir: Directory for gathering results on the CPU.
    """
    default_prefix: Optional[str] = 'hier'

    def __init__(self,
                 tree: Any = None,
                 collect_device: str = 'cpu',
                 prefix: Optional[str] = None,
                 collect_dir: Optional[str] = None) -> None:
        super().__init__(
            collect_device=collect_device,
            prefix=prefix,
            collect_dir=collect_dir)
        self._given_tree = None if tree is None else ClassTree.build(tree)
        self._meta_tree: Optional[ClassTree] = None

    @property
    def dataset_meta(self) -> Optional[dict]:
        return self._dataset_meta

    @dataset_meta.setter
    def dataset_meta(self, dataset_meta: dict) -> None:
        self._dataset_meta = dataset_meta
        self._meta_tree = None

    @property
    def tree(self) -> ClassTree:
        """The class tree (``tree=`` or ``dataset_meta['class_tree']``)."""
        if self._given_tree is not None:
            return self._given_tree
        if self._meta_tree is None:
            meta = self._dataset_meta or {}
            if meta.get('class_tree') is None:
                raise ValueError(
                    f'{type(self).__name__} needs the class tree: pass '
                    'tree=... (a ClassTree, a tree file or a nested dict) '
                    "or evaluate a dataset whose metainfo has 'class_tree' "
                    f'(dataset_meta keys: {sorted(meta)})')
            self._meta_tree = ClassTree.build(meta['class_tree'])
        return self._meta_tree

    @staticmethod
    def stack_paths(paths: Sequence[torch.Tensor]) -> torch.Tensor:
        """Stack per-sample ``(P_i, T)`` paths into ``(B, P_max, T)``,
        padding missing rows with empty paths (all ``PATH_END``)."""
        if not paths:
            raise ValueError('no results to evaluate')
        return pad_sequence(
            list(paths), batch_first=True, padding_value=PATH_END)


def percent(num: Any, den: Any) -> float:
    """``100 * num / den`` as a float, NaN when ``den`` is 0."""
    den = float(den)
    return float('nan') if den == 0 else 100.0 * float(num) / den


def f1_from(tp: torch.Tensor, pred_pos: torch.Tensor,
            gt_pos: torch.Tensor) -> tuple:
    """Precision, recall and F1 in percent from counts (any shape, element
    wise); a zero denominator gives 0, as in mmpretrain."""
    tp, pred_pos, gt_pos = (
        torch.as_tensor(x, dtype=torch.float64)
        for x in (tp, pred_pos, gt_pos))
    precision = 100 * tp / pred_pos.clamp(min=1)
    recall = 100 * tp / gt_pos.clamp(min=1)
    total = precision + recall
    f1 = torch.where(total > 0,
                     2 * precision * recall / total.clamp(min=1e-12),
                     torch.zeros_like(total))
    return precision, recall, f1
