# Copyright (c) mmhier contributors. All rights reserved.
"""Pseudo-label the coarse-only part of a training set (Guo et al. 4.2).

Guo et al.'s two-round scheme for partially annotated data: S_fine has full
label paths, S_coarse only the coarse part. Round one trains on S_fine (or
on both, the missing levels of S_coarse being masked in the loss); this tool
then predicts the fine labels of S_coarse with the round-one checkpoint and
writes a new annotation file, S_coarse^-, for round two, which retrains on
S_fine + S_coarse^-.

The input is an mmhier text annotation file (``image label`` per line,
coarse-only labels written ``a/b/*``, see ``HierDataset``); the images and
the class tree come from the config's ``train_dataloader`` dataset (the
coarse-only images are training images) read with the config's test
pipeline. The output is a text annotation file with the same image paths:

- ``--mode conditioned`` (default): the prediction must extend the known
  coarse part. Heads with a ``coarse_given`` switch (``GuoRNNHead``) are fed
  the known part and predict only the rest (Table 6's "CNN-RNN*"); for other
  heads the best beam path (``pred_beam_paths``) that extends the known part
  is taken, so give them a beam (e.g. ``decoder='tree'`` for the CNN-based
  generator baselines, whose default per-level argmax has one path).
- ``--mode free``: the unconstrained prediction, as the model gives it.

A pseudo-label *disagrees* with the coarse label when it does not start with
the known coarse part (this includes paths that are not paths of the tree);
a prediction that agrees but adds no finer level is *not finer*. Both are
counted and reported, and handled by ``--on-disagree``: ``coarse`` writes
the original coarse-only label again (round two then learns only its coarse
part), ``pred`` writes the prediction anyway (if it is a path of the tree),
``skip`` drops the image. Samples of the input file that already have a
complete path are copied unchanged.

Usage::

    python tools/pseudo_label.py CONFIG ROUND1.pth \\
        --ann-file data/coarse_only.txt --out data/coarse_pseudo.txt \\
        [--fine-ann data/fine.txt] [--mode conditioned] [--on-disagree coarse]

With ``--fine-ann`` the fully labelled part is copied first into ``--out``
(its image paths must be relative to the same image folder), so the
round-two config needs a single annotation file. A summary is printed at the
end (and written with ``--summary-json``).
"""
import argparse
import copy
import json
import os
import os.path as osp
import sys
from typing import Any, Dict, List, Optional

REPO_ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
if REPO_ROOT not in sys.path:
    sys.path.insert(0, REPO_ROOT)

import mmhier  # noqa: E402,F401  (registers components, applies compat)
import torch  # noqa: E402
from mmengine.config import Config, DictAction  # noqa: E402
from mmengine.dataset import pseudo_collate  # noqa: E402
from mmengine.registry import init_default_scope  # noqa: E402
from mmengine.runner import load_checkpoint  # noqa: E402
from mmpretrain.registry import DATASETS, MODELS  # noqa: E402
from torch.utils.data import DataLoader  # noqa: E402

from mmhier.structures import PATH_UNKNOWN, ClassTree  # noqa: E402
from mmhier.utils.progress_bar import SparseProgressBar  # noqa: E402

MODES = ('conditioned', 'free')
ON_DISAGREE = ('coarse', 'pred', 'skip')


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    """Parse the command line (``argv`` defaults to ``sys.argv[1:]``)."""
    parser = argparse.ArgumentParser(
        description='Predict the fine labels of coarse-only training data '
        '(round two of Guo et al., section 4.2)')
    parser.add_argument('config', help='the round-one config file')
    parser.add_argument('checkpoint', help='the round-one checkpoint')
    parser.add_argument(
        '--ann-file',
        required=True,
        help='text annotation file of the coarse-only part (a/b/* labels)')
    parser.add_argument(
        '--out', required=True, help='annotation file to write for round 2')
    parser.add_argument(
        '--fine-ann',
        help='annotation file of the fully labelled part, copied first into '
        '--out')
    parser.add_argument(
        '--mode',
        choices=MODES,
        default='conditioned',
        help='conditioned: extend the known coarse part; free: the '
        'unconstrained prediction')
    parser.add_argument(
        '--on-disagree',
        choices=ON_DISAGREE,
        default='coarse',
        help='what to write when the prediction disagrees with the coarse '
        'label or adds no finer level')
    parser.add_argument(
        '--data-root', help='data_root of the images (default: config)')
    parser.add_argument('--data-prefix', help='image folder (default: config)')
    parser.add_argument('--batch-size', type=int, default=32)
    parser.add_argument('--num-workers', type=int, default=0)
    parser.add_argument(
        '--device',
        default='cuda' if torch.cuda.is_available() else 'cpu',
        help='device for inference')
    parser.add_argument(
        '--summary-json', help='also write the summary to this JSON file')
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=DictAction,
        help='override settings of the config, xxx=yyy')
    return parser.parse_args(argv)


