# Copyright (c) mmhier contributors. All rights reserved.
import importlib.util
import json
import os
import os.path as osp
import tempfile
from unittest import TestCase

import cv2
import numpy as np
import torch
from mmengine.config import Config
from mmengine.logging import MMLogger
from mmengine.registry import init_default_scope
from mmpretrain.registry import DATASETS, MODELS

import mmhier  # noqa: F401 (registers the components)
from mmhier.structures import ClassTree

REPO_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
_spec = importlib.util.spec_from_file_location(
    'pseudo_label_tool', osp.join(REPO_ROOT, 'tools', 'pseudo_label.py'))
tool = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(tool)

# A=0, B=1; C=2, D=3 under A; E=4, F=5, G=6 under B.
TREE = {'A': ['C', 'D'], 'B': ['E', 'F', 'G']}

CONFIG = """
default_scope = 'mmpretrain'
custom_imports = dict(imports=['mmhier'], allow_failed_imports=False)
tree = {tree!r}
model = dict(
    type='ImageClassifier',
    backbone=dict(type='ResNet', depth=18, stem_channels=8, base_channels=8,
                  out_indices=(3, )),
    neck=dict(type='GlobalAveragePooling'),
    head={head!r},
    data_preprocessor=dict(mean=[127.5] * 3, std=[127.5] * 3, to_rgb=True))
train_dataloader = dict(
    batch_size=4, num_workers=0, persistent_workers=False,
    dataset=dict(type='HierDataset', tree=tree, data_root={root!r},
                 ann_file='fine.txt', data_prefix='images',
                 pipeline=[dict(type='LoadImageFromFile'),
                           dict(type='RandomFlip', prob=0.5),
                           dict(type='PackHierInputs')]),
    sampler=dict(type='DefaultSampler', shuffle=True))
test_dataloader = dict(
    batch_size=4, num_workers=0, persistent_workers=False,
    dataset=dict(type='HierDataset', tree=tree, data_root={root!r},
                 ann_file='fine.txt', data_prefix='images',
                 pipeline=[dict(type='LoadImageFromFile'),
                           dict(type='PackHierInputs')]),
    sampler=dict(type='DefaultSampler', shuffle=False))
"""

# the coarse-only part: 3 x 'A/*', 4 x 'B/*', and one complete path
COARSE_LINES = [
    'a0.png A/*', 'a1.png A/*', 'a2.png A/*', 'b0.png B/*', 'b1.png B/*',
    'b2.png B/*', 'b3.png B/*', 'full.png B/F'
]
FINE_LINES = ['f0.png A/C', 'f1.png B/G']


