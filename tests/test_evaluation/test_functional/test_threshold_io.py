# Copyright (c) mmhier contributors. All rights reserved.
import json
import os.path as osp
import tempfile
from unittest import TestCase

from mmengine.config import Config

from mmhier.evaluation.functional import (load_threshold, save_threshold,
                                          set_threshold_files)


class TestThresholdIO(TestCase):

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
                        dict(type='HierMultiLabelMetric', threshold=0.3)
                    ])))
        changed = set_threshold_files(cfg)
        self.assertEqual(len(changed), 3)
        want = osp.join('work_dirs/x', 'hier_threshold.json')
        self.assertEqual(cfg.val_evaluator[0].threshold_file, want)
        self.assertNotIn('threshold_file', cfg.val_evaluator[1])
        metrics = cfg.test_evaluator.metrics
        self.assertEqual([m.get('threshold_file') for m in metrics],
                         [want, want, None, None])
