# Copyright (c) mmhier contributors. All rights reserved.
from unittest import TestCase

from mmhier.structures import (ClassTree, TreeError, TreeMismatchError,
                               check_same_tree, first_tree_difference)

TREE = {
    'top': ['T-shirt', 'Pullover', 'Trouser'],
    'shoe': ['Sandal', 'Sneaker'],
}
SWAPPED = {
    'top': ['T-shirt', 'Trouser', 'Pullover'],
    'shoe': ['Sandal', 'Sneaker'],
}
SHALLOW = {'top': None, 'shoe': ['Sandal', 'Sneaker']}
DEEPER = {
    'top': {
        'T-shirt': ['short', 'long'],
        'Pullover': None,
        'Trouser': None
    },
    'shoe': ['Sandal', 'Sneaker'],
}


class TestTreeCompare(TestCase):

    def test_same_tree(self):
        a, b = ClassTree.build(TREE), ClassTree.build(dict(TREE))
        self.assertIsNone(first_tree_difference(a, b))
        check_same_tree(a, b, 'a.json', 'b.json')

    def test_two_swapped_sibling_leaves(self):
        a, b = ClassTree.build(TREE), ClassTree.build(SWAPPED)
        # same names, same depth, same size: only the order differs
        self.assertEqual(sorted(a.names), sorted(b.names))
        self.assertEqual((a.num_nodes, a.max_depth),
                         (b.num_nodes, b.max_depth))
        with self.assertRaises(TreeMismatchError) as cm:
            check_same_tree(a, b, 'model.head.tree (m.json)',
                            'train_dataloader.dataset.tree (d.json)')
        msg = str(cm.exception)
        self.assertIsInstance(cm.exception, TreeError)
        self.assertIn('model.head.tree (m.json)', msg)
        self.assertIn('train_dataloader.dataset.tree (d.json)', msg)
        i = a.index('Pullover')
        self.assertIn(
            f"node {i} is 'Pullover' (depth 2, parent 'top') in the first "
            "tree but 'Trouser' (depth 2, parent 'top') in the second", msg)

    def test_different_depths(self):
        for other in (SHALLOW, DEEPER):
            a, b = ClassTree.build(TREE), ClassTree.build(other)
            with self.assertRaisesRegex(
                    TreeMismatchError,
                    rf'a\.json \(first: {a.num_nodes} nodes, depth 2\) and '
                    rf'b\.json \(second: {b.num_nodes} nodes, depth '
                    rf'{b.max_depth}\) differ: '):
                check_same_tree(a, b, 'a.json', 'b.json')
        diff = first_tree_difference(
            ClassTree.build(TREE), ClassTree.build(SHALLOW))
        self.assertIn("node 2 is 'T-shirt' (depth 2, parent 'top') in the "
                      "first tree but 'Sandal' (depth 2, parent 'shoe')", diff)
        diff = first_tree_difference(
            ClassTree.build(TREE), ClassTree.build(DEEPER))
        self.assertIn('the second tree has 2 more node(s), from node 7 '
                      "'short' (depth 3, parent 'T-shirt')", diff)

    def test_same_names_other_parent(self):
        a = ClassTree.from_edges([('a', None), ('b', None), ('c', 'a')])
        b = ClassTree.from_edges([('a', None), ('b', None), ('c', 'b')])
        self.assertEqual(
            first_tree_difference(a, b),
            "node 2 ('c') has parent 'a' in the first tree but 'b' in the "
            'second')
