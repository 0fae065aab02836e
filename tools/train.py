# Copyright (c) mmhier contributors. All rights reserved.
"""Train a model: mmpretrain's ``tools/train.py`` with mmhier loaded.

Same flags as mmpretrain's tool. On top of it, for the pinned stack (see
``STACK.md``):

- ``import mmhier`` registers mmhier's components and applies its compat
  layer (safe checkpoint loading, CPU ``torchrun``), also for a config that
  does not list ``mmhier`` in ``custom_imports``; the tool runs from a
  checkout without ``pip install`` (the repo root goes on ``sys.path``);
- ``--amp`` picks ``AmpOptimWrapper`` on CUDA and ``CPUBf16OptimWrapper``
  (bf16 autocast) without CUDA, where ``AmpOptimWrapper`` asserts a GPU;
- a dataloader with ``num_workers=0`` gets ``persistent_workers=False``
  (torch refuses the combination);
- ``--resume`` without a path resumes from a checkpoint inside the given
  work_dir, and says which: mmengine would follow ``last_checkpoint``, which
  holds an absolute path and so, in a copied work_dir, silently points at
  the original run.
"""
import argparse
import glob
import os
import os.path as osp
import re
import sys
from typing import List, Optional, Tuple

REPO_ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
if REPO_ROOT not in sys.path:
    sys.path.insert(0, REPO_ROOT)

import torch  # noqa: E402
from mmengine.config import Config, DictAction  # noqa: E402
from mmengine.logging import print_log  # noqa: E402
from mmengine.registry import RUNNERS  # noqa: E402
from mmengine.runner import Runner  # noqa: E402

import mmhier  # noqa: E402,F401  (registers, applies the compat layer)
from mmhier.engine.dataloader_cfg import (  # noqa: E402
    fix_persistent_workers, set_dataloader_defaults)
from mmhier.evaluation import set_threshold_files  # noqa: E402


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    """Parse the command line (``argv`` defaults to ``sys.argv[1:]``)."""
    parser = argparse.ArgumentParser(description='Train a model')
    parser.add_argument('config', help='train config file path')
    parser.add_argument('--work-dir', help='the dir to save logs and models')
    parser.add_argument(
        '--resume',
        nargs='?',
        type=str,
        const='auto',
        help='If a checkpoint path is given, resume from it; if not, resume '
        'from the latest checkpoint inside the work directory (the one '
        'named by its last_checkpoint file when that file lies in the '
        'work directory, else the newest epoch_*/iter_* file there).')
    parser.add_argument(
        '--amp',
        action='store_true',
        help='enable automatic-mixed-precision training (fp16 '
        'AmpOptimWrapper on CUDA, bf16 CPUBf16OptimWrapper without CUDA)')
    parser.add_argument(
        '--no-validate',
        action='store_true',
        help='whether not to evaluate the checkpoint during training')
    parser.add_argument(
        '--auto-scale-lr',
        action='store_true',
        help='whether to auto scale the learning rate according to the '
        'actual batch size and the original batch size.')
    parser.add_argument(
        '--no-pin-memory',
        action='store_true',
        help='whether to disable the pin_memory option in dataloaders.')
    parser.add_argument(
        '--no-persistent-workers',
        action='store_true',
        help='whether to disable the persistent_workers option in dataloaders.'
    )
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=DictAction,
        help='override some settings in the used config, the key-value pair '
        'in xxx=yyy format will be merged into config file. If the value to '
        'be overwritten is a list, it should be like key="[a,b]" or key=a,b '
        'It also allows nested list/tuple values, e.g. key="[(a,b),(c,d)]" '
        'Note that the quotation marks are necessary and that no white space '
        'is allowed.')
    parser.add_argument(
        '--launcher',
        choices=['none', 'pytorch', 'slurm', 'mpi'],
        default='none',
        help='job launcher')
    # torch.distributed.launch passes --local-rank (torch >= 2.0) or
    # --local_rank; torchrun sets LOCAL_RANK in the environment instead.
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)
    args = parser.parse_args(argv)
    if 'LOCAL_RANK' not in os.environ:
        os.environ['LOCAL_RANK'] = str(args.local_rank)
    return args


def _checkpoint_number(path: str) -> Tuple[int, float]:
    """Sort key of a checkpoint: the N of epoch_N/iter_N, then its mtime."""
    match = re.search(r'(\d+)\.pth$', osp.basename(path))
    return (int(match.group(1)) if match else -1, osp.getmtime(path))


def _inside(path: str, folder: str) -> bool:
    path, folder = osp.realpath(path), osp.realpath(folder)
    return osp.commonpath([path, folder]) == folder


