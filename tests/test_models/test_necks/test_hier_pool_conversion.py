# Copyright (c) mmhier contributors. All rights reserved.
import math
from unittest import TestCase

import torch
from mmpretrain.registry import MODELS

import mmhier  # noqa: F401

RESNET50 = [(256, 56, 56), (512, 28, 28), (1024, 14, 14), (2048, 7, 7)]
RESNET50_192x256 = [(256, 48, 64), (512, 24, 32), (1024, 12, 16), (2048, 6, 8)]
VGG16 = [(64, 112, 112), (128, 56, 56), (256, 28, 28), (512, 14, 14),
         (512, 7, 7)]
VGG16_160 = [(64, 80, 80), (128, 40, 40), (256, 20, 20), (512, 10, 10),
             (512, 5, 5)]


def build(**kwargs):
    return MODELS.build(dict(type='HierPoolConversion', **kwargs))


def brute_pool(x, kernel, stride, out_size, reduce):
    """Pool by explicit slicing, one output cell at a time."""
    b, d = x.shape[:2]
    out = torch.empty(b, d, *out_size)
    for i in range(out_size[0]):
        for j in range(out_size[1]):
            cell = x[:, :, i * stride[0]:i * stride[0] + kernel[0],
                     j * stride[1]:j * stride[1] + kernel[1]]
            out[:, :, i, j] = reduce(cell.flatten(2))
    return out.flatten(1)


