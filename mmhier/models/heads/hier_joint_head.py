# Copyright (c) mmhier contributors. All rights reserved.
"""A DHNN head and a flat classifier on the same features, fused."""
from typing import Any, Dict, List, Optional, Tuple, Union

import torch
from mmpretrain.registry import MODELS
from mmpretrain.structures import DataSample
from torch import Tensor, nn

from mmhier.structures import PATH_UNKNOWN
from ..utils import BeamSearchResult, crm_cost_matrix, crm_rank
from .base_hier_head import BaseHierHead

#: how ``HierJointHead`` picks its prediction
DECODES = ('fused', 'crm')


@MODELS.register_module()
class HierJointHead(BaseHierHead):
    """A hierarchical head and a flat classifier, trained together.

    Two experts read the neck's sequence ``u`` ``(B, T_in, p)``:

    * a path model, any single-label DHNN head (``HierRNNHead``,
      ``HierS2SHead``) built from ``hier_head``, with its own loss;
    * a flat classifier ``softmax(W u_{flat_step} + b)`` over the label
      nodes ``L`` (the nodes where a path may stop: the leaves, and inner
      nodes when the path model allows it).

    Loss: ``L = L_path + flat_loss_weight * L_flat``, where ``L_flat`` is the
    negative log-likelihood of the label *set* of a sample,

    .. math::
        \\mathcal{L}_{flat} = -\\log \\sum_{j \\in C(y)} p_{flat}(j),

    ``C(y) = {j}`` for a path ending at node ``j`` and, for a coarse-only
    path (``a/b/*``: the nodes below ``b`` are unknown), the label nodes at
    or below ``b``. So both experts learn from coarsely labelled images (the
    path model ignores the unknown steps).

    Coarse-constrained pseudo-labels (``pseudo_label_weight > 0``): the
    coarse label says *which* subtree an image is in, so the model's own
    fused distribution restricted to that subtree names its most likely
    label node. With ``s(j)`` the fused score below (no gradient),

    .. math::
        q(j) = \\frac{\\exp s(j)}{\\sum_{i \\in C(y)} \\exp s(i)},
        \\ j \\in C(y), \\qquad \\hat{j} = \\arg\\max_j q(j),

    and every coarse-only sample with ``q(j_hat) >= tau``
    (``pseudo_label_threshold``) adds

    .. math::
        \\mathcal{L}_{pseudo} = -\\frac{\\mu}{B} \\sum_{b:\\,q_b(\\hat{j}_b)
        \\ge \\tau} \\left[\\log p_{path}(\\pi(\\hat{j}_b)) + w_{flat}
        \\log p_{flat}(\\hat{j}_b)\\right],

    ``mu = pseudo_label_weight``, ``w_flat = flat_loss_weight``: both
    experts train on the completed path. As in Lee (2013), ``mu`` ramps up
    linearly from 0 at training step ``t_1`` to its value at ``t_2``
    (``pseudo_label_warmup=(t_1, t_2)``, counted in training losses and kept
    in the checkpoint), so that the first, poor predictions do not label
    the coarse images. This is the fine-label completion of Guo et al.
    (section 4.2: predict the fine labels of the coarsely labelled images
    within their coarse class, then train on them), done online with a
    confidence threshold instead of in a second training run. It changes
    nothing for fully labelled batches.

    Prediction: every label node ``j`` is scored by the product of the two
    experts, in log space

    .. math::
        s(j) = \\log p_{path}(\\pi(j)) + \\lambda \\log p_{flat}(j),

    ``pi(j)`` the root-to-``j`` path and ``lambda = fusion_weight``;
    ``softmax_j s(j)`` is the fused distribution over label nodes. The
    predicted path is ``pi(argmax_j s(j))``, a path of the tree by
    construction; the beam fields hold the top-k label nodes' paths and
    their fused log-probs, ``pred_node_score`` the fused marginal of every
    node (the mass of the label nodes at or below it). Scoring every label
    node costs one pass of the path model per label node for an S2S head
    with node embeddings (``B * |L|`` teacher-forced sequences), a gather
    for the CNN-RNN and for the paper's free-running S2S decoder.

    Args:
        tree: The class tree (anything :meth:`ClassTree.build` accepts);
            passed on to ``hier_head``.
        hier_head: Config of the path model (without ``tree``).
        flat_step: The step of ``u`` the flat classifier reads (default the
            last one, the deepest stage group).
        flat_loss_weight: Factor on the flat loss.
        fusion_weight: ``lambda`` of the fused score; 0 predicts with the
            path model alone.
        beam_size: Number of fused paths kept (top-k label nodes).
        decode: ``'fused'`` (the most probable fused path) or ``'crm'``.
        pseudo_label_weight: ``mu`` of the pseudo-label loss on coarse-only
            samples; 0 (default) turns it off.
        pseudo_label_threshold: ``tau``, the least probability within the
            coarse label's subtree that a pseudo-label needs.
        pseudo_label_warmup: ``(t_1, t_2)``, the training steps where the
            ramp of ``mu`` starts and ends; ``(0, 0)`` (default) uses ``mu``
            from the first step.
        init_cfg: mmengine init config.

    Examples:
        >>> head = MODELS.build(dict(
        ...     type='HierJointHead',
        ...     tree={'A': ['C', 'D'], 'B': ['E', 'F']},
        ...     hier_head=dict(type='HierRNNHead', in_channels=8,
        ...                    hidden_size=8)))
        >>> samples = head.predict((torch.rand(2, 2, 8), ))
        >>> samples[0].pred_path_names
        ['B', 'E']
    """

    def __init__(self,
                 tree: Any,
                 hier_head: dict,
                 flat_step: int = -1,
                 flat_loss_weight: float = 1.0,
                 fusion_weight: float = 1.0,
                 beam_size: int = 5,
                 decode: str = 'fused',
                 pseudo_label_weight: float = 0.0,
                 pseudo_label_threshold: float = 0.9,
                 pseudo_label_warmup: Tuple[int, int] = (0, 0),
                 init_cfg: Optional[Union[dict, List[dict]]] = None):
        super().__init__(tree, beam_size=beam_size, init_cfg=init_cfg)
        if decode not in DECODES:
            raise ValueError(f'decode must be one of {DECODES}, got '
                             f'{decode!r}')
        self.decode = decode
        if not isinstance(hier_head, dict) or 'type' not in hier_head:
            raise ValueError(f'hier_head must be a head config with a type, '
                             f'got {hier_head!r}')
        if 'tree' in hier_head:
            raise ValueError('hier_head sets tree: give the tree once, to '
                             'HierJointHead')
        self.hier = MODELS.build(dict(hier_head, tree=self.tree))
        if getattr(self.hier, 'multi_label',
                   False) or not hasattr(self.hier, 'path_log_probs'):
            raise ValueError(
                f'hier_head {hier_head["type"]} must be a single-label head '
                'that scores given paths (path_log_probs), such as '
                'HierRNNHead or HierS2SHead')
        self.in_channels = self.hier.in_channels
        self.flat_step = int(flat_step)
        self.flat_loss_weight = float(flat_loss_weight)
        self.fusion_weight = float(fusion_weight)
        if pseudo_label_weight < 0:
            raise ValueError(f'pseudo_label_weight must be >= 0, got '
                             f'{pseudo_label_weight}')
        if not 0 <= pseudo_label_threshold <= 1:
            raise ValueError(f'pseudo_label_threshold must be in [0, 1], '
                             f'got {pseudo_label_threshold}')
        start, end = (int(t) for t in pseudo_label_warmup)
        if not 0 <= start <= end:
            raise ValueError(f'pseudo_label_warmup must be (t_1, t_2) with '
                             f'0 <= t_1 <= t_2, got {pseudo_label_warmup}')
        self.pseudo_label_weight = float(pseudo_label_weight)
        self.pseudo_label_threshold = float(pseudo_label_threshold)
        self.pseudo_label_warmup = (start, end)
        if self.pseudo_label_weight > 0:
            # training losses computed so far: the clock of the ramp (a
            # buffer, so that a resumed run goes on where it stopped)
            self.register_buffer('loss_steps',
                                 torch.zeros((), dtype=torch.long))
        label_nodes = torch.nonzero(self.hier.can_stop()).flatten()
        self.register_buffer('label_nodes', label_nodes, persistent=False)
        self.fc = nn.Linear(self.in_channels, len(label_nodes))
        if decode == 'crm':
            # (|L|, |L|): tree distances between the label nodes
            cost = crm_cost_matrix(self.tree, label_nodes.tolist())
            self.register_buffer(
                'crm_cost', cost[label_nodes], persistent=False)

    def can_stop(self, device: Union[str, torch.device] = 'cpu') -> Tensor:
        return self.hier.can_stop(device)

    def forward(self, feats: Tuple[Tensor, ...]) -> Tensor:
        """Flat logits ``(B, |L|)`` over the label nodes."""
        u = self.get_u(feats, self.in_channels)
        return self.fc(u[:, self.flat_step])

    def label_sets(self, gt: Tensor) -> Tuple[Tensor, Tensor]:
        """The label set ``C(y)`` of every sample, as a mask.

        Args:
            gt: Long ``(B, T)`` first paths.

        Returns:
            ``allowed`` bool ``(B, |L|)`` (label node l is in ``C(y_b)``)
            and ``coarse`` bool ``(B,)`` (the path is coarse-only).
        """
        known = gt >= 0
        depth = known.sum(-1)
        last = gt.gather(1, (depth - 1).clamp(min=0)[:, None])[:, 0]
        coarse = (gt == PATH_UNKNOWN).any(-1)
        labels = self.label_nodes
        # at_or_below[b, l]: label node l is last[b] or below it
        anc = self.tree.ancestor_mask(gt.device)[labels]  # (|L|, N)
        at_or_below = anc.t()[last]  # (B, |L|)
        exact = labels[None] == last[:, None]
        return torch.where(coarse[:, None], at_or_below, exact), coarse

    def flat_loss(self, logits: Tensor, gt: Tensor) -> Tensor:
        """``-log sum_{j in C(y)} p_flat(j)``, averaged over the batch.

        Args:
            logits: ``(B, |L|)`` flat logits.
            gt: Long ``(B, T)`` first paths.
        """
        allowed, _ = self.label_sets(gt)
        log_p = logits.log_softmax(-1)
        picked = log_p.masked_fill(~allowed, float('-inf')).logsumexp(-1)
        return -picked.mean()

    def pseudo_label_loss(self, feats: Tuple[Tensor, ...], flat_logits: Tensor,
                          gt: Tensor) -> Tuple[Tensor, Tensor]:
        """``L_pseudo`` of the class docstring (0 without coarse samples).

        Runs without a host sync: the samples below the threshold are
        masked, not removed.

        Args:
            feats: The neck's output.
            flat_logits: ``(B, |L|)`` flat logits of ``feats``.
            gt: Long ``(B, T)`` first paths.

        Returns:
            The loss and the share of the batch that got a pseudo-label
            (logged as ``pseudo_share``).
        """
        allowed, coarse = self.label_sets(gt)
        path_scores = self.label_path_log_probs(feats)
        flat_log = flat_logits.log_softmax(-1)
        with torch.no_grad():
            fused = path_scores + self.fusion_weight * flat_log
            q = fused.masked_fill(~allowed, float('-inf')).softmax(-1)
            conf, pick = q.max(-1)
            use = coarse & (conf >= self.pseudo_label_threshold)
        picked = (path_scores.gather(1, pick[:, None]) +
                  self.flat_loss_weight * flat_log.gather(1, pick[:, None]))
        picked = picked[:, 0].masked_fill(~use, 0.)
        loss = -self.pseudo_label_ramp() * picked.sum() / gt.size(0)
        return loss, use.to(picked.dtype).mean()

    def pseudo_label_ramp(self) -> Tensor:
        """``mu`` at the current training step, a tensor on the device (no
        host sync)."""
        start, end = self.pseudo_label_warmup
        t = self.loss_steps.to(torch.float32)
        if end == start:
            ramp = (t >= start).to(torch.float32)
        else:
            ramp = ((t - start) / (end - start)).clamp(0., 1.)
        return self.pseudo_label_weight * ramp

    def loss(self, feats: Tuple[Tensor, ...], data_samples: List[DataSample],
             **kwargs) -> Dict[str, Tensor]:
        """The path model's loss, the weighted flat loss and, when on, the
        pseudo-label loss."""
        gt = self.get_gt_paths(data_samples, feats[-1].device)[:, 0]
        losses = {
            f'{key}_path': value
            for key, value in self.hier.loss(feats, data_samples).items()
        }
        flat_logits = self(feats)
        losses['loss_flat'] = self.flat_loss_weight * self.flat_loss(
            flat_logits, gt)
        if self.pseudo_label_weight > 0:
            losses['loss_pseudo'], losses['pseudo_share'] = \
                self.pseudo_label_loss(feats, flat_logits, gt)
            if self.training:
                self.loss_steps += 1
        return losses

    def label_path_log_probs(self, feats: Tuple[Tensor, ...]) -> Tensor:
        """``log p_path(pi(j))`` ``(B, |L|)`` of every label node j."""
        b = feats[-1].size(0)
        paths = self.tree.tensor('path_matrix', feats[-1].device)
        paths = paths[self.label_nodes][None].expand(b, -1, -1)
        return self.hier.path_log_probs(feats, paths)

    def fused_log_probs(self, feats: Tuple[Tensor, ...]) -> Tensor:
        """Fused log-probs ``(B, |L|)`` of the label nodes' paths."""
        flat = self(feats).log_softmax(-1)
        return (self.label_path_log_probs(feats) +
                self.fusion_weight * flat).log_softmax(-1)

    def rank_paths(self, fused: Tensor, k: int) -> Tuple[Tensor, Tensor]:
        """The ``k`` best label nodes' paths ``(B, k, T)`` and their fused
        log-probs ``(B, k)``, best first (by CRM with ``decode='crm'``).

        Args:
            fused: :meth:`fused_log_probs` ``(B, |L|)``.
            k: Paths per sample, at most ``|L|``.
        """
        if self.decode == 'crm':
            idx, _ = crm_rank(fused.exp(), self.crm_cost, k=k)
            scores = fused.gather(1, idx)
        else:
            scores, idx = fused.topk(k, dim=-1)
        pm = self.tree.tensor('path_matrix', fused.device)
        return pm[self.label_nodes[idx]], scores

    def predict(
        self,
        feats: Tuple[Tensor, ...],
        data_samples: Optional[List[Optional[DataSample]]] = None
    ) -> List[DataSample]:
        """The best fused paths (see the class docstring)."""
        fused = self.fused_log_probs(feats)  # (B, |L|)
        paths, scores = self.rank_paths(fused,
                                        min(self.beam_size, fused.size(1)))
        device = fused.device
        # fused marginal of every node: the mass of label nodes at or below
        anc = self.tree.ancestor_mask(device)[self.label_nodes].to(
            fused.dtype)  # (|L|, N)
        node_scores = fused.exp() @ anc  # (B, N)
        node_log = node_scores.clamp(min=1e-30).log()
        level = node_log.gather(
            1,
            paths.clamp(min=0).flatten(1)).view_as(paths).masked_fill(
                paths < 0, 0.)
        beams = BeamSearchResult(paths, scores, level,
                                 torch.zeros_like(scores))
        return self.pack_single_label(beams, node_scores, data_samples)
