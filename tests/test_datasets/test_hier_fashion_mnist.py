# Copyright (c) mmhier contributors. All rights reserved.
import os.path as osp
import sys
import tempfile
import time
import traceback
import urllib.error
from unittest import TestCase, mock, skipUnless

import numpy as np
import torch
from mmengine.logging import MMLogger
from mmpretrain.registry import DATASETS

import mmhier  # noqa: F401
from mmhier.datasets import HierFashionMNIST
from mmhier.datasets.hier_fashion_mnist import DataNotFoundError
from mmhier.structures import PATH_END as E

sys.path.insert(0, osp.dirname(osp.abspath(__file__)))
from fixture_writers import write_fashion_mnist  # noqa: E402

REAL = '/usr/share/datasets/fashion-mnist'
REAL_FILES = ('train-images-idx3-ubyte.gz', 'train-labels-idx1-ubyte.gz',
              't10k-images-idx3-ubyte.gz', 't10k-labels-idx1-ubyte.gz')
HAVE_REAL = all(osp.isfile(osp.join(REAL, f)) for f in REAL_FILES)

# fashion_mnist_fixed.json, index order (breadth first):
FIXED = ('clothing', 'footwear', 'container', 'garment', "woman's_clothing",
         'shoe', 'boot', 'bag', 'T-shirt_top', 'Trouser', 'Pullover', 'Coat',
         'Shirt', 'Dress', 'Sandal', 'Sneaker', 'Ankle boot', 'Bag')
# Fashion-MNIST label -> node index in FIXED.
FIXED_NODE = (8, 9, 10, 13, 11, 14, 12, 15, 17, 16)
# Images per node for 6,000 images per class (train split).
FIXED_COUNTS = [36000, 18000, 6000, 30000, 6000, 12000, 6000, 6000
                ] + [6000] * 10


