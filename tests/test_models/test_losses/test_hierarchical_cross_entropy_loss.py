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
# A=0, B=1, C=2, D=3; H=4, I=5 under C (C may be a label: inner node)
VAR_TREE = {'A': {'C': ['H', 'I'], 'D': None}, 'B': None}
Z = [0.5, -1., 1., 0., 2., 0., -0.5]


def build(**kwargs):
    cfg = dict(type='HierarchicalCrossEntropyLoss', tree=TREE, alpha=0.5)
    cfg.update(kwargs)
    return MODELS.build(cfg)


def softmax(z):
    e = [math.exp(v) for v in z]
    return [v / sum(e) for v in e]


class TestHierarchicalCrossEntropyLoss(TestCase):

    def test_value_by_hand(self):
        q = softmax(Z)
        p_a = q[0] + q[2] + q[3]  # subtree of A: A itself, C, D
        # target C (depth 2): -l(A) log p(A) - l(C) log p(C | A)
        expected = (-math.exp(-0.5) * math.log(p_a) -
                    math.exp(-1.0) * math.log(q[2] / p_a))
        got = build()(torch.tensor([Z]), torch.tensor([2]))
        self.assertAlmostEqual(float(got), expected, places=5)
        # target G under B
        p_b = q[1] + q[4] + q[5] + q[6]
        expected = (-math.exp(-0.5) * math.log(p_b) -
                    math.exp(-1.0) * math.log(q[6] / p_b))
        got = build()(torch.tensor([Z]), torch.tensor([6]))
        self.assertAlmostEqual(float(got), expected, places=5)

    def test_paper_loss_over_leaves(self):
        # no mass on inner nodes: the conditionals of leaves only
        z = [-1e4, -1e4, 1., 0., 2., 0., -0.5]
        q = softmax(z[2:])  # C, D, E, F, G
        a = 0.3
        p_a = q[0] + q[1]
        expected = (-math.exp(-a) * math.log(p_a) -
                    math.exp(-2 * a) * math.log(q[1] / p_a))
        got = build(alpha=a)(torch.tensor([z]), torch.tensor([3]))
        self.assertAlmostEqual(float(got), expected, places=5)

    def test_alpha_zero_is_cross_entropy(self):
        z = torch.randn(5, 7)
        y = torch.tensor([2, 3, 4, 5, 6])
        torch.testing.assert_close(
            build(alpha=0.)(z, y), F.cross_entropy(z, y))
        # also with labels at inner nodes (6 nodes, C inner)
        z = torch.randn(4, 6)
        y = torch.tensor([2, 4, 1, 3])
        torch.testing.assert_close(
            build(tree=VAR_TREE, alpha=0.)(z, y), F.cross_entropy(z, y))

    def test_inner_label_by_hand(self):
        z = [0.2, -0.3, 0.7, 0.1, 1.5, -1.]
        q = softmax(z)
        a = 0.4
        p_a = q[0] + q[2] + q[3] + q[4] + q[5]
        p_c = q[2] + q[4] + q[5]
        # C itself is a leaf one level below C
        expected = (-math.exp(-a) * math.log(p_a) -
                    math.exp(-2 * a) * math.log(p_c / p_a) -
                    math.exp(-3 * a) * math.log(q[2] / p_c))
        got = build(
            tree=VAR_TREE, alpha=a)(torch.tensor([z]), torch.tensor([2]))
        self.assertAlmostEqual(float(got), expected, places=5)

    def test_coarse_mistakes_cost_more(self):
        loss, flat = build(), build(alpha=0.)
        sibling = torch.tensor([[0., 0., 0., 5., 0., 0., 0.]])  # D for C
        far = torch.tensor([[0., 0., 0., 0., 5., 0., 0.]])  # E for C
        c = torch.tensor([2])
        self.assertLess(float(loss(sibling, c)), float(loss(far, c)))
        self.assertAlmostEqual(
            float(flat(sibling, c)), float(flat(far, c)), places=5)

    def test_scores_mix_the_losses(self):
        loss = build(tree=VAR_TREE, reduction='none')
        z = torch.randn(3, 6)
        y = torch.tensor([2, 4, 1])
        torch.testing.assert_close(
            loss(z,
                 F.one_hot(y, 6).float()), loss(z, y))
        mix = 0.25 * F.one_hot(y, 6).float() + 0.75 * F.one_hot(y.flip(0),
                                                                6).float()
        torch.testing.assert_close(
            loss(z, mix), 0.25 * loss(z, y) + 0.75 * loss(z, y.flip(0)))

    def test_gradients(self):
        loss = build()
        z = torch.randn(3, 7, dtype=torch.double, requires_grad=True)
        y = torch.tensor([2, 4, 6])
        self.assertTrue(torch.autograd.gradcheck(lambda x: loss(x, y), (z, )))
        # huge logits stay finite (log-sum-exp, no underflow)
        z = torch.tensor([[0., 0., -200., 0., 200., 0., 0.]],
                         requires_grad=True)
        out = loss(z, torch.tensor([2]))
        out.backward()
        self.assertTrue(torch.isfinite(out) and torch.isfinite(z.grad).all())

    def test_in_linear_cls_head(self):
        head = MODELS.build(
            dict(
                type='LinearClsHead',
                num_classes=7,
                in_channels=4,
                loss=dict(
                    type='HierarchicalCrossEntropyLoss', tree=TREE,
                    alpha=0.1)))
        feats = (torch.randn(3, 4), )
        samples = [DataSample().set_gt_label(i) for i in (2, 5, 6)]
        losses = head.loss(feats, samples)
        self.assertTrue(torch.isfinite(losses['loss']))
        losses['loss'].backward()
        self.assertGreater(float(head.fc.weight.grad.abs().sum()), 0)

    def test_errors_name_the_input(self):
        with self.assertRaisesRegex(FileNotFoundError, 'missing.json'):
            build(tree='missing.json')
        with self.assertRaisesRegex(ValueError, 'alpha'):
            build(alpha=-1)
        with self.assertRaisesRegex(ValueError, 'reduction'):
            build(reduction='avg')
        loss = build()
        with self.assertRaisesRegex(ValueError, 'label -1 of sample 0'):
            loss(torch.randn(2, 7), torch.tensor([-1, 2]))
        with self.assertRaisesRegex(ValueError, r'num_classes to 7'):
            loss(torch.randn(2, 10), torch.tensor([2, 3]))
