# Copyright (c) mmhier contributors. All rights reserved.
"""The hierarchical metrics in a Runner's ``val_evaluator``, next to
mmpretrain's own ``Accuracy``, with the tree read from the dataset's
metainfo and the multi-label threshold written to the work_dir."""
import json
import os.path as osp
import tempfile
from unittest import TestCase

import torch
from mmengine.logging import MMLogger
from mmengine.model import BaseModel
from mmengine.runner import Runner
from mmpretrain.structures import DataSample
from torch.utils.data import Dataset

from mmhier.evaluation import set_threshold_files
from mmhier.structures import ClassTree

VARIABLE = {'A': {'C': ['H', 'I'], 'D': None}, 'B': ['E', 'F', 'G']}
GT_NODES = [2, 7, 5, 4]  # C, H, F, E
PRED_NODES = [2, 8, 5, 6]  # flat predictions: right, sibling, right, sibling


class ToyDataset(Dataset):
    metainfo = dict(
        classes=list('ABCDEFGHI'), class_tree=ClassTree.build(VARIABLE))

    def __len__(self):
        return len(GT_NODES)

    def __getitem__(self, i):
        tree = self.metainfo['class_tree']
        sample = DataSample().set_gt_label(GT_NODES[i])
        sample.gt_path = torch.as_tensor(tree.path_matrix[GT_NODES[i]])[None]
        sample.set_metainfo(dict(index=i))
        return dict(inputs=torch.zeros(1), data_samples=sample)


class FlatToyModel(BaseModel):
    """A flat classifier over the 9 nodes whose prediction is fixed."""

    def __init__(self):
        super().__init__()
        self.w = torch.nn.Parameter(torch.zeros(1))

    def forward(self, inputs, data_samples=None, mode='tensor'):
        for s in data_samples:
            score = torch.full((9, ), 0.05)
            score[PRED_NODES[s.index]] = 0.9
            s.set_pred_score(score).set_pred_label(PRED_NODES[s.index])
        return data_samples


class TestRunnerIntegration(TestCase):

    def tearDown(self):
        MMLogger._instance_dict.clear()

    def test_val_evaluator(self):
        with tempfile.TemporaryDirectory() as tmp:
            cfg = dict(
                val_evaluator=[
                    dict(type='Accuracy'),
                    dict(type='HierAccuracy'),
                    dict(type='MistakeSeverity'),
                    dict(type='HierMultiLabelMetric', threshold='auto'),
                ],
                work_dir=tmp)
            set_threshold_files(cfg)
            runner = Runner(
                model=FlatToyModel(),
                work_dir=tmp,
                val_dataloader=dict(
                    dataset=ToyDataset(),
                    sampler=dict(type='DefaultSampler', shuffle=False),
                    collate_fn=dict(type='pseudo_collate'),
                    batch_size=2,
                    num_workers=0),
                val_cfg=dict(),
                val_evaluator=cfg['val_evaluator'],
                default_scope='mmpretrain',
                default_hooks=dict(logger=dict(type='LoggerHook')),
                env_cfg=dict(dist_cfg=dict(backend='gloo')),
                log_level='WARNING')
            metrics = runner.val()
            with open(osp.join(tmp, 'hier_threshold.json')) as f:
                stored = json.load(f)
        self.assertEqual(metrics['accuracy/top1'], 50.0)
        self.assertEqual(metrics['hier/path_acc'], 50.0)
        # C and F right; A/C/I for A/C/H keeps 2 of 3, B/G for B/E 1 of 2
        self.assertAlmostEqual(metrics['hier/node_acc'], 100 * 7 / 9)
        self.assertEqual(metrics['hier/mistake_severity'], 1.0)
        self.assertEqual(stored['threshold'], metrics['hier/threshold'])
