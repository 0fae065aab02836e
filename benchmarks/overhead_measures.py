# Copyright (c) mmhier contributors. All rights reserved.
"""What ``overhead.py`` measures: work ops, host syncs, memory and time.

The memory of each model is measured in a subprocess of ``overhead.py``
(``--probe-memory``) so that one model's peak does not hide another's.
"""
import argparse
import gc
import json
import os.path as osp
import random
import subprocess
import sys
import time
from typing import Any, Dict, List

import torch

from overhead_models import (build, infer_step, make_batch, sync, timed,
                             train_step, variant_specs)

#: the script whose ``--probe-memory`` measures one model
OVERHEAD_SCRIPT = osp.join(osp.dirname(osp.abspath(__file__)), 'overhead.py')


def count_work(spec: Dict[str, Any], args) -> Dict[str, Any]:
    """Work ops and host syncs of one train step and one inference step
    of a model (see :func:`mmhier.utils.count_ops`), on the CPU, in float32.

    The optimizer is SGD with ``foreach=True``, what it does on a GPU by
    default (on the CPU it would run one set of ops per parameter, which
    would count the head's parameters instead of its launches). One step of
    each kind runs first, untimed and uncounted (caches, lazy state).
    """
    from mmengine.optim import OptimWrapper

    from mmhier.utils import count_ops
    count_args = argparse.Namespace(**vars(args))
    count_args.device, count_args.amp = 'cpu', False
    count_args.channels_last, count_args.compile = False, None
    model, _ = build(spec, count_args)
    wrapper = OptimWrapper(
        optimizer=torch.optim.SGD(
            model.parameters(),
            lr=1e-3,
            momentum=0.9,
            weight_decay=1e-4,
            foreach=True))
    batch = make_batch(count_args)
    train_step(model, wrapper, batch)
    batch = make_batch(count_args)  # as fresh from the data loader
    train = count_ops(lambda: train_step(model, wrapper, batch))
    out = dict(
        train_ops=train.work_ops,
        train_syncs=train.host_syncs,
        train_sync_ops=train.syncs)
    if not args.no_infer:
        infer_step(model, batch, count_args)
        batch = make_batch(count_args)
        infer = count_ops(lambda: infer_step(model, batch, count_args))
        out.update(
            infer_ops=infer.work_ops,
            infer_syncs=infer.host_syncs,
            infer_sync_ops=infer.syncs)
    return out


def count_all(specs: List[Dict[str, Any]], args) -> Dict[str, Dict]:
    """:func:`count_work` of every model, with the ops added over the
    flat model (``flat`` first in ``specs``)."""
    counts = {}
    for spec in specs:
        counts[spec['name']] = count_work(spec, args)
        gc.collect()
    flat = counts[specs[0]['name']]
    for name, c in counts.items():
        for ph in ('train', 'infer'):
            if f'{ph}_ops' in c:
                c[f'{ph}_added_ops'] = c[f'{ph}_ops'] - flat[f'{ph}_ops']
        c['sync_ops'] = '; '.join(
            f'{ph}: ' +
            ', '.join(f'{k} x{v}'
                      for k, v in c.get(f'{ph}_sync_ops', {}).items())
            for ph in ('train', 'infer') if c.get(f'{ph}_sync_ops'))
        print(
            f'counted {name}: ' +
            ', '.join(f'{k}={c[k]}'
                      for k in ('train_added_ops', 'train_syncs',
                                'infer_added_ops', 'infer_syncs') if k in c),
            flush=True)
    return counts


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
    base = [sys.executable, OVERHEAD_SCRIPT
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


def time_all(specs, args, phases, times, ratios) -> None:
    """Time every model, interleaved (see the module docstring); fills
    ``times`` and ``ratios`` ``{phase: {name: [seconds or ratio]}}``."""
    models = {}
    for spec in specs:
        models[spec['name']] = build(spec, args)
    batch = make_batch(args)
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
