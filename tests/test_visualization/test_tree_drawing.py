# Copyright (c) mmhier contributors. All rights reserved.
import os.path as osp
import tempfile
from unittest import TestCase

import cv2
import numpy as np

from mmhier.structures import ClassTree
from mmhier.visualization import draw_tree, layout_tree

# The DHNN slides' example: Root; A, B; C, D under A; E, F, G under B.
SLIDES = {'A': ['C', 'D'], 'B': ['E', 'F', 'G']}


def big_tree(num_top=20, per=6):
    return ClassTree.from_dict({
        f'top{i}': [f'leaf{i}_{j}' for j in range(per)]
        for i in range(num_top)
    })


class TestLayoutTree(TestCase):

    def test_small_tree_is_drawn_whole(self):
        tree = ClassTree.from_dict(SLIDES)
        layout = layout_tree(tree)
        # root first, then depth first in the tree's child order
        self.assertEqual(layout.nodes, [-1, 0, 2, 3, 1, 4, 5, 6])
        self.assertEqual(layout.labels[-1], 'root')
        self.assertEqual(layout.labels[5], 'F')
        # one row per leaf: C, D, E, F, G
        ys = {n: layout.xy[n][1] for n in layout.nodes}
        self.assertEqual(len({ys[n] for n in (2, 3, 4, 5, 6)}), 5)
        self.assertLess(ys[2], ys[3])
        # an inner node is centred on its children, the root on A and B
        self.assertAlmostEqual(ys[0], (ys[2] + ys[3]) / 2)
        self.assertAlmostEqual(ys[1], ys[5])
        self.assertAlmostEqual(ys[-1], (ys[0] + ys[1]) / 2)
        # columns by depth, left-aligned, left to right
        xs = {n: layout.xy[n][0] for n in layout.nodes}
        self.assertEqual(xs[0], xs[1])
        self.assertEqual(xs[2], xs[6])
        self.assertLess(xs[-1], xs[0])
        self.assertLess(xs[0], xs[2])
        width, height = layout.size
        self.assertGreater(width, xs[2])
        self.assertGreater(height, max(ys.values()))

    def test_big_tree_expands_only_the_highlighted_path(self):
        tree = big_tree()  # 20 + 120 = 140 nodes
        target = tree.index('leaf15_3')
        layout = layout_tree(
            tree, tree.path(target), max_nodes=60, max_siblings=12)
        drawn = [n for n in layout.nodes if n >= 0]
        # 12 level-1 nodes (top15 among them) and the 6 leaves of top15
        self.assertIn(tree.index('top15'), drawn)
        self.assertIn(target, drawn)
        leaves = [n for n in drawn if tree.depths[n] == 2]
        self.assertEqual(
            sorted(leaves), sorted(tree.children(tree.index('top15'))))
        self.assertEqual(len(drawn), 12 + 6)
        more = [n for n in layout.nodes if n <= -2]
        self.assertEqual([layout.labels[n] for n in more], ['... +8 more'])
        # collapsed nodes say what they hide
        self.assertEqual(layout.labels[tree.index('top0')], 'top0 (+6)')
        self.assertEqual(layout.labels[tree.index('top15')], 'top15')

    def test_display_names(self):
        tree = ClassTree(['a', 'b'], [None, 'a'], display_names=['Ay', None])
        self.assertEqual(layout_tree(tree).labels[0], 'Ay')
        self.assertEqual(
            layout_tree(tree, use_display_names=False).labels[0], 'a')


class TestDrawTree(TestCase):

    def test_png_written_and_path_highlighted(self):
        tree = ClassTree.from_dict(SLIDES)
        with tempfile.TemporaryDirectory() as tmp:
            out = osp.join(tmp, 'sub', 'tree.png')
            img = draw_tree(
                tree, highlight_path=[1, 5], out_file=out, title='slides')
            self.assertEqual(img.dtype, np.uint8)
            self.assertEqual(img.ndim, 3)
            saved = cv2.imread(out)
            self.assertEqual(saved.shape, img.shape)
            np.testing.assert_array_equal(saved[..., ::-1], img)
            plain = draw_tree(tree)

        # the highlight is red: many strongly red pixels only when drawn
        def red(a):
            a = a.astype(int)
            return int(((a[..., 0] > 180) & (a[..., 1] < 90) &
                        (a[..., 2] < 90)).sum())

        self.assertGreater(red(img), 200)
        self.assertEqual(red(plain), 0)
        # a node index highlights its path; the same drawing results
        np.testing.assert_array_equal(
            draw_tree(tree, highlight_path=5, title='slides'), img)

    def test_bad_path(self):
        tree = ClassTree.from_dict(SLIDES)
        with self.assertRaisesRegex(ValueError, r'\[0, 5\].*A.*F'):
            draw_tree(tree, highlight_path=[0, 5])

    def test_big_tree_stays_legible(self):
        tree = big_tree(num_top=100, per=10)  # 1,100 nodes
        img = draw_tree(
            tree, highlight_path=tree.path(tree.index('leaf42_7')), dpi=50)
        # rows: 12 level-1 nodes, 10 leaves and a "more" row at most
        self.assertLess(img.shape[0], 50 * 0.3 * 24 + 50)
