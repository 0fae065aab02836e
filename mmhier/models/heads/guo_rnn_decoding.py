# Copyright (c) mmhier contributors. All rights reserved.
"""The decoding loops of Guo et al.'s CNN-RNN generator: teacher forcing,
the paper's greedy decoding and our tree-constrained beam search."""
from typing import Optional, Tuple

import torch
from torch import Tensor

from mmhier.structures import PATH_END
from ..utils import BeamSearchResult, tree_beam_search


class GuoRNNDecodingMixin:
    """The decoding loops of :class:`GuoRNNHead`.

    Expects the modules and attributes :class:`GuoRNNHead` sets (``cell``,
    ``embed``, ``drop``, ``fc``, ``num_steps``, ``end_token``, ...) and
    its :meth:`~GuoRNNHead.get_v` and :meth:`~GuoRNNHead.can_stop`.
    """

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


__all__ = ['GuoRNNDecodingMixin']
