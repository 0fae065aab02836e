# Copyright (c) mmhier contributors. All rights reserved.
import os.path as osp
import tempfile
from unittest import TestCase

import numpy as np

from mmhier.structures import ClassTree
from mmhier.visualization import draw_level_marks, level_marks

TREE = ClassTree.build({'A': ['C', 'D'], 'B': ['E', {'F': ['G', 'H']}]})
# A=0, B=1, C=2, D=3, E=4, F=5, G=6, H=7


class TestLevelMarks(TestCase):

    def test_marks(self):
        self.assertEqual(level_marks([1, 5, 6], [1, 5, 6]), [True] * 3)
        # a sibling leaf: the two coarse levels are right
        self.assertEqual(
            level_marks([1, 5, 7], [1, 5, 6]), [True, True, False])
        # wrong at the top: every level is wrong
        self.assertEqual(level_marks([0, 2, -1], [1, 4, -1]), [False] * 2)
        # too short (the missing level is wrong) and too long
        self.assertEqual(
            level_marks([1, 5, -1], [1, 5, 6]), [True, True, False])
        self.assertEqual(
            level_marks([1, 5, 6], [1, 5, -1]), [True, True, False])

    def test_draw(self):
        images = [np.zeros((28, 28), np.uint8), np.ones((8, 8, 3))]
        gt = [[1, 5, 6], [0, 2, -1]]
        preds = {'hier': [[1, 5, 7], [0, 2, -1]], 'flat': [[0, 3], [1, 4]]}
        with tempfile.TemporaryDirectory() as tmp:
            out = osp.join(tmp, 'marks.png')
            fig = draw_level_marks(
                images, gt, preds, TREE, out_file=out, titles=['a', 'b'])
            self.assertGreater(osp.getsize(out), 1000)
        texts = [t.get_text() for t in fig.findobj() if hasattr(t, 'get_text')]
        self.assertIn('truth: B > F > G', texts)
        self.assertIn('truth: A > C', texts)
        # the colours of one image's paths
        fig = draw_level_marks(images[:1], gt[:1], {
            'hier': [[1, 5, 7]],
            'flat': [[0, 3]]
        }, TREE)
        colours = {}
        for t in fig.findobj():
            if hasattr(t, 'get_text') and hasattr(t, 'get_color'):
                colours.setdefault(t.get_text(), []).append(t.get_color())
        self.assertEqual(colours['B > '], ['#1a7f1a'])  # right level
        self.assertEqual(colours['F > '], ['#1a7f1a'])
        self.assertEqual(colours['H'], ['#c0150f'])  # a wrong leaf
        self.assertEqual(colours['A > '], ['#c0150f'])  # wrong from the top
        self.assertEqual(colours['(none)'], ['#c0150f'])  # a missing level
        with self.assertRaisesRegex(ValueError, 'got 2 images, 1 true paths'):
            draw_level_marks(images, gt[:1], preds, TREE)
