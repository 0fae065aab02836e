# Copyright (c) mmhier contributors. All rights reserved.
import math
from unittest import TestCase

import numpy as np
import torch
from mmengine.evaluator import Evaluator
from mmpretrain.registry import METRICS
from mmpretrain.structures import DataSample

from mmhier.evaluation import HierAccuracy
from mmhier.structures import ClassTree

# Fixed depth 3: A=0 B=1 | C=2 D=3 E=4 F=5 | G=6 H=7 I=8 J=9 K=10 L=11
# M=12 N=13 (G, H under C; I, J under D; K, L under E; M, N under F).
FIXED = {
    'A': {
        'C': ['G', 'H'],
        'D': ['I', 'J']
    },
    'B': {
        'E': ['K', 'L'],
        'F': ['M', 'N']
    }
}
# Variable depth: A=0 B=1 C=2 D=3 E=4 F=5 G=6 H=7 I=8 (H, I under C).
VARIABLE = {'A': {'C': ['H', 'I'], 'D': None}, 'B': ['E', 'F', 'G']}


def hier_samples(preds, gts):
    out = []
    for p, g in zip(preds, gts):
        s = DataSample()
        s.pred_path = torch.tensor(p)
        s.gt_path = torch.tensor([g])
        out.append(s)
    return out


class TestHierAccuracy(TestCase):

    def test_fixed_depth_by_hand(self):
        tree = ClassTree.build(FIXED)
        gt = [[0, 2, 6], [0, 3, 9], [1, 4, 10], [1, 5, 13], [1, 4, 10]]
        pred = [[0, 2, 6], [0, 3, 8], [1, 5, 12], [0, 2, 7], [0, 4, 10]]
        metric = METRICS.build(dict(type='HierAccuracy', tree=FIXED))
        metric.process(None, [s.to_dict() for s in hier_samples(pred, gt)])
        res = metric.evaluate(5)
        # right paths: only the first; nodes right: 3+2+1+0+2 of 15; the
        # last path puts E under A and is not a path of the tree.
        want = {
            'hier/path_acc': 20.0,
            'hier/node_acc': 100 * 8 / 15,
            'hier/level1_acc': 60.0,
            'hier/level2_acc': 60.0,
            'hier/level3_acc': 40.0,
            'hier/invalid_path_rate': 20.0
        }
        self.assertEqual(set(res), set(want))
        for k, v in want.items():
            self.assertAlmostEqual(res[k], v, msg=k)
        # Fixed depth: node accuracy is the mean of the level accuracies.
        self.assertAlmostEqual(
            res['hier/node_acc'],
            np.mean([res[f'hier/level{t}_acc'] for t in (1, 2, 3)]))
        # calculate() takes tensors, arrays and lists alike.
        for conv in (torch.tensor, np.array, list):
            self.assertEqual(
                HierAccuracy.calculate(conv(pred), conv(gt), tree), {
                    k.split('/')[1]: v
                    for k, v in res.items()
                })

    def test_variable_depth_and_unknown_by_hand(self):
        gt = [[0, 2], [0, 2, 7], [1], [0, -2, -2], [1, 5]]
        pred = [[0, 2, 7], [0, 2], [1], [0, 3], [1, 6]]
        res = HierAccuracy.calculate(pred, gt, VARIABLE)
        # 1: too long (wrong), 2: stops at C, truth goes on to H (wrong),
        # 3: right, 4: only A is annotated, A/D counts as right, 5: wrong.
        self.assertAlmostEqual(res['path_acc'], 40.0)
        # ground-truth nodes 2+3+1+1+2 = 9, right 2+2+1+1+1 = 7: the extra
        # H of sample 1 gains nothing, the unknown levels of 4 are skipped.
        self.assertAlmostEqual(res['node_acc'], 700 / 9)
        self.assertAlmostEqual(res['level1_acc'], 100.0)
        self.assertAlmostEqual(res['level2_acc'], 200 / 3)
        self.assertAlmostEqual(res['level3_acc'], 0.0)
        self.assertEqual(res['invalid_path_rate'], 0.0)
        # No ground truth reaches depth 3: NaN, not a made-up number.
        res = HierAccuracy.calculate([[0, 2]], [[0, 2]], VARIABLE)
        self.assertTrue(math.isnan(res['level3_acc']))

    def test_flat_model_remark_1_and_tree_from_meta(self):
        # A flat head over all 14 nodes: pred_label H implies A/C/H.
        flat = [
            DataSample().set_pred_label(7).set_pred_score(torch.eye(14)[7]),
            DataSample().set_pred_label(9).set_pred_score(torch.eye(14)[9])
        ]
        for s, g in zip(flat, ([0, 2, 7], [0, 2, 6])):
            s.gt_path = torch.tensor([g])
        evaluator = Evaluator([METRICS.build(dict(type='HierAccuracy'))])
        evaluator.dataset_meta = dict(class_tree=ClassTree.build(FIXED))
        evaluator.process(flat)
        res = evaluator.evaluate(2)
        self.assertEqual(res['hier/path_acc'], 50.0)
        # J = A/D/J against A/C/G: A right, D and J wrong.
        self.assertAlmostEqual(res['hier/node_acc'], 400 / 6)
        self.assertEqual(res['hier/invalid_path_rate'], 0.0)

    def test_errors(self):
        metric = METRICS.build(dict(type='HierAccuracy'))
        metric.dataset_meta = dict(classes=['a'])
        with self.assertRaisesRegex(
                ValueError, "needs the class tree.*"
                "dataset_meta keys: \\['classes'\\]"):
            metric.process(None, [{'pred_path': torch.tensor([0])}])
        with self.assertRaisesRegex(ValueError, 'sample 1 has 2 ground'):
            HierAccuracy.calculate([[0], [1]], [[[0]], [[1], [0]]], FIXED)
        with self.assertRaisesRegex(ValueError, 'for 2 samples'):
            HierAccuracy.calculate([[0, 2, 6]], [[0], [1]], FIXED)
