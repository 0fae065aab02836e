# Copyright (c) mmhier contributors. All rights reserved.
from unittest import TestCase

import torch

from mmhier.models.utils import (path_min_scores, select_label_nodes,
                                 topk_label_paths)
from mmhier.structures import ClassTree

# A=0, B=1, C=2, D=3 (under A), E=4, F=5, G=6 (under B)
TREE = ClassTree.build({'A': ['C', 'D'], 'B': ['E', 'F', 'G']})
ALL = torch.ones(7, dtype=torch.bool)


class TestPathScores(TestCase):

    def test_path_min(self):
        s = torch.tensor([[.9, .4, .8, .3, .7, .6, .2]])
        want = torch.tensor([[.9, .4, .8, .3, .4, .4, .2]])
        self.assertTrue(torch.allclose(path_min_scores(s, TREE), want))
        with self.assertRaisesRegex(ValueError, 'N=7.*\\(1, 5\\)'):
            path_min_scores(torch.zeros(1, 5), TREE)

    def test_select(self):
        s = torch.tensor([[.9, .5, .8, .3, .3, .45, .2],
                          [.1, .9, .9, .9, .9, .9, .1]])
        # leaves only: sample 0 -> C; sample 1 -> E, F
        got = select_label_nodes(s, TREE, .46)
        self.assertEqual(got.nonzero().tolist(), [[0, 2], [1, 4], [1, 5]])
        # inner stops: B passes but none of its children does -> B is a label
        got = select_label_nodes(s, TREE, .46, ALL)
        self.assertEqual(got.nonzero().tolist(),
                         [[0, 1], [0, 2], [1, 4], [1, 5]])
        # a lower threshold selects F under B instead of B itself
        got = select_label_nodes(s, TREE, .44, ALL)
        self.assertEqual(got[0].nonzero().view(-1).tolist(), [2, 5])

    def test_select_at_the_threshold(self):
        # the metric's rule (m_j >= threshold): a score equal to the
        # threshold passes
        s = torch.tensor([[.5, .1, .5, .25, .1, .1, .1]])
        got = select_label_nodes(s, TREE, .5)
        self.assertEqual(got.nonzero().tolist(), [[0, 2]])
        self.assertFalse(select_label_nodes(s, TREE, .5001).any())

    def test_topk_prefers_deeper_on_ties(self):
        s = torch.tensor([[.9, .4, .95, .3, .7, .6, .2]])
        scores, nodes = topk_label_paths(s, TREE, 3, ALL)
        # A and C both score .9: C (deeper) first; B, E and F all score .4:
        # E (deeper than B, before F in index order) third
        self.assertEqual(nodes.tolist(), [[2, 0, 4]])
        self.assertTrue(torch.allclose(scores, torch.tensor([[.9, .9, .4]])))
        scores, nodes = topk_label_paths(s, TREE, 2)  # leaves only
        self.assertEqual(nodes.tolist(), [[2, 4]])
        with self.assertRaisesRegex(ValueError, r'1\.\.5.*6'):
            topk_label_paths(s, TREE, 6)
