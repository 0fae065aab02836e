# Copyright (c) mmhier contributors. All rights reserved.
"""Score dumped predictions with the hierarchical metrics: a results table
and the per-level confusion matrices.

Takes one or more ``tools/test.py CONFIG CKPT --out results.pkl`` pickles
(lists of DataSample dicts) and the class tree, prints one table row per
pickle (flat and hierarchical models on the same scale: a flat model's
``pred_label`` implies its path, DHNN Remark 1), and draws the per-level
confusion matrices of each single-label pickle to a PNG.

Examples::

    python tools/analysis_tools/hier_results.py flat.pkl s2s.pkl \\
        --tree data/fmnist/tree.json --names Res-50 Res-S2S \\
        --topk 1 5 --confusion-png work_dirs/confusion.png

    # multi-label, with the threshold chosen on validation
    python tools/analysis_tools/hier_results.py test.pkl --tree oi.json \\
        --multi-label --threshold-file work_dirs/x/hier_threshold.json
"""
import argparse
import math
import os.path as osp
import sys
from typing import Dict, List, Optional

REPO_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
if REPO_ROOT not in sys.path:
    sys.path.insert(0, REPO_ROOT)

import mmengine  # noqa: E402
import mmhier  # noqa: E402,F401  (registers the metrics)
import torch  # noqa: E402
from mmengine.evaluator import Evaluator  # noqa: E402
from mmpretrain.registry import METRICS  # noqa: E402

from mmhier.evaluation import HierConfusionMatrix  # noqa: E402
from mmhier.structures import ClassTree  # noqa: E402


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Hierarchical metrics of dumped predictions: a table '
        'and per-level confusion matrices')
    parser.add_argument(
        'results', nargs='+', help='pickles written by tools/test.py --out')
    parser.add_argument(
        '--tree',
        required=True,
        help='the class tree file (.json, .tsv, .csv or .txt)')
    parser.add_argument(
        '--names', nargs='+', help='row names (default: the file names)')
    parser.add_argument(
        '--multi-label',
        action='store_true',
        help='score path / node F1 of multi-label predictions')
    parser.add_argument(
        '--threshold',
        default=None,
        help="multi-label threshold: a float, or 'auto' to search it on "
        'these results (optimistic on a test set)')
    parser.add_argument(
        '--threshold-file',
        help='multi-label: the hier_threshold.json of the validation run')
    parser.add_argument(
        '--average',
        nargs='+',
        default=['weighted'],
        choices=['micro', 'macro', 'weighted'],
        help='multi-label averaging (default: weighted, as the DHNN '
        'authors)')
    parser.add_argument(
        '--topk',
        nargs='+',
        type=int,
        default=[1],
        help='k of hdist@k (needs that many beams / node scores)')
    parser.add_argument(
        '--confusion-png',
        help='draw the per-level confusion matrices to this PNG (one file '
        'per results pickle: NAME is appended when there are several)')
    parser.add_argument(
        '--normalize',
        action='store_true',
        help='normalise each confusion row (recall per true node)')
    parser.add_argument('--out', help='also dump the metrics to this JSON')
    return parser.parse_args(argv)


def metric_cfgs(args: argparse.Namespace) -> List[dict]:
    if not args.multi_label:
        return [
            dict(type='HierAccuracy'),
            dict(type='HierF1'),
            dict(type='MistakeSeverity', topk=tuple(args.topk)),
        ]
    if args.threshold_file is not None:
        threshold = 'from_val'
    elif args.threshold in (None, 'auto'):
        threshold = 'auto'
    else:
        threshold = float(args.threshold)
    ml = dict(
        type='HierMultiLabelMetric',
        threshold=threshold,
        threshold_file=args.threshold_file,
        average=tuple(args.average))
    cfgs = [ml]
    if threshold != 'auto':
        cfgs.append(
            dict(
                type='HierF1',
                threshold=threshold,
                threshold_file=args.threshold_file))
    return cfgs


def evaluate(samples: list, tree: ClassTree, cfgs: List[dict]) -> Dict:
    """Run the metrics over dumped samples (as mmengine's offline
    evaluation does)."""
    metrics = [METRICS.build(dict(cfg, tree=tree)) for cfg in cfgs]
    return Evaluator(metrics).offline_evaluate(samples, chunk_size=256)


def format_table(rows: Dict[str, Dict[str, float]]) -> str:
    """A Markdown table: one row per model, one column per metric."""
    keys: List[str] = []
    for res in rows.values():
        keys += [k for k in res if k not in keys]

    def cell(v) -> str:
        if v is None:
            return '-'
        return 'nan' if math.isnan(v) else f'{v:.2f}'

    head = ['model'] + [k.split('/', 1)[-1] for k in keys]
    lines = [
        '| ' + ' | '.join(head) + ' |',
        '|' + '|'.join(['---'] + ['---:'] * len(keys)) + '|'
    ]
    for name, res in rows.items():
        lines.append('| ' +
                     ' | '.join([name] + [cell(res.get(k))
                                          for k in keys]) + ' |')
    return '\n'.join(lines)


def draw_confusion(samples: list, tree: ClassTree, file: str,
                   normalize: bool) -> Optional[str]:
    """Draw the per-level confusion matrices; None if matplotlib is
    missing."""
    try:
        import matplotlib
        matplotlib.use('Agg')
    except ImportError:
        print('matplotlib is not installed: no confusion PNG was drawn '
              '(pip install matplotlib)')
        return None
    res = evaluate(samples, tree, [dict(type='HierConfusionMatrix')])
    mats = [res[f'hier_confusion/level{t + 1}'] for t in range(tree.max_depth)]
    fig = HierConfusionMatrix.plot(mats, tree=tree, normalize=normalize)
    mmengine.mkdir_or_exist(osp.dirname(osp.abspath(file)))
    fig.savefig(file, dpi=100)
    import matplotlib.pyplot as plt
    plt.close(fig)
    return file


def main(argv: Optional[List[str]] = None) -> Dict[str, Dict[str, float]]:
    """Print the table (and draw the PNGs); return the metrics per model."""
    args = parse_args(argv)
    names = args.names or [
        osp.splitext(osp.basename(f))[0] for f in args.results
    ]
    if len(names) != len(args.results):
        raise ValueError(f'got {len(names)} --names for '
                         f'{len(args.results)} results files')
    tree = ClassTree.build(args.tree)
    cfgs = metric_cfgs(args)
    rows: Dict[str, Dict[str, float]] = {}
    for name, file in zip(names, args.results):
        samples = mmengine.load(file)
        if not isinstance(samples, list) or not samples:
            raise ValueError(f'{file} holds no list of predictions; write '
                             'it with tools/test.py CONFIG CKPT --out FILE')
        rows[name] = {
            k: float(v)
            for k, v in evaluate(samples, tree, cfgs).items()
            if not isinstance(v, torch.Tensor) or v.numel() == 1
        }
        if args.confusion_png and not args.multi_label:
            png = args.confusion_png
            if len(args.results) > 1:
                stem, ext = osp.splitext(png)
                png = f'{stem}_{name}{ext or ".png"}'
            if draw_confusion(samples, tree, png, args.normalize):
                print(f'{name}: per-level confusion matrices -> {png}')
    print(format_table(rows))
    if args.out:
        mmengine.dump(rows, args.out, indent=1)
    return rows


if __name__ == '__main__':
    main()
