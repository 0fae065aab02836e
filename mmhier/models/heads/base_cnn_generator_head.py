# Copyright (c) mmhier contributors. All rights reserved.
"""The "CNN-based generator" baselines of Guo et al. (section 3.1)."""
from typing import Any, Dict, List, Optional, Sequence, Tuple, Union

import torch
from mmpretrain.structures import DataSample
from torch import Tensor, nn

from mmhier.structures import PATH_END, PATH_UNKNOWN
from ..utils import BeamSearchResult, tree_beam_search
from .base_hier_head import BaseHierHead

SEQ_REDUCE = ('last', 'mean')


def pooled_feature(feats: Union[Tensor, Sequence[Tensor]],
                   in_channels: int,
                   seq_reduce: str = 'last',
                   owner: str = 'head') -> Tensor:
    """The image feature vector ``v`` ``(B, D)`` of a head.

    Guo et al.'s heads read the CNN's top feature vector: mmpretrain's
    ``GlobalAveragePooling`` neck output, ``feats[-1]`` of shape ``(B, D)``.
    A DHNN conversion neck gives ``(B, T, p)`` instead; it is reduced over
    its steps by ``seq_reduce``: ``'last'`` (the deepest stage group) or
    ``'mean'``.

    Args:
        feats: The neck's tuple (or one tensor).
        in_channels: Expected D (or p).
        seq_reduce: ``'last'`` or ``'mean'``.
        owner: Name used in error messages.

    Returns:
        ``(B, D)``.
    """
    v = feats[-1] if isinstance(feats, (tuple, list)) else feats
    if not isinstance(v, Tensor) or v.dim() not in (2, 3):
        shape = tuple(v.shape) if isinstance(v, Tensor) else type(v)
        raise ValueError(
            f'{owner} expects feats[-1] of shape (B, D) (a '
            'GlobalAveragePooling neck) or (B, T, p) (a conversion neck), '
            f'got {shape}')
    if v.dim() == 3:
        v = v[:, -1] if seq_reduce == 'last' else v.mean(1)
    if v.size(-1) != in_channels:
        raise ValueError(f'{owner}: feats[-1] has {v.size(-1)} features, but '
                         f'in_channels={in_channels}')
    return v


