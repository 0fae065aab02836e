# Copyright (c) mmhier contributors. All rights reserved.
"""Vectorised maths on label paths shared by the metrics, heads and tools.

A path is a row of node indices from level 1 down, root excluded, padded to
the tree depth T with ``PATH_END`` (-1, the path stops) or ``PATH_UNKNOWN``
(-2, the lower levels are not annotated). Every function here works on a
whole batch at once; none loops over samples.

Conventions used by all mmhier metrics (see ``docs/metrics.md``):

- the *length* of a path is its number of node entries (``>= 0``);
- a ground-truth path is *open* when it holds ``PATH_UNKNOWN``: the object is
  its last known node or a descendant of it, we do not know which;
- the *distance* of two paths is
  ``max(len(pred), len(gt)) - common_prefix(pred, gt)``, with ``len(pred)``
  cut to ``len(gt)`` when ``gt`` is open. For valid paths the common prefix
  is the depth of the lowest common ancestor (LCA), so the distance is the
  number of edges from the deeper node up to the LCA; on a fixed-depth tree
  this is the LCA height of Bertinetto et al. (CVPR 2020).
"""
from numbers import Integral
from typing import Any, Optional, Sequence, Tuple, Union

import numpy as np
import torch

from mmhier.structures import PATH_END, PATH_UNKNOWN, ClassTree

ArrayLike = Union[torch.Tensor, np.ndarray, Sequence]

__all__ = [
    'to_paths', 'to_scores', 'imply_paths', 'imply_topk_paths', 'path_lengths',
    'last_nodes', 'is_open', 'common_prefix_length', 'path_distance',
    'paths_to_node_mask', 'ancestor_closure', 'path_min_scores',
    'max_child_scores', 'gt_node_sets', 'single_gt_path'
]


def _is_int(x: Any) -> bool:
    return isinstance(x, Integral) or (isinstance(x,
                                                  (torch.Tensor, np.ndarray))
                                       and x.ndim == 0)


def _nested_to_tensor(x: Any, fill: int, name: str) -> torch.Tensor:
    """Convert a possibly ragged nesting of int sequences, padding with
    ``fill`` to the largest extent along every dimension."""
    if isinstance(x, torch.Tensor):
        return x.detach().cpu().long()
    if isinstance(x, np.ndarray) and x.dtype != object:
        return torch.from_numpy(np.ascontiguousarray(x)).long()
    if not isinstance(x, (list, tuple, np.ndarray)):
        raise TypeError(f'{name} must be a tensor, an array or a (nested) '
                        f'list of ints, got {type(x).__name__}')
    if all(_is_int(v) for v in x):
        return torch.tensor([int(v) for v in x], dtype=torch.long)
    parts = [_nested_to_tensor(v, fill, name) for v in x]
    ndim = {p.ndim for p in parts}
    if len(ndim) != 1:
        raise ValueError(f'{name} mixes nesting depths {sorted(ndim)}')
    shape = [max(p.shape[d] for p in parts) for d in range(ndim.pop())]
    out = torch.full([len(parts)] + shape, fill, dtype=torch.long)
    for i, p in enumerate(parts):  # conversion of user input, not maths
        out[(i, ) + tuple(slice(0, s) for s in p.shape)] = p
    return out


