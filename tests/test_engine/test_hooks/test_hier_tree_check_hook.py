# Copyright (c) mmhier contributors. All rights reserved.
"""HierTreeCheckHook in a Runner: a model whose tree lists two sibling
leaves in another order than the dataset's (or has another depth) stops
training, validation and testing before the first step."""
import os.path as osp
import tempfile
from unittest import TestCase

import torch
from mmengine.config import Config
from mmengine.logging import MMLogger
from mmengine.model import BaseModel
from mmengine.runner import Runner
from mmpretrain.structures import DataSample
from torch.utils.data import Dataset

import mmhier  # noqa: F401
from mmhier.structures import ClassTree, TreeMismatchError

REPO_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.dirname(__file__))))
TREE = {'top': ['T-shirt', 'Pullover', 'Trouser'], 'shoe': ['Sneaker']}
SWAPPED = {'top': ['T-shirt', 'Trouser', 'Pullover'], 'shoe': ['Sneaker']}
DEEPER = {'top': {'T-shirt': ['short', 'long']}, 'shoe': ['Sneaker']}


class ToyDataset(Dataset):

    def __init__(self, tree):
        self.metainfo = dict(class_tree=ClassTree.build(tree))

    def __len__(self):
        return 2

    def __getitem__(self, i):
        return dict(
            inputs=torch.zeros(1),
            data_samples=DataSample().set_gt_label(0))


class TreeModel(BaseModel):
    """A model whose head holds a class tree, as mmhier's heads do."""

    def __init__(self, tree):
        super().__init__()
        self.head = torch.nn.Linear(1, 1)
        self.head.tree = ClassTree.build(tree)

    def forward(self, inputs, data_samples=None, mode='tensor'):
        if mode == 'loss':
            return dict(loss=self.head.weight.sum() * 0)
        return [s.set_pred_label(0) for s in data_samples]


def loader(tree):
    return dict(
        dataset=ToyDataset(tree),
        sampler=dict(type='DefaultSampler', shuffle=False),
        collate_fn=dict(type='pseudo_collate'),
        batch_size=2,
        num_workers=0)


class TestHierTreeCheckHook(TestCase):

    def tearDown(self):
        MMLogger._instance_dict.clear()

    def runner(self, work_dir, model_tree, data_tree):
        return Runner(
            model=TreeModel(model_tree),
            work_dir=work_dir,
            train_dataloader=loader(data_tree),
            train_cfg=dict(by_epoch=True, max_epochs=1),
            optim_wrapper=dict(optimizer=dict(type='SGD', lr=0.1)),
            val_dataloader=loader(data_tree),
            val_cfg=dict(),
            val_evaluator=dict(type='Accuracy'),
            test_dataloader=loader(data_tree),
            test_cfg=dict(),
            test_evaluator=dict(type='Accuracy'),
            default_scope='mmpretrain',
            default_hooks=dict(
                checkpoint=None, tree_check=dict(type='HierTreeCheckHook')),
            env_cfg=dict(dist_cfg=dict(backend='gloo')),
            log_level='ERROR')

    def test_swapped_sibling_leaves_stop_train_val_and_test(self):
        with tempfile.TemporaryDirectory() as tmp:
            for phase in ('train', 'val', 'test'):
                runner = self.runner(tmp, SWAPPED, TREE)
                with self.assertRaisesRegex(
                        TreeMismatchError,
                        r"model\.head\.tree \(first.*and "
                        rf'{phase}_dataloader\.dataset\.tree \(second.*'
                        r"node 3 is 'Trouser' .* but 'Pullover'"):
                    getattr(runner, phase)()
                MMLogger._instance_dict.clear()

    def test_different_depths_stop_training(self):
        with tempfile.TemporaryDirectory() as tmp:
            runner = self.runner(tmp, TREE, DEEPER)
            with self.assertRaisesRegex(TreeMismatchError,
                                        'depth 2.*depth 3'):
                runner.train()

    def test_same_tree_trains(self):
        with tempfile.TemporaryDirectory() as tmp:
            runner = self.runner(tmp, TREE, dict(TREE))
            runner.train()
            self.assertEqual(runner.epoch, 1)

    def test_on_by_default_in_the_base_runtime(self):
        cfg = Config.fromfile(
            osp.join(REPO_ROOT, 'configs', '_base_', 'default_runtime.py'))
        self.assertEqual(cfg.default_hooks.tree_check.type,
                         'HierTreeCheckHook')
        self.assertEqual(cfg.default_hooks.bad_images.type,
                         'HierBadImageHook')
