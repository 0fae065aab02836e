# Copyright (c) mmhier contributors. All rights reserved.
from unittest import TestCase

import torch
import torch.nn as nn
from mmpretrain.registry import MODELS

from mmhier.models.classifiers import split_backbone
from mmhier.models.classifiers.backbone_split import (cut_channels,
                                                      module_out_channels)


def run(stem, units, x):
    x = stem(x) if stem is not None else x
    for unit in units:
        x = unit(x)
    return x


class WithProtocol(nn.Module):

    def __init__(self):
        super().__init__()
        self.a = nn.Conv2d(3, 5, 1)
        self.b = nn.Conv2d(5, 7, 1)

    def hiernet_split(self):
        return None, [self.a, self.b]


class TestSplitBackbone(TestCase):
    """The stem and units compute exactly the backbone's last output."""

    def setUp(self):
        torch.manual_seed(0)

    def check_equal(self, cfg, x, num_units):
        backbone = MODELS.build(cfg)
        backbone.eval()  # mmpretrain's ResNet.train returns None
        stem, units = split_backbone(backbone)
        self.assertEqual(len(units), num_units)
        with torch.no_grad():
            torch.testing.assert_close(run(stem, units, x), backbone(x)[-1])
        return stem, units

    def test_resnet(self):
        # ImageNet ResNet: conv1-norm1-relu-maxpool stem, 2+2+2+2 blocks.
        stem, units = self.check_equal(
            dict(type='ResNet', depth=18, base_channels=4, stem_channels=4),
            torch.rand(2, 3, 32, 32), 8)
        self.assertIsInstance(stem[-1], nn.MaxPool2d)
        self.assertEqual(
            cut_channels(stem, units), [4, 4, 4, 8, 8, 16, 16, 32, 32])
        # Deep stem (ResNetV1c) and bottlenecks (depth 50: 3+4+6+3 blocks).
        self.check_equal(
            dict(type='ResNetV1c', depth=50, base_channels=2, stem_channels=4),
            torch.rand(1, 3, 32, 32), 16)

    def test_resnet_cifar(self):
        stem, units = self.check_equal(
            dict(
                type='ResNet_CIFAR',
                depth=18,
                base_channels=4,
                stem_channels=4,
                num_stages=3,
                strides=(1, 2, 2),
                dilations=(1, 1, 1),
                out_indices=(2, )), torch.rand(2, 3, 16, 16), 6)
        self.assertEqual([type(m).__name__ for m in stem],
                         ['Conv2d', 'BatchNorm2d', 'ReLU'])

    def test_vgg_and_lenet(self):
        # VGG-11 features: 8 conv modules and 5 pools.
        _, units = self.check_equal(
            dict(type='VGG', depth=11, norm_cfg=dict(type='BN')),
            torch.rand(1, 3, 32, 32), 13)
        self.assertEqual(module_out_channels(units[0]), 64)
        self.check_equal(dict(type='LeNet5'), torch.rand(2, 1, 32, 32), 8)

    def test_sequential_and_protocol(self):
        seq = nn.Sequential(nn.Conv2d(3, 4, 3), nn.ReLU(), nn.Conv2d(4, 6, 1))
        stem, units = split_backbone(seq)
        self.assertIsNone(stem)
        self.assertEqual(units, list(seq))
        # The ReLU carries the channels of the conv before it; the raw input
        # has none to read.
        self.assertEqual(cut_channels(stem, units), [None, 4, 4, 6])
        stem, units = split_backbone(WithProtocol())
        self.assertEqual(cut_channels(stem, units), [None, 5, 7])

    def test_refused_backbones(self):
        with self.assertRaisesRegex(ValueError, r'num_classes=10'):
            split_backbone(MODELS.build(dict(type='LeNet5', num_classes=10)))
        with self.assertRaisesRegex(ValueError, r'frozen_stages=1'):
            split_backbone(
                MODELS.build(
                    dict(
                        type='ResNet',
                        depth=18,
                        base_channels=2,
                        stem_channels=2,
                        frozen_stages=1)))
        with self.assertRaisesRegex(TypeError, 'cannot split backbone Linear'):
            split_backbone(nn.Linear(2, 2))
