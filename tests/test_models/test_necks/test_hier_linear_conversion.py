# Copyright (c) mmhier contributors. All rights reserved.
from unittest import TestCase

import torch
from mmpretrain.registry import MODELS

import mmhier  # noqa: F401

RESNET50 = [(256, 56, 56), (512, 28, 28), (1024, 14, 14), (2048, 7, 7)]
RESNET50_160 = [(256, 40, 40), (512, 20, 20), (1024, 10, 10), (2048, 5, 5)]
VGG16 = [(64, 112, 112), (128, 56, 56), (256, 28, 28), (512, 14, 14),
         (512, 7, 7)]
VGG16_192x256 = [(64, 96, 128), (128, 48, 64), (256, 24, 32), (512, 12, 16),
                 (512, 6, 8)]


def build(**kwargs):
    return MODELS.build(dict(type='HierLinearConversion', **kwargs))


class TestHierLinearConversion(TestCase):

    def test_shapes_resnet50_vgg16_two_sizes(self):
        torch.manual_seed(0)
        for shapes in (RESNET50, RESNET50_160, VGG16, VGG16_192x256):
            for shape in shapes:
                for p in (256, 2048):
                    conv = build(in_shape=shape, out_channels=p)
                    self.assertEqual(
                        tuple(w.shape for w in conv.weights),
                        tuple((o, i) for o, i in zip(conv.mode_dims, shape)))
                    out = conv(torch.rand(1, *shape))
                    self.assertEqual(out.shape, (1, p), (shape, p))

    def test_equals_kronecker_product(self):
        # vec(a x1 U1 x2 U2 x3 U3) = (U1 kron U2 kron U3) vec(a), row-major
        torch.manual_seed(0)
        for shape, p in [((6, 5, 4), 24), ((3, 7, 2), 12), ((8, 3, 9), 30)]:
            conv = build(in_shape=shape, out_channels=p, bias=True)
            torch.nn.init.normal_(conv.bias)
            u1, u2, u3 = conv.weights
            x = torch.randn(3, *shape)
            kron = torch.kron(torch.kron(u1, u2), u3)
            expected = x.flatten(1) @ kron.T + conv.bias
            torch.testing.assert_close(conv(x), expected, rtol=1e-4, atol=1e-5)

    def test_mode_dims(self):
        conv = build(in_shape=(2048, 7, 7), out_channels=256)
        self.assertEqual(conv.mode_dims, (256, 1, 1))
        conv = build(
            in_shape=(256, 56, 56), out_channels=256, mode_dims=(4, 8, 8))
        self.assertEqual(conv.weights[1].shape, (8, 56))
        self.assertEqual(conv(torch.rand(2, 256, 56, 56)).shape, (2, 256))
        with self.assertRaisesRegex(
                ValueError, r'm \* n \* v = p = 256, got '
                r'\(4, 8, 9\)'):
            build(
                in_shape=(256, 56, 56), out_channels=256, mode_dims=(4, 8, 9))

    def test_init_keeps_variance(self):
        # U_k ~ N(0, 1 / d_k): E[var(out)] = var(a) = 1, averaged over draws
        # of the weights (one draw fluctuates with only 2 rows in U2, U3)
        variances = []
        for seed in range(20):
            torch.manual_seed(seed)
            conv = build(in_shape=(64, 7, 7), out_channels=64)
            variances.append(conv(torch.randn(4, 64, 7, 7)).var().item())
        self.assertEqual(conv.mode_dims, (16, 2, 2))
        mean = sum(variances) / len(variances)
        self.assertGreater(mean, 0.75)
        self.assertLess(mean, 1.3)

    def test_full(self):
        conv = build(in_shape=(64, 4, 4), out_channels=32, full=True)
        self.assertEqual(conv.linear.weight.shape, (32, 64 * 16))
        x = torch.rand(1, 64, 4, 4)
        torch.testing.assert_close(conv(x), conv.linear(x.reshape(1, -1)))
        with self.assertRaisesRegex(ValueError, 'full=True'):
            build(
                in_shape=(64, 4, 4),
                out_channels=32,
                full=True,
                mode_dims=(2, 4, 4))

    def test_rejects_other_shapes(self):
        conv = build(in_shape=(64, 4, 4), out_channels=32)
        self.assertFalse(conv.shape_adaptive)
        with self.assertRaisesRegex(ValueError, r'\(64, 4, 4\), got '
                                    r'\(64, 5, 4\)'):
            conv(torch.rand(2, 64, 5, 4))

    def test_bad_arguments(self):
        with self.assertRaisesRegex(ValueError, 'in_shape must be three'):
            build(in_shape=(64, 4), out_channels=32)
        with self.assertRaisesRegex(ValueError, 'got 0'):
            build(in_shape=(64, 4, 4), out_channels=0)
