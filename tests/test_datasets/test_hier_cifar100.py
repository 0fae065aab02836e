# Copyright (c) mmhier contributors. All rights reserved.
import os.path as osp
import sys
import tempfile
from unittest import TestCase

import numpy as np
from mmengine.logging import MMLogger
from mmpretrain.registry import DATASETS

import mmhier  # noqa: F401
from mmhier.datasets import HierCIFAR100

sys.path.insert(0, osp.dirname(osp.abspath(__file__)))
import fixture_writers as fx  # noqa: E402

FINE, COARSE, PARENT = fx.CIFAR_FINE, fx.CIFAR_COARSE, fx.CIFAR_PARENT


class TestHierCIFAR100(TestCase):

    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        # fine labels 5, 0, 3, 1, 2, 4, 0 with their official superclasses
        self.fine = [5, 0, 3, 1, 2, 4, 0]
        self.data = fx.write_cifar100(self.tmp.name, self.fine,
                                      [PARENT[f] for f in self.fine])

    def tearDown(self):
        self.tmp.cleanup()
        MMLogger._instance_dict.clear()

    def build(self, **kwargs):
        cfg = dict(
            type='HierCIFAR100', data_root=self.tmp.name, verify_md5=False)
        cfg.update(kwargs)
        return DATASETS.build(cfg)

    def test_tree_from_both_label_sets(self):
        ds = self.build()
        tree = ds.class_tree
        self.assertEqual(tree.num_nodes, 12)
        self.assertEqual(tree.names[:6], COARSE)
        self.assertTrue(tree.is_fixed_depth)
        for k, name in enumerate(FINE):
            self.assertEqual(
                tree.decode(tree.path(name)), [COARSE[PARENT[k]], name])
        self.assertEqual(ds.metainfo['classes'], tuple(tree.names))
        self.assertEqual(len(ds), 7)
        for i, f in enumerate(self.fine):
            info = ds.get_data_info(i)
            node = tree.index(FINE[f])
            self.assertEqual(info['gt_label'], node)
            self.assertEqual(info['gt_path'].tolist(), [tree.path(node)])
        img = ds.get_data_info(2)['img']
        self.assertEqual((img.shape, img.dtype), ((32, 32, 3), np.uint8))
        # HWC from the channel-major rows: pixel (0, 1) of channel c is
        # data[c * 1024 + 1].
        row = self.data['train'][2]
        np.testing.assert_array_equal(img[0, 1], row[[1, 1025, 2049]])
        self.assertEqual(ds.node_counts()[:6].tolist(), [2, 1, 1, 1, 1, 1])
        self.assertEqual(ds.level_counts().tolist(), [7, 7])

    def test_grouping_order(self):
        # Two fine classes under one superclass: grouped, in label order.
        fine = [0, 1, 2, 3, 4, 5]
        coarse = [1, 0, 1, 0, 2, 2]
        with tempfile.TemporaryDirectory() as root:
            fx.write_cifar100(root, fine, coarse, coarse_names=COARSE[:3])
            ds = DATASETS.build(
                dict(
                    type='HierCIFAR100',
                    data_root=root,
                    split='test',
                    verify_md5=False))
        self.assertEqual(
            ds.class_tree.names, COARSE[:3] +
            ['aquarium_fish', 'bear', 'apple', 'baby', 'beaver', 'bed'])
        self.assertEqual(ds.get_data_info(0)['gt_path'].tolist(), [[1, 5]])

    def test_fine_class_with_two_superclasses(self):
        with tempfile.TemporaryDirectory() as root:
            fx.write_cifar100(root, [0, 0, 1, 2, 3, 4, 5],
                              [0, 1, 1, 2, 3, 4, 5])
            with self.assertRaisesRegex(
                    ValueError, r"fine class 'apple' appears under several "
                    r"superclasses \['fruit_and_vegetables', 'fish'\]"):
                DATASETS.build(
                    dict(
                        type='HierCIFAR100', data_root=root, verify_md5=False))

    def test_fine_class_without_sample(self):
        with tempfile.TemporaryDirectory() as root:
            fx.write_cifar100(root, [0, 1, 2, 3, 4], [0, 1, 2, 3, 4])
            with self.assertRaisesRegex(ValueError,
                                        r"fine classes \['bed'\] have no"):
                DATASETS.build(
                    dict(
                        type='HierCIFAR100', data_root=root, verify_md5=False))

    def test_md5_and_missing_files(self):
        # The fake files fail mmpretrain's md5 check, as a corrupt download.
        with self.assertRaisesRegex(RuntimeError, 'Cannot find HierCIFAR100'):
            self.build(verify_md5=True, download=False)
        with tempfile.TemporaryDirectory() as root:
            with self.assertRaisesRegex(RuntimeError, 'Cannot find'):
                DATASETS.build(
                    dict(type='HierCIFAR100', data_root=root, download=False))

    def test_given_tree(self):
        tree = {
            c: [f for f, p in zip(FINE, PARENT) if p == k]
            for k, c in enumerate(COARSE)
        }
        tree = {
            'living': {
                k: v
                for k, v in list(tree.items())[:5]
            },
            'furniture': {
                COARSE[5]: ['bed']
            }
        }
        ds = self.build(tree=tree)
        self.assertEqual(ds.class_tree.max_depth, 3)
        self.assertEqual(
            ds.class_tree.decode(ds.get_data_info(0)['gt_path'][0]),
            ['furniture', 'household_furniture', 'bed'])

    def test_given_tree_must_match_the_coarse_labels(self):
        # 'bear' (a large carnivore in the data) placed under 'fish'
        tree = {c: [] for c in COARSE}
        for f, p in zip(FINE, PARENT):
            tree[COARSE[p]].append(f)
        tree['fish'].append('bear')
        tree['large_carnivores'].remove('bear')
        with self.assertRaisesRegex(
                ValueError, r"image 2: the data puts class 'bear' under "
                r"superclass 'large_carnivores', but the tree puts it under "
                r"'fish' \(1 images disagree\)"):
            self.build(tree=tree)

    def test_tree_from_labels(self):
        tree = HierCIFAR100.tree_from_labels(
            np.array([0, 1, 2, 1]), np.array([1, 0, 1, 0]), ['a', 'b', 'c'],
            ['X', 'Y'])
        self.assertEqual(tree.names, ['X', 'Y', 'b', 'a', 'c'])
        self.assertEqual(tree.parents.tolist(), [-1, -1, 0, 1, 1])
