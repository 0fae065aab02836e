# Copyright (c) mmhier contributors. All rights reserved.
"""Cost of the DHNN neck and heads over a flat classifier.

For a ResNet-50 at 224 px, times the train step (forward + backward + SGD
step, through ``model.train_step`` as mmengine's loop calls it) and the
inference step (``model.test_step``: for the DHNN heads this includes the
tree-constrained beam search) of every DHNN variant against the flat
ResNet-50 with ``LinearClsHead``:

- heads: ``HierRNNHead`` (CNN-RNN) and ``HierS2SHead`` (CNN-S2S);
- conversions: ``linear`` (n-mode products), ``conv`` and ``pool``;
- sizes: small (p=256, h=512) and large (p=2048, h=1024), the two S2S
  settings of the DHNN paper (section 5, Table 3).

``pool`` is the weight-free pooling (appendix B) where every stage can be
pooled to exactly p values (ResNet-50 with p=2048), else the paper's
pooling followed by n-mode products (``conversion='pool_mode'``; with p=256
only the 256-channel stage can be pooled to p values). The table says
which ran.

The class tree has the shape of the DHNN paper's Open Images tree (30
nodes: 2, 4 and 24 on levels 1-3); the flat head classifies its 30 nodes.
Stages ``[[0, 1], [2], [3]]`` of ResNet-50 feed steps 1-3.

All variants live in one process and are timed interleaved: every
repetition runs each model once, in a shuffled order, and each time is
divided by the flat model's time of the same repetition, so that load from
other jobs on a shared machine cancels out of the ratios. On the CPU the
default is one torch thread and the process's CPU time as the clock
(``--clock cpu``): on a 2-core machine shared with other jobs, two threads
per process ran several times slower, and wall-clock times varied 5x
between repetitions; CPU time measures the work itself. Reported: median
and spread (interquartile range, min-max) of the times and ratios,
parameters added by the neck and head, and peak memory:

- CPU: peak RSS of a fresh process that builds one model and runs two train
  steps and one inference step (one subprocess per model);
- CUDA: ``torch.cuda.max_memory_allocated`` of the same work, with only
  that model on the GPU.

Targets of the benchmark issue: the small S2S with pooling adds at most 5%
to the train step, the large one at most 15%, and the pooling itself adds
no parameters.

Usage:
    python benchmarks/overhead.py                      # CPU, batch 8
    python benchmarks/overhead.py --device cuda --batch 32 --amp \\
        --channels-last                                # GPU
    python benchmarks/overhead.py --smoke              # seconds, for tests
"""
import argparse
import gc
import json
import os.path as osp
import random
import subprocess
import sys
import time
from typing import Any, Dict, List, Optional, Tuple

import torch

sys.path.insert(0, osp.dirname(osp.abspath(__file__)))
# yapf: disable
from _common import (command_line, machine_info,  # noqa: E402
                     median_spread, write_report)
# yapf: enable

