# Copyright (c) mmhier contributors. All rights reserved.
"""Ground-truth paths of the hierarchical heads: batching and checks."""
import os
from typing import List, Optional, Sequence, Union

import torch
from mmpretrain.structures import DataSample
from torch import Tensor

from mmhier.structures import (PATH_END, PATH_UNKNOWN, batched_gt_paths,
                               stack_gt_paths)


def debug_checks() -> bool:
    """Whether ``MMHIER_DEBUG`` asks for the full ground-truth checks (with
    a message naming the sample) at every step, host syncs and all."""
    return os.environ.get('MMHIER_DEBUG', '') not in ('', '0')


def ends_at_inner(gt: Tensor, is_leaf: Tensor) -> Tensor:
    """Bool ``(B,)``: complete paths ``(B, T)`` whose last node is not a leaf
    (paths with ``PATH_UNKNOWN`` steps are coarse-only, never flagged)."""
    length = (gt >= 0).sum(-1)
    last = gt.gather(1, (length - 1).clamp(min=0)[:, None])[:, 0]
    unknown = (gt == PATH_UNKNOWN).any(-1)
    return ~is_leaf[last.clamp(min=0)] & ~unknown


class HierGtPathsMixin:
    """How a :class:`BaseHierHead` reads and checks ``gt_path``.

    Expects the attributes :class:`BaseHierHead` sets: ``tree``,
    ``max_depth`` and ``multi_label``.
    """

    def get_gt_paths(self, data_samples: Sequence[DataSample],
                     device: Union[str, torch.device]) -> Tensor:
        """The ``gt_path`` of a batch, long ``(B, P, T)`` on ``device``.

        Where the paths enter decides what is checked, so that a training
        step reads nothing back from the device:

        - batched by ``HierDataPreprocessor`` (the configs): the batch is
          used as it is. The datasets checked every path against the tree
          when they loaded it; what only the head knows (where a path may
          end, :meth:`gt_end_errors`) is asserted on the device,
          asynchronously (``torch._assert_async``).
        - packed any other way (hand-made samples, another preprocessor):
          stacked here and checked with :meth:`check_gt_paths` before they
          move to ``device``, which raises a ``ValueError`` naming the
          sample.

        ``MMHIER_DEBUG=1`` runs :meth:`check_gt_paths` on every batch.
        """
        gt = batched_gt_paths(data_samples)
        checked = gt is None or debug_checks()
        if gt is None:
            gt = stack_gt_paths(data_samples)
        if gt.size(-1) != self.max_depth:
            raise ValueError(f'gt_path has length {gt.size(-1)} but the tree '
                             f'has depth {self.max_depth}')
        if checked:
            self.check_gt_paths(gt)
        else:
            bad = self.gt_end_errors(gt[:, 0]) if not self.multi_label \
                else None
            if bad is not None:
                torch._assert_async(
                    ~bad.any(),
                    f'{type(self).__name__}: a gt_path ends where the head '
                    'cannot stop a path; run with MMHIER_DEBUG=1 to name '
                    'the sample')
        return gt.to(device)

    def check_gt_paths(self, gt: Tensor) -> None:
        """Check ground-truth paths, reading the result back (a host sync).

        Args:
            gt: Long ``(B, P, T)`` (or ``(B, T)``, one path per sample).

        Raises:
            ValueError: naming the first sample whose (first, or any
                non-empty when multi-label) path is not a path of the tree,
                or (single-label) ends where the head cannot stop
                (:meth:`gt_end_errors`).
        """
        if gt.dim() == 2:
            gt = gt[:, None]
        used = torch.zeros(gt.shape[:2], dtype=torch.bool, device=gt.device)
        used[:, 0] = True
        if self.multi_label:
            used = gt[..., 0] != PATH_END
        ok = self.tree.valid_paths(gt, allow_unknown=True) | ~used
        if not ok.all():
            b, p = [int(i) for i in torch.nonzero(~ok)[0]]
            raise ValueError(
                f'gt_path of data sample {b} (row {p}) is not a path of the '
                f'tree: {gt[b, p].tolist()}')
        bad = None if self.multi_label else self.gt_end_errors(gt[:, 0])
        if bad is not None and bad.any():
            b = int(torch.nonzero(bad)[0])
            raise ValueError(self.gt_end_message(b, gt[b, 0].tolist()))

    def gt_end_errors(self, gt: Tensor) -> Optional[Tensor]:
        """Bool ``(B,)``: first paths ``(B, T)`` (valid ones) that end where
        this head cannot stop a path; ``None`` when every end is fine (the
        default). Computed on the device, without a sync."""
        return None

    def gt_end_message(self, sample: int, path: List[int]) -> str:
        """The error for a sample flagged by :meth:`gt_end_errors`."""
        return (f'gt_path of data sample {sample} ends where '
                f'{type(self).__name__} cannot stop a path: {path}')

    def inner_end_message(self, sample: int, path: List[int]) -> str:
        """:meth:`gt_end_message` of heads built with
        ``allow_inner_stop=False``."""
        last = [i for i in path if i >= 0][-1]
        return (f'gt_path of data sample {sample} ends at inner node '
                f'{self.tree.names[last]!r}, but allow_inner_stop=False')


__all__ = ['HierGtPathsMixin', 'debug_checks', 'ends_at_inner']
