# Copyright (c) mmhier contributors. All rights reserved.
"""HierNetClassifier: its structure, the product of the routers'
probabilities, and the fast (greedy) and slow (every branch) evaluations.
``test_hiernet_training.py`` covers the loss, the backbone transfer, the
initialisation, the splits and the errors."""
import math
import os.path as osp
import sys
from unittest import TestCase

import torch

from mmhier.structures import PATH_END

sys.path.insert(0, osp.dirname(osp.abspath(__file__)))
from hiernet_helpers import GENERAL, build, fix_router, samples  # noqa: E402


class TestHierNetClassifier(TestCase):

    def setUp(self):
        torch.manual_seed(0)

    def test_structure_and_shapes(self):
        model = build(extra_layers=1)
        # Trunk: units 0-1; each group edge: units 2-3; the root's extra
        # layer is unit 2 (8 channels); group routers see unit 3 (16).
        self.assertEqual(len(model.trunk), 2)
        self.assertEqual(set(model.edges), {'n0', 'n1'})
        self.assertEqual([len(e) for e in model.edges.values()], [2, 2])
        self.assertEqual(len(model.classifiers['root'].extra), 1)
        self.assertEqual(len(model.classifiers['n0'].extra), 0)
        fcs = {
            k: (c.fc.in_features, c.fc.out_features)
            for k, c in model.classifiers.items()
        }
        self.assertEqual(fcs, {'root': (8, 2), 'n0': (16, 2), 'n1': (16, 3)})
        self.assertEqual(model.leaf_nodes.tolist(), [2, 3, 4, 5, 6])
        self.assertEqual(model.leaf_position.tolist(), [-1, -1, 0, 1, 2, 3, 4])

        model.eval()
        x = torch.rand(5, 3, 16, 16)
        logp = model(x)
        self.assertEqual(logp.shape, (5, 7))
        p = logp.exp()
        # Leaves sum to 1, and so do the level-1 nodes.
        torch.testing.assert_close(p[:, 2:].sum(1), torch.ones(5))
        torch.testing.assert_close(p[:, :2].sum(1), torch.ones(5))
        out = model.predict(x)
        self.assertEqual(len(out), 5)
        for ds in out:
            self.assertEqual(ds.pred_path.shape, (2, ))
            self.assertEqual(ds.pred_score.shape, (7, ))
            self.assertEqual(ds.pred_path_score.shape, ())
            for m in ('fast', 'slow'):
                self.assertEqual(ds.get(f'pred_path_{m}').shape, (2, ))
                self.assertEqual(ds.get(f'pred_score_{m}').shape, (7, ))

    def test_product_of_probabilities_by_hand(self):
        model = build().eval()
        fix_router(model, 'root', [0.7, 0.3])
        fix_router(model, 'n0', [0.4, 0.6])
        fix_router(model, 'n1', [0.2, 0.5, 0.3])
        # P(A) = .7, P(B) = .3, P(a1) = .7 * .4 = .28, P(a2) = .7 * .6 =
        # .42, P(b1) = .3 * .2 = .06, P(b2) = .3 * .5 = .15,
        # P(b3) = .3 * .3 = .09.
        expected = torch.tensor([.7, .3, .28, .42, .06, .15, .09])
        x = torch.rand(3, 3, 16, 16)
        torch.testing.assert_close(model(x).exp(), expected.expand(3, 7))

        slow = model.predict(x, eval_mode='slow')[0]
        torch.testing.assert_close(slow.pred_score, expected)
        self.assertEqual(slow.pred_path.tolist(), [0, 3])
        self.assertEqual(slow.pred_label.tolist(), [3])
        self.assertAlmostEqual(
            slow.pred_path_score.item(), math.log(.42), places=5)
        # Fast: A (.7), then a2 (.6); only A's and the root's children are
        # computed.
        fast = model.predict(x, eval_mode='fast')[0]
        self.assertEqual(fast.pred_path.tolist(), [0, 3])
        torch.testing.assert_close(fast.pred_score,
                                   torch.tensor([.7, .3, .28, .42, 0, 0, 0]))
        # Suffixed fields only come with eval_mode='both'.
        self.assertNotIn('pred_path_fast', fast)
        self.assertNotIn('pred_path_slow', slow)

    def test_fast_and_slow_can_disagree(self):
        model = build().eval()
        # P(a1) = .55 * .55 = .3025 < P(b1) = .45 * .9 = .405: the slow
        # evaluation picks b1, the greedy route goes A -> a1.
        fix_router(model, 'root', [0.55, 0.45])
        fix_router(model, 'n0', [0.55, 0.45])
        fix_router(model, 'n1', [0.9, 0.05, 0.05])
        out = model.predict(torch.rand(2, 3, 16, 16), eval_mode='both')[0]
        self.assertEqual(out.pred_path_slow.tolist(), [1, 4])
        self.assertEqual(out.pred_path_fast.tolist(), [0, 2])
        self.assertAlmostEqual(
            out.pred_path_score_fast.item(), math.log(.3025), places=5)
        # main_eval='slow' fills the plain fields.
        self.assertEqual(out.pred_path.tolist(), [1, 4])
        model.main_eval = 'fast'
        out = model.predict(torch.rand(2, 3, 16, 16))[0]
        self.assertEqual(out.pred_path.tolist(), [0, 2])

    def _split_root_router(self, model, x, scale=1e5):
        """Make the routers certain, the root sending half the batch each
        way."""
        with torch.no_grad():
            fc = model.classifiers['root'].fc
            logits = fc(model.trunk(x).flatten(2).mean(-1))
            diff = (logits[:, 0] - logits[:, 1]).sort().values
            half = len(diff) // 2
            fc.bias[0] -= (diff[half - 1] + diff[half]) / 2
            for router in model.classifiers.values():
                router.fc.weight.mul_(scale)
                router.fc.bias.mul_(scale)

    def test_fast_equals_slow_where_router_is_certain(self):
        model = build().eval()
        x = torch.rand(8, 3, 16, 16)
        self._split_root_router(model, x)
        fast = model.predict(x, eval_mode='fast')
        slow = model.predict(x, eval_mode='slow')
        fast_paths = torch.stack([d.pred_path for d in fast])
        slow_paths = torch.stack([d.pred_path for d in slow])
        self.assertEqual(set(fast_paths[:, 0].tolist()), {0, 1})
        torch.testing.assert_close(fast_paths, slow_paths)
        for f, s in zip(fast, slow):
            route = f.pred_path
            torch.testing.assert_close(f.pred_score[route],
                                       s.pred_score[route])
            self.assertGreater(s.pred_score[route[-1]].item(), 0.99)

    def test_both_equals_separate_fast_pass(self):
        # Random (uncertain) routers: the fast fields of eval_mode='both'
        # (read from the slow pass) equal a real fast pass.
        model = build(extra_layers=1).eval()
        x = torch.rand(16, 3, 16, 16)
        route, cond = model.fast_forward(x)
        both = model.predict(x, eval_mode='both')
        self.assertEqual(
            torch.stack([d.pred_path_fast for d in both]).tolist(),
            route.tolist())
        scores = torch.stack([d.pred_score_fast for d in both])
        torch.testing.assert_close(scores, model.node_log_probs(cond).exp())
        torch.testing.assert_close(model.greedy_route(cond), route)

    def test_fast_runs_only_the_chosen_branches(self):
        model = build().eval()
        x = torch.rand(8, 3, 16, 16)
        self._split_root_router(model, x)
        calls = {'trunk': [], 'n0': [], 'n1': []}
        model.trunk.register_forward_hook(
            lambda m, i, o: calls['trunk'].append(len(i[0])))
        for key in ('n0', 'n1'):
            model.edges[key].register_forward_hook(
                lambda m, i, o, key=key: calls[key].append(len(i[0])))
        route, _ = model.fast_forward(x)
        n_a = int((route[:, 0] == 0).sum())
        self.assertEqual(calls, {'trunk': [8], 'n0': [n_a], 'n1': [8 - n_a]})
        self.assertTrue(0 < n_a < 8)

        # Everyone routed to A: B's branch never runs.
        fix_router(model, 'root', [0.9, 0.1])
        calls = {'trunk': [], 'n0': [], 'n1': []}
        model.fast_forward(x)
        self.assertEqual(calls, {'trunk': [8], 'n0': [8], 'n1': []})
        # The slow evaluation runs every branch on the whole batch.
        calls = {'trunk': [], 'n0': [], 'n1': []}
        model.slow_forward(x)
        self.assertEqual(calls, {'trunk': [8], 'n0': [8], 'n1': [8]})

    def test_general_tree(self):
        # Units 0 | 1 | 2-3: x (height 2) ends at segment 1, x1 (height 1)
        # ends at the backbone's end.
        model = build(tree=GENERAL, split_points=(1, 2)).eval()
        self.assertEqual(len(model.trunk), 1)
        self.assertEqual(len(model.edges['n0']), 1)
        self.assertEqual(len(model.edges['n2']), 2)
        self.assertEqual(model.classifiers['n2'].fc.in_features, 16)
        x = torch.rand(12, 3, 16, 16)
        tree = model.tree
        logp = model(x)
        torch.testing.assert_close(logp[:, tree.leaves].exp().sum(1),
                                   torch.ones(12))
        self._split_root_router(model, x, scale=1)
        for mode in ('fast', 'slow', 'both'):
            out = model.predict(x, eval_mode=mode)
            paths = torch.stack([d.pred_path for d in out])
            self.assertTrue(tree.valid_paths(paths).all(), mode)
            labels = torch.cat([d.pred_label for d in out])
            self.assertTrue(tree.is_leaf[labels.numpy()].all(), mode)
        # The fast fields of 'both' equal a real fast pass here too.
        route, _ = model.fast_forward(x)
        both = model.predict(x, eval_mode='both')
        self.assertEqual(
            torch.stack([d.pred_path_fast for d in both]).tolist(),
            route.tolist())
        self.assertGreater(len(set(map(tuple, route.tolist()))), 1)
        # A route to y stops after one step.
        fix_router(model, 'root', [0.01, 0.99])
        route, _ = model.fast_forward(x[:2])
        self.assertEqual(route.tolist(), [[1, PATH_END, PATH_END]] * 2)
        # Training on a path of length 1 and of length 3.
        loss = model.loss(x[:2], samples(labels=[1, 5]))['loss']
        self.assertTrue(torch.isfinite(loss))

    def test_batch_of_one(self):
        model = build().eval()
        x = torch.rand(1, 3, 16, 16)
        self.assertEqual(model(x).shape, (1, 7))
        for mode in ('fast', 'slow', 'both'):
            out = model.predict(x, eval_mode=mode)
            self.assertEqual(len(out), 1)
            self.assertTrue(model.tree.valid_paths(out[0].pred_path))
        self.assertTrue(
            torch.isfinite(model.train().loss(x, samples(labels=[4]))['loss']))
