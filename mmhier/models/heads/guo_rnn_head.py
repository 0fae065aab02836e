# Copyright (c) mmhier contributors. All rights reserved.
"""The CNN-RNN generator of Guo et al. (section 3.2)."""
from typing import Any, Dict, List, Optional, Sequence, Tuple, Union

import torch
from mmpretrain.registry import MODELS
from mmpretrain.structures import DataSample
from torch import Tensor, nn

from mmhier.structures import PATH_END, PATH_UNKNOWN, ClassTree
from ..utils import BeamSearchResult, tree_beam_search
from .base_cnn_generator_head import SEQ_REDUCE, pooled_feature
from .base_hier_head import BaseHierHead, ends_at_inner

LSTMState = Tuple[Tensor, Tensor]


class GuoLSTMCell(nn.Module):
    """LSTM cell whose gates also read the image feature v (eqs. (2)-(7)).

    .. math::
        i_t &= \\sigma(W_{xi} x_t + W_{hi} h_{t-1} + W_{vi} v + b_i) \\\\
        f_t &= \\sigma(W_{xf} x_t + W_{hf} h_{t-1} + W_{vf} v + b_f) \\\\
        o_t &= \\sigma(W_{xo} x_t + W_{ho} h_{t-1} + W_{vo} v + b_o) \\\\
        g_t &= \\tanh(W_{xc} x_t + W_{hc} h_{t-1} + W_{vc} v + b_c) \\\\
        c_t &= f_t \\odot c_{t-1} + i_t \\odot g_t, \\quad
        h_t = o_t \\odot \\tanh(c_t)

    The four gates are stacked (order i, f, o, g) in ``x2g`` (W_x and b),
    ``h2g`` (W_h) and ``v2g`` (W_v). ``W_v v`` does not change over the
    steps, so callers compute it once (:meth:`visual_gates`) and pass it to
    every step. Initialisation as the DHNN heads' RNNs: Xavier input
    weights, orthogonal recurrent blocks, zero biases but 1 for the forget
    gate.

    Args:
        input_size: Size of x_t (the label embedding).
        hidden_size: Size of h and c.
        visual_size: Size of v.
    """

    def __init__(self, input_size: int, hidden_size: int, visual_size: int):
        super().__init__()
        for name, value in (('input_size', input_size),
                            ('hidden_size', hidden_size), ('visual_size',
                                                           visual_size)):
            if not isinstance(value, int) or value < 1:
                raise ValueError(f'{name} must be an int >= 1, got '
                                 f'{value!r}')
        self.hidden_size = hidden_size
        self.x2g = nn.Linear(input_size, 4 * hidden_size)
        self.h2g = nn.Linear(hidden_size, 4 * hidden_size, bias=False)
        self.v2g = nn.Linear(visual_size, 4 * hidden_size, bias=False)
        self.reset_parameters()

    @torch.no_grad()
    def reset_parameters(self) -> None:
        """Xavier W_x, W_v; orthogonal W_h per gate; forget bias 1."""
        h = self.hidden_size
        nn.init.xavier_uniform_(self.x2g.weight)
        nn.init.xavier_uniform_(self.v2g.weight)
        for gate in self.h2g.weight.split(h, dim=0):
            nn.init.orthogonal_(gate)
        self.x2g.bias.zero_()
        self.x2g.bias[h:2 * h] = 1.

    def visual_gates(self, v: Tensor) -> Tensor:
        """``W_v v`` ``(B, 4h)`` for all four gates."""
        return self.v2g(v)

    def input_gates(self, x: Tensor, v_gates: Tensor) -> Tensor:
        """``W_x x + W_v v + b``: the part of the gates that does not depend
        on h. ``x`` is ``(B, ..., E)``, ``v_gates`` ``(B, 4h)``; the
        middle dims (e.g. steps) broadcast."""
        v_gates = v_gates.view(v_gates.shape[:1] + (1, ) * (x.dim() - 2) +
                               v_gates.shape[1:])
        return self.x2g(x) + v_gates

    def recur(self, pre_gates: Tensor,
              state: Optional[LSTMState]) -> LSTMState:
        """One step from the precomputed input part of the gates.

        Args:
            pre_gates: ``(M, 4h)`` from :meth:`input_gates`.
            state: ``(h, c)`` each ``(M, h)``, or ``None`` for zeros.

        Returns:
            The new ``(h, c)``.
        """
        if state is None:
            gates = pre_gates
            c_prev = pre_gates.new_zeros(pre_gates.size(0), self.hidden_size)
        else:
            h_prev, c_prev = state
            gates = pre_gates + self.h2g(h_prev)
        i, f, o, g = gates.chunk(4, dim=-1)
        i, f, o, g = i.sigmoid(), f.sigmoid(), o.sigmoid(), g.tanh()
        c = f * c_prev + i * g  # eq. (6)
        return o * c.tanh(), c  # eq. (7)

    def forward(self,
                x: Tensor,
                v_gates: Tensor,
                state: Optional[LSTMState] = None) -> LSTMState:
        """One step: ``x`` ``(M, E)``, ``v_gates`` ``(M, 4h)``."""
        return self.recur(self.input_gates(x, v_gates), state)


