# Copyright (c) mmhier contributors. All rights reserved.
"""Mixed precision (bfloat16 autocast) on the CPU."""
from contextlib import contextmanager
from typing import Iterator

import torch
from mmengine.optim import OptimWrapper
from mmpretrain.registry import OPTIM_WRAPPERS
from torch import nn


@OPTIM_WRAPPERS.register_module()
class CPUBf16OptimWrapper(OptimWrapper):
    """An optimizer wrapper that runs the forward pass under CPU bf16 autocast.

    mmengine's ``AmpOptimWrapper`` (and so ``tools/train.py --amp``) asserts
    a GPU. This wrapper is the CPU counterpart: inside
    :meth:`optim_context`, i.e. around the data preprocessor, the forward pass
    and the loss of ``model.train_step``, ops that autocast lists (conv,
    linear, matmul, ...) run in ``torch.bfloat16``. Parameters, gradients and
    the optimizer state stay ``float32``. bfloat16 keeps float32's exponent
    range, so no gradient scaler is needed (unlike float16). Everything else
    (gradient accumulation, clipping, ``no_sync`` under DDP) is
    :class:`mmengine.optim.OptimWrapper`'s.

    ``tools/train.py --amp`` picks this wrapper on a machine without CUDA and
    ``AmpOptimWrapper`` otherwise.

    Args:
        *args, **kwargs: as :class:`mmengine.optim.OptimWrapper`
            (``optimizer``, ``accumulative_counts``, ``clip_grad``).

    Examples:
        >>> optim_wrapper = dict(
        ...     type='CPUBf16OptimWrapper',
        ...     optimizer=dict(type='SGD', lr=0.1, momentum=0.9))
    """

    @contextmanager
    def optim_context(self, model: nn.Module) -> Iterator[None]:
        """Enter the parent's context and CPU bf16 autocast.

        Args:
            model (nn.Module): the model being trained.
        """
        with super().optim_context(model), torch.autocast(
                device_type='cpu', dtype=torch.bfloat16):
            yield
