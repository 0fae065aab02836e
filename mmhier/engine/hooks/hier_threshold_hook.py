# Copyright (c) mmhier contributors. All rights reserved.
"""Store the multi-label threshold validated on a checkpoint's weights in
the checkpoint, and hand it to the test metrics when it is loaded."""
import os
import os.path as osp
from typing import Any, Dict, Optional

import torch
from mmengine.dist import is_main_process
from mmengine.hooks import Hook
from mmengine.logging import print_log
from mmengine.model import is_model_wrapper
from mmengine.runner.checkpoint import _load_checkpoint
from mmpretrain.registry import HOOKS

from mmhier.evaluation.functional.threshold_io import (CHECKPOINT_KEY,
                                                       RUNTIME_KEY)

__all__ = ['HierThresholdHook']


def _threshold_keys(metrics: Optional[Dict[str, Any]]) -> Dict[str, float]:
    """The thresholds among validation results (``<prefix>/threshold``,
    ``<prefix>/node_threshold``)."""
    out = {}
    for key, value in (metrics or {}).items():
        last = key.split('/')[-1]
        if last in ('threshold', 'node_threshold') and isinstance(
                value, (int, float)) and not isinstance(value, bool):
            out[key] = float(value)
    return out


@HOOKS.register_module()
class HierThresholdHook(Hook):
    """Keep the multi-label threshold chosen on validation with the
    checkpoint of the validated weights (DHNN sec. 4.2: the threshold that
    maximises validation F1 is used unchanged on test).

    - After each validation it records the thresholds the metrics report
      (``hier/threshold``, ``<prefix>/threshold``,
      ``<prefix>/node_threshold``) together with the training iteration
      of the weights they were validated on.
    - At save time it writes them to ``meta['hier_threshold']`` when the
      weights being saved are those validated (a "best" checkpoint, the
      last one). mmengine saves the epoch checkpoint *before* validating
      that epoch, so such a checkpoint is first marked
      ``{'validated': False, 'iter': i}`` and, once its weights are
      validated, the hook rewrites the file's meta (local files only).
      A checkpoint whose weights are never validated keeps the mark.
    - When the Runner loads a checkpoint (``load_from``, ``tools/test.py``)
      it sets a multi-label head's ``threshold`` to the stored one (so
      ``pred_paths`` use it) and publishes the entry in the ``MessageHub``
      (``'hier/checkpoint_threshold'``), where ``threshold='from_val'``
      metrics look first; training (the weights change) and the end of
      the run clear it.

    The entry: ``threshold`` (the deployment threshold, ``thresholds[key]``),
    ``key``, ``thresholds`` (all validated thresholds by metric key),
    ``epoch`` and ``iter`` (the training progress of the validated
    weights). :class:`mmhier.apis.HierInferencer` and ``tools/predict.py``
    select paths with ``threshold``.

    A no-op for configs whose validation tunes no threshold (no
    ``HierMultiLabelMetric``), so it is a default hook
    (``configs/_base_/default_runtime.py``).

    Args:
        key: The metric key of the deployment threshold. Defaults to
            ``'hier/threshold'`` (``HierMultiLabelMetric``'s, tuned for
            path F1).

    Examples:
        >>> default_hooks = dict(
        ...     hier_threshold=dict(type='HierThresholdHook'))
    """

    # before CheckpointHook (VERY_LOW): the validation is recorded before
    # the best checkpoint is saved in after_val_epoch
    priority = 'NORMAL'

    def __init__(self, key: str = 'hier/threshold') -> None:
        if not isinstance(key, str) or key.split('/')[-1] != 'threshold':
            raise ValueError(f"key must be a metric key ending in "
                             f"'threshold', e.g. 'hier/threshold', got "
                             f'{key!r}')
        self.key = key
        self._steps: Optional[int] = None  # training iterations done
        self._validated: Optional[dict] = None
        self._pending: Optional[dict] = None
        self._published = False
        self._active = False  # the validation tunes a threshold

    # ------------------------------------------------------------------
    # training: record, store
    # ------------------------------------------------------------------
    def before_train(self, runner) -> None:
        self._steps = runner.iter  # resumed runs start where they stopped
        loop = runner.val_loop
        metrics = getattr(getattr(loop, 'evaluator', None), 'metrics', [])
        # metrics that tune a threshold (HierMultiLabelMetric) have
        # search_threshold; without one the checkpoints are left alone
        self._active = any(hasattr(m, 'search_threshold') for m in metrics)

    def after_train_iter(self,
                         runner,
                         batch_idx: int,
                         data_batch: Any = None,
                         outputs: Optional[dict] = None) -> None:
        self._steps = runner.iter + 1
        self._validated = None
        if self._published:
            # the weights changed: a published threshold no longer fits
            runner.message_hub.pop_info(RUNTIME_KEY, None)
            self._published = False

    def after_val_epoch(self,
                        runner,
                        metrics: Optional[Dict[str, float]] = None) -> None:
        thresholds = _threshold_keys(metrics)
        if not thresholds:
            return
        entry = dict(
            thresholds=thresholds,
            key=self.key,
            epoch=runner.epoch,
            iter=self._steps if self._steps is not None else runner.iter)
        if self.key in thresholds:
            entry['threshold'] = thresholds[self.key]
        self._validated = entry
        runner.message_hub.update_info(
            RUNTIME_KEY,
            dict(checkpoint='the weights just validated', entry=entry),
            resumed=False)
        self._published = True
        print_log(
            f'{type(self).__name__}: validated thresholds {thresholds} '
            f'(iter {entry["iter"]}) go with the checkpoints of these '
            'weights',
            logger='current')
        pending, self._pending = self._pending, None
        if pending is not None and pending['iter'] == self._steps and \
                is_main_process():
            self._store_in_file(pending['file'], entry)

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        if self._steps is None or not self._active:
            return  # not saved by a training run with threshold metrics
        meta = checkpoint.setdefault('meta', {})
        if self._validated is not None and \
                self._validated['iter'] == self._steps:
            meta[CHECKPOINT_KEY] = dict(self._validated)
        else:
            meta[CHECKPOINT_KEY] = dict(validated=False, iter=self._steps)
            # CheckpointHook names the file before it saves it
            self._pending = dict(
                iter=self._steps,
                file=runner.message_hub.get_info('last_ckpt'))

    def _store_in_file(self, file: Optional[str], entry: dict) -> None:
        """Write ``entry`` into the meta of the saved checkpoint ``file``
        (atomically), if it is the one saved at the same iteration."""
        name = type(self).__name__
        if not file or not osp.isfile(file):
            print_log(
                f'{name}: cannot store the validated threshold in {file!r} '
                '(not a local file); it keeps no threshold',
                logger='current',
                level=30)
            return
        ckpt = _load_checkpoint(file, map_location='cpu')
        old = ckpt.get('meta', {}).get(CHECKPOINT_KEY) or {}
        if old.get('validated', True) or old.get('iter') != entry['iter']:
            return  # another checkpoint took its name since
        ckpt['meta'][CHECKPOINT_KEY] = dict(entry)
        tmp = f'{file}.tmp{os.getpid()}'
        torch.save(ckpt, tmp)
        os.replace(tmp, file)
        print_log(
            f'{name}: stored the validated thresholds in {file}',
            logger='current')

    def after_run(self, runner) -> None:
        # the entry describes this run's weights only: later evaluations
        # in the same process must not pick it up
        if self._published:
            runner.message_hub.pop_info(RUNTIME_KEY, None)
            self._published = False

    # ------------------------------------------------------------------
    # testing: publish the loaded checkpoint's threshold
    # ------------------------------------------------------------------
    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        meta = checkpoint.get('meta') or {}
        entry = meta.get(CHECKPOINT_KEY)
        if not isinstance(entry, dict):
            entry = None  # saved without this hook
        name = runner.cfg.get('load_from') or 'the loaded checkpoint'
        runner.message_hub.update_info(
            RUNTIME_KEY, dict(checkpoint=name, entry=entry), resumed=False)
        self._published = True
        if entry is None or 'thresholds' not in entry:
            return
        print_log(
            f'{type(self).__name__}: {name} carries the thresholds '
            f'{entry["thresholds"]} validated at epoch {entry.get("epoch")}, '
            f'iter {entry.get("iter")}',
            logger='current')
        model = runner.model.module if is_model_wrapper(
            runner.model) else runner.model
        head = getattr(model, 'head', None)
        if isinstance(entry.get('threshold'), float) and getattr(
                head, 'multi_label', False) and isinstance(
                    getattr(head, 'threshold', None), float):
            # the head's pred_paths (tools/test.py --out) select with it too
            head.threshold = entry['threshold']
            print_log(
                f'{type(self).__name__}: the head selects paths with '
                f'{entry["key"]} = {head.threshold:.6g}',
                logger='current')