def find_resume_checkpoint(work_dir: str) -> Tuple[Optional[str], str]:
    """The checkpoint that ``--resume`` (no path) should continue from.

    mmengine reads ``WORK_DIR/last_checkpoint``, which holds the absolute
    path written by the run that made it; a work_dir copied elsewhere thus
    resumes, without a word, from the original run's file (STACK.md item 8).
    Here the checkpoint is looked up inside ``work_dir``:

    1. the file named by ``last_checkpoint`` when it lies inside work_dir;
    2. else a file of the same name directly in work_dir (a copied
       work_dir);
    3. else the newest ``epoch_*.pth`` / ``iter_*.pth`` in work_dir;
    4. else the file named by ``last_checkpoint`` if it exists at all
       (e.g. a CheckpointHook ``out_dir`` elsewhere), with a warning.

    Args:
        work_dir (str): the work directory of the run to resume.

    Returns:
        tuple: ``(path or None, message)``, the message saying which rule
        chose the file (or that none was found).
    """
    recorded = None
    record_file = osp.join(work_dir, 'last_checkpoint')
    if osp.isfile(record_file):
        with open(record_file) as f:
            recorded = f.read().strip() or None
    if recorded is not None:
        if not osp.isabs(recorded):
            recorded = osp.join(work_dir, recorded)
        if osp.isfile(recorded) and _inside(recorded, work_dir):
            return recorded, (f'resuming from {recorded} (named by '
                              f'{record_file})')
        local = osp.join(work_dir, osp.basename(recorded))
        if osp.isfile(local):
            return local, (f'resuming from {local}: {record_file} names '
                           f'{recorded}, outside the work_dir (a copied '
                           'work_dir?), so the file of that name in the '
                           'work_dir is used')
    candidates = [
        p for p in glob.glob(osp.join(work_dir, '*.pth'))
        if re.match(r'(epoch|iter)_\d+\.pth$', osp.basename(p))
    ]
    if candidates:
        latest = max(candidates, key=_checkpoint_number)
        return latest, (f'resuming from {latest}, the latest checkpoint in '
                        f'{work_dir}')
    if recorded is not None and osp.isfile(recorded):
        return recorded, (f'WARNING: no checkpoint inside {work_dir}; '
                          f'resuming from {recorded}, named by '
                          f'{record_file}. Pass --resume PATH to choose.')
    return None, (f'no checkpoint found in {work_dir}: training starts '
                  'afresh (from load_from if the config sets it)')


def merge_args(cfg: Config, args: argparse.Namespace) -> Config:
    """Merge CLI arguments into the config (as mmpretrain, plus the fixes)."""
    if args.no_validate:
        cfg.val_cfg = None
        cfg.val_dataloader = None
        cfg.val_evaluator = None

    cfg.launcher = args.launcher

    # work_dir is determined in this priority: CLI > segment in file > filename
    if args.work_dir is not None:
        cfg.work_dir = args.work_dir
    elif cfg.get('work_dir', None) is None:
        cfg.work_dir = osp.join('./work_dirs',
                                osp.splitext(osp.basename(args.config))[0])
    # multi-label metrics store the threshold chosen on validation in the
    # work_dir, and the test run reads it back from there
    set_threshold_files(cfg)

    # mixed precision: AmpOptimWrapper (fp16 + loss scaling) asserts a GPU;
    # on the CPU, bf16 autocast needs no loss scaling (STACK.md item 6).
    if args.amp is True:
        if torch.cuda.is_available():
            cfg.optim_wrapper.type = 'AmpOptimWrapper'
            cfg.optim_wrapper.setdefault('loss_scale', 'dynamic')
        else:
            cfg.optim_wrapper.type = 'CPUBf16OptimWrapper'
            cfg.optim_wrapper.pop('loss_scale', None)
            cfg.optim_wrapper.pop('dtype', None)

    # resume training
    if args.resume == 'auto':
        checkpoint, message = find_resume_checkpoint(cfg.work_dir)
        print_log(message, logger='current')
        if checkpoint is not None:
            cfg.resume = True
            cfg.load_from = checkpoint
        else:  # start afresh, from the config's load_from if it has one
            cfg.resume = False
    elif args.resume is not None:
        cfg.resume = True
        cfg.load_from = args.resume

    if args.auto_scale_lr:
        if cfg.get('auto_scale_lr', None) is None:
            raise ValueError('--auto-scale-lr needs `auto_scale_lr = dict('
                             'base_batch_size=...)` in the config '
                             f'{args.config!r}')
        cfg.auto_scale_lr.enable = True

    loaders = ('train_dataloader', 'val_dataloader', 'test_dataloader')
    set_dataloader_defaults(
        cfg,
        loaders,
        no_pin_memory=args.no_pin_memory,
        persistent_workers=True,
        no_persistent_workers=args.no_persistent_workers)

    if args.cfg_options is not None:
        cfg.merge_from_dict(args.cfg_options)

    fix_persistent_workers(cfg, loaders)  # after --cfg-options

    return cfg


def main(argv: Optional[List[str]] = None) -> Runner:
    """Train as configured; return the runner (for tests)."""
    args = parse_args(argv)
    cfg = Config.fromfile(args.config)
    cfg = merge_args(cfg, args)

    if 'runner_type' not in cfg:
        runner = Runner.from_cfg(cfg)
    else:
        runner = RUNNERS.build(cfg)

    runner.train()
    return runner


if __name__ == '__main__':
    main()
