# Copyright (c) mmhier contributors. All rights reserved.
"""A tiny hierarchical model through the user's tools, on CPU:
tools/train.py (2 epochs) -> tools/train.py --resume (a 3rd epoch) ->
tools/test.py on the last checkpoint, whose meta holds the ClassTree.

Real PNG files, a text annotation file and a general tree (paths of length
1 and 2), a CNN-S2S with the pooling conversion and beam search.
"""
import os
import os.path as osp
import tempfile
from unittest import TestCase

import torch

from mmhier.structures import ClassTree
from test_train_test import (REPO_ROOT, TINY_DIR, _Instances, _log_text,
                             load_file, test_tool, train_tool)

make_tiny_cls = load_file('make_tiny_cls_hier',
                          osp.join(TINY_DIR, 'make_tiny_cls.py'))

# diagonal stripes stand alone; horizontal and vertical ones are 'straight'
TREE = {'straight': ['horizontal', 'vertical'], 'diagonal': None}

CONFIG = """
_base_ = ['{repo}/configs/_base_/default_runtime.py']
tree = {tree!r}
model = dict(
    type='ImageClassifier',
    data_preprocessor=dict(
        num_classes=4, mean=[127.5] * 3, std=[127.5] * 3, to_rgb=True),
    backbone=dict(type='ResNet_CIFAR', depth=18, stem_channels=8,
                  base_channels=8, out_indices=(1, 2, 3)),
    neck=dict(type='HierConversionNeck', in_channels=(16, 32, 64),
              input_size=32, strides=(2, 4, 8), out_channels=64,
              stage_groups=[[0], [1, 2]], conversion='pool'),
    head=dict(type='HierS2SHead', tree=tree, in_channels=64, hidden_size=16,
              beam_size=3))
pipeline = [dict(type='LoadImageFromFile'), dict(type='PackHierInputs')]
train_dataloader = dict(
    batch_size=4, num_workers=0,
    dataset=dict(type='HierDataset', data_root='{data}',
                 ann_file='train.txt', tree=tree, pipeline=pipeline),
    sampler=dict(type='DefaultSampler', shuffle=True))
val_dataloader = dict(
    batch_size=4, num_workers=0,
    dataset=dict(type='HierDataset', data_root='{data}',
                 ann_file='val.txt', tree=tree, pipeline=pipeline),
    sampler=dict(type='DefaultSampler', shuffle=False))
test_dataloader = val_dataloader
val_evaluator = [dict(type='HierAccuracy'), dict(type='MistakeSeverity',
                                                  topk=(1, 3))]
test_evaluator = val_evaluator
optim_wrapper = dict(optimizer=dict(type='Adam', lr=1e-3))
train_cfg = dict(by_epoch=True, max_epochs=2, val_interval=1)
val_cfg = dict()
test_cfg = dict()
default_hooks = dict(logger=dict(interval=1))
"""


class TestHierTrainResumeTest(TestCase):

    @classmethod
    def setUpClass(cls):
        cls._tmp = tempfile.TemporaryDirectory()
        tmp = cls._tmp.name
        data = osp.join(tmp, 'data')
        make_tiny_cls.make_tiny_cls(
            data, train_per_class=4, val_per_class=2, size=32)
        tree = ClassTree.from_dict(TREE)
        for split, per_class in (('train', 4), ('val', 2)):
            lines = []
            for name in make_tiny_cls.CLASSES:
                label = '/'.join(tree.decode(tree.path(name)))
                folder = osp.join(data, split, name)
                for f in sorted(os.listdir(folder)):
                    lines.append(f'{split}/{name}/{f} {label}')
            assert len(lines) == 3 * per_class
            with open(osp.join(data, f'{split}.txt'), 'w') as f:
                f.write('\n'.join(lines) + '\n')
        cls.config = osp.join(tmp, 'tiny_s2s.py')
        with open(cls.config, 'w') as f:
            f.write(CONFIG.format(repo=REPO_ROOT, tree=TREE, data=data))
        cls.work_dir = osp.join(tmp, 'run')

    @classmethod
    def tearDownClass(cls):
        cls._tmp.cleanup()

    def setUp(self):
        self.instances = _Instances()
        self.addCleanup(self.instances.forget_new)
        self.addCleanup(torch.set_num_threads, torch.get_num_threads())
        torch.set_num_threads(1)

    def test_train_resume_test(self):
        runner = train_tool.main([self.config, '--work-dir', self.work_dir])
        self.assertEqual(runner.epoch, 2)
        self.instances.forget_new()

        runner = train_tool.main([
            self.config, '--work-dir', self.work_dir, '--resume',
            '--cfg-options', 'train_cfg.max_epochs=3'
        ])
        self.assertEqual(runner.epoch, 3)
        log = _log_text(runner)
        self.assertIn('resumed epoch: 2', log)
        self.assertNotIn('Epoch(train) [2]', log)
        self.assertIn('Epoch(train) [3]', log)
        self.instances.forget_new()

        ckpt = osp.join(self.work_dir, 'epoch_3.pth')
        # the checkpoint carries the tree, and loads under weights_only
        meta = torch.load(ckpt, map_location='cpu')['meta']
        self.assertEqual(meta['dataset_meta']['class_tree'],
                         ClassTree.from_dict(TREE))
        metrics = test_tool.main([self.config, ckpt, '--work-dir',
                                  self.work_dir])
        for key in ('hier/path_acc', 'hier/node_acc', 'hier/level1_acc',
                    'hier/level2_acc', 'hier/hdist@3'):
            self.assertIn(key, metrics)
        self.assertEqual(metrics['hier/invalid_path_rate'], 0.0)
        self.assertTrue(0 <= metrics['hier/path_acc'] <= 100)