class TestHierFashionMNIST(TestCase):

    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.root = self.tmp.name
        self.data = write_fashion_mnist(self.root)

    def tearDown(self):
        self.tmp.cleanup()
        MMLogger._instance_dict.clear()

    def build(self, **kwargs):
        cfg = dict(type='HierFashionMNIST', data_root=self.root)
        cfg.update(kwargs)
        return DATASETS.build(cfg)

    def test_fixed_tree(self):
        ds = self.build(download=False)
        self.assertEqual(len(ds), 20)
        self.assertEqual(ds.metainfo['classes'], FIXED)
        tree = ds.class_tree
        self.assertTrue(tree.is_fixed_depth)
        imgs, labels = self.data['train']
        for i in (0, 3, 8, 19):
            info = ds.get_data_info(i)
            node = FIXED_NODE[labels[i]]
            self.assertEqual(info['gt_label'], node)
            self.assertEqual(info['gt_path'].tolist(), [tree.path(node)])
            np.testing.assert_array_equal(info['img'], imgs[i])
        # Coat (label 4): clothing / garment / Coat.
        self.assertEqual(ds.get_data_info(4)['gt_path'].tolist(), [[0, 3, 11]])
        self.assertEqual(ds.get_cat_ids(9), [16])
        self.assertEqual(ds.node_counts().tolist(),
                         [c // 3000 for c in FIXED_COUNTS])
        self.assertEqual(ds.level_counts().tolist(), [20, 20, 20])

    def test_variable_tree_and_split(self):
        ds = self.build(split='test', tree='variable')
        self.assertEqual(len(ds), 10)
        tree = ds.class_tree
        self.assertFalse(tree.is_fixed_depth)
        self.assertEqual(tree.max_depth, 5)
        got = {
            tree.names[ds.get_data_info(i)['gt_label']]:
            tree.decode(ds.get_data_info(i)['gt_path'][0])
            for i in range(10)
        }
        self.assertEqual(
            got['T-shirt_top'],
            ['covering', 'clothing', 'garment', 'Shirt', 'T-shirt_top'])
        self.assertEqual(got['Shirt'],
                         ['covering', 'clothing', 'garment', 'Shirt'])
        self.assertEqual(got['Bag'], ['Bag'])
        # Shirt is an inner node: the path ends there (PATH_END).
        shirt = tree.index('Shirt')
        row = [
            i for i in range(10) if ds.get_data_info(i)['gt_label'] == shirt
        ][0]
        self.assertEqual(ds.get_data_info(row)['gt_path'][0, 4], E)
        self.assertEqual(ds.level_counts().tolist(), [10, 9, 9, 7, 1])
        # test labels are 9..0 (reversed): the split picks the t10k files.
        self.assertEqual(
            ds.get_data_info(0)['gt_label'], tree.index('Ankle boot'))

    def test_extracted_files_and_pipeline(self):
        with tempfile.TemporaryDirectory() as root:
            data = write_fashion_mnist(root, gz=False)
            ds = DATASETS.build(
                dict(
                    type='HierFashionMNIST',
                    data_root=root,
                    pipeline=[dict(type='PackHierInputs')]))
            out = ds[1]
            self.assertEqual(tuple(out['inputs'].shape), (1, 28, 28))
            np.testing.assert_array_equal(out['inputs'][0].numpy(),
                                          data['train'][0][1])
            self.assertEqual(out['data_samples'].gt_path.dtype, torch.long)
            self.assertEqual(out['data_samples'].gt_path.tolist(),
                             [[0, 3, 9]])  # Trouser

    def test_dataloader_with_workers(self):
        # The dataset (with its ClassTree) goes to worker processes, and the
        # packed samples batch into (B, P, T) paths for the heads.
        from mmengine.dataset import pseudo_collate
        from torch.utils.data import DataLoader

        from mmhier.structures import stack_gt_paths
        ds = self.build(
            tree='variable', pipeline=[dict(type='PackHierInputs')])
        loader = DataLoader(
            ds, batch_size=4, num_workers=2, collate_fn=pseudo_collate)
        batch = next(iter(loader))
        paths = stack_gt_paths(batch['data_samples'])
        self.assertEqual(tuple(paths.shape), (4, 1, 5))
        tree = ds.class_tree
        # labels 0..3: T-shirt_top, Trouser, Pullover, Dress
        self.assertEqual(paths[:, 0].tolist(), [
            tree.path_matrix[tree.index(n)].tolist()
            for n in ('T-shirt_top', 'Trouser', 'Pullover', 'Dress')
        ])

    def test_subset_and_no_serialize(self):
        ds = self.build(indices=[3, 13, 5], serialize_data=False)
        self.assertEqual(ds.get_gt_labels().tolist(), [13, 13, 14])
        self.assertEqual(ds.node_counts()[[0, 1, 13, 14]].tolist(),
                         [2, 1, 2, 1])
        sub = self.build().get_subset([8])
        self.assertEqual(sub.get_gt_labels().tolist(), [17])

    def test_bad_input(self):
        with self.assertRaisesRegex(ValueError,
                                    r"class_nodes \['Sock'\] are not nodes"):
            self.build(
                class_nodes=list(HierFashionMNIST.CLASS_NODES[:9]) + ['Sock'])
        with self.assertRaisesRegex(ValueError, 'must name 10 nodes'):
            self.build(class_nodes=['Bag'])
        with tempfile.TemporaryDirectory() as root:
            with self.assertRaisesRegex(FileNotFoundError, 'Cannot find'):
                DATASETS.build(
                    dict(
                        type='HierFashionMNIST',
                        data_root=root,
                        download=False))
            write_fashion_mnist(root, train_labels=[0, 1, 12])
            with self.assertRaisesRegex(
                    ValueError, r'train-labels-idx1-ubyte.gz: label 12 at '
                    'position 2 is not in 0..9'):
                DATASETS.build(dict(type='HierFashionMNIST', data_root=root))

    def test_missing_data_root_one_clear_message(self):
        missing = osp.join(self.root, 'nowhere')
        offline = urllib.error.URLError(
            '[Errno -3] Temporary failure in name resolution')
        for download in (False, True):
            # offline: the request fails where mmpretrain opens the URL
            with mock.patch('urllib.request.urlopen',
                            side_effect=offline) as urlopen:
                with self.assertRaises(DataNotFoundError) as cm:
                    DATASETS.build(
                        dict(
                            type='HierFashionMNIST',
                            data_root=missing,
                            download=download))
            self.assertEqual(urlopen.called, download)
            err = cm.exception
            msg = str(err)
            for part in (repr(missing), 'FASHION_MNIST_DIR',
                         'apt-get install dataset-fashion-mnist',
                         '/usr/share/datasets/fashion-mnist',
                         'train-images-idx3-ubyte.gz',
                         HierFashionMNIST.url_prefix):
                self.assertIn(part, msg)
            # one message, no urllib traceback chained to it
            self.assertIsNone(err.__cause__)
            self.assertTrue(err.__suppress_context__)
            text = ''.join(traceback.format_exception(err))
            self.assertNotIn('urllib', text)
            self.assertNotIn('During handling', text)
        self.assertIn('failed (URLError: <urlopen error', msg)

    @skipUnless(
        HAVE_REAL, f'the real Fashion-MNIST files are not in {REAL}; install '
        'them with `apt-get install dataset-fashion-mnist` (Debian)')
    def test_real_files(self):
        start = time.time()
        train = DATASETS.build(
            dict(type='HierFashionMNIST', data_root=REAL, download=False))
        test = DATASETS.build(
            dict(
                type='HierFashionMNIST',
                data_root=REAL,
                split='test',
                tree='variable',
                download=False))
        self.assertEqual((len(train), len(test)), (60000, 10000))
        self.assertEqual(train.node_counts().tolist(), FIXED_COUNTS)
        self.assertEqual(train.level_counts().tolist(), [60000] * 3)
        # variable tree: covering (9 classes), Bag at level 1; level 4 holds
        # the 7 classes below garment / shoe, level 5 only T-shirt_top.
        self.assertEqual(test.level_counts().tolist(),
                         [10000, 9000, 9000, 7000, 1000])
        self.assertEqual(
            dict(zip(test.class_tree.names,
                     test.node_counts().tolist())), {
                         'covering': 9000,
                         'Bag': 1000,
                         'clothing': 6000,
                         'footwear': 3000,
                         'garment': 5000,
                         'Dress': 1000,
                         'shoe': 2000,
                         'Ankle boot': 1000,
                         'Shirt': 2000,
                         'Trouser': 1000,
                         'Pullover': 1000,
                         'Coat': 1000,
                         'Sandal': 1000,
                         'Sneaker': 1000,
                         'T-shirt_top': 1000
                     })
        img = train.get_data_info(0)['img']
        self.assertEqual((img.shape, img.dtype), ((28, 28), np.uint8))
        # Loading and counting 70,000 images stays fast (generous bound for
        # a loaded 2-core machine; about 3 s when idle).
        self.assertLess(time.time() - start, 60)
