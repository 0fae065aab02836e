# Copyright (c) mmhier contributors. All rights reserved.
import os.path as osp
import sys
import tempfile
from unittest import TestCase

import numpy as np
from mmengine.logging import MMLogger
from mmpretrain.registry import DATASETS

import mmhier  # noqa: F401
from mmhier.structures import PATH_END as E
from mmhier.structures import PATH_UNKNOWN as U

sys.path.insert(0, osp.dirname(osp.abspath(__file__)))
from fixture_writers import write_fashion_mnist  # noqa: E402

# fashion_mnist_fixed.json: label -> node; 'garment' = 3, "woman's" = 4,
# 'shoe' = 5, 'boot' = 6, 'bag' = 7; their parents 0, 0, 1, 1, 2
FIXED_NODE = (8, 9, 10, 13, 11, 14, 12, 15, 17, 16)


class TestHierCoarseLabelDataset(TestCase):

    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        # 100 training images, 10 of each class, in the real idx format
        write_fashion_mnist(self.tmp.name, train_labels=list(range(10)) * 10)

    def tearDown(self):
        self.tmp.cleanup()
        MMLogger._instance_dict.clear()

    def build(self, **kwargs):
        inner = dict(
            type='HierFashionMNIST',
            data_root=self.tmp.name,
            tree='fixed',
            pipeline=[dict(type='PackHierInputs')])
        return DATASETS.build(
            dict(type='HierCoarseLabelDataset', dataset=inner, **kwargs))

    def test_fine_share_per_class_and_coarse_prefixes(self):
        ds = self.build(fine_fraction=0.3, seed=0)
        self.assertEqual(len(ds), 100)
        tree = ds.class_tree
        infos = [ds.get_data_info(i) for i in range(len(ds))]
        labels = np.array(list(range(10)) * 10)
        fine = np.array([(info['gt_path'] >= 0).all() for info in infos])
        # exactly 3 of the 10 images of every class keep their full path
        for c in range(10):
            self.assertEqual(int(fine[labels == c].sum()), 3, c)
        np.testing.assert_array_equal(fine, ds.fine)
        for info, label, is_fine in zip(infos, labels, fine):
            full = tree.path_matrix[FIXED_NODE[label]]
            if is_fine:
                np.testing.assert_array_equal(info['gt_path'][0], full)
                self.assertEqual(info['gt_label'], FIXED_NODE[label])
            else:  # "a/b/*"
                np.testing.assert_array_equal(info['gt_path'][0],
                                              [full[0], full[1], U])
                self.assertEqual(info['gt_label'], full[1])
        # packed for the model, the cut path travels as gt_path
        coarse = int(np.flatnonzero(~fine)[0])
        packed = ds[coarse]['data_samples']
        self.assertEqual(packed.gt_path.tolist()[0][-1], U)
        self.assertEqual(ds.metainfo['classes'], tuple(tree.names))

    def test_seeded(self):
        a = self.build(fine_fraction=0.3, seed=1).fine
        b = self.build(fine_fraction=0.3, seed=1).fine
        c = self.build(fine_fraction=0.3, seed=2).fine
        np.testing.assert_array_equal(a, b)
        self.assertFalse((a == c).all())

    def test_keep_fine_and_edge_fractions(self):
        ds = self.build(fine_fraction=0.2, keep='fine')
        self.assertEqual(len(ds), 20)
        for i in range(len(ds)):
            self.assertTrue((ds.get_data_info(i)['gt_path'] >= 0).all())
        # at least one fine image per class, however small the share
        self.assertEqual(int(self.build(fine_fraction=0.01).fine.sum()), 10)
        self.assertTrue(self.build(fine_fraction=1.).fine.all())
        self.assertFalse(self.build(fine_fraction=0.).fine.any())

    def test_fine_repeat_lists_fine_images_more_often(self):
        ds = self.build(fine_fraction=0.3, fine_repeat=3)
        # 100 images once, and the 30 fine ones twice more
        self.assertEqual(len(ds), 160)
        counts = np.bincount(ds.indices, minlength=100)
        np.testing.assert_array_equal(counts, np.where(ds.fine, 3, 1))
        fine = [(ds.get_data_info(i)['gt_path'] >= 0).all()
                for i in range(len(ds))]
        self.assertEqual(sum(fine), 90)
        self.assertEqual(len(ds.get_gt_paths()), 160)
        # fine-only with repeats: every listed image is fine
        ds = self.build(fine_fraction=0.2, keep='fine', fine_repeat=2)
        self.assertEqual(len(ds), 40)
        self.assertTrue(ds.fine[ds.indices].all())
        with self.assertRaisesRegex(ValueError, 'fine_repeat must be an int'):
            self.build(fine_fraction=0.2, fine_repeat=0)

    def test_short_paths_stay_whole(self):
        inner = dict(
            type='HierFashionMNIST', data_root=self.tmp.name, tree='variable')
        ds = DATASETS.build(
            dict(
                type='HierCoarseLabelDataset',
                dataset=inner,
                fine_fraction=0.,
                coarse_depth=2))
        tree = ds.class_tree
        for i in range(len(ds)):
            path = ds.get_data_info(i)['gt_path'][0]
            node = ds.dataset.get_data_info(i)['gt_label']
            full = tree.path_matrix[node]
            if tree.depths[node] <= 2:
                np.testing.assert_array_equal(path, full)
            else:
                self.assertEqual(path[2:].tolist(), [U] * (len(path) - 2))
                self.assertNotIn(E, path[:2].tolist())

    def test_bad_arguments(self):
        with self.assertRaisesRegex(ValueError, r'share in \[0, 1\], got 1.5'):
            self.build(fine_fraction=1.5)
        with self.assertRaisesRegex(
                ValueError, "keep must be one of "
                r"\('all', 'fine'\), got 'coarse'"):
            self.build(fine_fraction=0.5, keep='coarse')
        with self.assertRaisesRegex(ValueError, 'coarse_depth must be an int'):
            self.build(fine_fraction=0.5, coarse_depth=0)

    def test_gt_paths_without_images(self):
        ds = self.build(fine_fraction=0.3, keep='all')
        paths = ds.get_gt_paths()
        self.assertEqual(len(paths), len(ds))
        for i in (0, 5, 17, 99):
            np.testing.assert_array_equal(paths[i],
                                          ds.get_data_info(i)['gt_path'])
        fine = self.build(fine_fraction=0.3, keep='fine')
        self.assertTrue(all((p >= 0).all() for p in fine.get_gt_paths()))
