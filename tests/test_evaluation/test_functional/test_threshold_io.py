# Copyright (c) mmhier contributors. All rights reserved.
import json
import os.path as osp
import tempfile
from unittest import TestCase

from mmengine.config import Config
from mmengine.logging import MessageHub, MMLogger

from mmhier.evaluation.functional import (RUNTIME_KEY, find_val_threshold,
                                          load_threshold, resolve_threshold,
                                          save_threshold, set_threshold_files,
                                          threshold_file_name)


class TestThresholdIO(TestCase):

    def tearDown(self):
        MessageHub.get_current_instance().pop_info(RUNTIME_KEY, None)
        MMLogger._instance_dict.clear()

    def test_the_tested_checkpoint_comes_first(self):
        hub = MessageHub.get_current_instance()
        with tempfile.TemporaryDirectory() as tmp:
            file = osp.join(tmp, 'hier_threshold.json')
            save_threshold(file, 0.3, node_threshold=0.2, epoch=1)
            save_threshold(file, 0.6, node_threshold=0.7, epoch=5)
            # nothing loaded: the latest validation entry
            value, source = find_val_threshold(file)
            self.assertEqual(value, 0.6)
            self.assertIn('latest entry', source)
            self.assertEqual(
                find_val_threshold(file, 'x/node_threshold')[0], 0.7)
            # a checkpoint with its own thresholds (HierThresholdHook)
            entry = dict(
                threshold=0.3,
                thresholds={
                    'hier/threshold': 0.3,
                    'a/node_threshold': 0.2
                },
                epoch=1,
                iter=4)
            hub.update_info(
                RUNTIME_KEY,
                dict(checkpoint='epoch_1.pth', entry=entry),
                resumed=False)
            value, source = find_val_threshold(file)
            self.assertEqual(value, 0.3)
            self.assertIn('epoch_1.pth', source)
            self.assertEqual(resolve_threshold('from_val', file), 0.3)
            self.assertEqual(
                find_val_threshold(None, 'a/node_threshold')[0], 0.2)
            # a checkpoint saved before its weights were validated
            hub.update_info(
                RUNTIME_KEY,
                dict(
                    checkpoint='epoch_2.pth',
                    entry=dict(validated=False, iter=8)),
                resumed=False)
            value, source = find_val_threshold(file)
            self.assertEqual(value, 0.6)
            with self.assertRaisesRegex(ValueError,
                                        'epoch_2.pth stores no validated'):
                find_val_threshold(None)

    def test_threshold_file_name(self):
        self.assertEqual(threshold_file_name(), 'hier_threshold.json')
        self.assertEqual(threshold_file_name('hier'), 'hier_threshold.json')
        self.assertEqual(
            threshold_file_name('hier_authors'), 'hier_authors_threshold.json')

    def test_save_load_and_history(self):
        with tempfile.TemporaryDirectory() as tmp:
            file = osp.join(tmp, 'sub', 'thr.json')
            with self.assertRaisesRegex(FileNotFoundError, 'thr.json'):
                load_threshold(file)
            save_threshold(file, 0.25, epoch=1)
            save_threshold(file, 0.4, epoch=2)
            self.assertEqual(load_threshold(file), 0.4)
            with open(file) as f:
                data = json.load(f)
            self.assertEqual([h['epoch'] for h in data['history']], [1, 2])
            with open(file, 'w') as f:
                json.dump({'thr': 1}, f)
            with self.assertRaisesRegex(ValueError, 'no numeric'):
                load_threshold(file)

    def test_set_threshold_files(self):
        cfg = Config(
            dict(
                work_dir='work_dirs/x',
                val_evaluator=[
                    dict(type='HierMultiLabelMetric'),
                    dict(type='Accuracy')
                ],
                test_evaluator=dict(
                    type='Evaluator',
                    metrics=[
                        dict(
                            type='HierMultiLabelMetric', threshold='from_val'),
                        dict(type='HierF1', threshold='from_val'),
                        dict(type='HierF1'),
                        dict(type='HierMultiLabelMetric', threshold=0.3),
                        dict(
                            type='HierMultiLabelMetric',
                            threshold='from_val',
                            prefix='hier_authors')
                    ])))
        changed = set_threshold_files(cfg)
        self.assertEqual(len(changed), 4)
        want = osp.join('work_dirs/x', 'hier_threshold.json')
        self.assertEqual(cfg.val_evaluator[0].threshold_file, want)
        self.assertNotIn('threshold_file', cfg.val_evaluator[1])
        metrics = cfg.test_evaluator.metrics
        self.assertEqual([m.get('threshold_file') for m in metrics], [
            want, want, None, None,
            osp.join('work_dirs/x', 'hier_authors_threshold.json')
        ])
