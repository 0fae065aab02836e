# Copyright (c) mmhier contributors. All rights reserved.
from typing import Any, Optional, Sequence, Union

import torch
import torch.nn.functional as F
from mmpretrain.registry import MODELS
from torch import Tensor

from ..utils.tree_distance import resolve_label_nodes, tree_distance_matrix
from .base_tree_loss import BaseTreeLoss


@MODELS.register_module()
class HierSoftLabelLoss(BaseTreeLoss):
    r"""Cross-entropy with soft labels from the class tree.

    Bertinetto et al., "Making Better Mistakes: Leveraging Class
    Hierarchies with Deep Networks" (CVPR 2020), "soft labels": the
    one-hot target of class y is replaced by

    .. math::
        y^{soft}_j = \frac{\exp(-\beta\, d(j, y))}
                          {\sum_{k \in \mathcal{L}_y} \exp(-\beta\, d(k, y))}
        \quad (j \in \mathcal{L}_y), \qquad
        \mathcal{L} = -\sum_j y^{soft}_j \log \mathrm{softmax}(z)_j,

    with d the tree distance divided by its largest value between label
    nodes (as in the authors' code, so that beta does not depend on the
    depth of the tree; on a fixed-depth tree ``'edges'`` and
    ``'lca_height'`` then coincide). Large beta tends to the one-hot
    target; small beta spreads it over the classes near y.

    The softmax runs over all N node logits of the flat classifier, as in
    the flat baseline, so ``beta -> inf`` is exactly its cross-entropy.
    The target spreads over the *label nodes* :math:`\mathcal{L}` (the
    leaves unless ``label_nodes`` says otherwise) plus the ground-truth
    node itself, so a sample labelled with an inner node (e.g. 'Shirt' in
    the variable-depth Fashion-MNIST tree) keeps its own class; inner nodes
    that are no label nodes never receive target mass.

    Args:
        tree: The class tree, anything :meth:`ClassTree.build` accepts.
        beta: Hardness of the soft labels (> 0).
        label_nodes: Node names or indices the target spreads over;
            ``None`` for the leaves.
        distance: ``'edges'`` (default) or ``'lca_height'``.
        loss_weight: Factor on the loss.
        reduction: ``'none'``, ``'mean'`` or ``'sum'``.

    Examples:
        >>> loss = MODELS.build(dict(
        ...     type='HierSoftLabelLoss', beta=10.,
        ...     tree={'A': ['C', 'D'], 'B': ['E', 'F', 'G']}))
        >>> loss(torch.randn(4, 7), torch.tensor([2, 3, 4, 6]))
    """

    def __init__(self,
                 tree: Any,
                 beta: float = 10.0,
                 label_nodes: Optional[Sequence[Union[int, str]]] = None,
                 distance: str = 'edges',
                 loss_weight: float = 1.0,
                 reduction: str = 'mean'):
        super().__init__(tree, loss_weight, reduction)
        if not float(beta) > 0:
            raise ValueError(f'beta must be > 0, got {beta!r}')
        self.beta = float(beta)
        self.distance = distance
        nodes = resolve_label_nodes(self.tree, label_nodes)
        self.register_buffer('label_nodes', nodes, persistent=False)
        self.register_buffer(
            'soft_targets', self._make_targets(nodes), persistent=False)

    def _make_targets(self, nodes: Tensor) -> Tensor:
        """``(N, N)``: row y is the soft target of ground-truth node y."""
        n = self.num_nodes
        dist = tree_distance_matrix(self.tree, self.distance).double()
        scale = dist[nodes[:, None], nodes[None, :]].max().clamp(min=1)
        allowed = torch.zeros(n, n, dtype=torch.bool)
        allowed[:, nodes] = True
        allowed |= torch.eye(n, dtype=torch.bool)
        # Bertinetto et al.'s y^soft, over the label nodes and y itself
        logits = (-self.beta * dist / scale).masked_fill(~allowed, -torch.inf)
        return logits.softmax(dim=1).float()

    def index_loss(self, cls_score: Tensor, label: Tensor) -> Tensor:
        target = self.soft_targets[label].to(cls_score.dtype)
        return -(target * F.log_softmax(cls_score, dim=1)).sum(1)

    def score_loss(self, cls_score: Tensor, label: Tensor) -> Tensor:
        # a mixture of classes gets the same mixture of their soft labels
        target = label.to(self.soft_targets.dtype) @ self.soft_targets
        target = target.to(cls_score.dtype)
        return -(target * F.log_softmax(cls_score, dim=1)).sum(1)

    def extra_repr(self) -> str:
        return (f'beta={self.beta}, distance={self.distance!r}, '
                f'label_nodes={len(self.label_nodes)}, ' +
                super().extra_repr())
