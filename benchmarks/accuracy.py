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

Each model comes from its config file in ``configs/`` (the file a user
trains; ``accuracy_configs.py`` lists them) with only the budget
overridden (epochs, training subset, seed, work_dir, logging, no
checkpoints); the report names the config of every row.

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
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Dict

sys.path.insert(0, osp.dirname(osp.abspath(__file__)))
# yapf: disable
from _common import (REPO_ROOT, command_line,  # noqa: E402
                     machine_info, write_report)
from accuracy_configs import (BASELINE, CONFIG_DIR,  # noqa: E402,F401
                              DEFAULT_ROOTS, FINE_ONLY, MODELS_CIFAR,
                              MODELS_FMNIST, MODES, _key, apply_budget,
                              config_path, load_config, models_of,
                              small_backbone)
from accuracy_report import (METRIC_COLUMNS, plot_curves,  # noqa: E402,F401
                             plot_fractions, summarise)
from accuracy_runs import (_Collector, _result_path,  # noqa: E402,F401
                           _subprocess_run, run_one)
# yapf: enable


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
    table = models_of(args.dataset)
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
