# Copyright (c) mmhier contributors. All rights reserved.
from unittest import TestCase

import torch
from mmpretrain.structures import DataSample

from mmhier.evaluation.functional import (get_gt_paths, get_pred_path,
                                          get_pred_topk_paths)
from mmhier.structures import ClassTree

# A=0 B=1 C=2 D=3 E=4 F=5 G=6 H=7 I=8; paths may stop at C, D (inner / leaf
# of depth 2) or at B's children.
VARIABLE = {'A': {'C': ['H', 'I'], 'D': None}, 'B': ['E', 'F', 'G']}


class TestSampleFields(TestCase):

    def setUp(self):
        self.tree = ClassTree.build(VARIABLE)

    def test_flat_model_paths_are_implied(self):
        tree = self.tree
        flat = DataSample().set_pred_score(
            torch.arange(9.)).set_pred_label(7).set_gt_label(3)
        self.assertEqual(get_pred_path(flat, tree).tolist(), [0, 2, 7])
        self.assertEqual(
            get_pred_path(flat.to_dict(), tree).tolist(), [0, 2, 7])
        self.assertEqual(get_gt_paths(flat, tree).tolist(), [[0, 3, -1]])
        self.assertEqual(
            get_pred_topk_paths(flat, tree, 2).tolist(),
            [[0, 2, 8], [0, 2, 7]])  # top-k of pred_score
        score_only = {'pred_score': torch.eye(9)[4]}
        self.assertEqual(get_pred_path(score_only, tree).tolist(), [1, 4, -1])
        # A head over the 6 leaves only: its labels are not node indices.
        leaves_only = {'pred_score': torch.rand(6), 'pred_label': [2]}
        with self.assertRaisesRegex(ValueError, '6 classes but the tree'):
            get_pred_path(leaves_only, tree)

    def test_hier_head_fields(self):
        tree = self.tree
        sample = {
            'gt_path': torch.tensor([[0, -2, -2]]),
            'pred_path': torch.tensor([0, 3, -1]),
            'pred_label': torch.tensor([5]),  # ignored: the path wins
            'pred_beam_paths': torch.tensor([[0, 3, -1], [0, 2, 7]]),
        }
        self.assertEqual(get_pred_path(sample, tree).tolist(), [0, 3, -1])
        self.assertEqual(get_gt_paths(sample, tree).tolist(), [[0, -2, -2]])
        self.assertEqual(
            get_pred_topk_paths(sample, tree, 2)[1].tolist(), [0, 2, 7])
        with self.assertRaisesRegex(ValueError, 'has 2 pred_beam_paths'):
            get_pred_topk_paths(sample, tree, 3)
        del sample['pred_beam_paths']
        with self.assertRaisesRegex(ValueError, 'no pred_beam_paths'):
            get_pred_topk_paths(sample, tree, 2)
        with self.assertRaisesRegex(KeyError, 'neither gt_path nor'):
            get_gt_paths({'pred_path': [0]}, tree)
