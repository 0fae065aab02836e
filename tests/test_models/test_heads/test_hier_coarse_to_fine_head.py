# Copyright (c) mmhier contributors. All rights reserved.
from unittest import TestCase

import torch
from mmpretrain.registry import MODELS
from mmpretrain.structures import DataSample

import mmhier  # noqa: F401 (registers the heads)
from mmhier.structures import PATH_END, PATH_UNKNOWN

E_, U_ = PATH_END, PATH_UNKNOWN
FIXED_TREE = {'A': ['C', 'D'], 'B': ['E', 'F', 'G']}
FIXED_PATHS = [[0, 2], [0, 3], [1, 4], [1, 5], [1, 6]]
# levels [A, B], [C, D, E, F] + none, [H, I] + none
VAR_TREE = {'A': {'C': ['H', 'I'], 'D': None}, 'B': ['E', 'F']}


def samples(paths):
    out = []
    for p in paths:
        d = DataSample()
        d.set_field(torch.tensor(p).view(1, -1), 'gt_path')
        out.append(d)
    return out


def build(tree=FIXED_TREE, **kwargs):
    cfg = dict(type='HierCoarseToFineHead', tree=tree, in_channels=6)
    cfg.update(kwargs)
    return MODELS.build(cfg)


class TestHierCoarseToFineHead(TestCase):

    @classmethod
    def setUpClass(cls):
        cls._threads = torch.get_num_threads()
        torch.set_num_threads(1)

    @classmethod
    def tearDownClass(cls):
        torch.set_num_threads(cls._threads)

    def test_stacked_layers(self):
        # Strategy 1: the fine layer reads the coarse layer's scores
        head = build()
        self.assertEqual([fc.in_features for fc in head.fcs], [6, 2])
        v = torch.rand(3, 6)
        coarse = head.fcs[0](v)
        logits = head((v, ))
        self.assertTrue(torch.allclose(logits[:, 0, :2], coarse))
        self.assertTrue(torch.allclose(logits[:, 1, 2:], head.fcs[1](coarse)))
        # variants: softmax of the scores, or [v; scores]
        probs = build(serial_input='probs')
        z = probs.level_logits(v)
        self.assertTrue(torch.allclose(z[1], probs.fcs[1](z[0].softmax(-1))))
        cat = build(concat_feature=True)
        self.assertEqual(cat.fcs[1].in_features, 8)
        z = cat.level_logits(v)
        self.assertTrue(
            torch.allclose(z[1], cat.fcs[1](torch.cat([v, z[0]], -1))))

    def test_variable_depth_chain(self):
        head = build(VAR_TREE)
        self.assertEqual(head.level_sizes, [2, 5, 3])
        self.assertEqual([fc.in_features for fc in head.fcs], [6, 2, 5])
        v = torch.rand(2, 6)
        z = head.level_logits(v)
        self.assertTrue(
            torch.allclose(z[2], head.fcs[2](head.fcs[1](head.fcs[0](v)))))
        self.assertEqual(tuple(head((v, )).shape), (2, 3, 9))

    def test_loss_reaches_the_coarse_layer_through_the_fine(self):
        # a coarse-only sample trains only the coarse layer; a fine label
        # also trains it, through the stack
        head = build()
        v = torch.rand(1, 6)
        head.loss((v, ), samples([[0, U_]]))['loss'].backward()
        self.assertEqual(head.fcs[1].weight.grad.abs().sum().item(), 0.)
        head.zero_grad()
        head_w = build(level_weights=[0., 1.])
        head_w.load_state_dict(head.state_dict())
        head_w.loss((v, ), samples([[0, 2]]))['loss'].backward()
        self.assertGreater(head_w.fcs[0].weight.grad.abs().sum().item(), 0.)

    def test_train_and_predict(self):
        torch.manual_seed(0)
        head = build(in_channels=8, decoder='tree', beam_size=5)
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
        self.assertEqual(tuple(out[0].pred_beam_paths.shape), (5, 2))
