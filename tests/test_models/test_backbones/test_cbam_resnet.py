# Copyright (c) mmhier contributors. All rights reserved.
from unittest import TestCase

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmpretrain.registry import MODELS

import mmhier  # noqa: F401  (registers CBAMResNet)
from mmhier.models.backbones.cbam_resnet import CBAMBottleneck, CBAMLayer

# ResNet-50: (blocks, output channels) of each stage
RES50_STAGES = ((3, 256), (4, 512), (6, 1024), (3, 2048))


class TestCBAMLayer(TestCase):

    def test_constant_attention_is_hand_computed(self):
        # zero weights: M_c = sigmoid(2 * b2) (the MLP's last bias, applied
        # to both descriptors), M_s = sigmoid(b_s)
        layer = CBAMLayer(4, ratio=2)
        with torch.no_grad():
            for m in layer.modules():
                if isinstance(m, nn.Conv2d):
                    m.weight.zero_()
                    m.bias.zero_()
            layer.mlp[2].bias.copy_(torch.tensor([0., 1., -1., 0.5]))
            layer.spatial_conv.bias.fill_(2.)
        x = torch.randn(2, 4, 3, 5)
        expected = (
            x * torch.sigmoid(2 * torch.tensor([0., 1., -1., 0.5])).view(
                1, 4, 1, 1) * torch.sigmoid(torch.tensor(2.)))
        torch.testing.assert_close(layer(x), expected)

    def test_equals_reference_formula(self):
        # CBAM eqs. (1)-(3) written with plain matrix products and conv2d
        torch.manual_seed(0)
        layer = CBAMLayer(16, ratio=4, kernel_size=3)
        x = torch.randn(3, 16, 6, 7)
        w1 = layer.mlp[0].weight.flatten(1)  # (4, 16)
        w2 = layer.mlp[2].weight.flatten(1)  # (16, 4)
        b1, b2 = layer.mlp[0].bias, layer.mlp[2].bias

        def mlp(v):  # (B, C)
            return F.relu(v @ w1.T + b1) @ w2.T + b2

        flat = x.flatten(2)
        m_c = torch.sigmoid(mlp(flat.mean(-1)) + mlp(flat.max(-1).values))
        x1 = x * m_c[:, :, None, None]
        pooled = torch.stack([x1.mean(1), x1.max(1).values], dim=1)
        m_s = torch.sigmoid(
            F.conv2d(
                pooled,
                layer.spatial_conv.weight,
                layer.spatial_conv.bias,
                padding=1))
        torch.testing.assert_close(layer(x), x1 * m_s)
        self.assertEqual(
            tuple(layer.channel_attention(x).shape), (3, 16, 1, 1))
        self.assertEqual(tuple(layer.spatial_attention(x).shape), (3, 1, 6, 7))

    def test_bad_arguments_are_named(self):
        with self.assertRaisesRegex(ValueError, 'kernel_size .* got 4'):
            CBAMLayer(8, kernel_size=4)
        with self.assertRaisesRegex(ValueError, 'ratio .* got 0'):
            CBAMLayer(8, ratio=0)


class TestCBAMResNet(TestCase):

    @classmethod
    def setUpClass(cls):
        torch.manual_seed(0)
        cls.net = MODELS.build(
            dict(type='CBAMResNet', depth=50, out_indices=(0, 1, 2, 3)))
        cls.net.eval()

    def test_stage_shapes_depth50(self):
        with torch.no_grad():
            feats = self.net(torch.rand(1, 3, 32, 32))
        self.assertEqual([tuple(f.shape) for f in feats], [(1, 256, 8, 8),
                                                           (1, 512, 4, 4),
                                                           (1, 1024, 2, 2),
                                                           (1, 2048, 1, 1)])

    def test_every_bottleneck_has_its_cbam(self):
        blocks = [
            m for m in self.net.modules() if isinstance(m, CBAMBottleneck)
        ]
        self.assertEqual(len(blocks), sum(n for n, _ in RES50_STAGES))
        channels = [c for n, c in RES50_STAGES for _ in range(n)]
        self.assertEqual([b.cbam.mlp[0].in_channels for b in blocks], channels)
        # reduction 16 and a 7x7 spatial conv by default
        self.assertEqual([b.cbam.mlp[0].out_channels for b in blocks],
                         [c // 16 for c in channels])
        self.assertTrue(
            all(b.cbam.spatial_conv.kernel_size == (7, 7) for b in blocks))

    def test_extra_parameters_are_exactly_the_cbam_ones(self):
        plain = MODELS.build(dict(type='ResNet', depth=50))
        extra = sum(p.numel() for p in self.net.parameters()) - sum(
            p.numel() for p in plain.parameters())
        # per block: MLP C*h + h + h*C + C (h = C / 16), spatial 2*7*7 + 1
        expected = sum(n * (2 * c * (c // 16) + c // 16 + c + 99)
                       for n, c in RES50_STAGES)
        self.assertEqual(extra, expected)

    def test_attention_changes_output_and_is_all_that_differs(self):
        plain = MODELS.build(
            dict(type='ResNet', depth=50, out_indices=(0, 1, 2, 3)))
        state = {
            k: v
            for k, v in self.net.state_dict().items() if '.cbam.' not in k
        }
        plain.load_state_dict(state, strict=True)
        plain.eval()
        x = torch.rand(1, 3, 32, 32)
        with torch.no_grad():
            out_cbam = self.net(x)
            out_plain = plain(x)
            self.assertFalse(torch.allclose(out_cbam[-1], out_plain[-1]))
            # bypass every CBAM: the rest is ResNet-50 itself
            blocks = [
                m for m in self.net.modules() if isinstance(m, CBAMBottleneck)
            ]
            saved = [b.cbam for b in blocks]
            try:
                for b in blocks:
                    b.cbam = nn.Identity()
                out_bypass = self.net(x)
            finally:
                for b, c in zip(blocks, saved):
                    b.cbam = c
        for a, b in zip(out_bypass, out_plain):
            torch.testing.assert_close(a, b)

    def test_trains_through_the_attention(self):
        net = MODELS.build(
            dict(type='CBAMResNet', depth=50, out_indices=(3, ), cbam_ratio=8))
        net.train()
        out = net(torch.rand(2, 3, 32, 32))
        out = out[0] if isinstance(out, tuple) else out
        out.sum().backward()
        block = net.layer4[0]
        self.assertEqual(block.cbam.mlp[0].out_channels, 2048 // 8)
        self.assertIsNotNone(block.cbam.spatial_conv.weight.grad)
        self.assertGreater(block.cbam.mlp[0].weight.grad.abs().sum(), 0)

    def test_invalid_depth_is_named(self):
        with self.assertRaisesRegex(KeyError, 'invalid depth 18'):
            MODELS.build(dict(type='CBAMResNet', depth=18))
