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


def batch_mark(key: str = 'gt_path') -> str:
    """The metainfo key under which a data preprocessor leaves, on each
    sample, ``(batch, i, row)``: the ``(B, P, T)`` batch of ``key``, the
    sample's index in it and the tensor it set as the sample's ``key``."""
    return f'{key}_batch'


def mark_batched(data_samples: Sequence,
                 batch: torch.Tensor,
                 rows: Sequence[int],
                 key: str = 'gt_path') -> None:
    """Set each sample's ``key`` to its rows of ``batch`` (a view,
    ``batch[i, :rows[i]]``) and leave the batch beside it, for
    :func:`batched_gt_paths`."""
    mark = batch_mark(key)
    for i, (sample, p) in enumerate(zip(data_samples, rows)):
        row = batch[i, :p]
        if isinstance(sample, dict):
            sample[key], sample[mark] = row, (batch, i, row)
        else:
            sample.set_field(row, key)
            # set_metainfo would deep-copy the batch
            sample.set_field((batch, i, row), mark, field_type='metainfo')


def batched_gt_paths(data_samples: Sequence,
                     key: str = 'gt_path') -> Optional[torch.Tensor]:
    """The ``(B, P, T)`` batch of paths a data preprocessor left on the
    samples, without stacking, or ``None``.

    :class:`~mmhier.models.HierDataPreprocessor` stacks the ``gt_path`` of a
    batch once, on the device, sets each sample's ``gt_path`` to its rows of
    that batch (as mmpretrain's ``ClsDataPreprocessor`` does with
    ``gt_label``) and leaves the batch beside them (:func:`mark_batched`).
    This finds the batch again by identity, reading no tensor (no device
    op, no host sync, nothing that stops ``torch.compile``'s tracing; the
    rows need not be views: compiled graphs return them as tensors of their
    own). It returns ``None`` (stack with :func:`stack_gt_paths`) unless
    sample i holds, unchanged, row i of one batch of ``len(data_samples)``.

    Args:
        data_samples: DataSamples (or dicts) of one batch.
        key: Field name, ``'gt_path'`` by default.

    Returns:
        Long tensor ``(B, P_max, T)`` or ``None``.
    """
    mark = batch_mark(key)
    batch = None
    for i, sample in enumerate(data_samples):
        value, found = sample.get(key, None), sample.get(mark, None)
        if found is None:
            return None
        this, index, row = found
        if index != i or row is not value or (batch is not None
                                              and this is not batch):
            return None
        batch = this
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
