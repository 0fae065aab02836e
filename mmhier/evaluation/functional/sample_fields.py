# Copyright (c) mmhier contributors. All rights reserved.
"""Read ground truth and predictions off one DataSample (or its dict).

Metrics receive ``DataSample.to_dict()`` dicts; tools read the same dicts
from a ``tools/test.py --out`` pickle. These helpers give both the same
paths, implying them from flat predictions where a model has no path
(DHNN paper, Remark 1).
"""
from typing import Any, Mapping

import torch

from mmhier.structures import ClassTree
from .path_utils import imply_paths, imply_topk_paths, to_paths, to_scores

__all__ = [
    'get_gt_paths', 'get_pred_path', 'get_pred_topk_paths', 'get_pred_score'
]


def _get(sample: Any, key: str) -> Any:
    if isinstance(sample, Mapping):
        return sample.get(key)
    return sample.get(key, None)  # DataSample


def _keys(sample: Any) -> list:
    return sorted(sample.keys()) if hasattr(sample, 'keys') else []


def get_gt_paths(sample: Any, tree: ClassTree) -> torch.Tensor:
    """Ground-truth paths ``(P, T)`` of a sample.

    ``gt_path`` when present; otherwise the paths implied by ``gt_label``
    (one path per label), so flat datasets whose labels are node indices
    work too.
    """
    gt_path = _get(sample, 'gt_path')
    if gt_path is not None:
        paths = to_paths(gt_path, tree.max_depth, 'gt_path')
        return paths.view(-1, tree.max_depth)
    gt_label = _get(sample, 'gt_label')
    if gt_label is not None:
        return imply_paths(torch.as_tensor(gt_label).view(-1), tree)
    raise KeyError('a data sample has neither gt_path nor gt_label (keys: '
                   f'{_keys(sample)}); pack the ground truth with '
                   'PackHierInputs')


def get_pred_path(sample: Any, tree: ClassTree) -> torch.Tensor:
    """The predicted path ``(T,)`` of a sample.

    ``pred_path`` (hierarchical heads); else the path of ``pred_label``,
    else of the argmax of ``pred_score`` (flat models, Remark 1).
    """
    pred_path = _get(sample, 'pred_path')
    if pred_path is not None:
        return to_paths(pred_path, tree.max_depth,
                        'pred_path').view(tree.max_depth)
    pred_label = _get(sample, 'pred_label')
    score = _get(sample, 'pred_score')
    if score is not None and torch.as_tensor(score).numel() != tree.num_nodes:
        # e.g. a head over the leaves only: its labels are no node indices
        raise ValueError(
            f'a flat prediction has {torch.as_tensor(score).numel()}'
            f' classes but the tree has {tree.num_nodes} nodes; '
            'implying paths needs a score for every node')
    if pred_label is None and score is not None:
        pred_label = to_scores(score).argmax()
    if pred_label is None:
        raise KeyError('a data sample has no pred_path, pred_label or '
                       f'pred_score (keys: {_keys(sample)})')
    return imply_paths(torch.as_tensor(pred_label).view(-1)[:1], tree)[0]


def get_pred_topk_paths(sample: Any, tree: ClassTree, k: int) -> torch.Tensor:
    """The k best predicted paths ``(k, T)`` of a sample, best first.

    ``pred_beam_paths`` of beam search; for ``k == 1`` also ``pred_path``;
    for flat models the paths of the k best nodes of ``pred_score``.

    Raises:
        ValueError: when fewer than k paths are available.
    """
    beams = _get(sample, 'pred_beam_paths')
    if beams is not None:
        beams = to_paths(beams, tree.max_depth, 'pred_beam_paths')
        beams = beams.view(-1, tree.max_depth)
        if beams.shape[0] < k:
            raise ValueError(f'top-{k} paths were asked for but the sample '
                             f'has {beams.shape[0]} pred_beam_paths; raise '
                             "the head's beam size or lower k")
        return beams[:k]
    if _get(sample, 'pred_path') is not None:
        if k == 1:
            return get_pred_path(sample, tree)[None]
        raise ValueError(f'top-{k} paths were asked for but the sample has '
                         'a pred_path and no pred_beam_paths')
    score = _get(sample, 'pred_score')
    if score is None:
        if k == 1:
            return get_pred_path(sample, tree)[None]
        raise KeyError(f'top-{k} paths need pred_beam_paths or pred_score '
                       f'(keys: {_keys(sample)})')
    return imply_topk_paths(score, tree, k)


def get_pred_score(sample: Any, tree: ClassTree) -> torch.Tensor:
    """Node scores ``(N,)`` of a sample (``pred_score``)."""
    score = _get(sample, 'pred_score')
    if score is None:
        raise KeyError('a data sample has no pred_score (keys: '
                       f'{_keys(sample)}); multi-label metrics need the '
                       'sigmoid node scores')
    score = to_scores(score).view(-1)
    if score.numel() != tree.num_nodes:
        raise ValueError(f'pred_score has {score.numel()} classes but the '
                         f'tree has {tree.num_nodes} nodes')
    return score
