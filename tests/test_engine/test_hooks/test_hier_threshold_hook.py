# Copyright (c) mmhier contributors. All rights reserved.
"""HierThresholdHook in a real Runner: a tiny multi-label CNN-S2S trains 3
epochs (validation after epochs 2 and 3), every checkpoint carries the
threshold validated on its own weights, and both ``threshold='from_val'``
testing and ``HierInferencer`` use the tested checkpoint's threshold."""
import importlib.util
import json
import os
import os.path as osp
import shutil
import tempfile
from unittest import TestCase

import numpy as np
import torch
from mmengine.config import Config
from mmengine.logging import MessageHub, MMLogger
from mmengine.runner import Runner
from mmpretrain.registry import HOOKS
from mmpretrain.structures import DataSample
from torch.utils.data import Dataset

from mmhier.apis import HierInferencer
from mmhier.evaluation.functional import RUNTIME_KEY
from mmhier.models.utils import select_label_nodes

HERE = osp.dirname(osp.abspath(__file__))
TESTS = osp.dirname(osp.dirname(HERE))
_spec = importlib.util.spec_from_file_location(
    'tiny_hier_model', osp.join(TESTS, 'test_apis', 'tiny_hier_model.py'))
thm = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(thm)

# leaves of thm.TREE: plant 2, cat 3, car 5, bus 6, puppy 7, hound 8
LABELS = [[3, 5], [7], [8, 2], [6], [3], [5, 7], [2], [8, 6]]


class ToyMultiLabel(Dataset):
    """8 random 32x32 images with one or two label paths each."""

    def __init__(self):
        self.tree = thm.tree()
        self.metainfo = dict(
            classes=tuple(self.tree.names), class_tree=self.tree)
        rng = np.random.default_rng(0)
        self.images = rng.integers(0, 256, (len(LABELS), 3, 32, 32))

    def __len__(self):
        return len(LABELS)

    def __getitem__(self, i):
        pm = torch.as_tensor(self.tree.path_matrix)
        sample = DataSample()
        sample.set_field(pm[LABELS[i]], 'gt_path')
        return dict(
            inputs=torch.as_tensor(self.images[i], dtype=torch.uint8),
            data_samples=sample)


def _loader():
    return dict(
        dataset=ToyMultiLabel(),
        sampler=dict(type='DefaultSampler', shuffle=False),
        collate_fn=dict(type='pseudo_collate'),
        batch_size=4,
        num_workers=0)


def _meta(path):
    return torch.load(path, map_location='cpu')['meta']


