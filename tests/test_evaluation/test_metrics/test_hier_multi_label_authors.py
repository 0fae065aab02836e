# Copyright (c) mmhier contributors. All rights reserved.
"""HierMultiLabelMetric with the DHNN authors' definition
(``definition='authors'``): by hand, against a brute-force version of the
authors' scripts, and its two separately searched thresholds."""
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


def authors_reference(score_rows, gt_rows, tree, thr, node_thr, average):
    """The DHNN authors' scripts by brute force: a path class is predicted
    when every node on it scores >= thr (prefixes of a selected path
    included), true when a ground-truth row ends there; a node is
    predicted when its own score is >= node_thr, true when it lies on a
    ground-truth row. Closed ground truth only."""
    n = tree.num_nodes
    counts = {k: np.zeros((3, n)) for k in ('path', 'node')}  # tp, pp, gt
    for sc, rows in zip(score_rows, gt_rows):
        rows = [[x for x in r if x >= 0] for r in rows]
        pred = {
            'path':
            {j
             for j in range(n) if all(sc[k] >= thr for k in tree.path(j))},
            'node': {j
                     for j in range(n) if sc[j] >= node_thr}
        }
        true = {
            'path': {r[-1]
                     for r in rows if r},
            'node': {x
                     for r in rows
                     for x in r}
        }
        for kind in ('path', 'node'):
            for j in range(n):
                counts[kind][0, j] += j in pred[kind] and j in true[kind]
                counts[kind][1, j] += j in pred[kind]
                counts[kind][2, j] += j in true[kind]
    out = {}
    for kind, (tp, pp, gt) in counts.items():
        if average == 'micro':
            tp, pp, gt = tp.sum(), pp.sum(), gt.sum()
            p, r = tp / max(pp, 1), tp / max(gt, 1)
            f = 2 * p * r / (p + r) if p + r else 0.
        else:  # weighted, as sklearn's precision_recall_fscore_support
            per_p = [t / q if q else 0. for t, q in zip(tp, pp)]
            per_r = [t / g if g else 0. for t, g in zip(tp, gt)]
            per_f = [
                2 * a * b / (a + b) if a + b else 0.
                for a, b in zip(per_p, per_r)
            ]
            w = gt / gt.sum()
            p, r, f = (float(np.dot(w, v)) for v in (per_p, per_r, per_f))
        for name, v in zip(('precision', 'recall', 'f1'), (p, r, f)):
            out[f'{kind}_{name}'] = 100 * v
    return out


def prefix_data(tree, num, seed):
    """Random scores (2 decimals) and closed ground-truth rows, some of
    them prefixes of others (an image labelled both 'A' and 'A/C/H')."""
    rng = np.random.default_rng(seed)
    gts = []
    for _ in range(num):
        rows = [
            list(tree.path(int(j)))
            for j in rng.choice(tree.num_nodes, rng.integers(1, 3), False)
        ]
        deep = [r for r in rows if len(r) > 1]
        if deep and rng.random() < .6:
            rows.append(deep[0][:int(rng.integers(1, len(deep[0])))])
        gts.append(rows)
    # float32, as a model's sigmoid scores
    return rng.random((num, tree.num_nodes)).round(2).astype(np.float32), gts


