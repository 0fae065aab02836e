# Copyright (c) mmhier contributors. All rights reserved.
"""The fixed path length head of DHNN (CNN-RNN, section 3.1)."""
from typing import Any, Dict, List, Optional, Sequence, Tuple, Union

from mmpretrain.registry import MODELS
from mmpretrain.structures import DataSample
from torch import Tensor, nn

from ..utils import BeamSearchResult, build_rnn, tree_beam_search_static
from .base_hier_head import BaseHierHead


@MODELS.register_module()
class HierRNNHead(BaseHierHead):
    """RNN over the converted features ``u_1..u_T``, one node per level.

    DHNN section 3.1, eq. (1): ``h_t = r_h(u_t, h_{t-1})``,
    ``o_t = r_o(h_t)``, ``t = 1..T``, T the depth of the tree; ``o_t`` scores
    the N non-root nodes and the loss is
    ``sum_t w_t * CE(y_t, softmax(o_t))``. Inference is the tree-constrained
    beam search of the DHNN slides (Algorithm 1).

    Where the classifier sits. ``r_h`` is a J-layer (bi)LSTM/GRU; its output
    at step t (hidden size h, 2h if bidirectional) is the paper's ``o_t``.

    - ``residual=False``: ``logits_t = fc(o_t)``, ``fc: h -> N``.
    - ``residual=True`` (the paper's residual arc,
      ``o_t^res = u_t + z(o_t; xi)`` with z a learned linear map aligning
      ``o_t`` to the p dims of ``u_t``): ``logits_t = fc(u_t + z(o_t))``,
      ``z: h -> p``, ``fc: p -> N``. The sum has p dims while the loss needs
      N scores, so the classifier comes after the residual sum, and "in the
      loss ``o_t`` is replaced by ``o_t^res``" means the loss reads
      ``softmax(fc(o_t^res))``.

    Level masking (``mask_levels=True``) is an improvement over the paper,
    off by default: the paper's softmax runs over all N nodes at every step
    (``o_t in R^N``); with masking it runs only over the nodes of depth
    ``t + 1``, so no probability mass or gradient goes to nodes that cannot
    appear at that step. For a fixed-depth tree the beam ranking is the same
    either way (only the normalisation per step changes); training differs.

    Ground truth: ``gt_path`` ``(P, T)``; the first path is the target.
    ``PATH_UNKNOWN`` and ``PATH_END`` steps are ignored (a fixed-length
    model has no end token). The paper assumes every leaf at depth T; on a
    general tree this head still trains on the known levels and its beam
    search stops at leaves only, but prefer :class:`HierS2SHead` there.

    Args:
        tree: The class tree (anything :meth:`ClassTree.build` accepts).
        in_channels: p, features per step of ``u``.
        hidden_size: h.
        num_layers: J. The paper's CNN-RNN has 3 layers (section 4.1);
            the default is 1.
        cell: ``'lstm'`` or ``'gru'`` (the paper: LSTM).
        bidirectional: Bidirectional RNN. The paper's setting is True
            (section 4: "a bidirectional RNN with LSTM cells"); the default
            is False, so set it.
        residual: Use the residual arc.
        dropout: Dropout between RNN layers.
        mask_levels: Restrict the softmax at step t to level t + 1.
        level_weights: ``w_t``, T values; default all 1.
        beam_size: k of the beam search.
        multi_label: Sigmoid outputs, several paths (DHNN section 4.2).
        threshold: Multi-label selection threshold.
        loss_weight: Factor on the loss.
        label_smoothing: ``eps`` of the single-label CE (see
            :meth:`BaseHierHead.weighted_ce_loss`).
        rnn_init: Initialisation of the RNN at construction:
            ``'per_gate'`` (mmhier's: orthogonal recurrent block per gate,
            Xavier inputs) or ``'orthogonal'`` (the authors' code: the whole
            ``[W_x; W_h]`` kernel orthogonal), see
            :func:`~mmhier.models.utils.init_rnn`.
        init_cfg: mmengine init config.

    Examples:
        >>> # the paper's setting: 3 bidirectional LSTM layers
        >>> head = MODELS.build(dict(
        ...     type='HierRNNHead', in_channels=16, hidden_size=32,
        ...     num_layers=3, bidirectional=True, rnn_init='orthogonal',
        ...     tree={'A': ['C', 'D'], 'B': ['E', 'F', 'G']}))
        >>> logits = head((torch.rand(4, 2, 16), ))   # (4, 2, 7)
    """

    def __init__(self,
                 tree: Any,
                 in_channels: int,
                 hidden_size: int = 512,
                 num_layers: int = 1,
                 cell: str = 'lstm',
                 bidirectional: bool = False,
                 residual: bool = False,
                 dropout: float = 0.,
                 mask_levels: bool = False,
                 level_weights: Optional[Sequence[float]] = None,
                 beam_size: int = 5,
                 multi_label: bool = False,
                 threshold: float = 0.5,
                 loss_weight: float = 1.0,
                 label_smoothing: float = 0.,
                 rnn_init: str = 'per_gate',
                 init_cfg: Optional[Union[dict, List[dict]]] = None):
        super().__init__(
            tree,
            end_step=False,
            level_weights=level_weights,
            beam_size=beam_size,
            multi_label=multi_label,
            threshold=threshold,
            loss_weight=loss_weight,
            label_smoothing=label_smoothing,
            init_cfg=init_cfg)
        self.in_channels = in_channels
        self.residual = bool(residual)
        self.mask_levels = bool(mask_levels)
        self.rnn = build_rnn(
            cell,
            in_channels,
            hidden_size,
            num_layers,
            bidirectional,
            dropout,
            init=rnn_init)
        out_dim = hidden_size * (2 if bidirectional else 1)
        if self.residual:
            self.z = nn.Linear(out_dim, in_channels)
            self.fc = nn.Linear(in_channels, self.num_nodes)
        else:
            self.fc = nn.Linear(out_dim, self.num_nodes)

    def pre_logits(self, feats: Tuple[Tensor, ...]) -> Tensor:
        """``o_t`` (or ``o_t^res = u_t + z(o_t)``), ``(B, T, h or p)``."""
        u = self.get_u(feats, self.in_channels)
        if u.size(1) != self.max_depth:
            raise ValueError(
                f'HierRNNHead needs one input step per tree level: feats[-1] '
                f'has T={u.size(1)} steps but the tree has depth '
                f'{self.max_depth}; set the neck to {self.max_depth} stage '
                'groups')
        o, _ = self.rnn(u)  # eq. (1)
        if self.residual:
            o = u + self.z(o)  # residual arc, section 3.1
        return o

    def forward(self, feats: Tuple[Tensor, ...]) -> Tensor:
        """Raw logits ``(B, T, N)`` (unmasked; see :meth:`log_probs`)."""
        return self.fc(self.pre_logits(feats))

    def log_probs(self, logits: Tensor) -> Tensor:
        """Per-step log-softmax over the nodes (of the level, if
        ``mask_levels``)."""
        if self.mask_levels:
            logits = logits.masked_fill(~self.tree.level_mask(logits.device),
                                        float('-inf'))
        return logits.log_softmax(-1)

    def node_scores(self, scores: Tensor) -> Tensor:
        """``(B, T, N)`` -> ``(B, N)``: node j at its own step."""
        depths = self.tree.tensor('depths', scores.device)
        return scores.gather(1,
                             (depths - 1)[None,
                                          None].expand(scores.size(0), 1,
                                                       -1))[:, 0]

    def path_log_probs(self, feats: Tuple[Tensor, ...],
                       paths: Tensor) -> Tensor:
        """Log-probability ``(B, K)`` of given paths ``(B, K, T)``: the sum
        over their nodes of the log-softmax of their step (padding adds 0).
        """
        log_probs = self.log_probs(self(feats))  # (B, T, N)
        b, k, t = paths.shape
        picked = log_probs[:, None].expand(b, k, t, -1).gather(
            -1,
            paths.clamp(min=0)[..., None])[..., 0]
        return picked.masked_fill(paths < 0, 0.).sum(-1)

    def loss(self, feats: Tuple[Tensor, ...], data_samples: List[DataSample],
             **kwargs) -> Dict[str, Tensor]:
        """Weighted per-level CE (or BCE when ``multi_label``)."""
        logits = self(feats)
        gt = self.get_gt_paths(data_samples, logits.device)
        if self.multi_label:
            mask = self.tree.level_mask(logits.device) \
                if self.mask_levels else None
            loss = self.multilabel_bce_loss(logits, gt, mask)
        else:
            if self.mask_levels:
                logits = logits.masked_fill(
                    ~self.tree.level_mask(logits.device), float('-inf'))
            loss = self.weighted_ce_loss(logits, gt[:, 0])
        return dict(loss=loss)

    def predict(
        self,
        feats: Tuple[Tensor, ...],
        data_samples: Optional[List[Optional[DataSample]]] = None
    ) -> List[DataSample]:
        """Beam-searched paths (single-label) or thresholded paths
        (multi-label)."""
        logits = self(feats)
        if self.multi_label:
            node_scores = self.node_scores(logits.sigmoid())
            return self.pack_multi_label(node_scores, data_samples)
        log_probs = self.log_probs(logits)
        beams = self.search(log_probs, self.effective_beam_size())
        node_scores = self.node_scores(log_probs.exp())
        return self.pack_single_label(beams, node_scores, data_samples)

    def search(self, log_probs: Tensor, beam_size: int) -> BeamSearchResult:
        """The tree beam search on per-level log-probs ``(B, T, N)``."""
        return tree_beam_search_static(
            log_probs,
            self.tree,
            beam_size,
            self.can_stop(log_probs.device),
            stop_depths=self.stop_depths())

    def beam_search(self, feats: Tuple[Tensor, ...],
                    beam_size: int) -> BeamSearchResult:
        """The best ``beam_size`` paths of ``feats`` (single-label), as
        ``HierS2SHead.beam_search`` gives them."""
        return self.search(self.log_probs(self(feats)), beam_size)
