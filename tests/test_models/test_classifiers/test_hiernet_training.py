# Copyright (c) mmhier contributors. All rights reserved.
"""HierNetClassifier: the loss, training, the transfer of a flat backbone,
the initialisation, the splits of a real backbone and the errors."""
import math
import os.path as osp
import sys
from unittest import TestCase

import torch
import torch.nn as nn
from mmengine.optim import OptimWrapper
from mmpretrain.registry import MODELS

from mmhier.structures import PATH_UNKNOWN

sys.path.insert(0, osp.dirname(osp.abspath(__file__)))
from hiernet_helpers import (NotSplittable, build, fix_router,  # noqa: E402
                             samples)


class TestHierNetTraining(TestCase):

    def setUp(self):
        torch.manual_seed(0)

    def test_loss_by_hand(self):
        model = build()
        fix_router(model, 'root', [0.7, 0.3])
        fix_router(model, 'n0', [0.4, 0.6])
        fix_router(model, 'n1', [0.2, 0.5, 0.3])
        x = torch.rand(3, 3, 16, 16)
        # gt a2 (.42), b2 (.15), coarse-only B (.3): mean of -log P.
        data = samples(paths=[[0, 3], [1, 5], [1, PATH_UNKNOWN]])
        loss = model.loss(x, data)['loss']
        expected = -(math.log(.42) + math.log(.15) + math.log(.3)) / 3
        self.assertAlmostEqual(loss.item(), expected, places=5)
        # Without gt_path, gt_label is the node index.
        loss = model.loss(x, samples(labels=[3, 5]))['loss']
        expected = -(math.log(.42) + math.log(.15)) / 2
        self.assertAlmostEqual(loss.item(), expected, places=5)
        with self.assertRaisesRegex(ValueError, r'gt_label 7 of sample 1'):
            model.loss(x[:2], samples(labels=[3, 7]))
        with self.assertRaisesRegex(ValueError, r'\[1, 3\] of sample 0'):
            model.loss(x[:1], samples(paths=[[1, 3]]))

    def test_loss_falls_when_overfitting(self):
        model = build(data_preprocessor=dict(mean=[0.] * 3, std=[1.] * 3))
        model.init_weights()
        optim = OptimWrapper(
            torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9))
        x = torch.rand(10, 3, 16, 16)
        leaves = [2, 3, 4, 5, 6] * 2
        data = dict(inputs=list(x), data_samples=samples(labels=leaves))
        first = model.train_step(data, optim)['loss'].item()
        for _ in range(15):
            last = model.train_step(data, optim)['loss'].item()
        self.assertLess(last, 0.5 * first)
        # val_step goes through the data preprocessor and predict.
        out = model.val_step(dict(inputs=list(x[:2])))
        self.assertEqual(len(out), 2)

    def test_transfer_copies_backbone_everywhere(self):
        flat = MODELS.build(dict(type='HierNetTestCNN'))
        for m in flat.modules():  # non-trivial running stats too
            if isinstance(m, nn.BatchNorm2d):
                m.running_mean.uniform_()
                m.running_var.uniform_(0.5, 2)
        ckpt = self.tmp_checkpoint({
            f'backbone.{k}': v
            for k, v in flat.state_dict().items()
        })
        model = build(extra_layers=1, backbone_checkpoint=ckpt)
        model.init_weights()
        units = list(flat.children())
        # Every copy of unit i holds unit i's weights.
        copies = [(model.trunk[0], 0), (model.trunk[1], 1),
                  (model.classifiers['root'].extra[0], 2)]
        for key in ('n0', 'n1'):
            copies += [(model.edges[key][0], 2), (model.edges[key][1], 3)]
        for module, i in copies:
            for (name, a), b in zip(module.state_dict().items(),
                                    units[i].state_dict().values()):
                torch.testing.assert_close(a, b, msg=name)
        # So each root-to-leaf route computes exactly the backbone.
        model.eval()
        flat.eval()
        x = torch.rand(2, 3, 16, 16)
        for key in ('n0', 'n1'):
            torch.testing.assert_close(model.edges[key](model.trunk(x)),
                                       flat(x))

        with self.assertRaisesRegex(ValueError, 'do not fit'):
            model.load_backbone({'backbone.0.0.weight': torch.zeros(1)})

    def test_flat_tree_is_the_backbone_plus_softmax(self):
        # A one-level tree: no split, the root router is the classifier.
        model = build(
            tree={
                'a': None,
                'b': None,
                'c': None
            }, split_points=()).eval()
        flat = MODELS.build(dict(type='HierNetTestCNN')).eval()
        model.load_backbone(flat.state_dict())  # a bare backbone state
        x = torch.rand(2, 3, 16, 16)
        logits = model.classifiers['root'].fc(flat(x).mean((2, 3)))
        torch.testing.assert_close(model(x), logits.log_softmax(-1))
        out = model.predict(x, eval_mode='fast')
        self.assertEqual(
            torch.cat([d.pred_label for d in out]).tolist(),
            logits.argmax(-1).tolist())

    def test_init_gives_independent_branches(self):
        model = build(
            backbone=dict(
                type='ResNet_CIFAR',
                depth=18,
                stem_channels=4,
                base_channels=4),
            split_points=[6])
        model.init_weights()
        a, b = model.edges['n0'][0], model.edges['n1'][0]
        self.assertFalse(torch.equal(a.conv1.weight, b.conv1.weight))
        # The backbone's own init: ResNet zero-initialises the last norm of
        # each residual block.
        self.assertEqual(a.norm2.weight.abs().sum().item(), 0)
        self.assertEqual(model.trunk[1].norm2.weight.abs().sum().item(), 0)

    def test_resnet_cifar_split(self):
        model = build(
            backbone=dict(
                type='ResNet_CIFAR',
                depth=18,
                stem_channels=4,
                base_channels=4),
            split_points=[0.5],
            extra_layers=[1]).eval()
        # 8 blocks (4 stages of 2); cut after 4: the root sees layer3's
        # first block (16 channels), the groups layer4 (32).
        self.assertEqual(model.boundaries, [0, 4, 8])
        self.assertEqual(model.classifiers['root'].fc.in_features, 16)
        self.assertEqual(model.classifiers['n1'].fc.in_features, 32)
        out = model.predict(torch.rand(2, 3, 16, 16))
        self.assertEqual(out[0].pred_score.shape, (7, ))

    def test_errors_name_the_bad_value(self):
        with self.assertRaisesRegex(ValueError,
                                    r'split_points=\[1, 2\] has 2'):
            build(split_points=(1, 2))
        with self.assertRaisesRegex(ValueError, r'split_points\[0\]=5'):
            build(split_points=(5, ))
        with self.assertRaisesRegex(ValueError, r'split_points\[0\]=1.5'):
            build(split_points=(1.5, ))
        with self.assertRaisesRegex(ValueError, 'level 0 ends at unit 3'):
            build(split_points=(3, ), extra_layers=2)
        with self.assertRaisesRegex(ValueError, "eval_mode.*'quick'"):
            build(eval_mode='quick')
        with self.assertRaisesRegex(TypeError, 'NotSplittable'):
            build(backbone=NotSplittable())
        model = build()
        with self.assertRaisesRegex(ValueError, "'greedy'"):
            model.predict(torch.rand(1, 3, 16, 16), eval_mode='greedy')

    def tmp_checkpoint(self, state_dict):
        import os
        import tempfile
        fd, path = tempfile.mkstemp(suffix='.pth')
        os.close(fd)
        self.addCleanup(os.remove, path)
        torch.save(dict(state_dict=state_dict, meta=dict()), path)
        return path