@MODELS.register_module()
class GuoRNNHead(BaseHierHead):
    """The CNN-RNN generator of Guo et al. (section 3.2): an LSTM emits the
    labels coarse to fine.

    Step t reads the embedding x_t of the label of the previous level (a
    learned START embedding at the first step) and the CNN's feature vector
    v enters every gate (:class:`GuoLSTMCell`, eqs. (2)-(7)); its output is
    scored over one output space shared by all levels, the paper's C + F
    "super categories", which on a tree of any depth are the N non-root
    nodes: ``p_t = softmax(fc(h_t))``. The loss is eq. (8),
    ``sum_t w_t * CE(y_t, p_t)`` averaged over the batch (all ``w_t = 1``
    by default, as in the paper). Training feeds the ground-truth label of
    the previous level (teacher forcing).

    Variable-length hierarchies (ImageNet, section 4.1.2): with
    ``end_token`` (on by default when the tree has leaves at different
    depths) the output space gets an END column N and the head runs
    ``T + 1`` steps, as :class:`HierS2SHead`: a path of length L has END as
    target at step L. END is only allowed where the path may stop (after a
    leaf, or any node when ``allow_inner_stop``).

    Inference (``decoder``):

    - ``'greedy'`` (the paper): at each step the most likely of all N (and
      END) outputs is taken and fed to the next step. Nothing ties it to
      the tree: the path may be invalid (a fine label that is not a child of
      the coarse one), which ``HierAccuracy``'s invalid-path rate shows. One
      path per image (``pred_beam_paths`` ``(1, T)``).
    - ``'beam'`` (our addition, not in the paper): tree-constrained beam
      search (DHNN slides, Algorithm 1): each hypothesis is extended only by
      children of its last node, the cell running on all ``B * k``
      hypotheses at once; ``beam_size=1`` is a tree-constrained greedy.

    Coarse-only training data (section 4.2): steps whose ground truth is
    ``PATH_UNKNOWN`` are left out of the loss, and since the LSTM is causal
    nothing after the known part influences the known steps' loss.

    ``coarse_given`` (Table 6's "CNN-RNN*"; also how the round-one model
    pseudo-labels the coarse-only data between the two rounds of section
    4.2, see ``tools/pseudo_label.py``): ``predict`` reads
    ``gt_path`` from the data samples and feeds the known coarse part
    instead of predicting it: every known node of a coarse-only path, the
    ancestors of the last node of a complete path. Only the rest is
    predicted.

    Input: ``feats[-1]`` is v, ``(B, D)`` from mmpretrain's
    ``GlobalAveragePooling`` neck; a DHNN conversion neck's ``(B, T, p)`` is
    reduced by ``seq_reduce`` (its last step or the mean).

    Args:
        tree: The class tree (anything :meth:`ClassTree.build` accepts).
        in_channels: D, size of v.
        hidden_size: Size of the LSTM memory (1000 in the paper's ImageNet
            experiment).
        embed_dims: Size of the label embeddings; defaults to
            ``hidden_size`` (the paper uses equal sizes).
        dropout: Dropout on h_t before the classifier (not in the paper).
        end_token: Emit END (T + 1 steps). ``None``: when the tree is not of
            fixed depth. Must be on for a variable-depth tree.
        allow_inner_stop: With END: paths may end at inner nodes.
        decoder: ``'greedy'`` or ``'beam'``.
        seq_reduce: ``'last'`` or ``'mean'`` for a ``(B, T, p)`` input.
        coarse_given: Feed the known coarse part of ``gt_path`` in
            ``predict``.
        level_weights: ``w_t``: one per step (T, or T + 1 with END; T
            values then reuse the last for the END step).
        beam_size: k of the ``'beam'`` decoder.
        loss_weight: Factor on the loss.
        init_cfg: mmengine init config. The cell is initialised at
            construction.

    Examples:
        >>> head = MODELS.build(dict(
        ...     type='GuoRNNHead', in_channels=16, hidden_size=32,
        ...     tree={'A': ['C', 'D'], 'B': ['E', 'F', 'G']}))
        >>> head((torch.rand(4, 16), )).shape   # greedy decoding
        torch.Size([4, 2, 7])
    """
    DECODERS = ('greedy', 'beam')

    def __init__(self,
                 tree: Any,
                 in_channels: int,
                 hidden_size: int = 512,
                 embed_dims: Optional[int] = None,
                 dropout: float = 0.,
                 end_token: Optional[bool] = None,
                 allow_inner_stop: bool = True,
                 decoder: str = 'greedy',
                 seq_reduce: str = 'last',
                 coarse_given: bool = False,
                 level_weights: Optional[Sequence[float]] = None,
                 beam_size: int = 5,
                 loss_weight: float = 1.0,
                 init_cfg: Optional[Union[dict, List[dict]]] = None):
        tree = ClassTree.build(tree)
        fixed = tree.is_fixed_depth
        if end_token is None:
            end_token = not fixed
        if not end_token and not fixed:
            raise ValueError(
                'end_token=False needs a tree whose leaves all have the '
                'same depth; this tree has leaves at different depths, so '
                'the head must learn where a path ends (end_token=True)')
        super().__init__(
            tree,
            end_step=bool(end_token),
            level_weights=level_weights,
            beam_size=beam_size,
            loss_weight=loss_weight,
            init_cfg=init_cfg)
        if not isinstance(in_channels, int) or in_channels < 1:
            raise ValueError(f'in_channels must be an int >= 1, got '
                             f'{in_channels!r}')
        if decoder not in self.DECODERS:
            raise ValueError(f'decoder must be one of {self.DECODERS}, got '
                             f'{decoder!r}')
        if seq_reduce not in SEQ_REDUCE:
            raise ValueError(f'seq_reduce must be one of {SEQ_REDUCE}, got '
                             f'{seq_reduce!r}')
        self.in_channels = in_channels
        self.end_token = bool(end_token)
        self.allow_inner_stop = bool(allow_inner_stop)
        self.decoder = decoder
        self.seq_reduce = seq_reduce
        self.coarse_given = bool(coarse_given)
        self.num_steps = self.max_depth + int(self.end_token)
        embed_dims = embed_dims or hidden_size
        self.cell = GuoLSTMCell(embed_dims, hidden_size, in_channels)
        # Rows 0..N-1: the labels; row N: START.
        self.embed = nn.Embedding(self.num_nodes + 1, embed_dims)
        self.drop = nn.Dropout(dropout) if dropout > 0 else nn.Identity()
        self.fc = nn.Linear(hidden_size, self.num_nodes + int(self.end_token))

    # ------------------------------------------------------------------
    # building blocks
    # ------------------------------------------------------------------
    @property
    def num_outputs(self) -> int:
        """N, or N + 1 with the END column."""
        return self.num_nodes + int(self.end_token)

    def can_stop(self, device: Union[str, torch.device] = 'cpu') -> Tensor:
        leaf = self.tree.tensor('is_leaf', device)
        if self.end_token and self.allow_inner_stop:
            return torch.ones_like(leaf)
        return leaf

    def get_v(self, feats: Tuple[Tensor, ...]) -> Tensor:
        """v ``(B, D)``, see :func:`pooled_feature`."""
        return pooled_feature(feats, self.in_channels, self.seq_reduce,
                              type(self).__name__)

    def _embed_prev(self, prev: Tensor) -> Tensor:
        """Embeddings of previous labels; negatives (padding) read START
        (their steps are never scored)."""
        return self.embed(prev.masked_fill(prev < 0, self.num_nodes))

    def decode_teacher(self, feats: Tuple[Tensor, ...],
                       paths: Tensor) -> Tensor:
        """Teacher-forced logits ``(B, S, C)`` of paths ``(B, T)``
        (S = T, or T + 1 with END; C = N, or N + 1): step t reads the
        label of step ``t - 1``."""
        v = self.get_v(feats)
        b = v.size(0)
        start = paths.new_full((b, 1), self.num_nodes)
        prev = torch.cat([start, paths], 1)[:, :self.num_steps]
        pre = self.cell.input_gates(
            self._embed_prev(prev), self.cell.visual_gates(v))
        state, outs = None, []
        for t in range(self.num_steps):
            state = self.cell.recur(pre[:, t], state)
            outs.append(state[0])
        return self.fc(self.drop(torch.stack(outs, 1)))

    def known_prefix(self, data_samples: Optional[Sequence[DataSample]],
                     device: Union[str, torch.device]) -> Tensor:
        """The coarse part fed with ``coarse_given``: ``(B, T)`` long, the
        known nodes of a coarse-only path (all but the last node of a
        complete one), -1 elsewhere."""
        if not data_samples or any(s is None for s in data_samples):
            raise ValueError('coarse_given=True needs data samples with '
                             'gt_path in predict')
        gt = self.get_gt_paths(data_samples, device)[:, 0]
        known = gt >= 0
        complete = ~(gt == PATH_UNKNOWN).any(-1)
        length = known.sum(-1)
        steps = torch.arange(gt.size(1), device=device)
        drop_last = complete[:, None] & (steps[None] == length[:, None] - 1)
        return gt.masked_fill(~known | drop_last, -1)

    def _force(self, log_probs: Tensor, prefix: Optional[Tensor],
               t: int) -> Tensor:
        """Keep only the known node at step t where ``prefix`` has one.

        Args:
            log_probs: ``(B, K, C)``.
            prefix: ``(B, T)`` or ``None``.
        """
        if prefix is None or t >= self.max_depth:
            return log_probs
        node = prefix[:, t]
        forced = node >= 0
        # a mask, not boolean indexing: no host sync
        cols = torch.arange(log_probs.size(-1), device=log_probs.device)
        allowed = (cols[None] == node[:, None]) | ~forced[:, None]
        return log_probs.masked_fill(~allowed[:, None], float('-inf'))

    def decode_greedy(self,
                      feats: Tuple[Tensor, ...],
                      prefix: Optional[Tensor] = None) -> BeamSearchResult:
        """The paper's greedy decoding over all outputs (one path).

        END is not allowed at the first step and is the only choice after
        a full-depth path. With ``prefix`` (``(B, T)``, -1 = free) the known
        nodes are fed instead of the argmax.

        Args:
            feats: The neck's tuple.
            prefix: Forced nodes, or ``None``.

        Returns:
            BeamSearchResult with ``k = 1``.
        """
        v = self.get_v(feats)
        v_gates = self.cell.visual_gates(v)
        b, n, t_max = v.size(0), self.num_nodes, self.max_depth
        device = v.device
        prev = torch.full((b, ), n, dtype=torch.long, device=device)
        paths = torch.full((b, t_max),
                           PATH_END,
                           dtype=torch.long,
                           device=device)
        node_lp = v.new_zeros(b, t_max)
        end_lp = v.new_zeros(b)
        done = torch.zeros(b, dtype=torch.bool, device=device)
        state = None
        end_col = torch.arange(self.num_outputs, device=device) == n
        # prev = N is the root (START), which never ends a path
        can_stop = torch.cat([
            self.can_stop(device),
            torch.zeros(1, dtype=torch.bool, device=device)
        ])
        for t in range(self.num_steps):
            state = self.cell(self.embed(prev), v_gates, state)
            logits = self.fc(self.drop(state[0]))
            lp = logits.log_softmax(-1)
            pick = self._force(lp[:, None], prefix, t)[:, 0]
            if t == t_max:  # after a full-depth path only END is left
                choice = torch.full_like(prev, n)
            elif self.end_token:
                # END only where the last node may stop (never at t = 0)
                pick = pick.masked_fill(
                    (~can_stop[prev])[:, None] & end_col[None], float('-inf'))
                choice = pick.argmax(-1)
            else:
                choice = pick.argmax(-1)
            chosen_lp = lp.gather(1, choice[:, None])[:, 0]
            is_end = choice == n if self.end_token else torch.zeros_like(done)
            if t < t_max:
                emit = ~done & ~is_end
                paths[:, t] = torch.where(emit, choice, PATH_END)
                node_lp[:, t] = torch.where(emit, chosen_lp, 0.)
            end_lp = torch.where(~done & is_end, chosen_lp, end_lp)
            done = done | is_end
            prev = choice.masked_fill(is_end, n)
            # no early exit when all are done: reading that back would
            # sync; the steps after it change nothing
        scores = node_lp.sum(-1) + end_lp
        return BeamSearchResult(paths[:, None], scores[:, None],
                                node_lp[:, None], end_lp[:, None])

    def beam_search(self,
                    feats: Tuple[Tensor, ...],
                    beam_size: int,
                    prefix: Optional[Tensor] = None) -> BeamSearchResult:
        """Tree-constrained beam search through the cell (our addition).

        Args:
            feats: The neck's tuple.
            beam_size: k.
            prefix: Forced nodes ``(B, T)`` (-1 = free), or ``None``.
        """
        v = self.get_v(feats)
        v_gates = self.cell.visual_gates(v)
        b = v.size(0)

        def step(t: int, last: Tensor, state):
            k = last.size(1)
            vg = v_gates.repeat_interleave(k, dim=0) if k > 1 else v_gates
            state = self.cell(self.embed(last.reshape(-1)), vg, state)
            logits = self.fc(self.drop(state[0])).view(b, k, -1)
            lp = self._force(logits.log_softmax(-1), prefix, t)
            return lp, state

        return tree_beam_search(
            step,
            self.tree,
            b,
            beam_size,
            can_stop=self.can_stop(v.device),
            end_token=self.end_token,
            device=v.device,
            stop_depths=self.stop_depths())

    # ------------------------------------------------------------------
    # the head contract
    # ------------------------------------------------------------------
    def forward(self,
                feats: Tuple[Tensor, ...],
                gt_path: Optional[Tensor] = None) -> Tensor:
        """Logits ``(B, S, C)``: teacher-forced with ``gt_path`` ``(B, T)``,
        else along the paper's greedy decoding (S = T, C = N; with END
        S = T + 1, C = N + 1, and the steps after a greedy path ended read
        START)."""
        if gt_path is not None:
            return self.decode_teacher(feats, gt_path)
        with torch.no_grad():
            path = self.decode_greedy(feats).paths[:, 0]
        # Teacher forcing the greedy path gives the greedy steps' logits
        # (same inputs), over all S steps even where the loop stopped early.
        return self.decode_teacher(feats, path)

    def targets(self, gt: Tensor) -> Tensor:
        """Per-step targets ``(B, S)`` of paths ``(B, T)``: the nodes, END
        (= N) after the last one, -1 (ignored) for ``PATH_UNKNOWN`` steps
        and everything after them."""
        if not self.end_token:
            return gt.clamp(min=-1)
        b = gt.size(0)
        n = self.num_nodes
        length = (gt >= 0).sum(-1)
        unknown = (gt == PATH_UNKNOWN).any(-1)
        tgt = torch.cat([gt, gt.new_full((b, 1), -1)], 1).clamp(min=-1)
        steps = torch.arange(gt.size(1) + 1, device=gt.device)
        end = (steps == length[:, None]) & ~unknown[:, None]
        return tgt.masked_fill(end, n)

    def gt_end_errors(self, gt: Tensor) -> Optional[Tensor]:
        """With END and ``allow_inner_stop=False``, complete paths must end
        at a leaf."""
        if not self.end_token or self.allow_inner_stop:
            return None
        return ends_at_inner(gt, self.tree.tensor('is_leaf', gt.device))

    def gt_end_message(self, sample: int, path: List[int]) -> str:
        return self.inner_end_message(sample, path)

    def loss(self, feats: Tuple[Tensor, ...], data_samples: List[DataSample],
             **kwargs) -> Dict[str, Tensor]:
        """Eq. (8) with teacher forcing; unknown levels are masked."""
        gt = self.get_gt_paths(data_samples, feats[-1].device)[:, 0]
        logits = self.decode_teacher(feats, gt)
        return dict(loss=self.weighted_ce_loss(logits, self.targets(gt)))

    def predict(
        self,
        feats: Tuple[Tensor, ...],
        data_samples: Optional[List[Optional[DataSample]]] = None
    ) -> List[DataSample]:
        """Greedy (the paper) or tree-constrained beam-searched paths."""
        device = feats[-1].device
        prefix = self.known_prefix(data_samples, device) \
            if self.coarse_given else None
        if self.decoder == 'greedy':
            beams = self.decode_greedy(feats, prefix)
        else:
            beams = self.beam_search(feats, self.effective_beam_size(), prefix)
        # Probability of every node at its own step, along the best path.
        probs = self.decode_teacher(feats, beams.paths[:, 0]).softmax(-1)
        depths = self.tree.tensor('depths', device)
        n = self.num_nodes
        node_scores = probs[:, depths - 1, torch.arange(n, device=device)]
        return self.pack_single_label(beams, node_scores, data_samples)


__all__ = ['GuoRNNHead', 'GuoLSTMCell']
