# Copyright (c) mmhier contributors. All rights reserved.
"""Plugin mechanics: custom_imports, bare names in mmpretrain's scope."""
import os.path as osp
import re
import sys
import tempfile
from unittest import TestCase

import torch
from mmengine.config import Config
from mmengine.registry import MODELS as ROOT_MODELS
from mmengine.registry import OPTIM_WRAPPERS as ROOT_OPTIM_WRAPPERS
from mmengine.registry import DefaultScope
from mmpretrain.registry import MODELS

import mmhier
from mmhier.utils import check_versions

TINY_DIR = osp.join(osp.dirname(osp.abspath(__file__)), 'data', 'tiny_cls')

CONFIG = """
default_scope = 'mmpretrain'
custom_imports = dict(
    imports=['mmhier', 'dummy_hier_thing'], allow_failed_imports=False)
model = dict(type='DummyHierThing', in_channels=3, num_nodes=5)
optim_wrapper = dict(
    type='CPUBf16OptimWrapper', optimizer=dict(type='SGD', lr=0.1))
"""


class TestCustomImports(TestCase):

    def setUp(self):
        self._tmp = tempfile.TemporaryDirectory()
        self.addCleanup(self._tmp.cleanup)
        sys.path.insert(0, TINY_DIR)

    def tearDown(self):
        sys.path.remove(TINY_DIR)
        # leave the registry and sys.modules as they were
        MODELS._module_dict.pop('DummyHierThing', None)
        sys.modules.pop('dummy_hier_thing', None)

    def _config(self, text):
        path = osp.join(self._tmp.name, 'cfg.py')
        with open(path, 'w') as f:
            f.write(text)
        return Config.fromfile(path)

    def test_bare_names_found_through_the_config(self):
        self.assertIsNone(MODELS.get('DummyHierThing'))
        cfg = self._config(CONFIG)  # imports the modules it lists
        # built as the Runner builds: root registry + the default scope
        with DefaultScope.overwrite_default_scope(cfg.default_scope):
            model = ROOT_MODELS.build(cfg.model)
            optim_wrapper = ROOT_OPTIM_WRAPPERS.build(
                dict(
                    type=cfg.optim_wrapper.type,
                    optimizer=torch.optim.SGD(model.parameters(), lr=0.1)))
        self.assertEqual(type(model).__name__, 'DummyHierThing')
        self.assertEqual(model(torch.zeros(2, 3)).shape, (2, 5))
        self.assertEqual(
            type(optim_wrapper).__module__,
            'mmhier.engine.optimizers.cpu_bf16_optim_wrapper')
        # under mmengine's own scope the root registry does not know them
        # (overwrite_default_scope(None) would keep whatever scope an
        # earlier test left current)
        with DefaultScope.overwrite_default_scope('mmengine'):
            with self.assertRaisesRegex(KeyError, 'DummyHierThing'):
                ROOT_MODELS.build(cfg.model)

    def test_failed_import_is_an_error(self):
        with self.assertRaisesRegex(ImportError, 'no_such_plugin'):
            self._config(CONFIG.replace('dummy_hier_thing', 'no_such_plugin'))


class TestVersion(TestCase):

    def test_version(self):
        self.assertRegex(mmhier.__version__, r'^\d+\.\d+\.\d+')
        self.assertEqual(
            mmhier.version_info[:2],
            tuple(int(x) for x in mmhier.__version__.split('.')[:2]))

    def test_check_versions(self):
        check_versions()  # the installed stack is supported
        with self.assertRaises(ImportError) as cm:
            check_versions({
                'torch': ('0.1.0', '0.2.0'),
                'no_such_package_xyz': ('1.0.0', '2.0.0'),
            })
        message = str(cm.exception)
        self.assertRegex(
            message,
            re.escape('torch==') + r'\S+ is installed, but '
            r'mmhier needs >=0\.1\.0,<0\.2\.0')
        self.assertIn('no_such_package_xyz is not installed', message)
        self.assertIn('pip install -r requirements/runtime.txt', message)