class TestPseudoLabel(TestCase):

    @classmethod
    def setUpClass(cls):
        cls._threads = torch.get_num_threads()
        torch.set_num_threads(1)
        cls.tmp = tempfile.TemporaryDirectory()
        root = cls.root = cls.tmp.name
        rng = np.random.default_rng(0)
        names = [line.split()[0] for line in COARSE_LINES + FINE_LINES]
        os.makedirs(osp.join(root, 'images'))
        for name in names:
            img = rng.integers(0, 255, (16, 16, 3), dtype=np.uint8)
            cv2.imwrite(osp.join(root, 'images', name), img)
        for file, lines in (('coarse.txt', COARSE_LINES), ('fine.txt',
                                                           FINE_LINES)):
            with open(osp.join(root, file), 'w') as f:
                f.write('# image label\n' + '\n'.join(lines) + '\n')
        init_default_scope('mmpretrain')

    @classmethod
    def tearDownClass(cls):
        torch.set_num_threads(cls._threads)
        cls.tmp.cleanup()
        MMLogger._instance_dict.clear()

    def make(self, name, head, bias_node=None):
        """Config + checkpoint of a random model; ``bias_node`` gets a huge
        bias in the head's first classifier, so every unconstrained
        prediction starts with that level-1 node."""
        cfg_file = osp.join(self.root, f'{name}.py')
        with open(cfg_file, 'w') as f:
            f.write(CONFIG.format(tree=TREE, head=head, root=self.root))
        torch.manual_seed(0)
        model = MODELS.build(Config.fromfile(cfg_file).model)
        if bias_node is not None:
            fc = model.head.fc if hasattr(model.head, 'fc') else \
                model.head.fcs[0]
            with torch.no_grad():
                fc.bias[bias_node] = 30.
        ckpt = osp.join(self.root, f'{name}.pth')
        # as a Runner saves it: the dataset's ClassTree in the meta
        meta = dict(dataset_meta=dict(class_tree=ClassTree.build(TREE)))
        torch.save({'state_dict': model.state_dict(), 'meta': meta}, ckpt)
        return cfg_file, ckpt

    def run_tool(self, cfg_file, ckpt, out, *extra):
        return tool.main([
            cfg_file, ckpt, '--ann-file',
            osp.join(self.root, 'coarse.txt'), '--out', out, '--batch-size',
            '3', '--device', 'cpu', *extra
        ])

    def read(self, out):
        with open(out) as f:
            return [line.split() for line in f.read().splitlines()]

    def load(self, out):
        ds = DATASETS.build(
            dict(
                type='HierDataset',
                tree=TREE,
                ann_file=out,
                data_prefix=osp.join(self.root, 'images'),
                allow_coarse_only=True))
        return [
            ds.get_data_info(i)['gt_path'][0].tolist() for i in range(len(ds))
        ]

    def test_conditioned_guo(self):
        # beam decoding, and a bias that makes free predictions start at A
        head = dict(
            type='GuoRNNHead',
            tree=TREE,
            in_channels=64,
            hidden_size=8,
            decoder='beam',
            beam_size=2)
        cfg_file, ckpt = self.make('guo', head, bias_node=0)
        out = osp.join(self.root, 'out_cond.txt')
        summary = osp.join(self.root, 'summary.json')
        stats = self.run_tool(cfg_file, ckpt, out, '--fine-ann',
                              osp.join(self.root, 'fine.txt'),
                              '--summary-json', summary)
        self.assertEqual(stats['total'], 8)
        self.assertEqual(stats['coarse_only'], 7)
        self.assertEqual(stats['complete'], 1)
        # fed the known coarse label, the model always extends it
        self.assertEqual(stats['agree'], 7)
        self.assertEqual(stats['disagree'], 0)
        self.assertEqual(stats['written_pred'], 7)
        self.assertEqual(stats['fine_copied'], 2)
        with open(summary) as f:
            self.assertEqual(json.load(f)['agree'], 7)
        rows = self.read(out)
        self.assertEqual(rows[:2], [line.split() for line in FINE_LINES])
        self.assertEqual([r[0] for r in rows[2:]],
                         [line.split()[0] for line in COARSE_LINES])
        self.assertEqual(rows[-1], ['full.png', 'B/F'])  # copied as it was
        paths = self.load(out)
        self.assertEqual(len(paths), 10)
        for line, path in zip(COARSE_LINES, paths[2:]):
            coarse = 0 if line.split()[1].startswith('A') else 1
            self.assertEqual(path[0], coarse, line)
            self.assertTrue(
                mmhier.structures.ClassTree.build(TREE).is_valid_path(path),
                path)

    def test_free_guo_counts_disagreement(self):
        head = dict(
            type='GuoRNNHead',
            tree=TREE,
            in_channels=64,
            hidden_size=8,
            decoder='beam',
            beam_size=2)
        cfg_file, ckpt = self.make('guo_free', head, bias_node=0)
        out = osp.join(self.root, 'out_free.txt')
        stats = self.run_tool(cfg_file, ckpt, out, '--mode', 'free')
        # every free prediction starts with A: the four B/* images disagree
        self.assertEqual(stats['disagree'], 4)
        self.assertEqual(stats['invalid'], 0)
        self.assertEqual(stats['agree'], 3)
        self.assertEqual(stats['written_coarse'], 4)
        rows = dict(self.read(out))
        for name in ('b0.png', 'b1.png', 'b2.png', 'b3.png'):
            self.assertEqual(rows[name], 'B/*')  # written back coarse-only
        for name in ('a0.png', 'a1.png', 'a2.png'):
            self.assertIn(rows[name], ('A/C', 'A/D'))
        self.assertEqual(len(self.load(out)), 8)
        # skip drops them, pred writes the disagreeing prediction
        stats = self.run_tool(cfg_file, ckpt, out, '--mode', 'free',
                              '--on-disagree', 'skip')
        self.assertEqual(stats['skipped'], 4)
        self.assertEqual(len(self.read(out)), 4)
        stats = self.run_tool(cfg_file, ckpt, out, '--mode', 'free',
                              '--on-disagree', 'pred')
        self.assertEqual(stats['written_pred'], 7)
        rows = dict(self.read(out))
        self.assertIn(rows['b0.png'], ('A/C', 'A/D'))

    def test_greedy_guo_invalid_paths(self):
        # The paper's greedy decoding is not tied to the tree: with one
        # output layer shared by both steps and a huge bias on C, it emits
        # C twice, an invalid path, even when fed the coarse label B.
        head = dict(
            type='GuoRNNHead',
            tree=TREE,
            in_channels=64,
            hidden_size=8,
            decoder='greedy')
        cfg_file, ckpt = self.make('guo_greedy', head, bias_node=2)
        out = osp.join(self.root, 'out_greedy.txt')
        stats = self.run_tool(cfg_file, ckpt, out)
        self.assertEqual(stats['agree'], 3)  # A/* -> A/C
        self.assertEqual(stats['disagree'], 4)  # B/* -> B/C: not a path
        self.assertEqual(stats['invalid'], 4)
        rows = dict(self.read(out))
        self.assertEqual(rows['a0.png'], 'A/C')
        self.assertEqual(rows['b0.png'], 'B/*')

    def test_conditioned_baseline_uses_beams(self):
        head = dict(
            type='HierMultiLevelHead',
            tree=TREE,
            in_channels=64,
            decoder='tree',
            beam_size=5)
        cfg_file, ckpt = self.make('multi', head, bias_node=0)
        out = osp.join(self.root, 'out_multi.txt')
        stats = self.run_tool(cfg_file, ckpt, out)
        # the best path starts with A, but one of the 5 beams extends B
        self.assertEqual(stats['agree'], 7)
        rows = dict(self.read(out))
        self.assertIn(rows['b0.png'], ('B/E', 'B/F', 'B/G'))

    def test_errors(self):
        with self.assertRaisesRegex(ValueError, "mode.*'fast'"):
            tool.pseudo_label(None, None, mode='fast')
        with self.assertRaisesRegex(ValueError, "on_disagree.*'drop'"):
            tool.pseudo_label(None, None, on_disagree='drop')
