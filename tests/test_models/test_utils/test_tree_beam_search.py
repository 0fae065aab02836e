# Copyright (c) mmhier contributors. All rights reserved.
import math
import random
from unittest import TestCase

import torch

from mmhier.models.utils import tree_beam_search, tree_beam_search_static
from mmhier.structures import PATH_END, ClassTree

SLIDES_TREE = {'A': ['C', 'D'], 'B': ['E', 'F', 'G']}


def random_tree(num_nodes, max_depth, fixed, seed):
    """A random tree; ``fixed``: every leaf at ``max_depth``."""
    rng = random.Random(seed)
    levels = [[f'n{i}' for i in range(rng.randint(1, 3))]]
    parents = {n: None for n in levels[0]}
    count = len(parents)
    while len(levels) < max_depth:
        prev = levels[-1]
        want = max(len(prev), (num_nodes - count) // (max_depth - len(levels)))
        # every node of a non-last level gets a child when the tree is fixed
        kids = list(prev) if fixed else []
        kids += [rng.choice(prev) for _ in range(want - len(kids))]
        if not kids:
            kids = [rng.choice(prev)]
        level = []
        for p in kids:
            name = f'n{count}'
            count += 1
            parents[name] = p
            level.append(name)
        levels.append(level)
    names = list(parents)
    return ClassTree(names, [parents[n] for n in names])


def brute_force_static(log_probs, tree, can_stop):
    """Score of every root-to-node path that may stop: (B, M), (M, T)."""
    pm = torch.from_numpy(tree.path_matrix)
    nodes = torch.nonzero(can_stop).view(-1)
    paths = pm[nodes]  # (M, T)
    steps = torch.arange(tree.max_depth).expand_as(paths)
    lp = log_probs[:, steps, paths.clamp(min=0)]  # (B, M, T)
    scores = torch.where(paths >= 0, lp, 0.).sum(-1)
    return scores, paths


def top_k(scores, paths, k):
    s, i = scores.topk(k, dim=1)
    return s, paths[i]


class ToyDecoder:
    """A decoder whose step t depends on every node chosen before it."""

    def __init__(self, num_nodes, dims=6, seed=0):
        g = torch.Generator().manual_seed(seed)
        self.n = num_nodes
        self.emb = torch.randn(num_nodes + 1, dims, generator=g)
        self.w = torch.randn(dims, dims, generator=g)
        self.v = torch.randn(dims, num_nodes + 1, generator=g) * 2

    def __call__(self, t, last, state):
        b, k = last.shape
        h = torch.tanh(state @ self.w + self.emb[last.reshape(-1)])
        lp = (h @ self.v).log_softmax(-1).view(b, k, -1)
        return lp, h

    def path_score(self, h0, path):
        """Brute force: log-prob of ``path`` (list of nodes) then END."""
        h, prev, score = h0, self.n, 0.
        for node in list(path) + [self.n]:
            h = torch.tanh(h @ self.w + self.emb[prev])
            score = score + (h @ self.v).log_softmax(-1)[:, node]
            prev = node
        return score


class TestTreeBeamSearch(TestCase):

    def test_slides_example_greedy(self):
        # DHNN slides, Algorithm 1 example: k = 1 gives {Root, B, G}.
        tree = ClassTree.build(SLIDES_TREE)
        o1 = torch.tensor([0.3, 0.4, 0.1, 0.1, 0.1, 0.0, 0.0])
        o2 = torch.tensor([0.0, 0.1, 0.0, 0.1, 0.1, 0.2, 0.5])
        res = tree_beam_search_static(
            torch.stack([o1, o2])[None].log(), tree, 1)
        self.assertEqual(res.paths.tolist(), [[[1, 6]]])
        self.assertAlmostEqual(res.scores.item(), math.log(0.4 * 0.5), 5)
        self.assertTrue(
            torch.allclose(res.node_scores,
                           torch.tensor([[[math.log(.4),
                                           math.log(.5)]]])))

    def test_greedy_differs_from_exact(self):
        # Greedy picks A (0.6) then its best child (0.5); the best path is
        # B -> E (0.4 * 0.9).
        tree = ClassTree.build(SLIDES_TREE)
        o1 = torch.tensor([0.6, 0.4, 0, 0, 0, 0, 0])
        o2 = torch.tensor([0, 0, 0.5, 0.5, 0.9, 0.05, 0.05])
        lp = torch.stack([o1, o2])[None].clamp(min=1e-9).log()
        self.assertEqual(
            tree_beam_search_static(lp, tree, 1).paths[0, 0].tolist(), [0, 2])
        res = tree_beam_search_static(lp, tree, 3)
        self.assertEqual(res.paths[0, 0].tolist(), [1, 4])
        # A -> C and A -> D tie exactly (0.6 * 0.5): both follow, in the
        # order topk gives ties (unspecified)
        self.assertCountEqual(res.paths[0, 1:3].tolist(), [[0, 2], [0, 3]])
        self.assertEqual(res.scores[0, 1], res.scores[0, 2])
        self.assertAlmostEqual(res.scores[0, 1].item(), math.log(.3), 5)

    def test_static_equals_brute_force(self):
        for seed, fixed in [(0, True), (1, True), (2, False), (3, False)]:
            tree = random_tree(40, 4, fixed, seed)
            self.assertEqual(tree.is_fixed_depth, fixed)
            width = max(len(lv) for lv in tree.levels)
            g = torch.Generator().manual_seed(seed)
            lp = torch.randn(
                6, tree.max_depth, tree.num_nodes, generator=g).log_softmax(-1)
            can_stop = torch.from_numpy(tree.is_leaf)
            scores, paths = brute_force_static(lp, tree, can_stop)
            k = min(width, int(can_stop.sum()))
            want_s, want_p = top_k(scores, paths, k)
            res = tree_beam_search_static(lp, tree, k)
            self.assertTrue(torch.equal(res.paths, want_p), f'seed {seed}')
            self.assertTrue(torch.allclose(res.scores, want_s))
            # node scores add up to the path score
            self.assertTrue(
                torch.allclose(res.node_scores.sum(-1), res.scores))

    def test_stateful_end_token_equals_brute_force(self):
        for seed, fixed in [(0, False), (1, True), (4, False)]:
            tree = random_tree(25, 4, fixed, seed)
            width = max(len(lv) for lv in tree.levels)
            dec = ToyDecoder(tree.num_nodes, seed=seed)
            h0 = torch.randn(3, 6, generator=torch.Generator().manual_seed(9))
            # every node may end a path (inner stops allowed)
            can_stop = torch.ones(tree.num_nodes, dtype=torch.bool)
            res = tree_beam_search(
                dec,
                tree,
                3,
                width,
                can_stop=can_stop,
                end_token=True,
                state=h0)
            scores = torch.stack([
                dec.path_score(h0, tree.path(j)) for j in range(tree.num_nodes)
            ], 1)
            want_s, want_p = top_k(scores, torch.from_numpy(tree.path_matrix),
                                   width)
            self.assertTrue(torch.equal(res.paths, want_p), f'seed {seed}')
            self.assertTrue(torch.allclose(res.scores, want_s, atol=1e-5))
            self.assertTrue(
                torch.allclose(
                    res.node_scores.sum(-1) + res.end_scores,
                    res.scores,
                    atol=1e-5))

    def test_leaf_only_stop_with_end_token(self):
        tree = random_tree(25, 4, False, 5)
        dec = ToyDecoder(tree.num_nodes, seed=5)
        h0 = torch.randn(2, 6)
        leaves = torch.from_numpy(tree.is_leaf)
        k = max(len(lv) for lv in tree.levels)
        res = tree_beam_search(
            dec, tree, 2, k, can_stop=leaves, end_token=True, state=h0)
        ends = res.paths.gather(
            -1, ((res.paths >= 0).sum(-1, keepdim=True) - 1))[..., 0]
        ok = torch.isfinite(res.scores)
        self.assertTrue(leaves[ends[ok]].all())
        scores = torch.stack(
            [dec.path_score(h0, tree.path(int(j))) for j in tree.leaves], 1)
        want_s, want_p = top_k(scores,
                               torch.from_numpy(tree.path_matrix[tree.leaves]),
                               min(k, len(tree.leaves)))
        self.assertTrue(torch.equal(res.paths[:, :want_p.size(1)], want_p))

    def test_small_beams_give_valid_sorted_paths(self):
        tree = random_tree(60, 5, False, 7)
        lp = torch.randn(8, tree.max_depth, tree.num_nodes).log_softmax(-1)
        can_stop = torch.from_numpy(tree.is_leaf)
        scores, _ = brute_force_static(lp, tree, can_stop)
        for k in (1, 2, 3):
            res = tree_beam_search_static(lp, tree, k)
            self.assertEqual(tuple(res.paths.shape), (8, k, tree.max_depth))
            self.assertTrue(tree.valid_paths(res.paths).all())
            self.assertTrue((res.scores[:, :-1] >= res.scores[:, 1:]).all())
            # a beam never beats the exact best path
            self.assertTrue((res.scores[:, 0]
                             <= scores.max(1).values + 1e-5).all())

    def test_batch_of_one_and_more_beams_than_paths(self):
        tree = ClassTree.build(SLIDES_TREE)  # 5 leaves
        lp = torch.randn(1, 2, 7).log_softmax(-1)
        res = tree_beam_search_static(lp, tree, 8)
        self.assertEqual(tuple(res.paths.shape), (1, 8, 2))
        self.assertTrue(torch.isfinite(res.scores[0, :5]).all())
        self.assertTrue(torch.isinf(res.scores[0, 5:]).all())
        self.assertTrue((res.paths[0, 5:] == PATH_END).all())
        self.assertEqual(
            sorted(res.paths[0, :5].tolist()),
            [[0, 2], [0, 3], [1, 4], [1, 5], [1, 6]])

    def test_errors(self):
        tree = ClassTree.build(SLIDES_TREE)
        with self.assertRaisesRegex(ValueError, 'beam_size.*0'):
            tree_beam_search_static(torch.zeros(1, 2, 7), tree, 0)
        with self.assertRaisesRegex(ValueError, r'\(B, 2, 7\).*\(1, 3, 7\)'):
            tree_beam_search_static(torch.zeros(1, 3, 7), tree, 1)

        def bad_step(t, last, state):
            return torch.zeros(1, 1, 7), None

        with self.assertRaisesRegex(ValueError,
                                    r'\(1, 1 or 1, 8\).*\(1, 1, 7\)'):
            tree_beam_search(bad_step, tree, 1, 2, end_token=True)
        with self.assertRaisesRegex(ValueError, r'can_stop.*\(7,\).*\(3,\)'):
            tree_beam_search(
                bad_step, tree, 1, 2, can_stop=torch.ones(3, dtype=bool))
