# Copyright (c) mmhier contributors. All rights reserved.
from unittest import TestCase

import torch
from mmpretrain.registry import METRICS

from mmhier.evaluation import HierConfusionMatrix

# A=0 B=1 | C=2 D=3 E=4 F=5 G=6 | H=7 I=8 (H, I under C).
VARIABLE = {'A': {'C': ['H', 'I'], 'D': None}, 'B': ['E', 'F', 'G']}


class TestHierConfusionMatrix(TestCase):

    def test_per_level_by_hand(self):
        gt = [[0, 2], [0, 2, 7], [1], [0, -2, -2], [1, 5], [1, 4]]
        pred = [[0, 2, 7], [0, 2], [1], [0, 3], [1, 6], [0, 4]]
        metric = METRICS.build(dict(type='HierConfusionMatrix', tree=VARIABLE))
        metric.process(None,
                       [{
                           'pred_path': torch.tensor(p + [-1] * (3 - len(p))),
                           'gt_path': torch.tensor([g + [-1] * (3 - len(g))])
                       } for p, g in zip(pred, gt)])
        res = metric.evaluate(len(gt))
        self.assertEqual(
            sorted(res), [f'hier_confusion/level{t}' for t in (1, 2, 3)])
        # Level 1 (A, B, none): A->A three times, B->B twice, B->A once
        # (the inconsistent path A/E).
        self.assertEqual(res['hier_confusion/level1'].tolist(),
                         [[3, 0, 0], [1, 2, 0], [0, 0, 0]])
        # Level 2 (C, D, E, F, G, none): the unannotated level of sample
        # 4 and the both-stopped sample 3 are left out.
        want = torch.zeros(6, 6, dtype=torch.long)
        want[0, 0], want[3, 4], want[2, 2] = 2, 1, 1
        self.assertTrue(torch.equal(res['hier_confusion/level2'], want))
        # Level 3 (H, I, none): too deep (none -> H), too short (H -> none)
        self.assertEqual(res['hier_confusion/level3'].tolist(),
                         [[0, 0, 1], [0, 0, 0], [1, 0, 0]])
        # Row sums of level 1 are the samples with an annotated level 1.
        self.assertEqual(int(res['hier_confusion/level1'].sum()), 6)

    def test_plot(self):
        import matplotlib
        matplotlib.use('Agg')
        mats = HierConfusionMatrix.calculate([[0, 2, 7], [1, 4, -1]],
                                             [[0, 2, 8], [1, 4, -1]], VARIABLE)
        fig = HierConfusionMatrix.plot(mats, tree=VARIABLE, normalize=True)
        axes = [ax for ax in fig.axes if ax.get_title()]
        self.assertEqual([ax.get_title() for ax in axes],
                         ['Level 1', 'Level 2', 'Level 3'])
        self.assertEqual([t.get_text() for t in axes[2].get_xticklabels()],
                         ['H', 'I', '(none)'])
