# Copyright (c) mmhier contributors. All rights reserved.
from typing import Any, Dict, List, Optional, Sequence, Tuple, Union

import torch
from mmengine.logging import MessageHub, print_log
from mmpretrain.registry import METRICS

from mmhier.structures import ClassTree
from ..functional import (get_gt_paths, get_pred_score, gt_node_sets,
                          max_child_scores, path_min_scores, resolve_threshold,
                          save_threshold, to_paths, to_scores)
from .base_hier_metric import BaseHierMetric, f1_from

AVERAGES = ('micro', 'macro', 'weighted')
KINDS = ('path', 'node')
Averages = Union[str, Sequence[str]]


@METRICS.register_module()
class HierMultiLabelMetric(BaseHierMetric):
    r"""Path F1 and node F1 of multi-label path prediction, with the
    threshold chosen on validation (DHNN paper, sec. 4.2, Open Images).

    Each sample has several ground-truth paths and sigmoid node scores
    ``pred_score`` (N,) (a hierarchical head's node scores, or a flat
    sigmoid classifier over the N nodes). The score of the path ending at
    node j is the minimum node score along it, :math:`m_j`; "a path is
    selected if all logits of the nodes in the path are above the
    threshold" becomes :math:`m_j \ge \tau`.

    - **node F1**: the classes are the N nodes; node j is predicted when
      :math:`m_j \ge \tau` (the union of the selected paths), and is true
      when it lies on a ground-truth path.
    - **path F1**: the classes are the N root-to-node paths, named by their
      last node. The path ending at j is predicted when it is selected and
      none of its children's paths is (it is a maximal selected path: a
      selected path that goes on is scored as the longer path only); it is
      true when it is one of the ground-truth paths as a whole. So a
      prediction that stops above a ground-truth leaf, or goes below a
      ground truth that stops at an inner node, is wrong for both paths.
    - ``PATH_UNKNOWN``: for a ground-truth row known only down to node v,
      v's nodes are positives, nodes strictly below v are not judged, and
      no path ending at v or below is judged (the true path may stop at v
      or go deeper).
    - **averaging** over classes, each with precision, recall and F1 as in
      scikit-learn: ``micro`` pools the counts of all (sample, class)
      pairs; ``macro`` is the plain mean of the per-class values over the
      classes that occur in the ground truth or are predicted (paths that
      never occur would otherwise count 0); ``weighted`` weights the
      per-class values by their ground-truth support, the averaging the
      DHNN authors used (a predicted class without support then weighs
      nothing: ``micro`` is the average that penalises predicting paths
      that never occur). A ratio with a zero denominator is 0.

    Threshold: with ``threshold='auto'`` (validation) every distinct path
    score of the data is a candidate (up to ``max_candidates`` of them,
    else evenly spaced quantiles of them) and the one with the best
    ``select_by`` F1 (first ``average``; ties go to the higher threshold)
    is kept. Any threshold between that score and the next lower distinct
    one selects the same paths, so the midpoint is stored, applied and
    returned as ``hier/threshold``; it is logged and, with
    ``threshold_file``, written to JSON. With ``threshold='from_val'``
    (testing) the stored value is read from ``threshold_file`` and
    applied unchanged; a float is applied as is. ``tools/train.py`` and
    ``tools/test.py`` point ``threshold_file`` at
    ``<work_dir>/hier_threshold.json`` when it is None
    (:func:`mmhier.evaluation.set_threshold_files`).

    Values are percentages. Result keys: ``hier/path_f1``,
    ``hier/path_precision``, ``hier/path_recall``, ``hier/node_f1``,
    ``hier/node_precision``, ``hier/node_recall``, ``hier/threshold``;
    with several averages each key ends in ``_{average}``.

    Args:
        threshold: ``'auto'`` (search, store), ``'from_val'`` (read
            ``threshold_file``) or a float.
        threshold_file: The JSON file of the threshold.
        average: ``'micro'``, ``'macro'``, ``'weighted'`` or a sequence of
            them. Defaults to ``'weighted'``.
        select_by: ``'path_f1'`` or ``'node_f1'``: the F1 the search
            maximises. Defaults to ``'path_f1'``.
        max_candidates: Most thresholds tried by the search.
        tree: The class tree; defaults to ``dataset_meta['class_tree']``.
        collect_device: Device for gathering results across ranks.
        prefix: Prefix of the result keys. Defaults to ``'hier'``.
        collect_dir: Directory for gathering results on the CPU.
    """

    def __init__(self,
                 threshold: Union[float, str] = 'auto',
                 threshold_file: Optional[str] = None,
                 average: Averages = 'weighted',
                 select_by: str = 'path_f1',
                 max_candidates: int = 1000,
                 tree: Any = None,
                 collect_device: str = 'cpu',
                 prefix: Optional[str] = None,
                 collect_dir: Optional[str] = None) -> None:
        super().__init__(
            tree=tree,
            collect_device=collect_device,
            prefix=prefix,
            collect_dir=collect_dir)
        if not (threshold in ('auto', 'from_val')
                or isinstance(threshold, (int, float))):
            raise ValueError("threshold must be 'auto', 'from_val' or a "
                             f'float, got {threshold!r}')
        if threshold == 'from_val' and threshold_file is None:
            raise ValueError(
                "threshold='from_val' needs threshold_file (tools/test.py "
                'sets it to <work_dir>/hier_threshold.json)')
        if select_by not in ('path_f1', 'node_f1'):
            raise ValueError("select_by must be 'path_f1' or 'node_f1', got "
                             f'{select_by!r}')
        if not isinstance(max_candidates, int) or max_candidates < 2:
            raise ValueError('max_candidates must be an int >= 2, got '
                             f'{max_candidates!r}')
        self.threshold = threshold
        self.threshold_file = threshold_file
        self.average = _check_average(average)
        self.select_by = select_by
        self.max_candidates = max_candidates

    def process(self, data_batch: Any, data_samples: Sequence[dict]) -> None:
        """Store the ground-truth paths and node scores of each sample."""
        tree = self.tree
        for sample in data_samples:
            self.results.append(
                dict(
                    gt_path=get_gt_paths(sample, tree),
                    pred_score=get_pred_score(sample, tree)))

    def compute_metrics(self, results: List[dict]) -> Dict[str, float]:
        tree = self.tree
        gt = self.stack_paths([r['gt_path'] for r in results])
        scores = torch.stack([r['pred_score'] for r in results])
        name = type(self).__name__
        if self.threshold == 'auto':
            threshold, best = self.search_threshold(scores, gt, tree,
                                                    self.average[0],
                                                    self.select_by,
                                                    self.max_candidates)
            print_log(
                f'{name}: threshold {threshold:.6g} maximises validation '
                f'{self.select_by} ({self.average[0]}) = {best:.4f} on '
                f'{len(results)} samples',
                logger='current')
            if self.threshold_file is not None:
                hub = MessageHub.get_current_instance()
                save_threshold(
                    self.threshold_file,
                    threshold,
                    select_by=self.select_by,
                    average=self.average[0],
                    score=best,
                    num_samples=len(results),
                    epoch=hub.get_info('epoch'),
                    iter=hub.get_info('iter'))
                print_log(
                    f'{name}: threshold saved to '
                    f'{self.threshold_file}',
                    logger='current')
        else:
            threshold = resolve_threshold(self.threshold, self.threshold_file)
            source = (f'from {self.threshold_file}'
                      if self.threshold == 'from_val' else 'as configured')
            print_log(
                f'{name}: threshold {threshold:.6g} ({source})',
                logger='current')
        out = self.calculate(scores, gt, tree, threshold, self.average)
        out['threshold'] = threshold
        return out

    @staticmethod
    def calculate(pred_scores: Any,
                  gt_paths: Any,
                  tree: Any,
                  threshold: float = 0.5,
                  average: Averages = 'weighted') -> Dict[str, float]:
        """Path and node precision, recall and F1 at one threshold.

        Args:
            pred_scores: ``(B, N)`` node scores (tensor, array or lists).
            gt_paths: ``(B, P, T)`` ground-truth paths (or ``(B, T)``;
                ragged lists are padded).
            tree: The class tree (anything :meth:`ClassTree.build` takes).
            threshold: A path is selected when all its node scores are at
                least this.
            average: One or several of ``'micro'``, ``'macro'``,
                ``'weighted'``.

        Returns:
            dict: ``{kind}_{precision,recall,f1}`` for kind ``path`` and
            ``node``, in percent; keys end in ``_{average}`` when several
            averages are asked for.
        """
        average = _check_average(average)
        tree = ClassTree.build(tree)
        counts = _counts(pred_scores, gt_paths, tree,
                         torch.tensor([float(threshold)], dtype=torch.double))
        out = {}
        for kind in KINDS:
            for avg in average:
                values = _average(*counts[kind], avg)
                tail = f'_{avg}' if len(average) > 1 else ''
                for name, v in zip(('precision', 'recall', 'f1'), values):
                    out[f'{kind}_{name}{tail}'] = float(v[0])
        return out

    @staticmethod
    def search_threshold(pred_scores: Any,
                         gt_paths: Any,
                         tree: Any,
                         average: str = 'weighted',
                         select_by: str = 'path_f1',
                         max_candidates: int = 1000) -> Tuple[float, float]:
        """The threshold that maximises F1 on the given (validation) data.

        Args:
            pred_scores: ``(B, N)`` node scores.
            gt_paths: ``(B, P, T)`` ground-truth paths.
            tree: The class tree.
            average: ``'micro'``, ``'macro'`` or ``'weighted'``.
            select_by: ``'path_f1'`` or ``'node_f1'``.
            max_candidates: Most thresholds tried; beyond that many
                distinct path scores, evenly spaced quantiles are tried.

        Returns:
            tuple: the threshold and the F1 (percent) it reaches.
        """
        (average, ) = _check_average(average)
        if select_by not in ('path_f1', 'node_f1'):
            raise ValueError("select_by must be 'path_f1' or 'node_f1', got "
                             f'{select_by!r}')
        tree = ClassTree.build(tree)
        scores = to_scores(pred_scores, 'pred_scores').double()
        if scores.dim() != 2 or scores.numel() == 0:
            raise ValueError('pred_scores must be a non-empty (B, N) '
                             f'array, got shape {tuple(scores.shape)}')
        # Selections only change at the distinct path scores.
        distinct = torch.unique(path_min_scores(scores, tree))
        exact = len(distinct) <= max_candidates
        if exact:
            cands = distinct
        else:
            pick = torch.linspace(0, len(distinct) - 1, max_candidates)
            cands = distinct[pick.round().long().unique()]
        counts = _counts(scores, gt_paths, tree, cands)
        f1 = _average(*counts[select_by[:4]], average)[2]
        # Ties go to the higher threshold (fewer predicted paths).
        g = len(f1) - 1 - int(torch.argmax(f1.flip(0)))
        threshold = float(cands[g])
        if exact and g > 0:
            # Any value in (previous distinct score, cands[g]] selects the
            # same paths: keep the midpoint, robust to small score shifts.
            threshold = float((cands[g - 1] + cands[g]) / 2)
        return threshold, float(f1[g])


