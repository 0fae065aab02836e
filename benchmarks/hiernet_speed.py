# Copyright (c) mmhier contributors. All rights reserved.
"""HierNet inference speed: fast and slow evaluation against its backbone.

HierNet (Tempfli and Sandor) copies the later part of the backbone into
every inner node of the class tree. The slow evaluation runs every branch
on every image (all leaf probabilities); the fast one routes each image
greedily down one branch per level (their Algorithm 1), so its work per
image is one backbone pass plus the small node classifiers. This script
measures images per second of

- ``backbone``: the flat classifier (backbone + global pooling + linear
  head over the leaves), the cost a user pays without the hierarchy;
- ``hiernet-fast`` and ``hiernet-slow``: ``HierNetClassifier.predict`` with
  ``eval_mode='fast'`` / ``'slow'``.

Default setting, the paper's CIFAR-100 one (their Tables 1 and 2): a
two-level tree of 20 superclasses with 5 classes each (random images, the
shape of the tree is what matters), ``ResNet_CIFAR`` depth 18 at 32 px,
cut at half of its residual blocks (the paper cuts its ResNet-56 after 16
of 27 blocks). ``--tree fmnist`` uses the 3-level Fashion-MNIST tree
instead.

The three models are timed interleaved in one process (every repetition
runs each once, in a shuffled order); reported are the median images per
second, its spread and the ratio to the backbone's speed of the same
repetition. With untrained weights the fast routing splits a batch however
the random routers send it; the work per image does not depend on the
split, but many small chunks run less efficiently than one big batch.

Usage:
    python benchmarks/hiernet_speed.py [--batch 64] [--repeat 5]
        [--device cpu] [--out work_dirs/benchmarks] [--smoke]
"""
import argparse
import os.path as osp
import random
import sys
import time
from typing import Any, Dict

import torch

sys.path.insert(0, osp.dirname(osp.abspath(__file__)))
# yapf: disable
from _common import (command_line, machine_info,  # noqa: E402
                     median_spread, write_report)
# yapf: enable


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--device', default='cpu')
    parser.add_argument(
        '--batch',
        type=int,
        default=None,
        help='default 64 on CPU, 256 on CUDA')
    parser.add_argument('--size', type=int, default=32)
    parser.add_argument(
        '--depth', type=int, default=18, help='ResNet_CIFAR depth')
    parser.add_argument(
        '--split',
        type=float,
        default=0.5,
        help='fraction of the residual blocks in the trunk')
    parser.add_argument(
        '--tree', choices=['cifar100', 'fmnist', 'tiny'], default='cifar100')
    parser.add_argument('--repeat', type=int, default=5)
    parser.add_argument('--warmup', type=int, default=1)
    parser.add_argument(
        '--inner',
        type=int,
        default=None,
        help='batches per timed sample (1 CPU, 10 CUDA)')
    parser.add_argument(
        '--threads',
        type=int,
        default=None,
        help='torch threads (default 1 on CPU, see '
        'overhead.py)')
    parser.add_argument(
        '--clock',
        choices=['wall', 'cpu'],
        default=None,
        help='wall (default on CUDA) or process CPU time '
        '(default on CPU)')
    parser.add_argument(
        '--amp', action='store_true', help='bf16 autocast (CUDA only)')
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--out', default='work_dirs/benchmarks')
    parser.add_argument('--name', default=None)
    parser.add_argument(
        '--smoke',
        action='store_true',
        help='tiny: 2x2 tree, 16 px, batch 4, one repetition')
    args = parser.parse_args(argv)
    args.argv = list(sys.argv[1:] if argv is None else argv)
    if args.smoke:
        args.size, args.batch, args.repeat, args.warmup = 16, 4, 1, 0
        args.inner, args.tree = 1, 'tiny'
    cuda = args.device.startswith('cuda')
    if args.batch is None:
        args.batch = 256 if cuda else 64
    if args.inner is None:
        args.inner = 10 if cuda else 1
    if args.threads is None and not cuda:
        args.threads = 1
    if args.clock is None:
        args.clock = 'wall' if cuda else 'cpu'
    if args.clock == 'cpu' and cuda:
        parser.error('--clock cpu measures CPU work; use wall on CUDA')
    if args.amp and not cuda:
        parser.error('--amp is for CUDA')
    return args


def speed_tree(name: str) -> Any:
    """The class tree of the benchmark."""
    if name == 'fmnist':
        return 'mmhier/datasets/trees/fashion_mnist_fixed.json'
    if name == 'tiny':  # for --smoke
        return {'a': ['a0', 'a1'], 'b': ['b0', 'b1']}
    return {
        f'super{c}': [f'class{c}_{k}' for k in range(5)]
        for c in range(20)
    }


