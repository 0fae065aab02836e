# Copyright (c) mmhier contributors. All rights reserved.
"""Dataloader settings shared by the tools, the demo and the benchmarks."""
import math
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


def use_partial_labels(cfg: Any,
                       fine_fraction: float,
                       num_images: int,
                       keep: str = 'all',
                       seed: int = 0,
                       coarse_depth: int = 2,
                       fine_repeat: int = 1) -> int:
    """Train on partially labelled data (``HierCoarseLabelDataset``).

    Wraps ``cfg.train_dataloader.dataset``: a seeded ``fine_fraction`` of
    each class keeps its full path, the others keep their first
    ``coarse_depth`` nodes (``a/b/*``); each fine image is listed
    ``fine_repeat`` times per epoch. With ``keep='fine'`` (a model that can
    only use full paths, such as a flat classifier) the coarse images are
    dropped. Whenever an epoch is then shorter or longer than one pass over
    the ``num_images`` images, ``max_epochs``, ``val_interval`` and the
    ``T_max`` of epoch-based cosine schedules are scaled (and rounded to
    whole epochs) so that the run makes the same number of iterations as
    on all ``num_images`` images.

    Returns:
        int: The epochs of the run.
    """
    loader = cfg.train_dataloader
    loader.dataset = dict(
        type='HierCoarseLabelDataset',
        dataset=loader.dataset,
        fine_fraction=fine_fraction,
        coarse_depth=coarse_depth,
        seed=seed,
        keep=keep,
        fine_repeat=fine_repeat)
    epochs = cfg.train_cfg.max_epochs
    fine = max(1, round(num_images * fine_fraction))
    per_epoch_images = fine * fine_repeat if keep == 'fine' else \
        num_images + fine * (fine_repeat - 1)
    if per_epoch_images == num_images:
        return epochs
    batch = loader.batch_size
    scale = math.ceil(num_images / batch) / math.ceil(
        per_epoch_images / batch)
    cfg.train_cfg.max_epochs = max(1, round(epochs * scale))
    if cfg.train_cfg.get('val_interval'):
        cfg.train_cfg.val_interval = max(
            1, round(cfg.train_cfg.val_interval * scale))
    schedulers = cfg.get('param_scheduler') or []
    for sched in schedulers if isinstance(schedulers, list) else [schedulers]:
        if 'T_max' in sched and sched.get('by_epoch', True):
            sched['T_max'] = max(1, round(sched['T_max'] * scale))
    return cfg.train_cfg.max_epochs
