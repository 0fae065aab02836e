# Copyright (c) mmhier contributors. All rights reserved.
"""A test helper for test_crash_resume.py, loaded by its configs through
``custom_imports``: it lets a test kill a run at a known point.

With ``$MMHIER_TEST_PAUSE_AT=EPOCH,ITER`` (0-based epoch, 0-based iteration
inside that epoch) set, every rank writes ``$MMHIER_TEST_PAUSE_DIR/
rank{R}`` before that iteration and then sleeps until it is killed. Without
the variable it does nothing, so a resumed run (started without it) runs on.
"""
import os
import os.path as osp
import time

from mmengine.dist import get_rank
from mmengine.hooks import Hook
from mmpretrain.registry import HOOKS


@HOOKS.register_module()
class CrashTestPauseHook(Hook):
    """Pause before one iteration so that the test can SIGKILL the run."""

    def before_train_iter(self, runner, batch_idx, data_batch=None):
        at = os.environ.get('MMHIER_TEST_PAUSE_AT')
        if not at:
            return
        epoch, it = (int(x) for x in at.split(','))
        if (runner.epoch, batch_idx) != (epoch, it):
            return
        marker = osp.join(os.environ['MMHIER_TEST_PAUSE_DIR'],
                          f'rank{get_rank()}')
        with open(marker + '.tmp', 'w') as f:
            f.write(f'{runner.epoch} {batch_idx} {runner.iter}\n')
        os.replace(marker + '.tmp', marker)
        while True:  # until SIGKILL
            time.sleep(1)
