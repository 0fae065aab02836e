# Copyright (c) mmhier contributors. All rights reserved.
"""Carry the multi-label threshold chosen on validation over to testing.

The DHNN paper (sec. 4.2) picks the threshold that maximises F1 on the
validation set and applies it unchanged on the test set. In mmhier the
validation metric (``threshold='auto'``) writes the chosen value to a small
JSON file, by default ``<work_dir>/hier_threshold.json``; the test metric
(``threshold='from_val'``) reads it back. :func:`set_threshold_files` fills
the file name into a config, so ``tools/train.py`` and ``tools/test.py`` of
the same config and work_dir meet at the same file.

File format::

    {"threshold": 0.43, "select_by": "path_f1", "average": "weighted",
     "score": 71.2, "num_samples": 2000, "epoch": 12, "iter": 3600,
     "history": [{...one entry per validation run...}]}
"""
import json
import os
import os.path as osp
from typing import Any, Optional, Union

__all__ = [
    'THRESHOLD_FILE', 'THRESHOLD_METRICS', 'save_threshold', 'load_threshold',
    'resolve_threshold', 'set_threshold_files'
]

#: File name of the stored threshold inside the work_dir.
THRESHOLD_FILE = 'hier_threshold.json'
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
    return float(data['threshold'])


def resolve_threshold(threshold: Union[float, str, None],
                      threshold_file: Optional[str]) -> Optional[float]:
    """A fixed threshold: a float as is, ``'from_val'`` read from
    ``threshold_file``, ``None`` as ``None``."""
    if threshold is None or isinstance(threshold, (int, float)):
        return None if threshold is None else float(threshold)
    if threshold == 'from_val':
        if threshold_file is None:
            raise ValueError("threshold='from_val' needs threshold_file")
        return load_threshold(threshold_file)
    raise ValueError(f"threshold must be a float or 'from_val' here, got "
                     f'{threshold!r}')


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
    at ``<work_dir>/hier_threshold.json`` where no file is set.

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
                metric['threshold_file'] = osp.join(work_dir, THRESHOLD_FILE)
                changed.append(metric)
    return changed