def dataset_config(cfg: Config, args: argparse.Namespace) -> dict:
    """The coarse-only dataset: the config's training dataset (unwrapped
    from dataset wrappers) with the test (else val) pipeline and
    ``--ann-file``."""
    if 'train_dataloader' not in cfg:
        raise ValueError(f'{args.config} has no train_dataloader to take the '
                         'dataset settings (tree, image folder) from')
    ds = copy.deepcopy(cfg.train_dataloader.dataset)
    while 'dataset' in ds or 'datasets' in ds:  # dataset wrappers
        ds = ds['dataset'] if 'dataset' in ds else ds['datasets'][0]
    pipeline = None
    for key in ('test_dataloader', 'val_dataloader'):
        loader = cfg.get(key) or {}
        pipeline = (loader.get('dataset') or {}).get('pipeline')
        if pipeline is not None:
            break
    if pipeline is None:
        raise ValueError(f'{args.config} has no test_dataloader (or '
                         'val_dataloader) pipeline: the tool reads the '
                         'images with the test pipeline')
    ds.update(
        ann_file=args.ann_file,
        allow_coarse_only=True,
        pipeline=pipeline,
        test_mode=True)
    ds.pop('indices', None)
    if args.data_root is not None:
        ds['data_root'] = args.data_root
    if args.data_prefix is not None:
        ds['data_prefix'] = args.data_prefix
    return ds


def label_text(path: List[int], tree: ClassTree, coarse: bool) -> str:
    """Label of a path in the text annotation syntax (``a/b/c``; coarse-only
    ``a/b/*``). Names that hold a ``/`` fall back to the last node's name
    (its path is implied)."""
    names = tree.decode(path)
    if any('/' in name for name in names):
        if coarse:
            raise ValueError(f'cannot write the coarse-only label of path '
                             f'{names}: a node name contains "/"')
        return names[-1]
    return '/'.join(names + ['*'] if coarse else names)


def choose_path(sample: Any, known: List[int], conditioned: bool) -> List[int]:
    """The predicted path (node list) of a sample: the best path, or in
    conditioned mode the best beam path that extends ``known``."""
    best = [int(i) for i in sample.pred_path.tolist() if int(i) >= 0]
    if not conditioned or best[:len(known)] == known:
        return best
    beams = sample.get('pred_beam_paths')
    scores = sample.get('pred_beam_scores')
    if beams is None:
        return best
    for k, row in enumerate(beams.tolist()):
        if scores is not None and not torch.isfinite(scores[k]):
            continue
        path = [int(i) for i in row if int(i) >= 0]
        if path[:len(known)] == known and len(path) > len(known):
            return path
    return best


def pseudo_label(model: torch.nn.Module,
                 dataset,
                 mode: str = 'conditioned',
                 on_disagree: str = 'coarse',
                 batch_size: int = 32,
                 num_workers: int = 0) -> Dict[str, Any]:
    """Predict the fine part of every coarse-only sample of ``dataset``.

    Args:
        model: The round-one model (an ``ImageClassifier`` with a
            hierarchical head), in eval mode on its device.
        dataset: A ``HierDataset`` read with ``allow_coarse_only=True``.
        mode: ``'conditioned'`` or ``'free'``.
        on_disagree: ``'coarse'``, ``'pred'`` or ``'skip'``.
        batch_size: Images per forward pass.
        num_workers: Data loader workers.

    Returns:
        dict: ``lines`` (``(image, label)`` pairs to write) and the counts
        ``total``, ``coarse_only``, ``complete``, ``agree``, ``disagree``,
        ``invalid``, ``not_finer``, ``written_pred``, ``written_coarse``,
        ``skipped``.
    """
    if mode not in MODES:
        raise ValueError(f'mode must be one of {MODES}, got {mode!r}')
    if on_disagree not in ON_DISAGREE:
        raise ValueError(f'on_disagree must be one of {ON_DISAGREE}, got '
                         f'{on_disagree!r}')
    tree: ClassTree = dataset.metainfo['class_tree']
    head = getattr(model, 'head', None)
    if head is None:
        raise ValueError(f'{type(model).__name__} has no head; the tool '
                         'needs an ImageClassifier with a hierarchical head')
    conditioned = mode == 'conditioned'
    if hasattr(head, 'coarse_given'):
        head.coarse_given = conditioned
    prefix = dataset.img_prefix
    counts = dict.fromkeys(
        ('total', 'coarse_only', 'complete', 'agree', 'disagree', 'invalid',
         'not_finer', 'written_pred', 'written_coarse', 'skipped'), 0)
    lines = []
    loader = DataLoader(
        dataset,
        batch_size=batch_size,
        shuffle=False,
        num_workers=num_workers,
        collate_fn=pseudo_collate)
    bar = SparseProgressBar(len(dataset), desc='predicting')
    index = 0
    for batch in loader:
        with torch.no_grad():
            preds = model.test_step(batch)
        for sample in preds:
            info = dataset.get_data_info(index)
            index += 1
            img = info['img_path']
            if prefix:
                img = osp.relpath(img, prefix)
            gt = [int(i) for i in info['gt_path'][0]]
            known = [i for i in gt if i >= 0]
            counts['total'] += 1
            if len(known) == len(gt) or gt[len(known)] != PATH_UNKNOWN:
                counts['complete'] += 1  # already fully labelled: copy
                lines.append((img, label_text(known, tree, False)))
                continue
            counts['coarse_only'] += 1
            path = choose_path(sample, known, conditioned)
            valid = tree.is_valid_path(path) if path else False
            if not valid or path[:len(known)] != known:
                counts['disagree'] += 1
                counts['invalid'] += int(not valid)
                usable = False
            elif len(path) == len(known):
                counts['not_finer'] += 1
                usable = False
            else:
                counts['agree'] += 1
                usable = True
            if usable or (on_disagree == 'pred' and valid):
                counts['written_pred'] += 1
                lines.append((img, label_text(path, tree, False)))
            elif on_disagree == 'skip':
                counts['skipped'] += 1
            else:
                counts['written_coarse'] += 1
                lines.append((img, label_text(known, tree, True)))
        bar.update(len(preds))
    bar.close()
    return dict(lines=lines, **counts)


