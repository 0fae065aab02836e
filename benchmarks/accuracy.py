# Copyright (c) mmhier contributors. All rights reserved.
"""Accuracy of hierarchical models against a flat one, on real data.

Trains every model below with one backbone and one budget (same epochs,
schedule, augmentation and training images), for several seeds each, and
reports the mean and standard deviation over seeds of path accuracy, node
accuracy, per-level accuracy, hierarchical F1 and mistake severity, plus a
PNG of test path accuracy against epochs for each model.

Models (Fashion-MNIST with the WordNet-derived trees of
``mmhier/datasets/trees``; ``fixed`` = every class at depth 3, 18 nodes;
``variable`` = leaves at depths 1-5, 15 nodes):

============== ======== ==================================================
name           tree     model
============== ======== ==================================================
flat           fixed    flat baseline, one class per node (Remark 1)
flat-var       variable the same on the variable tree
rnn            fixed    DHNN CNN-RNN, pooling conversion
rnn-resi       fixed    ... with residual arcs
rnn-alt        fixed    ... with alternating training
rnn-alt-resi   fixed    ... with both
s2s-linear     variable DHNN CNN-S2S, linear (n-mode) conversion
s2s-conv       variable ... convolutional conversion
s2s-pool       variable ... pooling conversion
guo            fixed    Guo et al.'s CNN-RNN generator (greedy decoding)
hiernet        fixed    HierNet, scored as ``hiernet-slow`` and
                        ``hiernet-fast`` (one training, two evaluations)
============== ======== ==================================================

Each model comes from its config in ``configs/hier/`` (the file a user
trains) with only the budget overridden (epochs, training subset, seed,
work_dir, logging, no checkpoints); a model without a config file is built
in this script from the nearest config and the table says so.

Budget. The configs' backbone (``ResNet_CIFAR``-18, 16 base channels, full
28 px resolution in stage 1) is too slow for 33 runs in 90 minutes on a
2-core CPU. The default ``--backbone small`` keeps its width and depth but
uses ResNet's ImageNet stem (stride-2 convolution and max pooling, stage
maps 7, 4, 2, 1 px), about 9x cheaper (2,140 against 230 training
images per second on one core here); ``--backbone config`` keeps the
configs' one. The default (full) mode trains on the first 12,000 training
images (about 1,200 per class) for 6 epochs and tests on all 10,000 test
images after every epoch (the test split is the configs' validation set;
the reported numbers are those of the last epoch, no model selection), 3
seeds: 11 runs per seed, two at a time (``--jobs 2``, one thread
each), sized to finish within 90 minutes on the 2-core machine (it took
40 minutes there, shared with other jobs). ``--quick``: 3,000 training
images, 2 epochs, 2,000 test images, 1 seed (under 10 minutes; 3.6 minutes
there). ``--smoke``: a few images, for tests.

Alternating training keeps the configs' share of the schedule: one period
of ``max(1, epochs // 6)`` epochs for the RNN part (CNN frozen), one for the
CNN part, then everything; with ``--quick``'s 2 epochs it never reaches the
joint phase.

CIFAR-100 (two-level tree, 20 superclasses x 5 classes): ``--dataset
cifar100 --data-root DIR`` where DIR holds ``cifar-100-python/``.

Usage:
    python benchmarks/accuracy.py [--quick] [--seeds 0 1 2] [--jobs 1]
        [--data-root /usr/share/datasets/fashion-mnist] [--device cpu]
        [--out work_dirs/benchmarks]
"""
import argparse
import copy
import json
import os
import os.path as osp
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Dict, List, Optional

sys.path.insert(0, osp.dirname(osp.abspath(__file__)))
# yapf: disable
from _common import (REPO_ROOT, command_line,  # noqa: E402
                     machine_info, mean_std, write_report)
# yapf: enable

CONFIG_DIR = osp.join(REPO_ROOT, 'configs', 'hier')
DEFAULT_ROOTS = dict(
    fmnist='/usr/share/datasets/fashion-mnist', cifar100='data/cifar100')

