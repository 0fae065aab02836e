# Copyright (c) mmhier contributors. All rights reserved.
"""The models of ``benchmarks/accuracy.py`` and the budget it trains them
with.

Every model row is a config file (``configs/``, the file a user trains);
the benchmark overrides only the budget (:func:`apply_budget`: backbone
stem, epochs, training subset, seed, work_dir, logging, no checkpoints).
"""
import os.path as osp
from typing import Dict

from _common import REPO_ROOT

CONFIG_DIR = osp.join(REPO_ROOT, 'configs', 'hier')
DEFAULT_ROOTS = dict(
    fmnist='/usr/share/datasets/fashion-mnist', cifar100='data/cifar100')

# name -> config stem, relative to CONFIG_DIR
MODELS_FMNIST: Dict[str, str] = {
    'flat': '../flat/flat_resnet18-tiny_fmnist-fixed',
    'flat-var': '../flat/flat_resnet18-tiny_fmnist',
    'rnn': 'rnn-pool_resnet18-tiny_fmnist-fixed',
    'rnn-resi': 'rnn-pool-resi_resnet18-tiny_fmnist-fixed',
    'rnn-alt': 'rnn-alt-pool_resnet18-tiny_fmnist-fixed',
    'rnn-alt-resi': 'rnn-alt-pool-resi_resnet18-tiny_fmnist-fixed',
    's2s-linear': 's2s-linear_resnet18-tiny_fmnist',
    's2s-conv': 's2s-conv_resnet18-tiny_fmnist',
    's2s-pool': 's2s-pool_resnet18-tiny_fmnist',
    'guo': '../guo_cnn_rnn/cnn-rnn_resnet18-tiny_fmnist-fixed',
    'hiernet': '../hiernet/hiernet_resnet18-tiny_fmnist-fixed',
    # the joint models (a DHNN head and a flat classifier, fused)
    'joint-rnn': 'joint-rnn-pool-resi_resnet18-tiny_fmnist-fixed',
    'joint-s2s': 'joint-s2s-pool_resnet18-tiny_fmnist',
    # ... with coarse-constrained pseudo-labels (partial labels)
    'joint-rnn-pseudo':
    'joint-rnn-pool-resi-pseudo_resnet18-tiny_fmnist-fixed',
    # the paper's S2S decoder
    's2s-paperdec': 's2s-pool-paperdec_resnet18-tiny_fmnist',
    # Guo et al.'s CNN-based multi-level baseline (masked coarse levels)
    'multi-level': '../guo_cnn_rnn/fine-and-coarse_resnet18-tiny_fmnist-fixed',
    # hierarchy-aware flat baselines (configs/hier_aware/)
    'flat-softlabels':
    '../hier_aware/flat-softlabels_resnet18-tiny_fmnist-fixed',
    'flat-hxe': '../hier_aware/flat-hxe_resnet18-tiny_fmnist-fixed',
    'flat-crm': '../hier_aware/flat-crm_resnet18-tiny_fmnist-fixed',
    # the flat model trained on the fine-labelled images only
    # (--fine-fraction; the same number of iterations)
    'flat-fine': '../flat/flat_resnet18-tiny_fmnist-fixed',
}
# ablations of s2s-pool (one change each), configs/hier/ablation_fmnist/
MODELS_FMNIST.update({
    f's2s-{name}': f'ablation_fmnist/s2s-{name}_resnet18-tiny_fmnist'
    for name in ('pool-laststage', 'pool-allstages', 'poolgrid', 'poolglobal',
                 'pool-ss', 'pool-unidir', 'pool-lw', 'pool-dropout',
                 'pool-ls')
})
# models trained on fine labels only under --fine-fraction
FINE_ONLY = ('flat-fine', )
MODELS_CIFAR: Dict[str, str] = {
    'flat': '../flat/flat_resnet18-tiny_cifar100',
    'rnn': 'rnn-pool_resnet18-tiny_cifar100',
    'rnn-resi': 'rnn-pool-resi_resnet18-tiny_cifar100',
    'rnn-alt': 'rnn-alt-pool_resnet18-tiny_cifar100',
    'rnn-alt-resi': 'rnn-alt-pool-resi_resnet18-tiny_cifar100',
    's2s-linear': 's2s-linear_resnet18-tiny_cifar100',
    's2s-conv': 's2s-conv_resnet18-tiny_cifar100',
    's2s-pool': 's2s-pool_resnet18-tiny_cifar100',
    'guo': '../guo_cnn_rnn/cnn-rnn_resnet18-tiny_cifar100',
    'hiernet': '../hiernet/hiernet_resnet18-tiny_cifar100',
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


def models_of(dataset: str) -> Dict[str, str]:
    """The model table of ``dataset`` (``'fmnist'`` or ``'cifar100'``)."""
    return MODELS_FMNIST if dataset == 'fmnist' else MODELS_CIFAR


def config_path(name: str, dataset: str = 'fmnist') -> str:
    """Absolute path of the config of model ``name``."""
    return osp.normpath(osp.join(CONFIG_DIR, models_of(dataset)[name] + '.py'))


def load_config(name: str, args):
    """The config of model ``name`` with the budget applied, and its path
    relative to the repository root."""
    from mmengine.config import Config
    path = config_path(name, args.dataset)
    if not osp.exists(path):
        raise FileNotFoundError(f'config {path} of model {name!r} is missing')
    cfg = Config.fromfile(path)
    apply_budget(cfg, name, args)
    return cfg, osp.relpath(path, REPO_ROOT)


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
