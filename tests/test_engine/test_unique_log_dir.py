# Copyright (c) mmhier contributors. All rights reserved.
import os
import os.path as osp
import tempfile
from unittest import TestCase

from mmengine.logging import MMLogger
from mmengine.runner import Runner

from mmhier.engine import claim_log_dir, patch_unique_log_dir


class TestClaimLogDir(TestCase):

    def test_second_run_in_the_same_second_gets_its_own_folder(self):
        with tempfile.TemporaryDirectory() as tmp:
            wd = osp.join(tmp, 'wd')  # created on demand
            names = [claim_log_dir(wd, '20240101_120000') for _ in range(3)]
            self.assertEqual(names, [
                '20240101_120000', '20240101_120000_1', '20240101_120000_2'
            ])
            self.assertEqual(sorted(os.listdir(wd)), sorted(names))

    def test_a_logger_of_this_process_holds_the_name(self):
        # two runs in one process and one second, in two work_dirs, would
        # share mmengine's logger named '{config}_{timestamp}'
        name = 'cfg_20240101_120001'
        MMLogger.get_instance(name)
        self.addCleanup(MMLogger._instance_dict.pop, name)
        with tempfile.TemporaryDirectory() as tmp:
            self.assertEqual(
                claim_log_dir(tmp, '20240101_120001'), '20240101_120001_1')
            self.assertEqual(
                claim_log_dir(tmp, '20240101_120002'), '20240101_120002')

    def test_patch_is_applied_once(self):
        wrapped = Runner.setup_env
        self.assertTrue(hasattr(wrapped, '__wrapped__'))
        patch_unique_log_dir()
        self.assertIs(Runner.setup_env, wrapped)
