# Copyright (c) mmhier contributors. All rights reserved.
import json
from unittest import TestCase

import numpy as np
import pytest
import torch

from mmhier.structures import (PATH_END, PATH_UNKNOWN, ClassTree, TreeError,
                               paths_to_multihot, stack_gt_paths)

# The DHNN slides' example: Root; A, B; C, D under A; E, F, G under B.
SLIDES = {'A': ['C', 'D'], 'B': ['E', 'F', 'G']}
# A general tree: paths of length 1, 2 and 3.
GENERAL = {'x': {'x1': ['x1a', 'x1b'], 'x2': None}, 'y': None}


def slides_tree():
    return ClassTree.from_dict(SLIDES)


class TestClassTree(TestCase):

    def test_slides_encoding(self):
        tree = slides_tree()
        # Breadth-first indices, as in the slides: A=0, B=1, C=2, ..., G=6.
        self.assertEqual(tree.names, list('ABCDEFG'))
        self.assertEqual(tree.num_nodes, 7)
        self.assertEqual(tree.max_depth, 2)
        self.assertTrue(tree.is_fixed_depth)
        # Labelled F: path Root, B, F -> y_1 = B (1), y_2 = F (5).
        self.assertEqual(tree.encode('F'), [1, 5])
        self.assertEqual(tree.encode('B/F'), [1, 5])
        self.assertEqual(tree.encode(['B', 'F']), [1, 5])
        self.assertEqual(tree.encode(5), [1, 5])
        self.assertEqual(tree.decode([1, 5]), ['B', 'F'])
        self.assertEqual(tree.decode(torch.tensor([1, PATH_END])), ['B'])
        np.testing.assert_array_equal(tree.parents, [-1, -1, 0, 0, 1, 1, 1])
        np.testing.assert_array_equal(tree.depths, [1, 1, 2, 2, 2, 2, 2])
        self.assertEqual([lv.tolist() for lv in tree.levels],
                         [[0, 1], [2, 3, 4, 5, 6]])
        self.assertEqual(tree.leaves.tolist(), [2, 3, 4, 5, 6])
        self.assertEqual(tree.children(), [0, 1])
        self.assertEqual(tree.children('B'), [4, 5, 6])
        self.assertEqual(tree.children(2), [])
        self.assertEqual(tree.path_matrix[5].tolist(), [1, 5])
        self.assertEqual(tree.path_matrix[0].tolist(), [0, PATH_END])

    def test_general_tree(self):
        tree = ClassTree.from_dict(GENERAL)
        self.assertEqual(tree.names, ['x', 'y', 'x1', 'x2', 'x1a', 'x1b'])
        self.assertFalse(tree.is_fixed_depth)
        self.assertEqual(tree.max_depth, 3)
        self.assertEqual(tree.leaves.tolist(), [1, 3, 4, 5])
        self.assertEqual(tree.path('x1b'), [0, 2, 5])
        self.assertEqual(tree.path('y'), [1])

    def test_masks(self):
        tree = slides_tree()
        lm = tree.level_mask()
        self.assertEqual(lm.shape, (2, 7))
        self.assertEqual(lm[0].nonzero().flatten().tolist(), [0, 1])
        self.assertEqual(lm[1].nonzero().flatten().tolist(), [2, 3, 4, 5, 6])
        cm = tree.child_mask()
        self.assertEqual(cm.shape, (8, 7))
        self.assertEqual(cm[7].nonzero().flatten().tolist(), [0, 1])  # root
        self.assertEqual(cm[1].nonzero().flatten().tolist(), [4, 5, 6])
        self.assertFalse(cm[2:7].any())
        ci = tree.children_index()
        self.assertEqual(ci.shape, (8, 3))
        self.assertEqual(ci[0].tolist(), [2, 3, -1])
        self.assertEqual(ci[7].tolist(), [0, 1, -1])
        anc = tree.ancestor_mask()
        self.assertEqual(anc[5].nonzero().flatten().tolist(), [1, 5])
        self.assertEqual(anc[0].nonzero().flatten().tolist(), [0])
        # Cached per device, same object on a second call.
        self.assertIs(tree.child_mask('cpu'), cm)

    def test_valid_paths(self):
        tree = ClassTree.from_dict(GENERAL)
        E, U = PATH_END, PATH_UNKNOWN
        paths = torch.tensor([
            [0, 2, 4],  # x/x1/x1a
            [1, E, E],  # y: stops at level 1
            [0, 3, E],  # x/x2
            [0, E, E],  # x: an inner node
            [1, 2, 4],  # x1 is not under y
            [2, 4, E],  # does not start at level 1
            [E, E, E],  # empty
            [0, E, 2],  # node after the end
            [0, U, U],  # coarse only
            [0, E, U],  # mixed padding
            [0, 2, 9],  # index out of range
        ])
        self.assertEqual(
            tree.valid_paths(paths).tolist(),
            [True, True, True, True] + [False] * 7)
        self.assertEqual(
            tree.valid_paths(paths, allow_unknown=True).tolist(),
            [True, True, True, True, False, False, False, False, True, False,
             False])
        self.assertTrue(tree.is_valid_path([0, 2]))
        self.assertFalse(tree.is_valid_path([0, 3, 4]))
        with self.assertRaisesRegex(ValueError, 'length 2'):
            tree.valid_paths(torch.zeros(4, 2, dtype=torch.long))

    def test_lca_depth(self):
        tree = ClassTree.from_dict(GENERAL)
        a = torch.tensor([4, 4, 4, 4, 1])
        b = torch.tensor([4, 5, 3, 1, 1])
        self.assertEqual(tree.lca_depth(a, b).tolist(), [3, 2, 1, 0, 1])

    def test_encode_errors(self):
        tree = slides_tree()
        with self.assertRaisesRegex(KeyError, r"unknown node 'Q'"):
            tree.encode('Q')
        with self.assertRaisesRegex(KeyError, r"did you mean \['A'\]"):
            tree.index('a')
        with self.assertRaisesRegex(ValueError,
                                    r'A/F is not a path of the tree.*B/F'):
            tree.encode('A/F')
        with self.assertRaisesRegex(ValueError, 'is not a path'):
            tree.encode(['C'])
        with self.assertRaises(IndexError):
            tree.encode(7)

    def test_constructor(self):
        tree = ClassTree(['C', 'A', 'B', 'D'], ['A', None, None, 'A'],
                         display_names=['c', 'a', 'b', 'd'],
                         ids=['1', '2', '3', '4'])
        self.assertEqual(tree.names, ['A', 'B', 'C', 'D'])
        self.assertEqual(tree.display_names, ['a', 'b', 'c', 'd'])
        self.assertEqual(tree.ids, ['2', '3', '1', '4'])
        named_root = ClassTree(['A', 'B'], ['top', 'top'], root_name='top')
        self.assertEqual(named_root.root_name, 'top')
        self.assertEqual(named_root.names, ['A', 'B'])

    def test_build(self):
        tree = slides_tree()
        self.assertIs(ClassTree.build(tree), tree)
        self.assertEqual(ClassTree.build(SLIDES), tree)
        with self.assertRaisesRegex(TypeError, 'got int'):
            ClassTree.build(3)

    def test_pickle_and_deepcopy(self):
        import copy
        import pickle
        tree = slides_tree()
        tree.child_mask()
        self.assertEqual(pickle.loads(pickle.dumps(tree)), tree)
        clone = copy.deepcopy(tree)
        self.assertEqual(clone, tree)
        self.assertTrue(torch.equal(clone.child_mask(), tree.child_mask()))

    def test_large_tree(self):
        # 25,000 nodes, random parents: built and encoded without per-node
        # quadratic work (timings are in benchmarks/, not here).
        rng = np.random.default_rng(0)
        n = 25000
        names = [f'n{i}' for i in range(n)]
        parents = [None] * 50 + [
            f'n{int(rng.integers(0, i))}' for i in range(50, n)
        ]
        tree = ClassTree(names, parents)
        self.assertEqual(tree.num_nodes, n)
        for name in names[::97]:
            path = tree.encode(name)
            self.assertEqual(tree.decode(path)[-1], name)
        self.assertTrue(
            tree.valid_paths(torch.from_numpy(tree.path_matrix)).all())
        self.assertEqual(len(tree.to_paths()), len(tree.leaves))