# DHNN Open Images tree shape (appendix C): 2 level-1 nodes, 4 level-2
# nodes, 24 level-3 nodes split 10, 6, 6, 2.
LEVEL3_SPLIT = ((10, 6), (6, 2))
STAGE_GROUPS = [[0, 1], [2], [3]]
HEADS = {'rnn': 'HierRNNHead', 's2s': 'HierS2SHead'}
CONVERSIONS = ('linear', 'conv', 'pool')
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


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--device', default='cpu')
    parser.add_argument(
        '--batch', type=int, default=None, help='default 8 on CPU, 32 on CUDA')
    parser.add_argument('--size', type=int, default=224)
    parser.add_argument(
        '--depth',
        type=int,
        default=50,
        help='ResNet depth (50; 18 for --smoke)')
    parser.add_argument(
        '--repeat',
        type=int,
        default=5,
        help='timed repetitions of every model')
    parser.add_argument(
        '--warmup', type=int, default=1, help='untimed repetitions first')
    parser.add_argument(
        '--inner',
        type=int,
        default=None,
        help='steps per timed sample (default 1 on CPU, '
        '5 on CUDA)')
    parser.add_argument(
        '--threads',
        type=int,
        default=None,
        help='torch threads (default 1 on CPU: on a shared '
        '2-core machine two threads per process ran several '
        'times slower and far noisier)')
    parser.add_argument(
        '--clock',
        choices=['wall', 'cpu'],
        default=None,
        help='wall: perf_counter (default on CUDA); cpu: '
        'process CPU time (default on CPU, robust to other '
        'jobs on a shared machine)')
    parser.add_argument(
        '--amp', action='store_true', help='bf16 autocast (CUDA only)')
    parser.add_argument('--channels-last', action='store_true')
    parser.add_argument(
        '--small', type=int, nargs=2, default=(256, 512), metavar=('P', 'H'))
    parser.add_argument(
        '--large', type=int, nargs=2, default=(2048, 1024), metavar=('P', 'H'))
    parser.add_argument(
        '--variants',
        nargs='*',
        default=None,
        help='subset of model names (flat is always run)')
    parser.add_argument('--no-memory', action='store_true')
    parser.add_argument('--no-infer', action='store_true')
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--out', default='work_dirs/benchmarks')
    parser.add_argument(
        '--name',
        default=None,
        help='file stem of the report (default overhead_'
        '<device>)')
    parser.add_argument(
        '--smoke',
        action='store_true',
        help='tiny everything: ResNet-18, 32 px, batch 2, '
        'p/h 16/16 and 32/32, one repetition, three models')
    parser.add_argument('--probe-memory', default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    args.argv = list(sys.argv[1:] if argv is None else argv)
    if args.smoke:
        args.depth, args.size, args.batch = 18, 32, 2
        args.repeat, args.warmup, args.inner = 1, 0, 1
        args.small, args.large = (16, 16), (32, 32)
        if args.variants is None:
            args.variants = ['rnn-pool-small', 's2s-pool-large']
    cuda = args.device.startswith('cuda')
    if args.batch is None:
        args.batch = 32 if cuda else 8
    if args.inner is None:
        args.inner = 5 if cuda else 1
    if args.threads is None and not cuda:
        args.threads = 1
    if args.clock is None:
        args.clock = 'wall' if cuda else 'cpu'
    if args.clock == 'cpu' and cuda:
        parser.error('--clock cpu measures CPU work; use wall on CUDA')
    if args.amp and not cuda:
        parser.error('--amp is for CUDA (bf16 autocast on CPU is slower '
                     'than fp32 on most CPUs)')
    return args


# ----------------------------------------------------------------------
# models
# ----------------------------------------------------------------------
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
    return dict(
        type='ImageClassifier',
        data_preprocessor=preprocessor,
        backbone=dict(
            type='ResNet', depth=args.depth, out_indices=(0, 1, 2, 3)),
        neck=neck_cfg(spec, args),
        head=dict(
            type=HEADS[spec['head']],
            tree=tree,
            in_channels=spec['p'],
            hidden_size=spec['h']))


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

    from mmhier.structures import ClassTree
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
    for leaf in picks.tolist():
        sample = DataSample().set_gt_label(leaf)
        sample.set_field(
            torch.as_tensor(tree.path_matrix[leaf])[None], 'gt_path')
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


# ----------------------------------------------------------------------
# memory
# ----------------------------------------------------------------------
def memory_work(spec, args) -> None:
    model, wrapper = build(spec, args)
    batch = make_batch(args)
    for _ in range(2):
        train_step(model, wrapper, batch)
    if not args.no_infer:
        infer_step(model, batch, args)
    sync(args.device)


def probe_memory(args) -> None:
    """Subprocess entry: peak RSS (MiB) of one model's work, as JSON."""
    import mmhier  # noqa: F401
    if args.threads:
        torch.set_num_threads(args.threads)
    spec = [s for s in variant_specs(args)
            if s['name'] == args.probe_memory][0]
    memory_work(spec, args)
    print('MEMORY ' + json.dumps(dict(peak_mib=peak_rss_mib())))


def peak_rss_mib() -> float:
    """Peak RSS of this process (``VmHWM``). Not ``getrusage``: its
    ``ru_maxrss`` survives fork and exec, so a probe started from a big
    parent would report the parent's peak."""
    with open('/proc/self/status') as f:
        for line in f:
            if line.startswith('VmHWM:'):
                return int(line.split()[1]) / 1024
    raise RuntimeError('no VmHWM in /proc/self/status (not Linux?)')


def measure_memory(specs, args) -> Dict[str, float]:
    """Peak memory (MiB) per model name."""
    peaks = {}
    if args.device.startswith('cuda'):
        for spec in specs:
            gc.collect()
            torch.cuda.empty_cache()
            torch.cuda.reset_peak_memory_stats(args.device)
            memory_work(dict(spec), args)
            peaks[spec['name']] = (
                torch.cuda.max_memory_allocated(args.device) / 2**20)
            gc.collect()
            torch.cuda.empty_cache()
        return peaks
    base = [sys.executable, osp.abspath(__file__)
            ] + [a for a in args.argv if a != '--probe-memory']
    for spec in specs:
        out = subprocess.run(
            base + ['--probe-memory', spec['name']],
            capture_output=True,
            text=True)
        lines = [
            ln for ln in out.stdout.splitlines() if ln.startswith('MEMORY ')
        ]
        if out.returncode or not lines:
            raise RuntimeError(f'memory probe of {spec["name"]} failed:\n'
                               f'{out.stderr[-3000:]}')
        peaks[spec['name']] = json.loads(lines[-1][7:])['peak_mib']
    return peaks


# ----------------------------------------------------------------------
# main
# ----------------------------------------------------------------------
def run(args) -> Dict[str, Any]:
    import mmhier  # noqa: F401
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    specs = variant_specs(args)
    info = machine_info(args.device)

    models = {}
    for spec in specs:
        models[spec['name']] = build(spec, args)
    batch = make_batch(args)
    flat_head = specs[0]['head_params']

    phases = ['train'] + ([] if args.no_infer else ['infer'])
    times = {ph: {s['name']: [] for s in specs} for ph in phases}
    ratios = {ph: {s['name']: [] for s in specs} for ph in phases}
    rng = random.Random(args.seed)
    names = [s['name'] for s in specs]
    wall = time.perf_counter()
    for rep in range(args.warmup + args.repeat):
        order = names[:]
        rng.shuffle(order)
        rep_times = {ph: {} for ph in phases}
        for name in order:
            model, wrapper = models[name]
            rep_times['train'][name] = timed(
                lambda: train_step(model, wrapper, batch), args)
            if 'infer' in phases:
                rep_times['infer'][name] = timed(
                    lambda: infer_step(model, batch, args), args)
        if rep < args.warmup:
            continue
        for ph in phases:
            for name in names:
                t = rep_times[ph][name]
                times[ph][name].append(t)
                ratios[ph][name].append(t / rep_times[ph]['flat'])
        print(
            f'repetition {rep - args.warmup + 1}/{args.repeat} done '
            f'({time.perf_counter() - wall:.0f} s)',
            flush=True)
    del models
    gc.collect()

    peaks = {} if args.no_memory else measure_memory(specs, args)

    rows = []
    for spec in specs:
        name = spec['name']
        row = dict(
            model=name,
            conversion=spec.get('conversion_used', '-'),
            **{'p/h': f'{spec["p"]}/{spec["h"]}' if 'p' in spec else '-'},
            neck_params=spec['neck_params'],
            head_params=spec['head_params'],
            added_params=spec['neck_params'] + spec['head_params'] - flat_head)
        for ph in phases:
            t = median_spread(times[ph][name])
            r = median_spread(ratios[ph][name])
            row[f'{ph}_ms'] = t['median'] * 1e3
            row[f'{ph}_ms_iqr'] = t['iqr'] * 1e3
            row[f'{ph}_ratio'] = r['median']
            row[f'{ph}_ratio_range'] = f'{r["min"]:.3f}-{r["max"]:.3f}'
        if peaks:
            row['peak_mem_mib'] = peaks[name]
            row['mem_delta_mib'] = peaks[name] - peaks['flat']
            row['mem_ratio'] = peaks[name] / peaks['flat']
        row['target'] = target_check(spec, row)
        rows.append(row)

    columns = ['model', 'conversion', 'p/h', 'added_params', 'neck_params']
    for ph in phases:
        columns += [
            f'{ph}_ms', f'{ph}_ms_iqr', f'{ph}_ratio', f'{ph}_ratio_range'
        ]
    if peaks:
        columns += ['peak_mem_mib', 'mem_delta_mib', 'mem_ratio']
    columns.append('target')
    mem_note = ('peak memory: torch.cuda.max_memory_allocated with only that '
                'model on the GPU' if args.device.startswith('cuda') else
                'peak memory: peak RSS of a fresh process building that '
                'model and running 2 train steps + 1 inference step')
    notes = [
        f'ResNet-{args.depth}, {args.size} px, batch {args.batch}, '
        f'device {args.device}, amp(bf16)={args.amp}, '
        f'channels_last={args.channels_last}, SGD momentum 0.9, '
        f'{torch.get_num_threads()} torch thread(s), clock {args.clock} '
        '(cpu = CPU seconds of the process)',
        f'{args.repeat} timed repetitions (+{args.warmup} warm-up), '
        f'{args.inner} step(s) per sample, models interleaved in a '
        f'shuffled order each repetition; ratios are to the flat model of '
        f'the same repetition (median, min-max)',
        'train = model.train_step (preprocess, forward, loss, backward, '
        'SGD step); infer = model.test_step (beam search, k=5, for the '
        'DHNN heads)', 'added_params = neck + head - the flat LinearClsHead '
        f'({flat_head} params); tree: 30 nodes with the DHNN Open Images '
        'shape', mem_note
    ]
    name = args.name or f'overhead_{args.device.split(":")[0]}'
    write_report(
        args.out,
        name,
        f'DHNN overhead over flat ResNet-{args.depth} ({args.device})',
        {'Overhead per model': dict(columns=columns, rows=rows, digits=3)},
        info,
        notes,
        command=command_line(__file__, args.argv),
        extra=dict(
            settings=vars(args),
            raw_times={ph: times[ph]
                       for ph in phases},
            raw_ratios={ph: ratios[ph]
                        for ph in phases}))
    return dict(rows=rows, columns=columns)


def target_check(spec: Dict[str, Any], row: Dict[str, Any]) -> str:
    """The issue's targets for the S2S models with pooling."""
    if spec.get('head') != 's2s' or spec.get('conversion') != 'pool':
        return ''
    limit = 1.05 if spec['size'] == 'small' else 1.15
    ok = row['train_ratio'] <= limit
    text = f'train <= {limit:.2f}x: {"met" if ok else "MISSED"}'
    if spec['conversion_used'] == 'pool':
        text += (f'; pooling params {spec["neck_params"]}: '
                 f'{"met" if spec["neck_params"] == 0 else "MISSED"}')
    else:
        text += ('; pooling params 0, the n-mode products after it '
                 f'{spec["neck_params"]}')
    return text


def main(argv=None) -> None:
    args = parse_args(argv)
    if args.probe_memory:
        probe_memory(args)
        return
    run(args)


if __name__ == '__main__':
    main()
