# Copyright (c) mmhier contributors. All rights reserved.
"""HierMultiLabelMetric with mmhier's (maximal path) definition: by hand,
against a loop-and-set reference, the threshold search and its file, and
the errors. ``test_hier_multi_label_authors.py`` covers the DHNN authors'
definition."""
import json
import os.path as osp
import sys
import tempfile
from unittest import TestCase

import numpy as np
import torch
from mmengine.logging import MMLogger
from mmpretrain.registry import METRICS

from mmhier.evaluation import HierMultiLabelMetric
from mmhier.structures import ClassTree

sys.path.insert(0, osp.dirname(osp.abspath(__file__)))
from multi_label_fixtures import VARIABLE, scores  # noqa: E402


ML_SCORES = [
    scores(A=.9, B=.8, C=.7, D=.1, E=.6, F=.2, G=.1, H=.4, I=.3),
    scores(A=.8, B=.3, C=.2, D=.6, E=.1, F=.9, G=.1, H=.1, I=.1),
    scores(A=.9, B=.6, C=.8, D=.2, E=.1, F=.4, G=.7, H=.9, I=.2),
]
ML_GT = [[[0, 2, 7], [1]], [[0, 3]], [[1, 5], [0, -2, -2]]]


def reference(score_rows, gt_rows, tree, thr, average):
    """Loop-and-set version of the documented rules, for cross-checking."""
    n = tree.num_nodes
    counts = {k: np.zeros((3, n)) for k in ('path', 'node')}  # tp, pp, gt
    for sc, rows in zip(score_rows, gt_rows):
        m = [min(sc[k] for k in tree.path(j)) for j in range(n)]
        nodes = {j for j in range(n) if m[j] >= thr}
        paths = {j for j in nodes if not set(tree.children(j)) & nodes}
        pos_n, pos_p, open_at = set(), set(), set()
        for r in rows:
            known = [x for x in r if x >= 0]
            pos_n |= set(known)
            if -2 in r:
                open_at.add(known[-1] if known else -1)
            elif known:
                pos_p.add(known[-1])

        def under(j, strict):
            anc = tree.path(j)
            anc = anc[:-1] if strict else anc
            return -1 in open_at or bool(set(anc) & open_at)

        for kind, pred, pos, strict in (('node', nodes, pos_n, True),
                                        ('path', paths, pos_p, False)):
            for j in range(n):
                judged = j in pos or not under(j, strict)
                c = counts[kind]
                c[0, j] += j in pred and j in pos
                c[1, j] += j in pred and judged
                c[2, j] += j in pos
    out = {}
    for kind, (tp, pp, gt) in counts.items():

        def prf(tp, pp, gt):
            p = 100 * tp / max(pp, 1)
            r = 100 * tp / max(gt, 1)
            return p, r, 2 * p * r / (p + r) if p + r else 0.0

        if average == 'micro':
            vals = prf(tp.sum(), pp.sum(), gt.sum())
        else:
            per = np.array([prf(*c) for c in zip(tp, pp, gt)])
            if average == 'weighted':
                w = gt / gt.sum()
            else:
                w = ((gt > 0) | (pp > 0)) / ((gt > 0) | (pp > 0)).sum()
            vals = tuple((per * w[:, None]).sum(0))
        for name, v in zip(('precision', 'recall', 'f1'), vals):
            out[f'{kind}_{name}'] = v
    return out


def random_data(tree, num, seed):
    rng = np.random.default_rng(seed)
    gts = []
    for _ in range(num):
        rows = []
        for _ in range(rng.integers(1, 4)):
            row = list(tree.path(int(rng.integers(tree.num_nodes))))
            if rng.random() < .2:
                row = row[:1] + [-2] * (tree.max_depth - 1)
            rows.append(row)
        gts.append(rows)
    return rng.random((num, tree.num_nodes)).round(2), gts


