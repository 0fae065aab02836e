# Copyright (c) mmhier contributors. All rights reserved.
"""The report of ``benchmarks/accuracy.py``: mean and std over seeds per
model, the difference to the flat model, and the PNG curves."""
from typing import Any, Dict, List, Optional

from _common import mean_std
from accuracy_configs import BASELINE

METRIC_COLUMNS = ('path_acc', 'node_acc', 'h_f1', 'mistake_severity')


def summarise(results: List[Dict[str, Any]], args):
    """Mean/std rows per model (and HierNet view) over seeds."""
    by_key: Dict[str, List] = {}
    meta: Dict[str, Dict[str, Any]] = {}
    for res in results:
        for suffix, scores in res['epochs'][-1].items():
            key = res['model'] + suffix
            by_key.setdefault(key, []).append(scores)
            meta[key] = dict(
                source=res['source'],
                depth=res['tree_depth'],
                params=res['params'],
                seconds=[])
    for res in results:
        for suffix in res['epochs'][-1]:
            meta[res['model'] + suffix]['seconds'].append(res['seconds'])
    rows, stats = [], {}
    max_depth = max(m['depth'] for m in meta.values())
    for key, runs in by_key.items():
        row = dict(model=key, seeds=len(runs))
        stats[key] = {}
        for metric in runs[0]:
            values = [r[metric] for r in runs if r[metric] == r[metric]]
            if not values:
                row[metric] = 'nan'
                continue
            ms = mean_std(values)
            stats[key][metric] = ms
            row[metric] = f'{ms["mean"]:.2f} ± {ms["std"]:.2f}'
        base = _baseline(key)
        if base not in by_key:  # CIFAR-100: one tree, one flat model
            base = 'flat'
        if base in stats and key != base and 'path_acc' in stats[key]:
            diff = stats[key]['path_acc']['mean'] - stats[base]['path_acc'][
                'mean']
            row['path_acc_vs_flat'] = f'{diff:+.2f} (vs {base})'
        else:
            row['path_acc_vs_flat'] = '-'
        row['params'] = meta[key]['params']
        row['min_per_run'] = sum(meta[key]['seconds']) / len(
            meta[key]['seconds']) / 60
        rows.append(row)
    columns = (['model', 'seeds'] + list(METRIC_COLUMNS) +
               ['path_acc_vs_flat'] +
               [f'level{t + 1}_acc' for t in range(max_depth)] +
               ['invalid_path_rate', 'params', 'min_per_run'])
    sources = [dict(model=k, config=m['source']) for k, m in meta.items()]
    return rows, columns, sources, stats


def _baseline(key: str) -> str:
    key, _, fraction = key.partition('@')
    if fraction:  # partial labels: the flat model on the fine images
        return f'flat-fine@{fraction}'
    name = key.split('-slow')[0].split('-fast')[0]
    if name in BASELINE:
        return BASELINE[name] or key
    return 'flat'


def plot_curves(results: List[Dict[str, Any]], path: str) -> Optional[str]:
    """Test path accuracy against epochs, mean over seeds, one line per
    model (and HierNet view)."""
    try:
        import matplotlib
        matplotlib.use('Agg')
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    curves: Dict[str, List[List[float]]] = {}
    for res in results:
        for e, epoch in enumerate(res['epochs']):
            for suffix, scores in epoch.items():
                per_seed = curves.setdefault(res['model'] + suffix, [])
                while len(per_seed) <= e:
                    per_seed.append([])
                per_seed[e].append(scores['path_acc'])
    fig, ax = plt.subplots(figsize=(8, 5))
    colors = plt.get_cmap('tab20').colors
    for i, (key, per_epoch) in enumerate(curves.items()):
        xs = list(range(1, len(per_epoch) + 1))
        ys = [sum(v) / len(v) for v in per_epoch]
        style = '--' if key.startswith('flat') else '-'
        ax.plot(
            xs,
            ys,
            style,
            marker='o',
            label=key,
            color=colors[i % len(colors)])
    ax.set_xlabel('epoch')
    ax.set_ylabel('test path accuracy (%)')
    ax.set_title('Test path accuracy (mean over seeds)')
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, ncol=2)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def plot_fractions(stats: Dict[str, Any], path: str) -> Optional[str]:
    """Test path accuracy (mean and std over seeds) against the fine
    fraction F, one line per model."""
    try:
        import matplotlib
        matplotlib.use('Agg')
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    lines: Dict[str, List] = {}
    for key, metrics in stats.items():
        name, _, fraction = key.partition('@')
        if fraction and 'path_acc' in metrics:
            ms = metrics['path_acc']
            lines.setdefault(name, []).append(
                (float(fraction), ms['mean'], ms['std']))
    if not lines:
        return None
    fig, ax = plt.subplots(figsize=(7, 5))
    for name, points in sorted(lines.items()):
        points.sort()
        xs, ys, es = zip(*points)
        style = '--' if name.startswith('flat') else '-'
        ax.errorbar(
            xs, ys, yerr=es, fmt=style, marker='o', capsize=3, label=name)
    ax.set_xscale('log')
    ax.set_xlabel('share of training images with a full path, F')
    ax.set_ylabel('test path accuracy (%)')
    ax.set_title('Learning from coarse labels (mean ± std over seeds)')
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path
