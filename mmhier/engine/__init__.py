# Copyright (c) mmhier contributors. All rights reserved.
"""The engine: hooks, optimizer wrappers and the compat layer for the stack.

Importing this package (which ``import mmhier`` does first) applies three
fixes for the pinned stack (torch >= 2.6, mmengine 0.10.7), see ``STACK.md``:

- :func:`allow_mmengine_checkpoints`: ``torch.load`` with
  ``weights_only=True`` reads mmengine checkpoints (resume, ``load_from``,
  ``tools/test.py``) through an allowlist, without turning the check off;
- :func:`patch_cpu_distributed`: ``torchrun ... --launcher pytorch`` trains
  on a machine without CUDA (gloo, CPU DDP); nothing changes on GPUs;
- :func:`patch_unique_log_dir`: two runs that start in the same second in
  one work_dir get two log folders (mmengine would append the second run's
  log to the first's).

It also registers :class:`CPUBf16OptimWrapper` (bf16 autocast on the CPU).
"""
from . import hooks  # noqa: F401
from .cpu_distributed import patch_cpu_distributed
from .optimizers import CPUBf16OptimWrapper
from .safe_load import (allow_mmengine_checkpoints, mmengine_safe_globals,
                        mmhier_safe_globals)
from .unique_log_dir import claim_log_dir, patch_unique_log_dir

allow_mmengine_checkpoints()
patch_cpu_distributed()
patch_unique_log_dir()

__all__ = [
    'CPUBf16OptimWrapper', 'allow_mmengine_checkpoints', 'claim_log_dir',
    'mmengine_safe_globals', 'mmhier_safe_globals', 'patch_cpu_distributed',
    'patch_unique_log_dir'
]
