# Copyright (c) mmhier contributors. All rights reserved.
"""mmhier as a wheel, driven by OpenMMLab's ``mim``.

Builds a wheel from a copy of the checkout (the build copies configs/ and
tools/ into ``mmhier/.mim``, which must not touch the symlinks an editable
install put in the real tree), installs it into a folder that goes first on
``PYTHONPATH``, and runs ``mim train``, ``mim test`` and ``mim run`` on the
tiny stripes config on the CPU, as a user who ran ``pip install mmhier-*.whl``
would. About 40 s on two cores.

``mim`` finds a codebase at ``<dist location>/<module>`` (pkg_resources);
for a PEP 660 editable install that is site-packages, where there is no
``mmhier`` folder, so this test installs the wheel (see README, "mim").
"""
import glob
import importlib.util
import os
import os.path as osp
import shutil
import subprocess
import sys
import tempfile
import zipfile
from unittest import TestCase, skipIf

import numpy as np

REPO_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
TINY_DIR = osp.join(REPO_ROOT, 'tests', 'data', 'tiny_cls')
CONFIG = osp.join(TINY_DIR, 'resnet18-w8_1xb4_tiny-cls.py')
BIN = osp.dirname(sys.executable)
MIM = osp.join(BIN, 'mim')
# what a wheel build reads
BUILD_INPUTS = ('setup.py', 'MANIFEST.in', 'README.md', 'requirements.txt',
                'requirements', 'mmhier', 'configs', 'tools',
                'model-index.yml')


def _make_tiny_cls(root):
    path = osp.join(TINY_DIR, 'make_tiny_cls.py')
    spec = importlib.util.spec_from_file_location('make_tiny_cls', path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.make_tiny_cls(root, train_per_class=8, val_per_class=4)


@skipIf(not osp.isfile(MIM), 'openmim is not installed '
        '(pip install -r requirements/tests.txt)')
class TestMim(TestCase):

    @classmethod
    def setUpClass(cls):
        cls._tmp = tempfile.TemporaryDirectory()
        cls.tmp = cls._tmp.name
        src = osp.join(cls.tmp, 'src')
        os.makedirs(src)
        ignore = shutil.ignore_patterns('__pycache__', '*.pyc', '.mim',
                                        '*.egg-info')
        for name in BUILD_INPUTS:
            path = osp.join(REPO_ROOT, name)
            if osp.isdir(path):
                shutil.copytree(path, osp.join(src, name), ignore=ignore)
            elif osp.isfile(path):
                shutil.copy(path, osp.join(src, name))
        dist = osp.join(cls.tmp, 'dist')
        cls._check([
            sys.executable, '-m', 'pip', 'wheel', '-q', '--no-deps',
            '--no-build-isolation', '-w', dist, src
        ])
        cls.wheel = glob.glob(osp.join(dist, 'mmhier-*.whl'))[0]
        cls.site = osp.join(cls.tmp, 'site')
        cls._check([
            sys.executable, '-m', 'pip', 'install', '-q', '--no-deps',
            '--target', cls.site, cls.wheel
        ])
        cls.run_dir = osp.join(cls.tmp, 'run')
        _make_tiny_cls(osp.join(cls.run_dir, 'data'))

    @classmethod
    def tearDownClass(cls):
        cls._tmp.cleanup()

    @staticmethod
    def _check(cmd, **kwargs):
        proc = subprocess.run(
            cmd,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            timeout=300,
            **kwargs)
        if proc.returncode != 0:
            raise AssertionError(f'{" ".join(cmd)} failed:\n'
                                 f'{proc.stdout[-5000:]}')
        return proc.stdout

    def _mim(self, *args):
        env = dict(
            os.environ,
            PATH=BIN + os.pathsep + os.environ.get('PATH', ''),
            PYTHONPATH=self.site,
            TINY_CLS_ROOT='data',
            CUDA_VISIBLE_DEVICES='',
            OMP_NUM_THREADS='1')
        return self._check([MIM, *args], cwd=self.run_dir, env=env)

    def test_wheel_holds_mim_layout(self):
        names = zipfile.ZipFile(self.wheel).namelist()
        for name in ('mmhier/.mim/model-index.yml',
                     'mmhier/.mim/tools/train.py', 'mmhier/.mim/tools/test.py',
                     'mmhier/.mim/configs/hier/res50_s2s_pool_oi.py',
                     'mmhier/.mim/configs/hier/metafile.yml'):
            self.assertIn(name, names)
        self.assertFalse([n for n in names if '__pycache__' in n])

    def test_train_test_run(self):
        out = self._mim('train', 'mmhier', CONFIG, '--work-dir', 'wd',
                        '--cfg-options', 'train_cfg.max_epochs=1')
        # mim ran the wheel's copy of tools/train.py
        self.assertIn(
            osp.join(self.site, 'mmhier', '.mim', 'tools', 'train.py'), out)
        self.assertIn('Training finished successfully', out)
        ckpt = osp.join(self.run_dir, 'wd', 'epoch_1.pth')
        self.assertTrue(osp.isfile(ckpt))

        out = self._mim('test', 'mmhier', CONFIG, '--checkpoint', ckpt,
                        '--work-dir', 'wd')
        self.assertIn('accuracy/top1', out)
        self.assertIn('Testing finished successfully', out)

        # any tool by name: group 4 classes from a confusion matrix
        cpm = np.full((4, 4), 0.02) + np.kron(np.eye(2), np.full((2, 2), .2))
        np.save(osp.join(self.run_dir, 'cpm.npy'), cpm / cpm.sum(1)[:, None])
        out = self._mim('run', 'mmhier', 'build_hierarchy', 'cpm.npy', '--out',
                        'tree.json')
        self.assertIn('wrote ClassTree', out)
        self.assertTrue(osp.isfile(osp.join(self.run_dir, 'tree.json')))
