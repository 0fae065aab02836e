# Copyright (c) mmhier contributors. All rights reserved.
"""The encoder-decoder passes of the CNN-S2S head (DHNN section 3.2)."""
from typing import Any, List, Optional, Tuple, Union

import torch
from torch import Tensor

from ..utils import BeamSearchResult, merge_directions, tree_beam_search


class HierS2SDecoderMixin:
    """The decoder loops of :class:`HierS2SHead`: teacher-forced, free
    running (the paper's), scheduled sampling, the multi-label soft pass,
    path scoring and the tree-constrained beam search.

    Expects the modules and attributes :class:`HierS2SHead` sets
    (``encoder``, ``decoder``, ``embed``, ``feedback``, ``fc``, ``z``,
    ``_step_mask``, ``residual``, ``mask_levels``, ``decoder_input``,
    ``scheduled_sampling``, ...) and its :meth:`~HierS2SHead.targets` and
    :meth:`~HierS2SHead.can_stop`.
    """

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

    def masked(self, logits: Tensor, first_step: int = 0) -> Tensor:
        """Logits of steps ``first_step..``, ``-inf`` outside each step's
        level and END when ``mask_levels``."""
        if not self.mask_levels:
            return logits
        s = logits.size(-2)
        mask = self.step_mask(logits.device)[first_step:first_step + s]
        return logits.masked_fill(~mask, float('-inf'))

    def log_probs(self, logits: Tensor, first_step: int = 0) -> Tensor:
        """Log-softmax over the N + 1 outputs of steps ``first_step..``."""
        return self.masked(logits, first_step).log_softmax(-1)

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

    def decode_teacher_last(self, encoded: Tuple[Tensor, Any],
                            last: Tensor) -> Tensor:
        """:meth:`decode_teacher` of the paths to nodes ``last`` ``(B,)``
        (``N``: the empty path) from an :meth:`encode` result: one lookup
        builds the decoder's inputs."""
        u, state = encoded
        prev = self.tree.tensor('teacher_inputs', u.device)[last]
        out, _ = self.decoder(self.embed(prev), state)
        return self.output(out, u, 0)

    def decode_free(self, feats: Tuple[Tensor, ...]) -> Tensor:
        """The paper's free-running decoder, logits ``(B, T + 1, N + 1)``.

        ``x_1`` is the start embedding, ``x_t = W_in softmax(o-bar_{t-1})``
        (restricted to the step's level and END when ``mask_levels``).
        """
        u, state = self.encode(feats)
        x = self.embed.weight[self.num_nodes].expand(u.size(0), 1, -1)
        outs = []
        for t in range(self.max_depth + 1):
            out, state = self.decoder(x, state)
            logits = self.output(out, u, t)  # (B, 1, N + 1)
            outs.append(logits)
            if t < self.max_depth:  # the last step feeds nothing
                x = self.feedback(self.masked(logits, t).softmax(-1))
        return torch.cat(outs, 1)

    def decode_sampled(self, feats: Tuple[Tensor, ...],
                       paths: Tensor) -> Tensor:
        """Scheduled sampling, logits ``(B, T + 1, N + 1)`` of paths
        ``(B, T)``: step t is fed the ground-truth node of step ``t - 1``,
        or with probability ``scheduled_sampling`` the best child (by the
        step's output) of the node fed at step ``t - 1``."""
        u, state = self.encode(feats)
        b, n = u.size(0), self.num_nodes
        children = self.tree.child_mask(u.device)  # (N + 1, N)
        prev = paths.new_full((b, ), n)
        outs = []
        for t in range(self.max_depth + 1):
            out, state = self.decoder(self.embed(prev)[:, None], state)
            logits = self.output(out, u, t)
            outs.append(logits)
            if t == self.max_depth:
                break
            own = logits[:,
                         0, :n].detach().masked_fill(~children[prev],
                                                     float('-inf')).argmax(-1)
            teacher = paths[:, t].masked_fill(paths[:, t] < 0, n)
            use_own = torch.rand(b, device=u.device) < self.scheduled_sampling
            # a sample whose path has ended keeps reading the start token
            prev = torch.where(use_own & (teacher < n), own, teacher)
        return torch.cat(outs, 1)

    def train_logits(self, feats: Tuple[Tensor, ...], paths: Tensor) -> Tensor:
        """Logits ``(B, T + 1, N + 1)`` the single-label loss reads, by
        ``decoder_input`` and ``scheduled_sampling``."""
        if self.decoder_input == 'softmax':
            return self.decode_free(feats)
        if self.scheduled_sampling > 0 and self.training:
            return self.decode_sampled(feats, paths)
        return self.decode_teacher(feats, paths)

    def path_log_probs(self, feats: Tuple[Tensor, ...],
                       paths: Tensor) -> Tensor:
        """Log-probability ``(B, K)`` of given paths ``(B, K, T)``: the sum
        of their nodes' and their END's log-probs.

        With ``decoder_input='embedding'`` each path is teacher-forced
        (``B * K`` decoder passes at once); with ``'softmax'`` one free run
        scores them all.
        """
        b, k, t = paths.shape
        flat = paths.reshape(b * k, t)
        if self.decoder_input == 'softmax':
            logp = self.log_probs(self.decode_free(feats))
            logp = logp.repeat_interleave(k, 0)
        else:
            u, state = self.encode(feats)
            u = u.repeat_interleave(k, 0)
            state = tuple(s.repeat_interleave(k, 1) for s in state) \
                if isinstance(state, tuple) else state.repeat_interleave(k, 1)
            start = flat.new_full((b * k, 1), self.num_nodes)
            prev = torch.cat([start, flat], 1)
            prev = prev.masked_fill(prev < 0, self.num_nodes)
            out, _ = self.decoder(self.embed(prev), state)
            logp = self.log_probs(self.output(out, u, 0))
        tgt = self.targets(flat)  # nodes, END, -1 elsewhere
        picked = logp.gather(-1, tgt.clamp(min=0)[..., None])[..., 0]
        return picked.masked_fill(tgt < 0, 0.).sum(-1).view(b, k)

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
            if t + 1 == self.max_depth:  # the last step feeds nothing
                break
            p = logits[..., :n].sigmoid()
            if self.mask_levels:
                p = p * mask[t]
            x = p @ self.embed.weight[:n] / p.sum(
                -1, keepdim=True).clamp(min=1)
        return torch.cat(outs, 1)

    def static_beam_search(self, log_probs: Tensor,
                           beam_size: int) -> BeamSearchResult:
        """Tree beam search on log-probs ``(B, T + 1, N + 1)`` that do not
        depend on the nodes chosen (the free-running decoder)."""
        return tree_beam_search(
            lambda t, last, state: (log_probs[:, t:t + 1], state),
            self.tree,
            log_probs.size(0),
            beam_size,
            can_stop=self.can_stop(log_probs.device),
            end_token=True,
            device=log_probs.device,
            stop_depths=self.stop_depths(),
            static_scores=log_probs)

    def beam_search(self,
                    feats: Tuple[Tensor, ...],
                    beam_size: int,
                    record: Optional[List[Tensor]] = None,
                    encoded: Optional[Tuple[Tensor, Any]] = None,
                    track_nodes: bool = True):
        """Tree-constrained beam search through the decoder.

        Args:
            feats: The neck's tuple.
            beam_size: k.
            record: If a list, the logits ``(B, K, N + 1)`` of every step are
                appended to it (with ``decoder_input='softmax'``, once, the
                ``(B, T + 1, N + 1)`` logits of the free run).
            encoded: :meth:`encode` of ``feats`` when already made.
            track_nodes: With ``decoder_input='embedding'``, False leaves
                the result's ``node_scores`` and ``end_scores`` out (None)
                instead of carrying them through the search (``predict``
                rescores the best path with one teacher-forced pass).

        Returns:
            BeamSearchResult.
        """
        if self.decoder_input == 'softmax' and not self.multi_label:
            logits = self.decode_free(feats)
            if record is not None:
                record.append(logits)
            return self.static_beam_search(self.log_probs(logits), beam_size)
        u, state = self.encode(feats) if encoded is None else encoded
        b = u.size(0)

        def step(t: int, last: Tensor, st):
            # st: (J, B * K, H), reordered along dim 1 by the search
            k = last.size(1)
            out, st = self.decoder(self.embed(last.reshape(-1, 1)), st)
            logits = self.output(out.view(b, k, 1, -1), u, t)[:, :, 0]
            if record is not None:
                record.append(logits)
            return self.log_probs(logits[:, :, None], t)[:, :, 0], st

        return tree_beam_search(
            step,
            self.tree,
            b,
            beam_size,
            can_stop=self.can_stop(u.device),
            end_token=True,
            state=state,
            device=u.device,
            stop_depths=self.stop_depths(),
            state_dim=1,
            track_nodes=track_nodes)


__all__ = ['HierS2SDecoderMixin']