# name -> (config stem, how to build it when the file is missing)
MODELS_FMNIST = {
    'flat': ('../flat/flat_resnet18-tiny_fmnist-fixed', None),
    'flat-var': ('../flat/flat_resnet18-tiny_fmnist', None),
    'rnn': ('rnn-pool_resnet18-tiny_fmnist-fixed', None),
    'rnn-resi': ('rnn-pool-resi_resnet18-tiny_fmnist-fixed', None),
    'rnn-alt': ('rnn-alt-pool_resnet18-tiny_fmnist-fixed',
                ('alternate', 'rnn-pool_resnet18-tiny_fmnist-fixed')),
    'rnn-alt-resi':
    ('rnn-alt-pool-resi_resnet18-tiny_fmnist-fixed',
     ('alternate', 'rnn-pool-resi_resnet18-tiny_fmnist-fixed')),
    's2s-linear': ('s2s-linear_resnet18-tiny_fmnist', None),
    's2s-conv': ('s2s-conv_resnet18-tiny_fmnist', None),
    's2s-pool': ('s2s-pool_resnet18-tiny_fmnist', None),
    'guo': ('guo-rnn_resnet18-tiny_fmnist-fixed',
            ('guo', '../flat/flat_resnet18-tiny_fmnist-fixed')),
    'hiernet': ('hiernet_resnet18-tiny_fmnist-fixed',
                ('hiernet', '../flat/flat_resnet18-tiny_fmnist-fixed')),
    # the joint models (a DHNN head and a flat classifier, fused)
    'joint-rnn': ('joint-rnn-pool-resi_resnet18-tiny_fmnist-fixed', None),
    'joint-s2s': ('joint-s2s-pool_resnet18-tiny_fmnist', None),
    # ... with coarse-constrained pseudo-labels (partial labels)
    'joint-rnn-pseudo':
    ('joint-rnn-pool-resi-pseudo_resnet18-tiny_fmnist-fixed', None),
    # the paper's S2S decoder
    's2s-paperdec': ('s2s-pool-paperdec_resnet18-tiny_fmnist', None),
    # Guo et al.'s CNN-based multi-level baseline (masked coarse levels)
    'multi-level':
    ('../guo_cnn_rnn/fine-and-coarse_resnet18-tiny_fmnist-fixed', None),
    # hierarchy-aware flat baselines (configs/hier_aware/)
    'flat-softlabels':
    ('../hier_aware/flat-softlabels_resnet18-tiny_fmnist-fixed', None),
    'flat-hxe': ('../hier_aware/flat-hxe_resnet18-tiny_fmnist-fixed', None),
    'flat-crm': ('../hier_aware/flat-crm_resnet18-tiny_fmnist-fixed', None),
    # the flat model trained on the fine-labelled images only
    # (--fine-fraction; the same number of iterations)
    'flat-fine': ('../flat/flat_resnet18-tiny_fmnist-fixed', None),
}
# ablations of s2s-pool (one change each), configs/hier/ablation_fmnist/
MODELS_FMNIST.update({
    f's2s-{name}': (f'ablation_fmnist/s2s-{name}_resnet18-tiny_fmnist', None)
    for name in ('pool-laststage', 'pool-allstages', 'poolgrid', 'poolglobal',
                 'pool-ss', 'pool-unidir', 'pool-lw', 'pool-dropout',
                 'pool-ls')
})
# models trained on fine labels only under --fine-fraction
FINE_ONLY = ('flat-fine', )
MODELS_CIFAR = {
    'flat': ('../flat/flat_resnet18-tiny_cifar100', None),
    'rnn': ('rnn-pool_resnet18-tiny_cifar100', None),
    'rnn-resi': ('rnn-pool-resi_resnet18-tiny_cifar100', None),
    'rnn-alt': ('rnn-alt-pool_resnet18-tiny_cifar100',
                ('alternate', 'rnn-pool_resnet18-tiny_cifar100')),
    'rnn-alt-resi': ('rnn-alt-pool-resi_resnet18-tiny_cifar100',
                     ('alternate', 'rnn-pool-resi_resnet18-tiny_cifar100')),
    's2s-linear': ('s2s-linear_resnet18-tiny_cifar100', None),
    's2s-conv': ('s2s-conv_resnet18-tiny_cifar100', None),
    's2s-pool': ('s2s-pool_resnet18-tiny_cifar100', None),
    'guo':
    ('guo-rnn_resnet18-tiny_cifar100',
     ('guo', '../flat/flat_resnet18-tiny_cifar100')),
    'hiernet': ('hiernet_resnet18-tiny_cifar100',
                ('hiernet', '../flat/flat_resnet18-tiny_cifar100')),
}
# the flat model each hierarchical one is compared with (same tree)
BASELINE = {
    'flat-var': None,
    's2s-linear': 'flat-var',
    's2s-conv': 'flat-var',
    's2s-pool': 'flat-var',
    'joint-s2s': 'flat-var',
    's2s-paperdec': 'flat-var',
    **{
        name: 'flat-var'
        for name in MODELS_FMNIST if name.startswith('s2s-')
    }
}

