# Copyright (c) mmhier contributors. All rights reserved.
from unittest import TestCase

import numpy as np

from mmhier.models.classifiers import (build_group_tree,
                                       confusion_probability_matrix,
                                       group_classes)
from mmhier.models.classifiers.grouping import describe_groups
from mmhier.structures import ClassTree

# A hand-worked example of section 4 of the HierNet paper. Rows: true
# class, columns: predicted class.
CPM5 = np.array([
    [0.70, 0.20, 0.05, 0.05, 0.00],
    [0.10, 0.80, 0.05, 0.00, 0.05],
    [0.05, 0.05, 0.60, 0.25, 0.05],
    [0.00, 0.05, 0.15, 0.70, 0.10],
    [0.02, 0.08, 0.05, 0.05, 0.80],
])
# Class proximities d(i, j) = CPM[i][j] + CPM[j][i]:
#   d01 = .20 + .10 = .30   d02 = .05 + .05 = .10   d03 = .05 + .00 = .05
#   d04 = .00 + .02 = .02   d12 = .05 + .05 = .10   d13 = .00 + .05 = .05
#   d14 = .05 + .08 = .13   d23 = .25 + .15 = .40   d24 = .05 + .05 = .10
#   d34 = .10 + .05 = .15
# With p_min = .1 and g_max = 3:
#  1. the closest pair is d23 = .40 > .1: merge {2, 3}.
#  2. d01 = .30; d(0, {2,3}) = (d02 + d03) / 2 = .075;
#     d(1, {2,3}) = (d12 + d13) / 2 = .075; d(4, {2,3}) = (d24 + d34) / 2
#     = .125; d04 = .02; d14 = .13. Merge {0, 1} (.30).
#  3. d({0,1}, {2,3}) = (d02 + d03 + d12 + d13) / 4 = .075;
#     d({0,1}, 4) = (d04 + d14) / 2 = .075; d({2,3}, 4) = .125 > .1 and
#     the merged size 3 <= 3: merge {2, 3, 4}.
#  4. {0,1} + {2,3,4} would have 5 > g_max classes: stop.
NAMES5 = ['c0', 'c1', 'c2', 'c3', 'c4']

# Balance example. Proximities (CPM[i][j] + CPM[j][i]): d01 = .3 + .2 = .5,
# d02 = .25 + .2 = .45, d12 = .25 + .2 = .45, d23 = .2 + .15 = .35,
# d03 = .01 + 0 = .01, d13 = 0 + .01 = .01. p_min = .1, g_max = 3.
CPM4 = np.array([
    [0.44, 0.30, 0.25, 0.01],
    [0.20, 0.55, 0.25, 0.00],
    [0.20, 0.20, 0.40, 0.20],
    [0.00, 0.01, 0.15, 0.84],
])
# balance = 0 (the paper): merge {0,1} (.5); then d({0,1}, 2) =
#   (.45 + .45) / 2 = .45 beats d23 = .35: {0,1,2}; then
#   d({0,1,2}, 3) = (.01 + .01 + .35) / 3 = .123 > .1 but the size would
#   be 4 > 3: stop with groups of 3 and 1.
# balance = 1: key = proximity / merged size. Step 1: all pairs have size
#   2, {0,1} (.5 / 2) wins. Step 2: {0,1}+2: .45 / 3 = .15 < {2,3}:
#   .35 / 2 = .175: merge {2,3}. Step 3: d({0,1}, {2,3}) = (.45 + .01 +
#   .45 + .01) / 4 = .23 > .1 but the size 4 > 3: stop with 2 and 2.


