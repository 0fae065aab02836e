# Copyright (c) mmhier contributors. All rights reserved.
"""Batching helpers for label paths carried on DataSamples."""
from typing import Optional, Sequence, Union

import torch

from .tree_constants import PATH_END


def stack_gt_paths(data_samples: Sequence,
                   device: Union[str, torch.device, None] = None,
                   key: str = 'gt_path') -> torch.Tensor:
    """Batch the ``(P, T)`` path tensors of data samples.

    Args:
        data_samples: DataSamples (or dicts) holding ``key``.
        device: Where to put the result.
        key: Field name, ``'gt_path'`` by default.

    Returns:
        Long tensor ``(B, P_max, T)``; samples with fewer paths are padded
        with rows of ``PATH_END`` (no path).
    """
    paths = []
    for i, sample in enumerate(data_samples):
        value = sample.get(key) if isinstance(sample, dict) else sample.get(
            key, None)
        if value is None:
            raise KeyError(f'data sample {i} has no {key!r}; pack it with '
                           "PackHierInputs (mmhier) so heads receive paths")
        value = torch.as_tensor(value, dtype=torch.long)
        paths.append(value.view(-1, value.shape[-1]))
    if not paths:
        raise ValueError('no data samples to stack')
    lengths = {p.shape[-1] for p in paths}
    if len(lengths) != 1:
        raise ValueError(f'{key} tensors have different lengths {lengths}; '
                         'all must be padded to the tree depth')
    # one op, not one copy per sample
    out = torch.nn.utils.rnn.pad_sequence(
        paths, batch_first=True, padding_value=PATH_END)
    return out.to(device) if device is not None else out


def batched_gt_paths(data_samples: Sequence,
                     key: str = 'gt_path') -> Optional[torch.Tensor]:
    """The ``(B, P, T)`` batch of paths a data preprocessor left on the
    samples, without stacking, or ``None``.

    :class:`~mmhier.models.HierDataPreprocessor` stacks the ``gt_path`` of a
    batch once, on the device, and sets each sample's ``gt_path`` to its
    row of that batch (a view, as mmpretrain's ``ClsDataPreprocessor`` does
    with ``gt_label``). This finds the batch again from the views, reading
    only metadata (no device op, no host sync). It returns ``None`` (stack
    with :func:`stack_gt_paths`) unless sample i holds row i of one batch.

    Args:
        data_samples: DataSamples (or dicts) of one batch.
        key: Field name, ``'gt_path'`` by default.

    Returns:
        Long tensor ``(B, P_max, T)`` or ``None``.
    """
    batch = None
    for i, sample in enumerate(data_samples):
        value = sample.get(key) if isinstance(sample, dict) else sample.get(
            key, None)
        base = getattr(value, '_base', None)
        if base is None or (batch is not None and base is not batch):
            return None
        batch = base
        if (batch.dim() != 3 or batch.dtype != torch.long or value.dim() != 2
                or value.shape[-1] != batch.shape[-1]
                or value.storage_offset()
                != batch.storage_offset() + i * batch.stride(0)):
            return None
    if batch is None or batch.size(0) != len(data_samples):
        return None
    return batch


def paths_to_multihot(paths: torch.Tensor, num_nodes: int) -> torch.Tensor:
    """Per-level multi-hot targets of several paths.

    ``out[b, t, j] = 1`` when some path of sample b has node j at step t.

    Args:
        paths: Long ``(B, P, T)`` (or ``(B, T)``), padded with negatives.
        num_nodes: N.

    Returns:
        Float tensor ``(B, T, N)``.
    """
    if paths.dim() == 2:
        paths = paths[:, None]
    b, _, t = paths.shape
    out = paths.new_zeros((b, t, num_nodes + 1), dtype=torch.float)
    idx = torch.where(paths >= 0, paths, paths.new_full((), num_nodes))
    out.scatter_(2, idx.transpose(1, 2), 1.0)
    return out[..., :num_nodes]
