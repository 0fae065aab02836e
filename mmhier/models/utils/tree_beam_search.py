# Copyright (c) mmhier contributors. All rights reserved.
"""Beam search over the paths of a class tree (DHNN slides, Algorithm 1).

Algorithm 1 of the DHNN slides keeps the ``k`` best partial paths at every
step and extends each only by children of its last node. This module does the
same for a whole batch at once: the hypotheses are ``(B, K)`` tensors and a
step is a handful of gathers and one ``topk`` over the ``K * C_t``
candidates (``C_t`` the most children of a node of depth t); the live
hypotheses carry their paths, reordered by one gather a step. There is no
Python loop over samples or beams, only over the ``T + 1`` steps.

Two kinds of model share it through a step function:

- scores known up front (the fixed-length CNN-RNN head, DHNN section 3.1:
  ``o_t`` does not depend on earlier choices), see
  :func:`tree_beam_search_static`;
- a decoder whose step ``t`` reads the node chosen at step ``t - 1`` (the
  CNN-S2S head, section 3.2): the search calls it on all ``B * K``
  hypotheses at once and reorders its state after each step.

Stopping. A path may stop after node ``j`` when ``can_stop[j]`` (leaves; in
a general tree also inner nodes that are legitimate labels). With an end
token the step function returns ``N + 1`` columns, the last one the log-prob
of END, and stopping after ``j`` costs that log-prob at the step after ``j``;
without one, stopping is free. Stopped paths go to a separate pool of the
``k`` best finished paths, so they never take a slot from the live beams.
Hence the search is exact (equal to brute force over every root-to-node path
allowed to stop) as soon as ``k`` is at least the largest number of nodes on
any level: every live prefix is then kept at every step, and the pool holds
the top ``k`` of all finished paths. With ``k = 1`` the live beam is the
greedy path and the pool the best stopping point along it.
"""
from typing import Callable, NamedTuple, Optional, Sequence, Tuple, Union

import torch
from torch import Tensor

from mmhier.structures import PATH_END, ClassTree

State = Union[None, Tensor, Sequence[Tensor]]
StepFn = Callable[[int, Tensor, State], Tuple[Tensor, State]]


class BeamSearchResult(NamedTuple):
    """Output of :func:`tree_beam_search`, best path first.

    Attributes:
        paths: Long ``(B, k, T)``, padded with ``PATH_END``.
        scores: ``(B, k)`` total log-prob of each path (END included);
            ``-inf`` marks a slot with no path (fewer than ``k`` paths
            exist, or only paths of probability 0), whose row in ``paths`` is
            all ``PATH_END``.
        node_scores: ``(B, k, T)`` log-prob of each node of the path at its
            own step, 0 on the padding.
        end_scores: ``(B, k)`` log-prob of END after the last node (0
            without an end token).
    """
    paths: Tensor
    scores: Tensor
    node_scores: Tensor
    end_scores: Tensor


def _topk(x: Tensor, k: int) -> Tuple[Tensor, Tensor]:
    """Top k along dim 1, best first; ``max`` for k = 1 (much cheaper than
    ``topk`` on many short rows on CPU)."""
    if k == 1:
        return x.max(dim=1, keepdim=True)
    return x.topk(k, dim=1)


def _reorder(state: State, index: Tensor, dim: int = 0) -> State:
    """Pick hypotheses ``index`` (along ``dim``) of every tensor in
    ``state``."""
    if state is None:
        return None
    if isinstance(state, Tensor):
        return state.index_select(dim, index)
    return type(state)(_reorder(s, index, dim) for s in state)