class TestHierMultiLabelAuthors(TestCase):

    def tearDown(self):
        MMLogger._instance_dict.clear()

    def test_authors_definition_by_hand(self):
        # Sample 1: truth A/C/H and its prefix A; sample 2: truth B/E.
        sc = [
            scores(A=.9, B=.7, C=.8, D=.2, E=.4, F=.1, G=.1, H=.3, I=.6),
            scores(A=.6, B=.8, C=.2, D=.55, E=.45, F=.9, G=.1, H=.7, I=.1),
        ]
        gt = [[[0, 2, 7], [0]], [[1, 4]]]
        res = HierMultiLabelMetric.calculate(sc, gt, VARIABLE, .5,
                                             ('micro', 'weighted'), 'authors')
        # Paths with all nodes >= .5: A, A/C, A/C/I, B | A, A/D, B, B/F.
        # True: A/C/H, A | B/E. Only A (sample 1) is right: A has P 1/2,
        # R 1, F1 2/3 and support 1 of 3 (A, A/C/H, B/E).
        self.assertAlmostEqual(res['path_f1_weighted'], 100 * 2 / 9)
        self.assertAlmostEqual(res['path_precision_weighted'], 100 / 6)
        self.assertAlmostEqual(res['path_precision_micro'], 100 / 8)
        self.assertAlmostEqual(res['path_f1_micro'], 100 * 2 / 11)
        # Nodes on their own sigmoid >= .5: A C I B | A D B F H (H passes
        # although C does not). True: A C H | B E. A, B 2/3; C 1; E, H 0.
        self.assertAlmostEqual(res['node_f1_weighted'], 100 * 7 / 15)
        self.assertAlmostEqual(res['node_f1_micro'], 100 * 3 / 7)
        # mmhier's maximal paths (A/C/I, B | A/D, B/F) get none right
        strict = HierMultiLabelMetric.calculate(sc, gt, VARIABLE, .5)
        self.assertEqual(strict['path_f1'], 0.)
        # a separate node threshold moves the node scores only
        res2 = HierMultiLabelMetric.calculate(
            sc, gt, VARIABLE, .5, 'weighted', 'authors', node_threshold=.25)
        self.assertAlmostEqual(res2['path_f1'], 100 * 2 / 9)
        self.assertNotAlmostEqual(res2['node_f1'], 100 * 7 / 15)

    def test_authors_definition_equals_brute_force(self):
        tree = ClassTree.build(VARIABLE)
        sc, gts = prefix_data(tree, 20, seed=3)
        self.assertTrue(
            any(
                len(r) < len(q) and q[:len(r)] == r for rows in gts
                for r in rows for q in rows), 'no prefix path was drawn')
        for average in ('micro', 'weighted'):
            for thr, node_thr in ((0., .3), (.31, .31), (.55, .8), (.9, .2)):
                got = HierMultiLabelMetric.calculate(sc, gts, tree, thr,
                                                     average, 'authors',
                                                     node_thr)
                want = authors_reference(sc, gts, tree, thr, node_thr, average)
                for k in want:
                    self.assertAlmostEqual(
                        got[k], want[k], msg=(average, thr, node_thr, k))

    def test_authors_thresholds_are_searched_separately(self):
        tree = ClassTree.build(VARIABLE)
        sc, gts = prefix_data(tree, 25, seed=4)
        grid = np.linspace(0, 1, 201)  # every score and every midpoint
        best = {}
        for select_by in ('path_f1', 'node_f1'):
            thr, f1 = HierMultiLabelMetric.search_threshold(
                sc, gts, tree, 'weighted', select_by, definition='authors')
            brute = max(
                authors_reference(sc, gts, tree, t, t, 'weighted')[select_by]
                for t in grid)
            self.assertAlmostEqual(f1, brute)
            best[select_by] = thr
            # the authors' 0.01 grid: the best grid value, ties upwards
            thr, f1 = HierMultiLabelMetric.search_threshold(
                sc,
                gts,
                tree,
                'weighted',
                select_by,
                definition='authors',
                search_step=.01)
            steps = (np.arange(101) * .01).astype(np.float32).astype(float)
            on_grid = [
                authors_reference(sc, gts, tree, t, t, 'weighted')[select_by]
                for t in steps
            ]
            self.assertAlmostEqual(f1, max(on_grid))
            self.assertEqual(thr, steps[100 - int(np.argmax(on_grid[::-1]))])
        self.assertNotAlmostEqual(best['path_f1'], best['node_f1'])
        # the metric stores and reports both, and applies both on test
        with tempfile.TemporaryDirectory() as tmp:
            file = osp.join(tmp, 'hier_authors_threshold.json')
            samples = [
                dict(
                    gt_path=torch.tensor(
                        [r + [-1] * (3 - len(r)) for r in rows]),
                    pred_score=torch.tensor(s, dtype=torch.float))
                for s, rows in zip(sc, gts)
            ]
            metric = METRICS.build(
                dict(
                    type='HierMultiLabelMetric',
                    definition='authors',
                    threshold_file=file,
                    prefix='hier_authors',
                    tree=VARIABLE))
            metric.process(None, samples)
            val = metric.evaluate(len(samples))
            self.assertAlmostEqual(val['hier_authors/threshold'],
                                   best['path_f1'])
            self.assertAlmostEqual(val['hier_authors/node_threshold'],
                                   best['node_f1'])
            with open(file) as f:
                stored = json.load(f)
            self.assertEqual(stored['definition'], 'authors')
            self.assertAlmostEqual(stored['node_threshold'], best['node_f1'])
            test = METRICS.build(
                dict(
                    type='HierMultiLabelMetric',
                    definition='authors',
                    threshold='from_val',
                    threshold_file=file,
                    prefix='hier_authors',
                    tree=VARIABLE))
            test.process(None, samples)
            self.assertEqual(test.evaluate(len(samples)), val)
