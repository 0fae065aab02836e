# Copyright (c) mmhier contributors. All rights reserved.
"""Beam search over the paths of a class tree (DHNN slides, Algorithm 1).

Algorithm 1 of the DHNN slides keeps the ``k`` best partial paths at every
step and extends each only by children of its last node. This module does the
same for a whole batch at once: the hypotheses are ``(B, K)`` tensors and a
step is a handful of gathers and one top-k over the ``K * C_t``
candidates (``C_t`` the most children of a node of depth t); the live
hypotheses carry their last node (the path to a node is the tree's) and,
unless the caller rescores the best path itself, their node log-probs,
reordered by one gather a step; the hypotheses that may stop are kept as
they are and the k best of them picked once, after the last step. There
is no Python loop over samples or beams, only over the ``T + 1`` steps.

Exact ties (equal scores) are ordered as ``topk`` orders them, which torch
does not specify (it may differ between devices); a stable sort would fix
the order at the cost of more kernels a step, and ONNX has none.

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
import torch.nn.functional as F
from torch import Tensor

from mmhier.structures import ClassTree

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
            own step, 0 on the padding; ``None`` when the search was told
            not to track them (``track_nodes=False``).
        end_scores: ``(B, k)`` log-prob of END after the last node (0
            without an end token); ``None`` with ``track_nodes=False``.
        last: Long ``(B, k)`` last node of each path, ``N`` for a slot with
            no path; ``None`` when the maker did not compute it.
    """
    paths: Tensor
    scores: Tensor
    node_scores: Optional[Tensor]
    end_scores: Optional[Tensor]
    last: Optional[Tensor] = None


def _topk(x: Tensor, k: int) -> Tuple[Tensor, Tensor]:
    """Top k along dim 1, best first; ``max`` for k = 1 (much cheaper than
    ``topk`` on many short rows on CPU)."""
    if k == 1:
        return x.max(dim=1, keepdim=True)
    return x.topk(k, dim=1)


def _reorder(state: State, parent: Tensor, dim: int = 0) -> State:
    """Pick the hypotheses ``parent`` ``(B, K')`` (indices into the ``K``
    hypotheses of each sample) along ``dim`` (``B * K`` long, batch major)
    of every tensor in ``state``: one gather per tensor."""
    if state is None:
        return None
    if isinstance(state, Tensor):
        b, k = parent.shape
        s = state.unflatten(dim, (b, -1))
        shape = [1] * s.dim()
        shape[dim], shape[dim + 1] = b, k
        size = list(s.shape)
        size[dim + 1] = k
        index = parent.view(shape).expand(size)
        return s.gather(dim + 1, index).flatten(dim, dim + 1)
    return type(state)(_reorder(s, parent, dim) for s in state)


def _repeat(state: State, k: int, dim: int = 0) -> State:
    """Each of the ``B`` hypotheses ``k`` times along ``dim``."""
    if state is None:
        return None
    if isinstance(state, Tensor):
        s = state.unsqueeze(dim + 1)
        size = list(s.shape)
        size[dim + 1] = k
        return s.expand(size).flatten(dim, dim + 1)
    return type(state)(_repeat(s, k, dim) for s in state)


def tree_beam_search(step_fn: StepFn,
                     tree: ClassTree,
                     batch_size: int,
                     beam_size: int,
                     can_stop: Optional[Tensor] = None,
                     end_token: bool = False,
                     state: State = None,
                     device: Union[str, torch.device, None] = None,
                     stop_depths: Optional[Sequence[int]] = None,
                     state_dim: int = 0,
                     static_scores: Optional[Tensor] = None,
                     track_nodes: bool = True) -> BeamSearchResult:
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
        static_scores: When ``step_fn(t, ...)`` returns
            ``static_scores[:, t, None]`` (scores known up front, ``(B, T
            or T + 1, N or N + 1)``), the node log-probs of the paths are
            read from it once at the end instead of carried step by step.
        track_nodes: Carry each hypothesis's node log-probs (one gather a
            step) for ``node_scores`` and ``end_scores``; a caller that
            rescores the best path itself passes False and gets ``None``
            in both (the scores are known up front with
            ``static_scores``, so they are always given then).

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
    # Tree tables, cached on the tree, indexed by node (row N: the root).
    # children_index lists children first, so the first C_t columns hold
    # all children of the nodes of depth t, C_t the most any of them has:
    # step t only needs those, which keeps the candidates (K * C_t) few.
    children = tree.tensor('children_safe', device)  # (N + 1, C)
    child_ok = tree.tensor('children_valid', device)
    widths = tree.level_widths()
    root_first, level_full = tree.level_shape()
    # Live hypotheses at step t end at depth t: only where some node of that
    # depth may stop is a finishing pass needed.
    if stop_depths is None:
        stop_depths = tree.depths[can_stop.cpu().numpy()].tolist()
    stop_depths = {int(d) for d in stop_depths} - {0}
    # Masking the hypotheses that may not stop is needed unless the host
    # knows that every node of the stop depths may (the tree's cached
    # masks: every node, or the leaves when those depths hold only leaves).
    mask_stops = not (can_stop is tree.tensor('every_node', device) or (
        can_stop is tree.tensor('is_leaf', device) and all(
            tree.is_leaf[tree.depths == d].all() for d in stop_depths)))

    # A live hypothesis is its last node (the path to it is the tree's),
    # its score and (carry_nodes) the log-probs of its nodes (B, K, T),
    # reordered by one gather a step. Those that may stop are kept as they
    # are (no op) and the k best of them picked once, after the last step.
    last = tree.tensor('root_index', device).expand(b, 1)
    live_score = live_nodes = None  # set by step 0
    carry_nodes = track_nodes and static_scores is None
    stops = []
    for t in range(depth + 1):
        num_live = last.size(1)
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
            log_probs = log_probs.to(dtype)
        if t in stop_depths:
            end_lp = log_probs[..., n].expand(b, num_live) \
                if end_token else None
            stops.append((last, live_score, end_lp, live_nodes))
        if t == depth:
            break

        width = widths[t]
        if t == 0:
            # The root's children, all of them real (C_0 is their number).
            kids = children[n, :width]
            if root_first:  # nodes 0..C_0-1: a slice, no lookup
                live_score, idx = _topk(log_probs[:, 0, :width],
                                        min(k, width))
                last = idx
            else:
                live_score, idx = _topk(
                    log_probs[:, 0, :n].index_select(1, kids), min(k, width))
                last = kids[idx]
            if carry_nodes:
                live_nodes = F.pad(live_score[..., None], (0, depth - 1))
            state = _repeat(new_state, last.size(1), state_dim)
            continue
        # Extend every live hypothesis by the children of its last node.
        flat_last = last.reshape(-1)
        kids = children[:, :width].index_select(0, flat_last).view(b, -1)
        if log_probs.size(1) == 1:  # the same scores for all hypotheses
            lp = log_probs[:, 0, :n].gather(1, kids)
        else:
            lp = log_probs[..., :n].gather(2, kids.view(b, num_live,
                                                        -1)).view(b, -1)
        cand = (live_score[..., None] + lp.view(b, num_live, -1)).view(b, -1)
        if not level_full[t]:  # mask the padding of nodes with fewer
            ok = child_ok[:, :width].index_select(0, flat_last).view(b, -1)
            cand = torch.where(ok, cand, float('-inf'))
        live_score, idx = _topk(cand, min(k, cand.size(1)))
        parent = torch.div(idx, width, rounding_mode='floor')
        last = kids.gather(1, idx)
        if carry_nodes:
            live_nodes = live_nodes.gather(1, parent[..., None].expand(
                -1, -1, depth))
            live_nodes[:, :, t] = lp.gather(1, idx)
        state = _reorder(new_state, parent, state_dim)
    return _best_stops(stops, tree, can_stop if mask_stops else None, b, k,
                       end_token, dtype, device, static_scores, carry_nodes)


