# Copyright (c) mmhier contributors. All rights reserved.
"""Shared scaffolding of the hierarchical (path-predicting) heads."""
from abc import ABCMeta, abstractmethod
from typing import Any, Dict, List, Optional, Sequence, Tuple, Union

import torch
import torch.nn.functional as F
from mmengine.model import BaseModule
from mmpretrain.structures import DataSample
from torch import Tensor

from mmhier.structures import (PATH_END, PATH_UNKNOWN, ClassTree,
                               paths_to_multihot, stack_gt_paths)
from ..utils import BeamSearchResult, select_label_nodes, topk_label_paths

_IGNORE = -100  # ignore_index of F.cross_entropy


class BaseHierHead(BaseModule, metaclass=ABCMeta):
    """Base of heads that predict a path of a :class:`ClassTree`.

    It holds what every such head shares: the tree, the per-level weighted
    loss of DHNN section 3.1,

    .. math::
        \\mathcal{L} = \\sum_{t=1}^{T} w_t \\, CE(y_t, softmax(o_t)),

    summed over the steps of a sample and averaged over the batch (steps
    whose target is ignored contribute nothing), its multi-label form with
    sigmoids (section 4.2), and the packing of predictions into
    DataSamples. Subclasses implement :meth:`forward`, :meth:`loss` and
    :meth:`predict` with the helpers below.

    Ground truth: ``gt_path`` ``(P, T)`` per sample, padded with
    ``PATH_END`` (the path stopped) and ``PATH_UNKNOWN`` (not annotated:
    ignored by the loss). Single-label heads train on the first path.

    Predictions set on each DataSample (``T = tree.max_depth``):

    - ``pred_path`` long ``(T,)`` padded with ``PATH_END``, the best path;
      ``pred_path_names`` its node names; ``pred_path_score`` its score
      (sum of log-probs for softmax heads, minimum node score for
      multi-label); ``pred_level_scores`` ``(T,)`` the probability of each of
      its nodes at its own step (0 on the padding).
    - ``pred_beam_paths`` ``(K, T)`` and ``pred_beam_scores`` ``(K,)``: the
      K best paths, best first.
    - ``pred_label``: the last node of ``pred_path``.
    - ``pred_score`` ``(N,)``: single-label: the probability of the label
      being node j, i.e. ``exp`` of the score of the beam path ending at j,
      0 for nodes that end no beam path; so ``argmax pred_score`` is
      ``pred_label`` and mmpretrain's ``Accuracy`` (which ranks
      ``pred_score``) scores the predicted last node. Multi-label: the
      sigmoid score of each node at its own step.
    - ``pred_node_score`` ``(N,)``: the score of node j at its own step
      (softmax or sigmoid of ``o_t`` at ``t = depth(j) - 1``).
    - Multi-label only: ``pred_paths`` ``(P, T)``, the selected paths (all
      node scores ``>= threshold``; only the deepest, prefixes implied).
      ``HierInferencer`` sets ``threshold`` to the one validated for the
      checkpoint (``meta['hier_threshold']``).

    Args:
        tree: The class tree, anything :meth:`ClassTree.build` accepts.
        end_step: The head emits an end token, so its loss has ``T + 1``
            steps (T otherwise).
        level_weights: The w_t, one per level; ``None`` for all ones. A
            head with ``T + 1`` steps also takes ``T`` weights, the last one
            then weighting the final end step too.
        beam_size: k of the beam search (1 is greedy). Clipped to the number
            of nodes that may end a path.
        multi_label: Sigmoid outputs and several paths per image.
        threshold: Multi-label selection threshold on the sigmoid scores
            (a path is selected when all its node scores are ``>=`` it),
            until a validated one replaces it.
        loss_weight: Factor on the loss.
        init_cfg: mmengine init config.
    """

    def __init__(self,
                 tree: Any,
                 end_step: bool = False,
                 level_weights: Optional[Sequence[float]] = None,
                 beam_size: int = 5,
                 multi_label: bool = False,
                 threshold: float = 0.5,
                 loss_weight: float = 1.0,
                 init_cfg: Optional[Union[dict, List[dict]]] = None):
        super().__init__(init_cfg=init_cfg)
        self.tree = ClassTree.build(tree)
        self.num_nodes = self.tree.num_nodes
        self.max_depth = self.tree.max_depth
        if not isinstance(beam_size, int) or beam_size < 1:
            raise ValueError(f'beam_size must be an int >= 1, got '
                             f'{beam_size!r}')
        self.beam_size = beam_size
        self.multi_label = bool(multi_label)
        if not 0. <= float(threshold) <= 1.:
            raise ValueError(f'threshold is a sigmoid score in [0, 1], got '
                             f'{threshold!r}')
        self.threshold = float(threshold)
        self.loss_weight = float(loss_weight)
        self.register_buffer(
            'level_weights',
            self._make_level_weights(level_weights,
                                     self.max_depth + int(end_step)),
            persistent=False)

    def _make_level_weights(self, weights: Optional[Sequence[float]],
                            num_steps: int) -> Tensor:
        if weights is None:
            return torch.ones(num_steps)
        w = torch.as_tensor(list(weights), dtype=torch.float)
        if w.dim() != 1 or (w < 0).any():
            raise ValueError(f'level_weights must be non-negative numbers, '
                             f'got {weights!r}')
        if w.numel() == num_steps - 1 == self.max_depth:
            w = torch.cat([w, w[-1:]])  # the end step shares the last w_t
        if w.numel() != num_steps:
            also = (f' (or {num_steps - 1}, the last reused for the end '
                    'step)') if num_steps == self.max_depth + 1 else ''
            raise ValueError(
                f'level_weights needs {num_steps} values{also}, one per step '
                f'of a tree of depth {self.max_depth}; got {len(w)}: '
                f'{weights!r}')
        return w

    # ------------------------------------------------------------------
    # the mmpretrain head contract
    # ------------------------------------------------------------------
    @abstractmethod
    def forward(self, feats: Tuple[Tensor, ...]) -> Tensor:
        """Logits of the head."""

    @abstractmethod
    def loss(self, feats: Tuple[Tensor, ...], data_samples: List[DataSample],
             **kwargs) -> Dict[str, Tensor]:
        """Loss dict (key ``loss``)."""

    @abstractmethod
    def predict(
        self,
        feats: Tuple[Tensor, ...],
        data_samples: Optional[List[Optional[DataSample]]] = None
    ) -> List[DataSample]:
        """Predicted paths on DataSamples."""

    def get_u(self, feats: Tuple[Tensor, ...], in_channels: int) -> Tensor:
        """The neck's sequence ``u`` ``(B, T, p)``: ``feats[-1]``."""
        u = feats[-1] if isinstance(feats, (tuple, list)) else feats
        if not isinstance(u, Tensor) or u.dim() != 3:
            shape = tuple(u.shape) if isinstance(u, Tensor) else type(u)
            raise ValueError(f'{type(self).__name__} expects feats[-1] of '
                             f'shape (B, T, p) from a conversion neck, got '
                             f'{shape}')
        if u.size(-1) != in_channels:
            raise ValueError(f'feats[-1] has p={u.size(-1)} features per '
                             f'step, but in_channels={in_channels}')
        return u

    def can_stop(self, device: Union[str, torch.device] = 'cpu') -> Tensor:
        """Bool ``(N,)``: nodes that may end a predicted path (leaves by
        default; subclasses may allow inner nodes)."""
        return self.tree.tensor('is_leaf', device)

    # ------------------------------------------------------------------
    # ground truth and losses
    # ------------------------------------------------------------------
    def get_gt_paths(self, data_samples: Sequence[DataSample],
                     device: Union[str, torch.device]) -> Tensor:
        """Batch and check the ``gt_path`` of data samples.

        Returns:
            Long ``(B, P, T)``; raises ``ValueError`` naming the first sample
            whose (first, or any non-empty) path is not in the tree.
        """
        gt = stack_gt_paths(data_samples, device)
        if gt.size(-1) != self.max_depth:
            raise ValueError(f'gt_path has length {gt.size(-1)} but the tree '
                             f'has depth {self.max_depth}')
        used = torch.zeros(gt.shape[:2], dtype=torch.bool, device=device)
        used[:, 0] = True
        if self.multi_label:
            used = gt[..., 0] != PATH_END
        ok = self.tree.valid_paths(gt, allow_unknown=True) | ~used
        if not ok.all():
            b, p = [int(i) for i in torch.nonzero(~ok)[0]]
            raise ValueError(
                f'gt_path of data sample {b} (row {p}) is not a path of the '
                f'tree: {gt[b, p].tolist()}')
        return gt

    def weighted_ce_loss(self, logits: Tensor, targets: Tensor) -> Tensor:
        """Sum over steps of ``w_t * CE``, averaged over the batch.

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
        weight = torch.ones_like(target)
        unknown_step = gt == PATH_UNKNOWN  # (B, P, T)
        if unknown_step.any():
            known = gt >= 0
            depth = known.sum(-1, keepdim=True)  # nodes per path
            last = gt.gather(-1, (depth - 1).clamp(min=0)).squeeze(-1)
            last = torch.where(depth.squeeze(-1) > 0, last, n)  # n = root
            # below[a, j]: j is a (or below a); row n (the root) is all.
            anc = self.tree.ancestor_mask(logits.device)
            below = torch.cat([anc.t(), anc.new_ones(1, n)], 0)[last]
            unknown = torch.einsum('bpt,bpn->btn', unknown_step.float(),
                                   below.float()) > 0
            unknown = unknown & self.tree.level_mask(logits.device)
            weight = weight.masked_fill(unknown & (target == 0), 0.)
        if level_mask is not None:
            weight = weight * level_mask.to(weight.dtype)
        bce = F.binary_cross_entropy_with_logits(
            logits, target, weight=weight, reduction='none')
        w = self.level_weights[:t].to(bce.dtype)
        return self.loss_weight * (bce.sum(-1) * w).sum() / b

    # ------------------------------------------------------------------
    # predictions
    # ------------------------------------------------------------------
    def effective_beam_size(self) -> int:
        """k clipped to the number of nodes that may end a path."""
        return min(self.beam_size, int(self.can_stop().sum()))

    def pack_single_label(
        self, beams: BeamSearchResult, node_scores: Tensor,
        data_samples: Optional[List[Optional[DataSample]]]
    ) -> List[DataSample]:
        """DataSamples from a beam search (softmax heads).

        Args:
            beams: The search result, ``(B, K, T)`` paths.
            node_scores: ``(B, N)`` probability of each node at its step.
            data_samples: Samples to fill, or ``None``.
        """
        paths, scores = beams.paths, beams.scores
        b, k, _ = paths.shape
        valid = torch.isfinite(scores)
        lengths = (paths >= 0).sum(-1)  # (B, K)
        last = paths.gather(-1, (lengths - 1).clamp(min=0)[..., None])[..., 0]
        pred_score = node_scores.new_zeros(b, self.num_nodes + 1)
        # A node ends at most one path, so scatter does not collide.
        pred_score.scatter_(
            1, torch.where(valid, last, self.num_nodes),
            torch.where(valid, scores.exp(), 0.).to(pred_score.dtype))
        level = torch.where(paths[:, 0] >= 0, beams.node_scores[:, 0].exp(),
                            0.)
        fields = dict(
            pred_path=paths[:, 0],
            pred_path_score=scores[:, 0],
            pred_level_scores=level,
            pred_beam_paths=paths,
            pred_beam_scores=scores,
            pred_score=pred_score[:, :-1],
            pred_node_score=node_scores)
        return self._to_data_samples(fields, last[:, 0], data_samples)

    def pack_multi_label(
        self, node_scores: Tensor,
        data_samples: Optional[List[Optional[DataSample]]]
    ) -> List[DataSample]:
        """DataSamples from sigmoid node scores (multi-label heads).

        The selected paths (``pred_paths``) are those whose node scores are
        all ``>= self.threshold`` (only the deepest, see
        :func:`select_label_nodes`); ``pred_path`` and the beam are the best
        paths by minimum node score, computed exactly from the scores.
        """
        device = node_scores.device
        can_stop = self.can_stop(device)
        pm = self.tree.tensor('path_matrix', device)
        scores, last = topk_label_paths(node_scores, self.tree,
                                        self.effective_beam_size(), can_stop)
        paths = pm[last]  # (B, K, T)
        best = paths[:, 0]
        level = torch.where(best >= 0,
                            node_scores.gather(1, best.clamp(min=0)), 0.)
        selected = select_label_nodes(node_scores, self.tree, self.threshold,
                                      can_stop)
        fields = dict(
            pred_path=best,
            pred_path_score=scores[:, 0],
            pred_level_scores=level,
            pred_beam_paths=paths,
            pred_beam_scores=scores,
            pred_score=node_scores,
            pred_node_score=node_scores)
        samples = self._to_data_samples(fields, last[:, 0], data_samples)
        for sample, sel in zip(samples, selected):
            sample.set_field(pm[sel], 'pred_paths')
        return samples

    def _to_data_samples(
        self, fields: Dict[str, Tensor], label: Tensor,
        data_samples: Optional[List[Optional[DataSample]]]
    ) -> List[DataSample]:
        b = label.size(0)
        if data_samples is None:
            data_samples = [None] * b
        if len(data_samples) != b:
            raise ValueError(f'got {len(data_samples)} data samples for a '
                             f'batch of {b}')
        fields = {k: v.detach() for k, v in fields.items()}
        label = label.detach()
        names = [self.tree.decode(p) for p in fields['pred_path'].tolist()]
        out = []
        for i, sample in enumerate(data_samples):
            sample = DataSample() if sample is None else sample
            for key, value in fields.items():
                if key == 'pred_score':
                    sample.set_pred_score(value[i])
                else:
                    sample.set_field(value[i], key)
            sample.set_pred_label(label[i:i + 1])
            sample.set_field(names[i], 'pred_path_names')
            out.append(sample)
        return out


__all__ = ['BaseHierHead']
