# Copyright (c) mmhier contributors. All rights reserved.
"""Dataloader defaults shared by ``tools/train.py`` and ``tools/test.py``."""
from copy import deepcopy
from typing import Any, Sequence

import torch
from mmengine.config import ConfigDict


def set_dataloader_defaults(cfg: Any,
                            fields: Sequence[str],
                            no_pin_memory: bool = False,
                            persistent_workers: bool = False,
                            no_persistent_workers: bool = False) -> None:
    """Fill in mmpretrain's tool defaults on the named dataloaders.

    ``pin_memory`` defaults to whether CUDA is available, ``collate_fn`` to
    ``default_collate`` and, with ``persistent_workers``, persistent workers
    to on; the config's own values win, and the ``no_*`` flags (the tools'
    ``--no-pin-memory`` / ``--no-persistent-workers``) switch them off.
    """
    defaults = ConfigDict(
        pin_memory=torch.cuda.is_available(),
        collate_fn=dict(type='default_collate'))
    if persistent_workers:
        defaults.persistent_workers = True
    for field in fields:
        if cfg.get(field, None) is None:
            continue
        loader = deepcopy(defaults)
        loader.update(cfg[field])
        if no_pin_memory:
            loader['pin_memory'] = False
        if no_persistent_workers:
            loader['persistent_workers'] = False
        cfg[field] = loader


def fix_persistent_workers(cfg: Any, fields: Sequence[str]) -> None:
    """``persistent_workers=False`` where ``num_workers`` is 0.

    torch's DataLoader refuses persistent workers without workers
    (STACK.md item 3); call it last, after ``--cfg-options``.
    """
    for field in fields:
        loader = cfg.get(field, None)
        if loader is not None and loader.get('num_workers', 0) == 0:
            loader['persistent_workers'] = False
