# Copyright (c) mmhier contributors. All rights reserved.
import math
from typing import Any

import torch
import torch.nn.functional as F
from mmpretrain.registry import MODELS
from torch import Tensor

from .base_tree_loss import BaseTreeLoss


@MODELS.register_module()
class HierarchicalCrossEntropyLoss(BaseTreeLoss):
    r"""The hierarchical cross-entropy (HXE) of Bertinetto et al.

    "Making Better Mistakes: Leveraging Class Hierarchies with Deep
    Networks" (CVPR 2020). The probability of a node is the softmax mass of
    its subtree, :math:`p(C) = \sum_{j \in \mathrm{sub}(C)} q_j`, so the
    probability of class y factorises along its path
    :math:`y = C^{(d)} \to C^{(d-1)} \to \dots \to C^{(0)} = \mathrm{root}`
    into conditionals, and HXE weights their log-likelihoods:

    .. math::
        \mathcal{L}_{HXE}(y) = -\sum_{l=1}^{d} \lambda(C^{(l)})
            \log \frac{p(C^{(l)})}{p(C^{(l-1)})}, \qquad
        \lambda(C) = \exp(-\alpha\, h(C)).

    h(C) is taken as the depth of C (edges from the root), as in the
    authors' code (``get_exponential_weighting``: "each edge is weighted
    according to its distance from the root"): as alpha grows the coarse
    decisions weigh more than the fine ones. ``alpha = 0`` is the plain
    cross-entropy. The authors' code also divides all weights by their
    sum over the tree, a constant factor left to ``loss_weight`` here.

    The flat classifier scores all N nodes, each its own class (DHNN
    Remark 1), so :math:`q` is the softmax over N logits and a node's own
    mass belongs to its subtree. A label at an inner node y (the
    variable-depth Fashion-MNIST tree labels 'Shirt' above 'T-shirt_top')
    adds the step from y to "y itself", as a leaf one level below y:
    :math:`-\lambda_{d+1} \log (q_y / p(y))` with
    :math:`\lambda_{d+1} = e^{-\alpha (d + 1)}`. With leaf labels and no
    mass on inner nodes this is the paper's loss exactly, and for any
    labels ``alpha = 0`` gives the flat baseline's cross-entropy over the N
    nodes. The own mass of an inner node is penalised only by the step
    below it, at that step's (smaller) weight, so after short training the
    argmax may still be an inner node: a coarser prediction, scored as
    such by mmhier's metrics. ``HierLinearClsHead(decode='crm')`` decides
    among the leaves.

    Args:
        tree: The class tree, anything :meth:`ClassTree.build` accepts.
        alpha: Decay of the weights with depth (>= 0).
        loss_weight: Factor on the loss.
        reduction: ``'none'``, ``'mean'`` or ``'sum'``.

    Examples:
        >>> loss = MODELS.build(dict(
        ...     type='HierarchicalCrossEntropyLoss', alpha=0.5,
        ...     tree={'A': ['C', 'D'], 'B': ['E', 'F', 'G']}))
        >>> loss(torch.randn(4, 7), torch.tensor([2, 3, 4, 6]))
    """

    def __init__(self,
                 tree: Any,
                 alpha: float = 0.1,
                 loss_weight: float = 1.0,
                 reduction: str = 'mean'):
        super().__init__(tree, loss_weight, reduction)
        if not float(alpha) >= 0:
            raise ValueError(f'alpha must be >= 0, got {alpha!r}')
        self.alpha = float(alpha)
        tree = self.tree
        pm = tree.tensor('path_matrix').clone()
        # in_subtree[j, i]: node i lies in the subtree of node j (or is j)
        self.register_buffer(
            'in_subtree',
            tree.ancestor_mask().t().contiguous(),
            persistent=False)
        self.register_buffer('path_matrix', pm, persistent=False)
        coef_path, coef_self = self._make_coefficients(pm)
        self.register_buffer('coef_path', coef_path, persistent=False)
        self.register_buffer('coef_self', coef_self, persistent=False)
        n = tree.num_nodes
        coef_node = torch.zeros(n, n + 1)  # column n collects the padding
        coef_node.scatter_add_(1, torch.where(pm >= 0, pm, n), coef_path)
        self.register_buffer(
            'coef_node', coef_node[:, :n].contiguous(), persistent=False)

    def _make_coefficients(self, pm: Tensor):
        """The loss of target y as a linear form in log-probabilities:

        ``L(y) = -sum_k coef_path[y, k] log p(path_k(y))
        - coef_self[y] log q_y``, the telescoped sum: the node at step k
        weighs ``lambda(C^(k)) - lambda(C^(k+1))``, the last one
        ``lambda(y) - lambda_self(y)``.
        """
        d = self.tree.tensor('depths').double()
        lam = torch.exp(-self.alpha * d)  # lambda(C) = exp(-alpha h(C))
        valid = pm >= 0
        lam_path = torch.where(valid, lam[pm.clamp(min=0)], 0.)
        nxt = torch.cat([lam_path[:, 1:], lam_path.new_zeros(len(pm), 1)], 1)
        inner = ~self.tree.tensor('is_leaf')
        lam_self = torch.where(inner, torch.exp(-self.alpha * (d + 1)), 0.)
        last = (d.long() - 1)[:, None]
        nxt.scatter_(1, last, lam_self[:, None])
        coef_path = torch.where(valid, lam_path - nxt, 0.)
        return coef_path.float(), lam_self.float()

    def _log_subtree(self, logq: Tensor, nodes: Tensor) -> Tensor:
        """``log p(node)`` for ``nodes`` ``(B, K)``: logsumexp of the
        log-softmax over each node's subtree (exact, no underflow)."""
        inside = self.in_subtree[nodes]  # (B, K, N)
        masked = torch.where(inside, logq[:, None, :], -math.inf)
        return masked.logsumexp(-1)

    def index_loss(self, cls_score: Tensor, label: Tensor) -> Tensor:
        logq = F.log_softmax(cls_score, dim=1)
        path = self.path_matrix[label]  # (B, T), padded with -1
        # padding reads node 0 and is weighed by 0
        log_p = self._log_subtree(logq, path.clamp(min=0))
        coef = self.coef_path[label].to(log_p.dtype)
        own = logq.gather(1, label[:, None])[:, 0]
        return -(coef * log_p).sum(1) - self.coef_self[label] * own

    def score_loss(self, cls_score: Tensor, label: Tensor) -> Tensor:
        # L is linear in the target, so scores mix the per-class losses
        logq = F.log_softmax(cls_score, dim=1)
        n = self.num_nodes
        nodes = torch.arange(n, device=cls_score.device).expand(len(label), n)
        log_p = self._log_subtree(logq, nodes)  # (B, N)
        label = label.to(self.coef_node.dtype)
        coef = (label @ self.coef_node).to(log_p.dtype)
        own = (label * self.coef_self).to(logq.dtype)
        return -(coef * log_p).sum(1) - (own * logq).sum(1)

    def extra_repr(self) -> str:
        return f'alpha={self.alpha}, ' + super().extra_repr()
