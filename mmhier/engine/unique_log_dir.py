# Copyright (c) mmhier contributors. All rights reserved.
"""One log folder per run, even for two runs that start in the same second.

mmengine 0.10.7 names a run after the second it started
(``Runner.timestamp``, ``%Y%m%d_%H%M%S``), puts its logs in
``WORK_DIR/TIMESTAMP/TIMESTAMP.log`` and opens that file in append mode.
Two runs in one work_dir that start in the same second (a resume right
after a short run, a test run right after training, a copied work_dir that
holds the original run's log folder) thus write into one log file, and the
second run's log starts with the first run's lines. Two runs of one
process in the same second (tests, notebooks) also share their logger,
message hub and visualizer, which mmengine keys by ``{config}_{timestamp}``,
even in two work_dirs.

:func:`patch_unique_log_dir` wraps ``Runner.setup_env``, where the
timestamp is set: rank 0 claims ``WORK_DIR/TIMESTAMP`` with an atomic
``os.mkdir``; when the folder exists already (another run's), or a logger
of this process is named after the timestamp, the run is
named ``TIMESTAMP_1``, ``TIMESTAMP_2``, ... instead, and the name is
broadcast to the other ranks. A run that does not collide keeps mmengine's
name unchanged.
"""
import functools
import os
import os.path as osp
from typing import Callable

from mmengine.dist import broadcast_object_list
from mmengine.logging import MessageHub, MMLogger
from mmengine.runner import Runner

_PATCHED = '_mmhier_unique_log_dir'


def _name_in_use(name: str) -> bool:
    """True when a logger or message hub of this process is named after
    ``name`` (mmengine names them ``{config}_{timestamp}``)."""
    for cls in (MMLogger, MessageHub):
        for key in cls._instance_dict:
            if key == name or key.endswith(f'_{name}'):
                return True
    return False


def claim_log_dir(work_dir: str, timestamp: str) -> str:
    """Create a new folder ``work_dir/<name>`` and return ``<name>``.

    ``<name>`` is ``timestamp`` if no such folder exists yet and no logger
    of this process is named after it, else the first free
    ``timestamp_N`` (N = 1, 2, ...). The folder is created here, so that
    two processes racing for one name cannot both get it.

    Args:
        work_dir (str): the run's work directory (created if missing).
        timestamp (str): the name mmengine gave the run.

    Returns:
        str: the name of the folder created.
    """
    os.makedirs(work_dir, exist_ok=True)
    name, n = timestamp, 0
    while True:
        try:
            if not _name_in_use(name):
                os.mkdir(osp.join(work_dir, name))
                return name
        except FileExistsError:
            pass
        n += 1
        name = f'{timestamp}_{n}'


def _unique_setup_env(setup_env: Callable) -> Callable:

    @functools.wraps(setup_env)
    def wrapper(self: Runner, *args, **kwargs) -> None:
        setup_env(self, *args, **kwargs)
        names = [None]
        if self.rank == 0:
            names[0] = claim_log_dir(self.work_dir, self._timestamp)
        if self.world_size > 1:
            broadcast_object_list(names)
        self._timestamp = names[0]

    setattr(wrapper, _PATCHED, True)
    return wrapper


def patch_unique_log_dir() -> None:
    """Give every Runner its own log folder (module doc). Idempotent."""
    if not getattr(Runner.setup_env, _PATCHED, False):
        Runner.setup_env = _unique_setup_env(Runner.setup_env)
