# Copyright (c) mmhier contributors. All rights reserved.
import os
from unittest import TestCase, mock

import torch
from mmpretrain.registry import MODELS
from mmpretrain.structures import DataSample

import mmhier  # noqa: F401 (registers the components)
from mmhier.structures import PATH_END, PATH_UNKNOWN, batched_gt_paths

# A=0, B=1, C=2, D=3, E=4, F=5, H=6, I=7 (levels first); depth 3
TREE = {'A': {'C': ['H', 'I'], 'D': None}, 'B': ['E', 'F']}
E_, U_ = PATH_END, PATH_UNKNOWN


def batch(paths, size=4):
    """Packed samples as a data loader gives them: (P, T) on the CPU."""
    samples = []
    for p in paths:
        d = DataSample().set_gt_label(0)
        d.set_field(torch.tensor(p).view(-1, 3), 'gt_path')
        samples.append(d)
    inputs = torch.randint(
        0, 256, (len(paths), 3, size, size), dtype=torch.uint8)
    return dict(inputs=inputs, data_samples=samples)


def build_pre(**kwargs):
    return MODELS.build(dict(type='HierDataPreprocessor', **kwargs))


class TestHierDataPreprocessor(TestCase):

    def test_collates_once_as_views(self):
        pre = build_pre(mean=[0., 0., 0.], std=[255., 255., 255.])
        data = batch([[0, 2, 6], [[1, 4, E_], [0, U_, U_]], [0, 3, E_]])
        out = pre(data, training=True)
        self.assertEqual(out['inputs'].dtype, torch.float32)
        self.assertLessEqual(float(out['inputs'].max()), 1.)
        samples = out['data_samples']
        gt = batched_gt_paths(samples)
        self.assertIsNotNone(gt)
        self.assertEqual(tuple(gt.shape), (3, 2, 3))  # padded to P = 2
        self.assertEqual(gt.tolist(),
                         [[[0, 2, 6], [E_, E_, E_]], [[1, 4, E_], [0, U_, U_]],
                          [[0, 3, E_], [E_, E_, E_]]])
        # every sample keeps its own rows, as a view of the batch
        self.assertEqual(tuple(samples[0].gt_path.shape), (1, 3))
        self.assertEqual(tuple(samples[1].gt_path.shape), (2, 3))
        self.assertIs(samples[1].gt_path._base, gt)
        # a second pass finds the batch and does not stack again
        self.assertIs(pre.collate_gt_paths(samples), gt)

    def test_batched_gt_paths_needs_row_i_of_one_batch(self):
        pre = build_pre()
        samples = pre(batch([[0, 2, 6], [1, 4, E_]]), True)['data_samples']
        self.assertIsNotNone(batched_gt_paths(samples))
        # reordered, a subset, or one sample replaced: stack again
        self.assertIsNone(batched_gt_paths(samples[::-1]))
        self.assertIsNone(batched_gt_paths(samples[:1]))
        samples[1].set_field(torch.tensor([[1, 5, E_]]), 'gt_path')
        self.assertIsNone(batched_gt_paths(samples))
        self.assertIsNone(batched_gt_paths(batch([[0, 2, 6]])['data_samples']))

    def test_inference_and_samples_without_paths_are_left_alone(self):
        pre = build_pre()
        data = batch([[0, 2, 6], [1, 4, E_]])
        samples = pre(data, training=False)['data_samples']
        self.assertIsNone(batched_gt_paths(samples))
        data = batch([[0, 2, 6], [1, 4, E_]])
        del data['data_samples'][1].gt_path
        samples = pre(data, training=True)['data_samples']
        self.assertIsNone(batched_gt_paths(samples))
        self.assertNotIn('gt_path', samples[1])

    def test_heads_read_the_batch(self):
        """The loss is the same whether the head stacks the paths or reads
        the preprocessor's batch."""
        pre = build_pre()
        paths = [[0, 2, 6], [1, 4, E_], [0, U_, U_]]
        collated = pre(batch(paths), True)['data_samples']
        torch.manual_seed(0)
        u = torch.rand(3, 3, 8)
        for cfg in (dict(type='HierS2SHead'),
                    dict(type='HierS2SHead', multi_label=True),
                    dict(type='GuoRNNHead', decoder='beam')):
            head = MODELS.build(
                dict(cfg, tree=TREE, in_channels=8, hidden_size=8))
            with self.subTest(head=cfg):
                want = head.loss((u, ), batch(paths)['data_samples'])['loss']
                got = head.loss((u, ), collated)['loss']
                self.assertTrue(torch.allclose(got, want))

    def test_checks_move_where_the_paths_enter(self):
        """Hand-made samples are checked by the head with a message naming
        the sample; a preprocessor's batch (whose paths the dataset
        checked) only gets the head's own end check, on the device, unless
        MMHIER_DEBUG=1 asks for the full one."""
        pre = build_pre()
        strict = MODELS.build(
            dict(
                type='HierS2SHead',
                tree=TREE,
                in_channels=8,
                hidden_size=8,
                allow_inner_stop=False))
        u = (torch.rand(2, 3, 8), )
        inner = [[0, 2, 6], [0, 2, E_]]  # sample 1 ends at inner node C
        with self.assertRaisesRegex(ValueError, "sample 1.*'C'"):
            strict.loss(u, batch(inner)['data_samples'])
        collated = pre(batch(inner), True)['data_samples']
        # torch._assert_async: asynchronous on a GPU, raises here on the CPU
        with self.assertRaisesRegex(RuntimeError, 'MMHIER_DEBUG'):
            strict.loss(u, collated)
        with mock.patch.dict(os.environ, {'MMHIER_DEBUG': '1'}):
            with self.assertRaisesRegex(ValueError, "sample 1.*'C'"):
                strict.loss(u, collated)
        # not a path of the tree: H under D
        bad = [[0, 2, 6], [0, 3, 6]]
        head = MODELS.build(
            dict(type='HierRNNHead', tree=TREE, in_channels=8, hidden_size=8))
        with self.assertRaisesRegex(ValueError, r'sample 1.*\[0, 3, 6\]'):
            head.loss(u, batch(bad)['data_samples'])
        collated = pre(batch(bad), True)['data_samples']
        with mock.patch.dict(os.environ, {'MMHIER_DEBUG': '1'}):
            with self.assertRaisesRegex(ValueError, r'sample 1.*\[0, 3, 6\]'):
                head.loss(u, collated)