class TestGrouping(TestCase):

    def test_confusion_probability_matrix(self):
        scores = [[.8, .1, .1], [.6, .3, .1], [.2, .7, .1], [.1, .2, .7],
                  [.3, .0, .7]]
        labels = [0, 0, 1, 2, 2]
        # Row 0: mean of the first two rows; row 2: of the last two.
        expected = [[.7, .2, .1], [.2, .7, .1], [.2, .1, .7]]
        np.testing.assert_allclose(
            confusion_probability_matrix(scores, labels), expected)
        # A class without samples gets a zero row.
        cpm = confusion_probability_matrix(scores, [0, 0, 0, 2, 2])
        np.testing.assert_allclose(cpm[1], 0)
        with self.assertRaisesRegex(ValueError, 'label 3 is outside 0..2'):
            confusion_probability_matrix(scores, [0, 0, 1, 2, 3])
        with self.assertRaisesRegex(ValueError, '4 labels for 5 rows'):
            confusion_probability_matrix(scores, [0, 0, 1, 2])

    def test_hand_worked_example(self):
        self.assertEqual(
            group_classes(CPM5, p_min=.1, g_max=3), [[0, 1], [2, 3, 4]])
        # p_min = .13: step 3's best pair (.125) is too far: {4} stays.
        self.assertEqual(
            group_classes(CPM5, p_min=.13, g_max=3), [[0, 1], [2, 3], [4]])
        # g_max = 2: no merge of size 3 is allowed after step 2.
        self.assertEqual(
            group_classes(CPM5, p_min=.1, g_max=2), [[0, 1], [2, 3], [4]])
        # g_max = 1 or p_min above every proximity: no merge.
        self.assertEqual(
            group_classes(CPM5, p_min=.1, g_max=1), [[0], [1], [2], [3], [4]])
        self.assertEqual(
            group_classes(CPM5, p_min=.4, g_max=5), [[0], [1], [2], [3], [4]])
        with self.assertRaisesRegex(ValueError, 'g_max must be a positive'):
            group_classes(CPM5, p_min=.1, g_max=0)
        with self.assertRaisesRegex(ValueError, r'square, got shape \(5, 4\)'):
            group_classes(CPM5[:, :4], p_min=.1, g_max=3)

    def test_balance(self):
        self.assertEqual(
            group_classes(CPM4, p_min=.1, g_max=3), [[0, 1, 2], [3]])
        self.assertEqual(
            group_classes(CPM4, p_min=.1, g_max=3, balance=1),
            [[0, 1], [2, 3]])
        self.assertEqual(
            group_classes(CPM4, p_min=.1, g_max=3, balance=True),
            [[0, 1], [2, 3]])

    def test_build_group_tree(self):
        tree = build_group_tree(CPM5, NAMES5, p_min=.1, g_max=3)
        self.assertEqual(
            tree, {
                'group1': {
                    'c0': {},
                    'c1': {}
                },
                'group2': {
                    'c2': {},
                    'c3': {},
                    'c4': {}
                }
            })
        self.assertEqual(
            describe_groups(tree),
            ['group1 (2 classes): c0, c1', 'group2 (3 classes): c2, c3, c4'])
        # Recursively, p_min = .31 inside the groups: in {0, 1}, d01 = .3 is
        # too far; in {2, 3, 4}, d23 = .4 merges and d({2,3}, 4) = .125
        # does not.
        deep = build_group_tree(CPM5, NAMES5, p_min=[.1, .31], g_max=3)
        self.assertEqual(
            ClassTree.from_dict(deep).to_paths(), [
                'group1/group1_1/c0', 'group1/group1_2/c1',
                'group2/group2_1/c2', 'group2/group2_1/c3',
                'group2/group2_2/c4'
            ])
        # Singletons as leaves: a variable-depth tree.
        deep = build_group_tree(
            CPM5, NAMES5, p_min=[.1, .31], g_max=3, singletons='leaf')
        self.assertEqual(
            deep, {
                'group1': {
                    'c0': {},
                    'c1': {}
                },
                'group2': {
                    'group2_1': {
                        'c2': {},
                        'c3': {}
                    },
                    'c4': {}
                }
            })
        flat = build_group_tree(
            CPM5, NAMES5, p_min=.13, g_max=3, singletons='leaf')
        self.assertEqual(list(flat), ['group1', 'group2', 'c4'])
        with self.assertRaisesRegex(ValueError, "'group1' is also a class"):
            build_group_tree(CPM5, ['group1', 'a', 'b', 'c', 'd'], .1, 3)
        with self.assertRaisesRegex(ValueError,
                                    r'g_max=\[3, 3, 3\] gives 3 levels'):
            build_group_tree(CPM5, NAMES5, [.1, .3], g_max=[3, 3, 3])
