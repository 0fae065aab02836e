# Copyright (c) mmhier contributors. All rights reserved.
"""Batching helpers for label paths carried on DataSamples."""
from typing import Sequence, Union

import torch

from .class_tree import PATH_END


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
    p_max = max(p.shape[0] for p in paths)
    out = paths[0].new_full((len(paths), p_max, lengths.pop()), PATH_END)
    for i, p in enumerate(paths):  # one copy per sample, no per-node work
        out[i, :p.shape[0]] = p
    return out.to(device) if device is not None else out


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