def _check_average(average: Averages) -> Tuple[str, ...]:
    average = (average, ) if isinstance(average, str) else tuple(average)
    if not average or any(a not in AVERAGES for a in average):
        raise ValueError(f'average must be one or several of {AVERAGES}, '
                         f'got {average!r}')
    return average


def _counts(pred_scores: Any, gt_paths: Any, tree: ClassTree,
            cands: torch.Tensor) -> Dict[str, tuple]:
    """Per-class counts at each candidate threshold, without a loop over
    thresholds.

    Node j is predicted at threshold c when ``m_j >= c`` and the path
    ending at j when ``max_child_m_j < c <= m_j``: each (sample, class)
    pair is predicted for an interval of thresholds, so the counts come
    from +1/-1 marks at the interval ends and a cumulative sum.

    Returns:
        dict: for ``'path'`` and ``'node'``, ``(tp, pred_pos, support)``
        with ``tp``, ``pred_pos`` ``(G, N)`` and ``support`` ``(N,)``.
    """
    scores = to_scores(pred_scores, 'pred_scores').double()
    gt = to_paths(gt_paths, tree.max_depth, 'gt_paths')
    if gt.dim() == 2:
        gt = gt[:, None]
    if scores.dim() != 2 or scores.shape[0] != gt.shape[0]:
        raise ValueError(f'pred_scores must be (B, N) for {gt.shape[0]} '
                         f'samples, got shape {tuple(scores.shape)}')
    m = path_min_scores(scores, tree)
    lo = max_child_scores(m, tree)
    node_pos, node_judged, path_pos, path_judged = gt_node_sets(gt, tree)
    g, n = len(cands), tree.num_nodes
    # end: number of candidates <= m, i.e. the first g with c_g > m.
    end = torch.searchsorted(cands, m, right=True)
    column = torch.arange(n).expand_as(m)
    out = {}
    for kind, start, pos, judged in (('node', torch.zeros_like(end), node_pos,
                                      node_judged), ('path',
                                                     torch.searchsorted(
                                                         cands, lo,
                                                         right=True), path_pos,
                                                     path_judged)):
        live = start < end
        marks = []
        for weight in (pos & live, judged & live):
            w = weight.double()
            delta = torch.zeros((g + 1) * n, dtype=torch.double)
            delta.index_add_(0, (start * n + column).flatten(), w.flatten())
            delta.index_add_(0, (end * n + column).flatten(), -w.flatten())
            marks.append(delta.view(g + 1, n).cumsum(0)[:g].round())
        out[kind] = (marks[0], marks[1], pos.sum(0).double())
    return out


def _average(tp: torch.Tensor, pred_pos: torch.Tensor, support: torch.Tensor,
             average: str) -> tuple:
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
