# Copyright (c) mmhier contributors. All rights reserved.
"""Shared scaffolding of the hierarchical (path-predicting) heads."""
import os
from abc import ABCMeta, abstractmethod
from typing import Any, Dict, List, Optional, Sequence, Tuple, Union

import torch
import torch.nn.functional as F
from mmengine.model import BaseModule
from mmpretrain.structures import DataSample
from torch import Tensor

from mmhier.structures import (PATH_END, PATH_UNKNOWN, ClassTree,
                               batched_gt_paths, paths_to_multihot,
                               stack_gt_paths)
from ..utils import BeamSearchResult, select_label_nodes, topk_label_paths

_IGNORE = -100  # ignore_index of F.cross_entropy


def debug_checks() -> bool:
    """Whether ``MMHIER_DEBUG`` asks for the full ground-truth checks (with
    a message naming the sample) at every step, host syncs and all."""
    return os.environ.get('MMHIER_DEBUG', '') not in ('', '0')


def ends_at_inner(gt: Tensor, is_leaf: Tensor) -> Tensor:
    """Bool ``(B,)``: complete paths ``(B, T)`` whose last node is not a leaf
    (paths with ``PATH_UNKNOWN`` steps are coarse-only, never flagged)."""
    length = (gt >= 0).sum(-1)
    last = gt.gather(1, (length - 1).clamp(min=0)[:, None])[:, 0]
    unknown = (gt == PATH_UNKNOWN).any(-1)
    return ~is_leaf[last.clamp(min=0)] & ~unknown


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
    ``HierDataPreprocessor`` batches it once per step on the device; the
    heads then read that batch as it is, with no host sync (see
    :meth:`get_gt_paths`).

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
        label_smoothing: ``eps`` of the single-label CE: the target of a
            step is ``(1 - eps)`` on its node and ``eps`` spread evenly over
            the step's other allowed outputs (those not masked to
            ``-inf``). Defaults to 0.
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
                 label_smoothing: float = 0.,
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
        if not 0. <= float(label_smoothing) < 1.:
            raise ValueError(f'label_smoothing must be in [0, 1), got '
                             f'{label_smoothing!r}')
        self.label_smoothing = float(label_smoothing)
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
        """The ``gt_path`` of a batch, long ``(B, P, T)`` on ``device``.

        Where the paths enter decides what is checked, so that a training
        step reads nothing back from the device:

        - batched by ``HierDataPreprocessor`` (the configs): the batch is
          used as it is. The datasets checked every path against the tree
          when they loaded it; what only the head knows (where a path may
          end, :meth:`gt_end_errors`) is asserted on the device,
          asynchronously (``torch._assert_async``).
        - packed any other way (hand-made samples, another preprocessor):
          stacked here and checked with :meth:`check_gt_paths` before they
          move to ``device``, which raises a ``ValueError`` naming the
          sample.

        ``MMHIER_DEBUG=1`` runs :meth:`check_gt_paths` on every batch.
        """
        gt = batched_gt_paths(data_samples)
        checked = gt is None or debug_checks()
        if gt is None:
            gt = stack_gt_paths(data_samples)
        if gt.size(-1) != self.max_depth:
            raise ValueError(f'gt_path has length {gt.size(-1)} but the tree '
                             f'has depth {self.max_depth}')
        if checked:
            self.check_gt_paths(gt)
        else:
            bad = self.gt_end_errors(gt[:, 0]) if not self.multi_label \
                else None
            if bad is not None:
                torch._assert_async(
                    ~bad.any(),
                    f'{type(self).__name__}: a gt_path ends where the head '
                    'cannot stop a path; run with MMHIER_DEBUG=1 to name '
                    'the sample')
        return gt.to(device)

    def check_gt_paths(self, gt: Tensor) -> None:
        """Check ground-truth paths, reading the result back (a host sync).

        Args:
            gt: Long ``(B, P, T)`` (or ``(B, T)``, one path per sample).

        Raises:
            ValueError: naming the first sample whose (first, or any
                non-empty when multi-label) path is not a path of the tree,
                or (single-label) ends where the head cannot stop
                (:meth:`gt_end_errors`).
        """
        if gt.dim() == 2:
            gt = gt[:, None]
        used = torch.zeros(gt.shape[:2], dtype=torch.bool, device=gt.device)
        used[:, 0] = True
        if self.multi_label:
            used = gt[..., 0] != PATH_END
        ok = self.tree.valid_paths(gt, allow_unknown=True) | ~used
        if not ok.all():
            b, p = [int(i) for i in torch.nonzero(~ok)[0]]
            raise ValueError(
                f'gt_path of data sample {b} (row {p}) is not a path of the '
                f'tree: {gt[b, p].tolist()}')
        bad = None if self.multi_label else self.gt_end_errors(gt[:, 0])
        if bad is not None and bad.any():
            b = int(torch.nonzero(bad)[0])
            raise ValueError(self.gt_end_message(b, gt[b, 0].tolist()))

    def gt_end_errors(self, gt: Tensor) -> Optional[Tensor]:
        """Bool ``(B,)``: first paths ``(B, T)`` (valid ones) that end where
        this head cannot stop a path; ``None`` when every end is fine (the
        default). Computed on the device, without a sync."""
        return None

    def gt_end_message(self, sample: int, path: List[int]) -> str:
        """The error for a sample flagged by :meth:`gt_end_errors`."""
        return (f'gt_path of data sample {sample} ends where '
                f'{type(self).__name__} cannot stop a path: {path}')

    def inner_end_message(self, sample: int, path: List[int]) -> str:
        """:meth:`gt_end_message` of heads built with
        ``allow_inner_stop=False``."""
        last = [i for i in path if i >= 0][-1]
        return (f'gt_path of data sample {sample} ends at inner node '
                f'{self.tree.names[last]!r}, but allow_inner_stop=False')

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

    # ------------------------------------------------------------------
    # predictions
    # ------------------------------------------------------------------
    def _stop_nodes(self) -> Tuple[int, Tuple[int, ...]]:
        """How many nodes may end a path, and their depths: host values of
        :meth:`can_stop`, made once (no sync, nothing to trace per step)."""
        stop = getattr(self, '_stop_nodes_cache', None)
        if stop is None:
            mask = self.can_stop('cpu').numpy().astype(bool)
            stop = (int(mask.sum()),
                    tuple(sorted({int(d)
                                  for d in self.tree.depths[mask]})))
            self._stop_nodes_cache = stop
        return stop

    def effective_beam_size(self) -> int:
        """k clipped to the number of nodes that may end a path."""
        return min(self.beam_size, self._stop_nodes()[0])

    def stop_depths(self) -> Tuple[int, ...]:
        """Depths of the nodes that may end a path (for the beam search,
        known on the host)."""
        return self._stop_nodes()[1]

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
        scores, last = topk_label_paths(
            node_scores,
            self.tree,
            self.effective_beam_size(),
            can_stop,
            num_stop=self._stop_nodes()[0])
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
        # The selected nodes first, in node order (a stable sort keeps it):
        # each sample's pred_paths is then a slice of one fixed-shape tensor,
        # cut by a count read back with the paths, not a boolean index (one
        # host sync per sample).
        order = torch.sort(
            (~selected).to(torch.uint8), dim=1, stable=True).indices
        ragged = dict(pred_paths=(pm[order], selected.sum(-1)))
        return self._to_data_samples(fields, last[:, 0], data_samples, ragged)

    def _to_data_samples(
        self,
        fields: Dict[str, Tensor],
        label: Tensor,
        data_samples: Optional[List[Optional[DataSample]]],
        ragged: Optional[Dict[str, Tuple[Tensor, Tensor]]] = None
    ) -> List[DataSample]:
        """Set the fields on the data samples.

        Args:
            fields: ``(B, ...)`` tensors; sample i gets row i of each.
            label: ``(B,)`` ``pred_label``.
            data_samples: Samples to fill, or ``None``.
            ragged: ``{name: (values (B, M, ...), counts (B,))}``: sample i
                gets ``values[i, :counts[i]]``.

        The names of ``pred_path`` and the ragged counts are read back
        together, the one host sync of ``predict``.
        """
        b = label.size(0)
        if data_samples is None:
            data_samples = [None] * b
        if len(data_samples) != b:
            raise ValueError(f'got {len(data_samples)} data samples for a '
                             f'batch of {b}')
        fields = {k: v.detach() for k, v in fields.items()}
        label = label.detach()
        ragged = ragged or {}
        t = fields['pred_path'].size(1)
        host = torch.cat([fields['pred_path']] +
                         [c.detach()[:, None] for _, c in ragged.values()],
                         1).tolist()
        names = [self.tree.decode(row[:t]) for row in host]
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
            for j, (key, (values, _)) in enumerate(ragged.items()):
                sample.set_field(values[i, :host[i][t + j]].detach(), key)
            out.append(sample)
        return out


__all__ = ['BaseHierHead', 'debug_checks', 'ends_at_inner']
