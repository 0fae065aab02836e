# Copyright (c) mmhier contributors. All rights reserved.
"""mmpretrain's data preprocessor that also batches the label paths."""
from typing import List, Optional

import torch
from mmpretrain.models.utils import ClsDataPreprocessor
from mmpretrain.registry import MODELS

from mmhier.structures import batched_gt_paths, mark_batched, stack_gt_paths


@MODELS.register_module()
class HierDataPreprocessor(ClsDataPreprocessor):
    """``ClsDataPreprocessor`` that also collates ``gt_path`` once a step.

    Everything ``ClsDataPreprocessor`` does (normalisation, ``gt_label`` /
    ``gt_score`` batching, batch augments) is unchanged. In addition, when
    every data sample of the batch has a ``gt_path`` (``(P_i, T)``, packed by
    ``PackHierInputs``), they are padded to one long ``(B, P, T)`` tensor
    with ``PATH_END`` rows, moved to the device in one copy, and each
    sample's ``gt_path`` becomes its row of that batch (``batch[i, :P_i]``,
    a view, as mmpretrain does with ``gt_label``), with the batch left in
    its metainfo (``gt_path_batch``). The hierarchical heads find the batch
    again by identity (:func:`~mmhier.structures.batched_gt_paths`), so a
    training step does no per-sample stacking and no host-device copy of
    the ground truth, compiled or not.

    Validation and test batches keep their paths as packed, on the CPU,
    where the metrics read them (``predict`` does not need them).

    The paths are not checked here: the datasets check them against the
    tree when they load them, and the heads check what came another way
    (see ``BaseHierHead.get_gt_paths``).

    Args:
        **kwargs: The arguments of mmpretrain's ``ClsDataPreprocessor``.

    Examples:
        >>> # configs: in the dataset base, next to mean and std
        >>> data_preprocessor = dict(
        ...     type='HierDataPreprocessor', num_classes=30,
        ...     mean=[123.675, 116.28, 103.53], std=[58.395, 57.12, 57.375],
        ...     to_rgb=True)
    """

    def forward(self, data: dict, training: bool = False) -> dict:
        data = super().forward(data, training)
        data_samples = data.get('data_samples', None)
        if training and data_samples:
            self.collate_gt_paths(data_samples)
        return data

    def collate_gt_paths(self, data_samples: List) -> Optional[torch.Tensor]:
        """Batch the samples' ``gt_path`` on the device and set each to its
        row (a view); returns the ``(B, P, T)`` batch, or ``None`` when some
        sample has none (inference)."""
        if any(s.get('gt_path', None) is None for s in data_samples):
            return None
        batch = batched_gt_paths(data_samples)
        if batch is not None and batch.device == self.device:
            return batch  # batched already (e.g. a second call)
        batch = stack_gt_paths(data_samples)
        rows = [
            torch.as_tensor(s.gt_path).reshape(-1, batch.size(-1)).size(0)
            for s in data_samples
        ]
        batch = batch.to(self.device, non_blocking=self._non_blocking)
        mark_batched(data_samples, batch, rows)
        return batch


__all__ = ['HierDataPreprocessor']
