# Copyright (c) mmhier contributors. All rights reserved.
from typing import Sequence

import numpy as np
import torch
from mmpretrain.datasets.transforms import PackInputs
from mmpretrain.registry import TRANSFORMS


@TRANSFORMS.register_module()
class PackHierInputs(PackInputs):
    """mmpretrain's ``PackInputs`` that also carries the label paths.

    ``results['gt_path']`` (int ``(P, T)``, or ``(T,)`` for one path) is put
    on the ``DataSample`` as ``gt_path``: a ``torch.long`` tensor of shape
    ``(P, T)`` padded with ``PATH_END`` (-1) / ``PATH_UNKNOWN`` (-2). Heads
    batch it with ``mmhier.structures.stack_gt_paths``. Plain ``PackInputs(
    algorithm_keys=['gt_path'])`` would leave a numpy array there, which
    heads would have to convert per sample.

    ``gt_label`` is packed as ``PackInputs`` does (the node index of the last
    node of the first path). A sample without ``gt_path`` (inference) is
    packed without it.

    Args:
        input_key: Key of the input, ``'img'`` by default.
        algorithm_keys: Further keys to put on the data sample as they are.
        meta_keys: Meta keys, as ``PackInputs``.
    """

    def __init__(self,
                 input_key: str = 'img',
                 algorithm_keys: Sequence[str] = (),
                 meta_keys: Sequence[str] = PackInputs.DEFAULT_META_KEYS):
        algorithm_keys = tuple(k for k in algorithm_keys if k != 'gt_path')
        super().__init__(
            input_key=input_key,
            algorithm_keys=algorithm_keys,
            meta_keys=meta_keys)

    def transform(self, results: dict) -> dict:
        packed = super().transform(results)
        if results.get('gt_path') is not None:
            packed['data_samples'].set_field(
                self.format_path(results['gt_path']), 'gt_path')
        return packed

    @staticmethod
    def format_path(gt_path) -> torch.Tensor:
        """``gt_path`` as a ``torch.long`` ``(P, T)`` tensor."""
        if isinstance(gt_path, torch.Tensor):
            path = gt_path.to(torch.long)
        else:
            path = torch.from_numpy(np.asarray(gt_path, dtype=np.int64))
        if path.dim() == 1:
            path = path[None]
        if path.dim() != 2 or path.numel() == 0:
            raise ValueError('gt_path must have shape (P, T) or (T,) with '
                             f'P, T > 0, got {tuple(path.shape)}')
        return path