class TestHierThresholdHook(TestCase):

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp()
        cfg_file = thm.write_config(osp.join(cls.tmp, 'ml.py'), 'hier')
        with open(cfg_file) as f:
            text = f.read()
        assert 'beam_size=3))' in text
        with open(cfg_file, 'w') as f:
            f.write(
                text.replace('beam_size=3))',
                             'beam_size=3, multi_label=True))'))
        cls.cfg_file = cfg_file
        cls.cfg = Config.fromfile(cfg_file)
        cls.work = osp.join(cls.tmp, 'work')
        cls.file = osp.join(cls.work, 'hier_threshold.json')
        model = cls.cfg.model.to_dict()
        model['data_preprocessor'] = cls.cfg.data_preprocessor.to_dict()
        cls.model_cfg = model
        runner = Runner(
            model=model,
            work_dir=cls.work,
            experiment_name='train',
            train_dataloader=_loader(),
            val_dataloader=_loader(),
            train_cfg=dict(by_epoch=True, max_epochs=3, val_interval=2),
            val_cfg=dict(),
            val_evaluator=dict(
                type='HierMultiLabelMetric',
                threshold='auto',
                threshold_file=cls.file),
            optim_wrapper=dict(optimizer=dict(type='Adam', lr=0.01)),
            default_scope='mmpretrain',
            default_hooks=dict(
                logger=dict(type='LoggerHook', interval=1),
                checkpoint=dict(
                    type='CheckpointHook',
                    interval=1,
                    save_best='hier/path_f1',
                    rule='greater'),
                hier_threshold=dict(type='HierThresholdHook')),
            env_cfg=dict(dist_cfg=dict(backend='gloo')),
            randomness=dict(seed=0),
            log_level='WARNING')
        runner.train()
        cls.leftover = runner.message_hub.get_info(RUNTIME_KEY)
        with open(cls.file) as f:
            cls.history = json.load(f)['history']
        cls.ckpt = {e: osp.join(cls.work, f'epoch_{e}.pth') for e in (1, 2, 3)}
        cls.best = [
            osp.join(cls.work, f) for f in sorted(os.listdir(cls.work))
            if f.startswith('best_')
        ]

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)
        MMLogger._instance_dict.clear()

    def tearDown(self):
        MessageHub.get_current_instance().pop_info(RUNTIME_KEY, None)

    def test_checkpoints_carry_their_own_threshold(self):
        # validations after epochs 2 and 3 (iterations 4 and 6)
        self.assertEqual(len(self.history), 2)
        val2, val3 = (h['threshold'] for h in self.history)
        self.assertNotAlmostEqual(val2, val3)  # else the test proves little
        # epoch 1 was never validated: marked, no threshold
        self.assertEqual(
            _meta(self.ckpt[1])['hier_threshold'],
            dict(validated=False, iter=2))
        # epochs 2 and 3 were saved before their validation, then updated
        for e, want in ((2, val2), (3, val3)):
            meta = _meta(self.ckpt[e])
            entry = meta['hier_threshold']
            self.assertEqual(entry['threshold'], want)
            self.assertEqual(entry['thresholds'], {'hier/threshold': want})
            self.assertEqual(entry['iter'], meta['iter'])
            self.assertEqual(entry['epoch'], e)
            self.assertIn('state_dict', torch.load(self.ckpt[e]))
        # the best checkpoint, saved after its validation
        self.assertEqual(len(self.best), 1)
        best = _meta(self.best[0])
        want = val2 if best['epoch'] == 2 else val3
        self.assertEqual(best['hier_threshold']['threshold'], want)
        # the run leaves nothing behind for later evaluations
        self.assertIsNone(self.leftover)

    def test_inferencer_uses_the_checkpoint_threshold(self):
        val2 = self.history[0]['threshold']
        img = ToyMultiLabel().images[0].transpose(1, 2, 0).astype(np.uint8)
        inferencer = HierInferencer(
            self.cfg_file, pretrained=self.ckpt[2], device='cpu')
        self.assertEqual(inferencer.threshold, val2)
        self.assertEqual(inferencer.model.head.threshold, val2)
        self.assertIn('epoch_2.pth', inferencer.threshold_source)
        pred = inferencer(img, return_datasamples=True)[0]
        # the head selected its paths with the stored threshold
        tree = inferencer.tree
        want = select_label_nodes(pred.pred_score[None], tree, val2,
                                  inferencer.model.head.can_stop('cpu'))[0]
        self.assertTrue(want.any())  # (none would pass the default 0.5)
        got = torch.zeros(tree.num_nodes, dtype=torch.bool)
        for path in pred.pred_paths:
            got[path[path >= 0][-1]] = True
        self.assertTrue(torch.equal(got, want))
        result = inferencer(img)[0]
        self.assertEqual(result['threshold'], val2)
        for entry in result['selected_paths']:
            self.assertGreaterEqual(entry['score'], val2)
        # an explicit threshold wins; a checkpoint never validated falls
        # back to the head's configured 0.5 and says why
        forced = HierInferencer(
            self.cfg_file,
            pretrained=self.ckpt[2],
            device='cpu',
            threshold=0.9)
        self.assertEqual(forced.model.head.threshold, 0.9)
        self.assertEqual(forced.threshold_source, 'the threshold argument')
        early = HierInferencer(
            self.cfg_file, pretrained=self.ckpt[1], device='cpu')
        self.assertEqual(early.threshold, 0.5)
        self.assertIn('never validated', early.threshold_source)

    def test_from_val_tests_with_the_loaded_checkpoint_threshold(self):
        val2, val3 = (h['threshold'] for h in self.history)
        runner = Runner(
            model=self.model_cfg,
            work_dir=self.work,
            experiment_name='test_epoch_2',
            load_from=self.ckpt[2],
            test_dataloader=_loader(),
            test_cfg=dict(),
            test_evaluator=dict(
                type='HierMultiLabelMetric',
                threshold='from_val',
                threshold_file=self.file),
            default_scope='mmpretrain',
            default_hooks=dict(hier_threshold=dict(type='HierThresholdHook')),
            env_cfg=dict(dist_cfg=dict(backend='gloo')),
            log_level='WARNING')
        metrics = runner.test()
        # the file's latest entry is epoch 3's; epoch 2 is tested with its own
        self.assertEqual(metrics['hier/threshold'], val2)
        self.assertNotEqual(metrics['hier/threshold'], val3)
        # and the head's own pred_paths select with it
        self.assertEqual(runner.model.head.threshold, val2)

    def test_key_is_checked(self):
        with self.assertRaisesRegex(ValueError, "got 'hier/path_f1'"):
            HOOKS.build(dict(type='HierThresholdHook', key='hier/path_f1'))
