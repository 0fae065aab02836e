# Copyright (c) mmhier contributors. All rights reserved.
import itertools
from unittest import TestCase

import torch

from mmhier.models.utils import (crm_cost_matrix, crm_decode, crm_rank,
                                 resolve_label_nodes, tree_distance_matrix)
from mmhier.structures import ClassTree

# A=0, B=1; C=2, D=3 under A; E=4, F=5, G=6 under B.
TREE = ClassTree.from_dict({'A': ['C', 'D'], 'B': ['E', 'F', 'G']})
# A=0, B=1, C=2, D=3; H=4, I=5 under C: leaves at depths 1, 2 and 3
VAR_TREE = ClassTree.from_dict({'A': {'C': ['H', 'I'], 'D': None}, 'B': None})


class TestTreeDistance(TestCase):

    def test_by_hand(self):
        d = tree_distance_matrix(TREE)
        self.assertEqual(d[2].tolist(), [1, 3, 0, 2, 4, 4, 4])
        self.assertEqual(d[5].tolist(), [3, 1, 4, 4, 2, 0, 2])
        self.assertTrue(torch.equal(d, d.t()))
        # between the leaves of a fixed-depth tree the LCA height is half
        # the edge count
        leaves = torch.as_tensor(TREE.leaves)
        self.assertTrue(
            torch.equal(
                tree_distance_matrix(TREE, 'lca_height')[leaves][:, leaves] *
                2, d[leaves][:, leaves]))
        # variable depth: H (depth 3) and B (depth 1) share only the root
        dv, hv = (
            tree_distance_matrix(VAR_TREE, k) for k in ('edges', 'lca_height'))
        self.assertEqual(int(dv[4, 1]), 4)
        self.assertEqual(int(hv[4, 1]), 3)
        self.assertEqual(int(dv[4, 3]), 3)  # H-C-A-D
        self.assertEqual(int(hv[4, 3]), 2)

    def test_matches_brute_force(self):
        d = tree_distance_matrix(VAR_TREE)
        for a, b in itertools.product(range(VAR_TREE.num_nodes), repeat=2):
            pa, pb = VAR_TREE.path(a), VAR_TREE.path(b)
            common = sum(1 for x, y in zip(pa, pb) if x == y)
            self.assertEqual(int(d[a, b]), len(pa) + len(pb) - 2 * common)

    def test_label_nodes(self):
        self.assertEqual(resolve_label_nodes(VAR_TREE).tolist(), [1, 3, 4, 5])
        self.assertEqual(
            resolve_label_nodes(VAR_TREE, ['I', 'C', 1]).tolist(), [1, 2, 5])
        with self.assertRaisesRegex(KeyError, "'Q'"):
            resolve_label_nodes(VAR_TREE, ['Q'])
        with self.assertRaisesRegex(ValueError, 'twice'):
            resolve_label_nodes(VAR_TREE, ['C', 2])
        with self.assertRaisesRegex(ValueError, 'non-empty'):
            resolve_label_nodes(VAR_TREE, [])


class TestCRM(TestCase):

    def test_differs_from_argmax(self):
        leaf = torch.tensor([[0.3, 0.0, 0.26, 0.24, 0.2]])  # C D E F G
        self.assertEqual(crm_decode(leaf, TREE).tolist(), [4])  # E, not C
        nodes = torch.cat([torch.zeros(1, 2), leaf], 1)  # over all N
        self.assertEqual(crm_decode(nodes, TREE).tolist(), [4])
        cost = crm_cost_matrix(TREE)
        got, exp_cost = crm_rank(
            nodes, cost, torch.as_tensor(TREE.leaves), k=5)
        self.assertEqual(got.tolist(), [[4, 5, 6, 2, 3]])
        torch.testing.assert_close(exp_cost,
                                   torch.tensor([[2.08, 2.12, 2.2, 2.8, 3.4]]))
        # a confident model: CRM agrees with argmax
        sure = torch.tensor([[0.9, 0.05, 0.05, 0., 0.]])
        self.assertEqual(crm_decode(sure, TREE).tolist(), [2])

    def test_batch_equals_brute_force(self):
        torch.manual_seed(0)
        probs = torch.rand(16, VAR_TREE.num_nodes).softmax(1)
        d = tree_distance_matrix(VAR_TREE).float()
        leaves = VAR_TREE.leaves.tolist()
        got = crm_decode(probs, {'A': {'C': ['H', 'I'], 'D': None}, 'B': None})
        for b in range(16):
            costs = [float(probs[b] @ d[:, c]) for c in leaves]
            self.assertEqual(int(got[b]), leaves[costs.index(min(costs))])

    def test_errors(self):
        cost = crm_cost_matrix(TREE)
        with self.assertRaisesRegex(ValueError, r'\(B, 7\).*\(2, 4\)'):
            crm_rank(torch.rand(2, 4), cost)
        with self.assertRaisesRegex(ValueError, 'k must be in 1..5'):
            crm_rank(torch.rand(2, 7), cost, k=6)
        with self.assertRaisesRegex(ValueError, 'candidates'):
            crm_rank(torch.rand(2, 5), cost)
        with self.assertRaisesRegex(ValueError, 'distance'):
            crm_cost_matrix(TREE, distance='hops')
