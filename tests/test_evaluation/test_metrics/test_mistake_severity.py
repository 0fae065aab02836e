# Copyright (c) mmhier contributors. All rights reserved.
import math
from unittest import TestCase

import numpy as np
import torch
from mmpretrain.registry import METRICS
from mmpretrain.structures import DataSample

from mmhier.evaluation import MistakeSeverity

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
VARIABLE = {'A': {'C': ['H', 'I'], 'D': None}, 'B': ['E', 'F', 'G']}


class TestMistakeSeverity(TestCase):

    def test_fixed_depth_by_hand(self):
        gt = [[0, 2, 6], [0, 3, 9], [1, 4, 10], [1, 5, 13], [1, 4, 10]]
        top1 = [[0, 2, 6], [0, 3, 8], [1, 5, 12], [0, 2, 7], [0, 4, 10]]
        top2 = [[0, 2, 7], [0, 3, 9], [1, 4, 11], [1, 5, 13], [1, 4, 10]]
        beams = [[a, b] for a, b in zip(top1, top2)]
        metric = METRICS.build(
            dict(type='MistakeSeverity', topk=(1, 2), tree=FIXED))
        metric.process(None, [{
            'pred_path': torch.tensor(b[0]),
            'pred_beam_paths': torch.tensor(b),
            'gt_path': torch.tensor([g])
        } for b, g in zip(beams, gt)])
        res = metric.evaluate(5)
        # LCA heights of the top-1 paths: 0, 1 (I vs J under D), 2 (under
        # B), 3 (root), 3 (A/E is inconsistent: no common prefix).
        self.assertEqual(res['hier/mistake_severity'], (1 + 2 + 3 + 3) / 4)
        self.assertAlmostEqual(res['hier/hdist@1'], 9 / 5)
        # top-2 distances: 1, 0, 1, 0, 0
        self.assertAlmostEqual(res['hier/hdist@2'],
                               np.mean([.5, .5, 1.5, 1.5, 1.5]))
        self.assertEqual(res['hier/mistake_height1_share'], 25.0)
        self.assertEqual(res['hier/mistake_height2_share'], 25.0)
        self.assertEqual(res['hier/mistake_height3_share'], 50.0)
        same = MistakeSeverity.calculate(np.array(beams), np.array(gt), (1, 2))
        self.assertEqual(same, {k[5:]: v for k, v in res.items()})

    def test_variable_depth_by_hand(self):
        gt = [[0, 2], [0, 2, 7], [1], [0, -2, -2], [1, 5]]
        pred = [[0, 2, 7], [0, 2], [1], [0, 3], [1, 6]]
        res = MistakeSeverity.calculate(pred, gt)
        # one level too deep, one too short, right, right (below the
        # annotated A), sibling: distances 1, 1, 0, 0, 1.
        self.assertEqual(res['mistake_severity'], 1.0)
        self.assertAlmostEqual(res['hdist@1'], 3 / 5)
        self.assertEqual(res['mistake_height1_share'], 100.0)
        res = MistakeSeverity.calculate([[0, 2]], [[0, 2]])
        self.assertTrue(math.isnan(res['mistake_severity']))
        self.assertEqual(res['hdist@1'], 0.0)

    def test_flat_model_topk_from_scores(self):
        # A flat head over the 9 nodes; its top-2 nodes are H then E.
        score = torch.zeros(9)
        score[7], score[4] = 2., 1.
        sample = DataSample().set_pred_score(score).set_pred_label(7)
        sample.gt_path = torch.tensor([[1, 4, -1]])
        metric = METRICS.build(
            dict(type='MistakeSeverity', topk=[1, 2], tree=VARIABLE))
        metric.process(None, [sample.to_dict()])
        res = metric.evaluate(1)
        self.assertEqual(res['hier/mistake_severity'], 3.0)  # A/C/H vs B/E
        self.assertEqual(res['hier/hdist@2'], 1.5)

    def test_errors(self):
        with self.assertRaisesRegex(ValueError, 'positive ints, got \\(0,'):
            METRICS.build(dict(type='MistakeSeverity', topk=(0, 1)))
        with self.assertRaisesRegex(ValueError, 'needs 5 paths per sample'):
            MistakeSeverity.calculate([[[0, 2]]], [[0, 2]], topk=5)
        metric = METRICS.build(
            dict(type='MistakeSeverity', topk=3, tree=VARIABLE))
        with self.assertRaisesRegex(ValueError, 'no pred_beam_paths'):
            metric.process(None, [{
                'pred_path': torch.tensor([0, 2, -1]),
                'gt_path': torch.tensor([[0, 2, -1]])
            }])
