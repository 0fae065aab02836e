# Copyright (c) mmhier contributors. All rights reserved.
"""tools/train.py -> --resume (copied work_dir) -> tools/test.py, in-process.

The tools are loaded from their files and run through ``main(argv)`` in this
process (no second start-up of torch and mmpretrain); the distributed
scripts run in subprocesses in test_dist_train.py.
"""
import importlib
import importlib.util
import json
import os
import os.path as osp
import shutil
import tempfile
import time
from unittest import TestCase, mock

import torch
from mmengine.config import Config
from mmengine.logging import MessageHub, MMLogger
from mmengine.registry import DefaultScope
from mmengine.visualization import Visualizer

REPO_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
TINY_DIR = osp.join(REPO_ROOT, 'tests', 'data', 'tiny_cls')
CONFIG = osp.join(TINY_DIR, 'resnet18-w8_1xb4_tiny-cls.py')


def load_file(name, path):
    """Import a file that is not in a package (a tool, a test helper)."""
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


train_tool = load_file('mmhier_tools_train',
                       osp.join(REPO_ROOT, 'tools', 'train.py'))
test_tool = load_file('mmhier_tools_test',
                      osp.join(REPO_ROOT, 'tools', 'test.py'))
make_tiny_cls = load_file('make_tiny_cls',
                          osp.join(TINY_DIR, 'make_tiny_cls.py'))


class _Instances:
    """Forget the mmengine singletons that a run created.

    Runner names them after the config and the second it started, so two
    runs in the same second would share a logger (and its log file).
    """

    @staticmethod
    def _classes():
        # each ManagerMixin class keeps its own instances
        return (MMLogger, MessageHub, DefaultScope, Visualizer,
                *Visualizer.__subclasses__())

    def __init__(self):
        self.before = {c: set(c._instance_dict) for c in self._classes()}

    def forget_new(self):
        for cls in self._classes():
            for name in set(cls._instance_dict) - self.before.get(cls, set()):
                cls._instance_dict.pop(name)


class _FrozenClock:
    """``time`` as mmengine's runner module sees it: every run built while
    it is in place starts in the same second (the case that once made this
    test flaky, now on every run)."""

    def __init__(self):
        self.now = time.time()

    def time(self):
        return self.now

    def __getattr__(self, name):
        return getattr(time, name)


def _log_text(runner):
    with open(osp.join(runner.log_dir, f'{runner.timestamp}.log')) as f:
        return f.read()


class TestTrainResumeTest(TestCase):

    @classmethod
    def setUpClass(cls):
        cls._tmp = tempfile.TemporaryDirectory()
        cls.tmp = cls._tmp.name
        cls.data = osp.join(cls.tmp, 'data')
        make_tiny_cls.make_tiny_cls(
            cls.data, train_per_class=4, val_per_class=2, size=32)

    @classmethod
    def tearDownClass(cls):
        cls._tmp.cleanup()

    def setUp(self):
        self.instances = _Instances()
        env = mock.patch.dict(os.environ, {'TINY_CLS_ROOT': self.data})
        env.start()
        self.addCleanup(env.stop)
        # a tiny model gains nothing from threads on a shared 2-core machine
        self.addCleanup(torch.set_num_threads, torch.get_num_threads())
        torch.set_num_threads(1)

    def tearDown(self):
        self.instances.forget_new()

    def _train(self, *argv):
        runner = train_tool.main([CONFIG, *argv])
        self.instances.forget_new()
        return runner

    def test_train_resume_copied_work_dir_then_test(self):
        # all three runs start in the same second: each still gets its own
        # log folder, so the resumed run's log holds only its own lines
        clock = mock.patch.object(
            importlib.import_module('mmengine.runner.runner'), 'time',
            _FrozenClock())
        clock.start()
        self.addCleanup(clock.stop)
        work_dir = osp.join(self.tmp, 'run')
        runner = self._train('--work-dir', work_dir, '--amp', '--cfg-options',
                             'train_cfg.max_epochs=1')
        expected = ('AmpOptimWrapper'
                    if torch.cuda.is_available() else 'CPUBf16OptimWrapper')
        self.assertEqual(type(runner.optim_wrapper).__name__, expected)
        self.assertEqual(runner.epoch, 1)
        self.assertTrue(osp.isfile(osp.join(work_dir, 'epoch_1.pth')))
        first_run = runner.timestamp

        # a copy of the work_dir resumes from its own checkpoint, although
        # its last_checkpoint file names the original run's
        copy = osp.join(self.tmp, 'copy')
        shutil.copytree(work_dir, copy)
        with open(osp.join(copy, 'last_checkpoint')) as f:
            self.assertEqual(f.read(), osp.join(work_dir, 'epoch_1.pth'))
        runner = self._train('--work-dir', copy, '--resume', '--cfg-options',
                             'train_cfg.max_epochs=2')
        self.assertEqual(runner.epoch, 2)
        log = _log_text(runner)
        self.assertIn(f'Load checkpoint from {copy}/epoch_1.pth', log)
        self.assertIn('resumed epoch: 1', log)
        self.assertNotIn('Epoch(train) [1]', log)
        self.assertIn('Epoch(train) [2]', log)
        # the same second, but another name and log folder
        self.assertTrue(runner.timestamp.startswith(first_run[:15]))
        self.assertNotEqual(runner.timestamp, first_run)
        self.assertTrue(osp.isfile(osp.join(copy, 'epoch_2.pth')))
        self.assertFalse(osp.exists(osp.join(work_dir, 'epoch_2.pth')))

        out = osp.join(self.tmp, 'metrics.json')
        metrics = test_tool.main([
            CONFIG,
            osp.join(copy, 'epoch_2.pth'), '--work-dir', copy, '--out', out,
            '--out-item', 'metrics'
        ])
        self.instances.forget_new()
        self.assertIn('accuracy/top1', metrics)
        self.assertTrue(0 <= metrics['accuracy/top1'] <= 100)
        with open(out) as f:
            self.assertEqual(
                json.load(f)['accuracy/top1'], float(metrics['accuracy/top1']))


