# Copyright (c) mmhier contributors. All rights reserved.
from typing import Any, Dict, List, Optional, Sequence, Tuple, Union

import torch
from mmengine.logging import MessageHub, print_log
from mmpretrain.registry import METRICS

from mmhier.structures import ClassTree
from ..functional import (find_val_threshold, get_gt_paths, get_pred_score,
                          save_threshold, to_scores)
from .base_hier_metric import BaseHierMetric
from .multi_label_counts import (AVERAGES, DEFINITIONS, KINDS, Averages,
                                 average_f1, check_average, check_definition,
                                 check_step, ingredients, interval_counts)

__all__ = ['HierMultiLabelMetric', 'AVERAGES', 'KINDS', 'DEFINITIONS']


@METRICS.register_module()
class HierMultiLabelMetric(BaseHierMetric):
    r"""Path F1 and node F1 of multi-label path prediction, with the
    threshold chosen on validation (DHNN paper, sec. 4.2, Open Images).

    Each sample has several ground-truth paths and sigmoid node scores
    ``pred_score`` (N,) (a hierarchical head's node scores, or a flat
    sigmoid classifier over the N nodes). The score of the path ending at
    node j is the minimum node score along it, :math:`m_j`; "a path is
    selected if all logits of the nodes in the path are above the
    threshold" becomes :math:`m_j \ge \tau` (the rule of the heads too).
    The classes are the N nodes, and the N root-to-node paths named by
    their last node. A path is *true* when it is one of the ground-truth
    paths as a whole; a node when it lies on a ground-truth path.

    ``definition='maximal'`` (mmhier's default):

    - **node F1**: node j is predicted when :math:`m_j \ge \tau` (the
      union of the selected paths);
    - **path F1**: the path ending at j is predicted when it is selected
      and none of its children's paths is (a maximal selected path: a
      selected path that goes on is scored as the longer path only). So a
      prediction that stops above a ground-truth leaf, or goes below a
      ground truth that stops at an inner node, is wrong for both paths.
    - one threshold, tuned for ``select_by``, serves both scores.

    ``definition='authors'`` (the DHNN authors' evaluation scripts,
    ``PR-path-bulk-ori-val-te.py`` and ``PR-kube-node-bulk-val-te.py`` in
    github.com/jaehoonkoo/h_classification):

    - **path F1**: every selected path is predicted, its prefixes included
      (:math:`m_j \ge \tau`);
    - **node F1**: node j is predicted on its own sigmoid,
      :math:`s_j \ge \tau_{node}`, whatever its ancestors score;
    - with ``threshold='auto'`` the path threshold is tuned for path F1
      and a separate ``node_threshold`` for node F1.

    Common to both:

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

    Threshold: with ``threshold='auto'`` (validation) every distinct score
    that can change the predictions is a candidate (up to
    ``max_candidates`` of them, else evenly spaced quantiles of them; or
    the grid ``0, search_step, ..., 1``, the authors used 0.01) and the one
    with the best F1 (first ``average``; ties go to the higher threshold)
    is kept. Any threshold between that score and the next lower distinct
    one selects the same paths, so the midpoint is stored, applied and
    returned as ``hier/threshold`` (and ``hier/node_threshold``); it is
    logged and, with ``threshold_file``, written to JSON. With
    ``threshold='from_val'`` (testing) the threshold stored in the tested
    checkpoint by :class:`mmhier.engine.hooks.HierThresholdHook` is applied,
    else the latest entry of ``threshold_file`` (with a warning, see
    :func:`mmhier.evaluation.functional.find_val_threshold`); a float is
    applied as is. ``tools/train.py`` and ``tools/test.py`` point
    ``threshold_file`` at ``<work_dir>/hier_threshold.json`` (another
    ``prefix``: ``<work_dir>/<prefix>_threshold.json``) when it is None
    (:func:`mmhier.evaluation.set_threshold_files`).

    Values are percentages. Result keys: ``hier/path_f1``,
    ``hier/path_precision``, ``hier/path_recall``, ``hier/node_f1``,
    ``hier/node_precision``, ``hier/node_recall``, ``hier/threshold``
    (and ``hier/node_threshold`` with ``definition='authors'``); with
    several averages each F1/precision/recall key ends in ``_{average}``.

    Args:
        threshold: ``'auto'`` (search, store), ``'from_val'`` (the tested
            checkpoint's, else ``threshold_file``'s) or a float.
        threshold_file: The JSON file of the threshold.
        average: ``'micro'``, ``'macro'``, ``'weighted'`` or a sequence of
            them. Defaults to ``'weighted'``.
        select_by: ``'path_f1'`` or ``'node_f1'``: the F1 the search
            maximises with ``definition='maximal'``. Defaults to
            ``'path_f1'``.
        definition: ``'maximal'`` or ``'authors'`` (see above).
        node_threshold: With ``definition='authors'`` and a float
            ``threshold``: the node threshold (defaults to ``threshold``).
        search_step: Search the grid ``0, step, ..., 1`` instead of every
            distinct score (the authors: 0.01). None for the exact search.
        max_candidates: Most thresholds tried by the exact search.
        tree: The class tree; defaults to ``dataset_meta['class_tree']``.
        collect_device: Device for gathering results across ranks.
        prefix: Prefix of the result keys. Defaults to ``'hier'``.
        collect_dir: Directory for gathering results on the CPU.

    Examples:
        >>> # both definitions side by side (the Open Images configs)
        >>> val_evaluator = [
        ...     dict(type='HierMultiLabelMetric', threshold='auto'),
        ...     dict(type='HierMultiLabelMetric', threshold='auto',
        ...          definition='authors', search_step=0.01,
        ...          prefix='hier_authors')]
    """

    def __init__(self,
                 threshold: Union[float, str] = 'auto',
                 threshold_file: Optional[str] = None,
                 average: Averages = 'weighted',
                 select_by: str = 'path_f1',
                 definition: str = 'maximal',
                 node_threshold: Optional[float] = None,
                 search_step: Optional[float] = None,
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
        check_definition(definition)
        if node_threshold is not None and (
                definition != 'authors'
                or not isinstance(threshold, (int, float))):
            raise ValueError(
                "node_threshold goes with definition='authors' and a float "
                f'threshold, got node_threshold={node_threshold!r}, '
                f'definition={definition!r}, threshold={threshold!r}')
        check_step(search_step)
        if not isinstance(max_candidates, int) or max_candidates < 2:
            raise ValueError('max_candidates must be an int >= 2, got '
                             f'{max_candidates!r}')
        self.threshold = threshold
        self.threshold_file = threshold_file
        self.average = check_average(average)
        self.select_by = select_by
        self.definition = definition
        self.node_threshold = node_threshold
        self.search_step = search_step
        self.max_candidates = max_candidates

    def process(self, data_batch: Any, data_samples: Sequence[dict]) -> None:
        """Store the ground-truth paths and node scores of each sample."""
        tree = self.tree
        for sample in data_samples:
            self.results.append(
                dict(
                    gt_path=get_gt_paths(sample, tree),
                    pred_score=get_pred_score(sample, tree)))

    def _fields(self) -> Tuple[Tuple[str, str], ...]:
        """``(result field, F1 it is tuned for)`` of each threshold."""
        if self.definition == 'authors':
            return (('threshold', 'path_f1'), ('node_threshold', 'node_f1'))
        return (('threshold', self.select_by), )

    def compute_metrics(self, results: List[dict]) -> Dict[str, float]:
        tree = self.tree
        gt = self.stack_paths([r['gt_path'] for r in results])
        scores = torch.stack([r['pred_score'] for r in results])
        name = type(self).__name__
        thresholds: Dict[str, float] = {}
        if self.threshold == 'auto':
            info: Dict[str, Any] = {}
            for field, select_by in self._fields():
                thr, best = self.search_threshold(scores, gt, tree,
                                                  self.average[0], select_by,
                                                  self.max_candidates,
                                                  self.definition,
                                                  self.search_step)
                thresholds[field] = thr
                info[field] = (select_by, best)
                print_log(
                    f'{name} ({self.prefix}, {self.definition}): {field} '
                    f'{thr:.6g} maximises validation {select_by} '
                    f'({self.average[0]}) = {best:.4f} on {len(results)} '
                    'samples',
                    logger='current')
            if self.threshold_file is not None:
                hub = MessageHub.get_current_instance()
                extra = {}
                if 'node_threshold' in thresholds:
                    extra = dict(
                        node_threshold=thresholds['node_threshold'],
                        node_score=info['node_threshold'][1])
                save_threshold(
                    self.threshold_file,
                    thresholds['threshold'],
                    **extra,
                    select_by=info['threshold'][0],
                    average=self.average[0],
                    score=info['threshold'][1],
                    definition=self.definition,
                    num_samples=len(results),
                    epoch=hub.get_info('epoch'),
                    iter=hub.get_info('iter'))
                print_log(
                    f'{name}: threshold saved to '
                    f'{self.threshold_file}',
                    logger='current')
        else:
            for field, _ in self._fields():
                if self.threshold == 'from_val':
                    key = f'{self.prefix}/{field}' if self.prefix else field
                    value, source = find_val_threshold(self.threshold_file,
                                                       key)
                else:
                    value = self.threshold
                    if field == 'node_threshold' and \
                            self.node_threshold is not None:
                        value = self.node_threshold
                    value, source = float(value), 'as configured'
                thresholds[field] = value
                print_log(
                    f'{name} ({self.prefix}, {self.definition}): {field} '
                    f'{value:.6g} ({source})',
                    logger='current')
        out = self.calculate(scores, gt, tree, thresholds['threshold'],
                             self.average, self.definition,
                             thresholds.get('node_threshold'))
        out.update(thresholds)
        return out

    @staticmethod
    def calculate(pred_scores: Any,
                  gt_paths: Any,
                  tree: Any,
                  threshold: float = 0.5,
                  average: Averages = 'weighted',
                  definition: str = 'maximal',
                  node_threshold: Optional[float] = None) -> Dict[str, float]:
        """Path and node precision, recall and F1 at fixed thresholds.

        Args:
            pred_scores: ``(B, N)`` node scores (tensor, array or lists).
            gt_paths: ``(B, P, T)`` ground-truth paths (or ``(B, T)``;
                ragged lists are padded).
            tree: The class tree (anything :meth:`ClassTree.build` takes).
            threshold: A path is selected when all its node scores are at
                least this.
            average: One or several of ``'micro'``, ``'macro'``,
                ``'weighted'``.
            definition: ``'maximal'`` or ``'authors'`` (see the class).
            node_threshold: ``'authors'`` only: the threshold on each
                node's own score; defaults to ``threshold``.

        Returns:
            dict: ``{kind}_{precision,recall,f1}`` for kind ``path`` and
            ``node``, in percent; keys end in ``_{average}`` when several
            averages are asked for.

        Examples:
            >>> tree = {'A': ['C'], 'B': []}  # A=0, B=1, C=2
            >>> # truth A/C; C scores .4: A is selected, A/C is not
            >>> res = HierMultiLabelMetric.calculate(
            ...     [[.9, .1, .4]], [[[0, 2]]], tree, .5,
            ...     definition='authors')
            >>> res['path_precision'], res['node_recall']
            (0.0, 50.0)
        """
        average = check_average(average)
        check_definition(definition)
        tree = ClassTree.build(tree)
        if node_threshold is not None and definition != 'authors':
            raise ValueError("node_threshold goes with definition='authors'"
                             f', got definition={definition!r}')
        thresholds = dict(
            path=threshold,
            node=threshold if node_threshold is None else node_threshold)
        parts = ingredients(pred_scores, gt_paths, tree, definition)
        out = {}
        for kind in KINDS:
            cand = torch.tensor([float(thresholds[kind])], dtype=torch.double)
            counts = interval_counts(*parts[kind], cand)
            for avg in average:
                values = average_f1(*counts, avg)
                tail = f'_{avg}' if len(average) > 1 else ''
                for name, v in zip(('precision', 'recall', 'f1'), values):
                    out[f'{kind}_{name}{tail}'] = float(v[0])
        return out

    @staticmethod
    def search_threshold(
            pred_scores: Any,
            gt_paths: Any,
            tree: Any,
            average: str = 'weighted',
            select_by: str = 'path_f1',
            max_candidates: int = 1000,
            definition: str = 'maximal',
            search_step: Optional[float] = None) -> Tuple[float, float]:
        """The threshold that maximises F1 on the given (validation) data.

        Args:
            pred_scores: ``(B, N)`` node scores.
            gt_paths: ``(B, P, T)`` ground-truth paths.
            tree: The class tree.
            average: ``'micro'``, ``'macro'`` or ``'weighted'``.
            select_by: ``'path_f1'`` or ``'node_f1'``; with
                ``definition='authors'`` the node F1's threshold is the
                ``node_threshold``.
            max_candidates: Most thresholds tried; beyond that many
                distinct scores, evenly spaced quantiles are tried.
            definition: ``'maximal'`` or ``'authors'``.
            search_step: Try the grid ``0, step, ..., 1`` instead (the
                threshold returned is then a grid value).

        Returns:
            tuple: the threshold and the F1 (percent) it reaches.
        """
        (average, ) = check_average(average)
        if select_by not in ('path_f1', 'node_f1'):
            raise ValueError("select_by must be 'path_f1' or 'node_f1', got "
                             f'{select_by!r}')
        check_definition(definition)
        check_step(search_step)
        tree = ClassTree.build(tree)
        scores = to_scores(pred_scores, 'pred_scores').double()
        if scores.dim() != 2 or scores.numel() == 0:
            raise ValueError('pred_scores must be a non-empty (B, N) '
                             f'array, got shape {tuple(scores.shape)}')
        parts = ingredients(scores, gt_paths, tree, definition)
        lo, hi, pos, judged = parts[select_by[:4]]
        if search_step is not None:
            # float32 grid values, as the authors' np.float32(p * 0.01):
            # float32 scores equal to a grid value then compare as equal
            steps = int(round(1 / search_step))
            cands = (torch.arange(steps + 1, dtype=torch.double) *
                     search_step).clamp(max=1.).float().double()
            exact = False
        else:
            # The predictions only change at the distinct values of hi
            # (lo, for maximal paths, holds values of hi too).
            distinct = torch.unique(hi)
            exact = len(distinct) <= max_candidates
            if exact:
                cands = distinct
            else:
                pick = torch.linspace(0, len(distinct) - 1, max_candidates)
                cands = distinct[pick.round().long().unique()]
        f1 = average_f1(*interval_counts(lo, hi, pos, judged, cands),
                        average)[2]
        # Ties go to the higher threshold (fewer predicted paths).
        g = len(f1) - 1 - int(torch.argmax(f1.flip(0)))
        threshold = float(cands[g])
        if exact and g > 0:
            # Any value in (previous distinct score, cands[g]] selects the
            # same paths: keep the midpoint, robust to small score shifts.
            threshold = float((cands[g - 1] + cands[g]) / 2)
        return threshold, float(f1[g])
