# Copyright (c) mmhier contributors. All rights reserved.
"""The shell tools that need no training: slurm launchers, data fetcher."""
import os
import os.path as osp
import stat
import subprocess
import tempfile
from unittest import TestCase

REPO_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
TOOLS = osp.join(REPO_ROOT, 'tools')
FASHION_FILES = ('train-images-idx3-ubyte.gz', 'train-labels-idx1-ubyte.gz',
                 't10k-images-idx3-ubyte.gz', 't10k-labels-idx1-ubyte.gz')

# prints its arguments one per line, and the PYTHONPATH it was given
FAKE_SRUN = '''#!/usr/bin/env bash
echo "PYTHONPATH=$PYTHONPATH"
for a in "$@"; do echo "ARG=$a"; done
'''


class TestSlurmScripts(TestCase):

    def setUp(self):
        self._tmp = tempfile.TemporaryDirectory()
        self.addCleanup(self._tmp.cleanup)
        bin_dir = osp.join(self._tmp.name, 'bin')
        os.makedirs(bin_dir)
        srun = osp.join(bin_dir, 'srun')
        with open(srun, 'w') as f:
            f.write(FAKE_SRUN)
        os.chmod(srun, os.stat(srun).st_mode | stat.S_IEXEC)
        self.env = dict(
            os.environ,
            PATH=f'{bin_dir}:{os.environ["PATH"]}',
            PYTHON='python3',
            PYTHONPATH='')

    def _run(self, script, *args, **env):
        proc = subprocess.run(['bash', osp.join(TOOLS, script), *args],
                              cwd=self._tmp.name,
                              env=dict(self.env, **env),
                              stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE,
                              text=True,
                              timeout=60)
        self.assertEqual(proc.returncode, 0, proc.stderr)
        lines = proc.stdout.splitlines()
        args = [line[4:] for line in lines if line.startswith('ARG=')]
        pythonpath = [line for line in lines if line.startswith('PYTHONPATH')]
        return args, pythonpath[0]

    def test_slurm_train(self):
        args, pythonpath = self._run(
            'slurm_train.sh',
            'part',
            'job',
            'cfg.py',
            'wd',
            '--amp',
            '--cfg-options',
            'a=1',
            GPUS='4',
            GPUS_PER_NODE='2')
        self.assertIn(f'{TOOLS}/..', pythonpath)
        self.assertEqual(args[:8], [
            '-p', 'part', '--job-name=job', '--gres=gpu:2', '--ntasks=4',
            '--ntasks-per-node=2', '--cpus-per-task=5', '--kill-on-bad-exit=1'
        ])
        self.assertEqual(args[8:], [
            'python3', '-u', f'{TOOLS}/train.py', 'cfg.py', '--work-dir=wd',
            '--launcher=slurm', '--amp', '--cfg-options', 'a=1'
        ])

    def test_slurm_test_cpu_partition(self):
        # GRES= (empty) asks for no GPUs
        args, _ = self._run(
            'slurm_test.sh',
            'part',
            'job',
            'cfg.py',
            'ckpt.pth',
            '--out',
            'r.pkl',
            GRES='')
        self.assertFalse([a for a in args if a.startswith('--gres')])
        self.assertIn('--ntasks=8', args)
        i = args.index(f'{TOOLS}/test.py')
        self.assertEqual(
            args[i + 1:],
            ['cfg.py', 'ckpt.pth', '--launcher=slurm', '--out', 'r.pkl'])


class TestGetFashionMnist(TestCase):

    def setUp(self):
        self._tmp = tempfile.TemporaryDirectory()
        self.addCleanup(self._tmp.cleanup)

    def _run(self, **env):
        proc = subprocess.run(
            ['bash', osp.join(TOOLS, 'get_fashion_mnist.sh')],
            env=dict(os.environ, **env),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            timeout=60)
        self.assertEqual(proc.returncode, 0, proc.stderr)
        return proc.stdout, proc.stderr

    def test_found(self):
        folder = osp.join(self._tmp.name, 'fm')
        os.makedirs(folder)
        for name in FASHION_FILES:
            open(osp.join(folder, name), 'w').close()
        for _ in range(2):  # idempotent
            out, err = self._run(FASHION_MNIST_DIR=folder)
            self.assertEqual(out, folder + '\n')
            self.assertIn('found', err)

    def test_missing_falls_back_to_download(self):
        empty = osp.join(self._tmp.name, 'empty')
        os.makedirs(empty)
        # one of the four files is not enough
        open(osp.join(empty, FASHION_FILES[0]), 'w').close()
        out, err = self._run(
            FASHION_MNIST_DIR=empty,
            FASHION_MNIST_APT_DIR=empty,
            FASHION_MNIST_NO_INSTALL='1')
        self.assertEqual(out, '')
        self.assertIn(f'not found in {empty}', err)
        self.assertIn("mmpretrain's FashionMNIST download", err)
