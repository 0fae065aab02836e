# Copyright (c) mmhier contributors. All rights reserved.
"""A real 0-byte PNG listed in a real annotation file: the error names the
file, the annotation line, the sample and the split; ``on_error='skip'``
skips, counts and logs it, through the dataset and through the Runner."""
import os.path as osp
import tempfile
from unittest import TestCase, mock

import cv2
import numpy as np
import torch
from mmengine.logging import MMLogger
from mmengine.model import BaseModel
from mmengine.runner import Runner
from mmpretrain.registry import DATASETS
from torch.utils.data import DataLoader

import mmhier  # noqa: F401
from mmhier.datasets import ImageReadError, TooManyBadImagesError

TREE = {'A': ['x', 'y'], 'B': ['z']}
LEAVES = ['x', 'y', 'z']
PIPELINE = [dict(type='LoadImageFromFile'), dict(type='PackHierInputs')]
NUM_GOOD = 9
BAD_LINE = 6  # line 1 is a comment; sample 4 is the empty file


def make_data(root):
    """Nine 8x8 PNGs and one 0-byte PNG, listed in ``train.txt``."""
    lines = ['# image label']
    for i in range(NUM_GOOD):
        name = f'img_{i}.png'
        cv2.imwrite(osp.join(root, name), np.full((8, 8, 3), i, np.uint8))
        lines.append(f'{name} {LEAVES[i % 3]}')
    open(osp.join(root, 'empty.png'), 'wb').close()
    lines.insert(BAD_LINE - 1, 'empty.png y')
    ann = osp.join(root, 'train.txt')
    with open(ann, 'w') as f:
        f.write('\n'.join(lines) + '\n')
    return ann


def dataset_cfg(root, ann, **kwargs):
    cfg = dict(
        type='HierDataset',
        ann_file=ann,
        tree=TREE,
        data_prefix=root,
        pipeline=PIPELINE)
    cfg.update(kwargs)
    return cfg


class ToyModel(BaseModel):
    """Reads nothing but the batch size; one parameter to train."""

    def __init__(self):
        super().__init__()
        self.w = torch.nn.Parameter(torch.zeros(1))

    def forward(self, inputs, data_samples=None, mode='tensor'):
        if mode == 'loss':
            return dict(loss=(self.w - 1).pow(2).sum() * len(inputs))
        return data_samples


