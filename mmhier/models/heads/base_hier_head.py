# Copyright (c) mmhier contributors. All rights reserved.
"""Shared scaffolding of the hierarchical (path-predicting) heads."""
from abc import ABCMeta, abstractmethod
from typing import Any, Dict, List, Optional, Sequence, Tuple, Union

import torch
from mmengine.model import BaseModule
from mmpretrain.structures import DataSample
from torch import Tensor

from mmhier.structures import ClassTree
from .hier_gt_paths import HierGtPathsMixin, debug_checks, ends_at_inner
from .hier_head_outputs import HierHeadOutputsMixin
from .hier_losses import HierLossesMixin


class BaseHierHead(HierGtPathsMixin, HierLossesMixin, HierHeadOutputsMixin,
                   BaseModule, metaclass=ABCMeta):
    """Base of heads that predict a path of a :class:`ClassTree`.

    It holds what every such head shares: the tree, the per-level weighted
    loss of DHNN section 3.1,

    .. math::
        \\mathcal{L} = \\sum_{t=1}^{T} w_t \\, CE(y_t, softmax(o_t)),

    summed over the steps of a sample and averaged over the batch (steps
    whose target is ignored contribute nothing), its multi-label form with
    sigmoids (section 4.2), and the packing of predictions into
    DataSamples. Subclasses implement :meth:`forward`, :meth:`loss` and
    :meth:`predict` with the helpers of the mixins: ground truth
    (:class:`HierGtPathsMixin`), losses (:class:`HierLossesMixin`) and
    predictions (:class:`HierHeadOutputsMixin`).

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


__all__ = ['BaseHierHead', 'debug_checks', 'ends_at_inner']