@pytest.mark.parametrize('ext', ['.json', '.tsv', '.csv', '.txt'])
@pytest.mark.parametrize('spec', [SLIDES, GENERAL])
def test_round_trip(tmp_path, ext, spec):
    tree = ClassTree.from_dict(spec)
    path = tmp_path / f'tree{ext}'
    tree.save(path)
    again = ClassTree.load(path)
    assert again == tree
    again.save(tmp_path / f'again{ext}')
    assert (tmp_path / f'again{ext}').read_text() == path.read_text()
    assert ClassTree.from_dict(tree.to_dict()) == tree


@pytest.mark.parametrize('ext', ['.json', '.tsv', '.csv'])
def test_round_trip_keeps_names_and_ids(tmp_path, ext):
    tree = ClassTree(['/m/a', '/m/b', '/m/c'], ['/m/root', '/m/root', '/m/a'],
                     root_name='/m/root',
                     display_names=['Apple, red', 'Bee', 'Core'],
                     ids=['n1', None, 'n3'])
    tree.save(tmp_path / f't{ext}')
    again = ClassTree.load(tmp_path / f't{ext}')
    assert again == tree
    assert again.root_name == '/m/root'
    assert again.display_names == ['Apple, red', 'Bee', 'Core']
    assert again.ids == ['n1', None, 'n3']


