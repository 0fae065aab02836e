# Copyright (c) mmhier contributors. All rights reserved.
"""Read the top-k label paths off a predicted DataSample.

Shared by the inferencer (``mmhier.apis``) and the visualizer, which both sit
above the evaluation layer, so it lives here. The score of a path is reported
as a probability in ``[0, 1]``:

- softmax heads (beam search, ``pred_beam_scores`` = sum of log-probs):
  ``exp`` of the sum, the probability of the whole path;
- multi-label heads (the sample holds ``pred_paths``): the minimum sigmoid
  node score along the path (DHNN section 4.2), as the heads rank them;
- a model with ``pred_path`` but no beams (HierNet): ``exp`` of
  ``pred_path_score`` (``log P``) for its path, and ``pred_score`` of the
  leaves ranked next;
- a flat model (``pred_score`` over the N tree nodes only): the node's
  score, its path implied by the tree (DHNN Remark 1).
"""
from typing import Any, Optional, Tuple

import torch

from mmhier.structures import ClassTree

__all__ = ['sample_topk_paths', 'sample_field', 'check_node_scores']


def sample_field(sample: Any, key: str) -> Optional[torch.Tensor]:
    """``sample[key]`` as a detached CPU tensor, or None when absent."""
    value = sample.get(key, None)
    if value is None:
        return None
    return torch.as_tensor(value).detach().cpu()


def check_node_scores(score: torch.Tensor, tree: ClassTree) -> torch.Tensor:
    """Flatten ``score`` to float ``(N,)``; raise unless it has one score per
    tree node."""
    score = score.reshape(-1).float()
    if score.numel() != tree.num_nodes:
        raise ValueError(
            f'the prediction has pred_score over {score.numel()} classes but '
            f'the tree has {tree.num_nodes} nodes; paths can only be implied '
            'from scores of every tree node (e.g. LinearClsHead with '
            f'num_classes={tree.num_nodes}), or pass the tree the model was '
            'trained with')
    return score


def sample_topk_paths(sample: Any, tree: ClassTree,
                      k: int) -> Tuple[torch.Tensor, torch.Tensor]:
    """The k best paths of one predicted sample and their scores.

    Args:
        sample: A :class:`DataSample` (or its dict) predicted by any mmhier
            head, by HierNet, or by a flat classifier over the tree nodes.
        tree: The class tree of the model.
        k: How many paths; fewer are returned when the prediction holds
            fewer (e.g. a beam narrower than k).

    Returns:
        ``(paths, scores)``: long ``(k', T)`` padded with ``PATH_END`` and
        float ``(k',)`` probabilities (see the module docstring), best
        first, ``k' <= k``.
    """
    if not isinstance(k, int) or k < 1:
        raise ValueError(f'topk must be an int >= 1, got {k!r}')
    pm = tree.tensor('path_matrix')
    beams = sample_field(sample, 'pred_beam_paths')
    pred_path = sample_field(sample, 'pred_path')
    pred_score = sample_field(sample, 'pred_score')
    if beams is not None:
        beams = beams.reshape(-1, beams.shape[-1]).long()
        if beams.shape[-1] != tree.max_depth:
            raise ValueError(f'pred_beam_paths have length {beams.shape[-1]}'
                             f' but the tree has depth {tree.max_depth}')
        raw = sample_field(sample, 'pred_beam_scores')
        if raw is None:
            raise KeyError('the sample has pred_beam_paths but no '
                           'pred_beam_scores')
        raw = raw.reshape(-1).float()
        multi = sample.get('pred_paths', None) is not None
        scores = raw if multi else raw.exp()
        keep = torch.isfinite(raw) & (beams[:, 0] >= 0)
        beams, scores = beams[keep], scores[keep]
    elif pred_path is not None:
        best = pred_path.reshape(1, -1).long()
        if best.shape[-1] != tree.max_depth:
            raise ValueError(f'pred_path has length {best.shape[-1]} but '
                             f'the tree has depth {tree.max_depth}')
        nodes = best[0][best[0] >= 0]
        if nodes.numel() == 0:
            raise ValueError('pred_path is empty (no node)')
        last = nodes[-1]
        log_score = sample_field(sample, 'pred_path_score')
        if log_score is not None:
            best_score = log_score.reshape(1).float().exp()
        elif pred_score is not None:
            best_score = check_node_scores(pred_score, tree)[last].reshape(1)
        else:
            best_score = torch.full((1, ), float('nan'))
        beams, scores = best, best_score
        if k > 1 and pred_score is not None:
            node = check_node_scores(pred_score, tree)
            cand = torch.from_numpy(tree.is_leaf).clone()
            cand[last] = False
            cand &= node > 0  # nodes the model gave no score to stay out
            idx = torch.nonzero(cand)[:, 0]
            order = node[idx].argsort(descending=True, stable=True)
            idx = idx[order[:k - 1]]
            beams = torch.cat([best, pm[idx]])
            scores = torch.cat([best_score, node[idx]])
        return beams[:k], scores[:k]
    elif pred_score is not None:
        node = check_node_scores(pred_score, tree)
        top = node.topk(min(k, tree.num_nodes))
        return pm[top.indices], top.values
    else:
        label = sample_field(sample, 'pred_label')
        if label is None:
            keys = sorted(sample.keys()) if hasattr(sample, 'keys') else []
            raise KeyError('the sample holds no prediction (pred_beam_paths, '
                           f'pred_path, pred_score or pred_label); keys: '
                           f'{keys}')
        node = int(label.reshape(-1)[0])
        return pm[node][None], torch.full((1, ), float('nan'))
    order = scores.argsort(descending=True, stable=True)[:k]
    return beams[order], scores[order]
