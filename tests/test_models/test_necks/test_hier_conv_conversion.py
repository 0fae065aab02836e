# Copyright (c) mmhier contributors. All rights reserved.
from unittest import TestCase

import torch
import torch.nn.functional as F
from mmpretrain.registry import MODELS

import mmhier  # noqa: F401

RESNET50 = [(256, 56, 56), (512, 28, 28), (1024, 14, 14), (2048, 7, 7)]
RESNET50_192x256 = [(256, 48, 64), (512, 24, 32), (1024, 12, 16), (2048, 6, 8)]
VGG16 = [(64, 112, 112), (128, 56, 56), (256, 28, 28), (512, 14, 14),
         (512, 7, 7)]
VGG16_160 = [(64, 80, 80), (128, 40, 40), (256, 20, 20), (512, 10, 10),
             (512, 5, 5)]


def build(**kwargs):
    return MODELS.build(dict(type='HierConvConversion', **kwargs))


class TestHierConvConversion(TestCase):

    def test_shapes_resnet50_vgg16_two_sizes(self):
        torch.manual_seed(0)
        for shapes in (RESNET50, RESNET50_192x256, VGG16, VGG16_160):
            for shape in shapes:
                for p in (256, 2048):
                    conv = build(in_shape=shape, out_channels=p)
                    self.assertEqual(conv.conv.out_channels,
                                     conv.params.out_channels)
                    out = conv(torch.rand(1, *shape))
                    self.assertEqual(out.shape, (1, p), (shape, p))

    def test_uses_solved_params(self):
        # ResNet-50 stage 3 at 224 px, p = 256: 16 filters, F = G = 4, Z = 1
        conv = build(in_shape=(1024, 14, 14), out_channels=256)
        self.assertEqual(conv.conv.kernel_size, (4, 4))
        self.assertEqual(conv.conv.stride, (4, 4))
        self.assertEqual(conv.conv.padding, (1, 1))
        self.assertEqual(conv.conv.out_channels, 16)
        x = torch.rand(2, 1024, 14, 14)
        expected = F.conv2d(
            x, conv.conv.weight, conv.conv.bias, stride=4,
            padding=1).reshape(2, -1)
        torch.testing.assert_close(conv(x), expected)

    def test_pinned_out_size_and_error(self):
        conv = build(in_shape=(2048, 7, 7), out_channels=256, out_size=(1, 1))
        self.assertEqual(conv.conv.kernel_size, (7, 7))
        self.assertEqual(conv.conv.out_channels, 256)
        self.assertEqual(conv(torch.rand(1, 2048, 7, 7)).shape, (1, 256))
        with self.assertRaisesRegex(ValueError, 'Nearest p that work: 240, '
                                    '256'):
            build(in_shape=(1024, 14, 14), out_channels=250, out_size=(4, 4))

    def test_rejects_other_shapes(self):
        conv = build(in_shape=(64, 8, 8), out_channels=64)
        with self.assertRaisesRegex(ValueError, r'\(64, 8, 8\), got '
                                    r'\(64, 6, 8\)'):
            conv(torch.rand(2, 64, 6, 8))
