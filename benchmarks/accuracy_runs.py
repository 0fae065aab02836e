# Copyright (c) mmhier contributors. All rights reserved.
"""One run of ``benchmarks/accuracy.py``: train and test one model for one
seed, in this process or in a subprocess of the script, and score every
validation epoch."""
import copy
import json
import os
import os.path as osp
import subprocess
import sys
import time
from typing import Any, Dict, List, Optional

from accuracy_configs import _key, load_config

# the script a subprocess runs (with --run-one)
ACCURACY_SCRIPT = osp.join(osp.dirname(osp.abspath(__file__)), 'accuracy.py')


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
    cmd = [sys.executable, ACCURACY_SCRIPT] + args.argv + [
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