def build_models(args) -> Dict[str, Any]:
    from mmpretrain.registry import MODELS

    from mmhier.structures import ClassTree
    tree_src = speed_tree(args.tree)
    if isinstance(tree_src, str):
        tree_src = osp.join(
            osp.dirname(osp.dirname(osp.abspath(__file__))), tree_src)
    tree = ClassTree.build(tree_src)
    backbone = dict(type='ResNet_CIFAR', depth=args.depth)
    hiernet = MODELS.build(
        dict(
            type='HierNetClassifier',
            tree=tree,
            backbone=backbone,
            split_points=[args.split] * (tree.max_depth - 1),
            eval_mode='fast'))
    channels = 512 if args.depth < 50 else 2048
    flat = MODELS.build(
        dict(
            type='ImageClassifier',
            backbone=backbone,
            neck=dict(type='GlobalAveragePooling'),
            head=dict(
                type='LinearClsHead',
                num_classes=len(tree.leaves),
                in_channels=channels)))
    models = dict(backbone=flat, hiernet=hiernet)
    for m in models.values():
        m.to(args.device).eval()
    params = dict(
        backbone=sum(p.numel() for p in flat.parameters()),
        hiernet=sum(p.numel() for p in hiernet.parameters()))
    return dict(models=models, params=params, tree=tree)


def run(args) -> Dict[str, Any]:
    import mmhier  # noqa: F401
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    built = build_models(args)
    flat, hiernet = built['models']['backbone'], built['models']['hiernet']
    inputs = torch.randn(
        args.batch, 3, args.size, args.size, device=args.device)
    calls = {
        'backbone': lambda: flat.predict(inputs),
        'hiernet-fast': lambda: hiernet.predict(inputs, eval_mode='fast'),
        'hiernet-slow': lambda: hiernet.predict(inputs, eval_mode='slow'),
    }
    cuda = args.device.startswith('cuda')
    clock = time.process_time if args.clock == 'cpu' else time.perf_counter
    speeds = {k: [] for k in calls}
    ratios = {k: [] for k in calls}
    rng = random.Random(args.seed)
    for rep in range(args.warmup + args.repeat):
        order = list(calls)
        rng.shuffle(order)
        rep_speed = {}
        for name in order:
            with torch.no_grad(), torch.autocast(
                    'cuda', dtype=torch.bfloat16, enabled=args.amp):
                if cuda:
                    torch.cuda.synchronize(args.device)
                start = clock()
                for _ in range(args.inner):
                    calls[name]()
                if cuda:
                    torch.cuda.synchronize(args.device)
            seconds = clock() - start
            rep_speed[name] = args.batch * args.inner / seconds
        if rep < args.warmup:
            continue
        for name in calls:
            speeds[name].append(rep_speed[name])
            ratios[name].append(rep_speed[name] / rep_speed['backbone'])

    # how the fast routing split the batch at the first level
    with torch.no_grad():
        route = hiernet.predict(inputs[:min(64, args.batch)], eval_mode='fast')
    first = torch.stack([s.pred_path[0] for s in route])
    split = torch.bincount(first).tolist()

    rows = []
    for name in calls:
        s, r = median_spread(speeds[name]), median_spread(ratios[name])
        rows.append(
            dict(
                model=name,
                params=built['params']['backbone' if name ==
                                       'backbone' else 'hiernet'],
                img_per_s=s['median'],
                img_per_s_iqr=s['iqr'],
                speed_vs_backbone=r['median'],
                ratio_range=f'{r["min"]:.3f}-{r["max"]:.3f}'))
    tree = built['tree']
    notes = [
        f'tree {args.tree}: {tree.num_nodes} nodes, depth {tree.max_depth},'
        f' {len(tree.leaves)} leaves; ResNet_CIFAR-{args.depth}, '
        f'{args.size} px, batch {args.batch}, trunk = first {args.split:.0%}'
        f' of the residual blocks, device {args.device}, amp(bf16)='
        f'{args.amp}, {torch.get_num_threads()} torch thread(s), clock '
        f'{args.clock} (cpu = CPU seconds of the process)',
        f'{args.repeat} timed repetitions (+{args.warmup} warm-up) of '
        f'{args.inner} batch(es), interleaved; speed_vs_backbone = '
        'images/s over the backbone\'s images/s of the same repetition',
        'untrained weights: the fast routing sent the first '
        f'{min(64, args.batch)} images to '
        f'the level-1 nodes (in node order) as {split}'
    ]
    write_report(
        args.out,
        args.name or f'hiernet_speed_{args.device.split(":")[0]}',
        f'HierNet fast vs slow evaluation vs its backbone ({args.device})', {
            'Images per second':
            dict(
                columns=[
                    'model', 'params', 'img_per_s', 'img_per_s_iqr',
                    'speed_vs_backbone', 'ratio_range'
                ],
                rows=rows,
                digits=2)
        },
        machine_info(args.device),
        notes,
        command=command_line(__file__, args.argv),
        extra=dict(settings=vars(args), raw_speeds=speeds))
    return dict(rows=rows)


def main(argv=None) -> None:
    run(parse_args(argv))


if __name__ == '__main__':
    main()
