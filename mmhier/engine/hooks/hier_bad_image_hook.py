# Copyright (c) mmhier contributors. All rights reserved.
import logging
from typing import Any, Optional

import torch
from mmengine.dist import all_reduce, get_world_size
from mmengine.hooks import Hook
from mmengine.logging import print_log
from mmpretrain.registry import HOOKS

from .hook_utils import phase_datasets


@HOOKS.register_module()
class HierBadImageHook(Hook):
    """Name the split of each mmhier dataset and sum up its unreadable
    images at the end of every epoch.

    ``HierDataset`` handles an image that cannot be read or decoded (see
    its ``on_error`` and ``max_bad_share``): it raises naming the file, or
    skips the sample and logs the file once. This hook

    - tells each dataset its split (``'train'``, ``'val'``, ``'test'``) for
      those messages, unless the config set ``split``;
    - at the end of every train, val and test epoch, logs how many samples
      of each dataset were skipped so far, and which (gathered over the
      ranks under DDP, since each rank reads its own share);
    - stops the run with the list of files when the gathered count is more
      than ``max_bad_share`` allows (each rank alone may be below it).

    On by default in ``configs/_base_/default_runtime.py``
    (``default_hooks.bad_images``).

    Args:
        max_listed: How many files the summary names.
    """

    priority = 'NORMAL'

    def __init__(self, max_listed: int = 20) -> None:
        self.max_listed = max_listed

    @staticmethod
    def _trackers(runner: Any, phase: str):
        for key, dataset in phase_datasets(runner, phase):
            if hasattr(dataset, 'bad_images') and hasattr(dataset, 'split'):
                yield key, dataset

    def _name_split(self, runner: Any, phase: str) -> None:
        for _, dataset in self._trackers(runner, phase):
            if dataset.split is None:
                dataset.split = phase

    def _summarise(self, runner: Any, phase: str, epoch: int) -> None:
        for key, dataset in self._trackers(runner, phase):
            tracker = dataset.bad_images
            if tracker.on_error != 'skip':
                continue
            flags = tracker.flags.to(torch.int32)
            if get_world_size() > 1:
                all_reduce(flags, op='max')
            bad = tracker.bad_indices(flags)
            if not bad:
                continue
            split = dataset.split_name
            if len(bad) > tracker.limit():
                raise tracker.too_many(bad, split, dataset.describe_sample)
            shown = '\n  '.join(
                dataset.describe_sample(i) for i in bad[:self.max_listed])
            more = len(bad) - self.max_listed
            # the epoch in the text: mmengine drops a repeated warning
            print_log(
                f'after {phase} epoch {epoch}, {key} ({split}): {len(bad)} '
                f'of {tracker.size} samples skipped so far, their image '
                "cannot be read (on_error='skip', each replaced by the next "
                'readable sample):\n  ' + shown +
                (f'\n  ... and {more} more' if more > 0 else ''),
                logger='current',
                level=logging.WARNING)

    def before_train(self, runner: Any) -> None:
        self._name_split(runner, 'train')

    def before_val(self, runner: Any) -> None:
        self._name_split(runner, 'val')

    def before_test(self, runner: Any) -> None:
        self._name_split(runner, 'test')

    def after_train_epoch(self, runner: Any) -> None:
        self._summarise(runner, 'train', runner.epoch + 1)

    def after_val_epoch(self,
                        runner: Any,
                        metrics: Optional[dict] = None) -> None:
        self._summarise(runner, 'val', runner.epoch)

    def after_test_epoch(self,
                         runner: Any,
                         metrics: Optional[dict] = None) -> None:
        self._summarise(runner, 'test', runner.epoch)
