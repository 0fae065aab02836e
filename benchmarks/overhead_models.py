# Copyright (c) mmhier contributors. All rights reserved.
"""The models, batches and steps that ``overhead.py`` measures.

One spec per variant (head, conversion, size), each a config file of
``configs/benchmarks/overhead/`` loaded with ``Config.fromfile``; the
command line's options are applied on top (:func:`model_cfg`). Built into
the model and its optimiser wrapper; the timed train and inference steps.
"""
import os.path as osp
import time
from typing import Any, Dict, List, Optional, Tuple

import torch

from _common import REPO_ROOT

#: every model is a config file: ``{name}_resnet50_oi-tree.py`` here
CONFIG_DIR = 'configs/benchmarks/overhead'
CONFIG_TEMPLATE = CONFIG_DIR + '/{name}_resnet50_oi-tree.py'
#: the base whose tree (the DHNN Open Images shape) every model reads
TREE_CONFIG = 'configs/_base_/models/overhead_dhnn_resnet50.py'
STAGE_GROUPS = [[0, 1], [2], [3]]
HEADS = {'rnn': 'HierRNNHead', 's2s': 'HierS2SHead'}
CONVERSIONS = ('linear', 'conv', 'pool')
#: the op and sync columns of the table
COUNT_COLUMNS = ('train_added_ops', 'train_syncs', 'infer_added_ops',
                 'infer_syncs', 'sync_ops')


def _load_model(rel: str) -> Dict[str, Any]:
    from mmengine.config import Config
    return Config.fromfile(osp.join(REPO_ROOT, rel)).to_dict()['model']


def bench_tree() -> Dict[str, Any]:
    """The 30-node tree with the DHNN Open Images shape (appendix C: 2, 4
    and 24 nodes on levels 1-3), as the configs hold it."""
    return _load_model(TREE_CONFIG)['head']['tree']


def stage_channels(depth: int) -> Tuple[int, ...]:
    return (64, 128, 256, 512) if depth in (18, 34) else (256, 512, 1024, 2048)


def variant_specs(args) -> List[Dict[str, Any]]:
    """Every model to run, each with its config; ``flat`` first."""
    specs = [dict(name='flat', head='flat')]
    for head in HEADS:
        for conversion in CONVERSIONS:
            for size in ('small', 'large'):
                specs.append(
                    dict(
                        name=f'{head}-{conversion}-{size}',
                        head=head,
                        conversion=conversion,
                        size=size))
    # the model of configs/hier/res50_s2s_pool_oi.py (the paper's decoder,
    # bidirectional, 4x4 grid pooling, multi-label)
    specs.append(
        dict(name='s2s-pool-paper', head='s2s', conversion='grid',
             size='small'))
    if args.variants:
        unknown = set(args.variants) - {s['name'] for s in specs}
        if unknown:
            raise ValueError(f'unknown variants {sorted(unknown)}; choose '
                             f'from {[s["name"] for s in specs]}')
        specs = [
            s for s in specs
            if s['name'] in args.variants or s['name'] == 'flat'
        ]
    for spec in specs:
        spec['config'] = CONFIG_TEMPLATE.format(name=spec['name'])
        if spec['head'] != 'flat':
            model = model_cfg(spec, args)
            spec['p'] = model['neck']['out_channels']
            spec['h'] = model['head']['hidden_size']
    return specs


def neck_cfg(spec: Dict[str, Any], args) -> Dict[str, Any]:
    """The neck of the variant's config, with the overrides."""
    return model_cfg(spec, args)['neck']


def _resolve_pool(neck: Dict[str, Any]) -> Dict[str, Any]:
    """``pool`` where exact pooling to p exists for every used stage, else
    pooling + n-mode products (``pool_mode``)."""
    from mmpretrain.registry import MODELS

    import mmhier  # noqa: F401
    try:
        MODELS.build(dict(neck, conversion='pool'))
        return dict(neck, conversion='pool')
    except ValueError:
        return dict(neck, conversion='pool_mode')


def model_cfg(spec: Dict[str, Any], args) -> Dict[str, Any]:
    """The model of the variant's config, with the command line's
    overrides on top: ``--depth``, ``--size``, ``--small`` / ``--large``
    (p and h), ``--multi-label``, ``--decoder-input``."""
    cfg = _load_model(spec['config'])
    depth = getattr(args, 'depth', None)
    if depth is not None:
        cfg['backbone']['depth'] = depth
    if spec['head'] == 'flat':
        if depth is not None:
            cfg['head']['in_channels'] = stage_channels(depth)[-1]
        return cfg
    neck, head = cfg['neck'], cfg['head']
    before = dict(neck)
    if depth is not None:
        neck['in_channels'] = stage_channels(depth)
    if getattr(args, 'size', None) is not None:
        neck['input_size'] = args.size
    ph = getattr(args, spec['size'], None)
    if ph is not None:
        neck['out_channels'] = head['in_channels'] = ph[0]
        head['hidden_size'] = ph[1]
    if spec['conversion'] == 'pool' and neck != before:
        # the geometry changed: pool exactly again where it can
        cfg['neck'] = _resolve_pool(neck)
    if getattr(args, 'multi_label', False):
        head['multi_label'] = True
    if getattr(args, 'decoder_input', None) and spec['head'] == 's2s':
        head['decoder_input'] = args.decoder_input
    return cfg