def tree_beam_search(step_fn: StepFn,
                     tree: ClassTree,
                     batch_size: int,
                     beam_size: int,
                     can_stop: Optional[Tensor] = None,
                     end_token: bool = False,
                     state: State = None,
                     device: Union[str, torch.device, None] = None,
                     stop_depths: Optional[Sequence[int]] = None,
                     state_dim: int = 0) -> BeamSearchResult:
    """Batched beam search constrained to the paths of ``tree``.

    At step ``t`` (0-based, predicting depth ``t + 1``) every live hypothesis
    may only be extended by a child of its last node (the root for
    ``t = 0``); a hypothesis whose last node may stop is also offered to the
    finished pool (paying the END log-prob when ``end_token``). The search
    runs ``T + 1`` steps, ``T = tree.max_depth``; step ``T`` only stops.

    Args:
        step_fn: ``step_fn(t, last, state) -> (log_probs, new_state)``.
            ``last`` is the long ``(B, K)`` last node of each live hypothesis
            (``N`` = the root at ``t = 0``, where ``K = 1``); ``log_probs`` is
            ``(B, K, N)``, or ``(B, K, N + 1)`` with END in the last column
            when ``end_token``; ``(B, 1, ...)`` when every hypothesis of a
            sample gets the same scores (scores known up front).
            ``state`` holds tensors whose dim ``state_dim`` runs over the
            ``B * K`` hypotheses, batch major; the search reorders
            ``new_state`` to the surviving hypotheses. Without an end token
            ``step_fn`` is called for ``t < T`` only.
        tree: The class tree.
        batch_size: B.
        beam_size: k >= 1; ``k = 1`` is greedy.
        can_stop: Bool ``(N,)``: node j may end a path. Defaults to the
            leaves.
        end_token: Whether ``step_fn`` scores an END column.
        state: Initial state for the ``B`` root hypotheses (``B`` along
            ``state_dim``).
        device: Device of the search. Defaults to the state's, else CPU.
        stop_depths: The depths of the nodes that may stop, known on the
            host (heads cache them); ``None`` reads ``can_stop`` back (a
            host sync when it is on a GPU).
        state_dim: The hypotheses' dim of the state tensors: 0, or 1 for
            an RNN's ``(layers, B * K, hidden)`` state, which then needs no
            transposed copy per step.

    Returns:
        BeamSearchResult: ``k`` paths per sample, best first.

    Every step has a shape fixed by the tree and k, not by the data (the
    tree's constraints are masks), and nothing is read back to the host,
    so the search can be captured in a CUDA graph.
    """
    if not isinstance(beam_size, int) or beam_size < 1:
        raise ValueError(f'beam_size must be an int >= 1, got {beam_size!r}')
    if device is None:
        first = state
        while isinstance(first, (list, tuple)) and first:
            first = first[0]
        device = first.device if isinstance(first, Tensor) else 'cpu'
    n, depth = tree.num_nodes, tree.max_depth
    b, k = batch_size, beam_size
    if can_stop is None:
        can_stop = tree.tensor('is_leaf', device)
    can_stop = torch.as_tensor(can_stop, dtype=torch.bool, device=device)
    if can_stop.shape != (n, ):
        raise ValueError(f'can_stop must have shape ({n},), got '
                         f'{tuple(can_stop.shape)}')
    neg_inf = float('-inf')
    # Tree tables, indexed by node (row N: the root). children_index lists
    # children first, so the first C_t columns hold all children of the
    # nodes of depth t, C_t the most any of them has: step t only needs
    # those, which keeps the candidates of a step (K * C_t) few.
    children = tree.children_index(device)  # (N + 1, C), -1 padded
    child_bias = torch.where(children >= 0, 0., neg_inf)
    children = children.clamp(min=0)
    widths = tree.level_widths()
    # The root (row N) never ends a path: a path has at least one node.
    stop_bias = torch.where(
        torch.cat([can_stop, can_stop.new_zeros(1)]), 0., neg_inf)
    # Live hypotheses at step t end at depth t: only where some node of that
    # depth may stop is a finishing pass needed.
    if stop_depths is None:
        stop_depths = tree.depths[can_stop.cpu().numpy()].tolist()
    stop_depths = {int(d) for d in stop_depths}

    # The live hypotheses carry their paths and the log-probs of their
    # nodes, (B, K, T), reordered by one gather a step; a path that stops
    # is copied to the finished pool. Nothing is read back at the end.
    arange_b = torch.arange(b, device=device)[:, None]
    last = torch.full((b, 1), n, dtype=torch.long, device=device)
    live_paths = torch.full((b, 1, depth),
                            PATH_END,
                            dtype=torch.long,
                            device=device)
    fin_paths = live_paths.new_full((b, k, depth), PATH_END)

    for t in range(depth + 1):
        num_live = last.size(1)
        flat_last = last.view(-1)
        if end_token or t < depth:
            log_probs, new_state = step_fn(t, last, state)
            want = n + 1 if end_token else n
            if log_probs.dim() != 3 or log_probs.size(-1) != want or (
                    log_probs.size(0) != b
                    or log_probs.size(1) not in (1, num_live)):
                raise ValueError(
                    f'step_fn must return log-probs of shape '
                    f'({b}, {num_live} or 1, {want}) at step {t}, got '
                    f'{tuple(log_probs.shape)}')
            if t == 0:
                # Scores in at least float32, float64 if the model is.
                dtype = torch.promote_types(log_probs.dtype, torch.float32)
                child_bias = child_bias.to(dtype)
                stop_bias = stop_bias.to(dtype)
                live_score = torch.zeros(b, 1, dtype=dtype, device=device)
                fin_score = torch.full((b, k),
                                       neg_inf,
                                       dtype=dtype,
                                       device=device)
                fin_end = torch.zeros(b, k, dtype=dtype, device=device)
                live_nodes = torch.zeros(
                    b, 1, depth, dtype=dtype, device=device)
                fin_nodes = live_nodes.new_zeros(b, k, depth)
            log_probs = log_probs.to(dtype)

        # Offer stoppable live hypotheses to the finished pool.
        if t in stop_depths:
            end_score = live_score + stop_bias.index_select(0, flat_last).view(
                b, num_live)
            if end_token:
                end_lp = log_probs[..., n].expand(b, num_live)
                end_score = end_score + end_lp
            fin_score, pick = _topk(torch.cat([fin_score, end_score], 1), k)
            rows = pick[..., None].expand(-1, -1, depth)
            fin_paths = torch.cat([fin_paths, live_paths], 1).gather(1, rows)
            fin_nodes = torch.cat([fin_nodes, live_nodes], 1).gather(1, rows)
            if end_token:
                fin_end = torch.cat([fin_end, end_lp], 1).gather(1, pick)
        if t == depth:
            break

        # Extend every live hypothesis by the children of its last node.
        width = widths[t]
        kids = children[:, :width].index_select(0, flat_last).view(b, -1)
        if log_probs.size(1) == 1:  # the same scores for all hypotheses
            lp = log_probs[:, 0, :n].gather(1, kids)
        else:
            lp = log_probs[..., :n].gather(2, kids.view(b, num_live,
                                                        -1)).view(b, -1)
        bias = child_bias[:, :width].index_select(0, flat_last)
        cand = (live_score[..., None] + bias.view(b, num_live, -1)).view(
            b, -1) + lp
        live_score, idx = _topk(cand, min(k, cand.size(1)))
        parent = torch.div(idx, width, rounding_mode='floor')
        last = kids.gather(1, idx)
        rows = parent[..., None].expand(-1, -1, depth)
        live_paths = live_paths.gather(1, rows)
        live_paths[:, :, t] = last
        live_nodes = live_nodes.gather(1, rows)
        live_nodes[:, :, t] = lp.gather(1, idx)
        if new_state is not None:
            state = _reorder(new_state,
                             (arange_b * num_live + parent).view(-1),
                             state_dim)

    # Slots the tree could not fill (fewer than k paths) hold no path.
    full = torch.isfinite(fin_score)
    fin_paths = torch.where(full[..., None], fin_paths, PATH_END)
    fin_nodes = torch.where(full[..., None], fin_nodes, 0.)
    fin_end = torch.where(full, fin_end, 0.)
    return BeamSearchResult(fin_paths, fin_score, fin_nodes, fin_end)