class BaseCNNGeneratorHead(BaseHierHead):
    """One linear classifier per level on the CNN feature (Guo et al. 3.1).

    Guo et al. replace the CNN's last layer by one classifier per level
    (coarse and fine), trained jointly by the sum of the levels' softmax
    losses (their eq. (1)). The classifiers are arranged in parallel
    (Strategy 3, "fine-and-coarse", :class:`HierMultiLevelHead`) or in
    series, each layer reading the previous layer's output
    (:class:`HierCoarseToFineHead`, :class:`HierFineToCoarseHead`). This
    base generalises them from 2 levels to the T levels of a tree: level t
    has a classifier over the nodes of depth ``t + 1`` and the loss is
    ``sum_t w_t * CE(y_t, softmax(z_t))`` averaged over the batch (eq. (1)
    with weights, all 1 by default).

    Variable-depth trees (an extension: the paper says a CNN-based generator
    cannot handle them): every level after the first gets one more class,
    "none" (the path stopped above this level), which plays the part of the
    END token.

    Predictions (``decoder``):

    - ``'independent'`` (the paper): every level takes its own argmax; the
      path is cut at the first "none". The levels are not tied to each
      other, so a path may be inconsistent (a fine node that is not a child
      of the coarse one); ``HierAccuracy``'s invalid-path rate shows how
      often. One path per image (``pred_beam_paths`` ``(1, T)``).
    - ``'tree'`` (our addition): tree-constrained beam search on the same
      per-level log-probs (a path scores the sum of its levels' log-probs,
      plus "none" after its last node on a variable-depth tree).

    ``forward`` returns ``(B, T, N)`` logits (``(B, T, N + 1)`` with the
    "none" column N on a variable-depth tree): level t's scores sit in the
    columns of its nodes, every other column is ``-inf``.

    Ground truth: the first path of ``gt_path``; ``PATH_UNKNOWN`` levels
    (coarse-only data) are left out of the loss, ``PATH_END`` levels are the
    "none" target.

    Args:
        tree: The class tree (anything :meth:`ClassTree.build` accepts).
        in_channels: D, size of the feature vector v.
        seq_reduce: How a ``(B, T, p)`` input is reduced to v
            (:func:`pooled_feature`).
        serial_input: Serial heads: what the next layer reads,
            ``'logits'`` (the previous layer's scores: the two stacked
            layers of the paper) or ``'probs'`` (their softmax).
        concat_feature: Serial heads: the next layer also reads v
            (``[v; previous]``); off in the paper's stacking.
        decoder: ``'independent'`` or ``'tree'``.
        level_weights: ``w_t``, T values; default all 1.
        beam_size: k of the ``'tree'`` decoder.
        loss_weight: Factor on the loss.
        init_cfg: mmengine init config.
    """
    #: Order in which the levels are computed; ``None``: in parallel.
    serial_order: Optional[str] = None
    DECODERS = ('independent', 'tree')

    def __init__(self,
                 tree: Any,
                 in_channels: int,
                 seq_reduce: str = 'last',
                 serial_input: str = 'logits',
                 concat_feature: bool = False,
                 decoder: str = 'independent',
                 level_weights: Optional[Sequence[float]] = None,
                 beam_size: int = 5,
                 loss_weight: float = 1.0,
                 init_cfg: Optional[Union[dict, List[dict]]] = None):
        super().__init__(
            tree,
            level_weights=level_weights,
            beam_size=beam_size,
            loss_weight=loss_weight,
            init_cfg=init_cfg)
        if not isinstance(in_channels, int) or in_channels < 1:
            raise ValueError(f'in_channels must be an int >= 1, got '
                             f'{in_channels!r}')
        if seq_reduce not in SEQ_REDUCE:
            raise ValueError(f'seq_reduce must be one of {SEQ_REDUCE}, got '
                             f'{seq_reduce!r}')
        if serial_input not in ('logits', 'probs'):
            raise ValueError("serial_input must be 'logits' or 'probs', got "
                             f'{serial_input!r}')
        if decoder not in self.DECODERS:
            raise ValueError(f'decoder must be one of {self.DECODERS}, got '
                             f'{decoder!r}')
        self.in_channels = in_channels
        self.seq_reduce = seq_reduce
        self.serial_input = serial_input
        self.concat_feature = bool(concat_feature)
        self.decoder = decoder
        self.with_none = not self.tree.is_fixed_depth
        n, t = self.num_nodes, self.max_depth
        # Column of each output of each level in the (N + 1) space.
        cols = []
        for level, nodes in enumerate(self.tree.levels):
            c = torch.as_tensor(nodes, dtype=torch.long)
            if self.with_none and level > 0:
                c = torch.cat([c, c.new_full((1, ), n)])
            cols.append(c)
        self.level_sizes = [len(c) for c in cols]
        width = max(self.level_sizes)
        level_cols = torch.full((t, width), -1, dtype=torch.long)
        for level, c in enumerate(cols):
            level_cols[level, :len(c)] = c
        self.register_buffer('_level_cols', level_cols, persistent=False)
        self.fcs = self._build_classifiers()

    # ------------------------------------------------------------------
    # the classifiers
    # ------------------------------------------------------------------
    def _order(self) -> List[int]:
        levels = list(range(self.max_depth))
        return levels[::-1] if self.serial_order == 'fine_to_coarse' \
            else levels

    def _build_classifiers(self) -> nn.ModuleList:
        """``fcs[t]`` scores level t (indexed by level, whatever the
        order)."""
        fcs: List[Optional[nn.Module]] = [None] * self.max_depth
        prev = None
        for level in self._order():
            if self.serial_order is None or prev is None:
                in_dims = self.in_channels
            else:
                in_dims = self.level_sizes[prev] + (
                    self.in_channels if self.concat_feature else 0)
            fcs[level] = nn.Linear(in_dims, self.level_sizes[level])
            prev = level
        return nn.ModuleList(fcs)

    def level_logits(self, v: Tensor) -> List[Tensor]:
        """Scores ``(B, n_t)`` of every level t (eq. (1)'s two layers,
        generalised): in parallel, ``z_t = fc_t(v)``; in series, the first
        level of the order reads v and each next one the previous output
        (``[v; previous]`` with ``concat_feature``)."""
        out: List[Optional[Tensor]] = [None] * self.max_depth
        prev = None
        for level in self._order():
            x = v
            if self.serial_order is not None and prev is not None:
                x = out[prev]
                if self.serial_input == 'probs':
                    x = x.softmax(-1)
                if self.concat_feature:
                    x = torch.cat([v, x], -1)
            out[level] = self.fcs[level](x)
            prev = level
        return out

    def get_v(self, feats: Tuple[Tensor, ...]) -> Tensor:
        """The feature vector v ``(B, D)``, see :func:`pooled_feature`."""
        return pooled_feature(feats, self.in_channels, self.seq_reduce,
                              type(self).__name__)

    def full_logits(self, feats: Tuple[Tensor, ...]) -> Tensor:
        """``(B, T, N + 1)``: level t's scores in its nodes' columns (and
        "none" in column N), ``-inf`` elsewhere."""
        v = self.get_v(feats)
        b, n = v.size(0), self.num_nodes
        out = v.new_full((b, self.max_depth, n + 1), float('-inf'))
        for level, z in enumerate(self.level_logits(v)):
            out[:, level, self._level_cols[level, :z.size(1)]] = z
        return out

    # ------------------------------------------------------------------
    # the head contract
    # ------------------------------------------------------------------
    def forward(self, feats: Tuple[Tensor, ...]) -> Tensor:
        """Logits ``(B, T, N)`` (``(B, T, N + 1)`` on a variable-depth
        tree, column N is "none")."""
        logits = self.full_logits(feats)
        return logits if self.with_none else logits[..., :-1]

    def targets(self, gt: Tensor) -> Tensor:
        """Per-level targets ``(B, T)`` of paths ``(B, T)``: the node,
        "none" (N) where the path stopped, -1 (ignored) where unknown."""
        stopped = gt == PATH_END
        tgt = gt.masked_fill(stopped, self.num_nodes)
        return tgt.masked_fill(gt == PATH_UNKNOWN, -1)

    def gt_end_errors(self, gt: Tensor) -> Optional[Tensor]:
        """On a fixed-depth tree there is no "none" class: a path may not
        stop early (coarse-only levels are ``PATH_UNKNOWN``)."""
        if self.with_none:
            return None
        return (gt == PATH_END).any(-1)

    def gt_end_message(self, sample: int, path: List[int]) -> str:
        return (f'gt_path of data sample {sample} stops early ({path}) but '
                f'the tree has a fixed depth, so {type(self).__name__} has '
                'no "none" class; mark missing levels as PATH_UNKNOWN '
                '(coarse-only)')

    def loss(self, feats: Tuple[Tensor, ...], data_samples: List[DataSample],
             **kwargs) -> Dict[str, Tensor]:
        """Eq. (1) of Guo et al.: the sum of the levels' softmax losses."""
        gt = self.get_gt_paths(data_samples, feats[-1].device)[:, 0]
        return dict(
            loss=self.weighted_ce_loss(
                self.full_logits(feats), self.targets(gt)))

    def can_stop(self, device: Union[str, torch.device] = 'cpu') -> Tensor:
        leaf = self.tree.tensor('is_leaf', device)
        return torch.ones_like(leaf) if self.with_none else leaf

    def step_log_probs(self, feats: Tuple[Tensor, ...]) -> Tensor:
        """``(B, T + 1, N + 1)``: per-level log-probs, column N the "none"
        of the level (``-inf`` where there is none), and a last step where
        only "none" (log-prob 0) is possible: the END of a full path."""
        lp = self.full_logits(feats).log_softmax(-1)
        last = lp.new_full((lp.size(0), 1, lp.size(2)), float('-inf'))
        last[..., -1] = 0.
        return torch.cat([lp, last], 1)

    def decode_independent(self, lp: Tensor) -> BeamSearchResult:
        """Every level's argmax, cut at the first "none" (one path).

        Args:
            lp: ``(B, T + 1, N + 1)`` from :meth:`step_log_probs`.
        """
        n, t = self.num_nodes, self.max_depth
        best_lp, choice = lp.max(-1)  # (B, T + 1)
        is_none = choice == n
        # the first "none" (step T always is one): where the path stops
        stop = torch.argmax(is_none.long(), dim=1)  # (B,)
        steps = torch.arange(t, device=lp.device)
        keep = steps[None] < stop[:, None]
        paths = torch.where(keep, choice[:, :t], PATH_END)
        node_lp = torch.where(keep, best_lp[:, :t], 0.)
        end_lp = best_lp.gather(1, stop[:, None])[:, 0]
        scores = node_lp.sum(-1) + end_lp
        return BeamSearchResult(paths[:, None], scores[:, None],
                                node_lp[:, None], end_lp[:, None])

    def predict(
        self,
        feats: Tuple[Tensor, ...],
        data_samples: Optional[List[Optional[DataSample]]] = None
    ) -> List[DataSample]:
        """Per-level argmax paths (``'independent'``) or tree-constrained
        beam search (``'tree'``)."""
        lp = self.step_log_probs(feats)
        if self.decoder == 'independent':
            beams = self.decode_independent(lp)
        else:
            b = lp.size(0)

            def step(t: int, last: Tensor, state: None):
                return lp[:, t, None].expand(-1, last.size(1), -1), None

            beams = tree_beam_search(
                step,
                self.tree,
                b,
                self.effective_beam_size(),
                can_stop=self.can_stop(lp.device),
                end_token=True,
                device=lp.device,
                stop_depths=self.stop_depths())
        depths = self.tree.tensor('depths', lp.device)
        n = self.num_nodes
        node_scores = lp[:, depths - 1, torch.arange(n, device=lp.device)]
        return self.pack_single_label(beams, node_scores.exp(), data_samples)


__all__ = ['BaseCNNGeneratorHead', 'pooled_feature']
