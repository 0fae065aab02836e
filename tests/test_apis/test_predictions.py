# Copyright (c) mmhier contributors. All rights reserved.
from unittest import TestCase

import torch
from mmpretrain.structures import DataSample

from mmhier.apis import format_prediction, sample_topk_paths
from mmhier.structures import ClassTree

# The DHNN slides' example: A=0, B=1; C=2, D=3 under A; E=4, F=5, G=6 under B
SLIDES = {'A': ['C', 'D'], 'B': ['E', 'F', 'G']}
END = -1


def sample(**fields):
    s = DataSample()
    for key, value in fields.items():
        if key == 'pred_score':
            s.set_pred_score(value)
        else:
            s.set_field(value, key)
    return s


class TestSampleTopkPaths(TestCase):

    def setUp(self):
        self.tree = ClassTree.from_dict(SLIDES)

    def test_beam_scores_are_path_probabilities(self):
        s = sample(
            pred_beam_paths=torch.tensor([[1, 5], [0, 2], [1, 4], [0, 3]]),
            pred_beam_scores=torch.tensor([0.5, 0.2, 0.1,
                                           0.]).log())  # last: -inf
        paths, scores = sample_topk_paths(s, self.tree, 5)
        self.assertEqual(paths.tolist(), [[1, 5], [0, 2], [1, 4]])
        torch.testing.assert_close(scores, torch.tensor([0.5, 0.2, 0.1]))
        paths, scores = sample_topk_paths(s, self.tree, 2)
        self.assertEqual(paths.tolist(), [[1, 5], [0, 2]])

    def test_multi_label_scores_stay_min_node_scores(self):
        node = torch.tensor([0.9, 0.8, 0.7, 0.2, 0.6, 0.1, 0.3])
        s = sample(
            pred_beam_paths=torch.tensor([[0, 2], [1, 4], [1, 6]]),
            pred_beam_scores=torch.tensor([0.7, 0.6, 0.3]),
            pred_paths=torch.tensor([[0, 2], [1, 4]]),
            pred_score=node)
        paths, scores = sample_topk_paths(s, self.tree, 3)
        torch.testing.assert_close(scores, torch.tensor([0.7, 0.6, 0.3]))
        result = format_prediction(s, self.tree, 2)
        sel = result['selected_paths']
        self.assertEqual([e['nodes'] for e in sel], [['A', 'C'], ['B', 'E']])
        # min over the nodes of each path: min(.9, .7), min(.8, .6)
        self.assertAlmostEqual(sel[0]['score'], 0.7, places=6)
        self.assertAlmostEqual(sel[1]['score'], 0.6, places=6)

    def test_flat_scores_imply_paths(self):
        node = torch.tensor([0.05, 0.1, 0.3, 0.05, 0.1, 0.35, 0.05])
        s = sample(pred_score=node, pred_label=torch.tensor([5]))
        paths, scores = sample_topk_paths(s, self.tree, 3)
        self.assertEqual(paths.tolist(), [[1, 5], [0, 2], [1, END]])
        torch.testing.assert_close(scores, torch.tensor([0.35, 0.3, 0.1]))
        result = format_prediction(s, self.tree, 1)
        self.assertEqual(result['pred_class'], 'F')
        self.assertEqual(result['paths'][0]['nodes'], ['B', 'F'])
        with self.assertRaisesRegex(ValueError, '3 classes.*7 nodes'):
            sample_topk_paths(sample(pred_score=torch.rand(3)), self.tree, 1)

    def test_flat_sigmoid_scores_select_with_the_threshold(self):
        # a flat multi-label model: the validated threshold selects paths
        # by the heads' rule (all node scores >= it, the deepest kept)
        node = torch.tensor([0.9, 0.6, 0.7, 0.2, 0.6, 0.5, 0.1])
        s = sample(pred_score=node)
        self.assertNotIn('selected_paths', format_prediction(s, self.tree, 1))
        result = format_prediction(s, self.tree, 1, threshold=0.6)
        self.assertEqual(result['threshold'], 0.6)
        self.assertEqual([e['nodes'] for e in result['selected_paths']],
                         [['A', 'C'], ['B', 'E']])
        result = format_prediction(s, self.tree, 1, threshold=0.5)
        self.assertEqual([e['nodes'] for e in result['selected_paths']],
                         [['A', 'C'], ['B', 'E'], ['B', 'F']])
        result = format_prediction(s, self.tree, 1, threshold=0.65)
        self.assertEqual([e['nodes'] for e in result['selected_paths']],
                         [['A', 'C']])

    def test_path_without_beams_ranks_other_leaves(self):
        # HierNet: pred_path (log P in pred_path_score), P(v) per node
        node = torch.tensor([0.6, 0.4, 0.5, 0.1, 0.3, 0.0, 0.1])
        s = sample(
            pred_path=torch.tensor([0, 2]),
            pred_path_score=torch.tensor(0.5).log(),
            pred_score=node)
        paths, scores = sample_topk_paths(s, self.tree, 4)
        # C first, then the leaves by P(v); F (0) never scored: left out
        self.assertEqual(paths.tolist(), [[0, 2], [1, 4], [0, 3], [1, 6]])
        torch.testing.assert_close(scores, torch.tensor([0.5, 0.3, 0.1, 0.1]))
        paths, _ = sample_topk_paths(s, self.tree, 10)
        self.assertEqual(len(paths), 4)

    def test_errors(self):
        with self.assertRaisesRegex(KeyError, 'no prediction'):
            sample_topk_paths(sample(), self.tree, 1)
        with self.assertRaisesRegex(ValueError, 'topk must be an int'):
            sample_topk_paths(sample(), self.tree, 0)
        with self.assertRaisesRegex(ValueError, 'length 3.*depth 2'):
            sample_topk_paths(
                sample(
                    pred_beam_paths=torch.zeros(2, 3, dtype=torch.long),
                    pred_beam_scores=torch.zeros(2)), self.tree, 1)