def tree_beam_search_static(
        log_probs: Tensor,
        tree: ClassTree,
        beam_size: int,
        can_stop: Optional[Tensor] = None,
        stop_depths: Optional[Sequence[int]] = None) -> BeamSearchResult:
    """Beam search on per-step scores known up front (CNN-RNN head).

    A path's score is the sum over its nodes of ``log_probs[b, t, node_t]``;
    stopping is free and allowed where ``can_stop`` (default: leaves).

    Args:
        log_probs: ``(B, T, N)`` log-probabilities of every node at every
            step, ``T = tree.max_depth``.
        tree: The class tree.
        beam_size: k.
        can_stop: Bool ``(N,)``, default the leaves.
        stop_depths: See :func:`tree_beam_search`.

    Returns:
        BeamSearchResult: see :func:`tree_beam_search`.
    """
    if log_probs.dim() != 3 or log_probs.shape[1:] != (tree.max_depth,
                                                       tree.num_nodes):
        raise ValueError(
            f'log_probs must have shape (B, {tree.max_depth}, '
            f'{tree.num_nodes}) for this tree, got {tuple(log_probs.shape)}')

    def step(t: int, last: Tensor, state: State) -> Tuple[Tensor, State]:
        # The same scores for every hypothesis of a sample.
        return log_probs[:, t, None, :], None

    return tree_beam_search(
        step,
        tree,
        log_probs.size(0),
        beam_size,
        can_stop=can_stop,
        device=log_probs.device,
        stop_depths=stop_depths)
