# Copyright (c) mmhier contributors. All rights reserved.
from unittest import TestCase

import torch
from mmpretrain.registry import MODELS

import mmhier  # noqa: F401
from mmhier.models.necks import infer_stage_shapes

RESNET50_CH = (256, 512, 1024, 2048)
VGG16_CH = (64, 128, 256, 512, 512)
RESNET50_STRIDES = (4, 8, 16, 32)
VGG16_STRIDES = (2, 4, 8, 16, 32)


def fake_feats(channels, strides, size, batch=2):
    """Random stage maps as a backbone at ``size`` (H, W) would give."""
    h, w = size
    return tuple(
        torch.rand(batch, d, h // s, w // s)
        for d, s in zip(channels, strides))


def build(**kwargs):
    return MODELS.build(dict(type='HierConversionNeck', **kwargs))


class TestHierConversionNeck(TestCase):

    def test_every_conversion_resnet50_vgg16_two_sizes(self):
        torch.manual_seed(0)
        cases = [
            ('linear', 256),
            ('conv', 256),
            ('pool', 2048),
            ('pool_mode', 256),
            (dict(type='HierPoolConversion', mode='avg',
                  projection='linear'), 64),
        ]
        for channels, strides in ((RESNET50_CH, RESNET50_STRIDES),
                                  (VGG16_CH, VGG16_STRIDES)):
            n = len(channels)
            groups = [[0, 1], list(range(2, n - 1)), [n - 1]]
            for size in ((224, 224), (192, 256)):
                feats = fake_feats(channels, strides, size, batch=1)
                for conversion, p in cases:
                    neck = build(
                        in_channels=channels,
                        out_channels=p,
                        stage_groups=groups,
                        conversion=conversion,
                        input_size=size)
                    out = neck(feats)
                    self.assertIsInstance(out, tuple)
                    self.assertEqual(len(out), 1)
                    self.assertEqual(out[0].shape, (1, 3, p),
                                     (channels, size, conversion))

    def test_u_is_mean_of_converted_stages(self):
        # eq. (u_t) of section 3.1: u_t = mean over S_t of g(a_s)
        torch.manual_seed(0)
        groups = [[0, 1, 2], [2], [1, 3]]
        neck = build(
            in_channels=RESNET50_CH,
            out_channels=2048,
            stage_groups=groups,
            conversion='pool',
            input_size=64)
        feats = fake_feats(RESNET50_CH, RESNET50_STRIDES, (64, 64), batch=3)
        u = neck(feats)[0]
        for t, group in enumerate(groups):
            expected = torch.stack(
                [neck.conversions[str(s)](feats[s]) for s in group]).mean(0)
            torch.testing.assert_close(u[:, t], expected)
        # pooling: g(a_3) of a 2048x2x2 map is its global max
        torch.testing.assert_close(neck.conversions['3'](feats[3]),
                                   feats[3].amax((2, 3)))

    def test_both_orders(self):
        torch.manual_seed(0)
        feats = fake_feats(RESNET50_CH, RESNET50_STRIDES, (64, 64))
        shallow = build(
            in_channels=RESNET50_CH,
            out_channels=2048,
            stage_groups=[[0], [1], [2], [3]],
            input_size=64)
        deep = build(
            in_channels=RESNET50_CH,
            out_channels=2048,
            stage_groups=[[3], [2], [1], [0]],
            input_size=64)
        # weight-free pooling: the same vectors in reverse step order
        torch.testing.assert_close(deep(feats)[0], shallow(feats)[0].flip(1))
        named = build(
            in_channels=RESNET50_CH,
            out_channels=2048,
            stage_groups='deep_to_coarse',
            num_steps=2,
            input_size=64)
        self.assertEqual(named.stage_groups, [[2, 3], [0, 1]])
        self.assertEqual(named(feats)[0].shape, (2, 2, 2048))

    def test_only_used_stages_get_a_conversion(self):
        neck = build(
            in_channels=RESNET50_CH,
            out_channels=256,
            stage_groups=[[1], [3], [3]],
            conversion='linear')
        self.assertEqual(sorted(neck.conversions.keys()), ['1', '3'])
        self.assertEqual(neck.conversions['1'].in_shape, (512, 28, 28))
        feats = fake_feats(RESNET50_CH, RESNET50_STRIDES, (224, 224))
        u = neck(feats)[0]
        self.assertEqual(u.shape, (2, 3, 256))
        torch.testing.assert_close(u[:, 1], u[:, 2])

    def test_stage_groups_validation_names_bad_group(self):
        kwargs = dict(in_channels=RESNET50_CH, out_channels=2048)
        with self.assertRaisesRegex(
                ValueError, r'stage_groups\[1\]=\[2, 4\] '
                r'names stage 4, but the backbone gives 4 '
                r'stages'):
            build(stage_groups=[[0, 1], [2, 4]], **kwargs)
        with self.assertRaisesRegex(ValueError, r'stage_groups\[2\]=\[\] is '
                                    r'empty'):
            build(stage_groups=[[0], [1], []], **kwargs)
        with self.assertRaisesRegex(ValueError, 'at least one step'):
            build(stage_groups=[], **kwargs)
        with self.assertRaisesRegex(
                ValueError, r'stage_groups\[0\]=\[1, 1\] '
                r'names stage 1 twice'):
            build(stage_groups=[[1, 1]], **kwargs)
        with self.assertRaisesRegex(
                ValueError, r'stage_groups\[0\]=\[-1\] '
                r'names stage -1'):
            build(stage_groups=[[-1]], **kwargs)
        with self.assertRaisesRegex(TypeError, r'stage_groups\[1\]=3'):
            build(stage_groups=[[0], 3], **kwargs)
        with self.assertRaisesRegex(ValueError, 'needs num_steps'):
            build(stage_groups='shallow_to_coarse', **kwargs)
        with self.assertRaisesRegex(ValueError, 'required'):
            build(**kwargs)

    def test_shapes_declared_three_ways_agree(self):
        by_size = build(
            in_channels=VGG16_CH,
            out_channels=2048,
            stage_groups=[[0], [4]],
            input_size=(192, 256))
        shapes = [(64, 96, 128), (128, 48, 64), (256, 24, 32), (512, 12, 16),
                  (512, 6, 8)]
        self.assertEqual(by_size.in_shapes, shapes)
        by_shapes = build(
            in_shapes=shapes, out_channels=2048, stage_groups=[[0], [4]])
        self.assertEqual(by_shapes.in_channels, list(VGG16_CH))
        by_strides = build(
            in_channels=(128, 512),
            out_channels=2048,
            stage_groups=[[0, 1]],
            input_size=160,
            strides=(4, 16))
        self.assertEqual(by_strides.in_shapes, [(128, 40, 40), (512, 10, 10)])
        with self.assertRaisesRegex(ValueError, 'disagrees'):
            build(
                in_channels=RESNET50_CH,
                in_shapes=shapes,
                out_channels=256,
                stage_groups=[[0]])
        with self.assertRaisesRegex(ValueError, r'in_shapes\[1\]=\(3, 4\)'):
            build(
                in_shapes=[(1, 2, 3), (3, 4)],
                out_channels=256,
                stage_groups=[[0]])

    def test_wrong_runtime_shape_names_stage(self):
        neck = build(
            in_channels=RESNET50_CH,
            out_channels=256,
            stage_groups=[[0, 1], [2, 3]],
            conversion='linear')
        feats = fake_feats(RESNET50_CH, RESNET50_STRIDES, (160, 160))
        with self.assertRaisesRegex(
                ValueError, r'stage 0 gave a map of shape \(D, H, W\)=\(256, '
                r'40, 40\), but the neck was built for \(256, 56, 56\) \(from '
                r'input_size=224.*in_shapes=\[\(256, 40, 40\), \(512, 20, '
                r'20\), \(1024, 10, 10\), \(2048, 5, 5\)\]'):
            neck(feats)
        with self.assertRaisesRegex(ValueError, 'built for 4 stages'):
            neck(feats[:3])
        # pooling adapts to the new size
        pool = build(
            in_channels=RESNET50_CH,
            out_channels=2048,
            stage_groups=[[0, 1], [2, 3]],
            conversion='pool')
        self.assertEqual(pool(feats)[0].shape, (2, 2, 2048))
        bad_depth = feats[:3] + (torch.rand(2, 1024, 5, 5), )
        with self.assertRaisesRegex(ValueError, 'stage 3'):
            pool(bad_depth)

    def test_impossible_pool_names_stage(self):
        with self.assertRaisesRegex(
                ValueError, r'stage 1 of shape \(512, 28, '
                r'28\).*Nearest p that work: 512'):
            build(
                in_channels=RESNET50_CH,
                out_channels=256,
                stage_groups=[[0], [1]],
                conversion='pool')

    def test_conversion_argument(self):
        kwargs = dict(
            in_channels=RESNET50_CH, out_channels=256, stage_groups=[[3]])
        with self.assertRaisesRegex(ValueError, "unknown conversion 'lin'"):
            build(conversion='lin', **kwargs)
        with self.assertRaisesRegex(ValueError, 'fills in per stage'):
            build(
                conversion=dict(type='HierLinearConversion', out_channels=3),
                **kwargs)
        neck = build(
            conversion=dict(type='HierConvConversion', out_size=(1, 1)),
            **kwargs)
        self.assertEqual(neck.conversions['3'].conv.kernel_size, (7, 7))

    def test_eager_parameters_and_checkpoint(self):
        kwargs = dict(
            in_channels=RESNET50_CH,
            out_channels=256,
            stage_groups=[[2], [3]],
            conversion='conv')
        neck = build(**kwargs)
        state = neck.state_dict()
        # weights exist before any forward; the averaging buffer is derived
        self.assertIn('conversions.2.conv.weight', state)
        self.assertNotIn('step_weights', state)
        other = build(**kwargs)
        other.load_state_dict(state)
        feats = fake_feats(RESNET50_CH, RESNET50_STRIDES, (224, 224), 1)
        torch.testing.assert_close(other(feats)[0], neck(feats)[0])

    def test_end_to_end_tiny_resnet(self):
        torch.manual_seed(0)
        backbone = dict(type='ResNet', depth=18, out_indices=(0, 1, 2, 3))
        for size, conversion, p in (((64, 64), 'pool', 512), ((64, 96), 'conv',
                                                              64)):
            shapes = infer_stage_shapes(backbone, size)
            model = MODELS.build(
                dict(
                    type='ImageClassifier',
                    backbone=backbone,
                    neck=dict(
                        type='HierConversionNeck',
                        in_shapes=shapes,
                        out_channels=p,
                        stage_groups='shallow_to_coarse',
                        num_steps=3,
                        conversion=conversion)))
            for batch in (1, 2):
                images = torch.rand(batch, 3, *size)
                (u, ) = model(images, mode='tensor')
                self.assertEqual(u.shape, (batch, 3, p))
            u.sum().backward()
            grad = model.backbone.conv1.weight.grad
            self.assertIsNotNone(grad)
            self.assertGreater(grad.abs().sum().item(), 0)
