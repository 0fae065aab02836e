# Copyright (c) mmhier contributors. All rights reserved.
"""The per-level losses of the hierarchical heads (DHNN sections 3.1, 4.2)."""
from typing import Optional

import torch
import torch.nn.functional as F
from torch import Tensor

from mmhier.structures import PATH_UNKNOWN, paths_to_multihot

_IGNORE = -100  # ignore_index of F.cross_entropy


class HierLossesMixin:
    """The weighted per-step losses of a :class:`BaseHierHead`.

    Expects the attributes :class:`BaseHierHead` sets: ``tree``,
    ``level_weights`` (a buffer), ``loss_weight`` and ``label_smoothing``.
    """

    def weighted_ce_loss(self, logits: Tensor, targets: Tensor) -> Tensor:
        """Sum over steps of ``w_t * CE``, averaged over the batch.

        With label smoothing ``eps`` the CE of a step is

        .. math::
            (1 - \\epsilon) (-\\log p_y) + \\epsilon \\frac{1}{|A|}
            \\sum_{j \\in A} (-\\log p_j),

        ``A`` the step's outputs that are not masked to ``-inf`` (the
        masked ones get no target mass, so masking stays finite).

        Args:
            logits: ``(B, S, C)`` (masked entries may be ``-inf``).
            targets: Long ``(B, S)``; negative entries are ignored.

        Returns:
            Scalar loss (times ``loss_weight``).
        """
        b, s, c = logits.shape
        targets = targets.masked_fill(targets < 0, _IGNORE)
        ce = F.cross_entropy(
            logits.reshape(b * s, c),
            targets.reshape(-1),
            ignore_index=_IGNORE,
            reduction='none').view(b, s)
        if self.label_smoothing > 0:
            eps = self.label_smoothing
            allowed = torch.isfinite(logits)
            log_p = logits.log_softmax(-1).masked_fill(~allowed, 0.)
            uniform = -log_p.sum(-1) / allowed.sum(-1).clamp(min=1)
            uniform = uniform.masked_fill(targets == _IGNORE, 0.)
            ce = (1 - eps) * ce + eps * uniform
        w = self.level_weights[:s].to(ce.dtype)
        return self.loss_weight * (ce * w).sum() / b

    def multilabel_bce_loss(self,
                            logits: Tensor,
                            gt: Tensor,
                            level_mask: Optional[Tensor] = None) -> Tensor:
        """Multi-label loss: ``sum_t w_t * sum_j BCE(y_tj, sigmoid(o_tj))``
        averaged over the batch (DHNN section 4.2, sigmoid outputs).

        ``y_t`` is the multi-hot of the nodes at step t of all paths of the
        sample. Where a path is ``PATH_UNKNOWN`` at step t, the nodes of depth
        t + 1 below its last known node may be the true one, so they are left
        out of the loss (unless another path makes them positive); all other
        nodes stay negatives.

        Args:
            logits: ``(B, T, N)`` node logits.
            gt: Long ``(B, P, T)`` paths.
            level_mask: Optional bool ``(T, N)``: only these entries enter
                the loss (``mask_levels``).

        Returns:
            Scalar loss (times ``loss_weight``).
        """
        b, t, n = logits.shape
        target = paths_to_multihot(gt, n).to(logits.dtype)
        # Computed whether or not a path is unknown anywhere: a branch on
        # that would read it back to the host at every step.
        known = gt >= 0
        length = known.sum(-1)  # (B, P) nodes per path
        last = gt.gather(-1, (length - 1).clamp(min=0)[..., None])[..., 0]
        # below[b, p, j]: node j is the last known node of path p or below
        # it (any node for a path unknown from level 1 on)
        anc = self.tree.ancestor_mask(logits.device)  # [j, a]: a <= j
        below = anc.t()[last.clamp(min=0)] | (length == 0)[..., None]
        # unknown[b, j]: a path of b is PATH_UNKNOWN at j's own step and
        # j is below its last known node
        depth_step = self.tree.tensor('depths', logits.device) - 1
        unknown_step = (gt == PATH_UNKNOWN).index_select(-1, depth_step)
        unknown = (unknown_step & below).any(1)  # (B, N)
        drop = unknown[:, None] & self.tree.level_mask(logits.device) & (
            target == 0)
        weight = (~drop).to(logits.dtype)
        if level_mask is not None:
            weight = weight * level_mask.to(weight.dtype)
        bce = F.binary_cross_entropy_with_logits(
            logits, target, weight=weight, reduction='none')
        w = self.level_weights[:t].to(bce.dtype)
        return self.loss_weight * (bce.sum(-1) * w).sum() / b


__all__ = ['HierLossesMixin']
