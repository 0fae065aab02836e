# Copyright (c) mmhier contributors. All rights reserved.
"""The general tree head of DHNN (CNN-S2S, section 3.2)."""
from typing import Any, Dict, List, Optional, Sequence, Tuple, Union

import torch
from mmpretrain.registry import MODELS
from mmpretrain.structures import DataSample
from torch import Tensor, nn

from mmhier.structures import PATH_UNKNOWN, paths_to_multihot
from ..utils import build_rnn
from .base_hier_head import BaseHierHead, ends_at_inner
from .hier_s2s_decoder import HierS2SDecoderMixin

#: what the decoder reads at each step, see ``HierS2SHead``
DECODER_INPUTS = ('embedding', 'softmax')


@MODELS.register_module()
class HierS2SHead(HierS2SDecoderMixin, BaseHierHead):
    """Sequence-to-sequence head: paths of any length up to the tree depth.

    DHNN section 3.2. An encoder RNN reads ``u_1..u_{T_in}`` (eq. (1),
    ``T_in`` = the neck's number of stage groups); a decoder starts from the
    encoder's last state (``h-bar_0 = h_{T_in}``) and emits one node per
    step, ``h-bar_t = r-bar_h(x_t, h-bar_{t-1})``, ``o-bar_t =
    r-bar_o(h-bar_t)``, then an END token, over ``T + 1`` steps (T the tree
    depth; the extra step emits END after a full-depth path). The loss is the
    one of section 3.1, ``sum_t w_t * CE(y_t, softmax(o-bar_t))`` over the
    ``N + 1`` outputs (N nodes and END).

    Decoder input ``x_t`` (``decoder_input``):

    * ``'softmax'``, the paper's decoder: ``x_1`` is a learned start
      embedding (the root) and ``x_t = W_in o-bar_{t-1}``, a linear map of
      the decoder's own previous softmax output over the ``N + 1`` outputs.
      The decoder runs free, in training and inference alike, so its
      outputs do not depend on any choice: the beam search then works on
      scores known up front, as for the CNN-RNN.
    * ``'embedding'`` (default): ``x_t`` is the embedding of the node
      emitted at step ``t - 1``, as in the S2S model of Cho et al. the paper
      builds on. Training feeds the ground-truth node (teacher forcing), or,
      with ``scheduled_sampling=eps``, the model's own greedy node (the best
      child of the node fed before) with probability ``eps`` per sample and
      step (Bengio et al., 2015; a constant rate). In inference the
      tree-constrained beam search feeds each hypothesis its own node,
      calling the decoder on all ``B * k`` hypotheses at once.

    With a bidirectional encoder the decoder's hidden size is ``2h`` and its
    initial state concatenates both directions' final states, layer by
    layer.

    END is only allowed where the path may stop: after a leaf, and after an
    inner node when ``allow_inner_stop`` (the paper's general tree: a label
    path ends at "a node (not necessarily a leaf)").

    Residual arcs (``residual=True``) are defined by the paper for the
    CNN-RNN only. We carry them over by step alignment: decoder step t
    (predicting depth t + 1) adds the input of the same step,
    ``o-bar_t^res = u_{min(t, T_in)} + z(o-bar_t)``, and the classifier
    ``fc: p -> N + 1`` reads the sum (see :class:`HierRNNHead` for the
    placement).

    Multi-label (section 4.2): sigmoid node outputs and several paths per
    image, so there is no single previous node to feed. The decoder input is
    then a mean embedding of the previous step's node set. With
    ``decoder_input='softmax'`` it is the decoder's own sigmoid-weighted
    mean in training and inference (the paper's free-running decoder; no
    train/test mismatch). With ``'embedding'`` training feeds the mean over
    the ground-truth node set and inference the sigmoid-weighted mean: the
    decoder is then tested on inputs it never saw in training (documented
    in docs/design.md). END is not used; selected paths are those whose node
    scores all pass ``threshold`` (see ``BaseHierHead``).

    ``mask_levels`` (an improvement over the paper, off by default): the
    softmax at step t covers only the nodes of depth t + 1 and END (END not
    at the first step; only END at the last).

    Predictions: see ``BaseHierHead``; ``pred_node_score`` holds the
    decoder's softmax at each node's own step along the best path's
    prefixes (one extra teacher-forced pass), since ``o-bar_t`` depends on
    the nodes fed before it.

    Ground truth: ``gt_path`` ``(P, T)``; the first path is the target
    (single-label). A path of length L gives targets at steps ``0..L-1`` and
    END at step L; ``PATH_UNKNOWN`` steps and everything after them
    (including END) are ignored.

    Args:
        tree: The class tree (anything :meth:`ClassTree.build` accepts).
        in_channels: p, features per step of ``u``.
        hidden_size: h of the encoder (the decoder has ``D * h``).
        num_layers: J, for the encoder and the decoder.
        cell: ``'lstm'`` or ``'gru'``.
        bidirectional: Bidirectional encoder; the paper's setting is True
            (the default is False).
        residual: Residual arcs (see above).
        embed_dims: Size of the decoder's node embeddings; defaults to p.
        dropout: Dropout between RNN layers.
        decoder_input: ``'embedding'`` (node embeddings, teacher forcing)
            or ``'softmax'`` (the paper's decoder, reading its own previous
            output).
        scheduled_sampling: With ``'embedding'``, the probability of feeding
            the model's own greedy node instead of the ground truth in
            training. Defaults to 0 (teacher forcing).
        allow_inner_stop: Paths may end at inner nodes.
        mask_levels: Restrict the softmax at step t to level t + 1 and END.
        level_weights: ``w_t``: T + 1 values (the last for the final END
            step), or T (the last reused for the final step).
        beam_size: k of the beam search.
        multi_label: Sigmoid outputs, several paths.
        threshold: Multi-label selection threshold.
        loss_weight: Factor on the loss.
        label_smoothing: ``eps`` of the single-label CE (see
            :meth:`BaseHierHead.weighted_ce_loss`).
        rnn_init: Initialisation of the encoder and decoder: ``'per_gate'``
            (mmhier's) or ``'orthogonal'`` (the authors' code: the whole
            ``[W_x; W_h]`` kernel orthogonal), see
            :func:`~mmhier.models.utils.init_rnn`.
        init_cfg: mmengine init config.
    """

    def __init__(self,
                 tree: Any,
                 in_channels: int,
                 hidden_size: int = 512,
                 num_layers: int = 1,
                 cell: str = 'lstm',
                 bidirectional: bool = False,
                 residual: bool = False,
                 embed_dims: Optional[int] = None,
                 dropout: float = 0.,
                 decoder_input: str = 'embedding',
                 scheduled_sampling: float = 0.,
                 allow_inner_stop: bool = True,
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
            end_step=True,
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
        self.allow_inner_stop = bool(allow_inner_stop)
        self.num_layers = num_layers
        self.bidirectional = bool(bidirectional)
        if decoder_input not in DECODER_INPUTS:
            raise ValueError(f'decoder_input must be one of {DECODER_INPUTS}, '
                             f'got {decoder_input!r}')
        if not 0. <= float(scheduled_sampling) <= 1.:
            raise ValueError(f'scheduled_sampling is a probability in [0, '
                             f'1], got {scheduled_sampling!r}')
        if scheduled_sampling and (decoder_input != 'embedding'
                                   or multi_label):
            raise ValueError(
                f'scheduled_sampling={scheduled_sampling} feeds emitted '
                f"nodes: it needs decoder_input='embedding' and a "
                f'single-label head (got decoder_input={decoder_input!r}, '
                f'multi_label={multi_label})')
        self.decoder_input = decoder_input
        self.scheduled_sampling = float(scheduled_sampling)
        embed_dims = embed_dims or in_channels
        dec_hidden = hidden_size * (2 if bidirectional else 1)
        self.encoder = build_rnn(
            cell,
            in_channels,
            hidden_size,
            num_layers,
            bidirectional,
            dropout,
            init=rnn_init)
        self.decoder = build_rnn(
            cell,
            embed_dims,
            dec_hidden,
            num_layers,
            False,
            dropout,
            init=rnn_init)
        # Rows 0..N-1: nodes; row N: the start token (the root).
        self.embed = nn.Embedding(self.num_nodes + 1, embed_dims)
        if decoder_input == 'softmax' and not self.multi_label:
            # W_in of x_t = W_in o-bar_{t-1}: N node outputs and END
            self.feedback = nn.Linear(
                self.num_nodes + 1, embed_dims, bias=False)
        n, t = self.num_nodes, self.max_depth
        step_mask = torch.zeros(t + 1, n + 1, dtype=torch.bool)
        step_mask[:t, :n] = self.tree.level_mask()
        step_mask[1:, n] = True
        self.register_buffer('_step_mask', step_mask, persistent=False)
        if self.residual:
            self.z = nn.Linear(dec_hidden, in_channels)
            self.fc = nn.Linear(in_channels, self.num_nodes + 1)
        else:
            self.fc = nn.Linear(dec_hidden, self.num_nodes + 1)

    # ------------------------------------------------------------------
    # building blocks
    # ------------------------------------------------------------------
    def can_stop(self, device: Union[str, torch.device] = 'cpu') -> Tensor:
        return self.tree.tensor(
            'every_node' if self.allow_inner_stop else 'is_leaf', device)

    # ------------------------------------------------------------------
    # the head contract
    # ------------------------------------------------------------------
    def forward(self,
                feats: Tuple[Tensor, ...],
                gt_path: Optional[Tensor] = None) -> Tensor:
        """Raw logits (unmasked).

        Args:
            feats: The neck's tuple; ``feats[-1]`` is ``u`` ``(B, T_in, p)``.
            gt_path: Optional long ``(B, T)`` paths to teacher-force.

        Returns:
            ``(B, T + 1, N + 1)`` (multi-label: ``(B, T, N + 1)``), the last
            column END: teacher-forced with ``gt_path``, else along the
            greedy path (single-label) or the soft pass (multi-label); with
            ``decoder_input='softmax'`` always the free run.
        """
        if self.multi_label:
            return self.decode_soft(feats)
        if self.decoder_input == 'softmax':
            return self.decode_free(feats)
        if gt_path is not None:
            return self.decode_teacher(feats, gt_path)
        record: List[Tensor] = []
        with torch.no_grad():
            self.beam_search(feats, 1, record, track_nodes=False)
        return torch.cat(record, 1)

    def targets(self, gt: Tensor) -> Tensor:
        """Per-step targets ``(B, T + 1)`` of paths ``(B, T)``: the nodes,
        END (= N) after the last one, -1 (ignored) elsewhere."""
        b, t = gt.shape
        length = (gt >= 0).sum(-1)
        unknown = (gt == PATH_UNKNOWN).any(-1)
        tgt = torch.cat([gt, gt.new_full((b, 1), -1)], 1).clamp(min=-1)
        steps = torch.arange(t + 1, device=gt.device)
        end = (steps == length[:, None]) & ~unknown[:, None]
        return tgt.masked_fill(end, self.num_nodes)

    def gt_end_errors(self, gt: Tensor) -> Optional[Tensor]:
        """With ``allow_inner_stop=False``, complete paths must end at a
        leaf (coarse-only ones, ``PATH_UNKNOWN``, may stop anywhere)."""
        if self.allow_inner_stop:
            return None
        return ends_at_inner(gt, self.tree.tensor('is_leaf', gt.device))

    def gt_end_message(self, sample: int, path: List[int]) -> str:
        return self.inner_end_message(sample, path)

    def loss(self, feats: Tuple[Tensor, ...], data_samples: List[DataSample],
             **kwargs) -> Dict[str, Tensor]:
        """Weighted per-step CE over nodes and END (see
        :meth:`train_logits`), or the multi-label BCE."""
        device = feats[-1].device
        gt = self.get_gt_paths(data_samples, device)
        if self.multi_label:
            multihot = None if self.decoder_input == 'softmax' else \
                paths_to_multihot(gt, self.num_nodes)
            logits = self.decode_soft(feats, multihot)
            mask = self.tree.level_mask(device) if self.mask_levels else None
            loss = self.multilabel_bce_loss(logits[..., :self.num_nodes], gt,
                                            mask)
            return dict(loss=loss)
        logits = self.masked(self.train_logits(feats, gt[:, 0]))
        return dict(loss=self.weighted_ce_loss(logits, self.targets(gt[:, 0])))

    def predict(
        self,
        feats: Tuple[Tensor, ...],
        data_samples: Optional[List[Optional[DataSample]]] = None
    ) -> List[DataSample]:
        """Beam-searched paths (single-label) or thresholded paths
        (multi-label)."""
        n = self.num_nodes
        if self.multi_label:
            step = self.tree.tensor('step_of_node', feats[-1].device)
            logits = self.decode_soft(feats)[..., :n]
            node_scores = logits.sigmoid().gather(
                1, step.expand(logits.size(0), 1, -1))
            return self.pack_multi_label(node_scores[:, 0], data_samples)
        k = self.effective_beam_size()
        if self.decoder_input == 'softmax':
            # one free run gives the search's scores and the node scores
            log_probs = self.log_probs(self.decode_free(feats))
            beams = self.static_beam_search(log_probs, k)
        else:
            encoded = self.encode(feats)
            beams = self.beam_search(
                feats, k, encoded=encoded, track_nodes=False)
            # node scores at their own step along the best path's prefixes
            log_probs = self.log_probs(
                self.decode_teacher_last(encoded, beams.last[:, 0]))
        step = self.tree.tensor('step_of_node', log_probs.device)
        node_scores = log_probs[:, :-1, :n].gather(
            1, step.expand(log_probs.size(0), 1, -1))[:, 0].exp()
        return self.pack_single_label(beams, node_scores, data_samples)
