# Copyright (c) mmhier contributors. All rights reserved.
"""SIGKILL a training run in the middle of an epoch, resume it with
``tools/train.py --resume``, and get the weights of an uninterrupted run,
bit for bit (CPU, ``randomness=dict(seed=0, deterministic=True)``).

Real subprocesses: one process through ``tools/train.py``, and two-process
CPU DDP (gloo) through ``tools/dist_train.sh`` (torchrun), whose whole
process group is killed. The alternating freeze hook flips every epoch
(period=1), so the run is killed in the CNN phase of epoch 1 and the resumed
run replays that epoch from its start (mmengine resumes from the last saved
checkpoint, epoch_1.pth) in the same phase.

The training consumes random numbers, as real runs do: RandomFlip draws
from numpy, scheduled sampling in HierS2SHead from torch. The resumed run
starts from a fresh process whose global RNGs are not where the killed run
left them, so without ``HierEpochSeedHook`` (which reseeds them from
(seed, epoch) before every epoch) the weights differ.
"""
import os
import os.path as osp
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import unittest
from unittest import TestCase

import torch

from mmhier.structures import ClassTree
from test_train_test import (REPO_ROOT, TINY_DIR, _Instances, load_file,
                             train_tool)

make_tiny_cls = load_file('make_tiny_cls_crash',
                          osp.join(TINY_DIR, 'make_tiny_cls.py'))
HERE = osp.dirname(osp.abspath(__file__))

TREE = {'straight': ['horizontal', 'vertical'], 'diagonal': None}
MAX_EPOCHS = 3

CONFIG = """
_base_ = ['{repo}/configs/_base_/default_runtime.py']
custom_imports = dict(imports=['mmhier', 'crash_pause_hook'],
                      allow_failed_imports=False)
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
              beam_size=2, decoder_input='embedding',
              scheduled_sampling=0.5))
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='PackHierInputs')]
pipeline = [dict(type='LoadImageFromFile'), dict(type='PackHierInputs')]
train_dataloader = dict(
    batch_size=2, num_workers=0, persistent_workers=False,
    dataset=dict(type='HierDataset', data_root='{data}',
                 ann_file='train.txt', tree=tree, pipeline=train_pipeline),
    sampler=dict(type='DefaultSampler', shuffle=True))
val_dataloader = dict(
    batch_size=4, num_workers=0, persistent_workers=False,
    dataset=dict(type='HierDataset', data_root='{data}',
                 ann_file='val.txt', tree=tree, pipeline=pipeline),
    sampler=dict(type='DefaultSampler', shuffle=False))
test_dataloader = val_dataloader
val_evaluator = dict(type='HierAccuracy')
test_evaluator = val_evaluator
optim_wrapper = dict(
    optimizer=dict(type='SGD', lr=0.05, momentum=0.9, weight_decay=1e-4))
param_scheduler = dict(type='MultiStepLR', by_epoch=True, milestones=[2])
train_cfg = dict(by_epoch=True, max_epochs={max_epochs}, val_interval=1)
val_cfg = dict()
test_cfg = dict()
model_wrapper_cfg = dict(type='MMDistributedDataParallel',
                         find_unused_parameters=True)
default_hooks = dict(logger=dict(interval=1),
                     checkpoint=dict(interval=1, max_keep_ckpts=-1),
                     {seed_hook})
custom_hooks = [
    dict(type='AlternatingFreezeHook', period=1),
    dict(type='CrashTestPauseHook'),
]
randomness = dict(seed=0, deterministic=True)
"""

# the base runtime has HierEpochSeedHook (epoch_seed); the control run
# switches it off
SEED_HOOK = "epoch_seed=dict(type='HierEpochSeedHook')"


def _free_port():
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def _write_data(data):
    make_tiny_cls.make_tiny_cls(
        data, train_per_class=4, val_per_class=1, size=32)
    tree = ClassTree.from_dict(TREE)
    for split in ('train', 'val'):
        lines = []
        for name in make_tiny_cls.CLASSES:
            label = '/'.join(tree.decode(tree.path(name)))
            folder = osp.join(data, split, name)
            for f in sorted(os.listdir(folder)):
                lines.append(f'{split}/{name}/{f} {label}')
        with open(osp.join(data, f'{split}.txt'), 'w') as f:
            f.write('\n'.join(lines) + '\n')


