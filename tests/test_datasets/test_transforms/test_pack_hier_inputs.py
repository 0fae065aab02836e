# Copyright (c) mmhier contributors. All rights reserved.
from unittest import TestCase

import numpy as np
import torch
from mmpretrain.registry import TRANSFORMS
from mmpretrain.structures import DataSample

import mmhier  # noqa: F401
from mmhier.structures import stack_gt_paths


class TestPackHierInputs(TestCase):

    def test_packs_paths_as_long_tensor(self):
        pack = TRANSFORMS.build(dict(type='PackHierInputs'))
        img = np.zeros((5, 6, 3), np.uint8)
        gt_path = np.array([[0, 2, 7], [1, -2, -2]], dtype=np.int64)
        out = pack(dict(img=img, gt_label=7, gt_path=gt_path, sample_idx=3))
        sample = out['data_samples']
        self.assertIsInstance(sample, DataSample)
        self.assertEqual(tuple(out['inputs'].shape), (3, 5, 6))
        self.assertEqual(sample.gt_path.dtype, torch.long)
        self.assertEqual(sample.gt_path.tolist(), gt_path.tolist())
        self.assertEqual(sample.gt_label.tolist(), [7])
        self.assertEqual(sample.sample_idx, 3)
        # plain PackInputs(algorithm_keys=['gt_path']) leaves numpy there
        plain = TRANSFORMS.build(
            dict(type='PackInputs', algorithm_keys=['gt_path']))
        self.assertIsInstance(
            plain(dict(img=img, gt_path=gt_path))['data_samples'].gt_path,
            np.ndarray)

    def test_shapes_and_batching(self):
        pack = TRANSFORMS.build(
            dict(type='PackHierInputs', algorithm_keys=['gt_path', 'extra']))
        one = pack(
            dict(
                img=np.zeros((2, 2), np.uint8), gt_path=[1, 4, -1],
                extra='x'))['data_samples']
        self.assertEqual(one.gt_path.tolist(), [[1, 4, -1]])
        self.assertEqual(one.extra, 'x')
        two = pack(
            dict(
                gt_path=torch.tensor([[0, 2, 7], [1, 5, -1]],
                                     dtype=torch.int32)))
        self.assertNotIn('inputs', two)
        self.assertEqual(two['data_samples'].gt_path.dtype, torch.long)
        batch = stack_gt_paths([one, two['data_samples']])
        self.assertEqual(batch.tolist(),
                         [[[1, 4, -1], [-1, -1, -1]], [[0, 2, 7], [1, 5, -1]]])
        # inference: no gt_path, nothing packed
        none = pack(dict(img=np.zeros((2, 2), np.uint8)))['data_samples']
        self.assertNotIn('gt_path', none)
        with self.assertRaisesRegex(ValueError, r'got \(1, 2, 3\)'):
            pack(dict(gt_path=np.zeros((1, 2, 3), np.int64)))

    def test_node_multi_hot_score(self):
        pack = TRANSFORMS.build(dict(type='PackHierInputs', num_nodes=9))
        gt_path = np.array([[0, 2, 7], [1, -2, -2], [0, 3, -1]])
        sample = pack(dict(img=np.zeros((2, 2), np.uint8), gt_label=7,
                           gt_path=gt_path))['data_samples']
        self.assertEqual(sample.gt_score.tolist(),
                         [1., 1., 1., 1., 0., 0., 0., 1., 0.])
        # mmpretrain's multi-label head trains on that gt_score
        from mmpretrain.registry import MODELS
        head = MODELS.build(
            dict(type='MultiLabelLinearClsHead', num_classes=9,
                 in_channels=4))
        feats = (torch.zeros(1, 4), )
        with torch.no_grad():
            head.fc.weight.zero_()
            head.fc.bias.fill_(1.0)
        loss = head.loss(feats, [sample])['loss']
        # all logits 1: BCE summed over the nodes (mmpretrain's reduction):
        # 5 positives (log(1 + e^-1) each) and 4 negatives (log(1 + e)),
        # where a one-hot of gt_label alone would give 1 and 8
        expected = 5 * np.log1p(np.exp(-1.0)) + 4 * np.log1p(np.exp(1.0))
        self.assertAlmostEqual(float(loss), float(expected), places=4)
        with self.assertRaisesRegex(ValueError, 'holds node 7, but '
                                    'num_nodes=5'):
            TRANSFORMS.build(dict(type='PackHierInputs', num_nodes=5))(
                dict(img=np.zeros((2, 2), np.uint8), gt_path=gt_path))
