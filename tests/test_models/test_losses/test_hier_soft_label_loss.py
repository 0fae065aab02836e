# Copyright (c) mmhier contributors. All rights reserved.
import math
from unittest import TestCase

import torch
import torch.nn.functional as F
from mmpretrain.registry import MODELS
from mmpretrain.structures import DataSample

import mmhier  # noqa: F401 (registers the losses)

# A=0, B=1; C=2, D=3 under A; E=4, F=5, G=6 under B.
TREE = {'A': ['C', 'D'], 'B': ['E', 'F', 'G']}
# A=0, B=1, C=2, D=3; H=4, I=5 under C (labels may be C, an inner node)
VAR_TREE = {'A': {'C': ['H', 'I'], 'D': None}, 'B': None}


def build(**kwargs):
    cfg = dict(type='HierSoftLabelLoss', tree=TREE, beta=2.)
    cfg.update(kwargs)
    return MODELS.build(cfg)


def normalised(weights):
    s = sum(weights)
    return [w / s for w in weights]


class TestHierSoftLabelLoss(TestCase):

    def test_soft_targets_by_hand(self):
        loss = build()
        # tree distances from C: D 2, E/F/G 4; divided by the largest (4)
        e = math.exp
        c = normalised([1, e(-2 * .5), e(-2.), e(-2.), e(-2.)])
        torch.testing.assert_close(loss.soft_targets[2],
                                   torch.tensor([0, 0] + c))
        # from F: E and G are siblings, C and D far
        f = normalised([e(-2.), e(-2.), e(-1.), 1, e(-1.)])
        torch.testing.assert_close(loss.soft_targets[5],
                                   torch.tensor([0, 0] + f))
        # inner nodes get no mass; large beta is one-hot
        self.assertTrue((loss.soft_targets[:, :2][2:] == 0).all())
        hard = build(beta=1e4).soft_targets
        torch.testing.assert_close(hard[2:, 2:], torch.eye(5))

    def test_loss_value_by_hand(self):
        loss = build()
        z = torch.tensor([[0.5, -1., 1., 0., 2., 0., -0.5]])
        logq = F.log_softmax(z, 1)[0]
        target = loss.soft_targets[3]  # D
        expected = -sum(float(target[j]) * float(logq[j]) for j in range(7))
        self.assertAlmostEqual(
            float(loss(z, torch.tensor([3]))), expected, places=5)
        # beta -> inf: the cross-entropy of the flat baseline
        hard = build(beta=1e4)
        torch.testing.assert_close(
            hard(z, torch.tensor([3])), F.cross_entropy(z, torch.tensor([3])))

    def test_near_mistakes_cost_less(self):
        loss = build()
        sibling = torch.tensor([[0., 0., 0., 5., 0., 0., 0.]])  # D for C
        far = torch.tensor([[0., 0., 0., 0., 5., 0., 0.]])  # E for C
        c = torch.tensor([2])
        self.assertLess(float(loss(sibling, c)), float(loss(far, c)))

    def test_inner_label_keeps_its_class(self):
        # labels are the leaves H, I, D, B and the inner node C
        loss = build(tree=VAR_TREE, beta=3.)
        row = loss.soft_targets[2]  # C
        self.assertGreater(float(row[2]), float(row[4]))
        self.assertEqual(float(row[0]), 0.)  # A is no label node
        self.assertAlmostEqual(float(row.sum()), 1., places=6)
        # given label nodes: C is then a label node for every target
        given = build(tree=VAR_TREE, label_nodes=['B', 'C', 'D', 'H', 'I'])
        self.assertEqual(given.label_nodes.tolist(), [1, 2, 3, 4, 5])
        self.assertGreater(float(given.soft_targets[4, 2]), 0)
        self.assertEqual(float(loss.soft_targets[4, 2]), 0)

    def test_scores_mix_the_soft_labels(self):
        loss = build(reduction='none')
        z = torch.randn(3, 7)
        y = torch.tensor([2, 4, 6])
        torch.testing.assert_close(
            loss(z,
                 F.one_hot(y, 7).float()), loss(z, y))
        mix = 0.3 * F.one_hot(y, 7).float() + 0.7 * F.one_hot(y.flip(0),
                                                              7).float()
        torch.testing.assert_close(
            loss(z, mix), 0.3 * loss(z, y) + 0.7 * loss(z, y.flip(0)))

    def test_reduction_and_weights(self):
        loss = build(loss_weight=2.)
        z, y = torch.randn(4, 7), torch.tensor([2, 3, 4, 5])
        each = loss(z, y, reduction_override='none') / 2
        self.assertEqual(each.shape, (4, ))
        torch.testing.assert_close(loss(z, y), 2 * each.mean())
        w = torch.tensor([1., 0., 1., 0.])
        torch.testing.assert_close(
            loss(z, y, weight=w, avg_factor=2), (each * w).sum())

    def test_in_linear_cls_head_with_gradients(self):
        head = MODELS.build(
            dict(
                type='LinearClsHead',
                num_classes=7,
                in_channels=4,
                loss=dict(type='HierSoftLabelLoss', tree=TREE, beta=10.)))
        feats = (torch.randn(3, 4), )
        samples = [DataSample().set_gt_label(i) for i in (2, 5, 6)]
        losses = head.loss(feats, samples)
        self.assertTrue(torch.isfinite(losses['loss']))
        losses['loss'].backward()
        self.assertGreater(float(head.fc.weight.grad.abs().sum()), 0)
        # batch augmentations hand over gt_score
        mixed = [
            DataSample().set_gt_score(F.one_hot(torch.tensor(i), 7).float())
            for i in (2, 5, 6)
        ]
        torch.testing.assert_close(
            head.loss(feats, mixed)['loss'], losses['loss'].detach())

    def test_errors_name_the_input(self):
        with self.assertRaisesRegex(FileNotFoundError, 'no_tree.json'):
            build(tree='no_tree.json')
        with self.assertRaisesRegex(ValueError, 'needs the class tree'):
            build(tree=None)
        with self.assertRaisesRegex(ValueError, 'beta'):
            build(beta=0)
        with self.assertRaisesRegex(KeyError, "'X'"):
            build(label_nodes=['C', 'X'])
        with self.assertRaisesRegex(ValueError, 'label_nodes holds 9'):
            build(label_nodes=[2, 9])
        loss = build()
        with self.assertRaisesRegex(ValueError, r'label 7 of sample 1'):
            loss(torch.randn(2, 7), torch.tensor([2, 7]))
        with self.assertRaisesRegex(ValueError, r'\(B, 7\).*\(2, 5\)'):
            loss(torch.randn(2, 5), torch.tensor([2, 3]))
        with self.assertRaisesRegex(ValueError, 'target'):
            loss(torch.randn(2, 7), torch.tensor([[2], [3]]))