class TestUnreadableImages(TestCase):

    @classmethod
    def setUpClass(cls):
        cls._tmp = tempfile.TemporaryDirectory()
        cls.root = cls._tmp.name
        cls.ann = make_data(cls.root)

    @classmethod
    def tearDownClass(cls):
        cls._tmp.cleanup()

    def tearDown(self):
        MMLogger._instance_dict.clear()

    def build(self, **kwargs):
        return DATASETS.build(dataset_cfg(self.root, self.ann, **kwargs))

    def bad_index(self, ds):
        names = [
            osp.basename(ds.get_data_info(i)['img_path'])
            for i in range(len(ds))
        ]
        return names.index('empty.png')

    def test_error_names_file_line_sample_split(self):
        ds = self.build(split='train')
        bad = self.bad_index(ds)
        with self.assertRaises(ImageReadError) as cm:
            ds[bad]
        msg = str(cm.exception)
        for part in ('train split', 'empty.png', self.ann,
                     f'line {BAD_LINE}', f'sample {bad}', '0 bytes'):
            self.assertIn(part, msg)
        self.assertNotIsInstance(cm.exception, TooManyBadImagesError)
        # the good samples load
        self.assertEqual(ds[0]['inputs'].shape, (3, 8, 8))

    def test_skip_replaces_counts_and_logs_once(self):
        ds = self.build(on_error='skip', max_bad_share=0.2)
        bad = self.bad_index(ds)
        with mock.patch('mmhier.datasets.image_errors.print_log') as log:
            first = ds[bad]
            again = ds[bad]
        # replaced by the next sample, the same both times
        expected = ds[bad + 1]['data_samples'].img_path
        self.assertEqual(first['data_samples'].img_path, expected)
        self.assertEqual(again['data_samples'].img_path, expected)
        self.assertEqual(ds.bad_images.bad_indices(), [bad])
        self.assertEqual(log.call_count, 1)  # logged once
        self.assertIn(f'line {BAD_LINE}', log.call_args[0][0])

    def test_too_many_bad_images_stop_with_the_list(self):
        ds = self.build(on_error='skip')  # default: at most 1% bad
        with self.assertRaisesRegex(TooManyBadImagesError,
                                    r'1 of 10 images[\s\S]*empty\.png'):
            ds[self.bad_index(ds)]

    def test_worker_processes_share_the_record(self):
        ds = self.build(on_error='skip', max_bad_share=0.2)
        loader = DataLoader(
            ds, batch_size=5, num_workers=1, collate_fn=lambda b: len(b))
        self.assertEqual(sum(loader), len(ds))  # nothing dropped
        self.assertEqual(ds.bad_images.bad_indices(), [self.bad_index(ds)])

    def test_other_pipeline_errors_name_the_sample(self):

        def broken(results):
            raise KeyError('no such key')

        ds = self.build(pipeline=[dict(type='LoadImageFromFile'), broken])
        with self.assertRaises(KeyError) as cm:
            ds[0]
        self.assertIn('img_0.png (sample 0',
                      ''.join(getattr(cm.exception, '__notes__', [])))

    def test_runner_skips_and_sums_up_every_epoch(self):
        with tempfile.TemporaryDirectory() as work_dir:
            runner = Runner(
                model=ToyModel(),
                work_dir=work_dir,
                train_dataloader=dict(
                    dataset=dataset_cfg(
                        self.root, self.ann, on_error='skip',
                        max_bad_share=0.2),
                    sampler=dict(type='DefaultSampler', shuffle=False),
                    batch_size=5,
                    num_workers=0),
                train_cfg=dict(by_epoch=True, max_epochs=2),
                optim_wrapper=dict(optimizer=dict(type='SGD', lr=0.1)),
                default_scope='mmpretrain',
                default_hooks=dict(
                    logger=dict(type='LoggerHook', interval=1),
                    checkpoint=None,
                    bad_images=dict(type='HierBadImageHook')),
                env_cfg=dict(dist_cfg=dict(backend='gloo')),
                log_level='WARNING')
            runner.train()
            with open(
                    osp.join(runner.log_dir,
                             f'{runner.timestamp}.log')) as f:
                log = f.read()
        self.assertEqual(log.count('empty.png (sample 4'), 3, log)
        self.assertEqual(log.count("skipped (on_error='skip')"), 0)
        self.assertEqual(log.count("(skipped: on_error='skip')"), 1)
        self.assertEqual(log.count('1 of 10 samples skipped so far'), 2)
        self.assertIn('after train epoch 2', log)
        self.assertIn('train split', log)

    def test_runner_stops_with_the_list(self):
        with tempfile.TemporaryDirectory() as work_dir:
            runner = Runner(
                model=ToyModel(),
                work_dir=work_dir,
                train_dataloader=dict(
                    dataset=dataset_cfg(self.root, self.ann, on_error='skip'),
                    sampler=dict(type='DefaultSampler', shuffle=False),
                    batch_size=5,
                    num_workers=0),
                train_cfg=dict(by_epoch=True, max_epochs=1),
                optim_wrapper=dict(optimizer=dict(type='SGD', lr=0.1)),
                default_scope='mmpretrain',
                default_hooks=dict(
                    checkpoint=None,
                    bad_images=dict(type='HierBadImageHook')),
                env_cfg=dict(dist_cfg=dict(backend='gloo')),
                log_level='ERROR')
            with self.assertRaisesRegex(
                    TooManyBadImagesError,
                    r'train split: 1 of 10 images cannot be read[\s\S]*'
                    r'empty\.png \(sample 4, .*train\.txt, line 6\)'):
                runner.train()
