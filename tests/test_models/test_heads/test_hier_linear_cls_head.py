# Copyright (c) mmhier contributors. All rights reserved.
from unittest import TestCase

import torch
from mmpretrain.registry import MODELS
from mmpretrain.structures import DataSample

import mmhier  # noqa: F401 (registers the heads)

# A=0, B=1; C=2, D=3 under A; E=4, F=5, G=6 under B.
TREE = {'A': ['C', 'D'], 'B': ['E', 'F', 'G']}
# over C, D, E, F, G: argmax is C, but B's leaves hold 0.7 of the mass
LEAF_PROBS = [0.3, 0.0, 0.26, 0.24, 0.2]
# expected tree distances (edges: C-D 2, C-E 4, E-F 2) of E, F, G, C, D
CRM_COSTS = [
    0.3 * 4 + 0.24 * 2 + 0.2 * 2,  # E 2.08
    0.3 * 4 + 0.26 * 2 + 0.2 * 2,  # F 2.12
    0.3 * 4 + 0.26 * 2 + 0.24 * 2,  # G 2.20
    0.7 * 4,  # C 2.80
    0.3 * 2 + 0.7 * 4,  # D 3.40
]


def build(**kwargs):
    cfg = dict(
        type='HierLinearClsHead',
        num_classes=7,
        in_channels=3,
        tree=TREE,
        decode='crm')
    cfg.update(kwargs)
    return MODELS.build(cfg)


def set_probs(head, leaf_probs):
    """Make the head output log-probabilities (inner nodes ~ 0)."""
    probs = torch.tensor([1e-12, 1e-12] + leaf_probs).clamp(min=1e-12)
    with torch.no_grad():
        head.fc.weight.zero_()
        head.fc.bias.copy_(probs.log())


class TestHierLinearClsHead(TestCase):

    def test_crm_picks_another_leaf_than_argmax(self):
        head = build()
        set_probs(head, LEAF_PROBS)
        feats = (torch.randn(2, 3), )
        preds = head.predict(feats)
        for p in preds:
            self.assertEqual(int(p.pred_score.argmax()), 2)  # C
            self.assertEqual(p.pred_label.tolist(), [4])  # E
            self.assertEqual(p.pred_path.tolist(), [1, 4])
            self.assertEqual(p.pred_beam_paths.tolist(),
                             [[1, 4], [1, 5], [1, 6], [0, 2], [0, 3]])
            torch.testing.assert_close(
                p.pred_beam_scores,
                -torch.tensor(CRM_COSTS),
                atol=1e-5,
                rtol=0)
            self.assertAlmostEqual(float(p.pred_score.sum()), 1., places=5)
        # argmax decoding is LinearClsHead's
        flat = build(decode='argmax')
        set_probs(flat, LEAF_PROBS)
        p = flat.predict(feats)[0]
        self.assertEqual(p.pred_label.tolist(), [2])
        self.assertNotIn('pred_path', p)

    def test_fills_given_data_samples_and_ranks_k(self):
        head = build(num_ranked=2)
        set_probs(head, LEAF_PROBS)
        samples = [DataSample().set_gt_label(4)]
        preds = head.predict((torch.randn(1, 3), ), samples)
        self.assertIs(preds[0], samples[0])
        self.assertEqual(preds[0].pred_beam_paths.shape, (2, 2))
        self.assertEqual(build(num_ranked=50).num_ranked, 5)

    def test_training_and_checkpoints_untouched(self):
        torch.manual_seed(0)
        head = build()
        flat = MODELS.build(
            dict(type='LinearClsHead', num_classes=7, in_channels=3))
        self.assertEqual(set(head.state_dict()), set(flat.state_dict()))
        flat.load_state_dict(head.state_dict())
        feats = (torch.randn(4, 3), )
        samples = [DataSample().set_gt_label(i) for i in (2, 3, 5, 6)]
        loss = head.loss(feats, samples)['loss']
        torch.testing.assert_close(loss, flat.loss(feats, samples)['loss'])
        loss.backward()
        self.assertGreater(float(head.fc.weight.grad.abs().sum()), 0)

    def test_candidates_and_distance(self):
        # candidates given by name: only B's leaves
        head = build(candidates=['E', 'F', 'G'])
        set_probs(head, [0.9, 0.1, 0.0, 0.0, 0.0])
        self.assertEqual(head.predict((torch.randn(1, 3), ))[0].pred_label, 4)
        # an inner node as candidate: the hedge between C and D
        head = build(candidates=['A', 'C', 'D', 'E', 'F', 'G'])
        set_probs(head, [0.45, 0.45, 0.1, 0.0, 0.0])
        self.assertEqual(head.predict((torch.randn(1, 3), ))[0].pred_label, 0)
        self.assertEqual(
            build(distance='lca_height').crm_cost[2].tolist(),
            [0., 1., 2., 2., 2.])

    def test_errors_name_the_input(self):
        with self.assertRaisesRegex(ValueError, 'num_classes=10.*7 nodes'):
            build(num_classes=10)
        with self.assertRaisesRegex(ValueError, "decode.*'beam'"):
            build(decode='beam')
        with self.assertRaisesRegex(ValueError, 'distance'):
            build(distance='euclid')
        with self.assertRaisesRegex(KeyError, "'Z'"):
            build(candidates=['E', 'Z'])
        with self.assertRaisesRegex(FileNotFoundError, 'nope.json'):
            build(tree='nope.json')
        with self.assertRaisesRegex(ValueError, 'num_ranked'):
            build(num_ranked=0)
