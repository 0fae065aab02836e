# Copyright (c) mmhier contributors. All rights reserved.
"""The CNN-RNN generator of Guo et al. (section 3.2)."""
from typing import Any, Dict, List, Optional, Sequence, Tuple, Union

import torch
from mmpretrain.registry import MODELS
from mmpretrain.structures import DataSample
from torch import Tensor, nn

from mmhier.structures import PATH_UNKNOWN, ClassTree
from .base_cnn_generator_head import SEQ_REDUCE, pooled_feature
from .base_hier_head import BaseHierHead, ends_at_inner
from .guo_lstm_cell import GuoLSTMCell, LSTMState  # noqa: F401
from .guo_rnn_decoding import GuoRNNDecodingMixin


@MODELS.register_module()
class GuoRNNHead(GuoRNNDecodingMixin, BaseHierHead):
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
