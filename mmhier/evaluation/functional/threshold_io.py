# Copyright (c) mmhier contributors. All rights reserved.
"""Carry the multi-label threshold chosen on validation over to testing.

The DHNN paper (sec. 4.2) picks the threshold that maximises F1 on the
validation set and applies it unchanged on the test set. Two carriers:

- the checkpoint: :class:`mmhier.engine.hooks.HierThresholdHook` stores the
  thresholds validated on a checkpoint's own weights in its
  ``meta['hier_threshold']`` and, when a checkpoint is loaded (``load_from``,
  ``tools/test.py``), publishes that entry in the ``MessageHub``
  (:data:`RUNTIME_KEY`). ``threshold='from_val'`` uses it first, so an
  earlier or a "best" checkpoint is tested with its own threshold.
- a JSON file, by default ``<work_dir>/hier_threshold.json`` (other metric
  prefixes: ``<work_dir>/<prefix>_threshold.json``): the validation metric
  (``threshold='auto'``) writes every chosen value there; the test metric
  falls back to its latest entry, with a warning, only when the tested
  checkpoint carries no threshold. :func:`set_threshold_files` fills the
  file name into a config, so ``tools/train.py`` and ``tools/test.py`` of
  the same config and work_dir meet at the same file.

File format::

    {"threshold": 0.43, "select_by": "path_f1", "average": "weighted",
     "score": 71.2, "num_samples": 2000, "epoch": 12, "iter": 3600,
     "history": [{...one entry per validation run...}]}
"""
import json
import os
import os.path as osp
from typing import Any, Optional, Tuple, Union

from mmengine.logging import MessageHub, print_log

__all__ = [
    'THRESHOLD_FILE', 'THRESHOLD_METRICS', 'CHECKPOINT_KEY', 'RUNTIME_KEY',
    'save_threshold', 'load_threshold', 'load_threshold_entry',
    'resolve_threshold', 'find_val_threshold', 'threshold_file_name',
    'set_threshold_files'
]

#: File name of the stored threshold inside the work_dir.
THRESHOLD_FILE = 'hier_threshold.json'
#: Key of the validated thresholds in a checkpoint's ``meta``.
CHECKPOINT_KEY = 'hier_threshold'
#: ``MessageHub`` runtime info holding the loaded checkpoint's entry.
RUNTIME_KEY = 'hier/checkpoint_threshold'
#: Metric types that take ``threshold`` / ``threshold_file``.
THRESHOLD_METRICS = ('HierMultiLabelMetric', 'HierF1')


def save_threshold(file: str, threshold: float, **info: Any) -> dict:
    """Write ``threshold`` (and ``info``) to ``file``, keeping the earlier
    entries of the same file under ``history``. Atomic (write + rename).

    Returns:
        dict: the entry written.
    """
    entry = dict(threshold=float(threshold), **info)
    history = []
    if osp.isfile(file):
        try:
            with open(file, encoding='utf-8') as f:
                history = list(json.load(f).get('history', []))
        except (OSError, ValueError, AttributeError):
            history = []  # a damaged file is replaced, not fatal
    data = dict(entry, history=history + [entry])
    if osp.dirname(file):
        os.makedirs(osp.dirname(file), exist_ok=True)
    tmp = f'{file}.tmp{os.getpid()}'
    with open(tmp, 'w', encoding='utf-8') as f:
        json.dump(data, f, indent=1)
        f.write('\n')
    os.replace(tmp, file)
    return entry


def load_threshold(file: str) -> float:
    """The threshold stored in ``file`` by a validation run."""
    return float(load_threshold_entry(file)['threshold'])


def load_threshold_entry(file: str) -> dict:
    """The latest entry of ``file`` (``threshold`` and what was saved with
    it, e.g. ``node_threshold``, ``epoch``), without ``history``."""
    if not osp.isfile(file):
        raise FileNotFoundError(
            f'threshold file {file} does not exist: run validation with '
            "threshold='auto' first (tools/train.py writes it to "
            f'<work_dir>/{THRESHOLD_FILE}), or give threshold=<float>')
    with open(file, encoding='utf-8') as f:
        try:
            data = json.load(f)
        except ValueError as e:
            raise ValueError(f'threshold file {file} is not valid JSON: '
                             f'{e}') from None
    if not isinstance(data, dict) or not isinstance(
            data.get('threshold'), (int, float)):
        raise ValueError(f'threshold file {file} has no numeric '
                         f'"threshold" entry, got {data!r:.200}')
    return {k: v for k, v in data.items() if k != 'history'}


def resolve_threshold(threshold: Union[float, str, None],
                      threshold_file: Optional[str],
                      key: str = 'hier/threshold') -> Optional[float]:
    """A fixed threshold: a float as is, ``'from_val'`` by
    :func:`find_val_threshold`, ``None`` as ``None``."""
    if threshold is None or isinstance(threshold, (int, float)):
        return None if threshold is None else float(threshold)
    if threshold == 'from_val':
        return find_val_threshold(threshold_file, key)[0]
    raise ValueError(f"threshold must be a float or 'from_val' here, got "
                     f'{threshold!r}')


