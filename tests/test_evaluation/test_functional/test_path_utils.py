# Copyright (c) mmhier contributors. All rights reserved.
from unittest import TestCase

import torch

from mmhier.evaluation.functional import (common_prefix_length, gt_node_sets,
                                          imply_paths, imply_topk_paths,
                                          max_child_scores, path_distance,
                                          path_min_scores, to_paths)
from mmhier.structures import ClassTree

# A=0 B=1 C=2 D=3 E=4 F=5 G=6 H=7 I=8; paths may stop at C, D (inner / leaf
# of depth 2) or at B's children.
VARIABLE = {'A': {'C': ['H', 'I'], 'D': None}, 'B': ['E', 'F', 'G']}


def brute_ancestors(tree, i):
    out = []
    while i >= 0:
        out.append(i)
        i = tree.parent(i)
    return out[::-1]


class TestPathUtils(TestCase):

    def setUp(self):
        self.tree = ClassTree.build(VARIABLE)

    def test_to_paths_inputs_agree(self):
        ragged = [[[0, 2]], [[1], [1, 5]]]
        want = torch.tensor([[[0, 2, -1], [-1, -1, -1]],
                             [[1, -1, -1], [1, 5, -1]]])
        self.assertTrue(torch.equal(to_paths(ragged, 3), want))
        self.assertTrue(torch.equal(to_paths(want.numpy(), 3), want))
        self.assertTrue(torch.equal(to_paths(want[..., :2], 3), want))
        with self.assertRaisesRegex(ValueError, 'beyond the tree depth 2'):
            to_paths([[0, 2, 7]], 2)
        with self.assertRaisesRegex(ValueError, 'hold -3'):
            to_paths([[0, -3]])

    def test_imply_paths_is_remark_1(self):
        tree = self.tree
        labels = torch.tensor([[7, 1], [3, 0]])
        paths = imply_paths(labels, tree)
        self.assertEqual(paths.shape, (2, 2, 3))
        self.assertEqual(paths[0, 0].tolist(), [0, 2, 7])
        self.assertEqual(paths[1, 0].tolist(), [0, 3, -1])
        with self.assertRaisesRegex(ValueError, 'label 9 is not a node'):
            imply_paths([9], tree)
        scores = torch.tensor([[.1, .2, .3, .0, .0, .0, .0, .9, .5]])
        top = imply_topk_paths(scores, tree, 3)
        self.assertEqual(top[0].tolist(), [[0, 2, 7], [0, 2, 8], [0, 2, -1]])
        with self.assertRaisesRegex(ValueError, '8 classes but the tree has'):
            imply_topk_paths(torch.rand(1, 8), tree, 1)

    def test_distance_equals_brute_force_lca(self):
        tree = self.tree
        n = tree.num_nodes
        paths = imply_paths(torch.arange(n), tree)
        dist = path_distance(paths[:, None], paths[None])
        for i in range(n):
            for j in range(n):
                ai, aj = brute_ancestors(tree, i), brute_ancestors(tree, j)
                lca = len([a for a in ai if a in aj])
                want = max(len(ai), len(aj)) - lca
                self.assertEqual(int(dist[i, j]), want, (i, j))
        self.assertTrue(
            torch.equal(
                common_prefix_length(paths[:, None], paths[None]),
                tree.lca_depth(
                    torch.arange(n)[:, None],
                    torch.arange(n)[None])))
        # Open ground truth: a prediction below the known node is right.
        gt = torch.tensor([0, -2, -2])
        self.assertEqual(path_distance(torch.tensor([0, 2, 7]), gt), 0)
        self.assertEqual(path_distance(torch.tensor([1, 4, -1]), gt), 1)

    def test_path_min_and_max_child_scores(self):
        tree = self.tree
        scores = torch.rand(4, tree.num_nodes)
        m = path_min_scores(scores, tree)
        lo = max_child_scores(m, tree)
        for b in range(4):
            for j in range(tree.num_nodes):
                want = min(float(scores[b, k]) for k in tree.path(j))
                self.assertAlmostEqual(float(m[b, j]), want, places=6)
                kids = tree.children(j)
                want = max((float(m[b, k]) for k in kids),
                           default=-float('inf'))
                self.assertEqual(float(lo[b, j]), want)

    def test_gt_node_sets(self):
        tree = self.tree
        gt = to_paths([[[0, -2, -2], [1, 5]], [[0, 2]], [[-2, -2, -2]]], 3)
        node_pos, node_judged, path_pos, path_judged = gt_node_sets(gt, tree)
        self.assertEqual(
            torch.nonzero(node_pos[0]).flatten().tolist(), [0, 1, 5])
        # below A (open) nothing is judged; A's own path is not either.
        self.assertEqual(
            torch.nonzero(~node_judged[0]).flatten().tolist(), [2, 3, 7, 8])
        self.assertEqual(
            torch.nonzero(~path_judged[0]).flatten().tolist(), [0, 2, 3, 7, 8])
        self.assertEqual(torch.nonzero(path_pos[0]).flatten().tolist(), [5])
        self.assertEqual(torch.nonzero(path_pos[1]).flatten().tolist(), [2])
        self.assertTrue(node_judged[1].all() and path_judged[1].all())
        self.assertFalse(node_judged[2].any() or path_judged[2].any())