def _best_stops(stops: list,
                tree: ClassTree,
                can_stop: Optional[Tensor],
                b: int,
                k: int,
                end_token: bool,
                dtype,
                device,
                static_scores: Optional[Tensor] = None,
                carry_nodes: bool = True) -> BeamSearchResult:
    """The k best of the hypotheses offered to stop, ``(last, score,
    end_lp, nodes)`` per step; slots the tree could not fill (fewer than k
    paths) hold no path. ``can_stop`` ``None``: all of them may stop.

    One ``topk`` of the scores of all offered hypotheses picks the k best
    (``max`` for k = 1); the paths (the tree's paths to the last nodes)
    and the node log-probs are gathered for those k only.
    """
    n, depth = tree.num_nodes, tree.max_depth
    if not stops:  # nothing may stop: no path
        like = torch.zeros(b, 1, dtype=dtype, device=device)
        stops = [(like.long(), like - float('inf'), like,
                  like.new_zeros(b, 1, depth) if carry_nodes else None)]

    def cat(i: int, dim: int = 1) -> Tensor:
        parts = [s[i] for s in stops]
        return parts[0] if len(parts) == 1 else torch.cat(parts, dim)

    last, score = cat(0), cat(1)
    if end_token:
        end = cat(2)
        score = score + end
    if can_stop is not None:
        # Hypotheses at step t >= 1 end at a node (never the root).
        may_stop = can_stop.index_select(0, last.reshape(-1)).view(b, -1)
        score = torch.where(may_stop, score, float('-inf'))
    offered = score.size(1)
    if offered < k:  # slots no hypothesis fills: -inf, no path
        score = F.pad(score, (0, k - offered), value=float('-inf'))
    fin_score, fin_id = _topk(score, k)
    if offered < k:
        fin_id = fin_id.clamp(max=offered - 1)
    full = torch.isfinite(fin_score)
    last = torch.where(full, last.gather(1, fin_id), n)
    paths = tree.tensor('end_path_matrix', device)[last]
    if static_scores is not None:  # node t of a path: its score at t
        lp = static_scores[:, :depth, :n].to(dtype)
        nodes = lp[:, None].expand(b, k, depth, n).gather(
            3, paths.clamp(min=0)[..., None])[..., 0]
        nodes = torch.where(paths >= 0, nodes, 0.)
        if not end_token:
            return BeamSearchResult(paths, fin_score, nodes,
                                    torch.zeros_like(fin_score), last)
        end = torch.where(full, end.gather(1, fin_id), 0.)
        return BeamSearchResult(paths, fin_score, nodes, end, last)
    if not carry_nodes:
        return BeamSearchResult(paths, fin_score, None, None, last)
    nodes = cat(3)
    if end_token:
        nodes = torch.cat([nodes, end[..., None]], 2)
    nodes = torch.where(
        full[..., None],
        nodes.gather(1, fin_id[..., None].expand(-1, -1, nodes.size(2))), 0.)
    if end_token:
        return BeamSearchResult(paths, fin_score, nodes[..., :depth],
                                nodes[..., depth], last)
    return BeamSearchResult(paths, fin_score, nodes,
                            torch.zeros_like(fin_score), last)


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
        stop_depths=stop_depths,
        static_scores=log_probs)