def _describe(entry: dict) -> str:
    parts = [f'{k} {entry[k]}' for k in ('epoch', 'iter') if k in entry]
    return ', '.join(parts) if parts else 'unknown epoch'


def find_val_threshold(threshold_file: Optional[str],
                       key: str = 'hier/threshold') -> Tuple[float, str]:
    """The validated threshold of the model under test, and where it came
    from.

    1. The loaded checkpoint's own threshold: ``meta['hier_threshold']``
       published by :class:`mmhier.engine.hooks.HierThresholdHook` when the
       Runner loaded the checkpoint (``thresholds[key]``).
    2. Else the latest entry of ``threshold_file`` (``node_threshold`` for
       a ``key`` ending in ``node_threshold``), with a warning: that entry
       belongs to the last validation run, not necessarily to the weights
       under test.

    Args:
        threshold_file: The JSON file written by the validation metric.
        key: The metric key of the threshold, ``'<prefix>/threshold'`` or
            ``'<prefix>/node_threshold'``.

    Returns:
        tuple: the threshold and a description of its source for the log.
    """
    hub = MessageHub.get_current_instance()
    loaded = hub.get_info(RUNTIME_KEY)
    if loaded is not None:
        entry = loaded.get('entry') or {}
        name = loaded.get('checkpoint') or 'the loaded checkpoint'
        value = (entry.get('thresholds') or {}).get(key)
        if value is not None:
            return float(value), (f'stored in checkpoint {name}, validated '
                                  f'at {_describe(entry)}')
        why = ('it was saved before any validation of its weights'
               if entry else 'it was saved without HierThresholdHook')
        reason = (f'checkpoint {name} stores no validated {key} ({why}); ')
    else:
        reason = ('no checkpoint threshold was published (no checkpoint '
                  'loaded by a Runner with HierThresholdHook); ')
    if threshold_file is None:
        raise ValueError(f'{reason}and no threshold_file is set: give '
                         'threshold=<float>')
    entry = load_threshold_entry(threshold_file)
    field = ('node_threshold'
             if key.split('/')[-1] == 'node_threshold' else 'threshold')
    if not isinstance(entry.get(field), (int, float)):
        raise ValueError(f'{reason}and {threshold_file} has no numeric '
                         f'"{field}"')
    print_log(
        f'{reason}falling back to the latest entry of {threshold_file} '
        f'({_describe(entry)}), which may belong to other weights than '
        'those under test',
        logger='current',
        level=30)
    return float(entry[field]), (f'latest entry of {threshold_file}, '
                                 f'validated at {_describe(entry)}')


def threshold_file_name(prefix: Optional[str] = None) -> str:
    """``hier_threshold.json`` for the default prefix ``'hier'`` (or none),
    else ``<prefix>_threshold.json``, so that two metrics do not overwrite
    each other's file."""
    if not prefix or prefix == 'hier':
        return THRESHOLD_FILE
    return f'{prefix.replace("/", "_")}_threshold.json'


def _metric_cfgs(evaluator: Any) -> list:
    if evaluator is None:
        return []
    if isinstance(evaluator, (list, tuple)):
        return [m for e in evaluator for m in _metric_cfgs(e)]
    if isinstance(evaluator, dict) and 'metrics' in evaluator:
        return _metric_cfgs(evaluator['metrics'])
    return [evaluator] if isinstance(evaluator, dict) else []


def set_threshold_files(cfg: Any, work_dir: Optional[str] = None) -> list:
    """Point the threshold metrics of ``val_evaluator`` / ``test_evaluator``
    at ``<work_dir>/hier_threshold.json`` where no file is set (a metric
    with another ``prefix`` at ``<work_dir>/<prefix>_threshold.json``, see
    :func:`threshold_file_name`; ``HierF1`` reads the default file).

    Call it in ``tools/train.py`` and ``tools/test.py`` after
    ``cfg.work_dir`` is resolved. Metrics with a float threshold are left
    alone.

    Args:
        cfg: An mmengine ``Config`` (or dict) with the evaluators.
        work_dir: Defaults to ``cfg.work_dir``.

    Returns:
        list: the metric configs changed.
    """
    work_dir = work_dir or cfg.get('work_dir')
    if not work_dir:
        raise ValueError('set_threshold_files needs a work_dir')
    changed = []
    for key in ('val_evaluator', 'test_evaluator'):
        for metric in _metric_cfgs(cfg.get(key)):
            kind = metric.get('type')
            kind = getattr(kind, '__name__', kind)
            if kind not in THRESHOLD_METRICS:
                continue
            thr = metric.get(
                'threshold',
                'auto' if kind == 'HierMultiLabelMetric' else None)
            if thr in ('auto',
                       'from_val') and not metric.get('threshold_file'):
                name = threshold_file_name(
                    metric.get('prefix') if kind ==
                    'HierMultiLabelMetric' else None)
                metric['threshold_file'] = osp.join(work_dir, name)
                changed.append(metric)
    return changed
