# Copyright (c) mmhier contributors. All rights reserved.
"""Property-based tests (hypothesis) of the tree and annotation parsers.

Random valid trees round-trip through every ClassTree format; random
malformed tree files and annotation lines (bytes, wrong separators, cycles,
huge depths, unicode names) raise the project's own errors (``TreeError``,
``AnnotationError``), never an unrelated exception, and never hang.
"""
import json
import os.path as osp
import tempfile
from unittest import TestCase

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import mmhier  # noqa: F401
from mmhier.datasets import AnnotationError, HierDataset
from mmhier.structures import ClassTree, TreeError, first_tree_difference

SETTINGS = settings(
    max_examples=30,
    deadline=2000,
    suppress_health_check=[HealthCheck.too_slow],
    database=None,
    derandomize=True)
FORMATS = ('.json', '.tsv', '.csv', '.txt')

# node names: any letters / digits (any script) with inner spaces and
# punctuation; not the path separator, no comment mark in front
NAME = st.text(
    st.characters(
        categories=('L', 'N', 'Pd', 'Pc', 'So'), exclude_characters='/#'),
    min_size=1,
    max_size=8).map(str.strip).filter(bool)


@st.composite
def trees(draw, max_nodes=15):
    """A random tree: node i's parent is one of nodes 0..i-1 or the root."""
    names = draw(
        st.lists(
            NAME,
            min_size=1,
            max_size=max_nodes,
            unique_by=lambda s: s.casefold()))
    names = [n for n in names if n not in ('__root__', 'child')]
    if not names:
        names = ['a']
    edges = []
    for i, name in enumerate(names):
        p = draw(st.integers(-1, i - 1))
        edges.append((name, None if p < 0 else names[p]))
    return ClassTree.from_edges(edges)


class TestTreeRoundTrip(TestCase):

    @classmethod
    def setUpClass(cls):
        cls._tmp = tempfile.TemporaryDirectory()

    @classmethod
    def tearDownClass(cls):
        cls._tmp.cleanup()

    @SETTINGS
    @given(trees())
    def test_every_format(self, tree):
        for ext in FORMATS:
            file = osp.join(self._tmp.name, 'tree' + ext)
            tree.save(file)
            back = ClassTree.load(file)
            self.assertIsNone(first_tree_difference(tree, back), ext)
        self.assertIsNone(
            first_tree_difference(tree, ClassTree.from_dict(tree.to_dict())))
        self.assertIsNone(
            first_tree_difference(
                tree, ClassTree.from_paths(tree.to_paths())))


def _lines(seps=('\t', ',', ' ', '/', ';', '')):
    """Lines made of names and separators, right or wrong."""
    piece = st.one_of(NAME, st.sampled_from(seps), st.just('#'),
                      st.text(max_size=5))
    return st.lists(piece, max_size=6).map(''.join)


@st.composite
def cycles(draw):
    names = draw(st.lists(NAME, min_size=2, max_size=6, unique=True))
    rows = [f'{c}\t{p}' for c, p in zip(names, names[1:] + names[:1])]
    return '\n'.join(rows)


class TestMalformedTrees(TestCase):

    @classmethod
    def setUpClass(cls):
        cls._tmp = tempfile.TemporaryDirectory()

    @classmethod
    def tearDownClass(cls):
        cls._tmp.cleanup()

    def load(self, ext, data):
        file = osp.join(self._tmp.name, 'bad' + ext)
        with open(file, 'wb') as f:
            f.write(data if isinstance(data, bytes) else data.encode())
        try:
            return ClassTree.load(file)
        except TreeError:
            return None

    @SETTINGS
    @given(st.sampled_from(FORMATS), st.binary(max_size=200))
    def test_random_bytes(self, ext, data):
        self.load(ext, data)

    @SETTINGS
    @given(st.sampled_from(FORMATS), st.lists(_lines(), max_size=8))
    def test_random_lines(self, ext, lines):
        self.load(ext, '\n'.join(lines))

    @SETTINGS
    @given(cycles())
    def test_cycles(self, text):
        self.assertIsNone(self.load('.tsv', text))

    @settings(SETTINGS, max_examples=5)
    @given(st.integers(1000, 50000))
    def test_huge_depths(self, depth):
        # a chain as deep as JSON nesting allows, and deeper
        chain = '{"LabelName": "n", "Subcategory": [' * depth
        self.load('.json', chain + ']}' * depth)
        if depth <= 3000:
            path = '/'.join(f'n{i}' for i in range(depth))
            tree = self.load('.txt', path)
            self.assertEqual(tree.max_depth, depth)


TREE = {'A': ['x', 'y'], 'B': {'z': ['deep']}}


class TestMalformedAnnotations(TestCase):

    @classmethod
    def setUpClass(cls):
        cls._tmp = tempfile.TemporaryDirectory()

    @classmethod
    def tearDownClass(cls):
        cls._tmp.cleanup()

    def build(self, name, data, **kwargs):
        file = osp.join(self._tmp.name, name)
        with open(file, 'wb') as f:
            f.write(data if isinstance(data, bytes) else data.encode())
        try:
            return HierDataset(
                ann_file=file, tree=TREE, check_files=False, **kwargs)
        except AnnotationError:
            return None

    @settings(SETTINGS, max_examples=15)
    @given(
        st.lists(_lines() | st.sampled_from(['a.png x', 'b.png A/x;B/z']),
                 max_size=8), st.booleans(), st.booleans())
    def test_text_lines(self, lines, multi_label, skip):
        ds = self.build(
            'ann.txt',
            '\n'.join(lines),
            multi_label=multi_label,
            allow_coarse_only=True,
            on_error='skip' if skip else 'raise')
        if ds is not None:
            self.assertGreater(len(ds), 0)

    @SETTINGS
    @given(st.sampled_from(['ann.txt', 'ann.json']), st.binary(max_size=200))
    def test_random_bytes(self, name, data):
        self.build(name, data)

    @SETTINGS
    @given(
        st.recursive(
            st.none() | st.booleans() | st.integers() | NAME,
            lambda kids: st.lists(kids, max_size=3) | st.dictionaries(
                st.sampled_from(['img_path', 'gt_label', 'coarse_only', 'k'
                                 ]), kids, max_size=3),
            max_leaves=10))
    def test_json_entries(self, entry):
        self.build('ann.json',
                   json.dumps(dict(data_list=[entry, entry])),
                   multi_label=True)
