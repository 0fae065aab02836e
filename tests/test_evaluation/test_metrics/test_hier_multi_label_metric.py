# Copyright (c) mmhier contributors. All rights reserved.
import json
import os.path as osp
import tempfile
from unittest import TestCase

import numpy as np
import torch
from mmengine.logging import MMLogger
from mmpretrain.registry import METRICS

from mmhier.evaluation import HierMultiLabelMetric
from mmhier.structures import ClassTree

# A=0 B=1 C=2 D=3 E=4 F=5 G=6 H=7 I=8 (H, I under C).
VARIABLE = {'A': {'C': ['H', 'I'], 'D': None}, 'B': ['E', 'F', 'G']}
NAMES = 'ABCDEFGHI'


def scores(**kw):
    return [kw.get(n, 0.0) for n in NAMES]


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
