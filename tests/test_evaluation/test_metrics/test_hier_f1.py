# Copyright (c) mmhier contributors. All rights reserved.
import os.path as osp
import tempfile
from unittest import TestCase

import numpy as np
import torch
from mmpretrain.registry import METRICS

from mmhier.evaluation import HierF1
from mmhier.evaluation.functional import save_threshold

# A=0 B=1 C=2 D=3 E=4 F=5 G=6 H=7 I=8 (H, I under C).
VARIABLE = {'A': {'C': ['H', 'I'], 'D': None}, 'B': ['E', 'F', 'G']}
NAMES = 'ABCDEFGHI'


def scores(**kw):
    return [kw.get(n, 0.0) for n in NAMES]


# Multi-label example (hand-worked in the tests below and in
# test_hier_multi_label_metric.py).
ML_SCORES = [
    scores(A=.9, B=.8, C=.7, D=.1, E=.6, F=.2, G=.1, H=.4, I=.3),
    scores(A=.8, B=.3, C=.2, D=.6, E=.1, F=.9, G=.1, H=.1, I=.1),
    scores(A=.9, B=.6, C=.8, D=.2, E=.1, F=.4, G=.7, H=.9, I=.2),
]
ML_GT = [[[0, 2, 7], [1]], [[0, 3]], [[1, 5], [0, -2, -2]]]


class TestHierF1(TestCase):

    def test_single_label_by_hand(self):
        gt = [[0, 2], [0, 2, 7], [1], [0, -2, -2], [1, 5], [1, 4]]
        pred = [[0, 2, 7], [0, 2], [1], [0, 3], [1, 6], [0, 4]]
        # |P & T|, |P|, |T| per sample: (2, 3, 2), (2, 2, 3), (1, 1, 1),
        # (1, 1, 1): D lies below the unannotated part of A, not judged,
        # (1, 2, 2), and (2, 3, 2): A/E is no path, it is closed upwards
        # to {A, B, E}.
        metric = METRICS.build(dict(type='HierF1', tree=VARIABLE))
        metric.process(None, [{
            'pred_path': torch.tensor(p),
            'gt_path': torch.tensor([g])
        } for p, g in zip(pred, gt)])
        res = metric.evaluate(len(gt))
        hp, hr = 9 / 12, 9 / 11
        self.assertAlmostEqual(res['hier/h_precision'], 100 * hp)
        self.assertAlmostEqual(res['hier/h_recall'], 100 * hr)
        self.assertAlmostEqual(res['hier/h_f1'], 100 * 2 * hp * hr / (hp + hr))
        padded_pred = [[0, 2, 7], [0, 2, -1], [1, -1, -1]]
        padded_gt = [[0, 2, -1], [0, 2, 7], [1, -1, -1]]
        want = HierF1.calculate(pred[:3], gt[:3], VARIABLE)
        for conv in (torch.tensor, np.array):
            self.assertEqual(
                HierF1.calculate(conv(padded_pred), conv(padded_gt), VARIABLE),
                want)

    def test_multi_label_by_hand(self):
        # Nodes at threshold 0.5: sample 0 predicts {A, B, C, E} for truth
        # {A, C, H, B}; sample 1 {A, D} for {A, D}; sample 2 {A, B, G}
        # (C, H lie below the unannotated part of A) for {A, B, F}.
        res = HierF1.calculate(ML_SCORES, ML_GT, VARIABLE, threshold=0.5)
        self.assertAlmostEqual(res['h_precision'], 700 / 9)
        self.assertAlmostEqual(res['h_recall'], 700 / 9)
        res = HierF1.calculate(ML_SCORES, ML_GT, VARIABLE, threshold=0.75)
        # {A, B}, {A}, {A} (C, H not judged) -> 4 of 4 right, 4 of 9 found
        self.assertAlmostEqual(res['h_precision'], 100.0)
        self.assertAlmostEqual(res['h_recall'], 400 / 9)

    def test_threshold_from_val_file(self):
        with tempfile.TemporaryDirectory() as tmp:
            file = osp.join(tmp, 'thr.json')
            metric = METRICS.build(
                dict(
                    type='HierF1',
                    threshold='from_val',
                    threshold_file=file,
                    tree=VARIABLE))
            metric.process(
                None,
                [
                    {
                        'pred_score': torch.tensor(s),
                        'gt_path': g  # ragged lists are accepted too
                    } for s, g in zip(ML_SCORES, ML_GT)
                ])
            save_threshold(file, 0.75)
            res = metric.evaluate(3)
        self.assertAlmostEqual(res['hier/h_recall'], 400 / 9)

    def test_errors(self):
        with self.assertRaisesRegex(ValueError, 'needs threshold_file'):
            METRICS.build(dict(type='HierF1', threshold='from_val'))
        with self.assertRaisesRegex(ValueError, "got 'auto'"):
            METRICS.build(dict(type='HierF1', threshold='auto'))
        with self.assertRaisesRegex(ValueError, 'hold node 9'):
            HierF1.calculate([[9]], [[0]], VARIABLE)