def _skip_without_torchrun():
    import torch.distributed as dist
    reason = None
    if not dist.is_available() or not dist.is_gloo_available():
        reason = 'this torch build has no gloo backend for CPU DDP'
    elif shutil.which('bash') is None:
        reason = 'tools/dist_train.sh needs bash'
    else:
        try:
            import torch.distributed.run  # noqa: F401
        except ImportError as e:
            reason = f'torchrun is unavailable ({e})'
    return unittest.skipIf(reason is not None, reason)


def _state_dict(path):
    return torch.load(path, map_location='cpu')['state_dict']


class TestCrashResume(TestCase):

    @classmethod
    def setUpClass(cls):
        cls._tmp = tempfile.TemporaryDirectory()
        cls.tmp = cls._tmp.name
        data = osp.join(cls.tmp, 'data')
        _write_data(data)
        cls.configs = {}
        for name, hook in (('seeded', SEED_HOOK), ('plain',
                                                   'epoch_seed=None')):
            path = osp.join(cls.tmp, f'crash_{name}.py')
            with open(path, 'w') as f:
                f.write(
                    CONFIG.format(
                        repo=REPO_ROOT,
                        tree=TREE,
                        data=data,
                        max_epochs=MAX_EPOCHS,
                        seed_hook=hook))
            cls.configs[name] = path

    @classmethod
    def tearDownClass(cls):
        cls._tmp.cleanup()

    def _command(self, config, work_dir, nproc, *args):
        if nproc == 1:
            return [
                sys.executable,
                osp.join(REPO_ROOT, 'tools', 'train.py'), config, '--work-dir',
                work_dir, *args
            ]
        return [
            'bash',
            osp.join(REPO_ROOT, 'tools', 'dist_train.sh'), config,
            str(nproc), '--work-dir', work_dir, *args
        ]

    def _env(self, **extra):
        return dict(
            os.environ,
            PYTHON=sys.executable,
            PORT=str(_free_port()),
            PYTHONPATH=os.pathsep.join(
                [REPO_ROOT, HERE,
                 os.environ.get('PYTHONPATH', '')]),
            CUDA_VISIBLE_DEVICES='',
            OMP_NUM_THREADS='1',
            **extra)

    def _train(self, config, work_dir, nproc, *args):
        proc = subprocess.run(
            self._command(config, work_dir, nproc, *args),
            cwd=self.tmp,
            env=self._env(),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            timeout=300)
        self.assertEqual(
            proc.returncode, 0,
            f'training failed; last output:\n{proc.stdout[-5000:]}')
        return proc.stdout

    def _train_and_kill(self, config, work_dir, nproc, epoch, it):
        """Start a run, SIGKILL its process group once every rank waits
        before iteration ``it`` of epoch ``epoch``."""
        pause_dir = osp.join(self.tmp, f'pause_{osp.basename(work_dir)}')
        os.makedirs(pause_dir)
        log = open(osp.join(self.tmp, f'{osp.basename(work_dir)}.out'), 'w+')
        self.addCleanup(log.close)
        proc = subprocess.Popen(
            self._command(config, work_dir, nproc),
            cwd=self.tmp,
            env=self._env(
                MMHIER_TEST_PAUSE_AT=f'{epoch},{it}',
                MMHIER_TEST_PAUSE_DIR=pause_dir),
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True)
        markers = [osp.join(pause_dir, f'rank{r}') for r in range(nproc)]
        deadline = time.monotonic() + 240
        try:
            while not all(osp.exists(m) for m in markers):
                if proc.poll() is not None:
                    log.seek(0)
                    self.fail(f'the run ended (rc={proc.returncode}) before '
                              f'the pause point:\n{log.read()[-5000:]}')
                if time.monotonic() > deadline:
                    self.fail('the run never reached the pause point')
                time.sleep(0.1)
        finally:
            # the whole group: torchrun and its workers too
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=60)
        self.assertEqual(proc.returncode, -signal.SIGKILL)
        return markers

    def _train_in_process(self, config, work_dir):
        """The one-process reference run, without a second start-up of
        torch and mmpretrain; one thread, as the subprocesses."""
        instances = _Instances()
        self.addCleanup(instances.forget_new)
        # the run turns on deterministic algorithms for the whole process
        self.addCleanup(torch.use_deterministic_algorithms,
                        torch.are_deterministic_algorithms_enabled())
        self.addCleanup(setattr, torch.backends.cudnn, 'deterministic',
                        torch.backends.cudnn.deterministic)
        self.addCleanup(setattr, torch.backends.cudnn, 'benchmark',
                        torch.backends.cudnn.benchmark)
        self.addCleanup(torch.set_num_threads, torch.get_num_threads())
        torch.set_num_threads(1)
        if HERE not in sys.path:  # for custom_imports=['crash_pause_hook']
            sys.path.insert(0, HERE)
        runner = train_tool.main([config, '--work-dir', work_dir])
        self.assertEqual(runner.epoch, MAX_EPOCHS)
        instances.forget_new()

    def _crash_resume(self, config, nproc, iters_per_epoch):
        name = f'{osp.basename(config)[:-3]}_{nproc}p'
        ref_dir = osp.join(self.tmp, f'{name}_ref')
        if nproc == 1:
            self._train_in_process(config, ref_dir)
        else:
            self._train(config, ref_dir, nproc)

        work_dir = osp.join(self.tmp, f'{name}_crash')
        # the middle of epoch 1 (0-based): epoch_1.pth exists, the run is in
        # the freeze hook's second phase ('cnn': RNN part frozen)
        mid = iters_per_epoch // 2
        markers = self._train_and_kill(config, work_dir, nproc, 1, mid)
        for marker in markers:
            with open(marker) as f:
                self.assertEqual(
                    f.read().split(),
                    ['1', str(mid), str(iters_per_epoch + mid)])
        self.assertTrue(osp.isfile(osp.join(work_dir, 'epoch_1.pth')))
        self.assertFalse(osp.exists(osp.join(work_dir, 'epoch_2.pth')))

        out = self._train(config, work_dir, nproc, '--resume')
        self.assertIn('resumed epoch: 1', out)
        self.assertIn("AlternatingFreezeHook: phase 'cnn' from epoch 1", out)
        self.assertIn("AlternatingFreezeHook: phase 'rnn' from epoch 2", out)

        last = f'epoch_{MAX_EPOCHS}.pth'
        return (_state_dict(osp.join(ref_dir, last)),
                _state_dict(osp.join(work_dir, last)))

    def assertStateDictEqual(self, ref, resumed):
        self.assertEqual(list(ref), list(resumed))
        differ = [k for k in ref if not torch.equal(ref[k], resumed[k])]
        self.assertEqual(differ, [], 'tensors that differ after resuming')

    def test_one_process(self):
        # 12 images / 2 per batch
        ref, resumed = self._crash_resume(self.configs['seeded'], 1, 6)
        self.assertStateDictEqual(ref, resumed)

    @unittest.skipUnless(
        os.environ.get('MMHIER_TEST_CONTROLS'),
        'the control run (30 s more): set MMHIER_TEST_CONTROLS=1 to see '
        'that without HierEpochSeedHook the resumed weights differ')
    def test_one_process_differs_without_epoch_seed_hook(self):
        ref, resumed = self._crash_resume(self.configs['plain'], 1, 6)
        self.assertFalse(all(torch.equal(ref[k], resumed[k]) for k in ref))

    @_skip_without_torchrun()
    def test_two_process_ddp(self):
        # 12 images / (2 processes x 2 per batch)
        ref, resumed = self._crash_resume(self.configs['seeded'], 2, 3)
        self.assertStateDictEqual(ref, resumed)
