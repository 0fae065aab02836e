# Copyright (c) mmhier contributors. All rights reserved.
"""Distances between the nodes of a :class:`ClassTree`, for the
hierarchy-aware losses and decoders (soft labels, CRM).

Two distances are offered, both from the depth of the lowest common
ancestor (LCA, depth 0 for the root):

- ``'edges'``: the number of edges between ``a`` and ``b``,
  ``depth(a) + depth(b) - 2 * depth(lca(a, b))`` (a metric);
- ``'lca_height'``: ``max(depth(a), depth(b)) - depth(lca(a, b))``, the
  "height of the LCA" of Bertinetto et al. (CVPR 2020) and the distance of
  mmhier's ``MistakeSeverity`` metric.

On a fixed-depth tree the first is twice the second.
"""
from typing import Optional, Sequence, Union

import torch
from torch import Tensor

from mmhier.structures import ClassTree

DISTANCES = ('edges', 'lca_height')

__all__ = ['DISTANCES', 'tree_distance_matrix', 'resolve_label_nodes']


def tree_distance_matrix(tree: ClassTree,
                         kind: str = 'edges',
                         device: Union[str, torch.device] = 'cpu') -> Tensor:
    """Distance between every pair of nodes.

    Args:
        tree: The class tree.
        kind: ``'edges'`` or ``'lca_height'`` (see the module docstring).
        device: Where to put the result.

    Returns:
        Long tensor ``(N, N)``, symmetric, zero on the diagonal.

    Examples:
        >>> tree = ClassTree.from_dict({'A': ['C', 'D'], 'B': ['E']})
        >>> tree_distance_matrix(tree)[tree.index('C')].tolist()
        [1, 3, 0, 2, 4]
    """
    if kind not in DISTANCES:
        raise ValueError(f'distance must be one of {DISTANCES}, got {kind!r}')
    # ancestor_mask[i, j]: j is i or an ancestor of i, so the number of
    # nodes two root paths share is the depth of the LCA.
    anc = tree.ancestor_mask(device).float()
    lca = (anc @ anc.t()).round().long()
    depth = tree.tensor('depths', device)
    if kind == 'edges':
        return depth[:, None] + depth[None, :] - 2 * lca
    return torch.maximum(depth[:, None], depth[None, :]) - lca


def resolve_label_nodes(tree: ClassTree,
                        label_nodes: Optional[Sequence[Union[int,
                                                             str]]] = None,
                        arg: str = 'label_nodes') -> Tensor:
    """The nodes that may be labels: the leaves, or those given.

    Args:
        tree: The class tree.
        label_nodes: Node names or indices; ``None`` for the leaves.
        arg: Name of the argument, for error messages.

    Returns:
        Long tensor ``(L,)`` of node indices in increasing order.

    Raises:
        KeyError: an unknown node name (with the closest names).
        ValueError: an index outside the tree, an empty or repeated list.
    """
    if label_nodes is None:
        return torch.as_tensor(tree.leaves, dtype=torch.long)
    if isinstance(label_nodes, (str, int)) or not len(label_nodes):
        raise ValueError(f'{arg} must be a non-empty list of node names or '
                         f'indices (or None for the leaves), got '
                         f'{label_nodes!r}')
    nodes = []
    for x in label_nodes:
        if isinstance(x, str):
            nodes.append(tree.index(x))  # KeyError names x
        elif not 0 <= int(x) < tree.num_nodes:
            raise ValueError(f'{arg} holds {x}, but the tree has nodes '
                             f'0..{tree.num_nodes - 1}')
        else:
            nodes.append(int(x))
    if len(set(nodes)) != len(nodes):
        raise ValueError(f'{arg} names a node twice: {list(label_nodes)!r}')
    return torch.as_tensor(sorted(nodes), dtype=torch.long)
