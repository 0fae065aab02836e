# Copyright (c) mmhier contributors. All rights reserved.
from unittest import TestCase

import torch
from mmpretrain.registry import MODELS
from mmpretrain.structures import DataSample

import mmhier  # noqa: F401 (registers the heads)
from mmhier.structures import PATH_UNKNOWN

U_ = PATH_UNKNOWN
FIXED_TREE = {'A': ['C', 'D'], 'B': ['E', 'F', 'G']}
FIXED_PATHS = [[0, 2], [0, 3], [1, 4], [1, 5], [1, 6]]
VAR_TREE = {'A': {'C': ['H', 'I'], 'D': None}, 'B': ['E', 'F']}


def samples(paths):
    out = []
    for p in paths:
        d = DataSample()
        d.set_field(torch.tensor(p).view(1, -1), 'gt_path')
        out.append(d)
    return out


def build(tree=FIXED_TREE, **kwargs):
    cfg = dict(type='HierFineToCoarseHead', tree=tree, in_channels=6)
    cfg.update(kwargs)
    return MODELS.build(cfg)


class TestHierFineToCoarseHead(TestCase):

    @classmethod
    def setUpClass(cls):
        cls._threads = torch.get_num_threads()
        torch.set_num_threads(1)

    @classmethod
    def tearDownClass(cls):
        torch.set_num_threads(cls._threads)

    def test_stacked_layers(self):
        # Strategy 2: the coarse layer reads the fine layer's scores
        head = build()
        self.assertEqual([fc.in_features for fc in head.fcs], [5, 6])
        v = torch.rand(3, 6)
        fine = head.fcs[1](v)
        logits = head((v, ))
        self.assertTrue(torch.allclose(logits[:, 1, 2:], fine))
        self.assertTrue(torch.allclose(logits[:, 0, :2], head.fcs[0](fine)))
        cat = build(concat_feature=True, serial_input='probs')
        self.assertEqual(cat.fcs[0].in_features, 11)
        z = cat.level_logits(v)
        self.assertTrue(
            torch.allclose(z[0], cat.fcs[0](torch.cat([v, z[1].softmax(-1)],
                                                      -1))))

    def test_variable_depth_chain(self):
        head = build(VAR_TREE)
        # deepest level first: [H, I, none] -> [C, D, E, F, none] -> [A, B]
        self.assertEqual([fc.in_features for fc in head.fcs], [5, 3, 6])
        v = torch.rand(2, 6)
        z = head.level_logits(v)
        self.assertTrue(
            torch.allclose(z[0], head.fcs[0](head.fcs[1](head.fcs[2](v)))))

    def test_coarse_only_sample_trains_the_whole_stack(self):
        # the coarse loss flows back through the fine layer, which reads v
        head = build()
        head.loss((torch.rand(1, 6), ), samples([[1, U_]]))['loss'].backward()
        self.assertGreater(head.fcs[1].weight.grad.abs().sum().item(), 0.)

    def test_train_and_predict(self):
        torch.manual_seed(0)
        head = build(in_channels=8)
        v = torch.randn(len(FIXED_PATHS), 8)
        opt = torch.optim.Adam(head.parameters(), lr=0.1)
        losses = []
        for _ in range(80):
            loss = head.loss((v, ), samples(FIXED_PATHS))['loss']
            opt.zero_grad()
            loss.backward()
            opt.step()
            losses.append(loss.item())
        self.assertLess(losses[-1], 0.2 * losses[0])
        out = head.predict((v, ))
        self.assertEqual([o.pred_path.tolist() for o in out], FIXED_PATHS)