class TestMergeArgs(TestCase):

    def setUp(self):
        self.instances = _Instances()

    def tearDown(self):
        self.instances.forget_new()

    def _cfg(self, *argv):
        args = train_tool.parse_args([CONFIG, *argv])
        return train_tool.merge_args(Config.fromfile(CONFIG), args)

    def test_amp_picks_the_wrapper_by_device(self):
        with mock.patch.object(torch.cuda, 'is_available', return_value=False):
            cfg = self._cfg('--amp')
        self.assertEqual(cfg.optim_wrapper.type, 'CPUBf16OptimWrapper')
        self.assertNotIn('loss_scale', cfg.optim_wrapper)
        with mock.patch.object(torch.cuda, 'is_available', return_value=True):
            cfg = self._cfg('--amp')
        self.assertEqual(cfg.optim_wrapper.type, 'AmpOptimWrapper')
        self.assertEqual(cfg.optim_wrapper.loss_scale, 'dynamic')
        self.assertNotIn('type', self._cfg().optim_wrapper)

    def test_persistent_workers_need_workers(self):
        cfg = self._cfg('--cfg-options',
                        'train_dataloader.persistent_workers=True',
                        'val_dataloader.num_workers=2')
        self.assertIs(cfg.train_dataloader.persistent_workers, False)
        self.assertIs(cfg.test_dataloader.persistent_workers, False)
        # with workers, mmpretrain's default (True) stays
        cfg = self._cfg('--cfg-options', 'val_dataloader.num_workers=2',
                        'val_dataloader.persistent_workers=True')
        self.assertIs(cfg.val_dataloader.persistent_workers, True)

    def test_other_flags(self):
        cfg = self._cfg('--no-validate', '--work-dir', 'wd', '--resume',
                        'some.pth', '--launcher', 'pytorch')
        self.assertIsNone(cfg.val_cfg)
        self.assertIsNone(cfg.val_dataloader)
        self.assertEqual((cfg.work_dir, cfg.launcher), ('wd', 'pytorch'))
        self.assertEqual((cfg.resume, cfg.load_from), (True, 'some.pth'))
        self.assertTrue(self._cfg('--auto-scale-lr').auto_scale_lr.enable)
        args = train_tool.parse_args([CONFIG, '--auto-scale-lr'])
        cfg = Config.fromfile(CONFIG)
        cfg.auto_scale_lr = None
        with self.assertRaisesRegex(ValueError, 'auto_scale_lr.*tiny-cls'):
            train_tool.merge_args(cfg, args)
        args = test_tool.parse_args(
            [CONFIG, 'x.pth', '--cfg-options', 'test_dataloader.batch_size=2'])
        cfg = test_tool.merge_args(Config.fromfile(CONFIG), args)
        self.assertEqual(cfg.load_from, 'x.pth')
        self.assertEqual(cfg.test_dataloader.batch_size, 2)
        self.assertIs(cfg.test_dataloader.persistent_workers, False)


class TestFindResumeCheckpoint(TestCase):

    def setUp(self):
        self._tmp = tempfile.TemporaryDirectory()
        self.addCleanup(self._tmp.cleanup)
        self.wd = osp.join(self._tmp.name, 'wd')
        os.makedirs(self.wd)

    def _touch(self, *parts):
        path = osp.join(*parts)
        os.makedirs(osp.dirname(path), exist_ok=True)
        open(path, 'w').close()
        return path

    def _record(self, path):
        with open(osp.join(self.wd, 'last_checkpoint'), 'w') as f:
            f.write(path)

    def test_nothing_to_resume(self):
        path, message = train_tool.find_resume_checkpoint(self.wd)
        self.assertIsNone(path)
        self.assertIn('no checkpoint found', message)

    def test_newest_by_number_without_record(self):
        for name in ('epoch_2.pth', 'epoch_10.pth', 'best.pth'):
            self._touch(self.wd, name)
        path, _ = train_tool.find_resume_checkpoint(self.wd)
        self.assertEqual(path, osp.join(self.wd, 'epoch_10.pth'))

    def test_record_inside_is_followed(self):
        inside = self._touch(self.wd, 'epoch_2.pth')
        self._touch(self.wd, 'epoch_3.pth')
        self._record(inside)
        self.assertEqual(train_tool.find_resume_checkpoint(self.wd)[0], inside)

    def test_copied_work_dir_uses_its_own_file(self):
        original = self._touch(self._tmp.name, 'orig', 'epoch_3.pth')
        local = self._touch(self.wd, 'epoch_3.pth')
        self._record(original)
        path, message = train_tool.find_resume_checkpoint(self.wd)
        self.assertEqual(path, local)
        self.assertIn('outside the work_dir', message)

    def test_record_elsewhere_only_with_a_warning(self):
        elsewhere = self._touch(self._tmp.name, 'out_dir', 'epoch_3.pth')
        self._record(elsewhere)
        path, message = train_tool.find_resume_checkpoint(self.wd)
        self.assertEqual(path, elsewhere)
        self.assertIn('WARNING', message)