def test_openimages_json(tmp_path):
    data = {
        'LabelName': '/m/0bl9f',
        'Subcategory': [{
            'LabelName': '/m/body',
            'Part': [{'LabelName': '/m/foot'}, {'LabelName': '/m/hand'}],
        }, {
            'LabelName': '/m/outfit',
            'Subcategory': [{'LabelName': '/m/hat'}],
        }]
    }
    f = tmp_path / 'bbox_labels_600_hierarchy.json'
    f.write_text(json.dumps(data))
    tree = ClassTree.load(f)
    assert tree.root_name == '/m/0bl9f'
    assert tree.names == ['/m/body', '/m/outfit', '/m/hat']
    has_a = ClassTree.load(f, relations=('Subcategory', 'Part'))
    assert has_a.names == [
        '/m/body', '/m/outfit', '/m/foot', '/m/hand', '/m/hat'
    ]
    assert ClassTree.build(
        dict(file=str(f), relations=('Subcategory', 'Part'))) == has_a
    # Only has-a links from the root: the root has none.
    with pytest.raises(TreeError, match='the tree is empty'):
        ClassTree.build(dict(file=str(f), relations=('Part', )))


def test_openimages_dag(tmp_path):
    # '/m/x' sits under two parents, with its subtree repeated (as in the
    # real Open Images hierarchy).
    sub = {'LabelName': '/m/x', 'Subcategory': [{'LabelName': '/m/y'}]}
    data = {
        'LabelName': 'root',
        'Subcategory': [{
            'LabelName': '/m/a',
            'Subcategory': [sub]
        }, {
            'LabelName': '/m/b',
            'Subcategory': [sub]
        }]
    }
    f = tmp_path / 'dag.json'
    f.write_text(json.dumps(data))
    with pytest.raises(TreeError, match=r"'/m/x' has a second parent '/m/b'"
                       r".*dag_rule='first'"):
        ClassTree.load(f)
    tree = ClassTree.load(f, dag_rule='first')
    assert tree.names == ['/m/a', '/m/b', '/m/x', '/m/y']
    assert tree.decode(tree.path('/m/y')) == ['/m/a', '/m/x', '/m/y']


def test_parent_list_dag(tmp_path):
    f = tmp_path / 'wordnet.tsv'
    f.write_text('a\troot\nb\troot\nc\ta\nc\tb\n')
    with pytest.raises(TreeError, match=r'wordnet.tsv, line 4.*second '
                       r"parent 'b'.*line 3"):
        ClassTree.load(f)
    tree = ClassTree.load(f, dag_rule='first')
    assert tree.parent('c') == tree.index('a')
    with pytest.raises(ValueError, match='dag_rule must be one of'):
        ClassTree.load(f, dag_rule='last')


