# Copyright (c) mmhier contributors. All rights reserved.
"""Scoring and selecting label paths from per-node scores (multi-label).

In the DHNN paper's Open Images setting (section 4.2) every node gets a
sigmoid score at its own step, and "a path is selected if all logits of the
nodes in the path are above the threshold". These helpers do that for a
batch with the tree's ``path_matrix``; metrics can call them to tune the
threshold on validation without running the model again.
"""
from typing import Optional, Tuple

import torch
from torch import Tensor

from mmhier.structures import ClassTree


def path_min_scores(node_scores: Tensor, tree: ClassTree) -> Tensor:
    """Score of the path to every node: the minimum of its node scores.

    Args:
        node_scores: ``(..., N)`` score of each node (e.g. its sigmoid).
        tree: The class tree.

    Returns:
        ``(..., N)``: entry j is ``min`` of ``node_scores`` over the path
        from level 1 to j.
    """
    n = tree.num_nodes
    if node_scores.shape[-1] != n:
        raise ValueError(f'node_scores must end in N={n}, got shape '
                         f'{tuple(node_scores.shape)}')
    pm = tree.tensor('path_matrix', node_scores.device)  # (N, T)
    # Padding points at a column of +inf, which never wins a minimum.
    padded = torch.cat([
        node_scores,
        node_scores.new_full(node_scores.shape[:-1] + (1, ), float('inf'))
    ],
                       dim=-1)
    idx = torch.where(pm >= 0, pm, n).view(-1)
    per_node = padded.index_select(-1, idx)
    per_node = per_node.view(node_scores.shape[:-1] + pm.shape)
    return per_node.min(-1).values


def select_label_nodes(node_scores: Tensor,
                       tree: ClassTree,
                       threshold: float,
                       can_stop: Optional[Tensor] = None) -> Tensor:
    """Nodes whose path is selected by thresholding (multi-label).

    A node's path is selected when all its node scores are
    ``>= threshold``, the rule of :class:`HierMultiLabelMetric` (whose
    validated threshold is the midpoint between two distinct path scores,
    so the rule at equality only matters for thresholds set by hand). A
    node is returned when its path is selected, it may end a path
    (``can_stop``) and none of its children's paths is selected: the
    deepest selected paths, whose prefixes are implied.

    Args:
        node_scores: ``(B, N)`` node scores.
        tree: The class tree.
        threshold: Selection threshold on the scores.
        can_stop: Bool ``(N,)``; defaults to the leaves.

    Returns:
        Bool ``(B, N)``.
    """
    device = node_scores.device
    n = tree.num_nodes
    above = path_min_scores(node_scores, tree) >= threshold
    if can_stop is None:
        can_stop = tree.tensor('is_leaf', device)
    parents = tree.tensor('parents', device)
    # count the selected children of every node; the root's (column N) are
    # dropped. Masks, not boolean indexing (which would sync with the host).
    child_above = above.new_zeros(
        above.shape[:-1] + (n + 1, ), dtype=torch.long)
    child_above.index_add_(-1, torch.where(parents >= 0, parents, n),
                           above.long())
    return above & can_stop.to(device) & (child_above[..., :n] == 0)


def topk_label_paths(node_scores: Tensor,
                     tree: ClassTree,
                     k: int,
                     can_stop: Optional[Tensor] = None,
                     num_stop: Optional[int] = None) -> Tuple[Tensor, Tensor]:
    """The k best paths by their minimum node score.

    Ties (a child scoring at least its path's minimum keeps the minimum)
    go to the deeper node, so a path is extended while that costs nothing.
    The nodes that may not stop are masked, not removed, so the shapes do
    not depend on ``can_stop``'s values (no host sync).

    Args:
        node_scores: ``(B, N)`` node scores.
        tree: The class tree.
        k: How many paths; at most the number of nodes that may stop.
        can_stop: Bool ``(N,)``; defaults to the leaves.
        num_stop: The number of nodes that may stop, if the caller knows it
            on the host; else it is counted (a host sync for a device
            ``can_stop``).

    Returns:
        tuple: ``scores (B, k)`` and the last nodes ``(B, k)`` of the paths,
        best first.
    """
    device = node_scores.device
    if can_stop is None:
        can_stop = tree.tensor('is_leaf', device)
        num_stop = len(tree.leaves)
    elif num_stop is None:
        num_stop = int(can_stop.sum())
    if not 1 <= k <= num_stop:
        raise ValueError(f'k must be in 1..{num_stop} (the nodes that '
                         f'may end a path), got {k!r}')
    depths = tree.tensor('depths', device)
    # Deepest first, then a stable sort by score keeps that order on ties.
    by_depth = torch.argsort(depths, descending=True, stable=True)
    scores = path_min_scores(node_scores, tree)[:, by_depth].masked_fill(
        ~can_stop.to(device)[by_depth], float('-inf'))
    scores, order = torch.sort(scores, dim=1, descending=True, stable=True)
    return scores[:, :k], by_depth[order[:, :k]]
