# Copyright (c) mmhier contributors. All rights reserved.
"""Conditional risk minimisation (CRM) at test time.

Karthik et al., "No Cost Likelihood Manipulation at Test Time for Making
Better Mistakes in Deep Networks" (ICLR 2021): given the model's class
probabilities p and a cost matrix D, predict the class of least expected
cost, the Bayes-optimal decision for that cost:

.. math::
    \\hat y = \\arg\\min_{c \\in \\mathcal{C}} \\sum_j p_j \\, D(j, c),

with D the tree distance. Training is untouched: any model whose outputs
are node (or leaf) probabilities can be decoded this way, a flat
``LinearClsHead`` over the N nodes as well as mmhier's hierarchical heads
(their ``pred_score`` is the probability of each node being the label).

Typical use::

    probs = cls_score.softmax(-1)                      # (B, N)
    node = crm_decode(probs, tree)                     # (B,) node indices

    # or, with the cost matrix built once:
    cost = crm_cost_matrix(tree)                       # (N, L)
    nodes, exp_cost = crm_rank(probs, cost, k=5)       # best first
"""
from typing import Optional, Sequence, Tuple, Union

import torch
from torch import Tensor

from mmhier.structures import ClassTree
from .tree_distance import resolve_label_nodes, tree_distance_matrix

__all__ = ['crm_cost_matrix', 'crm_rank', 'crm_decode']


def crm_cost_matrix(tree: ClassTree,
                    candidates: Optional[Sequence[Union[int, str]]] = None,
                    distance: str = 'edges',
                    device: Union[str, torch.device] = 'cpu') -> Tensor:
    """The cost matrix of CRM: rows are all N nodes (the classes whose
    probability the model gives), columns the L candidate predictions.

    Args:
        tree: The class tree.
        candidates: Nodes that may be predicted (names or indices); the
            leaves when ``None``.
        distance: ``'edges'`` or ``'lca_height'`` (see
            :func:`tree_distance_matrix`); on a fixed-depth tree both give
            the same decisions.
        device: Where to put the result.

    Returns:
        Float tensor ``(N, L)``; ``cost[j, c]`` is the distance from node j
        to the c-th candidate. The candidate node indices (increasing) are
        ``resolve_label_nodes(tree, candidates)``.
    """
    nodes = resolve_label_nodes(tree, candidates, 'candidates').to(device)
    return tree_distance_matrix(tree, distance, device)[:, nodes].float()


def crm_rank(probs: Tensor,
             cost: Tensor,
             candidates: Optional[Tensor] = None,
             k: int = 1) -> Tuple[Tensor, Tensor]:
    """The k candidates of least expected cost, best first.

    Args:
        probs: ``(B, N)`` probabilities of all nodes (the rows of ``cost``),
            or ``(B, L)`` of the candidates only.
        cost: ``(N, L)`` from :func:`crm_cost_matrix`.
        candidates: Long ``(L,)`` node index of each column of ``cost``;
            ``None`` returns column positions instead of node indices.
        k: How many to return; at most L.

    Returns:
        tuple: node indices ``(B, k)`` (long) and their expected costs
        ``(B, k)``, in increasing cost (ties go to the lower column).
    """
    n, num_cand = cost.shape
    if probs.dim() != 2 or probs.size(1) not in (n, num_cand):
        raise ValueError(f'probs must be (B, {n}) over the tree nodes or '
                         f'(B, {num_cand}) over the candidates, got shape '
                         f'{tuple(probs.shape)}')
    if not 1 <= k <= num_cand:
        raise ValueError(f'k must be in 1..{num_cand} (the number of '
                         f'candidates), got {k}')
    if probs.size(1) == n:
        rows = cost
    elif candidates is None:
        raise ValueError('probs over the candidates need `candidates` to '
                         'pick the rows of the cost matrix')
    else:
        rows = cost[candidates.to(cost.device)]
    # CRM (Karthik et al., ICLR 2021): E[D(y, c)] = sum_j p_j D(j, c)
    expected = probs.to(rows.dtype) @ rows  # (B, L)
    # a stable sort keeps the lower candidate first among equal costs
    exp_cost, col = torch.sort(expected, dim=1, stable=True)
    exp_cost, col = exp_cost[:, :k], col[:, :k]
    if candidates is not None:
        col = candidates.to(col.device)[col]
    return col, exp_cost


def crm_decode(probs: Tensor,
               tree: ClassTree,
               candidates: Optional[Sequence[Union[int, str]]] = None,
               distance: str = 'edges') -> Tensor:
    """The CRM prediction: the candidate of least expected tree distance.

    Builds the cost matrix on each call; heads that decode every batch
    keep it (:func:`crm_cost_matrix`) and call :func:`crm_rank`.

    Args:
        probs: ``(B, N)`` node probabilities (e.g. the softmax of a flat
            head over all nodes, or a hierarchical head's ``pred_score``),
            or ``(B, L)`` over the candidates.
        tree: The class tree (anything :meth:`ClassTree.build` accepts).
        candidates: Nodes that may be predicted; the leaves when ``None``.
        distance: ``'edges'`` or ``'lca_height'``.

    Returns:
        Long ``(B,)``: the chosen node indices.

    Examples:
        >>> tree = ClassTree.from_dict({'A': ['C', 'D'], 'B': ['E', 'F']})
        >>> # over the leaves C, D, E, F: argmax is C, but B's leaves
        >>> # hold 0.6 of the mass
        >>> crm_decode(torch.tensor([[.4, 0., .3, .3]]), tree).tolist()
        [4]
    """
    tree = ClassTree.build(tree)
    cost = crm_cost_matrix(tree, candidates, distance, probs.device)
    nodes = resolve_label_nodes(tree, candidates, 'candidates')
    return crm_rank(probs, cost, nodes.to(probs.device))[0][:, 0]
