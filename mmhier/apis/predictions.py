# Copyright (c) mmhier contributors. All rights reserved.
"""Format the top-k label paths of a predicted DataSample, for users.

The paths and their scores are read by
:func:`mmhier.evaluation.functional.sample_topk_paths` (re-exported here);
its module docstring says how each kind of head's score becomes a
probability in ``[0, 1]``.
"""
from typing import Any, Dict, List, Optional

import torch

from mmhier.evaluation.functional.topk_paths import (check_node_scores,
                                                     sample_field,
                                                     sample_topk_paths)
from mmhier.structures import ClassTree

__all__ = ['sample_topk_paths', 'path_entries', 'format_prediction']


def path_entries(paths: torch.Tensor, scores: torch.Tensor,
                 tree: ClassTree) -> List[Dict[str, Any]]:
    """Plain-Python entries of paths: ``nodes`` (names), ``display``
    (display names), ``indices`` (node indices) and ``score`` (float)."""
    entries = []
    for path, score in zip(paths.tolist(), scores.tolist()):
        idx = [i for i in path if i >= 0]
        entries.append(
            dict(
                nodes=[tree.names[i] for i in idx],
                display=[tree.display_names[i] for i in idx],
                indices=idx,
                score=float(score)))
    return entries


def format_prediction(sample: Any,
                      tree: ClassTree,
                      k: int,
                      threshold: Optional[float] = None) -> dict:
    """The user-facing result of one predicted sample.

    Args:
        sample: A predicted :class:`DataSample` (or its dict).
        tree: The class tree of the model.
        k: How many paths.
        threshold: The multi-label threshold in use (the checkpoint's
            validated one, see :class:`HierInferencer`). A hierarchical
            multi-label head has already selected its ``pred_paths`` with
            it; for a sample without ``pred_paths`` (a flat sigmoid model
            over the N nodes) the paths whose node scores are all
            ``>= threshold`` are selected here (the deepest of them, as the
            heads do, any node may end a path).

    Returns:
        dict with ``paths`` (the top-k entries of :func:`path_entries`, best
        first), ``pred_label`` (index of the last node of the best path),
        ``pred_class`` (its name), ``pred_score`` (the best path's score),
        ``pred_scores`` (the sample's ``pred_score`` ``(N,)`` as a numpy
        array, when present) and, for multi-label predictions,
        ``selected_paths`` (the selected paths, scored by their minimum
        node score) and ``threshold``.
    """
    paths, scores = sample_topk_paths(sample, tree, k)
    entries = path_entries(paths, scores, tree)
    best = entries[0]['indices'] if entries else []
    label = best[-1] if best else -1
    result = dict(
        paths=entries,
        pred_label=label,
        pred_class=tree.names[label] if label >= 0 else None,
        pred_score=entries[0]['score'] if entries else float('nan'))
    pred_score = sample_field(sample, 'pred_score')
    if pred_score is not None:
        result['pred_scores'] = pred_score.reshape(-1).float().numpy()
    selected = sample_field(sample, 'pred_paths')
    if selected is None and threshold is not None and pred_score is not None:
        from mmhier.models.utils import select_label_nodes
        node = check_node_scores(pred_score, tree)
        keep = select_label_nodes(node[None], tree, float(threshold),
                                  torch.ones(tree.num_nodes,
                                             dtype=torch.bool))[0]
        selected = tree.tensor('path_matrix')[keep]
    if selected is not None and threshold is not None:
        result['threshold'] = float(threshold)
    if selected is not None and pred_score is not None:
        from mmhier.evaluation.functional import last_nodes, path_min_scores
        selected = selected.reshape(-1, tree.max_depth).long()
        sel_scores = path_min_scores(
            check_node_scores(pred_score, tree)[None], tree)[0]
        last = last_nodes(selected)
        result['selected_paths'] = path_entries(selected,
                                                sel_scores[last.clamp(min=0)],
                                                tree)
    return result
