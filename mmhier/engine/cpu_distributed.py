# Copyright (c) mmhier contributors. All rights reserved.
"""Distributed training on machines without CUDA (gloo + CPU DDP).

mmengine 0.10.7 assumes an accelerator when it goes distributed:

1. ``mmengine.dist.utils._init_dist_pytorch`` (``--launcher pytorch``, i.e.
   ``torchrun``) and ``_init_dist_slurm`` call ``torch.cuda.set_device``
   before initialising the process group, which fails with "Found no NVIDIA
   driver" on a CPU-only machine, and the runner asks for the ``nccl``
   backend, which is GPU-only.
2. ``Runner.wrap_model`` builds ``MMDistributedDataParallel(module,
   device_ids=[LOCAL_RANK])``; torch's DDP refuses ``device_ids`` for a
   module whose parameters live on the CPU.

:func:`patch_cpu_distributed` changes only what is wrong on such a machine:
when neither CUDA nor another accelerator that mmengine knows (MLU, NPU,
MUSA) is available, the process group is initialised with ``gloo`` instead of
``nccl`` and without pinning a CUDA device, and DDP gets ``device_ids=None``
for a CPU module. On a machine with GPUs every call goes to mmengine's and
torch's code unchanged (``nccl``, ``device_ids=[LOCAL_RANK]``). SyncBN stays
GPU-only. With the patch,
``torchrun --nproc_per_node=2 tools/train.py CFG --launcher pytorch`` trains
on two CPU processes.
"""
import functools
from contextlib import contextmanager
from typing import Callable, Iterator

import torch
from mmengine.device import (is_mlu_available, is_musa_available,
                             is_npu_available)
from mmengine.dist import utils as dist_utils
from mmengine.model import MMDistributedDataParallel
from torch import nn

_PATCHED = '_mmhier_cpu_patched'


def no_accelerator() -> bool:
    """True when neither CUDA nor an MLU, NPU or MUSA device is available."""
    return not (torch.cuda.is_available() or is_mlu_available()
                or is_npu_available() or is_musa_available())


def is_cpu_module(module: nn.Module) -> bool:
    """True when ``module`` has parameters and all of them are on the CPU."""
    devices = {p.device.type for p in module.parameters()}
    return devices == {'cpu'}


@contextmanager
def _without_cuda_device_pin() -> Iterator[None]:
    """Make ``torch.cuda.set_device`` a no-op: there is no device to pick."""
    set_device = torch.cuda.set_device
    torch.cuda.set_device = lambda device: None
    try:
        yield
    finally:
        torch.cuda.set_device = set_device


def _cpu_aware_init(init: Callable) -> Callable:
    """Wrap one of mmengine's ``_init_dist_*`` functions (see module doc).

    On a machine with an accelerator, ``init`` runs unchanged. Without one,
    ``backend='nccl'`` becomes ``'gloo'`` and the CUDA device pin is skipped;
    every other step of mmengine's (environment variables for slurm, the
    ``init_backend`` choice) is kept.
    """

    @functools.wraps(init)
    def wrapper(backend: str, *args, **kwargs) -> None:
        if not no_accelerator():
            return init(backend, *args, **kwargs)
        if backend == 'nccl':
            backend = 'gloo'
        with _without_cuda_device_pin():
            return init(backend, *args, **kwargs)

    setattr(wrapper, _PATCHED, True)
    return wrapper


def _cpu_aware_ddp_init(ddp_init: Callable) -> Callable:
    """Wrap ``MMDistributedDataParallel.__init__`` (see module doc).

    ``device_ids`` (and ``output_device``) are dropped only for a module whose
    parameters are all on the CPU, the one case torch's DDP requires
    ``device_ids=None``; a module on a GPU keeps them.
    """

    @functools.wraps(ddp_init)
    def __init__(self, module: nn.Module, *args, **kwargs) -> None:
        if kwargs.get('device_ids') is not None and is_cpu_module(module):
            kwargs['device_ids'] = None
            kwargs.pop('output_device', None)
        ddp_init(self, module, *args, **kwargs)

    setattr(__init__, _PATCHED, True)
    return __init__


def patch_cpu_distributed() -> None:
    """Apply both CPU fixes of the module docstring. Idempotent."""
    for name in ('_init_dist_pytorch', '_init_dist_slurm'):
        init = getattr(dist_utils, name)
        if not getattr(init, _PATCHED, False):
            setattr(dist_utils, name, _cpu_aware_init(init))
    ddp_init = MMDistributedDataParallel.__init__
    if not getattr(ddp_init, _PATCHED, False):
        MMDistributedDataParallel.__init__ = _cpu_aware_ddp_init(ddp_init)