class TestHierPoolConversion(TestCase):

    def test_shapes_resnet50_vgg16_two_sizes(self):
        for shapes in (RESNET50, RESNET50_192x256, VGG16, VGG16_160):
            for shape in shapes:
                # p = 2048 pools every stage exactly (D_s divides it)
                conv = build(in_shape=shape, out_channels=2048)
                self.assertEqual(sum(p.numel() for p in conv.parameters()), 0)
                out = conv(torch.rand(1, *shape))
                self.assertEqual(out.shape, (1, 2048), shape)
                # p = 256 needs a projection where D_s > 256
                for projection in ('mode', 'linear'):
                    if projection == 'linear' and shape[0] < 2048:
                        continue  # keep the full Linear small
                    conv = build(
                        in_shape=shape,
                        out_channels=256,
                        projection=projection)
                    out = conv(torch.rand(1, *shape))
                    self.assertEqual(out.shape, (1, 256), shape)

    def test_pooling_has_no_weights(self):
        conv = build(
            in_shape=(2048, 7, 7), out_channels=256, projection='mode')
        names = [n for n, _ in conv.named_parameters()]
        self.assertTrue(names)
        self.assertTrue(all(n.startswith('projection.') for n in names), names)
        # the spatial layout is kept: a 4x4 grid, not a global pooling
        self.assertEqual(conv.params.out_size, (4, 4))
        self.assertEqual(conv.projection.in_shape, (2048, 4, 4))

    def test_projection_keeps_a_spatial_grid(self):
        # ResNet-50 (224 px) and VGG-16 stages with the small p = 256
        stages = dict(
            resnet50=[(256, 56, 56), (512, 28, 28), (1024, 14, 14),
                      (2048, 7, 7)],
            vgg16=[(64, 112, 112), (128, 56, 56), (256, 28, 28), (512, 14, 14),
                   (512, 7, 7)])
        for name, shapes in stages.items():
            for shape in shapes:
                conv = build(
                    in_shape=shape, out_channels=256, projection='mode')
                self.assertEqual(conv.params.out_size, (4, 4), (name, shape))
                # disjoint windows where 4 divides the map, else overlapping
                n = shape[1]
                kernel, stride = conv.params.kernel_size[0], \
                    conv.params.stride[0]
                self.assertEqual((n - kernel) // stride + 1, 4)
                self.assertEqual(conv.projection.in_shape, (shape[0], 4, 4))
                self.assertEqual(math.prod(conv.projection.mode_dims), 256)
                x = torch.randn(2, *shape)
                self.assertEqual(conv(x).shape, (2, 256))
        # a declared grid, clipped to small maps
        conv = build(
            in_shape=(2048, 7, 7), out_channels=256, projection='mode', grid=7)
        self.assertEqual(conv.params.out_size, (7, 7))
        self.assertEqual(conv.params.kernel_size, (1, 1))
        conv = build(
            in_shape=(128, 2, 3), out_channels=64, projection='mode', grid=4)
        self.assertEqual(conv.params.out_size, (2, 3))
        # global pooling only when asked for
        conv = build(
            in_shape=(2048, 7, 7),
            out_channels=256,
            projection='mode',
            out_size=(1, 1))
        self.assertEqual(conv.params.out_size, (1, 1))
        with self.assertRaisesRegex(ValueError, r'grid must be .* got \(4,'):
            build(
                in_shape=(8, 7, 7),
                out_channels=8,
                projection='mode',
                grid=(4, ))

    def test_grid_pooling_keeps_where_the_evidence_is(self):
        # two maps that differ only in where a feature fires: a global
        # pooling cannot tell them apart, the 4x4 grid can
        a = torch.zeros(1, 8, 8, 8)
        b = torch.zeros(1, 8, 8, 8)
        a[0, 3, 0, 0] = 1.
        b[0, 3, 7, 7] = 1.
        grid = build(in_shape=(8, 8, 8), out_channels=16, projection='mode')
        glob = build(
            in_shape=(8, 8, 8),
            out_channels=16,
            projection='mode',
            out_size=(1, 1))
        torch.testing.assert_close(glob(a), glob(b))
        self.assertFalse(torch.allclose(grid(a), grid(b)))

    def test_values_equal_brute_force(self):
        torch.manual_seed(0)
        # VGG-16 stage 5 (7x7) to 2x2 needs overlapping windows F=4, G=3
        x = torch.randn(2, 5, 7, 7)
        for mode, reduce in (('max', lambda c: c.amax(-1)),
                             ('avg', lambda c: c.mean(-1))):
            conv = build(in_shape=(5, 7, 7), out_channels=20, mode=mode)
            self.assertEqual(conv.params.kernel_size, (4, 4))
            self.assertEqual(conv.params.stride, (3, 3))
            expected = brute_pool(x, (4, 4), (3, 3), (2, 2), reduce)
            torch.testing.assert_close(conv(x), expected)

    def test_projection_mode_is_mode_product_of_pool(self):
        torch.manual_seed(0)
        conv = build(
            in_shape=(16, 8, 8),
            out_channels=32,
            projection='mode',
            mode='avg')
        x = torch.randn(2, 16, 8, 8)
        # pooled to the 4x4 grid, then mode products to p
        self.assertEqual(conv.params.out_size, (4, 4))
        pooled = brute_pool(x, (2, 2), (2, 2), (4, 4), lambda c: c.mean(-1))
        expected = conv.projection(pooled.reshape(2, 16, 4, 4))
        torch.testing.assert_close(conv(x), expected)

    def test_adapts_to_other_sizes(self):
        torch.manual_seed(0)
        conv = build(in_shape=(8, 7, 7), out_channels=32)  # 2x2 cells
        self.assertTrue(conv.shape_adaptive)
        x = torch.randn(1, 8, 6, 9)
        # 6 -> 2: F = G = 3; 9 -> 2: F = 5, G = 4
        expected = brute_pool(x, (3, 5), (3, 4), (2, 2), lambda c: c.amax(-1))
        torch.testing.assert_close(conv(x), expected)
        with self.assertRaisesRegex(ValueError, 'pools to 2x2, but got a '
                                    '1x9 map'):
            conv(torch.randn(1, 8, 1, 9))
        with self.assertRaisesRegex(ValueError, r'got \(9, 7, 7\)'):
            conv(torch.randn(1, 9, 7, 7))

    def test_no_exact_solution(self):
        with self.assertRaisesRegex(
                ValueError, r'2048x7x7 map .* p=256.*'
                r'Nearest p that work: 2048'):
            build(in_shape=(2048, 7, 7), out_channels=256)

    def test_bad_arguments(self):
        with self.assertRaisesRegex(ValueError, "'min'"):
            build(in_shape=(8, 4, 4), out_channels=8, mode='min')
        with self.assertRaisesRegex(ValueError, "'conv'"):
            build(in_shape=(8, 4, 4), out_channels=8, projection='conv')
        with self.assertRaisesRegex(ValueError, 'needs a projection'):
            build(
                in_shape=(8, 4, 4),
                out_channels=8,
                projection_cfg=dict(bias=True))
