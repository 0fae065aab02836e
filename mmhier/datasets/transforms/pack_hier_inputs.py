# Copyright (c) mmhier contributors. All rights reserved.
from typing import Optional, Sequence

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

    With ``num_nodes`` set, it also packs ``gt_score``: a float ``(N,)``
    multi-hot vector of every node on every label path (annotated levels
    only). mmpretrain's multi-label heads (``MultiLabelLinearClsHead``) train
    on ``gt_score`` when present, so a flat multi-label baseline learns all
    the nodes of an image's paths, not only the last node of the first one.

    Args:
        input_key: Key of the input, ``'img'`` by default.
        algorithm_keys: Further keys to put on the data sample as they are.
        meta_keys: Meta keys, as ``PackInputs``.
        num_nodes: N, to pack the node multi-hot ``gt_score``; ``None``
            (default) packs no ``gt_score``.
    """

    def __init__(self,
                 input_key: str = 'img',
                 algorithm_keys: Sequence[str] = (),
                 meta_keys: Sequence[str] = PackInputs.DEFAULT_META_KEYS,
                 num_nodes: Optional[int] = None):
        algorithm_keys = tuple(k for k in algorithm_keys if k != 'gt_path')
        super().__init__(
            input_key=input_key,
            algorithm_keys=algorithm_keys,
            meta_keys=meta_keys)
        if num_nodes is not None and int(num_nodes) <= 0:
            raise ValueError(f'num_nodes must be positive, got {num_nodes!r}')
        self.num_nodes = num_nodes

    def transform(self, results: dict) -> dict:
        packed = super().transform(results)
        if results.get('gt_path') is not None:
            path = self.format_path(results['gt_path'])
            packed['data_samples'].set_field(path, 'gt_path')
            if self.num_nodes is not None:
                packed['data_samples'].set_gt_score(
                    self.node_multi_hot(path, self.num_nodes))
        return packed

    @staticmethod
    def node_multi_hot(path: torch.Tensor, num_nodes: int) -> torch.Tensor:
        """Float ``(N,)``: 1 for every node on any of the ``(P, T)`` paths.
        """
        nodes = path[path >= 0]
        if nodes.numel() and int(nodes.max()) >= num_nodes:
            raise ValueError(f'gt_path holds node {int(nodes.max())}, but '
                             f'num_nodes={num_nodes}')
        score = torch.zeros(num_nodes)
        score[nodes] = 1.0
        return score

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
