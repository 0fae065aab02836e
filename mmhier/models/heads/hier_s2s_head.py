# Copyright (c) mmhier contributors. All rights reserved.
"""The general tree head of DHNN (CNN-S2S, section 3.2)."""
from typing import Any, Dict, List, Optional, Sequence, Tuple, Union

import torch
from mmpretrain.registry import MODELS
from mmpretrain.structures import DataSample
from torch import Tensor, nn

from mmhier.structures import PATH_UNKNOWN, paths_to_multihot
from ..utils import build_rnn, merge_directions, tree_beam_search
from .base_hier_head import BaseHierHead


@MODELS.register_module()
class HierS2SHead(BaseHierHead):
    """Sequence-to-sequence head: paths of any length up to the tree depth.

    DHNN section 3.2. An encoder RNN reads ``u_1..u_{T_in}`` (eq. (1),
    ``T_in`` = the neck's number of stage groups); a decoder starts from the
    encoder's last state (``h-bar_0 = h_{T_in}``) and emits one node per
    step, ``h-bar_t = r-bar_h(x_t, h-bar_{t-1})``, ``o-bar_t =
    r-bar_o(h-bar_t)``, then an END token, over ``T + 1`` steps (T the tree
    depth; the extra step emits END after a full-depth path). The loss is the
    one of section 3.1, ``sum_t w_t * CE(y_t, softmax(o-bar_t))`` over the
    ``N + 1`` outputs (N nodes and END).

    Decoder input ``x_t`` (the paper writes the decoder's own output
    ``o-bar`` here; we feed it the node it emitted, as in the S2S model of
    Cho et al. the paper builds on): ``x_1`` is a learned start embedding
    (the root), ``x_t`` the embedding of the node of step ``t - 1``. In
    training the ground-truth node is fed (teacher forcing); in inference the
    tree-constrained beam search feeds each hypothesis its own node, calling
    the decoder on all ``B * k`` hypotheses at once. With a bidirectional
    encoder the decoder's hidden size is ``2h`` and its initial state
    concatenates both directions' final states, layer by layer.

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
    then the mean embedding of the previous step's node set: the ground-truth
    multi-hot set in training, the sigmoid-weighted mean in inference (a
    single deterministic pass). END is not used; selected paths are those
    whose node scores all pass ``threshold`` (see ``BaseHierHead``).

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
        bidirectional: Bidirectional encoder.
        residual: Residual arcs (see above).
        embed_dims: Size of the decoder's node embeddings; defaults to p.
        dropout: Dropout between RNN layers.
        allow_inner_stop: Paths may end at inner nodes.
        mask_levels: Restrict the softmax at step t to level t + 1 and END.
        level_weights: ``w_t``: T + 1 values (the last for the final END
            step), or T (the last reused for the final step).
        beam_size: k of the beam search.
        multi_label: Sigmoid outputs, several paths.
        threshold: Multi-label selection threshold.
        loss_weight: Factor on the loss.
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
                 allow_inner_stop: bool = True,
                 mask_levels: bool = False,
                 level_weights: Optional[Sequence[float]] = None,
                 beam_size: int = 5,
                 multi_label: bool = False,
                 threshold: float = 0.5,
                 loss_weight: float = 1.0,
                 init_cfg: Optional[Union[dict, List[dict]]] = None):
        super().__init__(
            tree,
            end_step=True,
            level_weights=level_weights,
            beam_size=beam_size,
            multi_label=multi_label,
            threshold=threshold,
            loss_weight=loss_weight,
            init_cfg=init_cfg)
        self.in_channels = in_channels
        self.residual = bool(residual)
        self.mask_levels = bool(mask_levels)
        self.allow_inner_stop = bool(allow_inner_stop)
        self.num_layers = num_layers
        self.bidirectional = bool(bidirectional)
        embed_dims = embed_dims or in_channels
        dec_hidden = hidden_size * (2 if bidirectional else 1)
        self.encoder = build_rnn(cell, in_channels, hidden_size, num_layers,
                                 bidirectional, dropout)
        self.decoder = build_rnn(cell, embed_dims, dec_hidden, num_layers,
                                 False, dropout)
        # Rows 0..N-1: nodes; row N: the start token (the root).
        self.embed = nn.Embedding(self.num_nodes + 1, embed_dims)
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
        leaf = self.tree.tensor('is_leaf', device)
        return torch.ones_like(leaf) if self.allow_inner_stop else leaf

    def step_mask(self, device: Union[str, torch.device]) -> Tensor:
        """Bool ``(T + 1, N + 1)``: outputs allowed at each step when
        ``mask_levels`` (level t + 1 nodes, END from step 1 on)."""
        return self._step_mask.to(device)

    def encode(self, feats: Tuple[Tensor, ...]) -> Tuple[Tensor, Any]:
        """``u`` and the decoder's initial state (the encoder's last)."""
        u = self.get_u(feats, self.in_channels)
        _, state = self.encoder(u)  # eq. (1)
        return u, merge_directions(state, self.num_layers, self.bidirectional)

    def output(self, dec_out: Tensor, u: Tensor, first_step: int) -> Tensor:
        """Logits ``(..., S, N + 1)`` of decoder outputs ``(B, ..., S, D)``
        for steps ``first_step..first_step + S - 1``."""
        if not self.residual:
            return self.fc(dec_out)
        steps = torch.arange(
            first_step, first_step + dec_out.size(-2), device=u.device)
        u_t = u[:, steps.clamp(max=u.size(1) - 1)]  # (B, S, p)
        if dec_out.dim() == 4:  # (B, K, S, D): hypotheses of beam search
            u_t = u_t[:, None]
        return self.fc(u_t + self.z(dec_out))  # residual arc

    def log_probs(self, logits: Tensor, first_step: int = 0) -> Tensor:
        """Log-softmax over the N + 1 outputs of steps ``first_step..``."""
        if self.mask_levels:
            s = logits.size(-2)
            mask = self.step_mask(logits.device)[first_step:first_step + s]
            logits = logits.masked_fill(~mask, float('-inf'))
        return logits.log_softmax(-1)

    def decode_teacher(self, feats: Tuple[Tensor, ...],
                       paths: Tensor) -> Tensor:
        """Teacher-forced logits ``(B, T + 1, N + 1)`` of paths ``(B, T)``:
        step t is fed the node of step ``t - 1``."""
        u, state = self.encode(feats)
        start = paths.new_full((paths.size(0), 1), self.num_nodes)
        prev = torch.cat([start, paths], 1)
        prev = prev.masked_fill(prev < 0, self.num_nodes)
        out, _ = self.decoder(self.embed(prev), state)
        return self.output(out, u, 0)

    def decode_soft(self,
                    feats: Tuple[Tensor, ...],
                    multihot: Optional[Tensor] = None) -> Tensor:
        """Multi-label decoding, logits ``(B, T, N + 1)``.

        Step t reads the mean embedding of the step ``t - 1`` nodes: of
        ``multihot`` ``(B, T, N)`` when given (teacher forcing, one pass),
        else of the sigmoid scores of the previous step (a soft set: weights
        divided by ``max(1, sum)`` in both cases).
        """
        u, state = self.encode(feats)
        b, n = u.size(0), self.num_nodes
        start = self.embed.weight[n].expand(b, 1, -1)
        if multihot is not None:
            weights = multihot[:, :-1]
            mean = weights @ self.embed.weight[:n] / weights.sum(
                -1, keepdim=True).clamp(min=1)
            out, _ = self.decoder(torch.cat([start, mean], 1), state)
            return self.output(out, u, 0)
        x, outs = start, []
        mask = self.tree.level_mask(u.device)
        for t in range(self.max_depth):
            out, state = self.decoder(x, state)
            logits = self.output(out, u, t)  # (B, 1, N + 1)
            outs.append(logits)
            p = logits[..., :n].sigmoid()
            if self.mask_levels:
                p = p * mask[t]
            x = p @ self.embed.weight[:n] / p.sum(
                -1, keepdim=True).clamp(min=1)
        return torch.cat(outs, 1)

    def beam_search(self,
                    feats: Tuple[Tensor, ...],
                    beam_size: int,
                    record: Optional[List[Tensor]] = None):
        """Tree-constrained beam search through the decoder.

        Args:
            feats: The neck's tuple.
            beam_size: k.
            record: If a list, the logits ``(B, K, N + 1)`` of every step are
                appended to it.

        Returns:
            BeamSearchResult.
        """
        u, state = self.encode(feats)
        b = u.size(0)
        is_lstm = isinstance(state, tuple)
        # The search reorders dim 0, the hypotheses: (J, B, H) -> (B, J, H).
        state = tuple(s.transpose(0, 1) for s in state) if is_lstm \
            else state.transpose(0, 1)

        def step(t: int, last: Tensor, st):
            k = last.size(1)
            st = tuple(s.transpose(0, 1).contiguous() for s in st) \
                if is_lstm else st.transpose(0, 1).contiguous()
            out, st = self.decoder(self.embed(last.reshape(-1, 1)), st)
            logits = self.output(out.view(b, k, 1, -1), u, t)[:, :, 0]
            if record is not None:
                record.append(logits)
            st = tuple(s.transpose(0, 1) for s in st) if is_lstm \
                else st.transpose(0, 1)
            return self.log_probs(logits[:, :, None], t)[:, :, 0], st

        return tree_beam_search(
            step,
            self.tree,
            b,
            beam_size,
            can_stop=self.can_stop(u.device),
            end_token=True,
            state=state,
            device=u.device)

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
            greedy path (single-label) or the soft pass (multi-label).
        """
        if self.multi_label:
            return self.decode_soft(feats)
        if gt_path is not None:
            return self.decode_teacher(feats, gt_path)
        record: List[Tensor] = []
        with torch.no_grad():
            self.beam_search(feats, 1, record)
        return torch.cat(record, 1)

    def targets(self, gt: Tensor) -> Tensor:
        """Per-step targets ``(B, T + 1)`` of paths ``(B, T)``: the nodes,
        END (= N) after the last one, -1 (ignored) elsewhere."""
        b, t = gt.shape
        n = self.num_nodes
        length = (gt >= 0).sum(-1)
        unknown = (gt == PATH_UNKNOWN).any(-1)
        tgt = torch.cat([gt, gt.new_full((b, 1), -1)], 1).clamp(min=-1)
        end = torch.zeros_like(tgt, dtype=torch.bool)
        end[torch.arange(b, device=gt.device), length] = True
        tgt = tgt.masked_fill(end & ~unknown[:, None], n)
        if not self.allow_inner_stop:
            last = gt.gather(1, (length - 1).clamp(min=0)[:, None])[:, 0]
            inner = ~self.tree.tensor('is_leaf', gt.device)[last] & ~unknown
            if inner.any():
                i = int(torch.nonzero(inner)[0])
                raise ValueError(
                    f'gt_path of data sample {i} ends at inner node '
                    f'{self.tree.names[int(last[i])]!r}, but '
                    'allow_inner_stop=False')
        return tgt

    def loss(self, feats: Tuple[Tensor, ...], data_samples: List[DataSample],
             **kwargs) -> Dict[str, Tensor]:
        """Weighted per-step CE over nodes and END (teacher forcing), or
        the multi-label BCE."""
        device = feats[-1].device
        gt = self.get_gt_paths(data_samples, device)
        if self.multi_label:
            logits = self.decode_soft(feats,
                                      paths_to_multihot(gt, self.num_nodes))
            mask = self.tree.level_mask(device) if self.mask_levels else None
            loss = self.multilabel_bce_loss(logits[..., :self.num_nodes], gt,
                                            mask)
            return dict(loss=loss)
        logits = self.decode_teacher(feats, gt[:, 0])
        if self.mask_levels:
            logits = logits.masked_fill(~self.step_mask(device), float('-inf'))
        return dict(loss=self.weighted_ce_loss(logits, self.targets(gt[:, 0])))

    def predict(
        self,
        feats: Tuple[Tensor, ...],
        data_samples: Optional[List[Optional[DataSample]]] = None
    ) -> List[DataSample]:
        """Beam-searched paths (single-label) or thresholded paths
        (multi-label)."""
        n = self.num_nodes
        depths = self.tree.tensor('depths', feats[-1].device)
        if self.multi_label:
            logits = self.decode_soft(feats)[..., :n]
            node_scores = logits.sigmoid().gather(
                1, (depths - 1)[None, None].expand(logits.size(0), 1, -1))
            return self.pack_multi_label(node_scores[:, 0], data_samples)
        beams = self.beam_search(feats, self.effective_beam_size())
        # Node scores at their own step along the best path's prefixes.
        probs = self.log_probs(self.decode_teacher(feats,
                                                   beams.paths[:, 0])).exp()
        node_scores = probs[:, :-1, :n].gather(1,
                                               (depths - 1)[None, None].expand(
                                                   probs.size(0), 1, -1))[:, 0]
        return self.pack_single_label(beams, node_scores, data_samples)
