# Copyright (c) mmhier contributors. All rights reserved.
"""mmengine's ``compile`` config key on a tiny DHNN model: the Runner wraps
``model.train_step`` in ``torch.compile`` (here the ``eager`` backend, CPU)
and one epoch on fake data trains and validates."""
import tempfile
from unittest import TestCase

import torch
from mmengine.logging import MMLogger
from mmengine.runner import Runner
from mmpretrain.structures import DataSample
from torch.utils.data import Dataset

import mmhier  # noqa: F401 (registers the components)
from mmhier.structures import ClassTree

TREE = {'A': {'C': ['H', 'I'], 'D': None}, 'B': ['E', 'F']}
LEAVES = [3, 4, 5, 6, 7]  # D, E, F, H, I


class FakeImages(Dataset):
    """4 random 32 px images labelled with leaves of ``TREE``."""
    metainfo = dict(classes=list('ABCDEFHI'), class_tree=ClassTree.build(TREE))

    def __len__(self):
        return 4

    def __getitem__(self, i):
        g = torch.Generator().manual_seed(i)
        tree = self.metainfo['class_tree']
        leaf = LEAVES[i % len(LEAVES)]
        sample = DataSample().set_gt_label(leaf)
        sample.gt_path = torch.as_tensor(tree.path_matrix[leaf])[None]
        return dict(
            inputs=torch.randint(0, 256, (3, 32, 32), generator=g,
                                 dtype=torch.uint8),
            data_samples=sample)


def model_cfg():
    return dict(
        type='ImageClassifier',
        data_preprocessor=dict(
            type='HierDataPreprocessor',
            mean=[127.5] * 3,
            std=[50.] * 3),
        backbone=dict(
            type='ResNet_CIFAR',
            depth=18,
            stem_channels=4,
            base_channels=4,
            out_indices=(0, 1, 2, 3)),
        neck=dict(
            type='HierConversionNeck',
            in_channels=[4, 8, 16, 32],
            input_size=32,
            strides=(1, 2, 4, 8),
            out_channels=8,
            stage_groups='deep_to_coarse',
            num_steps=3,
            conversion='linear'),
        head=dict(
            type='HierS2SHead', tree=TREE, in_channels=8, hidden_size=8))


class TestCompileConfigKey(TestCase):

    def tearDown(self):
        torch._dynamo.reset()
        MMLogger._instance_dict.clear()

    def test_one_epoch_with_compile(self):
        loader = dict(
            dataset=FakeImages(),
            sampler=dict(type='DefaultSampler', shuffle=False),
            collate_fn=dict(type='default_collate'),
            batch_size=2,
            num_workers=0)
        with tempfile.TemporaryDirectory() as tmp:
            runner = Runner(
                model=model_cfg(),
                work_dir=tmp,
                train_dataloader=loader,
                train_cfg=dict(by_epoch=True, max_epochs=1),
                optim_wrapper=dict(
                    optimizer=dict(type='SGD', lr=0.01, momentum=0.9)),
                val_dataloader=loader,
                val_cfg=dict(),
                val_evaluator=dict(type='HierAccuracy'),
                default_hooks=dict(
                    checkpoint=dict(type='CheckpointHook', interval=0)),
                default_scope='mmpretrain',
                log_level='WARNING',
                # what a config's `compile = dict(backend='eager')` gives
                cfg=dict(compile=dict(backend='eager')))
            runner.train()
            # the Runner replaced train_step by its compiled wrapper
            self.assertIsNot(
                getattr(runner.model.train_step, '__func__', None),
                type(runner.model).train_step)
            loss = runner.message_hub.get_scalar('train/loss').current()
            self.assertTrue(torch.isfinite(torch.as_tensor(loss)))
            metrics = runner.val_loop.run()
            self.assertTrue(all(0 <= v <= 100 for v in metrics.values()))
