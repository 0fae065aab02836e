# Copyright (c) mmhier contributors. All rights reserved.
import contextlib
import importlib.util
import io
import os.path as osp
import pickle
import tempfile
from unittest import TestCase

import numpy as np
import torch

from mmhier.structures import ClassTree

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
_spec = importlib.util.spec_from_file_location(
    'build_hierarchy', osp.join(REPO, 'tools', 'build_hierarchy.py'))
build_hierarchy = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(build_hierarchy)

# The hand-worked example of test_grouping.py: with p_min = .1 and
# g_max = 3 the groups are {0, 1} and {2, 3, 4}.
CPM5 = np.array([
    [0.70, 0.20, 0.05, 0.05, 0.00],
    [0.10, 0.80, 0.05, 0.00, 0.05],
    [0.05, 0.05, 0.60, 0.25, 0.05],
    [0.00, 0.05, 0.15, 0.70, 0.10],
    [0.02, 0.08, 0.05, 0.05, 0.80],
])


class TestBuildHierarchy(TestCase):

    def setUp(self):
        tmp = tempfile.TemporaryDirectory()
        self.addCleanup(tmp.cleanup)
        self.dir = tmp.name

    def path(self, name):
        return osp.join(self.dir, name)

    def run_tool(self, *argv):
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            tree = build_hierarchy.main(list(argv))
        return tree, out.getvalue()

    def test_from_cpm_and_names_file(self):
        np.save(self.path('cpm.npy'), CPM5)
        with open(self.path('names.txt'), 'w') as f:
            f.write('cat\ndog\nbus\ncar\nvan\n')
        tree, log = self.run_tool(
            self.path('cpm.npy'), '--classes', self.path('names.txt'),
            '--p-min', '0.1', '--g-max', '3', '--out', self.path('tree.tsv'))
        self.assertEqual(
            ClassTree.load(self.path('tree.tsv')).to_dict(), {
                'group1': {
                    'cat': {},
                    'dog': {}
                },
                'group2': {
                    'bus': {},
                    'car': {},
                    'van': {}
                }
            })
        self.assertEqual(tree, ClassTree.load(self.path('tree.tsv')))
        self.assertIn('5 classes -> 2 groups', log)
        self.assertIn('group sizes: [3, 2]', log)
        # Balanced grouping and singletons under the root.
        tree, log = self.run_tool(
            self.path('cpm.npy'), '--p-min', '0.13', '--g-max', '3',
            '--singletons', 'leaf', '--out', self.path('tree.json'))
        self.assertEqual(tree.children(-1), [0, 1, 2])
        self.assertEqual(tree.names[:3], ['group1', 'group2', 'class_4'])
        self.assertIn('2 groups and 1 classes under the root', log)

    def test_from_test_results_pickle(self):
        # Results as tools/test.py --out dumps them: tensors in dicts.
        # Class 0 is confused with 1 (and back), class 2 is alone.
        scores = [[.6, .4, 0], [.5, .5, 0], [.3, .7, 0], [0, 0, 1]]
        labels = [0, 0, 1, 2]
        results = [
            dict(pred_score=torch.tensor(s), gt_label=torch.tensor([y]))
            for s, y in zip(scores, labels)
        ]
        with open(self.path('results.pkl'), 'wb') as f:
            pickle.dump(results, f)
        # FashionMNIST has 10 classes but the scores 3: a clear error.
        with self.assertRaisesRegex(ValueError,
                                    '3 columns but num_classes=10'):
            self.run_tool(
                self.path('results.pkl'), '--classes', 'FashionMNIST', '--out',
                self.path('t.json'))
        with open(self.path('names.txt'), 'w') as f:
            f.write('T-shirt/top\nShirt\nBag\n')
        tree, log = self.run_tool(
            self.path('results.pkl'), '--classes', self.path('names.txt'),
            '--p-min', '0.1', '--out', self.path('t.json'), '--save-cpm',
            self.path('cpm.npy'))
        # CPM rows: class 0 = mean([.6, .4, 0], [.5, .5, 0]); proximity of
        # 0 and 1 = .45 + .3 = .75 > .1; class 2 is 0 away from both.
        np.testing.assert_allclose(
            np.load(self.path('cpm.npy')),
            [[.55, .45, 0], [.3, .7, 0], [0, 0, 1]])
        self.assertEqual(tree.to_dict(), {
            'group1': {
                'T-shirt/top': {},
                'Shirt': {}
            },
            'group2': {
                'Bag': {}
            }
        })

    def test_leaves_of_a_deeper_tree(self):
        # Results of a hierarchical model over the 7 nodes of
        # A(a1, a2), B(b1, b2, b3); the grouping is over the 5 leaves.
        ClassTree.from_dict({
            'A': ['a1', 'a2'],
            'B': ['b1', 'b2', 'b3']
        }).save(self.path('old.json'))
        score = np.zeros(7)
        score[[2, 3]] = .5  # half a1, half a2
        results = [
            dict(pred_score=score, gt_label=np.array([2])),
            dict(pred_score=score, gt_label=np.array([0])),  # inner: dropped
        ]
        with open(self.path('results.pkl'), 'wb') as f:
            pickle.dump(results, f)
        tree, log = self.run_tool(
            self.path('results.pkl'), '--classes', self.path('old.json'),
            '--p-min', '0.1', '--out', self.path('t.json'), '--save-cpm',
            self.path('cpm.npy'))
        self.assertIn('dropping 1 samples', log)
        cpm = np.load(self.path('cpm.npy'))
        self.assertEqual(cpm.shape, (5, 5))
        np.testing.assert_allclose(cpm[0], [.5, .5, 0, 0, 0])
        self.assertEqual(tree.decode(tree.path('a2')), ['group1', 'a2'])

    def test_errors(self):
        with self.assertRaisesRegex(FileNotFoundError, 'nope.pkl'):
            self.run_tool(self.path('nope.pkl'), '--out', self.path('t.json'))
        np.save(self.path('cpm.npy'), CPM5)
        with self.assertRaisesRegex(ValueError, "'NoSuchData' is neither"):
            self.run_tool(
                self.path('cpm.npy'), '--classes', 'NoSuchData', '--out',
                self.path('t.json'))
