# Copyright (c) mmhier contributors. All rights reserved.
"""A real two-process CPU DDP run: tools/dist_train.sh, then dist_test.sh.

Both scripts start ``torchrun`` (``python -m torch.distributed.run``) with two
processes on the CPU (``CUDA_VISIBLE_DEVICES=''`` also on a GPU machine), so
this exercises the gloo/CPU-DDP fixes of ``mmhier.engine`` end to end, and
the CPU bf16 wrapper under DDP (``--amp``).
"""
import glob
import importlib.util
import json
import os
import os.path as osp
import socket
import subprocess
import sys
import tempfile
from unittest import TestCase

REPO_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
TINY_DIR = osp.join(REPO_ROOT, 'tests', 'data', 'tiny_cls')
CONFIG = osp.join(TINY_DIR, 'resnet18-w8_1xb4_tiny-cls.py')


def _free_port():
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def _make_tiny_cls(root):
    path = osp.join(TINY_DIR, 'make_tiny_cls.py')
    spec = importlib.util.spec_from_file_location('make_tiny_cls', path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.make_tiny_cls(root, train_per_class=8, val_per_class=4)


class TestDistTrainScripts(TestCase):

    def setUp(self):
        self._tmp = tempfile.TemporaryDirectory()
        self.addCleanup(self._tmp.cleanup)
        self.tmp = self._tmp.name
        self.data = osp.join(self.tmp, 'data')
        self.assertEqual(_make_tiny_cls(self.data), dict(train=24, val=12))

    def _run(self, script, *args, **env):
        full_env = dict(
            os.environ,
            PYTHON=sys.executable,
            PORT=str(_free_port()),
            TINY_CLS_ROOT=self.data,
            CUDA_VISIBLE_DEVICES='',
            **env)
        # run from elsewhere: the scripts find the repo themselves
        proc = subprocess.run(
            ['bash', osp.join(REPO_ROOT, 'tools', script), *args],
            cwd=self.tmp,
            env=full_env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            timeout=300)
        self.assertEqual(
            proc.returncode, 0,
            f'{script} failed; last output:\n{proc.stdout[-5000:]}')
        return proc.stdout

    def test_two_process_cpu_train_then_test(self):
        work_dir = osp.join(self.tmp, 'work_dir')
        # GPUS as the positional argument; DEBUG makes every rank keep a log
        self._run('dist_train.sh', CONFIG, '2', '--work-dir', work_dir,
                  '--amp', '--cfg-options', 'train_cfg.max_epochs=2',
                  'log_level=DEBUG')
        for epoch in (1, 2):
            self.assertTrue(
                osp.isfile(osp.join(work_dir, f'epoch_{epoch}.pth')))

        logs = sorted(glob.glob(osp.join(work_dir, '*', '*_rank[01].log')))
        self.assertEqual(len(logs), 2, f'one log per rank, got {logs}')
        for rank, log in enumerate(logs):
            self.assertTrue(log.endswith(f'rank{rank}.log'))
            with open(log) as f:
                text = f.read()
            # 24 images / (2 processes x 4 per batch) = 3 iterations
            self.assertIn('Epoch(train) [2][3/3]', text)
            self.assertIn('CPUBf16OptimWrapper', text)
        with open(logs[0]) as f:
            text = f.read()
        self.assertIn('Distributed training: True', text)
        self.assertIn('GPU number: 2', text)

        # GPUS from the environment this time
        out = osp.join(self.tmp, 'metrics.json')
        self._run(
            'dist_test.sh',
            CONFIG,
            osp.join(work_dir, 'epoch_2.pth'),
            '--work-dir',
            work_dir,
            '--out',
            out,
            '--out-item',
            'metrics',
            GPUS='2')
        with open(out) as f:
            metrics = json.load(f)
        self.assertTrue(0 <= metrics['accuracy/top1'] <= 100)
