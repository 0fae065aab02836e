# Copyright (c) mmhier contributors. All rights reserved.
"""The models, batches and steps that ``overhead.py`` measures.

One spec per variant (head, conversion, size) built into the model and its
optimiser wrapper, and the timed train and inference steps.
"""
import time
from typing import Any, Dict, List, Optional, Tuple

import torch

# DHNN Open Images tree shape (appendix C): 2 level-1 nodes, 4 level-2
# nodes, 24 level-3 nodes split 10, 6, 6, 2.
LEVEL3_SPLIT = ((10, 6), (6, 2))
STAGE_GROUPS = [[0, 1], [2], [3]]
HEADS = {'rnn': 'HierRNNHead', 's2s': 'HierS2SHead'}
CONVERSIONS = ('linear', 'conv', 'pool')
#: the op and sync columns of the table
COUNT_COLUMNS = ('train_added_ops', 'train_syncs', 'infer_added_ops',
                 'infer_syncs', 'sync_ops')
MEAN = [123.675, 116.28, 103.53]
STD = [58.395, 57.12, 57.375]


def bench_tree() -> Dict[str, Any]:
    """The 30-node tree with the DHNN Open Images shape, as a nested dict."""
    tree = {}
    for a, splits in zip('ab', LEVEL3_SPLIT):
        tree[f'{a}'] = {
            f'{a}{b}': [f'{a}{b}{c}' for c in range(n)]
            for b, n in zip('xy', splits)
        }
    return tree


def stage_channels(depth: int) -> Tuple[int, ...]:
    return (64, 128, 256, 512) if depth in (18, 34) else (256, 512, 1024, 2048)


def variant_specs(args) -> List[Dict[str, Any]]:
    """Every model to run; ``flat`` first."""
    specs = [dict(name='flat', head='flat')]
    for head in HEADS:
        for conversion in CONVERSIONS:
            for size, (p, h) in (('small', args.small), ('large', args.large)):
                specs.append(
                    dict(
                        name=f'{head}-{conversion}-{size}',
                        head=head,
                        conversion=conversion,
                        size=size,
                        p=p,
                        h=h))
    if args.variants:
        unknown = set(args.variants) - {s['name'] for s in specs}
        if unknown:
            raise ValueError(f'unknown variants {sorted(unknown)}; choose '
                             f'from {[s["name"] for s in specs]}')
        specs = [
            s for s in specs
            if s['name'] in args.variants or s['name'] == 'flat'
        ]
    return specs


def neck_cfg(spec: Dict[str, Any], args) -> Dict[str, Any]:
    """The neck; ``pool`` resolves to plain pooling when exact pooling to p
    exists for every used stage, else to pooling + n-mode products."""
    from mmpretrain.registry import MODELS
    cfg = dict(
        type='HierConversionNeck',
        in_channels=stage_channels(args.depth),
        out_channels=spec['p'],
        stage_groups=STAGE_GROUPS,
        input_size=args.size)
    if spec['conversion'] != 'pool':
        return dict(cfg, conversion=spec['conversion'])
    try:
        MODELS.build(dict(cfg, conversion='pool'))
        return dict(cfg, conversion='pool')
    except ValueError:
        return dict(cfg, conversion='pool_mode')


def model_cfg(spec: Dict[str, Any], args) -> Dict[str, Any]:
    tree = bench_tree()
    preprocessor = dict(
        type='ClsDataPreprocessor', mean=MEAN, std=STD, to_rgb=True)
    if spec['head'] == 'flat':
        return dict(
            type='ImageClassifier',
            data_preprocessor=preprocessor,
            backbone=dict(type='ResNet', depth=args.depth, out_indices=(3, )),
            neck=dict(type='GlobalAveragePooling'),
            head=dict(
                type='LinearClsHead',
                num_classes=30,
                in_channels=stage_channels(args.depth)[-1],
                loss=dict(type='CrossEntropyLoss')))
    # the DHNN models batch gt_path once a step, as the configs do
    return dict(
        type='ImageClassifier',
        data_preprocessor=dict(preprocessor, type='HierDataPreprocessor'),
        backbone=dict(
            type='ResNet', depth=args.depth, out_indices=(0, 1, 2, 3)),
        neck=neck_cfg(spec, args),
        head=head_cfg(spec, args, tree))


def head_cfg(spec: Dict[str, Any], args, tree) -> Dict[str, Any]:
    """The DHNN head, with ``--multi-label`` and ``--decoder-input``."""
    cfg = dict(
        type=HEADS[spec['head']],
        tree=tree,
        in_channels=spec['p'],
        hidden_size=spec['h'])
    if args.multi_label:
        cfg['multi_label'] = True
    if args.decoder_input and spec['head'] == 's2s':
        cfg['decoder_input'] = args.decoder_input
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
    spec['conversion_used'] = cfg['neck'].get('conversion', '-')
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