BAD_PARENT_LISTS = [
    ('cycle', 'a\tb\nb\tc\nc\ta\n', r"cycle 'a' -> 'b' -> 'c' -> 'a'"),
    ('cycle_below_root', 'a\troot\nb\tc\nc\tb\n',
     r"not every node hangs below the root: cycle 'b' -> 'c' -> 'b'"),
    ('two_roots', 'a\troot\nb\ttop\n',
     r"2 roots: 'root' \(e.g. at line 1\), 'top' \(e.g. at line 2\)"),
    ('unknown_parent', 'a\t\nb\ta\nc\tbb\n',
     r"2 roots: <empty> \(e.g. at line 1\), 'bb' \(e.g. at line 3\)"),
    ('duplicate', 'a\troot\nb\troot\na\troot\n',
     r"line 3: duplicate node 'a' \(first defined at line 1\)"),
    ('self_parent', 'a\troot\nb\tb\n', r"line 2: node 'b' is its own parent"),
    ('empty', '\n# nothing\n', 'the tree is empty'),
    ('malformed', 'a\troot\nb\n', r"tree.tsv:2: expected child, parent"),
]


@pytest.mark.parametrize('case,text,message', BAD_PARENT_LISTS,
                         ids=[c[0] for c in BAD_PARENT_LISTS])
def test_bad_parent_list(tmp_path, case, text, message):
    f = tmp_path / 'tree.tsv'
    f.write_text(text)
    with pytest.raises(TreeError, match=message) as info:
        ClassTree.load(f)
    assert 'tree.tsv' in str(info.value)


def test_bad_files(tmp_path):
    with pytest.raises(FileNotFoundError, match='missing.json'):
        ClassTree.load(tmp_path / 'missing.json')
    bad = tmp_path / 'bad.json'
    bad.write_text('{"LabelName": "r",\n "Subcategory": [}\n')
    with pytest.raises(TreeError, match=r'bad.json:2: invalid JSON'):
        ClassTree.load(bad)
    no_name = tmp_path / 'no_name.json'
    no_name.write_text('{"Subcategory": []}')
    with pytest.raises(TreeError, match="needs a 'LabelName' key"):
        ClassTree.load(no_name)
    with pytest.raises(TreeError, match='unknown tree format'):
        ClassTree.load(tmp_path / 'tree.yaml')
    paths = tmp_path / 'paths.txt'
    paths.write_text('a/b\nc/b\n')
    with pytest.raises(TreeError, match=r"paths.txt, line 2: node 'b' has "
                       r"parent 'c' here but 'a' at line 1"):
        ClassTree.load(paths)
    paths.write_text('a//b\n')
    with pytest.raises(TreeError, match='line 1: empty node name'):
        ClassTree.load(paths)
    with pytest.raises(TreeError, match=r'children must be a dict'):
        ClassTree.from_dict({'a': 3})
    slash = ClassTree.from_dict({'T-shirt/top': None})
    with pytest.raises(TreeError, match=r"contain '/'"):
        slash.save(tmp_path / 'slash.txt')


def test_stack_gt_paths_and_multihot():
    E = PATH_END
    samples = [
        dict(gt_path=torch.tensor([[1, 5]])),
        dict(gt_path=torch.tensor([[0, 2], [1, E]])),
    ]
    batch = stack_gt_paths(samples)
    assert batch.shape == (2, 2, 2)
    assert batch[0].tolist() == [[1, 5], [E, E]]
    hot = paths_to_multihot(batch, 7)
    assert hot.shape == (2, 2, 7)
    assert hot[0, 0].nonzero().flatten().tolist() == [1]
    assert hot[0, 1].nonzero().flatten().tolist() == [5]
    assert hot[1, 0].nonzero().flatten().tolist() == [0, 1]
    assert hot[1, 1].nonzero().flatten().tolist() == [2]
    with pytest.raises(KeyError, match="data sample 0 has no 'gt_path'"):
        stack_gt_paths([dict()])


def test_build_openimages_dict():
    data = {'LabelName': 'r', 'Subcategory': [{'LabelName': 'a'}]}
    tree = ClassTree.build(data)
    assert tree.root_name == 'r' and tree.names == ['a']
