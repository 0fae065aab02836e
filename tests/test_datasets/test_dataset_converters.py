# Copyright (c) mmhier contributors. All rights reserved.
"""tools/dataset_converters: CIFAR-100 and Fashion-MNIST to folders, and the
WordNet-derived Fashion-MNIST trees (Open Images:
``test_openimages_converter.py``)."""
import os
import os.path as osp
import shutil
import sys
import tempfile
from unittest import TestCase, skipUnless

import numpy as np
from mmengine.logging import MMLogger
from mmpretrain.registry import DATASETS
from PIL import Image

import mmhier  # noqa: F401
from mmhier.structures import ClassTree

HERE = osp.dirname(osp.abspath(__file__))
REPO = osp.dirname(osp.dirname(HERE))
WORDNET = '/usr/share/wordnet/data.noun'
sys.path.insert(0, HERE)
import fixture_writers as fx  # noqa: E402
from converter_helpers import load_tool, quiet  # noqa: E402


class TestFolderConverters(TestCase):

    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()

    def tearDown(self):
        self.tmp.cleanup()
        MMLogger._instance_dict.clear()

    def test_cifar100_to_folder(self):
        tool = load_tool('cifar100_to_folder')
        src, out = (osp.join(self.tmp.name, d) for d in ('src', 'out'))
        fine = [5, 0, 3, 1, 2, 4, 0]
        data = fx.write_cifar100(src, fine, [fx.CIFAR_PARENT[f] for f in fine])
        summary, printed = quiet(tool.convert, src, out)
        self.assertEqual(summary['train'],
                         dict(samples=7, samples_per_level=[7, 7]))
        self.assertIn('train: 7 samples, per level [7, 7]', printed)
        tree_file = osp.join(out, 'cifar100_tree.json')
        # The folders alone make a dataset (the tree file keeps the order).
        ds = DATASETS.build(
            dict(
                type='HierDataset',
                data_prefix=osp.join(out, 'train'),
                tree=tree_file))
        self.assertEqual(len(ds), 7)
        info = {
            osp.basename(ds.get_data_info(i)['img_path']): ds.get_data_info(i)
            for i in range(7)
        }
        tree = ds.class_tree
        self.assertEqual(
            tree.decode(info['00001.png']['gt_path'][0]),
            ['fruit_and_vegetables', 'apple'])
        img = np.array(
            Image.open(
                osp.join(out, 'train', 'fruit_and_vegetables', 'apple',
                         '00001.png')))
        np.testing.assert_array_equal(
            img, data['train'][1].reshape(3, 32, 32).transpose(1, 2, 0))
        # and the annotation file, relative to OUT
        ds = DATASETS.build(
            dict(
                type='HierDataset',
                ann_file=osp.join(out, 'test.txt'),
                data_prefix=out,
                tree=tree_file))
        self.assertEqual([ds.get_data_info(i)['gt_label'] for i in range(7)],
                         [tree.index(fx.CIFAR_FINE[f]) for f in fine])

    def test_fashion_mnist_to_folder(self):
        tool = load_tool('fashion_mnist_to_folder')
        src, out = (osp.join(self.tmp.name, d) for d in ('src', 'out'))
        os.makedirs(src)
        data = fx.write_fashion_mnist(src)
        summary, _ = quiet(
            tool.convert,
            src,
            out,
            tree='variable',
            splits=['train'],
            limit=12)
        self.assertEqual(summary['train']['samples'], 12)
        # labels 0..9, 0, 1: level 5 holds the two T-shirts
        self.assertEqual(summary['train']['samples_per_level'],
                         [12, 11, 11, 9, 2])
        shirt = osp.join(out, 'train', 'covering', 'clothing', 'garment',
                         'Shirt')
        self.assertTrue(osp.isfile(osp.join(shirt, '00006.png')))
        self.assertTrue(
            osp.isfile(osp.join(shirt, 'T-shirt_top', '00010.png')))
        np.testing.assert_array_equal(
            np.array(Image.open(osp.join(shirt, '00006.png'))),
            data['train'][0][6])
        ds = DATASETS.build(
            dict(
                type='HierDataset',
                ann_file=osp.join(out, 'train.txt'),
                data_prefix=out,
                tree=osp.join(out, 'fashion_mnist_variable.json')))
        ref = DATASETS.build(
            dict(
                type='HierFashionMNIST',
                data_root=src,
                tree='variable',
                indices=12))
        self.assertEqual(ds.node_counts().tolist(), ref.node_counts().tolist())
        self.assertEqual(
            ds.get_data_info(9)['gt_path'].tolist(),
            ref.get_data_info(9)['gt_path'].tolist())


@skipUnless(
    osp.isfile(WORDNET), f'WordNet 3.0 is not installed ({WORDNET}); '
    'install it with `apt-get install wordnet-base` (Debian)')
class TestFashionMNISTWordNetTree(TestCase):

    @classmethod
    def setUpClass(cls):
        cls.tool = load_tool('fashion_mnist_wordnet_tree')
        cls.synsets = cls.tool.read_data_noun(WORDNET)

    def test_reproduces_the_committed_trees(self):
        tool = self.tool
        trees = osp.join(REPO, 'mmhier', 'datasets', 'trees')
        self.assertEqual(tool.check(WORDNET, trees, self.synsets), [])
        with tempfile.TemporaryDirectory() as tmp:
            for name in (tool.FIXED_FILE, tool.VARIABLE_FILE):
                shutil.copy(osp.join(trees, name), tmp)
            with open(osp.join(tmp, tool.FIXED_FILE), 'a') as f:
                f.write(' ')
            os.remove(osp.join(tmp, tool.VARIABLE_FILE))
            self.assertEqual(
                tool.check(WORDNET, tmp, self.synsets),
                [tool.FIXED_FILE, tool.VARIABLE_FILE])

    def test_synsets(self):
        tool, synsets = self.tool, self.synsets
        tree = ClassTree.load(
            osp.join(REPO, 'mmhier', 'datasets', 'trees',
                     'fashion_mnist_variable.json'))
        # each class node carries the synset chosen for it
        for sense in tool.SENSES:
            self.assertEqual(tree.ids[tree.index(sense.node)],
                             f'n{sense.offset}')
            self.assertEqual(tree.display_names[tree.index(sense.node)],
                             sense.display)
        # the hypernym chain of T-shirt, as WordNet 3.0 gives it
        self.assertEqual(
            [synsets[o].lemmas[0] for o in tool.chain(synsets, '03595614')],
            ['jersey', 'shirt', 'garment', 'clothing', 'covering'])