def to_paths(paths: ArrayLike,
             max_depth: Optional[int] = None,
             name: str = 'paths') -> torch.Tensor:
    """Turn paths given as a tensor, an array or (ragged) lists into a long
    tensor padded with ``PATH_END``.

    Args:
        paths: ``(..., T')`` paths; lists may differ in length and in the
            number of paths per sample (missing rows become empty paths).
        max_depth: Pad the last dimension to this T; a longer path raises.
        name: Name used in error messages.

    Returns:
        Long tensor ``(..., T)`` on the CPU.

    Examples:
        >>> to_paths([[0, 2], [1]], max_depth=3)
        tensor([[ 0,  2, -1],
                [ 1, -1, -1]])
    """
    out = _nested_to_tensor(paths, PATH_END, name)
    if out.ndim == 0:
        raise ValueError(f'{name} must have a path dimension, got a scalar')
    if max_depth is not None:
        t = out.shape[-1]
        if t > max_depth:
            extra = out[..., max_depth:]
            if (extra != PATH_END).any():
                raise ValueError(f'{name} have length {t} with nodes beyond '
                                 f'the tree depth {max_depth}')
            out = out[..., :max_depth]
        elif t < max_depth:
            pad = out.new_full(out.shape[:-1] + (max_depth - t, ), PATH_END)
            out = torch.cat([out, pad], dim=-1)
    bad = out < PATH_UNKNOWN
    if bad.any():
        raise ValueError(f'{name} hold {out[bad][0].item()}; paths contain '
                         f'node indices, PATH_END ({PATH_END}) or '
                         f'PATH_UNKNOWN ({PATH_UNKNOWN})')
    return out


def to_scores(scores: ArrayLike, name: str = 'scores') -> torch.Tensor:
    """Scores as a float tensor on the CPU (tensor, array or lists)."""
    if isinstance(scores, torch.Tensor):
        return scores.detach().cpu().float()
    return torch.as_tensor(np.asarray(scores, dtype=np.float32))


def _check_nodes(paths: torch.Tensor, num_nodes: int, name: str) -> None:
    if paths.numel() and int(paths.max()) >= num_nodes:
        raise ValueError(f'{name} hold node {int(paths.max())} but the tree '
                         f'has {num_nodes} nodes (0..{num_nodes - 1})')


def imply_paths(labels: ArrayLike, tree: ClassTree) -> torch.Tensor:
    """The full path of each predicted node (DHNN paper, Remark 1).

    A flat classifier over the N nodes (e.g. mmpretrain's ``LinearClsHead``
    with ``num_classes=N``) predicts only a node; its prediction is scored
    as the path from level 1 down to that node, i.e. all the node's
    ancestors are taken as predicted too.

    Args:
        labels: Node indices of any shape ``(...)``.
        tree: The class tree.

    Returns:
        Long tensor ``(..., T)``: row ``tree.path_matrix[label]``.
    """
    labels = _nested_to_tensor(labels, PATH_END, 'labels')
    if labels.numel() and (int(labels.min()) < 0
                           or int(labels.max()) >= tree.num_nodes):
        bad = labels[(labels < 0) | (labels >= tree.num_nodes)][0].item()
        raise ValueError(f'label {bad} is not a node index of the tree '
                         f'(0..{tree.num_nodes - 1})')
    return tree.tensor('path_matrix')[labels]


def imply_topk_paths(scores: ArrayLike, tree: ClassTree,
                     k: int) -> torch.Tensor:
    """Paths of the k best nodes of flat node scores (Remark 1, top-k).

    Args:
        scores: ``(..., N)`` node scores.
        tree: The class tree.
        k: How many paths.

    Returns:
        Long tensor ``(..., k, T)``, best first.
    """
    scores = to_scores(scores)
    if scores.shape[-1] != tree.num_nodes:
        raise ValueError(f'scores have {scores.shape[-1]} classes but the '
                         f'tree has {tree.num_nodes} nodes; a flat model '
                         'must score every node to imply paths')
    if not 1 <= k <= tree.num_nodes:
        raise ValueError(f'k must be in 1..{tree.num_nodes}, got {k}')
    return imply_paths(scores.topk(k, dim=-1).indices, tree)


def path_lengths(paths: torch.Tensor) -> torch.Tensor:
    """Number of nodes of each path ``(..., T) -> (...)``."""
    return (paths >= 0).sum(-1)


def last_nodes(paths: torch.Tensor) -> torch.Tensor:
    """Last node of each path ``(..., T) -> (...)``, -1 for an empty path."""
    length = path_lengths(paths)
    idx = (length - 1).clamp(min=0).unsqueeze(-1)
    last = paths.gather(-1, idx).squeeze(-1)
    return torch.where(length > 0, last, last.new_full((), -1))


