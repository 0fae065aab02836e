# Copyright (c) mmhier contributors. All rights reserved.
"""Let ``torch.load`` read mmengine checkpoints without turning its check off.

Since torch 2.6, ``torch.load`` defaults to ``weights_only=True``: only
tensors, containers and an allowlist of globals may be unpickled. mmengine
0.10.7 calls ``torch.load(filename, map_location=...)`` (no way to pass
``weights_only``) when it resumes, loads ``load_from`` or tests a checkpoint,
and its checkpoints hold more than tensors:

- ``message_hub.log_scalars`` holds :class:`mmengine.logging.HistoryBuffer`
  objects; their state keeps the statistics methods, which pickle as
  ``getattr(HistoryBuffer, 'min')`` (so ``builtins.getattr`` is needed);
- numpy arrays, scalars and dtypes (``numpy._core.multiarray._reconstruct``
  and ``.scalar``, ``numpy.ndarray``, ``numpy.dtype`` and the per-dtype
  classes ``numpy.dtypes.Float64DType``, ...). A checkpoint written under
  numpy 1.x names the same functions ``numpy.core.multiarray.*``.

:func:`allow_mmengine_checkpoints` adds exactly these globals to torch's
allowlist, and the one mmhier type that checkpoints hold, the ClassTree in
``meta['dataset_meta']`` (:func:`mmhier_safe_globals`). Anything else (a
pickled instance of an arbitrary class, a call of ``os.system``) is still
refused, as it should be. The alternatives, the
``TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD`` environment variable or
``weights_only=False``, would open every load in the process to arbitrary
code, so mmhier never uses them.
"""
import builtins
from typing import Callable, List, Tuple, Union

import numpy as np
import torch

SafeGlobal = Union[Callable, Tuple[Callable, str]]


def _numpy_multiarray():
    """The module that holds ``_reconstruct`` and ``scalar`` in this numpy."""
    try:
        from numpy._core import multiarray  # numpy >= 2
    except ImportError:  # pragma: no cover - numpy 1.x
        from numpy.core import multiarray
    return multiarray


def mmengine_safe_globals() -> List[SafeGlobal]:
    """The globals that mmengine 0.10.7 checkpoints need, and no more.

    Returns:
        list: items for :func:`torch.serialization.add_safe_globals`: objects
        (named by their ``__module__.__qualname__``) and ``(object, name)``
        pairs for the names under which numpy 1.x and 2.x pickle the same
        function.
    """
    from mmengine.logging import HistoryBuffer

    multiarray = _numpy_multiarray()
    safe: List[SafeGlobal] = [
        HistoryBuffer, builtins.getattr, np.ndarray, np.dtype
    ]
    # ndarray.__reduce__ and numpy scalars name these two functions; numpy 2
    # pickles them under numpy._core, numpy 1.x under numpy.core.
    for func in (multiarray._reconstruct, multiarray.scalar):
        for module in ('numpy._core.multiarray', 'numpy.core.multiarray'):
            safe.append((func, f'{module}.{func.__name__}'))
    # numpy >= 1.25 pickles a dtype as an instance of its own DType class.
    dtypes = getattr(np, 'dtypes', None)
    if dtypes is not None:
        safe.extend(
            getattr(dtypes, name) for name in sorted(dir(dtypes)) if
            name.endswith('DType') and isinstance(getattr(dtypes, name), type))
    return safe


def mmhier_safe_globals() -> List[SafeGlobal]:
    """The mmhier types that checkpoints hold.

    mmengine saves the training dataset's metainfo as
    ``meta['dataset_meta']``; mmhier datasets put their
    :class:`~mmhier.structures.ClassTree` there (so inference can recover the
    tree from a checkpoint alone). Its pickled state is plain data: lists,
    dicts and numpy arrays, all covered by :func:`mmengine_safe_globals`.
    """
    from mmhier.structures import ClassTree
    return [ClassTree]


def allow_mmengine_checkpoints() -> None:
    """Add :func:`mmengine_safe_globals` to torch's ``weights_only`` allowlist.

    Idempotent (torch keeps the allowlist as a set). Does nothing on a torch
    without ``add_safe_globals`` (< 2.4), where ``torch.load`` does not
    restrict globals by default.
    """
    add_safe_globals = getattr(torch.serialization, 'add_safe_globals', None)
    if add_safe_globals is None:  # pragma: no cover - torch < 2.4
        return
    add_safe_globals(mmengine_safe_globals() + mmhier_safe_globals())