class TestHierMultiLabelMetric(TestCase):

    def tearDown(self):
        MMLogger._instance_dict.clear()

    def test_calculate_by_hand(self):
        res = HierMultiLabelMetric.calculate(ML_SCORES, ML_GT, VARIABLE, 0.5,
                                             ('micro', 'macro', 'weighted'))
        # At 0.5 the maximal selected paths are A/C and B/E (truth A/C/H
        # and B), A/D (truth A/D), B/G (truth B/F; A/C/H is not judged as
        # only A is annotated): one right of 4 predicted, 4 true.
        want = {
            'path_f1_micro': 25.0,
            'path_f1_weighted': 25.0,  # only A/D (support 1 of 4) scores
            'path_f1_macro': 100 / 7,  # 4 true + 3 wrongly predicted paths
            'node_precision_micro': 700 / 9,
            'node_f1_weighted': 700 / 9,
            'node_f1_macro': 50.0,  # A, B, C, D of A..H minus E, G, F, H
        }
        for k, v in want.items():
            self.assertAlmostEqual(res[k], v, msg=k)
        # Tensors, arrays and lists give the same numbers.
        self.assertEqual(
            HierMultiLabelMetric.calculate(
                np.array(ML_SCORES), ML_GT, VARIABLE, 0.5, 'micro'),
            HierMultiLabelMetric.calculate(
                torch.tensor(ML_SCORES), ML_GT, VARIABLE, 0.5, 'micro'))

    def test_matches_reference_rules(self):
        tree = ClassTree.build(VARIABLE)
        sc, gts = random_data(tree, 12, seed=0)
        for average in ('micro', 'macro', 'weighted'):
            for thr in (0.0, 0.3, 0.55, 0.8):
                got = HierMultiLabelMetric.calculate(sc, gts, tree, thr,
                                                     average)
                want = reference(sc, gts, tree, thr, average)
                for k in want:
                    self.assertAlmostEqual(
                        got[k], want[k], msg=(average, thr, k))

    def test_search_finds_the_best_threshold(self):
        tree = ClassTree.build(VARIABLE)
        sc, gts = random_data(tree, 15, seed=1)
        # Scores have 2 decimals: this grid holds each of them and every
        # midpoint between two of them.
        grid = np.linspace(0, 1, 201)
        for average, select_by in (('micro', 'path_f1'),
                                   ('weighted', 'path_f1'), ('macro',
                                                             'node_f1')):
            thr, best = HierMultiLabelMetric.search_threshold(
                sc, gts, tree, average, select_by)
            brute = max(
                HierMultiLabelMetric.calculate(sc, gts, tree, t, average)
                [select_by] for t in grid)
            self.assertAlmostEqual(best, brute)
            self.assertAlmostEqual(
                HierMultiLabelMetric.calculate(sc, gts, tree, thr,
                                               average)[select_by], best)
        # With few candidates (quantiles) it is still consistent.
        thr, f1 = HierMultiLabelMetric.search_threshold(
            sc, gts, tree, max_candidates=5)
        self.assertAlmostEqual(
            HierMultiLabelMetric.calculate(sc, gts, tree, thr)['path_f1'], f1)

    def test_val_threshold_is_stored_and_used_on_test(self):
        # Validation: A/C is right only for thresholds in (0.6, 0.7] (D's
        # 0.6 adds a wrong path below, A alone above): midpoint 0.65.
        val = [{
            'gt_path':
            torch.tensor([[0, 2, -1]]),
            'pred_score':
            torch.tensor(
                scores(A=.9, C=.7, D=.6, H=.3, I=.2, B=.1, E=.1, F=.1, G=.1))
        }]
        # Test: C scores 0.62; with 0.65 the path stops at A (wrong),
        # although a threshold of its own (<= 0.62) would be perfect.
        test = [{
            'gt_path':
            torch.tensor([[0, 2, -1]]),
            'pred_score':
            torch.tensor(
                scores(A=.9, C=.62, D=.5, H=.3, I=.2, B=.1, E=.1, F=.1, G=.1))
        }]
        with tempfile.TemporaryDirectory() as tmp:
            file = osp.join(tmp, 'hier_threshold.json')
            val_metric = METRICS.build(
                dict(
                    type='HierMultiLabelMetric',
                    threshold='auto',
                    threshold_file=file,
                    tree=VARIABLE))
            val_metric.process(None, val)
            res = val_metric.evaluate(1)
            self.assertAlmostEqual(res['hier/threshold'], 0.65, places=6)
            self.assertEqual(res['hier/path_f1'], 100.0)
            with open(file) as f:
                stored = json.load(f)
            self.assertAlmostEqual(stored['threshold'], 0.65, places=6)
            self.assertEqual(stored['select_by'], 'path_f1')
            self.assertEqual(stored['average'], 'weighted')
            self.assertEqual(stored['score'], 100.0)

            test_metric = METRICS.build(
                dict(
                    type='HierMultiLabelMetric',
                    threshold='from_val',
                    threshold_file=file,
                    tree=VARIABLE))
            test_metric.process(None, test)
            res = test_metric.evaluate(1)
        self.assertAlmostEqual(res['hier/threshold'], 0.65, places=6)
        self.assertEqual(res['hier/path_f1'], 0.0)
        self.assertEqual(res['hier/node_recall'], 50.0)  # A of A, C
        own = HierMultiLabelMetric.search_threshold(
            [t['pred_score'] for t in test], [t['gt_path'] for t in test],
            VARIABLE)
        self.assertEqual(own[1], 100.0)

    def test_errors(self):
        with self.assertRaisesRegex(ValueError, 'needs threshold_file'):
            METRICS.build(
                dict(type='HierMultiLabelMetric', threshold='from_val'))
        with self.assertRaisesRegex(ValueError, "got 'best'"):
            METRICS.build(dict(type='HierMultiLabelMetric', threshold='best'))
        with self.assertRaisesRegex(ValueError, "got \\('samples',\\)"):
            METRICS.build(dict(type='HierMultiLabelMetric', average='samples'))
        with self.assertRaisesRegex(ValueError, "got 'f1'"):
            METRICS.build(dict(type='HierMultiLabelMetric', select_by='f1'))
        with self.assertRaisesRegex(ValueError, "got 'paper'"):
            METRICS.build(
                dict(type='HierMultiLabelMetric', definition='paper'))
        with self.assertRaisesRegex(ValueError, "definition='maximal'"):
            METRICS.build(
                dict(
                    type='HierMultiLabelMetric',
                    threshold=.5,
                    node_threshold=.4))
        with self.assertRaisesRegex(ValueError, 'search_step.*got 0'):
            METRICS.build(dict(type='HierMultiLabelMetric', search_step=0))
        metric = METRICS.build(
            dict(type='HierMultiLabelMetric', tree=VARIABLE))
        with self.assertRaisesRegex(KeyError, 'no pred_score'):
            metric.process(None, [{'gt_path': torch.tensor([[0, 2, -1]])}])
        with self.assertRaisesRegex(ValueError, '8 classes but the tree'):
            metric.process(None, [{
                'gt_path': torch.tensor([[0, 2, -1]]),
                'pred_score': torch.zeros(8)
            }])
