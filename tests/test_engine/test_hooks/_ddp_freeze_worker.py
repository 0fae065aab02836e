# Copyright (c) mmhier contributors. All rights reserved.
"""Toy Runner set-up for the AlternatingFreezeHook tests, and a DDP worker.

The test modules import this file for :func:`build_runner` and
:func:`authors_phases`. Run as a
script, it is one rank of a CPU DDP run (backend gloo)::

    RANK=0 WORLD_SIZE=2 LOCAL_RANK=0 MASTER_ADDR=127.0.0.1 \
    MASTER_PORT=29500 python _ddp_freeze_worker.py OUT_DIR

and writes what it saw to ``OUT_DIR/rank{RANK}.pt`` for the parent test to
check.
"""
import logging
import os
import os.path as osp
import sys

import torch
import torch.distributed as dist
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper
from mmengine.runner import Runner
from torch.utils.data import Dataset

NUM_SAMPLES = 16
BATCH_SIZE = 4  # 4 iterations per epoch in one process, 2 per rank in two


def authors_phases(alt1: int, alt2: int, n_epoch: int) -> list:
    """The part trained at each epoch by the authors' released training
    loop (hc-s2s-oi-v1-2-pr-run-val-se.py), transcribed: a stateful flip,
    epochs counted from 0."""
    tr_now, phases = 'rnn', []
    for epoch in range(n_epoch):
        if epoch > alt1:
            tr_now = 'all'
        elif epoch % alt2 == 0 and epoch != 0:
            tr_now = 'cnn' if tr_now == 'rnn' else 'rnn'
        phases.append(tr_now)
    return phases


class ToyDataset(Dataset):
    """16 random 3x32x32 images in 3 classes, the same in every process."""

    metainfo = dict(classes=('a', 'b', 'c'))

    def __init__(self) -> None:
        gen = torch.Generator().manual_seed(0)
        self.images = torch.rand(NUM_SAMPLES, 3, 32, 32, generator=gen)
        self.labels = torch.arange(NUM_SAMPLES) % 3

    def __len__(self) -> int:
        return NUM_SAMPLES

    def __getitem__(self, idx: int) -> dict:
        from mmpretrain.structures import DataSample
        return dict(
            inputs=self.images[idx],
            data_samples=DataSample().set_gt_label(int(self.labels[idx])))


def unwrap(model):
    return model.module if is_model_wrapper(model) else model


def snapshot(model) -> dict:
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


class _ListHandler(logging.Handler):

    def __init__(self, messages: list) -> None:
        super().__init__(logging.INFO)
        self.messages = messages

    def emit(self, record) -> None:
        self.messages.append(record.getMessage())


class RecorderHook(Hook):
    """Record parameters, modes and the freeze hook's log lines.

    ``snapshots[0]`` is taken in ``before_train``; then one snapshot per
    epoch (or per iteration with ``per_iter=True``) is appended after it.
    """

    priority = 'LOWEST'

    def __init__(self, per_iter: bool = False) -> None:
        self.per_iter = per_iter
        self.snapshots = []
        self.modes = []
        self.messages = []
        self._handler = _ListHandler(self.messages)

    def before_train(self, runner) -> None:
        self.snapshots.append(snapshot(unwrap(runner.model)))
        runner.logger.addHandler(self._handler)

    def after_train_iter(self,
                         runner,
                         batch_idx,
                         data_batch=None,
                         outputs=None) -> None:
        model = unwrap(runner.model)
        bns = [
            m for m in model.backbone.modules()
            if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)
        ]
        self.modes.append(
            dict(
                epoch=runner.epoch,
                iter=runner.iter,
                backbone_bn_training=[m.training for m in bns],
                head_training=model.head.training,
                backbone_grad=[
                    p.requires_grad for p in model.backbone.parameters()
                ],
                head_grad=[p.requires_grad for p in model.head.parameters()]))
        if self.per_iter:
            self.snapshots.append(snapshot(model))

    def after_train_epoch(self, runner) -> None:
        if not self.per_iter:
            self.snapshots.append(snapshot(unwrap(runner.model)))

    def after_train(self, runner) -> None:
        runner.logger.removeHandler(self._handler)

    def results(self) -> dict:
        return dict(
            snapshots=self.snapshots,
            modes=self.modes,
            messages=[
                m for m in self.messages if 'AlternatingFreezeHook' in m
            ])


def build_runner(work_dir: str,
                 freeze_cfg: dict,
                 recorder: Hook,
                 optimizer: dict,
                 train_cfg: dict,
                 launcher: str = 'none',
                 name: str = 'freeze',
                 checkpoint: bool = False,
                 **kwargs) -> Runner:
    """A tiny ImageClassifier (2-stage ResNet with BN, GAP, linear head).

    ``checkpoint`` saves one every epoch; ``kwargs`` (e.g. ``resume``,
    ``load_from``) go to the Runner.
    """
    cfg = dict()
    if launcher != 'none':
        # what every config of the family sets for the freeze hook
        cfg['model_wrapper_cfg'] = dict(
            type='MMDistributedDataParallel', find_unused_parameters=True)
    return Runner(
        model=dict(
            type='ImageClassifier',
            backbone=dict(
                type='ResNet',
                depth=18,
                stem_channels=8,
                base_channels=8,
                num_stages=2,
                strides=(1, 2),
                dilations=(1, 1),
                out_indices=(1, )),
            neck=dict(type='GlobalAveragePooling'),
            head=dict(
                type='LinearClsHead',
                num_classes=3,
                in_channels=16,
                loss=dict(type='CrossEntropyLoss'))),
        work_dir=work_dir,
        experiment_name=name,
        train_dataloader=dict(
            dataset=ToyDataset(),
            sampler=dict(type='DefaultSampler', shuffle=True),
            batch_size=BATCH_SIZE,
            num_workers=0,
            persistent_workers=False),
        train_cfg=train_cfg,
        optim_wrapper=dict(optimizer=optimizer),
        custom_hooks=[freeze_cfg, recorder],
        default_hooks=dict(
            logger=dict(type='LoggerHook', interval=1),
            checkpoint=dict(type='CheckpointHook', interval=1)
            if checkpoint else None),
        default_scope='mmpretrain',
        launcher=launcher,
        randomness=dict(seed=0),
        cfg=cfg,
        **kwargs)


def main() -> None:
    out_dir = sys.argv[1]
    rank = int(os.environ['RANK'])
    # registers AlternatingFreezeHook and applies mmhier's CPU-DDP patch
    # (gloo, device_ids=None on CPU), which this run relies on
    import mmhier  # noqa: F401
    recorder = RecorderHook()
    runner = build_runner(
        osp.join(out_dir, 'work_dir'),
        freeze_cfg=dict(
            type='AlternatingFreezeHook', period=1, unfreeze_all_after=2),
        recorder=recorder,
        # momentum and weight decay: frozen weights must still not move
        optimizer=dict(type='SGD', lr=0.05, momentum=0.9, weight_decay=1e-3),
        train_cfg=dict(by_epoch=True, max_epochs=3),
        launcher='pytorch',
        name='ddp_freeze')
    runner.train()
    results = recorder.results()
    results['wrapper'] = type(runner.model).__name__
    results['world_size'] = dist.get_world_size()
    results['backend'] = dist.get_backend()
    torch.save(results, osp.join(out_dir, f'rank{rank}.pt'))
    dist.barrier()
    dist.destroy_process_group()


if __name__ == '__main__':
    main()
