# Copyright (c) mmhier contributors. All rights reserved.
"""Counting multi-label path and node predictions at many thresholds.

The maths behind :class:`HierMultiLabelMetric`: which (sample, class) pairs
are predicted at a threshold, and precision / recall / F1 at every
candidate threshold at once.
"""
from typing import Any, Dict, Optional, Sequence, Tuple, Union

import torch

from mmhier.structures import ClassTree
from ..functional import (gt_node_sets, max_child_scores, path_min_scores,
                          to_paths, to_scores)
from .base_hier_metric import f1_from

AVERAGES = ('micro', 'macro', 'weighted')
KINDS = ('path', 'node')
DEFINITIONS = ('maximal', 'authors')
Averages = Union[str, Sequence[str]]


def check_definition(definition: str) -> None:
    """Raise unless ``definition`` is one of :data:`DEFINITIONS`."""
    if definition not in DEFINITIONS:
        raise ValueError(f'definition must be one of {DEFINITIONS}, got '
                         f'{definition!r}')


def check_step(step: Optional[float]) -> None:
    """Raise unless ``step`` is None or a number in ``(0, 1]``."""
    number = isinstance(step, (int, float)) and not isinstance(step, bool)
    if step is not None and not (number and 0 < step <= 1):
        raise ValueError(f'search_step must be None or in (0, 1], got '
                         f'{step!r}')


def check_average(average: Averages) -> Tuple[str, ...]:
    """``average`` as a non-empty tuple of :data:`AVERAGES`; raise
    otherwise."""
    average = (average, ) if isinstance(average, str) else tuple(average)
    if not average or any(a not in AVERAGES for a in average):
        raise ValueError(f'average must be one or several of {AVERAGES}, '
                         f'got {average!r}')
    return average


def ingredients(pred_scores: Any, gt_paths: Any, tree: ClassTree,
                definition: str) -> Dict[str, tuple]:
    """For each kind, ``(lo, hi, pos, judged)``: class j of sample b is
    predicted at threshold c when ``lo[b, j] < c <= hi[b, j]`` (``lo``
    None: no lower end), is a positive when ``pos`` and is judged when
    ``judged`` (all ``(B, N)``)."""
    scores = to_scores(pred_scores, 'pred_scores').double()
    gt = to_paths(gt_paths, tree.max_depth, 'gt_paths')
    if gt.dim() == 2:
        gt = gt[:, None]
    if scores.dim() != 2 or scores.shape[0] != gt.shape[0]:
        raise ValueError(f'pred_scores must be (B, N) for {gt.shape[0]} '
                         f'samples, got shape {tuple(scores.shape)}')
    m = path_min_scores(scores, tree)
    node_pos, node_judged, path_pos, path_judged = gt_node_sets(gt, tree)
    if definition == 'maximal':
        # node: m_j >= c; path: selected, no child's path selected
        return dict(
            node=(None, m, node_pos, node_judged),
            path=(max_child_scores(m, tree), m, path_pos, path_judged))
    # the authors: every selected path; each node on its own score
    return dict(
        node=(None, scores, node_pos, node_judged),
        path=(None, m, path_pos, path_judged))


def interval_counts(lo: Optional[torch.Tensor], hi: torch.Tensor,
                    pos: torch.Tensor, judged: torch.Tensor,
                    cands: torch.Tensor) -> tuple:
    """Per-class counts at each candidate threshold, without a loop over
    thresholds.

    Each (sample, class) pair is predicted for the interval of candidates
    ``lo < c <= hi``, so the counts come from +1/-1 marks at the interval
    ends and a cumulative sum.

    Returns:
        tuple: ``tp``, ``pred_pos`` ``(G, N)`` and ``support`` ``(N,)``.
    """
    g, n = len(cands), hi.shape[1]
    # end: number of candidates <= hi, i.e. the first g with c_g > hi.
    end = torch.searchsorted(cands, hi.contiguous(), right=True)
    start = torch.zeros_like(end) if lo is None else torch.searchsorted(
        cands, lo.contiguous(), right=True)
    column = torch.arange(n).expand_as(hi)
    live = start < end
    marks = []
    for weight in (pos & live, judged & live):
        w = weight.double()
        delta = torch.zeros((g + 1) * n, dtype=torch.double)
        delta.index_add_(0, (start * n + column).flatten(), w.flatten())
        delta.index_add_(0, (end * n + column).flatten(), -w.flatten())
        marks.append(delta.view(g + 1, n).cumsum(0)[:g].round())
    return marks[0], marks[1], pos.sum(0).double()


def average_f1(tp: torch.Tensor, pred_pos: torch.Tensor,
               support: torch.Tensor, average: str) -> tuple:
    """Precision, recall and F1 ``(G,)`` from per-class counts ``(G, N)``.
    """
    if average == 'micro':
        return f1_from(tp.sum(1), pred_pos.sum(1), support.sum())
    precision, recall, f1 = f1_from(tp, pred_pos, support)
    if average == 'weighted':
        weight = (support / support.sum().clamp(min=1)).expand_as(tp)
    else:  # macro: the classes that occur or are predicted
        active = ((support > 0) | (pred_pos > 0)).double()
        weight = active / active.sum(1, keepdim=True).clamp(min=1)
    return tuple((v * weight).sum(1) for v in (precision, recall, f1))
