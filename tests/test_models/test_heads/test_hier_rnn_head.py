# Copyright (c) mmhier contributors. All rights reserved.
import math
from unittest import TestCase

import torch
import torch.nn.functional as F
from mmpretrain.registry import MODELS
from mmpretrain.structures import DataSample

import mmhier  # noqa: F401 (registers the heads)
from mmhier.structures import PATH_END, PATH_UNKNOWN

# Root; A, B; C, D under A; E, F, G under B (DHNN slides): A=0, ..., G=6
SLIDES_TREE = {'A': ['C', 'D'], 'B': ['E', 'F', 'G']}


def samples(paths):
    out = []
    for p in paths:
        d = DataSample()
        d.set_field(torch.tensor(p).view(-1, 2), 'gt_path')
        out.append(d)
    return out


def build(**kwargs):
    cfg = dict(
        type='HierRNNHead', tree=SLIDES_TREE, in_channels=8, hidden_size=16)
    cfg.update(kwargs)
    return MODELS.build(cfg)


def overfit(head, feats, data, steps=60, lr=0.03):
    opt = torch.optim.Adam(head.parameters(), lr=lr)
    losses = []
    for _ in range(steps):
        loss = head.loss(feats, data)['loss']
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    return losses


class TestHierRNNHead(TestCase):

    @classmethod
    def setUpClass(cls):
        # Tiny models: one thread avoids oversubscribing a shared CPU.
        cls._threads = torch.get_num_threads()
        torch.set_num_threads(1)

    @classmethod
    def tearDownClass(cls):
        torch.set_num_threads(cls._threads)

    def test_forward_shapes_and_batch_of_one(self):
        head = build(num_layers=2, bidirectional=True, cell='gru')
        self.assertEqual(tuple(head((torch.rand(3, 2, 8), )).shape), (3, 2, 7))
        out = head.predict((torch.rand(1, 2, 8), ))
        self.assertEqual(len(out), 1)
        self.assertEqual(tuple(out[0].pred_path.shape), (2, ))
        self.assertEqual(tuple(out[0].pred_beam_paths.shape), (5, 2))

    def test_bad_inputs(self):
        head = build()
        with self.assertRaisesRegex(ValueError, 'T=3.*depth 2'):
            head((torch.rand(2, 3, 8), ))
        with self.assertRaisesRegex(ValueError, 'p=5.*in_channels=8'):
            head((torch.rand(2, 2, 5), ))
        with self.assertRaisesRegex(ValueError, r'level_weights.*2.*\[1\]'):
            build(level_weights=[1])
        with self.assertRaisesRegex(ValueError, "cell.*'rnn'"):
            build(cell='rnn')
        with self.assertRaisesRegex(ValueError, r'sample 1.*\[0, 4\]'):
            head.loss((torch.rand(2, 2, 8), ), samples([[1, 5], [0, 4]]))

    def test_loss_matches_hand_computation(self):
        head = build(level_weights=[1.0, 0.5])
        feats = (torch.rand(3, 2, 8), )
        data = samples([[1, 5], [0, PATH_END], [1, PATH_UNKNOWN]])
        logits = head(feats)

        def ce(t, y):
            return F.cross_entropy(
                logits[:, t], torch.tensor(y), reduction='none')

        # step 2 of samples 1 and 2 is ignored (PATH_END / PATH_UNKNOWN)
        want = (ce(0, [1, 0, 1]).sum() + 0.5 * ce(1, [5, 0, 0])[0]) / 3
        self.assertTrue(torch.allclose(head.loss(feats, data)['loss'], want))

    def test_label_smoothing_hand_computed(self):
        torch.manual_seed(0)
        feats = (torch.randn(2, 2, 8), )
        data = samples([[0, 3], [1, PATH_UNKNOWN]])  # A/D, and "B/*"
        for mask_levels in (False, True):
            head = build(label_smoothing=0.2, mask_levels=mask_levels)
            logits = head(feats)
            if mask_levels:
                logits = logits.masked_fill(~head.tree.level_mask(), -math.inf)
            want = 0.
            for b, path in enumerate([[0, 3], [1, -1]]):
                for t, node in enumerate(path):
                    if node < 0:  # unknown step: no loss
                        continue
                    allowed = torch.isfinite(logits[b, t])
                    log_p = logits[b, t].log_softmax(-1)
                    uniform = -log_p[allowed].mean()
                    want += 0.8 * -log_p[node] + 0.2 * uniform
            got = head.loss(feats, data)['loss']
            self.assertTrue(torch.isfinite(got))
            self.assertAlmostEqual(got.item(), float(want) / 2, places=5)
        with self.assertRaisesRegex(ValueError, 'label_smoothing'):
            build(label_smoothing=1.0)

    def test_masked_loss_uses_level_nodes_only(self):
        head = build(mask_levels=True)
        feats = (torch.rand(2, 2, 8), )
        logits = head(feats)
        # level 1 = {A, B} (0, 1); level 2 = {C..G} (2..6)
        want = (F.cross_entropy(
            logits[:, 0, :2], torch.tensor([1, 0]),
            reduction='sum') + F.cross_entropy(
                logits[:, 1, 2:], torch.tensor([3, 0]), reduction='sum')) / 2
        got = head.loss(feats, samples([[1, 5], [0, 2]]))['loss']
        self.assertTrue(torch.allclose(got, want))

    def test_residual_placement(self):
        head = build(residual=True, bidirectional=True)
        self.assertEqual((head.z.in_features, head.z.out_features), (32, 8))
        self.assertEqual((head.fc.in_features, head.fc.out_features), (8, 7))
        u = torch.rand(2, 2, 8)
        o, _ = head.rnn(u)
        # o_t^res = u_t + z(o_t); the logits of the loss read o_t^res
        self.assertTrue(torch.allclose(head((u, )), head.fc(u + head.z(o))))
        plain = build()
        self.assertEqual(plain.fc.in_features, 16)
        self.assertFalse(hasattr(plain, 'z'))

    def test_overfit(self):
        paths = [[0, 2], [0, 3], [1, 4], [1, 5], [1, 6], [0, 3]]
        for kw in (dict(), dict(residual=True), dict(cell='gru'),
                   dict(
                       residual=True,
                       bidirectional=True,
                       num_layers=2,
                       mask_levels=True)):
            torch.manual_seed(0)
            head = build(**kw)
            feats = (torch.randn(6, 2, 8), )
            losses = overfit(head, feats, samples(paths))
            self.assertLess(losses[-1], 0.2 * losses[0], kw)
            out = head.predict(feats)
            self.assertEqual([d.pred_path.tolist() for d in out], paths, kw)

    def test_predictions(self):
        torch.manual_seed(1)
        head = build(beam_size=5)
        feats = (torch.randn(4, 2, 8), )
        out = head.predict(feats)
        lp = head(feats).log_softmax(-1)
        for b, d in enumerate(out):
            # k = 5 >= widest level: the best of all 5 leaf paths
            leaf_paths = [[0, 2], [0, 3], [1, 4], [1, 5], [1, 6]]
            scores = [lp[b, 0, p[0]] + lp[b, 1, p[1]] for p in leaf_paths]
            best = max(range(5), key=lambda i: scores[i])
            self.assertEqual(d.pred_path.tolist(), leaf_paths[best])
            self.assertAlmostEqual(d.pred_path_score.item(),
                                   scores[best].item(), 5)
            self.assertEqual(d.pred_label.tolist(), [leaf_paths[best][1]])
            self.assertEqual(int(d.pred_score.argmax()), leaf_paths[best][1])
            names = [head.tree.names[i] for i in leaf_paths[best]]
            self.assertEqual(d.pred_path_names, names)
            self.assertTrue(head.tree.valid_paths(d.pred_beam_paths).all())
            self.assertTrue(
                torch.allclose(d.pred_level_scores, lp[b, [0, 1],
                                                       d.pred_path].exp()))
            # node score: softmax of o_t at the node's own step
            self.assertAlmostEqual(d.pred_node_score[5].item(),
                                   lp[b, 1, 5].exp().item(), 5)
            self.assertAlmostEqual(d.pred_node_score[1].item(),
                                   lp[b, 0, 1].exp().item(), 5)
        # mmpretrain's Accuracy ranks pred_score: it scores pred_label
        from mmpretrain.evaluation import Accuracy
        for d in out:
            d.set_gt_label(d.pred_label)
        acc = Accuracy.calculate(
            torch.stack([d.pred_score for d in out]),
            torch.cat([d.gt_label for d in out]))
        self.assertEqual(acc[0][0].item(), 100.0)

    def test_multi_label(self):
        torch.manual_seed(0)
        head = build(multi_label=True, threshold=0.5)
        feats = (torch.randn(4, 2, 8), )
        paths = [[[0, 2], [1, 5]], [[1, 6], [PATH_END, PATH_END]],
                 [[0, 3], [1, 4]], [[1, 6], [0, 3]]]
        data = []
        for p in paths:
            d = DataSample()
            d.set_field(torch.tensor(p), 'gt_path')
            data.append(d)
        # hand-computed BCE: multi-hot targets per step, summed over nodes
        logits = head(feats)
        target = torch.zeros(4, 2, 7)
        for b, ps in enumerate(paths):
            for p in ps:
                for t, j in enumerate(p):
                    if j >= 0:
                        target[b, t, j] = 1
        want = F.binary_cross_entropy_with_logits(
            logits, target, reduction='sum') / 4
        self.assertTrue(torch.allclose(head.loss(feats, data)['loss'], want))
        losses = overfit(head, feats, data, steps=80)
        self.assertLess(losses[-1], 0.2 * losses[0])
        out = head.predict(feats)
        for d, ps in zip(out, paths):
            want = sorted(p for p in ps if p[0] >= 0)
            self.assertEqual(sorted(d.pred_paths.tolist()), want)
            self.assertIn(d.pred_path.tolist(), want)
            self.assertEqual(tuple(d.pred_score.shape), (7, ))

    def test_multi_label_unknown_levels(self):
        head = build(multi_label=True)
        feats = (torch.randn(1, 2, 8), )
        d = DataSample()
        # path A -> ?: at step 2 the children of A (C, D) are unknown, the
        # other level-2 nodes are negatives
        d.set_field(torch.tensor([[0, PATH_UNKNOWN]]), 'gt_path')
        logits = head(feats)
        target = torch.zeros(1, 2, 7)
        target[0, 0, 0] = 1
        weight = torch.ones(1, 2, 7)
        weight[0, 1, [2, 3]] = 0
        want = F.binary_cross_entropy_with_logits(
            logits, target, weight=weight, reduction='sum')
        self.assertTrue(torch.allclose(head.loss(feats, [d])['loss'], want))
        self.assertTrue(math.isfinite(want.item()))
