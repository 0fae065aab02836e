# Copyright (c) mmhier contributors. All rights reserved.
"""What the tree-aware classification losses share."""
from abc import ABCMeta, abstractmethod
from typing import Any, Optional

import torch
import torch.nn as nn
from mmpretrain.models.losses.utils import weight_reduce_loss
from torch import Tensor

from mmhier.structures import ClassTree

_REDUCTIONS = ('none', 'mean', 'sum')


class BaseTreeLoss(nn.Module, metaclass=ABCMeta):
    """Base of losses over the N node scores of a flat classifier.

    The model is a flat classifier with one output per tree node (a node
    index is a class, DHNN Remark 1), e.g. mmpretrain's ``LinearClsHead``
    with ``num_classes=N``. The loss takes the call of mmpretrain's
    ``CrossEntropyLoss`` (what ``ClsHead`` passes): ``cls_score`` ``(B, N)``
    and a target that is either the ground-truth node index ``(B,)`` or
    ``(B, N)`` class scores (``gt_score`` of batch augmentations such as
    Mixup), whose loss is the score-weighted mixture of the per-node
    losses.

    Subclasses implement :meth:`index_loss` and :meth:`score_loss`, both
    per sample.

    Args:
        tree: The class tree, anything :meth:`ClassTree.build` accepts.
        loss_weight: Factor on the loss.
        reduction: ``'none'``, ``'mean'`` or ``'sum'``.
    """

    def __init__(self,
                 tree: Any,
                 loss_weight: float = 1.0,
                 reduction: str = 'mean'):
        super().__init__()
        if tree is None:
            raise ValueError(f'{type(self).__name__} needs the class tree: '
                             'pass tree= (a tree file, a nested dict or a '
                             'ClassTree)')
        self.tree = ClassTree.build(tree)
        if reduction not in _REDUCTIONS:
            raise ValueError(f'reduction must be one of {_REDUCTIONS}, got '
                             f'{reduction!r}')
        self.reduction = reduction
        self.loss_weight = float(loss_weight)

    @property
    def num_nodes(self) -> int:
        return self.tree.num_nodes

    def forward(self,
                cls_score: Tensor,
                label: Tensor,
                weight: Optional[Tensor] = None,
                avg_factor: Optional[float] = None,
                reduction_override: Optional[str] = None) -> Tensor:
        """The loss, called as mmpretrain's ``CrossEntropyLoss``.

        Args:
            cls_score: ``(B, N)`` logits over the tree nodes.
            label: Long ``(B,)`` node indices, or ``(B, N)`` class scores.
            weight: Optional ``(B,)`` sample weights.
            avg_factor: Divisor of the summed loss for ``'mean'``.
            reduction_override: Overrides ``reduction``.

        Returns:
            The loss (a scalar unless the reduction is ``'none'``).
        """
        if reduction_override not in (None, ) + _REDUCTIONS:
            raise ValueError(f'reduction_override must be one of '
                             f'{_REDUCTIONS} or None, got '
                             f'{reduction_override!r}')
        reduction = reduction_override or self.reduction
        n = self.num_nodes
        if cls_score.dim() != 2 or cls_score.size(1) != n:
            raise ValueError(
                f'{type(self).__name__}: cls_score must be (B, {n}), one '
                f'logit per node of the tree, got shape '
                f'{tuple(cls_score.shape)}; set the head\'s num_classes to '
                f'{n}')
        b = cls_score.size(0)
        if label.dim() == 2 and label.shape == (b, n) and \
                label.is_floating_point():
            loss = self.score_loss(cls_score, label)
        elif label.shape == (b, ) and not label.is_floating_point():
            self._check_labels(label)
            loss = self.index_loss(cls_score, label.long())
        else:
            raise ValueError(
                f'{type(self).__name__}: the target must be ({b},) node '
                f'indices or ({b}, {n}) class scores, got '
                f'{label.dtype} of shape {tuple(label.shape)}')
        if weight is not None:
            weight = weight.float()
        return self.loss_weight * weight_reduce_loss(
            loss, weight=weight, reduction=reduction, avg_factor=avg_factor)

    def _check_labels(self, label: Tensor) -> None:
        # On an accelerator the check would read the device back to the host
        # every step; there, indexing with a bad label trips the device's own
        # assert instead. On the CPU it is free, and it names the label.
        if label.device.type != 'cpu':
            return
        bad = (label < 0) | (label >= self.num_nodes)
        if bad.any():
            i = int(torch.nonzero(bad)[0, 0])
            raise ValueError(
                f'{type(self).__name__}: label {int(label[i])} of sample {i} '
                f'is not a node of the tree (node indices 0..'
                f'{self.num_nodes - 1})')

    @abstractmethod
    def index_loss(self, cls_score: Tensor, label: Tensor) -> Tensor:
        """Per-sample loss ``(B,)`` for node-index targets ``(B,)``."""

    @abstractmethod
    def score_loss(self, cls_score: Tensor, label: Tensor) -> Tensor:
        """Per-sample loss ``(B,)`` for class-score targets ``(B, N)``."""

    def extra_repr(self) -> str:
        return (f'num_nodes={self.num_nodes}, loss_weight={self.loss_weight}'
                f', reduction={self.reduction!r}')