def write_annotations(out: str,
                      lines: List[tuple],
                      fine_ann: Optional[str] = None) -> int:
    """Write ``image label`` lines (tab-separated when the image path has a
    space), after the lines of ``fine_ann``; returns how many were copied
    from ``fine_ann``."""
    copied = []
    if fine_ann:
        with open(fine_ann, encoding='utf-8') as f:
            copied = [
                line.rstrip('\n') for line in f
                if line.strip() and not line.lstrip().startswith('#')
            ]
    os.makedirs(osp.dirname(osp.abspath(out)), exist_ok=True)
    with open(out, 'w', encoding='utf-8') as f:
        for line in copied:
            f.write(line + '\n')
        for img, label in lines:
            sep = '\t' if any(c.isspace() for c in img) else ' '
            f.write(f'{img}{sep}{label}\n')
    return len(copied)


def summary_text(stats: Dict[str, Any], args: argparse.Namespace) -> str:
    """Human-readable report of a run."""
    n = max(stats['coarse_only'], 1)

    def pct(key):
        return f"{stats[key]} ({100. * stats[key] / n:.1f}%)"

    return '\n'.join([
        f'pseudo-labels ({args.mode}) for {stats["total"]} images of '
        f'{args.ann_file} -> {args.out}',
        f'  coarse-only: {stats["coarse_only"]}, already complete (copied): '
        f'{stats["complete"]}',
        f'  agree with the coarse label: {pct("agree")}',
        f'  DISAGREE with the coarse label: {pct("disagree")}, of which not '
        f'a path of the tree: {stats["invalid"]}',
        f'  agree but no finer label: {pct("not_finer")}',
        f'  written as predicted: {stats["written_pred"]}, written back as '
        f'coarse-only: {stats["written_coarse"]}, skipped: '
        f'{stats["skipped"]} (--on-disagree {args.on_disagree})',
        f'  copied from --fine-ann: {stats["fine_copied"]}',
    ])


def main(argv: Optional[List[str]] = None) -> Dict[str, Any]:
    """Run the tool; returns the summary counts."""
    args = parse_args(argv)
    cfg = Config.fromfile(args.config)
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    init_default_scope(cfg.get('default_scope', 'mmpretrain'))
    dataset = DATASETS.build(dataset_config(cfg, args))
    model = MODELS.build(cfg.model)
    load_checkpoint(model, args.checkpoint, map_location='cpu')
    model.to(args.device).eval()
    stats = pseudo_label(model, dataset, args.mode, args.on_disagree,
                         args.batch_size, args.num_workers)
    lines = stats.pop('lines')
    stats['fine_copied'] = write_annotations(args.out, lines, args.fine_ann)
    print(summary_text(stats, args))
    if args.summary_json:
        with open(args.summary_json, 'w', encoding='utf-8') as f:
            json.dump(stats, f, indent=2)
    return stats


if __name__ == '__main__':
    main()
