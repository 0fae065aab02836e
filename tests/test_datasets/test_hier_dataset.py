# Copyright (c) mmhier contributors. All rights reserved.
import os
import os.path as osp
import shutil
import tempfile
from unittest import TestCase

import numpy as np
import torch
from mmengine.logging import MMLogger
from mmengine.registry import DefaultScope
from mmpretrain.registry import DATASETS

import mmhier  # noqa: F401
from mmhier.datasets import AnnotationError
from mmhier.structures import PATH_END, PATH_UNKNOWN, ClassTree

DATA = osp.join(osp.dirname(osp.dirname(__file__)), 'data', 'datasets', 'hier')
TREE = osp.join(DATA, 'tree.json')
IMAGES = osp.join(DATA, 'images')
E, U = PATH_END, PATH_UNKNOWN
# tree.json: A(0) B(1); C(2) D(3) under A; E(4) F(5) G(6) under B; H(7)
# under C. T = 3, variable depth.


def build(**kwargs):
    cfg = dict(type='HierDataset', tree=TREE, data_prefix=IMAGES)
    cfg.update(kwargs)
    return DATASETS.build(cfg)


def paths(ds):
    return [ds.get_data_info(i)['gt_path'].tolist() for i in range(len(ds))]


class TestHierDataset(TestCase):

    def tearDown(self):
        MMLogger._instance_dict.clear()

    # -------------------------------------------------------------- formats
    def test_text(self):
        ds = build(ann_file=osp.join(DATA, 'ann.txt'))
        self.assertEqual(len(ds), 5)
        self.assertEqual(
            paths(ds),
            [[[0, 2, 7]], [[0, 3, E]], [[1, 6, E]], [[0, 2, E]], [[1, 5, E]]])
        info = ds.get_data_info(3)  # tab-separated line, inner node C
        self.assertEqual(info['img_path'], osp.join(IMAGES, 'x3.png'))
        self.assertEqual(info['gt_label'], 2)
        self.assertEqual(info['gt_path'].dtype, np.int64)
        self.assertEqual([ds.get_data_info(i)['gt_label'] for i in range(5)],
                         [7, 3, 6, 2, 5])
        meta = ds.metainfo
        self.assertEqual(meta['classes'],
                         ('A', 'B', 'C', 'D', 'E', 'F', 'G', 'H'))
        self.assertIsInstance(meta['class_tree'], ClassTree)
        self.assertEqual(ds.skipped, [])

    def test_json(self):
        # The tree comes from the annotation file's metainfo (a file path
        # relative to it); a node name, a list path, an index, 'a/b'.
        ds = DATASETS.build(
            dict(
                type='HierDataset',
                ann_file=osp.join(DATA, 'ann.json'),
                data_prefix=IMAGES))
        self.assertEqual(ds.metainfo['class_tree'], ClassTree.load(TREE))
        self.assertEqual(
            paths(ds), [[[0, 2, 7]], [[0, 3, E]], [[1, 6, E]], [[0, 2, E]]])
        self.assertEqual(ds.get_data_info(2)['width'], 4)  # extra key kept

    def test_json_multi_and_coarse(self):
        # Nested-dict tree in metainfo, several paths, "coarse_only": true,
        # a trailing '*' in a list path, and an inner node (END).
        ds = DATASETS.build(
            dict(
                type='HierDataset',
                ann_file=osp.join(DATA, 'ann_full.json'),
                data_prefix=IMAGES,
                multi_label=True,
                allow_coarse_only=True))
        self.assertEqual(
            paths(ds), [[[0, 2, 7], [1, 4, E]], [[1, U, U]],
                        [[0, 2, U], [1, 6, E]], [[0, 2, E]]])
        self.assertEqual(ds.get_cat_ids(0), [4, 7])
        self.assertEqual(ds.get_cat_ids(2), [2, 6])
        self.assertEqual(ds.get_data_info(1)['gt_label'], 1)

    def test_coarse_only_vs_inner_node(self):
        ds = build(
            ann_file=osp.join(DATA, 'ann_coarse.txt'), allow_coarse_only=True)
        # 'A/C/*': we only know A/C; 'C': the object IS C.
        self.assertEqual(
            paths(ds), [[[0, 2, U]], [[0, U, U]], [[1, 6, E]], [[0, 2, E]]])
        self.assertEqual(ds.level_counts().tolist(), [4, 3, 0])
        with self.assertRaisesRegex(
                AnnotationError,
                r'ann_coarse.txt, line 1: coarse-only .*A/C/\*.*'
                'allow_coarse_only=False'):
            build(ann_file=osp.join(DATA, 'ann_coarse.txt'))

    def test_coarse_only_at_leaf(self):
        with tempfile.TemporaryDirectory() as tmp:
            ann = osp.join(tmp, 'a.txt')
            with open(ann, 'w') as f:
                f.write('x0.png A/D/*\n')
            with self.assertRaisesRegex(AnnotationError,
                                        r"line 1: .*ends at the leaf 'D'"):
                build(ann_file=ann, allow_coarse_only=True)

    def test_multi_label(self):
        ds = build(ann_file=osp.join(DATA, 'ann_multi.txt'), multi_label=True)
        # 'D;A/D' is one path twice: kept once.
        self.assertEqual(
            paths(ds),
            [[[0, 2, 7], [1, 4, E]], [[0, 3, E]], [[1, 4, E], [1, 5, E]]])
        self.assertEqual(ds.get_cat_ids(2), [4, 5])
        self.assertEqual(ds.node_counts().tolist(), [2, 2, 1, 1, 2, 1, 0, 1])
        self.assertEqual(ds.level_counts().tolist(), [3, 3, 1])
        with self.assertRaisesRegex(AnnotationError,
                                    r'line 1: 2 label paths.*multi_label'):
            build(ann_file=osp.join(DATA, 'ann_multi.txt'))

    def test_allow_inner_labels(self):
        tree = {'A': ['C', 'D'], 'B': ['E', 'F']}  # fixed depth 2
        with tempfile.TemporaryDirectory() as tmp:
            ann = osp.join(tmp, 'a.txt')
            with open(ann, 'w') as f:
                f.write('x0.png A/C\nx1.png B\nx2.png B/*\n')
            ds = build(ann_file=ann, tree=tree, allow_coarse_only=True)
            self.assertEqual(paths(ds), [[[0, 2]], [[1, E]], [[1, U]]])
            # A fixed-path-length model can refuse paths that stop early.
            with self.assertRaisesRegex(
                    AnnotationError, r"line 2: label 'B' stops at the inner "
                    r"node 'B' but allow_inner_labels=False; write 'B/\*'"):
                build(
                    ann_file=ann,
                    tree=tree,
                    allow_coarse_only=True,
                    allow_inner_labels=False)

    def test_folder(self):
        root = osp.join(DATA, 'folder')
        ds = DATASETS.build(dict(type='HierDataset', data_prefix=root))
        # Tree from the folders, children sorted: A B; C D G; H.
        self.assertEqual(ds.metainfo['classes'],
                         ('A', 'B', 'C', 'D', 'G', 'H'))
        got = {
            osp.relpath(ds.get_data_info(i)['img_path'], root):
            ds.get_data_info(i)['gt_path'].tolist()
            for i in range(len(ds))
        }
        self.assertEqual(
            got, {
                'A/C/H/f0.png': [[0, 2, 5]],
                'A/D/f1.png': [[0, 3, E]],
                'A/C/f2.png': [[0, 2, E]],
                'B/G/f3.png': [[1, 4, E]],
                'B/f4.png': [[1, E, E]]
            })
        # With a given tree the folders are read against it (its indices).
        ds = build(data_prefix=root)
        got = {
            osp.relpath(ds.get_data_info(i)['img_path'], root):
            ds.get_data_info(i)['gt_path'].tolist()
            for i in range(len(ds))
        }
        self.assertEqual(got['A/C/H/f0.png'], [[0, 2, 7]])
        self.assertEqual(got['B/G/f3.png'], [[1, 6, E]])
        self.assertEqual(len(got), 5)

    def test_folder_bad(self):
        with tempfile.TemporaryDirectory() as tmp:
            for rel in ('A/C/ok.png', 'A/Z/bad.png', 'B/C/wrong.png',
                        'root.png'):
                os.makedirs(osp.join(tmp, osp.dirname(rel)), exist_ok=True)
                shutil.copy(osp.join(IMAGES, 'x0.png'), osp.join(tmp, rel))
            with self.assertRaisesRegex(AnnotationError,
                                        r"A/Z/bad.png: unknown label.*'Z'"):
                build(data_prefix=tmp)
            ds = build(data_prefix=tmp, on_error='skip')
            self.assertEqual(len(ds), 1)
            self.assertEqual(len(ds.skipped), 3)
            self.assertRegex(ds.skipped[1], r'B/C/wrong.png: .*not a path in '
                             'the tree')
            self.assertRegex(ds.skipped[2],
                             'root.png: image is not inside a class folder')
            os.remove(osp.join(tmp, 'root.png'))
            shutil.rmtree(osp.join(tmp, 'A'))
            shutil.rmtree(osp.join(tmp, 'B'))
            with self.assertRaisesRegex(AnnotationError, 'no image found'):
                build(data_prefix=tmp)

    # ------------------------------------------------------------ tree
    def test_tree_sources(self):
        ann = osp.join(DATA, 'ann.txt')
        ref = paths(build(ann_file=ann))
        nested = {'A': {'C': ['H'], 'D': {}}, 'B': ['E', 'F', 'G']}
        for kwargs in (dict(tree=ClassTree.load(TREE)), dict(tree=nested),
                       dict(tree=None, metainfo=dict(tree=TREE))):
            self.assertEqual(paths(build(ann_file=ann, **kwargs)), ref)
        with self.assertRaisesRegex(ValueError, 'given more than once'):
            build(ann_file=ann, metainfo=dict(tree=TREE))
        with self.assertRaisesRegex(ValueError, 'no class tree'):
            build(ann_file=ann, tree=None)
        with self.assertRaisesRegex(ValueError, 'do not match the class tree'):
            build(ann_file=ann, classes=['A', 'B'])
        ds = build(ann_file=ann, classes=list('ABCDEFGH'))
        self.assertEqual(len(ds.CLASSES), 8)

    # ------------------------------------------------------------ bad input
    def test_unknown_label(self):
        with self.assertRaisesRegex(
                AnnotationError, r"bad_unknown.txt, line 2: unknown label "
                r"'Z'"):
            build(ann_file=osp.join(DATA, 'bad_unknown.txt'))

    def test_not_a_path(self):
        with self.assertRaisesRegex(
                AnnotationError,
                r"bad_path.txt, line 3: .*not a path in the tree.*A/E"):
            build(ann_file=osp.join(DATA, 'bad_path.txt'))

    def test_malformed_line(self):
        with self.assertRaisesRegex(
                AnnotationError,
                r"bad_malformed.txt, line 2: malformed line 'x1.png'"):
            build(ann_file=osp.join(DATA, 'bad_malformed.txt'))
        with self.assertRaisesRegex(AnnotationError,
                                    r'bad_empty_label.txt, line 2: .*empty'):
            build(ann_file=osp.join(DATA, 'bad_empty_label.txt'))

    def test_skip_counts_and_warns(self):
        logger = MMLogger.get_current_instance()
        with self.assertLogs(logger, 'WARNING') as logs:
            ds = build(
                ann_file=osp.join(DATA, 'bad_path.txt'), on_error='skip')
        self.assertRegex(
            '\n'.join(logs.output), r"bad_path.txt: skipped 1 bad "
            r"annotation\(s\) \(on_error='skip'\):\n.*line 3: .*A/E")
        self.assertEqual(len(ds), 3)
        self.assertEqual(len(ds.skipped), 1)
        self.assertRegex(ds.skipped[0], 'bad_path.txt, line 3')
        self.assertEqual(paths(ds), [[[0, 2, 7]], [[0, 3, E]], [[0, 2, E]]])
        with self.assertRaisesRegex(ValueError, 'on_error must be one of'):
            build(ann_file=osp.join(DATA, 'ann.txt'), on_error='ignore')

    def test_missing_images(self):
        ann = osp.join(DATA, 'bad_missing.txt')
        with self.assertRaisesRegex(
                AnnotationError, r'2 of 4 image files listed in .*'
                r'bad_missing.txt do not exist \(first: line 2: .*nope1.png; '
                r'line 4: .*nope2.png\)'):
            build(ann_file=ann)
        ds = build(ann_file=ann, on_error='skip')
        self.assertEqual(len(ds), 2)
        self.assertEqual(len(ds.skipped), 2)
        self.assertEqual(len(build(ann_file=ann, check_files=False)), 4)

    def test_empty_annotation(self):
        for name in ('empty.txt', 'empty.json'):
            for on_error in ('raise', 'skip'):
                with self.assertRaisesRegex(
                        AnnotationError, f'{name}: the annotation file is '
                        'empty'):
                    build(
                        ann_file=osp.join(DATA, name),
                        tree=None if name.endswith('json') else TREE,
                        on_error=on_error)

    def test_bad_json(self):
        ann = osp.join(DATA, 'bad.json')
        with self.assertRaisesRegex(
                AnnotationError,
                r"bad.json, data_list\[1\]: malformed entry .*missing "
                r"\['gt_label'\]"):
            DATASETS.build(
                dict(type='HierDataset', ann_file=ann, data_prefix=IMAGES))
        ds = DATASETS.build(
            dict(
                type='HierDataset',
                ann_file=ann,
                data_prefix=IMAGES,
                on_error='skip'))
        self.assertEqual(len(ds), 1)
        self.assertEqual(len(ds.skipped), 3)
        self.assertRegex(ds.skipped[1], r"data_list\[2\]: unknown label 'Z'")
        self.assertRegex(ds.skipped[2],
                         r'data_list\[3\]: .*not a path in the tree')
        with self.assertRaisesRegex(AnnotationError,
                                    r'bad_syntax.json, line 4: invalid JSON'):
            build(ann_file=osp.join(DATA, 'bad_syntax.json'))

    def test_everything_skipped(self):
        with tempfile.TemporaryDirectory() as tmp:
            ann = osp.join(tmp, 'a.txt')
            with open(ann, 'w') as f:
                f.write('x0.png Q\n')
            with self.assertRaisesRegex(AnnotationError,
                                        'no valid sample left'):
                build(ann_file=ann, on_error='skip')

    # ------------------------------------------------------------ mmpretrain
    def test_class_balanced_dataset(self):
        # get_cat_ids of ann_full.json: {H, E}, {B}, {C, G}, {C}, so node
        # frequencies H, E, B, G 1/4 and C 1/2. An image repeats ceil(max
        # over its nodes of max(1, sqrt(0.3 / f))) times: 2 when it has a
        # 1/4 node (sqrt(1.2) = 1.10), else 1.
        cfg = dict(
            type='ClassBalancedDataset',
            oversample_thr=0.3,
            dataset=dict(
                type='HierDataset',
                ann_file=osp.join(DATA, 'ann_full.json'),
                data_prefix=IMAGES,
                multi_label=True,
                allow_coarse_only=True))
        # As in configs (default_scope='mmpretrain'): the wrapper then finds
        # HierDataset in mmpretrain's registry.
        with DefaultScope.overwrite_default_scope('mmpretrain'):
            ds = DATASETS.build(cfg)
        self.assertEqual(ds.repeat_indices, [0, 0, 1, 1, 2, 2, 3])

    def test_pipeline_packs_paths(self):
        ds = build(
            ann_file=osp.join(DATA, 'ann_full.json'),
            tree=None,
            multi_label=True,
            allow_coarse_only=True,
            pipeline=[
                dict(type='LoadImageFromFile'),
                dict(type='PackHierInputs')
            ])
        out = ds[2]
        self.assertEqual(tuple(out['inputs'].shape), (3, 4, 4))
        sample = out['data_samples']
        self.assertEqual(sample.gt_path.dtype, torch.long)
        self.assertEqual(sample.gt_path.tolist(), [[0, 2, U], [1, 6, E]])
        self.assertEqual(sample.gt_label.tolist(), [2])

    def test_lazy_init_and_subset(self):
        ds = build(ann_file=osp.join(DATA, 'ann.txt'), lazy_init=True)
        self.assertIsNotNone(ds.metainfo.get('class_tree'))
        ds.full_init()
        sub = ds.get_subset([4, 0])
        self.assertEqual(paths(sub), [[[1, 5, E]], [[0, 2, 7]]])
        self.assertEqual(sub.node_counts().tolist(), [1, 1, 1, 0, 0, 1, 0, 1])