def is_open(paths: torch.Tensor) -> torch.Tensor:
    """Whether each path has unannotated lower levels ``(..., T) -> (...)``.
    """
    return (paths == PATH_UNKNOWN).any(-1)


def common_prefix_length(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Number of leading nodes two (broadcastable) paths share.

    For valid paths this is the depth of the nodes' lowest common ancestor
    (0: the root).
    """
    same = (a == b) & (a >= 0)
    return torch.cumprod(same.long(), dim=-1).sum(-1)


def path_distance(pred: torch.Tensor, gt: torch.Tensor) -> torch.Tensor:
    """Tree distance between predicted and ground-truth paths.

    ``d = max(len_p, len_g) - c`` where ``c`` is the common prefix length
    and, when ``gt`` is open (holds ``PATH_UNKNOWN``), ``len_p`` is cut to
    ``len_g``: a prediction below the last annotated node is not judged.
    For valid paths ``c`` is the LCA depth, so ``d`` counts the edges from
    the deeper of the two nodes up to their LCA; it is 0 exactly when the
    path is right (as in path accuracy). On a fixed-depth tree it is the
    LCA height of Bertinetto et al., "Making Better Mistakes" (CVPR 2020).

    Args:
        pred: ``(..., T)`` predicted paths.
        gt: ``(..., T)`` ground-truth paths, broadcastable to ``pred``.

    Returns:
        Long tensor of distances, the broadcast shape without T.
    """
    len_p, len_g = path_lengths(pred), path_lengths(gt)
    len_p = torch.where(is_open(gt), torch.minimum(len_p, len_g), len_p)
    return torch.maximum(len_p, len_g) - common_prefix_length(pred, gt)


def paths_to_node_mask(paths: torch.Tensor, num_nodes: int) -> torch.Tensor:
    """Set of nodes on the paths of each sample.

    Args:
        paths: ``(B, T)`` or ``(B, P, T)``; padding is skipped.
        num_nodes: N.

    Returns:
        Bool tensor ``(B, N)``: node j lies on some path of sample b.
    """
    _check_nodes(paths, num_nodes, 'paths')
    flat = paths.reshape(paths.shape[0], -1)
    idx = torch.where(flat >= 0, flat, flat.new_full((), num_nodes))
    mask = torch.zeros(flat.shape[0], num_nodes + 1, dtype=torch.bool)
    mask.scatter_(1, idx, True)
    return mask[:, :num_nodes]


def ancestor_closure(node_mask: torch.Tensor, tree: ClassTree) -> torch.Tensor:
    """Add every ancestor (root excluded) of the nodes in each set.

    ``out[b, j] = any_i mask[b, i] & anc[i, j]``; for the node set of a
    valid path this changes nothing, for an inconsistent path it adds the
    ancestors of its nodes (Kiritchenko et al.'s augmented label sets).
    """
    anc = tree.ancestor_mask().float()
    return (node_mask.float() @ anc) > 0


def path_min_scores(scores: torch.Tensor, tree: ClassTree) -> torch.Tensor:
    """Score of every path: the minimum node score along it.

    A path is predicted when all its node scores pass the threshold (DHNN
    paper, sec. 4.2), i.e. when this minimum does.

    Args:
        scores: ``(B, N)`` node scores.
        tree: The class tree.

    Returns:
        ``(B, N)``: entry j is the score of the path ending at node j.
    """
    if scores.shape[-1] != tree.num_nodes:
        raise ValueError(f'scores have {scores.shape[-1]} classes, the tree '
                         f'has {tree.num_nodes} nodes')
    out = scores.clone()
    parents = tree.tensor('parents')
    for nodes in tree.levels[1:]:  # T levels, each vectorised
        nodes = torch.from_numpy(nodes)
        out[:, nodes] = torch.minimum(out[:, nodes], out[:, parents[nodes]])
    return out


def max_child_scores(path_scores: torch.Tensor,
                     tree: ClassTree) -> torch.Tensor:
    """Largest path score among the children of each node, ``-inf`` for a
    leaf: ``(B, N) -> (B, N)``."""
    n = tree.num_nodes
    parents = tree.tensor('parents')
    rows = torch.where(parents < 0, parents.new_full((), n), parents)
    out = path_scores.new_full((path_scores.shape[0], n + 1), -float('inf'))
    out.scatter_reduce_(
        1, rows.expand_as(path_scores), path_scores, 'amax', include_self=True)
    return out[:, :n].contiguous()


def gt_node_sets(
    gt_paths: torch.Tensor, tree: ClassTree
) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Positives and judged entries of ground-truth path sets.

    A ground-truth row ``[a, b, UNKNOWN]`` says the object is ``b`` or
    below it. Its nodes ``a, b`` are positives; nodes strictly below ``b``
    are not judged (neither right nor wrong), and as paths neither ``b``'s
    path nor any path below it is judged, since the true path may stop at
    ``b`` or go deeper. A row that is unknown from level 1 leaves the
    sample unjudged. Known positives are always judged.

    Args:
        gt_paths: ``(B, P, T)``; all-``PATH_END`` rows (padding) are
            ignored.
        tree: The class tree.

    Returns:
        tuple: ``node_pos, node_judged, path_pos, path_judged``, bool
        ``(B, N)`` each. ``path_pos[b, j]``: a complete ground-truth path
        of sample b ends at node j.
    """
    n = tree.num_nodes
    if gt_paths.dim() == 2:
        gt_paths = gt_paths[:, None]
    _check_nodes(gt_paths, n, 'gt paths')
    b = gt_paths.shape[0]
    node_pos = paths_to_node_mask(gt_paths, n)
    last = last_nodes(gt_paths)  # (B, P)
    open_ = is_open(gt_paths)
    closed = ~open_ & (last >= 0)
    slot = torch.where(closed, last, last.new_full((), n))
    path_pos = torch.zeros(b, n + 1, dtype=torch.bool)
    path_pos.scatter_(1, slot, True)
    path_pos = path_pos[:, :n]
    # Open rows: the node below which nothing is judged
    # (index N stands for the root, N + 1 collects the closed rows)
    root_or_last = torch.where(last >= 0, last, last.new_full((), n))
    slot = torch.where(open_, root_or_last, last.new_full((), n + 1))
    opened = torch.zeros(b, n + 2, dtype=torch.bool)
    opened.scatter_(1, slot, True)
    open_root = opened[:, n:n + 1]
    opened = opened[:, :n]
    anc = tree.ancestor_mask()
    strict = (anc & ~torch.eye(n, dtype=torch.bool)).float()
    # below[b, j]: some strict ancestor of j is an open node of sample b.
    below = ((opened.float() @ strict.T) > 0) | open_root
    node_judged = ~below | node_pos
    path_judged = ~(below | opened) | path_pos
    return node_pos, node_judged, path_pos, path_judged


def single_gt_path(gt_paths: torch.Tensor,
                   name: str = 'gt paths') -> torch.Tensor:
    """The one ground-truth path per sample of single-label data.

    Args:
        gt_paths: ``(B, T)`` or ``(B, P, T)`` with exactly one non-padding
            row per sample (padding rows are all ``PATH_END``).
        name: Name used in error messages.

    Returns:
        ``(B, T)``.
    """
    if gt_paths.dim() == 2:
        return gt_paths
    if gt_paths.dim() != 3:
        raise ValueError(f'{name} must be (B, T) or (B, P, T), got shape '
                         f'{tuple(gt_paths.shape)}')
    used = (gt_paths != PATH_END).any(-1)  # (B, P)
    count = used.sum(-1)
    if (count > 1).any():
        b = int(torch.nonzero(count > 1)[0, 0])
        raise ValueError(f'sample {b} has {int(count[b])} ground-truth '
                         'paths; this metric is single-label (use '
                         'HierMultiLabelMetric or HierF1 for several paths)')
    row = used.long().argmax(-1)  # the used row, or row 0 if none
    return gt_paths[torch.arange(gt_paths.shape[0]), row]