def count(module: Optional[torch.nn.Module]) -> int:
    if module is None:
        return 0
    return sum(p.numel() for p in module.parameters())


def build(spec: Dict[str, Any], args):
    """Model and optim wrapper on the device."""
    from mmengine.optim import AmpOptimWrapper, OptimWrapper
    from mmpretrain.registry import MODELS
    cfg = model_cfg(spec, args)
    # PyTorch's default initialisation: init_weights() changes no cost and
    # logs every parameter
    model = MODELS.build(cfg)
    model.to(args.device)
    if args.channels_last:
        model.to(memory_format=torch.channels_last)
    if getattr(args, 'compile', None):
        # what mmengine's Runner does with `compile = dict(mode=...)`
        for step in ('train_step', 'test_step'):
            setattr(model, step,
                    torch.compile(getattr(model, step), mode=args.compile))
    conversion = cfg['neck'].get('conversion', '-')
    if isinstance(conversion, dict):  # e.g. HierPoolConversion(grid=4)
        conversion = dict(conversion)
        conversion = conversion.pop('type') + '(' + ', '.join(
            f'{k}={v!r}' for k, v in conversion.items()) + ')'
    spec['conversion_used'] = conversion
    spec['neck_params'] = count(getattr(model, 'neck',
                                        None)) if spec['head'] != 'flat' else 0
    spec['head_params'] = count(model.head)
    spec['total_params'] = count(model)
    optimizer = torch.optim.SGD(
        model.parameters(), lr=1e-3, momentum=0.9, weight_decay=1e-4)
    if args.amp:
        wrapper = AmpOptimWrapper(optimizer=optimizer, dtype='bfloat16')
    else:
        wrapper = OptimWrapper(optimizer=optimizer)
    return model, wrapper


def make_batch(args) -> Dict[str, Any]:
    """A fixed random batch with labels on leaves of the tree."""
    from mmpretrain.structures import DataSample

    from mmhier.structures import PATH_UNKNOWN, ClassTree
    tree = ClassTree.build(bench_tree())
    g = torch.Generator().manual_seed(args.seed)
    inputs = torch.randint(
        0, 256, (args.batch, 3, args.size, args.size), generator=g).float()
    inputs = inputs.to(args.device)
    if args.channels_last:
        inputs = inputs.contiguous(memory_format=torch.channels_last)
    leaves = torch.as_tensor(tree.leaves)
    picks = leaves[torch.randint(0, len(leaves), (args.batch, ), generator=g)]
    samples = []
    for i, leaf in enumerate(picks.tolist()):
        sample = DataSample().set_gt_label(leaf)
        paths = torch.as_tensor(tree.path_matrix[leaf])[None]
        if getattr(args, 'multi_label', False):
            # a second path, coarse-only (level 1 known) every other sample
            other = torch.as_tensor(tree.path_matrix[int(leaves[(i * 7) %
                                                                len(leaves)])])
            if i % 2:
                other = torch.cat([
                    other[:1],
                    other.new_full((len(other) - 1, ), PATH_UNKNOWN)
                ])
            paths = torch.stack([paths[0], other])
        sample.set_field(paths, 'gt_path')
        samples.append(sample)
    return dict(inputs=inputs, data_samples=samples)


def sync(device: str) -> None:
    if device.startswith('cuda'):
        torch.cuda.synchronize(device)


def train_step(model, wrapper, batch) -> None:
    model.train()
    model.train_step(batch, wrapper)


def infer_step(model, batch, args) -> None:
    model.eval()
    with torch.no_grad(), torch.autocast(
            'cuda', dtype=torch.bfloat16, enabled=args.amp):
        model.test_step(batch)


def timed(fn, args) -> float:
    """Seconds per call of ``fn``, averaged over ``args.inner`` calls:
    wall-clock seconds, or CPU seconds of this process (``--clock cpu``)."""
    clock = time.process_time if args.clock == 'cpu' else time.perf_counter
    sync(args.device)
    start = clock()
    for _ in range(args.inner):
        fn()
    sync(args.device)
    return (clock() - start) / args.inner