MODES = dict(
    full=dict(train_images=12000, test_images=None, epochs=6, seeds=[0, 1, 2]),
    quick=dict(train_images=3000, test_images=2000, epochs=2, seeds=[0]),
    smoke=dict(train_images=48, test_images=32, epochs=1, seeds=[0]))


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument(
        '--dataset', choices=['fmnist', 'cifar100'], default='fmnist')
    parser.add_argument('--data-root', default=None)
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument('--quick', action='store_true')
    mode.add_argument(
        '--smoke',
        action='store_true',
        help='a few images and tiny widths: for the tests')
    parser.add_argument('--models', nargs='*', default=None)
    parser.add_argument('--seeds', type=int, nargs='*', default=None)
    parser.add_argument('--epochs', type=int, default=None)
    parser.add_argument(
        '--train-images',
        type=int,
        default=None,
        help='first N training images (0: all)')
    parser.add_argument(
        '--test-images',
        type=int,
        default=None,
        help='first N test images (0: all)')
    parser.add_argument(
        '--fine-fraction',
        type=float,
        nargs='*',
        default=None,
        help='partial labels: keep the full path of this share of each '
        'class of the training images and only the level-2 prefix (a/b/*) '
        'of the others; several values run each. flat-fine trains on the '
        'fine images alone for the same number of iterations')
    parser.add_argument(
        '--fine-repeat',
        type=int,
        default=1,
        help='partial labels: list each fine image this often per epoch '
        'for the models that also learn from coarse labels (the epochs '
        'shrink to keep the number of iterations)')
    parser.add_argument(
        '--eval-last',
        action='store_true',
        help='evaluate after the last epoch only (no curves)')
    parser.add_argument('--batch', type=int, default=128)
    parser.add_argument(
        '--backbone', choices=['small', 'config'], default='small')
    parser.add_argument(
        '--jobs',
        type=int,
        default=2,
        help='runs in parallel (subprocesses); 0 = all in '
        'this process, one after the other')
    parser.add_argument(
        '--threads',
        type=int,
        default=1,
        help='torch threads per run (0: torch default); one '
        'thread per job: two threads per run on a shared '
        '2-core machine ran 20x slower here')
    parser.add_argument('--out', default='work_dirs/benchmarks')
    parser.add_argument('--name', default=None)
    parser.add_argument('--no-plot', action='store_true')
    parser.add_argument(
        '--summarise-only',
        action='store_true',
        help='train nothing: report the runs already saved '
        'in <out>/accuracy_runs (e.g. after a time-out)')
    parser.add_argument('--run-one', default=None, help=argparse.SUPPRESS)
    parser.add_argument('--seed', type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument(
        '--fraction', type=float, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    args.mode = 'smoke' if args.smoke else 'quick' if args.quick else 'full'
    preset = MODES[args.mode]
    for key in ('train_images', 'test_images', 'epochs', 'seeds'):
        if getattr(args, key) is None:
            setattr(args, key, preset[key])
    if args.data_root is None:
        args.data_root = DEFAULT_ROOTS[args.dataset]
    table = MODELS_FMNIST if args.dataset == 'fmnist' else MODELS_CIFAR
    if args.models is None:
        args.models = list(table)
    if args.fine_fraction and any(not 0 < f <= 1 for f in args.fine_fraction):
        parser.error(f'--fine-fraction values must be in (0, 1], got '
                     f'{args.fine_fraction}')
    unknown = [m for m in args.models if m not in table]
    if unknown:
        parser.error(f'unknown models {unknown}; choose from {list(table)}')
    if args.smoke:
        args.batch = min(args.batch, 16)
    return args


# ----------------------------------------------------------------------
# configs
# ----------------------------------------------------------------------
def load_config(name: str, args):
    """The config of model ``name`` with the budget applied, and where it
    came from."""
    from mmengine.config import Config
    table = MODELS_FMNIST if args.dataset == 'fmnist' else MODELS_CIFAR
    stem, fallback = table[name]
    path = osp.join(CONFIG_DIR, stem + '.py')
    if osp.exists(path):
        cfg = Config.fromfile(path)
        source = osp.relpath(path, REPO_ROOT)
    elif fallback is None:
        raise FileNotFoundError(f'config {path} of model {name!r} is missing')
    else:
        how, base = fallback
        base_path = osp.join(CONFIG_DIR, base + '.py')
        cfg = Config.fromfile(base_path)
        BUILDERS[how](cfg)
        source = (f'built in the script from '
                  f'{osp.relpath(base_path, REPO_ROOT)} ({how})')
    apply_budget(cfg, name, args)
    return cfg, source


def _tree_of(cfg) -> Any:
    tree = cfg.get('class_tree')
    if tree is None:
        raise KeyError('the dataset config defines no class_tree')
    return copy.deepcopy(tree)


def _feat_channels(cfg) -> int:
    bb = cfg.model.backbone
    return bb.get('base_channels', 64) * 8


def build_alternate(cfg) -> None:
    """Alternating training on top of a CNN-RNN config."""
    cfg.custom_hooks = [
        dict(type='AlternatingFreezeHook', period=1, unfreeze_all_after=2)
    ]


def build_guo(cfg) -> None:
    """Guo et al.'s generator on the flat config's backbone."""
    cfg.model.neck = dict(type='GlobalAveragePooling')
    cfg.model.head = dict(
        type='GuoRNNHead',
        tree=_tree_of(cfg),
        in_channels=_feat_channels(cfg),
        hidden_size=128,
        decoder='greedy')


def build_hiernet(cfg) -> None:
    """HierNet on the flat config's backbone: the trunk holds stages 1-2,
    each lower level of the tree gets a copy of one later stage."""
    from mmhier.structures import ClassTree
    tree = _tree_of(cfg)
    backbone = dict(cfg.model.backbone)
    backbone.pop('out_indices', None)
    depth = ClassTree.build(tree).max_depth
    if depth not in (2, 3):
        raise ValueError(f'HierNet split points are set for trees of depth '
                         f'2 or 3, got {depth}')
    # residual blocks of ResNet-18: 2 per stage, 8 in all
    split = [4, 6] if depth == 3 else [6]
    cfg.model = dict(
        type='HierNetClassifier',
        tree=tree,
        backbone=backbone,
        split_points=split,
        eval_mode='both',
        main_eval='slow')


BUILDERS = dict(
    alternate=build_alternate, guo=build_guo, hiernet=build_hiernet)


def small_backbone(cfg) -> None:
    """ResNet's ImageNet stem instead of the CIFAR one (about 9x faster)."""
    model = cfg.model
    bb = model.backbone
    new = dict(
        type='ResNet',
        depth=bb.get('depth', 18),
        in_channels=bb.get('in_channels', 3),
        stem_channels=bb.get('stem_channels', 16),
        base_channels=bb.get('base_channels', 16))
    if 'out_indices' in bb:
        new['out_indices'] = bb['out_indices']
    model.backbone = new
    neck = model.get('neck')
    if neck is not None and neck.get('type') == 'HierConversionNeck':
        neck['strides'] = (4, 8, 16, 32)


def apply_budget(cfg, name: str, args) -> None:
    """Epochs, data subset, seed, quiet logging, no checkpoints."""
    if args.backbone == 'small':
        small_backbone(cfg)
    if args.smoke:  # tiny widths: seconds per run
        _shrink(cfg)
    one_path = cfg.model.get('type') == 'HierNetClassifier' or cfg.model.get(
        'head', {}).get('type') == 'GuoRNNHead'
    if one_path:
        # greedy decoding / routing gives one path: hdist@1 only
        evaluators = []
        for ev in cfg.val_evaluator:
            ev = dict(ev)
            if ev['type'] == 'MistakeSeverity':
                ev['topk'] = 1
            evaluators.append(ev)
        cfg.val_evaluator = evaluators
        cfg.test_evaluator = evaluators
    epochs = args.epochs
    cfg.train_cfg = dict(
        by_epoch=True,
        max_epochs=epochs,
        val_interval=epochs if args.eval_last else 1)
    scheduler = cfg.get('param_scheduler')
    if isinstance(scheduler, dict) and 'T_max' in scheduler:
        scheduler['T_max'] = epochs
    for hook in cfg.get('custom_hooks', []) or []:
        if hook.get('type') == 'AlternatingFreezeHook':
            # the configs give one epoch to each of the two alternating
            # phases of their 3-epoch schedule; keep that share of the
            # budget: RNN, CNN, then everything
            period = max(1, epochs // 6)
            hook.update(period=period, unfreeze_all_after=2 * period)
    data_root = args.data_root
    for key in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        loader = cfg[key]
        loader.dataset.data_root = data_root
        if args.dataset == 'fmnist':
            loader.dataset.download = False
        elif args.smoke:  # tests use small fake CIFAR-100 files
            loader.dataset.verify_md5 = False
        n = args.train_images if key == 'train_dataloader' else \
            args.test_images
        if n:
            loader.dataset.indices = n
        loader.batch_size = args.batch if key == 'train_dataloader' \
            else max(args.batch, 256 if not args.smoke else 16)
        loader.num_workers = 0
        loader.persistent_workers = False
    fraction = getattr(args, 'fraction', None)
    if fraction is not None and fraction < 1:
        epochs = partial_labels(cfg, name, fraction, args)
        if args.eval_last:
            cfg.train_cfg.val_interval = epochs
    cfg.randomness = dict(seed=args.seed, deterministic=False)
    cfg.work_dir = osp.join(
        args.out, 'accuracy_runs', f'{args.dataset}_{_key(name, args)}_seed'
        f'{args.seed}')
    cfg.default_hooks.logger = dict(type='LoggerHook', interval=10**6)
    cfg.default_hooks.checkpoint = dict(
        type='CheckpointHook', interval=-1, save_last=False)
    cfg.log_level = 'WARNING'
    cfg.load_from = None
    cfg.resume = False
    cfg.launcher = 'none'


def partial_labels(cfg, name: str, fraction: float, args) -> int:
    """Full paths for ``fraction`` of each class, level-2 prefixes for the
    rest (dropped for the fine-only models, which then get the iterations
    of ``args.epochs`` epochs on all images). Returns the epochs."""
    from mmhier.engine.dataloader_cfg import use_partial_labels
    return use_partial_labels(
        cfg,
        fraction,
        args.train_images or 60000,
        keep='fine' if name in FINE_ONLY else 'all',
        seed=args.seed,
        fine_repeat=1 if name in FINE_ONLY else args.fine_repeat)


def _shrink(cfg) -> None:
    """Smallest widths that keep every part of the model working."""
    model = cfg.model
    bb = model.get('backbone')
    if bb is not None:
        bb['base_channels'] = 4
        bb['stem_channels'] = 4
    neck, head = model.get('neck'), model.get('head')
    if neck is not None and neck.get('type') == 'HierConversionNeck':
        neck['in_channels'] = (4, 8, 16, 32)
        neck['out_channels'] = 32  # p: the widest stage pools to 1x1
        if 'in_shapes' in neck:
            del neck['in_shapes']
    for part in (head, (head or {}).get('hier_head')):
        if part is not None:
            if 'in_channels' in part:
                part['in_channels'] = 32
            if 'hidden_size' in part:
                part['hidden_size'] = 8


# ----------------------------------------------------------------------
# one run
# ----------------------------------------------------------------------
class _Collector:
    """Keeps the test predictions of every validation epoch and scores
    them with the metrics' own ``calculate`` functions (one code path for
    every model, the fast and slow views of HierNet included)."""

    def __init__(self, tree):
        self.tree = tree
        self.epochs: List[Dict[str, Dict[str, float]]] = []
        self._batch: List = []

    def hook(self):
        from mmengine.hooks import Hook
        collector = self

        class _Hook(Hook):
            priority = 'LOWEST'

            def before_val_epoch(self, runner) -> None:
                collector._batch = []

            def after_val_iter(self,
                               runner,
                               batch_idx,
                               data_batch=None,
                               outputs=None) -> None:
                collector._batch.extend(outputs)

            def after_val_epoch(self, runner, metrics=None) -> None:
                collector.epochs.append(collector.score(collector._batch))
                collector._batch = []

        return _Hook()

    def score(self, samples) -> Dict[str, Dict[str, float]]:
        import torch

        from mmhier.evaluation.functional import (get_gt_paths, get_pred_path,
                                                  get_pred_topk_paths)
        from mmhier.evaluation.metrics import (HierAccuracy, HierF1,
                                               MistakeSeverity)
        tree = self.tree
        gt = torch.stack([get_gt_paths(s, tree)[0] for s in samples])
        views = {'': samples}
        if samples and samples[0].get('pred_path_fast') is not None:
            views = {'-slow': 'slow', '-fast': 'fast'}
        out = {}
        for suffix, view in views.items():
            if isinstance(view, str):
                pred = torch.stack([
                    torch.as_tensor(s.get(f'pred_path_{view}')).view(-1)
                    for s in samples
                ])
                top = pred[:, None]
            else:
                pred = torch.stack([get_pred_path(s, tree) for s in view])
                top = torch.stack(
                    [get_pred_topk_paths(s, tree, 1) for s in view])
            acc = HierAccuracy.calculate(pred, gt, tree)
            f1 = HierF1.calculate(pred, gt, tree)
            sev = MistakeSeverity.calculate(top, gt, 1)
            row = dict(
                path_acc=acc['path_acc'],
                node_acc=acc['node_acc'],
                h_f1=f1['h_f1'],
                mistake_severity=sev['mistake_severity'],
                invalid_path_rate=acc.get('invalid_path_rate', 0.0))
            for t in range(tree.max_depth):
                row[f'level{t + 1}_acc'] = acc[f'level{t + 1}_acc']
            out[suffix] = row
        return out


def run_one(name: str, args) -> Dict[str, Any]:
    """Train and test one model for one seed; returns its scores."""
    import torch
    from mmengine.logging import MMLogger
    from mmengine.runner import Runner

    import mmhier  # noqa: F401
    from mmhier.structures import ClassTree
    if args.threads:
        torch.set_num_threads(args.threads)
    cfg, source = load_config(name, args)
    start = time.perf_counter()
    _plain_config_text()
    runner = Runner.from_cfg(cfg)  # on the GPU when there is one
    tree = ClassTree.build(
        runner.train_dataloader.dataset.metainfo['class_tree'])
    collector = _Collector(tree)
    runner.register_hook(collector.hook(), 'LOWEST')
    runner.train()
    seconds = time.perf_counter() - start
    MMLogger._instance_dict.clear()
    params = sum(p.numel() for p in runner.model.parameters())
    return dict(
        model=_key(name, args),
        seed=args.seed,
        source=source,
        tree_nodes=tree.num_nodes,
        tree_depth=tree.max_depth,
        params=params,
        seconds=seconds,
        epochs=collector.epochs)


def _key(name: str, args) -> str:
    """Row name of a model: ``name@F`` under a fine fraction,
    ``name-xR@F`` when its fine images are repeated R times."""
    fraction = getattr(args, 'fraction', None)
    if fraction is None:
        return name
    repeat = getattr(args, 'fine_repeat', 1)
    if repeat > 1 and name not in FINE_ONLY:
        return f'{name}-x{repeat}@{fraction:g}'
    return f'{name}@{fraction:g}'


def _plain_config_text() -> None:
    """mmengine formats the whole config with yapf three or four times per
    run (to log it and dump it to the work_dir): about 10 s of CPU per run
    on this machine, more than a quick run's training. In this benchmark's
    process the dumps get a plain ``pformat`` of the config instead."""
    import pprint

    from mmengine.config import Config
    Config.pretty_text = property(
        lambda self: pprint.pformat(self.to_dict(), width=79))


def _result_path(key: str, seed: int, args) -> str:
    folder = osp.join(args.out, 'accuracy_runs')
    os.makedirs(folder, exist_ok=True)
    return osp.join(folder, f'{args.dataset}_{args.mode}_{key}_seed{seed}'
                    '.json')


def _subprocess_run(name: str, seed: int, fraction: Optional[float],
                    args) -> Dict[str, Any]:
    one = copy.copy(args)
    one.fraction = fraction
    out_json = _result_path(_key(name, one), seed, args)
    cmd = [sys.executable, osp.abspath(__file__)] + args.argv + [
        '--run-one', name, '--seed', str(seed)
    ] + ([] if fraction is None else ['--fraction',
                                      str(fraction)])
    env = dict(os.environ)
    env['ACCURACY_RESULT'] = out_json
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if proc.returncode:
        raise RuntimeError(f'run {name} seed {seed} failed:\n'
                           f'{proc.stderr[-4000:]}')
    with open(out_json) as f:
        return json.load(f)


# ----------------------------------------------------------------------
# report
# ----------------------------------------------------------------------
METRIC_COLUMNS = ('path_acc', 'node_acc', 'h_f1', 'mistake_severity')


def summarise(results: List[Dict[str, Any]], args):
    """Mean/std rows per model (and HierNet view) over seeds."""
    by_key: Dict[str, List] = {}
    meta: Dict[str, Dict[str, Any]] = {}
    for res in results:
        for suffix, scores in res['epochs'][-1].items():
            key = res['model'] + suffix
            by_key.setdefault(key, []).append(scores)
            meta[key] = dict(
                source=res['source'],
                depth=res['tree_depth'],
                params=res['params'],
                seconds=[])
    for res in results:
        for suffix in res['epochs'][-1]:
            meta[res['model'] + suffix]['seconds'].append(res['seconds'])
    rows, stats = [], {}
    max_depth = max(m['depth'] for m in meta.values())
    for key, runs in by_key.items():
        row = dict(model=key, seeds=len(runs))
        stats[key] = {}
        for metric in runs[0]:
            values = [r[metric] for r in runs if r[metric] == r[metric]]
            if not values:
                row[metric] = 'nan'
                continue
            ms = mean_std(values)
            stats[key][metric] = ms
            row[metric] = f'{ms["mean"]:.2f} ± {ms["std"]:.2f}'
        base = _baseline(key)
        if base not in by_key:  # CIFAR-100: one tree, one flat model
            base = 'flat'
        if base in stats and key != base and 'path_acc' in stats[key]:
            diff = stats[key]['path_acc']['mean'] - stats[base]['path_acc'][
                'mean']
            row['path_acc_vs_flat'] = f'{diff:+.2f} (vs {base})'
        else:
            row['path_acc_vs_flat'] = '-'
        row['params'] = meta[key]['params']
        row['min_per_run'] = sum(meta[key]['seconds']) / len(
            meta[key]['seconds']) / 60
        rows.append(row)
    columns = (['model', 'seeds'] + list(METRIC_COLUMNS) +
               ['path_acc_vs_flat'] +
               [f'level{t + 1}_acc' for t in range(max_depth)] +
               ['invalid_path_rate', 'params', 'min_per_run'])
    sources = [dict(model=k, config=m['source']) for k, m in meta.items()]
    return rows, columns, sources, stats


def _baseline(key: str) -> str:
    key, _, fraction = key.partition('@')
    if fraction:  # partial labels: the flat model on the fine images
        return f'flat-fine@{fraction}'
    name = key.split('-slow')[0].split('-fast')[0]
    if name in BASELINE:
        return BASELINE[name] or key
    return 'flat'


def plot_curves(results: List[Dict[str, Any]], path: str) -> Optional[str]:
    """Test path accuracy against epochs, mean over seeds, one line per
    model (and HierNet view)."""
    try:
        import matplotlib
        matplotlib.use('Agg')
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    curves: Dict[str, List[List[float]]] = {}
    for res in results:
        for e, epoch in enumerate(res['epochs']):
            for suffix, scores in epoch.items():
                per_seed = curves.setdefault(res['model'] + suffix, [])
                while len(per_seed) <= e:
                    per_seed.append([])
                per_seed[e].append(scores['path_acc'])
    fig, ax = plt.subplots(figsize=(8, 5))
    colors = plt.get_cmap('tab20').colors
    for i, (key, per_epoch) in enumerate(curves.items()):
        xs = list(range(1, len(per_epoch) + 1))
        ys = [sum(v) / len(v) for v in per_epoch]
        style = '--' if key.startswith('flat') else '-'
        ax.plot(
            xs,
            ys,
            style,
            marker='o',
            label=key,
            color=colors[i % len(colors)])
    ax.set_xlabel('epoch')
    ax.set_ylabel('test path accuracy (%)')
    ax.set_title('Test path accuracy (mean over seeds)')
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, ncol=2)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def plot_fractions(stats: Dict[str, Any], path: str) -> Optional[str]:
    """Test path accuracy (mean and std over seeds) against the fine
    fraction F, one line per model."""
    try:
        import matplotlib
        matplotlib.use('Agg')
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    lines: Dict[str, List] = {}
    for key, metrics in stats.items():
        name, _, fraction = key.partition('@')
        if fraction and 'path_acc' in metrics:
            ms = metrics['path_acc']
            lines.setdefault(name, []).append(
                (float(fraction), ms['mean'], ms['std']))
    if not lines:
        return None
    fig, ax = plt.subplots(figsize=(7, 5))
    for name, points in sorted(lines.items()):
        points.sort()
        xs, ys, es = zip(*points)
        style = '--' if name.startswith('flat') else '-'
        ax.errorbar(
            xs, ys, yerr=es, fmt=style, marker='o', capsize=3, label=name)
    ax.set_xscale('log')
    ax.set_xlabel('share of training images with a full path, F')
    ax.set_ylabel('test path accuracy (%)')
    ax.set_title('Learning from coarse labels (mean ± std over seeds)')
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def run(args) -> Dict[str, Any]:
    os.makedirs(args.out, exist_ok=True)
    fractions = args.fine_fraction or [None]
    jobs = [(m, s, f) for f in fractions for s in args.seeds
            for m in args.models if f is not None or m not in FINE_ONLY]
    start = time.perf_counter()
    results = []
    if args.summarise_only:
        for name, seed, fraction in jobs:
            one = copy.copy(args)
            one.fraction = fraction
            path = _result_path(_key(name, one), seed, args)
            if osp.exists(path):
                with open(path) as f:
                    results.append(json.load(f))
            else:
                print(f'missing: {path}', flush=True)
        if not results:
            folder = osp.dirname(_result_path('', 0, args))
            raise FileNotFoundError(f'no saved runs under {folder}')
    elif args.jobs == 0:
        for name, seed, fraction in jobs:
            one = copy.copy(args)
            one.seed, one.fraction = seed, fraction
            results.append(run_one(name, one))
            with open(_result_path(_key(name, one), seed, args), 'w') as f:
                json.dump(results[-1], f)
            print(
                f'{results[-1]["model"]} seed {seed}: '
                f'{results[-1]["seconds"]:.0f} s',
                flush=True)
    else:
        with ThreadPoolExecutor(args.jobs) as pool:
            futures = [
                pool.submit(_subprocess_run, name, seed, fraction, args)
                for name, seed, fraction in jobs
            ]
            for (name, seed, _), fut in zip(jobs, futures):
                results.append(fut.result())
                print(
                    f'{results[-1]["model"]} seed {seed}: '
                    f'{results[-1]["seconds"]:.0f} s (total '
                    f'{time.perf_counter() - start:.0f} s)',
                    flush=True)
    total = time.perf_counter() - start
    run_minutes = sum(r['seconds'] for r in results) / 60
    rows, columns, sources, stats = summarise(results, args)
    stem = args.name or f'accuracy_{args.dataset}_{args.mode}'
    png = None if args.no_plot or args.eval_last else plot_curves(
        results, osp.join(args.out, f'{stem}_curves.png'))
    if args.fine_fraction and not args.no_plot:
        png = plot_fractions(stats, osp.join(args.out,
                                             f'{stem}_fractions.png')) or png
    import torch
    info = machine_info('cuda' if torch.cuda.is_available() else 'cpu')
    notes = [
        f'dataset {args.dataset}, data root {args.data_root}; mode '
        f'{args.mode}: {args.train_images or "all"} training images, '
        f'{args.test_images or "all"} test images, {args.epochs} epochs, '
        f'batch {args.batch}, seeds {args.seeds}, backbone {args.backbone}, '
        f'{args.threads or "default"} torch thread(s) per run',
        (f'summarised from {len(results)} saved runs; their run times add '
         f'up to {run_minutes:.1f} min' if args.summarise_only else
         f'wall time {total / 60:.1f} min for {len(jobs)} runs with '
         f'{args.jobs} parallel job(s) (run times add up to '
         f'{run_minutes:.1f} min)'),
        'metrics in percent (mistake severity: mean tree distance of the '
        'wrong top-1 paths), mean ± sample std over seeds, last epoch on '
        'the test set; path_acc_vs_flat: difference of the means to the '
        'flat model on the same tree',
    ]
    if png:
        notes.append(f'curves: {osp.relpath(png, REPO_ROOT)}')
    write_report(
        args.out,
        stem,
        f'Accuracy, hierarchical vs flat ({args.dataset}, {args.mode})', {
            'Test metrics (last epoch)':
            dict(columns=columns, rows=rows, digits=2),
            'Where each model comes from':
            dict(columns=['model', 'config'], rows=sources)
        },
        info,
        notes,
        command=command_line(__file__, args.argv),
        extra=dict(
            settings={
                k: v
                for k, v in vars(args).items() if k != 'argv'
            },
            stats=stats,
            runs=results))
    return dict(rows=rows, results=results, png=png)


def main(argv=None) -> None:
    args = parse_args(argv)
    args.argv = [a for a in (sys.argv[1:] if argv is None else list(argv))]
    if args.run_one:
        result = run_one(args.run_one, args)
        with open(os.environ['ACCURACY_RESULT'], 'w') as f:
            json.dump(result, f)
        return
    run(args)


if __name__ == '__main__':
    main()
